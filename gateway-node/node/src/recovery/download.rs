//! Restoring this node's state from its peers: the snapshot of the checkpoint its core
//! chose ([`RestoreJob`]) is downloaded in chunks from every peer that holds it at once
//! ([`CHUNKS_IN_FLIGHT_PER_PEER`] each), each chunk checked the moment it arrives against
//! the checkpoint's chunk root. A peer that serves a chunk that is not the signed one is
//! dropped at that chunk; a peer that stalls ([`CHUNK_TIMEOUT`], [`STALLS_MAX`] times) is
//! dropped too; their chunks go to the others. Then the state is rebuilt, its root
//! checked against the checkpoint's, and it is written as the database's base before the
//! core takes it: nothing half-restored is ever served. Progress (chunks, MB/s, ETA) is
//! logged as it goes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use tokio::sync::mpsc;
use vigil_core::consensus::{Message, RestoreJob};
use vigil_core::execution::Ledger;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::snapshot::verify_chunk;
use vigil_protocol::{ChunkedSnapshot, NodeId, ServedChunk, SnapshotChunk, StateTree};

use crate::service::{Event, Shared};

/// Chunks asked of one peer at a time.
pub const CHUNKS_IN_FLIGHT_PER_PEER: usize = 4;
/// A chunk not served within this is asked of another peer.
pub const CHUNK_TIMEOUT: Duration = Duration::from_secs(10);
/// Chunks a peer may leave unserved before it is dropped.
pub const STALLS_MAX: u32 = 2;
/// Chunks waiting to be checked (from every peer).
const INBOX_MAX: usize = 64;
const PROGRESS_INTERVAL: Duration = Duration::from_secs(2);
/// How long after a failed restore the peers are asked again (a restore that fails the
/// same way each time must not hammer them).
pub const RESTORE_RETRY_AFTER: Duration = Duration::from_secs(2);
const TICK: Duration = Duration::from_millis(200);

/// Restores `job` and hands the result to the consensus thread (the rebuilt ledger, or a
/// failure after which the core asks its peers again).
pub async fn run(shared: Arc<Shared>, job: RestoreJob) {
    let height = job.checkpoint.digest.height;
    let event = match restore(&shared, job).await {
        Ok(ledger) => Event::Restored(Box::new(ledger)),
        Err(e) => {
            tracing::error!(
                %height,
                error = %format!("{e:#}"),
                retry_in_s = RESTORE_RETRY_AFTER.as_secs(),
                "restore failed; asking the peers again"
            );
            tokio::time::sleep(RESTORE_RETRY_AFTER).await;
            Event::RestoreFailed
        }
    };
    let _ = shared.events.send(event).await;
}

async fn restore(shared: &Arc<Shared>, job: RestoreJob) -> anyhow::Result<Ledger> {
    let digest = job.checkpoint.digest.clone();
    tracing::info!(
        height = %digest.height,
        chunks = digest.chunk_count,
        peers = job.peers.len(),
        "restoring the state of stable checkpoint {}",
        digest.hash()
    );
    let (inbox_tx, inbox) = mpsc::channel(INBOX_MAX);
    shared.set_restore_inbox(Some(inbox_tx));
    let chunks = Download::new(shared, &job).run(inbox).await;
    shared.set_restore_inbox(None);
    let chunks = chunks?;
    let rebuilt = {
        let (shared, job) = (shared.clone(), job.clone());
        tokio::task::spawn_blocking(move || rebuild(&shared, &job, chunks)).await.context("the rebuild stopped")??
    };
    // Written to disk after the core has the state (it is served from memory meanwhile).
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = shared.snapshots.store_stable(&job.checkpoint) {
            tracing::warn!(error = %format!("{e:#}"), "could not store the restored snapshot (it is served from memory)");
        }
    });
    Ok(rebuilt)
}

/// Rebuilds the state, checks it against the checkpoint, stores it as the base (with
/// the safety state the core will hold), and keeps the snapshot to serve in turn.
fn rebuild(shared: &Shared, job: &RestoreJob, chunks: Vec<SnapshotChunk>) -> anyhow::Result<Ledger> {
    let started = Instant::now();
    let digest = &job.checkpoint.digest;
    let snapshot = ChunkedSnapshot::new(digest.clone(), chunks.clone())?;
    let tree = StateTree::from_snapshot(digest, chunks)?;
    let ledger = Ledger::from_checkpoint(&shared.genesis, digest, tree)?;
    let (meta, records) = ledger.snapshot();
    shared.store.write_restored(&meta, records, &job.set_changes, &job.safety)?;
    shared.snapshots.hold(snapshot);
    tracing::info!(
        height = %digest.height,
        state_root = %digest.state_root,
        rebuild_ms = started.elapsed().as_millis() as u64,
        "state rebuilt and checked against the checkpoint; catching up from its peers"
    );
    Ok(ledger)
}

/// One peer's share of the download.
#[derive(Default)]
struct Peer {
    asked: BTreeMap<u32, Instant>,
    stalls: u32,
}

struct Download<'a> {
    shared: &'a Shared,
    job: &'a RestoreJob,
    peers: BTreeMap<NodeId, Peer>,
    missing: VecDeque<u32>,
    got: Vec<Option<SnapshotChunk>>,
    done: usize,
    bytes: usize,
    started: Instant,
    last_progress: Instant,
}

impl<'a> Download<'a> {
    fn new(shared: &'a Shared, job: &'a RestoreJob) -> Self {
        let count = job.checkpoint.digest.chunk_count;
        let me = shared.keys.id();
        Self {
            shared,
            job,
            peers: job.peers.iter().filter(|p| **p != me).map(|p| (*p, Peer::default())).collect(),
            missing: (0..count).collect(),
            got: vec![None; count as usize],
            done: 0,
            bytes: 0,
            started: Instant::now(),
            last_progress: Instant::now(),
        }
    }

    async fn run(mut self, mut inbox: mpsc::Receiver<(NodeId, ServedChunk)>) -> anyhow::Result<Vec<SnapshotChunk>> {
        while self.done < self.got.len() {
            if self.peers.is_empty() {
                bail!("every peer that held the snapshot was dropped ({} of {} chunks)", self.done, self.got.len());
            }
            self.ask();
            tokio::select! {
                received = inbox.recv() => match received {
                    Some((from, served)) => self.received(from, served),
                    None => bail!("the node stopped"),
                },
                () = tokio::time::sleep(TICK) => {}
            }
            self.expire();
            self.progress();
        }
        self.progress_line(true);
        self.got.into_iter().enumerate().map(|(i, c)| c.ok_or_else(|| anyhow!("chunk {i} missing"))).collect()
    }

    /// Asks each peer for chunks up to its share, one peer after the other, so the
    /// chunks spread over every peer that holds them.
    fn ask(&mut self) {
        let height = self.job.checkpoint.digest.height;
        let mut asked = true;
        while asked && !self.missing.is_empty() {
            asked = false;
            for (id, peer) in &mut self.peers {
                if peer.asked.len() >= CHUNKS_IN_FLIGHT_PER_PEER {
                    continue;
                }
                let Some(index) = self.missing.pop_front() else { return };
                peer.asked.insert(index, Instant::now());
                self.shared.network.send(id, &Message::SnapshotRequest { height, index });
                asked = true;
            }
        }
    }

    /// A chunk from a peer: kept if asked of it and signed; a peer that served another
    /// chunk than the signed one is dropped at once.
    fn received(&mut self, from: NodeId, served: ServedChunk) {
        let digest = &self.job.checkpoint.digest;
        let index = served.chunk.index;
        let Some(peer) = self.peers.get_mut(&from) else { return };
        if served.height != digest.height || peer.asked.remove(&index).is_none() {
            return;
        }
        if let Err(why) = verify_chunk(digest, &served.chunk, &served.proof) {
            tracing::warn!(peer = %from.short(), chunk = index, %why, "a peer served a chunk the checkpoint does not sign; dropping it, the others serve the rest");
            self.missing.push_front(index);
            self.drop_peer(from);
            return;
        }
        if let Some(slot) = self.got.get_mut(index as usize).filter(|s| s.is_none()) {
            self.bytes += to_bytes(&served.chunk).len();
            *slot = Some(served.chunk);
            self.done += 1;
        }
    }

    /// Chunks asked too long ago go to another peer; a peer that stalls too often goes.
    fn expire(&mut self) {
        let now = Instant::now();
        let mut stalled = Vec::new();
        for (id, peer) in &mut self.peers {
            let late: Vec<u32> =
                peer.asked.iter().filter(|(_, at)| now.duration_since(**at) > CHUNK_TIMEOUT).map(|(i, _)| *i).collect();
            for index in late {
                peer.asked.remove(&index);
                self.missing.push_back(index);
                peer.stalls += 1;
            }
            if peer.stalls >= STALLS_MAX {
                stalled.push(*id);
            }
        }
        for id in stalled {
            tracing::warn!(peer = %id.short(), "a peer stalls on snapshot chunks; dropping it");
            self.drop_peer(id);
        }
    }

    fn drop_peer(&mut self, id: NodeId) {
        if let Some(peer) = self.peers.remove(&id) {
            self.missing.extend(peer.asked.into_keys());
        }
    }

    fn progress(&mut self) {
        if self.last_progress.elapsed() >= PROGRESS_INTERVAL {
            self.last_progress = Instant::now();
            self.progress_line(false);
        }
    }

    fn progress_line(&self, last: bool) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let mb = self.bytes as f64 / 1e6;
        let rate = mb / secs;
        let total = self.got.len().max(1);
        let eta = if self.done == 0 { f64::NAN } else { secs * (total - self.done) as f64 / self.done as f64 };
        tracing::info!(
            chunks = %format!("{}/{}", self.done, self.got.len()),
            mb = %format!("{mb:.1}"),
            mb_s = %format!("{rate:.1}"),
            eta_s = %format!("{eta:.0}"),
            peers = self.peers.len(),
            "{}",
            if last { "snapshot downloaded" } else { "downloading the snapshot" }
        );
    }
}
