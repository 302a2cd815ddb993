//! On-disk storage in redb: committed blocks with their certificates, the receipt of
//! every committed transaction (the tx index), the authenticated state (every version
//! of the Jellyfish Merkle tree's nodes and values) with the ledger's metadata, and the
//! consensus safety state.
//!
//! Every write is one redb transaction committed with immediate durability before the
//! caller goes on: a block, its receipts and the state after it land together, on disk
//! before any client hears of the commit, and the safety state is on disk before a
//! vote that depends on it leaves the node. On start the node reads its state back
//! instead of re-executing its blocks; a database that holds blocks but no state (or a
//! fresh one) is rebuilt from genesis once and its state written in full.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::state::VALUE_KEY_LEN;
use vigil_protocol::{Height, ReceiptEntry, StateError, StateRecords, StateTree, TxHash};

use crate::consensus::{CommittedBlock, SafetyState};
use crate::execution::{LedgerMeta, StateCommit};

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const RECEIPTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("receipts");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// BCS of a tree node key → BCS of the node.
const STATE_NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state_nodes");
/// Key hash ‖ version → BCS of the value (or of its deletion).
const STATE_VALUES: TableDefinition<&[u8; VALUE_KEY_LEN], &[u8]> = TableDefinition::new("state_values");
const SAFETY_KEY: &str = "safety";
const LEDGER_KEY: &str = "ledger";

/// Why storage failed; the node stops rather than run on a disk it cannot trust.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Db(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(#[from] vigil_protocol::DecodeError),
    #[error("stored state: {0}")]
    State(#[from] StateError),
}

/// Everything a node persisted, read back on start.
pub struct Stored {
    /// Committed blocks, from height 1 up.
    pub blocks: Vec<CommittedBlock>,
    pub safety: Option<SafetyState>,
    /// The ledger's metadata and state tree after the last block, if stored.
    pub state: Option<(LedgerMeta, StateTree)>,
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
        txn.open_table(STATE_NODES).map_err(db_err)?;
        txn.open_table(STATE_VALUES).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self { db })
    }

    /// Everything needed to restart: committed blocks in order, the state after them
    /// and the safety state.
    pub fn load(&self) -> Result<Stored, StorageError> {
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
        let state = match meta.get(LEDGER_KEY).map_err(db_err)? {
            Some(v) => {
                let ledger: LedgerMeta = from_bytes(v.value())?;
                let mut nodes = Vec::new();
                for row in txn.open_table(STATE_NODES).map_err(db_err)?.iter().map_err(db_err)? {
                    let (k, v) = row.map_err(db_err)?;
                    nodes.push((k.value().to_vec(), v.value().to_vec()));
                }
                let mut values = Vec::new();
                for row in txn.open_table(STATE_VALUES).map_err(db_err)?.iter().map_err(db_err)? {
                    let (k, v) = row.map_err(db_err)?;
                    values.push((*k.value(), v.value().to_vec()));
                }
                let tree = StateTree::restore(ledger.height.0, nodes, values)?;
                Some((ledger, tree))
            }
            None => None,
        };
        Ok(Stored { blocks, safety, state })
    }

    /// Writes a whole state at once: for a database that has blocks but no state yet.
    pub fn write_state(&self, meta: &LedgerMeta, records: &StateRecords) -> Result<(), StorageError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        write_state(&txn, meta, records)?;
        txn.commit().map_err(db_err)
    }

    pub fn persist_safety(&self, safety: &SafetyState) -> Result<(), StorageError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert(SAFETY_KEY, to_bytes(safety).as_slice()).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)
    }

    /// Writes a committed block, its certificate, its receipts and the state after it in
    /// one transaction.
    pub fn commit_block(
        &self,
        committed: &CommittedBlock,
        receipts: &[ReceiptEntry],
        state: &StateCommit,
    ) -> Result<(), StorageError> {
        let height = committed.block.header.height;
        let txn = self.db.begin_write().map_err(db_err)?;
        write_state(&txn, &state.meta, &state.version.records())?;
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

fn write_state(txn: &redb::WriteTransaction, meta: &LedgerMeta, records: &StateRecords) -> Result<(), StorageError> {
    let mut nodes = txn.open_table(STATE_NODES).map_err(db_err)?;
    for (k, v) in &records.nodes {
        nodes.insert(k.as_slice(), v.as_slice()).map_err(db_err)?;
    }
    let mut values = txn.open_table(STATE_VALUES).map_err(db_err)?;
    for (k, v) in &records.values {
        values.insert(k, v.as_slice()).map_err(db_err)?;
    }
    let mut m = txn.open_table(META).map_err(db_err)?;
    m.insert(LEDGER_KEY, to_bytes(meta).as_slice()).map_err(db_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use vigil_protocol::{
        Address, Amount, Block, ChainId, ConsensusMode, EncryptionKey, Genesis, Nonce, Payload, QuorumCert, SecretKey,
        Transaction, Transfer, ValidatorInfo, ValidatorSet, View, VoteData, VoteKind,
    };

    use super::*;
    use crate::execution::Ledger;

    #[test]
    fn state_committed_with_a_block_reads_back_with_the_same_root_and_balances() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.redb");
        let validator = SecretKey::from_seed([1; 32]);
        let alice = SecretKey::from_seed([2; 32]);
        let bob = Address([9; 20]);
        let validators =
            ValidatorSet::new(vec![ValidatorInfo::new("v", validator.public_key(), EncryptionKey([0; 32]))]).unwrap();
        let genesis = Genesis {
            chain_id: ChainId::new("vigil-test").unwrap(),
            validators,
            accounts: vec![(Address::from_public_key(&alice.public_key()), Amount(100))],
            mode: ConsensusMode::Fast,
            time_ms: 0,
            vault: Default::default(),
        };
        let mut ledger = Ledger::genesis(&genesis).unwrap();
        let store = Store::open(&path).unwrap();
        assert!(store.load().unwrap().state.is_none(), "a fresh database holds no state");
        let (meta, records) = ledger.snapshot();
        store.write_state(&meta, &records).unwrap();

        let tx = Transaction {
            chain_id: genesis.chain_id.clone(),
            sender: alice.public_key(),
            nonce: Nonce(0),
            fee: Amount(1),
            payload: Payload::Transfer(Transfer { to: bob, amount: Amount(40) }),
        }
        .sign(&alice);
        let exec = ledger.execute(std::slice::from_ref(&tx)).unwrap();
        let proposer = genesis.validators.validators()[0].id;
        let header = ledger.build_header(&exec, View(0), proposer, 1);
        let block = Block { header, txs: vec![tx] };
        let receipts = exec.entries.clone();
        let state = ledger.commit(&block, exec).unwrap();
        let data = VoteData {
            chain_id: genesis.chain_id.clone(),
            height: block.header.height,
            view: View(0),
            block_hash: block.header.hash(),
            kind: VoteKind::Ack,
        };
        let vote = data.clone().sign(proposer, &validator);
        let cert = QuorumCert::from_votes(data, &[vote], &genesis.validators).unwrap();
        store.commit_block(&CommittedBlock { block, cert }, &receipts, &state).unwrap();
        drop(store);

        let stored = Store::open(&path).unwrap().load().unwrap();
        assert_eq!(stored.blocks.len(), 1);
        let (meta, tree) = stored.state.expect("state stored with the block");
        let back = Ledger::restore(&genesis, meta, tree).unwrap();
        assert_eq!(back.height(), ledger.height());
        assert_eq!(back.state_root().unwrap(), ledger.state_root().unwrap());
        assert_eq!(back.account(&bob).balance, Amount(40));
        assert_eq!(back.account(&Address::from_public_key(&alice.public_key())).nonce, Nonce(1));
        // It continues the chain from the same block.
        assert_eq!(back.last_hash(), ledger.last_hash());
    }
}
