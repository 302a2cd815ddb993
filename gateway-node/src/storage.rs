//! On-disk storage in redb: committed blocks with their certificates, the receipt of
//! every committed transaction (the tx index), and the consensus safety state.
//!
//! Every write is one redb transaction committed with immediate durability before the
//! caller goes on: a commit is on disk before any client hears of it, and the safety
//! state is on disk before a vote that depends on it leaves the node. On start the
//! node re-executes its blocks to rebuild the authenticated state (see
//! `consensus::Node::restore`).

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::{Height, ReceiptEntry, TxHash};

use crate::consensus::{CommittedBlock, SafetyState};

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const RECEIPTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("receipts");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SAFETY_KEY: &str = "safety";

/// Why storage failed; the node stops rather than run on a disk it cannot trust.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Db(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(#[from] vigil_protocol::DecodeError),
}

fn db_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Db(e.to_string())
}

/// Where a committed transaction is and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    pub height: Height,
    pub index: u32,
    pub entry: ReceiptEntry,
}

pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the database file.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(db_err)?;
        }
        let db = Database::create(path).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(BLOCKS).map_err(db_err)?;
        txn.open_table(RECEIPTS).map_err(db_err)?;
        txn.open_table(META).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self { db })
    }

    /// Everything needed to restart: committed blocks in order and the safety state.
    pub fn load(&self) -> Result<(Vec<CommittedBlock>, Option<SafetyState>), StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let blocks_table = txn.open_table(BLOCKS).map_err(db_err)?;
        let mut blocks = Vec::new();
        for row in blocks_table.iter().map_err(db_err)? {
            let (_, v) = row.map_err(db_err)?;
            blocks.push(from_bytes::<CommittedBlock>(v.value())?);
        }
        let meta = txn.open_table(META).map_err(db_err)?;
        let safety = match meta.get(SAFETY_KEY).map_err(db_err)? {
            Some(v) => Some(from_bytes::<SafetyState>(v.value())?),
            None => None,
        };
        Ok((blocks, safety))
    }

    pub fn persist_safety(&self, safety: &SafetyState) -> Result<(), StorageError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert(SAFETY_KEY, to_bytes(safety).as_slice()).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)
    }

    /// Writes a committed block, its certificate and its receipts in one transaction.
    pub fn commit_block(&self, committed: &CommittedBlock, receipts: &[ReceiptEntry]) -> Result<(), StorageError> {
        let height = committed.block.header.height;
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(db_err)?;
            blocks.insert(height.0, to_bytes(committed).as_slice()).map_err(db_err)?;
            let mut index = txn.open_table(RECEIPTS).map_err(db_err)?;
            for (i, entry) in receipts.iter().enumerate() {
                let record = TxRecord { height, index: i as u32, entry: entry.clone() };
                index.insert(&entry.tx_hash.0, to_bytes(&record).as_slice()).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    pub fn tx(&self, hash: &TxHash) -> Result<Option<TxRecord>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(RECEIPTS).map_err(db_err)?;
        match table.get(&hash.0).map_err(db_err)? {
            Some(v) => Ok(Some(from_bytes(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn block(&self, height: Height) -> Result<Option<CommittedBlock>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(BLOCKS).map_err(db_err)?;
        match table.get(height.0).map_err(db_err)? {
            Some(v) => Ok(Some(from_bytes(v.value())?)),
            None => Ok(None),
        }
    }
}
