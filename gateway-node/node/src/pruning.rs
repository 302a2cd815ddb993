//! When a node prunes: after each stable checkpoint it stores (unless it is an archive
//! node), off the consensus thread. Blocks and receipts more than
//! `[storage] retention_blocks` below the checkpoint go (the blocks that changed the
//! validator set stay: light clients and recovering peers follow them), state versions
//! below the checkpoint give way to its whole state (the snapshot the quorum signed),
//! and at most every `[storage] compact_interval_s` the database file is compacted, so
//! the space really goes back to the disk. Sizes on disk are in `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use vigil_protocol::{Height, StableCheckpoint, StateRecords};

use crate::config::StorageConfig;
use crate::service::Shared;

/// When the database was last compacted (ms of the process clock), for the interval.
#[derive(Default)]
pub struct Pruner {
    last_compaction_ms: AtomicU64,
    running: std::sync::Mutex<()>,
}

impl Pruner {
    /// Prunes below `checkpoint` (blocking: run it on a blocking thread). The heights at
    /// which the set changed are the blocks before each set's first height.
    pub fn after_checkpoint(
        &self,
        shared: &Arc<Shared>,
        cfg: &StorageConfig,
        checkpoint: &StableCheckpoint,
        set_firsts: &[Height],
    ) {
        if cfg.archive {
            return;
        }
        // One pruning at a time (a slow one is not raced by the next checkpoint's).
        let Ok(_running) = self.running.try_lock() else { return };
        let at = checkpoint.digest.height;
        let keep_from = Height(at.0.saturating_sub(cfg.retention_blocks).max(1));
        let keep: Vec<Height> = set_firsts.iter().map(|h| Height(h.0.saturating_sub(1))).collect();
        let whole = shared.snapshots.entries_of(checkpoint).map(|entries| (at, StateRecords::whole(at.0, entries)));
        let started = Instant::now();
        let before = shared.store.file_bytes();
        let pruned = match shared.store.prune(keep_from, &keep, whole) {
            Ok(p) => p,
            Err(e) => {
                return tracing::warn!(error = %e, %at, "pruning failed; the data stays until the next checkpoint")
            }
        };
        let now = vigil_server::now_ms();
        let due = now.saturating_sub(self.last_compaction_ms.load(Ordering::Relaxed)) >= cfg.compact_interval_s * 1_000;
        let compacted = due
            && match shared.store.compact() {
                Ok(done) => done,
                Err(e) => {
                    tracing::warn!(error = %e, "compacting the database failed; the space returns at a later one");
                    false
                }
            };
        if compacted {
            self.last_compaction_ms.store(now, Ordering::Relaxed);
        }
        tracing::info!(
            checkpoint = %at,
            below = %keep_from,
            blocks = pruned.blocks,
            receipts = pruned.receipts,
            state_versions = pruned.state_versions,
            compacted,
            db_mb_before = %format!("{:.1}", before as f64 / 1e6),
            db_mb_after = %format!("{:.1}", shared.store.file_bytes() as f64 / 1e6),
            ms = started.elapsed().as_millis() as u64,
            "pruned"
        );
    }
}
