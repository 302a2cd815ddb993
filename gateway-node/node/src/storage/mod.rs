//! On-disk storage in redb: committed blocks with their certificates, the receipt of
//! every committed transaction, the authenticated state (every version of the Jellyfish
//! Merkle tree's nodes and values) with the ledger's metadata, and the consensus safety
//! state.
//!
//! Everything a commit writes is appended under increasing keys — blocks and each
//! version's state records by height, receipts by (height, index) — so that a block
//! dirties a handful of pages at the end of each table instead of one page per
//! transaction scattered by hash (redb copies every page a transaction touches).
//!
//! The index from a transaction's id to its place follows the same rule. The positions
//! of the newest heights (those above `indexed_through`, at most a bound the caller
//! picks, [`TX_INDEX_MEMORY_MAX`] by default) are in memory; when a write would pass
//! the bound, the oldest heights' positions move to the `tx_index` table (tx hash →
//! position) in the same write transaction, sorted by hash, with the new
//! `indexed_through`: one sequential merge that touches each page of the table at
//! most once, amortised over every block since the last. On open only the receipts
//! above `indexed_through` are read back into memory (a range read of the table's
//! tail). A lookup tries memory, then the table, and reads the receipt at the position
//! found, which must carry the hash asked for.
//!
//! Every write is one redb transaction committed with immediate durability before the
//! caller goes on: a block, its receipts and the state after it land together, on disk
//! before any client hears of the commit, and the safety state is on disk before a
//! vote that depends on it leaves the node. On start the node reads its state back
//! instead of re-executing its blocks; a database that holds blocks but no state (or a
//! fresh one) is rebuilt from genesis once and its state written in full.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::RwLock;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::state::VALUE_KEY_LEN;
use vigil_protocol::{
    BlockHash, Height, ReceiptEntry, SetChange, StateError, StateRecords, StateTree, TxHash, ValidatorSet,
};

use vigil_core::consensus::{CommittedBlock, SafetyState};
use vigil_core::execution::{LedgerMeta, StateCommit};

use checksum::{open as checked, seal};
pub use prune::Pruned;

mod checksum;
mod prune;

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
/// Height → the hash of the block committed there (what a receipt names), so a
/// receipt is signed without reading its whole block.
const BLOCK_HASHES: TableDefinition<u64, [u8; 32]> = TableDefinition::new("block_hashes");
/// (height, index in the block) → BCS of the receipt entry.
const RECEIPTS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("receipts_by_position");
/// Tx hash → (height, index in the block), for the transactions of every height up to
/// `indexed_through` (the newer ones are in memory).
const TX_INDEX: TableDefinition<[u8; 32], (u64, u32)> = TableDefinition::new("tx_index");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Version → BCS of that version's [`StateLog`] (a full snapshot for the first one).
const STATE: TableDefinition<u64, &[u8]> = TableDefinition::new("state_log");
const SAFETY_KEY: &str = "safety";
const LEDGER_KEY: &str = "ledger";
const SCHEMA_KEY: &str = "schema";
/// In `meta`: the certified set changes a restore verified up to its checkpoint (a
/// restored node has no blocks below it).
const RESTORED_SET_CHANGES_KEY: &str = "restored_set_changes";
/// In `meta`: the height up to which every transaction's position is in `tx_index`.
const INDEXED_THROUGH_KEY: &str = "tx_index_through";
/// The layout above. Schema 1 (before 2026-12) indexed receipts and state values by
/// hash; schema 2 kept a Fast-mode ack without the backing that lets a promise claim it;
/// schema 3 stored validators with one X25519 key (no separate p2p key).
/// Schema 4 kept every tx hash in memory (no `tx_index` table), rebuilt on open from all receipts.
/// Schema 4 also stored Fast blocks without the justification of their certified proposal.
/// Schema 5 kept the validator-set history beside the state (now in it) and a safety
/// state without the restored node's abstention bound. Schema 6 stored values without
/// their checksums.
pub const SCHEMA: u32 = 7;

/// Default bound on the transaction positions the tx index keeps in memory (about
/// 90 bytes each: some 9 MB). Passing it moves the oldest heights' positions to the
/// `tx_index` table until at most half the bound is left, so a move takes at least
/// 50,000 positions — 25 full blocks at the default 2,000 transactions a block, each
/// page of the table copied at most once for all of them — and the tail read back on
/// open is at most this long.
pub const TX_INDEX_MEMORY_MAX: usize = 100_000;

/// Why storage failed; the node stops rather than run on a disk it cannot trust.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Db(String),
    #[error("a stored record does not decode: {0}")]
    Undecodable(#[from] vigil_protocol::DecodeError),
    #[error(
        "the database is corrupt: the record at {key} in `{table}` fails its checksum (the node moves the \
         database aside and recovers its state from its peers)"
    )]
    Corrupt { table: &'static str, key: String },
    #[error("the database file is corrupt: {0}")]
    FileCorrupt(String),
    #[error("stored state: {0}")]
    State(#[from] StateError),
    #[error(
        "the tx index places {hash} at height {height}, index {index}, where {}",
        found.map_or("no receipt is stored".to_string(), |f| format!("the receipt is of {f}"))
    )]
    Misindexed { hash: TxHash, height: Height, index: u32, found: Option<TxHash> },
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

/// A redb error, its corruption reports kept apart.
/// Where a database file that is no longer run on is kept for the operator, beside it:
/// `vigil.redb.<why>-<ms>` (`corrupt`, `behind`).
pub fn aside_path(db: &std::path::Path, why: &str, now_ms: u64) -> std::path::PathBuf {
    db.with_file_name(format!("vigil.redb.{why}-{now_ms}"))
}

fn db_err(e: impl Into<redb::Error>) -> StorageError {
    match e.into() {
        redb::Error::Corrupted(why) => StorageError::FileCorrupt(why),
        other => StorageError::Db(other.to_string()),
    }
}

impl StorageError {
    /// Whether the data directory is damaged (as opposed to unreadable for another
    /// reason, or written by another version): what recovery from the peers repairs.
    pub fn is_corruption(&self) -> bool {
        matches!(self, StorageError::Corrupt { .. } | StorageError::FileCorrupt(_) | StorageError::Undecodable(_))
    }
}

/// Where a committed transaction is and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    pub height: Height,
    /// The block committed at `height`.
    pub block_hash: BlockHash,
    pub index: u32,
    pub entry: ReceiptEntry,
}

/// One version's values, as stored.
#[derive(Serialize, Deserialize)]
struct StateLog {
    /// Tree nodes: written empty (the tree is rebuilt from the values), kept in the
    /// format so that databases that hold them still read; ignored on read.
    nodes: Vec<(Vec<u8>, Vec<u8>)>,
    /// `(key hash ‖ version, value)`; the key is [`VALUE_KEY_LEN`] bytes.
    values: Vec<(Vec<u8>, Vec<u8>)>,
}

impl From<StateRecords> for StateLog {
    fn from(records: StateRecords) -> Self {
        Self { nodes: Vec::new(), values: records.values.into_iter().map(|(k, v)| (k.to_vec(), v)).collect() }
    }
}

/// A block to write: the block with its certificate, its receipts, the state after it.
pub type BlockWrite<'a> = (&'a CommittedBlock, &'a [ReceiptEntry], &'a StateCommit);

/// The positions of the transactions at heights above `indexed_through`: the part of
/// the tx index not (yet) in the `tx_index` table.
#[derive(Debug, Default)]
struct RecentPositions {
    by_hash: HashMap<TxHash, (Height, u32)>,
    /// The same transactions by height, oldest first: what a flush takes.
    by_height: VecDeque<(Height, Vec<TxHash>)>,
    /// Every height up to this one is in the table.
    indexed_through: Height,
}

/// Positions moving from memory to the table, and the `indexed_through` they leave.
struct Flush {
    through: Height,
    /// Sorted by hash (and, for one hash, oldest first): one pass over the table.
    positions: Vec<([u8; 32], (u64, u32))>,
}

impl RecentPositions {
    fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Forgets the positions of heights below `floor` (pruned).
    fn forget_below(&mut self, floor: Height) {
        while self.by_height.front().is_some_and(|(h, _)| *h < floor) {
            let Some((height, txs)) = self.by_height.pop_front() else { break };
            for h in txs {
                if self.by_hash.get(&h).is_some_and(|(at, _)| *at == height) {
                    self.by_hash.remove(&h);
                }
            }
        }
    }

    /// What to move to the table so that memory holds at most `max` positions once
    /// `incoming` (newer heights, in order) is added: nothing while it fits; else the
    /// oldest heights, old and incoming alike, until at most half of `max` is left.
    fn plan(&self, incoming: &[(Height, Vec<TxHash>)], max: usize) -> Option<Flush> {
        let total = self.len() + incoming.iter().map(|(_, txs)| txs.len()).sum::<usize>();
        if total <= max {
            return None;
        }
        let keep = max / 2;
        let mut left = total;
        let mut through = self.indexed_through;
        let mut positions = Vec::new();
        for (height, txs) in self.by_height.iter().chain(incoming) {
            if left <= keep {
                break;
            }
            positions.extend(txs.iter().enumerate().map(|(i, h)| (h.0, (height.0, i as u32))));
            left = left.saturating_sub(txs.len());
            through = *height;
        }
        // Stable: a hash committed twice keeps its newest position, as in memory.
        positions.sort_by_key(|(hash, _)| *hash);
        Some(Flush { through, positions })
    }

    /// Adds `incoming` and forgets what `flushed` moved to the table.
    fn apply(&mut self, incoming: Vec<(Height, Vec<TxHash>)>, flushed: Option<Height>) {
        for (height, txs) in incoming {
            debug_assert!(height > self.indexed_through && self.by_height.back().is_none_or(|(h, _)| height > *h));
            self.by_hash.extend(txs.iter().enumerate().map(|(i, h)| (*h, (height, i as u32))));
            if !txs.is_empty() {
                self.by_height.push_back((height, txs));
            }
        }
        let Some(through) = flushed else { return };
        while self.by_height.front().is_some_and(|(h, _)| *h <= through) {
            let Some((height, txs)) = self.by_height.pop_front() else { break };
            for h in txs {
                // Unless a later height holds the same hash (kept, as its newest position).
                if self.by_hash.get(&h).is_some_and(|(at, _)| *at == height) {
                    self.by_hash.remove(&h);
                }
            }
        }
        self.indexed_through = self.indexed_through.max(through);
    }
}

/// Writes a flush and its `indexed_through` into `txn`, so that they land together.
fn write_flush(txn: &redb::WriteTransaction, flush: &Flush) -> Result<(), StorageError> {
    let mut index = txn.open_table(TX_INDEX).map_err(db_err)?;
    for (hash, position) in &flush.positions {
        index.insert(hash, position).map_err(db_err)?;
    }
    let mut meta = txn.open_table(META).map_err(db_err)?;
    meta.insert(INDEXED_THROUGH_KEY, seal(to_bytes(&flush.through.0)).as_slice()).map_err(db_err)?;
    Ok(())
}

pub struct Store {
    /// Write-locked only to compact ([`Store::compact`]); every transaction runs under
    /// the read side (its guard held until it ends), so a compaction waits for them.
    db: RwLock<Database>,
    /// The file, for its size on disk.
    path: std::path::PathBuf,
    /// Heights below this were pruned (their blocks, receipts and index entries).
    pruned_below: std::sync::atomic::AtomicU64,
    /// Where the transactions of the newest heights are (the rest: `tx_index`).
    recent: RwLock<RecentPositions>,
    /// Most positions `recent` holds.
    tx_index_memory_max: usize,
}

impl Store {
    fn forget_positions_below(&self, floor: Height) {
        self.recent.write().unwrap_or_else(|p| p.into_inner()).forget_below(floor);
    }

    fn db(&self) -> std::sync::RwLockReadGuard<'_, Database> {
        self.db.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens (or creates) the database file, and reads the positions of the transactions
    /// above `indexed_through` into memory. At most `tx_index_memory_max` positions are
    /// kept in memory ([`TX_INDEX_MEMORY_MAX`] unless configured); more read back (the
    /// bound was lowered) move to the table at once.
    pub fn open(path: &Path, tx_index_memory_max: usize) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::Db(e.to_string()))?;
        }
        let db = Database::create(path).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        {
            let blocks = txn.open_table(BLOCKS).map_err(db_err)?;
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let schema = match meta.get(SCHEMA_KEY).map_err(db_err)? {
                // Schemas before 7 stored the number without a checksum.
                Some(v) => Some(match checked("meta", SCHEMA_KEY, v.value()) {
                    Ok(value) => from_bytes::<u32>(value)?,
                    Err(corrupt) => from_bytes::<u32>(v.value()).ok().filter(|s| *s < 7).ok_or(corrupt)?,
                }),
                None => None,
            };
            match schema {
                Some(SCHEMA) => {}
                Some(found) => return Err(StorageError::Schema { found }),
                None if blocks.is_empty().map_err(db_err)? && meta.is_empty().map_err(db_err)? => {
                    meta.insert(SCHEMA_KEY, seal(to_bytes(&SCHEMA)).as_slice()).map_err(db_err)?;
                }
                None => return Err(StorageError::Schema { found: 1 }),
            }
            txn.open_table(RECEIPTS).map_err(db_err)?;
            txn.open_table(STATE).map_err(db_err)?;
            txn.open_table(TX_INDEX).map_err(db_err)?;
            txn.open_table(BLOCK_HASHES).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;

        let read = db.begin_read().map_err(db_err)?;
        let indexed_through = match read.open_table(META).map_err(db_err)?.get(INDEXED_THROUGH_KEY).map_err(db_err)? {
            Some(v) => Height(from_bytes::<u64>(checked("meta", INDEXED_THROUGH_KEY, v.value())?)?),
            None => Height(0),
        };
        // Only the tail: the receipts of the heights above `indexed_through`.
        let mut tail: Vec<(Height, Vec<TxHash>)> = Vec::new();
        let receipts = read.open_table(RECEIPTS).map_err(db_err)?;
        for row in receipts.range((indexed_through.0.saturating_add(1), 0u32)..).map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            let (height, index) = k.value();
            let entry: ReceiptEntry = from_bytes(checked("receipts", format!("({height}, {index})"), v.value())?)?;
            match tail.last_mut() {
                Some((h, txs)) if h.0 == height => txs.push(entry.tx_hash),
                _ => tail.push((Height(height), vec![entry.tx_hash])),
            }
            // A block's receipts are written whole, from index 0 up.
            if tail.last().map_or(0, |(_, txs)| txs.len()) != index as usize + 1 {
                return Err(StorageError::Db(format!("receipt ({height}, {index}) does not follow its block's last")));
            }
        }
        drop(receipts);
        drop(read);
        let mut recent = RecentPositions { indexed_through, ..RecentPositions::default() };
        if let Some(flush) = recent.plan(&tail, tx_index_memory_max) {
            let txn = db.begin_write().map_err(db_err)?;
            write_flush(&txn, &flush)?;
            txn.commit().map_err(db_err)?;
            log_flush(&flush);
            recent.apply(tail, Some(flush.through));
        } else {
            recent.apply(tail, None);
        }
        let pruned_below = prune::pruned_below(&db)?;
        Ok(Self {
            db: RwLock::new(db),
            path: path.to_path_buf(),
            pruned_below: pruned_below.0.into(),
            recent: RwLock::new(recent),
            tx_index_memory_max,
        })
    }

    /// How many transaction positions the index holds in memory (at most the bound
    /// given to [`Store::open`]).
    pub fn tx_index_memory_len(&self) -> usize {
        self.recent.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Everything needed to restart: the state, the last `recent` committed blocks in
    /// order (every block, if no state is stored: it is rebuilt from them), and the
    /// safety state.
    pub fn load(&self, recent: usize) -> Result<Stored, StorageError> {
        // Under the lock's read side until the transaction ends: a compaction waits for it.
        let db = self.db();
        let txn = db.begin_read().map_err(db_err)?;
        let meta = txn.open_table(META).map_err(db_err)?;
        let blocks_table = txn.open_table(BLOCKS).map_err(db_err)?;
        let last = blocks_table.last().map_err(db_err)?.map_or(0, |(k, _)| k.value());
        let ledger: Option<LedgerMeta> = match meta.get(LEDGER_KEY).map_err(db_err)? {
            Some(v) => Some(from_bytes(checked("meta", LEDGER_KEY, v.value())?)?),
            None => None,
        };
        // Without a stored state every block is read: the state is rebuilt from them.
        let from = if ledger.is_some() { last.saturating_sub(recent as u64).saturating_add(1) } else { 0 };
        let mut blocks = Vec::new();
        for row in blocks_table.range(from..).map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            blocks.push(from_bytes::<CommittedBlock>(checked("blocks", k.value(), v.value())?)?);
        }
        let safety = match meta.get(SAFETY_KEY).map_err(db_err)? {
            Some(v) => Some(from_bytes::<SafetyState>(checked("meta", SAFETY_KEY, v.value())?)?),
            None => None,
        };
        let state = match ledger {
            Some(ledger) => {
                // The tree is rebuilt from the values (its nodes are rehashed, and the
                // root checked against the last certified header by the caller).
                let mut values = Vec::new();
                for row in txn.open_table(STATE).map_err(db_err)?.iter().map_err(db_err)? {
                    let (k, v) = row.map_err(db_err)?;
                    let log: StateLog = from_bytes(checked("state_log", k.value(), v.value())?)?;
                    for (k, v) in log.values {
                        let key: [u8; VALUE_KEY_LEN] = k
                            .try_into()
                            .map_err(|_| StateError::Corrupt("a state value key of the wrong length".into()))?;
                        values.push((key, v));
                    }
                }
                let tree = StateTree::restore(ledger.height.0, values)?;
                Some((ledger, tree))
            }
            None => None,
        };
        Ok(Stored { blocks, safety, state })
    }

    /// Writes a whole state at once: for a database that has blocks but no state yet.
    pub fn write_state(&self, meta: &LedgerMeta, records: StateRecords) -> Result<(), StorageError> {
        // Under the lock's read side until the transaction ends: a compaction waits for it.
        let db = self.db();
        let txn = db.begin_write().map_err(db_err)?;
        write_state(&txn, meta, records.into())?;
        txn.commit().map_err(db_err)
    }

    /// Writes the state a restore rebuilt at a stable checkpoint as the database's base,
    /// with the set changes that lead there and the restored node's safety state (its
    /// abstention bound), in one durable transaction; whatever state was there goes.
    pub fn write_restored(
        &self,
        meta: &LedgerMeta,
        records: StateRecords,
        set_changes: &[SetChange],
        safety: &SafetyState,
    ) -> Result<(), StorageError> {
        // Under the lock's read side until the transaction ends: a compaction waits for it.
        let db = self.db();
        let txn = db.begin_write().map_err(db_err)?;
        txn.delete_table(STATE).map_err(db_err)?;
        write_state(&txn, meta, records.into())?;
        let mut m = txn.open_table(META).map_err(db_err)?;
        m.insert(RESTORED_SET_CHANGES_KEY, seal(to_bytes(&set_changes.to_vec())).as_slice()).map_err(db_err)?;
        m.insert(SAFETY_KEY, seal(to_bytes(safety)).as_slice()).map_err(db_err)?;
        drop(m);
        txn.commit().map_err(db_err)
    }

    /// The certified set changes from the genesis set, for the set history `history`
    /// (the ledger's): those a restore stored, then each later set with the stored block
    /// that committed it.
    pub fn set_changes(&self, history: &[(Height, ValidatorSet)]) -> Result<Vec<SetChange>, StorageError> {
        // Under the lock's read side until the transaction ends: a compaction waits for it.
        let db = self.db();
        let txn = db.begin_read().map_err(db_err)?;
        let meta = txn.open_table(META).map_err(db_err)?;
        let mut changes: Vec<SetChange> = match meta.get(RESTORED_SET_CHANGES_KEY).map_err(db_err)? {
            Some(v) => from_bytes(checked("meta", RESTORED_SET_CHANGES_KEY, v.value())?)?,
            None => Vec::new(),
        };
        let blocks = txn.open_table(BLOCKS).map_err(db_err)?;
        for (from, next) in history.iter().skip(1 + changes.len()) {
            let at = from.0.saturating_sub(1);
            let Some(v) = blocks.get(at).map_err(db_err)? else {
                return Err(StorageError::Db(format!("the block at height {at} that changed the set is not stored")));
            };
            let cb: CommittedBlock = from_bytes(checked("blocks", at, v.value())?)?;
            changes.push(SetChange { certified: cb.certified_header(), next: next.clone() });
        }
        Ok(changes)
    }

    /// Writes committed blocks (in order) and then the safety state, in one durable
    /// transaction: one disk sync for all of them.
    pub fn write(&self, blocks: &[BlockWrite<'_>], safety: Option<&SafetyState>) -> Result<(), StorageError> {
        // Under the lock's read side until the transaction ends: a compaction waits for it.
        let db = self.db();
        let txn = db.begin_write().map_err(db_err)?;
        for (committed, receipts, state) in blocks {
            let height = committed.block.header.height;
            write_state(&txn, &state.meta, state.version.records().into())?;
            let mut table = txn.open_table(BLOCKS).map_err(db_err)?;
            table.insert(height.0, seal(to_bytes(committed)).as_slice()).map_err(db_err)?;
            let mut table = txn.open_table(BLOCK_HASHES).map_err(db_err)?;
            table.insert(height.0, committed.block.header.hash().0).map_err(db_err)?;
            let mut table = txn.open_table(RECEIPTS).map_err(db_err)?;
            for (i, entry) in receipts.iter().enumerate() {
                table.insert((height.0, i as u32), seal(to_bytes(entry)).as_slice()).map_err(db_err)?;
            }
        }
        if let Some(safety) = safety {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert(SAFETY_KEY, seal(to_bytes(safety)).as_slice()).map_err(db_err)?;
        }
        let incoming: Vec<(Height, Vec<TxHash>)> = blocks
            .iter()
            .map(|(committed, receipts, _)| {
                (committed.block.header.height, receipts.iter().map(|e| e.tx_hash).collect())
            })
            .collect();
        // Past the memory bound, the oldest heights' positions go to the table with
        // these blocks: on disk together, or not at all.
        let flush = self.recent.read().unwrap_or_else(|p| p.into_inner()).plan(&incoming, self.tx_index_memory_max);
        if let Some(flush) = &flush {
            write_flush(&txn, flush)?;
        }
        txn.commit().map_err(db_err)?;
        if let Some(flush) = &flush {
            log_flush(flush);
        }
        // Visible to readers only once durable; what moved to the table leaves memory
        // only once the table holds it.
        self.recent.write().unwrap_or_else(|p| p.into_inner()).apply(incoming, flush.map(|f| f.through));
        Ok(())
    }

    /// Where a committed transaction is and what it did: its position from memory or
    /// the `tx_index` table, its receipt entry from that position.
    pub fn tx(&self, hash: &TxHash) -> Result<Option<TxRecord>, StorageError> {
        let in_memory = self.recent.read().unwrap_or_else(|p| p.into_inner()).by_hash.get(hash).copied();
        // Begun after memory was read: whatever left memory is in the table it sees.
        // Under the lock's read side until the transaction ends: a compaction waits for it.
        let db = self.db();
        let txn = db.begin_read().map_err(db_err)?;
        let position = match in_memory {
            Some(p) => Some(p),
            None => txn.open_table(TX_INDEX).map_err(db_err)?.get(&hash.0).map_err(db_err)?.map(|v| {
                let (height, index) = v.value();
                (Height(height), index)
            }),
        };
        let Some((height, index)) = position else { return Ok(None) };
        if height.0 < self.pruned_below.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(None);
        }
        let entry: Option<ReceiptEntry> =
            match txn.open_table(RECEIPTS).map_err(db_err)?.get((height.0, index)).map_err(db_err)? {
                Some(v) => Some(from_bytes(checked("receipts", format!("({height}, {index})"), v.value())?)?),
                None => None,
            };
        let block_hash =
            txn.open_table(BLOCK_HASHES).map_err(db_err)?.get(height.0).map_err(db_err)?.map(|v| v.value());
        match (entry, block_hash) {
            (Some(entry), Some(block)) if entry.tx_hash == *hash => {
                Ok(Some(TxRecord { height, block_hash: vigil_protocol::Hash32(block), index, entry }))
            }
            (entry, _) if entry.as_ref().is_some_and(|e| e.tx_hash == *hash) => {
                Err(StorageError::Db(format!("the hash of block {height} is missing")))
            }
            (other, _) => Err(StorageError::Misindexed { hash: *hash, height, index, found: other.map(|e| e.tx_hash) }),
        }
    }

    /// The receipt entries of the block committed at `height`, in block order (empty
    /// for a height not committed here, or pruned).
    pub fn block_receipts(&self, height: Height) -> Result<Vec<ReceiptEntry>, StorageError> {
        // Under the lock's read side until the transaction ends: a compaction waits for it.
        let db = self.db();
        let txn = db.begin_read().map_err(db_err)?;
        let table = txn.open_table(RECEIPTS).map_err(db_err)?;
        let mut entries = Vec::new();
        for row in table.range((height.0, 0)..=(height.0, u32::MAX)).map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            let (_, index) = k.value();
            if index as usize != entries.len() {
                return Err(StorageError::Db(format!(
                    "the receipts of block {height} skip position {}",
                    entries.len()
                )));
            }
            entries.push(from_bytes(checked("receipts", format!("({height}, {index})"), v.value())?)?);
        }
        Ok(entries)
    }

    /// Up to `max` committed blocks from `from` on, in order.
    pub fn blocks(&self, from: Height, max: usize) -> Result<Vec<CommittedBlock>, StorageError> {
        // Under the lock's read side until the transaction ends: a compaction waits for it.
        let db = self.db();
        let txn = db.begin_read().map_err(db_err)?;
        let table = txn.open_table(BLOCKS).map_err(db_err)?;
        let mut blocks = Vec::new();
        for row in table.range(from.0..).map_err(db_err)?.take(max) {
            let (k, v) = row.map_err(db_err)?;
            blocks.push(from_bytes(checked("blocks", k.value(), v.value())?)?);
        }
        Ok(blocks)
    }

    pub fn block(&self, height: Height) -> Result<Option<CommittedBlock>, StorageError> {
        // Under the lock's read side until the transaction ends: a compaction waits for it.
        let db = self.db();
        let txn = db.begin_read().map_err(db_err)?;
        let table = txn.open_table(BLOCKS).map_err(db_err)?;
        match table.get(height.0).map_err(db_err)? {
            Some(v) => Ok(Some(from_bytes(checked("blocks", height, v.value())?)?)),
            None => Ok(None),
        }
    }
}

fn log_flush(flush: &Flush) {
    tracing::info!(
        positions = flush.positions.len(),
        through = %flush.through,
        "tx index: moved the oldest positions from memory to the table"
    );
}

fn write_state(txn: &redb::WriteTransaction, meta: &LedgerMeta, log: StateLog) -> Result<(), StorageError> {
    let mut state = txn.open_table(STATE).map_err(db_err)?;
    state.insert(meta.height.0, seal(to_bytes(&log)).as_slice()).map_err(db_err)?;
    let mut m = txn.open_table(META).map_err(db_err)?;
    m.insert(LEDGER_KEY, seal(to_bytes(meta)).as_slice()).map_err(db_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use vigil_protocol::{
        Address, Amount, Block, ChainId, ConsensusMode, EncryptionKey, Genesis, Hash32, Nonce, P2pKey, Payload,
        QuorumCert, SecretKey, Transaction, Transfer, ValidatorInfo, ValidatorSet, View, VoteData, VoteKind,
    };

    use super::*;
    use vigil_core::execution::Ledger;

    /// A one-validator chain whose blocks carry transfers from alice to bob, executed
    /// and certified for real.
    struct Chain {
        genesis: Genesis,
        ledger: Ledger,
        validator: SecretKey,
        alice: SecretKey,
        bob: Address,
        nonce: u64,
    }

    impl Chain {
        fn new() -> Self {
            let validator = SecretKey::from_seed([1; 32]);
            let alice = SecretKey::from_seed([2; 32]);
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
                accounts: vec![(Address::from_public_key(&alice.public_key()), Amount(1_000_000))],
                mode: ConsensusMode::Fast,
                time_ms: 0,
                vault: Default::default(),
                checkpoints: Default::default(),
                authcenters: None,
                audit: Default::default(),
            };
            let ledger = Ledger::genesis(&genesis).unwrap();
            Self { genesis, ledger, validator, alice, bob: Address([9; 20]), nonce: 0 }
        }

        /// The next block, with `txs` transfers of 40 each, committed to the ledger.
        fn block(&mut self, txs: usize) -> (CommittedBlock, Vec<ReceiptEntry>, StateCommit) {
            let txs: Vec<_> = (0..txs)
                .map(|_| {
                    self.nonce += 1;
                    Transaction {
                        chain_id: self.genesis.chain_id.clone(),
                        sender: self.alice.public_key(),
                        nonce: Nonce(self.nonce - 1),
                        fee: Amount(1),
                        payload: Payload::Transfer(Transfer { to: self.bob, amount: Amount(40) }),
                    }
                    .sign(&self.alice)
                })
                .collect();
            let exec = self.ledger.execute(&txs).unwrap();
            let proposer = self.genesis.validators.validators()[0].id;
            let header = self.ledger.build_header(&exec, View(0), proposer, self.ledger.height().0 + 1);
            let block = Block { header, txs };
            let receipts = exec.entries.clone();
            let state = self.ledger.commit(&block, exec).unwrap();
            let data = VoteData {
                chain_id: self.genesis.chain_id.clone(),
                height: block.header.height,
                view: View(0),
                block_hash: block.header.hash(),
                kind: VoteKind::Ack,
            };
            let vote = data.clone().sign(proposer, &self.validator);
            let cert = QuorumCert::from_votes(data, &[vote], &self.genesis.validators).unwrap();
            (CommittedBlock { block, cert, justification: None }, receipts, state)
        }
    }

    /// A fresh database at `path` holding the chain's genesis state.
    fn fresh(path: &Path, chain: &Chain, tx_index_memory_max: usize) -> Store {
        let store = Store::open(path, tx_index_memory_max).unwrap();
        let (meta, records) = chain.ledger.snapshot();
        store.write_state(&meta, records).unwrap();
        store
    }

    /// What each transaction of `written` blocks must read back as.
    fn records(written: &[(CommittedBlock, Vec<ReceiptEntry>, StateCommit)]) -> Vec<(TxHash, TxRecord)> {
        let mut out = Vec::new();
        for (committed, receipts, _) in written {
            for (i, entry) in receipts.iter().enumerate() {
                let height = committed.block.header.height;
                let block_hash = committed.block.header.hash();
                out.push((entry.tx_hash, TxRecord { height, block_hash, index: i as u32, entry: entry.clone() }));
            }
        }
        out
    }

    fn indexed_through(store: &Store) -> Height {
        let txn = store.db().begin_read().unwrap();
        let meta = txn.open_table(META).unwrap();
        let through = meta
            .get(INDEXED_THROUGH_KEY)
            .unwrap()
            .map(|v| from_bytes::<u64>(checked("meta", INDEXED_THROUGH_KEY, v.value()).unwrap()).unwrap());
        Height(through.unwrap_or(0))
    }

    #[test]
    fn state_committed_with_a_block_reads_back_with_the_same_root_and_balances() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.redb");
        let mut chain = Chain::new();
        let store = Store::open(&path, TX_INDEX_MEMORY_MAX).unwrap();
        assert!(store.load(usize::MAX).unwrap().state.is_none(), "a fresh database holds no state");
        drop(store);
        let store = fresh(&path, &chain, TX_INDEX_MEMORY_MAX);

        let (committed, receipts, state) = chain.block(1);
        let tx_hash = committed.block.txs[0].hash();
        store.write(&[(&committed, &receipts, &state)], None).unwrap();
        let record = store.tx(&tx_hash).unwrap().expect("the receipt is indexed once written");
        assert_eq!((record.height, record.index, &record.entry), (Height(1), 0, &receipts[0]));
        assert_eq!(record.block_hash, committed.block.header.hash(), "a receipt names the block it is in");
        drop(store);

        let store = Store::open(&path, TX_INDEX_MEMORY_MAX).unwrap();
        assert_eq!(store.tx(&tx_hash).unwrap(), Some(record), "the index is rebuilt on open");
        assert_eq!(store.tx(&Hash32([7; 32])).unwrap(), None);
        let stored = store.load(usize::MAX).unwrap();
        assert_eq!(stored.blocks.len(), 1);
        let (meta, tree) = stored.state.expect("state stored with the block");
        let back = Ledger::restore(&chain.genesis, meta, tree).unwrap();
        let ledger = &chain.ledger;
        assert_eq!(back.height(), ledger.height());
        assert_eq!(back.state_root().unwrap(), ledger.state_root().unwrap());
        assert_eq!(back.account(&chain.bob).balance, Amount(40));
        assert_eq!(back.account(&Address::from_public_key(&chain.alice.public_key())).nonce, Nonce(1));
        // It continues the chain from the same block.
        assert_eq!(back.last_hash(), ledger.last_hash());
    }

    /// Issue 22: a node signs each block's receipts once; every receipt is a path into
    /// that statement, and proves what the node said as a receipt signed alone did.
    #[test]
    fn receipts_are_signed_once_per_block_and_each_proves_its_entry_against_the_certified_root() {
        use crate::receipts::{SignedBlocks, Signer};
        let dir = tempfile::tempdir().unwrap();
        let mut chain = Chain::new();
        let store = fresh(&dir.path().join("vigil.redb"), &chain, TX_INDEX_MEMORY_MAX);
        let written: Vec<_> = [5, 1, 7].into_iter().map(|n| chain.block(n)).collect();
        for (c, r, s) in &written {
            store.write(&[(c, r, s)], None).unwrap();
        }
        let node = chain.genesis.validators.validators()[0].id;
        let honest = Signer { chain_id: &chain.genesis.chain_id, node, key: &chain.validator, byzantine: false };
        let liar = Signer { byzantine: true, ..honest };
        let key = chain.validator.public_key();
        // Room for two blocks' receipts (the largest, 7, alone fits): older ones go.
        let signed = SignedBlocks::with_bounds(8, 16);
        let lies = SignedBlocks::default();
        for (hash, record) in records(&written) {
            let header = &written[(record.height.0 - 1) as usize].0.block.header;
            let receipt = signed.receipt(&store, &honest, &record).unwrap().expect("a stored receipt");
            receipt.verify(&key).unwrap();
            assert_eq!((receipt.receipt.entry.clone(), receipt.receipt.tx_index), (record.entry.clone(), record.index));
            assert_eq!(receipt.receipt.block_hash, header.hash());
            assert_eq!(receipt.statement().unwrap().receipts_root, header.receipts_root, "{hash}");
            receipt.proof.verify(&record.entry.leaf_hash(), &header.receipts_root).unwrap();
            assert!(signed.receipts_kept() <= 8);

            let lie = lies.receipt(&store, &liar, &record).unwrap().expect("a stored receipt");
            lie.verify(&key).unwrap();
            assert_ne!(lie.receipt.entry, record.entry, "the fault injection signs another result");
            assert_ne!(lie.statement().unwrap().receipts_root, header.receipts_root);
        }
        assert_eq!(lies.len(), 3, "one statement per block, however many receipts");
        assert_eq!(signed.len(), 2, "the oldest statement goes past the bound");
        assert_eq!(signed.receipts_kept(), 1 + 7);
        // A receipt of an evicted block is signed again, the same.
        let (hash, first) = records(&written).remove(0);
        let again = signed.receipt(&store, &honest, &first).unwrap().unwrap();
        let fresh = SignedBlocks::default().receipt(&store, &honest, &first).unwrap().unwrap();
        assert_eq!(again, fresh, "{hash}");
        // A record that no longer matches its block's stored receipts gets none.
        let moved = TxRecord { index: 1, ..first };
        assert_eq!(signed.receipt(&store, &honest, &moved).unwrap(), None);
        assert_eq!(store.block_receipts(Height(9)).unwrap(), vec![]);
    }

    /// Issue 14: schema 4 kept every transaction's hash in memory, rebuilt on open by
    /// reading every receipt ever stored.
    #[test]
    fn the_tx_index_keeps_its_bound_in_memory_and_finds_older_transactions_on_disk() {
        const MAX: usize = 5;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.redb");
        let mut chain = Chain::new();
        let store = fresh(&path, &chain, MAX);
        // 12 blocks of 3 transactions, a write each, then 4 blocks of 2 in one write.
        let mut written = Vec::new();
        for _ in 0..12 {
            let (committed, receipts, state) = chain.block(3);
            store.write(&[(&committed, &receipts, &state)], None).unwrap();
            assert!(store.tx_index_memory_len() <= MAX, "{} in memory", store.tx_index_memory_len());
            written.push((committed, receipts, state));
        }
        let batch: Vec<_> = (0..4).map(|_| chain.block(2)).collect();
        let writes: Vec<BlockWrite<'_>> = batch.iter().map(|(c, r, s)| (c, r.as_slice(), s)).collect();
        store.write(&writes, None).unwrap();
        assert!(store.tx_index_memory_len() <= MAX);
        written.extend(batch);
        let txs = records(&written);
        assert_eq!(txs.len(), 44);
        let through = indexed_through(&store);
        assert!(through >= Height(12), "the oldest heights moved to the table: through {through}");
        for (hash, record) in &txs {
            assert_eq!(store.tx(hash).unwrap().as_ref(), Some(record));
        }
        drop(store);

        let store = Store::open(&path, MAX).unwrap();
        assert!(store.tx_index_memory_len() <= MAX);
        let (oldest, newest) = (&txs[0], &txs[txs.len() - 1]);
        assert_eq!((oldest.1.height, oldest.1.index), (Height(1), 0));
        assert_eq!((newest.1.height, newest.1.index), (Height(16), 1));
        assert_eq!(store.tx(&oldest.0).unwrap().as_ref(), Some(&oldest.1), "found in the table");
        assert_eq!(store.tx(&newest.0).unwrap().as_ref(), Some(&newest.1), "found in memory");
        assert!(txs.iter().all(|(hash, record)| store.tx(hash).unwrap().as_ref() == Some(record)));
        assert_eq!(store.tx(&Hash32([7; 32])).unwrap(), None);
        drop(store);

        // Only the receipts above `indexed_through` are read back on open, whatever room.
        let store = Store::open(&path, 1_000).unwrap();
        let above = txs.iter().filter(|(_, r)| r.height > through).count();
        assert!(above < txs.len());
        assert_eq!(store.tx_index_memory_len(), above);
        drop(store);

        // A lowered bound: what is read back beyond it moves to the table on open.
        let store = Store::open(&path, 1).unwrap();
        assert!(store.tx_index_memory_len() <= 1);
        assert!(indexed_through(&store) > through);
        assert!(txs.iter().all(|(hash, record)| store.tx(hash).unwrap().as_ref() == Some(record)));
    }

    #[test]
    fn a_position_that_holds_another_transaction_is_an_error_not_its_receipt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.redb");
        let mut chain = Chain::new();
        let store = fresh(&path, &chain, 1);
        let written: Vec<_> = (0..3).map(|_| chain.block(2)).collect();
        for (committed, receipts, state) in &written {
            store.write(&[(committed, receipts, state)], None).unwrap();
        }
        let txs = records(&written);
        let (asked, other) = (&txs[0], &txs[1]);
        assert_eq!(store.tx(&asked.0).unwrap().as_ref(), Some(&asked.1), "in the table");
        let txn = store.db().begin_write().unwrap();
        let wrong = (other.1.height.0, other.1.index);
        txn.open_table(TX_INDEX).unwrap().insert(&asked.0 .0, &wrong).unwrap();
        txn.commit().unwrap();
        let err = store.tx(&asked.0).unwrap_err();
        assert!(matches!(err, StorageError::Misindexed { found: Some(f), .. } if f == other.0), "{err}");
    }

    #[test]
    fn a_flipped_byte_in_a_stored_value_is_corruption_not_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.redb");
        let mut chain = Chain::new();
        {
            let store = Store::open(&path, TX_INDEX_MEMORY_MAX).unwrap();
            let (meta, records) = chain.ledger.snapshot();
            store.write_state(&meta, records).unwrap();
            for _ in 0..3 {
                let (cb, receipts, state) = chain.block(2);
                store.write(&[(&cb, receipts.as_slice(), &state)], None).unwrap();
            }
            store.load(10).unwrap();
        }
        for (table, name, key) in [(BLOCKS, "blocks", 2u64), (STATE, "state_log", 3u64)] {
            let copy = dir.path().join(format!("copy-{name}.redb"));
            std::fs::copy(&path, &copy).unwrap();
            {
                let db = Database::create(&copy).unwrap();
                let txn = db.begin_write().unwrap();
                {
                    let mut t = txn.open_table(table).unwrap();
                    let mut value = t.get(key).unwrap().unwrap().value().to_vec();
                    let middle = value.len() / 2;
                    value[middle] ^= 0x10;
                    t.insert(key, value.as_slice()).unwrap();
                }
                txn.commit().unwrap();
            }
            let err = Store::open(&copy, TX_INDEX_MEMORY_MAX).unwrap().load(10).err().expect("caught");
            assert!(err.is_corruption(), "{err}");
            assert!(matches!(&err, StorageError::Corrupt { table: t, .. } if *t == name), "{err}");
        }
    }

    #[test]
    fn pruning_deletes_old_blocks_and_state_versions_keeps_set_changes_and_shrinks_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.redb");
        let mut chain = Chain::new();
        let store = Store::open(&path, 8).unwrap();
        let (meta, records) = chain.ledger.snapshot();
        store.write_state(&meta, records).unwrap();
        let mut first_tx = None;
        for _ in 0..60 {
            let (cb, receipts, state) = chain.block(20);
            first_tx.get_or_insert(receipts[0].tx_hash);
            store.write(&[(&cb, receipts.as_slice(), &state)], None).unwrap();
        }
        let root = chain.ledger.state_root().unwrap();
        let before = store.file_bytes();
        assert!(store.tx(&first_tx.unwrap()).unwrap().is_some());
        let whole = StateRecords::whole(60, chain.ledger.state_snapshot().entries());
        let pruned = store.prune(Height(50), &[Height(7)], Some((Height(60), whole))).unwrap();
        assert_eq!(pruned, Pruned { blocks: 48, receipts: 49 * 20, state_versions: 60 });
        assert!(store.compact().unwrap());
        let after = store.file_bytes();
        assert!(after * 2 < before, "the file shrank: {before} → {after} bytes");
        assert_eq!(store.pruned_below(), Height(50));
        // What is kept reads back; what went answers nothing; the state is whole.
        assert!(store.block(Height(7)).unwrap().is_some(), "the block that changed the set is kept");
        assert!(store.block(Height(8)).unwrap().is_none());
        assert!(store.block(Height(50)).unwrap().is_some());
        assert!(store.tx(&first_tx.unwrap()).unwrap().is_none());
        drop(store);
        let reopened = Store::open(&path, 8).unwrap();
        let (meta, tree) = reopened.load(10).unwrap().state.unwrap();
        assert_eq!(meta.height, Height(60));
        assert_eq!(tree.root(60).unwrap(), root);
        assert_eq!(reopened.pruned_below(), Height(50));
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
        let err = Store::open(&path, TX_INDEX_MEMORY_MAX).err().expect("refused");
        assert!(matches!(err, StorageError::Schema { found: 1 }), "{err}");
        assert!(err.to_string().contains("fresh data directory"), "{err}");
        // A fresh database is stamped with this schema and opens again.
        let fresh = dir.path().join("fresh.redb");
        drop(Store::open(&fresh, TX_INDEX_MEMORY_MAX).unwrap());
        Store::open(&fresh, TX_INDEX_MEMORY_MAX).unwrap();
    }
}
