//! On-disk storage in redb: committed blocks with their certificates, the receipt of
//! every committed transaction, the authenticated state (every version of the Jellyfish
//! Merkle tree's nodes and values) with the ledger's metadata, and the consensus safety
//! state.
//!
//! Everything a commit writes is appended under increasing keys — blocks and each
//! version's state records by height, receipts by (height, index) — so that a block
//! dirties a handful of pages at the end of each table instead of one page per
//! transaction scattered by hash (redb copies every page a transaction touches). The
//! index from a transaction's id to its place is kept in memory, rebuilt from the
//! receipts on open.
//!
//! Every write is one redb transaction committed with immediate durability before the
//! caller goes on: a block, its receipts and the state after it land together, on disk
//! before any client hears of the commit, and the safety state is on disk before a
//! vote that depends on it leaves the node. On start the node reads its state back
//! instead of re-executing its blocks; a database that holds blocks but no state (or a
//! fresh one) is rebuilt from genesis once and its state written in full.

use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::state::VALUE_KEY_LEN;
use vigil_protocol::{Height, ReceiptEntry, StateError, StateRecords, StateTree, TxHash};

use crate::consensus::{CommittedBlock, SafetyState};
use crate::execution::{LedgerMeta, StateCommit};

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// (height, index in the block) → BCS of the receipt entry.
const RECEIPTS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("receipts_by_position");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Version → BCS of that version's [`StateLog`] (a full snapshot for the first one).
const STATE: TableDefinition<u64, &[u8]> = TableDefinition::new("state_log");
const SAFETY_KEY: &str = "safety";
const LEDGER_KEY: &str = "ledger";
const SCHEMA_KEY: &str = "schema";
/// The layout above. Schema 1 (before 2026-12) indexed receipts and state values by
/// hash; schema 2 kept a Fast-mode ack without the backing that lets a promise claim it;
/// schema 3 stored validators with one X25519 key (no separate p2p key); schema 4
/// stored Fast blocks without the justification of their certified proposal.
pub const SCHEMA: u32 = 5;

/// Why storage failed; the node stops rather than run on a disk it cannot trust.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Db(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(#[from] vigil_protocol::DecodeError),
    #[error("stored state: {0}")]
    State(#[from] StateError),
    #[error(
        "this database was written by another version of Vigil (storage schema {found}; this build reads \
         schema {SCHEMA}): start the node on a fresh data directory, from which it catches up from its \
         peers (a local devnet: `vigil devnet --reset`, or `cargo xtask demo --reset`)"
    )]
    Schema { found: u32 },
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

/// One version's tree nodes and values, as stored.
#[derive(Serialize, Deserialize)]
struct StateLog {
    nodes: Vec<(Vec<u8>, Vec<u8>)>,
    /// `(key hash ‖ version, value)`; the key is [`VALUE_KEY_LEN`] bytes.
    values: Vec<(Vec<u8>, Vec<u8>)>,
}

impl From<StateRecords> for StateLog {
    fn from(records: StateRecords) -> Self {
        Self { nodes: records.nodes, values: records.values.into_iter().map(|(k, v)| (k.to_vec(), v)).collect() }
    }
}

/// A block to write: the block with its certificate, its receipts, the state after it.
pub type BlockWrite<'a> = (&'a CommittedBlock, &'a [ReceiptEntry], &'a StateCommit);

pub struct Store {
    db: Database,
    /// Transaction id → (height, index), for every committed transaction.
    positions: RwLock<HashMap<TxHash, (Height, u32)>>,
}

impl Store {
    /// Opens (or creates) the database file, and indexes its receipts.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(db_err)?;
        }
        let db = Database::create(path).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        {
            let blocks = txn.open_table(BLOCKS).map_err(db_err)?;
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let schema = match meta.get(SCHEMA_KEY).map_err(db_err)? {
                Some(v) => Some(from_bytes::<u32>(v.value())?),
                None => None,
            };
            match schema {
                Some(SCHEMA) => {}
                Some(found) => return Err(StorageError::Schema { found }),
                None if blocks.is_empty().map_err(db_err)? && meta.is_empty().map_err(db_err)? => {
                    meta.insert(SCHEMA_KEY, to_bytes(&SCHEMA).as_slice()).map_err(db_err)?;
                }
                None => return Err(StorageError::Schema { found: 1 }),
            }
            txn.open_table(RECEIPTS).map_err(db_err)?;
            txn.open_table(STATE).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;

        let mut positions = HashMap::new();
        let read = db.begin_read().map_err(db_err)?;
        for row in read.open_table(RECEIPTS).map_err(db_err)?.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            let (height, index) = k.value();
            let entry: ReceiptEntry = from_bytes(v.value())?;
            positions.insert(entry.tx_hash, (Height(height), index));
        }
        drop(read);
        Ok(Self { db, positions: RwLock::new(positions) })
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
                let (mut nodes, mut values) = (Vec::new(), Vec::new());
                for row in txn.open_table(STATE).map_err(db_err)?.iter().map_err(db_err)? {
                    let (_, v) = row.map_err(db_err)?;
                    let log: StateLog = from_bytes(v.value())?;
                    nodes.extend(log.nodes);
                    for (k, v) in log.values {
                        let key: [u8; VALUE_KEY_LEN] = k
                            .try_into()
                            .map_err(|_| StateError::Corrupt("a state value key of the wrong length".into()))?;
                        values.push((key, v));
                    }
                }
                let tree = StateTree::restore(ledger.height.0, nodes, values)?;
                Some((ledger, tree))
            }
            None => None,
        };
        Ok(Stored { blocks, safety, state })
    }

    /// Writes a whole state at once: for a database that has blocks but no state yet.
    pub fn write_state(&self, meta: &LedgerMeta, records: StateRecords) -> Result<(), StorageError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        write_state(&txn, meta, records.into())?;
        txn.commit().map_err(db_err)
    }

    /// Writes committed blocks (in order) and then the safety state, in one durable
    /// transaction: one disk sync for all of them.
    pub fn write(&self, blocks: &[BlockWrite<'_>], safety: Option<&SafetyState>) -> Result<(), StorageError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        for (committed, receipts, state) in blocks {
            let height = committed.block.header.height;
            write_state(&txn, &state.meta, state.version.records().into())?;
            let mut table = txn.open_table(BLOCKS).map_err(db_err)?;
            table.insert(height.0, to_bytes(committed).as_slice()).map_err(db_err)?;
            let mut table = txn.open_table(RECEIPTS).map_err(db_err)?;
            for (i, entry) in receipts.iter().enumerate() {
                table.insert((height.0, i as u32), to_bytes(entry).as_slice()).map_err(db_err)?;
            }
        }
        if let Some(safety) = safety {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert(SAFETY_KEY, to_bytes(safety).as_slice()).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        // Visible to readers only once durable.
        let mut positions = self.positions.write().unwrap_or_else(|p| p.into_inner());
        for (committed, receipts, _) in blocks {
            let height = committed.block.header.height;
            positions.extend(receipts.iter().enumerate().map(|(i, e)| (e.tx_hash, (height, i as u32))));
        }
        Ok(())
    }

    pub fn tx(&self, hash: &TxHash) -> Result<Option<TxRecord>, StorageError> {
        let position = self.positions.read().unwrap_or_else(|p| p.into_inner()).get(hash).copied();
        let Some((height, index)) = position else { return Ok(None) };
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(RECEIPTS).map_err(db_err)?;
        match table.get((height.0, index)).map_err(db_err)? {
            Some(v) => Ok(Some(TxRecord { height, index, entry: from_bytes(v.value())? })),
            None => Err(StorageError::Db(format!("the receipt indexed at height {height}, index {index} is missing"))),
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

fn write_state(txn: &redb::WriteTransaction, meta: &LedgerMeta, log: StateLog) -> Result<(), StorageError> {
    let mut state = txn.open_table(STATE).map_err(db_err)?;
    state.insert(meta.height.0, to_bytes(&log).as_slice()).map_err(db_err)?;
    let mut m = txn.open_table(META).map_err(db_err)?;
    m.insert(LEDGER_KEY, to_bytes(meta).as_slice()).map_err(db_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use vigil_protocol::{
        Address, Amount, Block, ChainId, ConsensusMode, EncryptionKey, Genesis, Nonce, P2pKey, Payload, QuorumCert,
        SecretKey, Transaction, Transfer, ValidatorInfo, ValidatorSet, View, VoteData, VoteKind,
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
        let validators = ValidatorSet::new(vec![ValidatorInfo::new(
            "v",
            validator.public_key(),
            EncryptionKey([0; 32]),
            P2pKey([0xff; 32]),
        )])
        .unwrap();
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
        store.write_state(&meta, records).unwrap();

        let tx = Transaction {
            chain_id: genesis.chain_id.clone(),
            sender: alice.public_key(),
            nonce: Nonce(0),
            fee: Amount(1),
            payload: Payload::Transfer(Transfer { to: bob, amount: Amount(40) }),
        }
        .sign(&alice);
        let tx_hash = tx.hash();
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
        let committed = CommittedBlock { block, cert, justification: None };
        store.write(&[(&committed, &receipts, &state)], None).unwrap();
        let record = store.tx(&tx_hash).unwrap().expect("the receipt is indexed once written");
        assert_eq!((record.height, record.index, &record.entry), (Height(1), 0, &receipts[0]));
        drop(store);

        let store = Store::open(&path).unwrap();
        assert_eq!(store.tx(&tx_hash).unwrap(), Some(record), "the index is rebuilt on open");
        assert_eq!(store.tx(&vigil_protocol::Hash32([7; 32])).unwrap(), None);
        let stored = store.load().unwrap();
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

    #[test]
    fn a_database_of_another_schema_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.redb");
        {
            // What a schema-1 node left: metadata without a schema entry.
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(META).unwrap().insert(LEDGER_KEY, [0u8].as_slice()).unwrap();
            txn.commit().unwrap();
        }
        let err = Store::open(&path).err().expect("refused");
        assert!(matches!(err, StorageError::Schema { found: 1 }), "{err}");
        assert!(err.to_string().contains("fresh data directory"), "{err}");
        // A fresh database is stamped with this schema and opens again.
        let fresh = dir.path().join("fresh.redb");
        drop(Store::open(&fresh).unwrap());
        Store::open(&fresh).unwrap();
    }
}
