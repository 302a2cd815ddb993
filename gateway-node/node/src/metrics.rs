//! The node's metrics (`GET /metrics` on the admin listener), in Prometheus' text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use vigil_server::metrics::Histogram;

#[derive(Default)]
pub struct Metrics {
    pub txs_committed: AtomicU64,
    pub blocks_committed: AtomicU64,
    pub txs_rejected: AtomicU64,
    /// Conflicting certified blocks met (a fork beyond Fast mode's bound).
    pub forks_proven: AtomicU64,
    commit_latency: Histogram,
    /// Sealed requests (from the gateway or relayed) opened and refused.
    pub sealed: std::sync::Arc<SealedCounters>,
    /// Vault shards this node rebuilt from the other stores, and those it could not
    /// (as of its last repair).
    pub vault_shards_repaired: AtomicU64,
    pub vault_shards_missing: AtomicU64,
    /// Audit records kept for the targets this node holds, and refused.
    pub audit_records_kept: AtomicU64,
    pub audit_records_refused: AtomicU64,
}

#[derive(Default)]
pub struct SealedCounters {
    pub opened: AtomicU64,
    pub refused: AtomicU64,
}

/// Point-in-time values read from the node for one scrape.
pub struct Gauges {
    pub height: u64,
    pub bft_mode: bool,
    pub mempool_txs: usize,
    pub peers_connected: usize,
    pub dropped_frames: u64,
    pub jailed: usize,
    /// The database file's size on disk, and the stored snapshots'.
    pub database_bytes: u64,
    pub snapshot_bytes: u64,
    /// Heights below this one were pruned.
    pub pruned_below: u64,
}

impl Metrics {
    /// Records one block's commit latency (proposal time to local commit).
    pub fn observe_commit(&self, latency_ms: u64, txs: usize) {
        self.commit_latency.observe(latency_ms);
        self.blocks_committed.fetch_add(1, Ordering::Relaxed);
        self.txs_committed.fetch_add(txs as u64, Ordering::Relaxed);
    }

    pub fn render(&self, g: &Gauges) -> String {
        let mut s = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            s,
            "# HELP vigil_height Height of the last committed block.\n# TYPE vigil_height gauge\nvigil_height {}",
            g.height
        );
        let _ = writeln!(s, "# HELP vigil_mode_bft 1 when the chain runs in Bft mode, 0 in Fast mode.\n# TYPE vigil_mode_bft gauge\nvigil_mode_bft {}", u8::from(g.bft_mode));
        let _ = writeln!(
            s,
            "# HELP vigil_mempool_txs Pending transactions.\n# TYPE vigil_mempool_txs gauge\nvigil_mempool_txs {}",
            g.mempool_txs
        );
        let _ = writeln!(s, "# HELP vigil_peers_connected Peers with an outbound link up.\n# TYPE vigil_peers_connected gauge\nvigil_peers_connected {}", g.peers_connected);
        let _ = writeln!(s, "# HELP vigil_validators_jailed Validators jailed for a proven fault.\n# TYPE vigil_validators_jailed gauge\nvigil_validators_jailed {}", g.jailed);
        let _ = writeln!(s, "# HELP vigil_dropped_frames_total Frames dropped because a peer queue was full.\n# TYPE vigil_dropped_frames_total counter\nvigil_dropped_frames_total {}", g.dropped_frames);
        let _ = writeln!(s, "# HELP vigil_disk_bytes Bytes on disk, by part (the database file as the file system counts it, the stored checkpoint snapshots).\n# TYPE vigil_disk_bytes gauge");
        let _ = writeln!(s, "vigil_disk_bytes{{part=\"database\"}} {}", g.database_bytes);
        let _ = writeln!(s, "vigil_disk_bytes{{part=\"snapshots\"}} {}", g.snapshot_bytes);
        let _ = writeln!(s, "# HELP vigil_pruned_below_height Blocks and receipts below this height were pruned.\n# TYPE vigil_pruned_below_height gauge\nvigil_pruned_below_height {}", g.pruned_below);
        let _ = writeln!(s, "# HELP vigil_vault_shards_repaired_total Vault shards this node lost and rebuilt from the other stores.\n# TYPE vigil_vault_shards_repaired_total counter\nvigil_vault_shards_repaired_total {}", load(&self.vault_shards_repaired));
        let _ = writeln!(s, "# HELP vigil_vault_shards_missing Vault shards this node should hold and could not rebuild (fewer than k intact at the other stores), as of its last repair.\n# TYPE vigil_vault_shards_missing gauge\nvigil_vault_shards_missing {}", load(&self.vault_shards_missing));
        let _ = writeln!(s, "# HELP vigil_audit_records_total Records of audit targets this node holds, by outcome (kept, or refused: out of order, not the owner's signature, malformed).\n# TYPE vigil_audit_records_total counter");
        let _ = writeln!(s, "vigil_audit_records_total{{outcome=\"kept\"}} {}", load(&self.audit_records_kept));
        let _ = writeln!(s, "vigil_audit_records_total{{outcome=\"refused\"}} {}", load(&self.audit_records_refused));
        let _ = writeln!(s, "# HELP vigil_txs_committed_total Transactions committed.\n# TYPE vigil_txs_committed_total counter\nvigil_txs_committed_total {}", load(&self.txs_committed));
        let _ = writeln!(s, "# HELP vigil_txs_rejected_total Client transactions rejected at admission.\n# TYPE vigil_txs_rejected_total counter\nvigil_txs_rejected_total {}", load(&self.txs_rejected));
        let _ = writeln!(s, "# HELP vigil_forks_proven_total Heights at which another certified block conflicts with this node's (a fork, traced to its validators).\n# TYPE vigil_forks_proven_total counter\nvigil_forks_proven_total {}", load(&self.forks_proven));
        let _ = writeln!(
            s,
            "# HELP vigil_commit_latency_ms From proposal to local commit.\n# TYPE vigil_commit_latency_ms histogram"
        );
        self.commit_latency.render(&mut s, "vigil_commit_latency_ms", "");
        let _ = writeln!(s, "# HELP vigil_sealed_requests_total Sealed requests, by outcome (opened, or refused: another key or altered).\n# TYPE vigil_sealed_requests_total counter");
        let _ = writeln!(s, "vigil_sealed_requests_total{{outcome=\"opened\"}} {}", load(&self.sealed.opened));
        let _ = writeln!(s, "vigil_sealed_requests_total{{outcome=\"refused\"}} {}", load(&self.sealed.refused));
        s
    }
}
