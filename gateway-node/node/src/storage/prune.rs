//! Pruning: what a node no longer needs once a checkpoint is stable goes, and the space
//! goes back to the file system. Blocks, their receipts and their tx-index entries below
//! a height are deleted — except the blocks that changed the validator set, which light
//! clients and recovering peers follow from genesis — and the state versions below the
//! checkpoint are replaced by the whole state at it (its snapshot). redb reuses freed
//! pages but never shrinks its file by itself: [`Store::compact`] does, and the file's
//! size on disk is what is reported.

use std::sync::atomic::Ordering;

use redb::{Database, ReadableDatabase, ReadableTable};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::{Height, ReceiptEntry, StateRecords};

use super::{
    checked, db_err, seal, StateLog, StorageError, Store, BLOCKS, BLOCK_HASHES, META, RECEIPTS, STATE, TX_INDEX,
};

/// In `meta`: every height below this one was pruned.
const PRUNED_BELOW_KEY: &str = "pruned_below";

/// What one pruning deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub blocks: u64,
    pub receipts: u64,
    pub state_versions: u64,
}

/// The pruning floor a database holds.
pub(super) fn pruned_below(db: &Database) -> Result<Height, StorageError> {
    let txn = db.begin_read().map_err(db_err)?;
    let meta = txn.open_table(META).map_err(db_err)?;
    Ok(match meta.get(PRUNED_BELOW_KEY).map_err(db_err)? {
        Some(v) => Height(from_bytes(checked("meta", PRUNED_BELOW_KEY, v.value())?)?),
        None => Height(0),
    })
}

impl Store {
    /// Deletes, in one write: the blocks (but those at `keep`, which changed the set),
    /// block hashes, receipts and tx-index entries of the heights below `keep_from`; and,
    /// given `whole` — the whole state at a height (a stable checkpoint's snapshot, which
    /// the caller checked) — every state version below that height, whose row it becomes.
    pub fn prune(
        &self,
        keep_from: Height,
        keep: &[Height],
        whole: Option<(Height, StateRecords)>,
    ) -> Result<Pruned, StorageError> {
        let mut pruned = Pruned::default();
        // Under the lock's read side until the transaction ends: a compaction waits for it.
        let db = self.db();
        let txn = db.begin_write().map_err(db_err)?;
        {
            let mut receipts = txn.open_table(RECEIPTS).map_err(db_err)?;
            let mut index = txn.open_table(TX_INDEX).map_err(db_err)?;
            for row in receipts.extract_from_if(..(keep_from.0, 0u32), |_, _| true).map_err(db_err)? {
                let (k, v) = row.map_err(db_err)?;
                let (height, i) = k.value();
                let entry: ReceiptEntry = from_bytes(checked("receipts", format!("({height}, {i})"), v.value())?)?;
                // Only if it points here (a hash committed twice keeps its newest place).
                let here = index.get(&entry.tx_hash.0).map_err(db_err)?.is_some_and(|p| p.value() == (height, i));
                if here {
                    index.remove(&entry.tx_hash.0).map_err(db_err)?;
                }
                pruned.receipts += 1;
            }
            let mut blocks = txn.open_table(BLOCKS).map_err(db_err)?;
            let kept = |h: u64| keep.contains(&Height(h));
            for row in blocks.extract_from_if(..keep_from.0, |h, _| !kept(h)).map_err(db_err)? {
                row.map_err(db_err)?;
                pruned.blocks += 1;
            }
            let mut hashes = txn.open_table(BLOCK_HASHES).map_err(db_err)?;
            hashes.retain_in(..keep_from.0, |h, _| kept(h)).map_err(db_err)?;
            if let Some((state_at, whole)) = whole {
                let mut state = txn.open_table(STATE).map_err(db_err)?;
                if state.get(state_at.0).map_err(db_err)?.is_none() {
                    return Err(StorageError::Db(format!("no state stored at height {state_at} to prune below")));
                }
                for row in state.extract_from_if(..state_at.0, |_, _| true).map_err(db_err)? {
                    row.map_err(db_err)?;
                    pruned.state_versions += 1;
                }
                state.insert(state_at.0, seal(to_bytes(&StateLog::from(whole))).as_slice()).map_err(db_err)?;
            }
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert(PRUNED_BELOW_KEY, seal(to_bytes(&keep_from.0)).as_slice()).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        self.pruned_below.fetch_max(keep_from.0, Ordering::AcqRel);
        self.forget_positions_below(keep_from);
        Ok(pruned)
    }

    /// Gives the space of deleted records back to the file system. Waits for the
    /// transactions under way and holds new ones off while it runs; `false` if a
    /// transaction was still open (try again later).
    pub fn compact(&self) -> Result<bool, StorageError> {
        let mut db = self.db.write().unwrap_or_else(|p| p.into_inner());
        match db.compact() {
            Ok(_) => Ok(true),
            Err(redb::CompactionError::TransactionInProgress) => Ok(false),
            Err(e) => Err(db_err(e)),
        }
    }

    /// The database file's size on disk, in bytes.
    /// The database file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn file_bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }

    /// Heights below this one were pruned.
    pub fn pruned_below(&self) -> Height {
        Height(self.pruned_below.load(Ordering::Acquire))
    }
}
