//! Wiped validators: a node loses its whole disk mid-height, comes back with nothing but
//! its key and the genesis, and recovers through the production path — its core asks
//! its peers ([`consensus::Node::recovering`]), the world serves the chosen checkpoint's
//! snapshot from a peer that holds it (every chunk checked against the signed chunk
//! root, as the node process does), and the core joins again. What must hold: no honest
//! validator ever signs two different votes for one slot (checked on every message
//! that leaves an honest node, across wipes), so none is ever jailed.

use std::collections::BTreeMap;

use rand::Rng;
use vigil_core::consensus::{Input, Message, RecoveryAnswer, RestoreJob};
use vigil_core::execution::{Ledger, LedgerMeta};
use vigil_protocol::snapshot::verify_chunk;
use vigil_protocol::{BlockHash, ChunkedSnapshot, Height, NodeId, SetChange, StateRecords, StateTree, View, VoteKind};

use super::{Event, TraceEvent, World};

/// Virtual milliseconds a restore takes (the download and the rebuild).
pub(crate) const RESTORE_MS: u64 = 40;

/// Snapshots a node keeps (its newest checkpoint heights).
const SNAPSHOTS_KEPT: usize = 3;

/// What a restored node wrote as its base: the state at the checkpoint and the set
/// changes that led there (its disk has no blocks below the checkpoint).
#[derive(Clone)]
pub(crate) struct Base {
    pub(crate) meta: LedgerMeta,
    pub(crate) records: StateRecords,
    pub(crate) set_changes: Vec<SetChange>,
}

/// Every vote slot an honest validator signed, across its crashes and wipes.
#[derive(Default)]
pub(crate) struct SignedSlots {
    slots: BTreeMap<(NodeId, Height, View, VoteKind), BlockHash>,
}

impl SignedSlots {
    /// The votes `message` carries that `signer` signed; `Err` names a slot it signed
    /// twice, differently.
    pub(crate) fn check(&mut self, signer: NodeId, message: &Message) -> Result<(), String> {
        let votes = match message {
            Message::Vote { vote, leader_ack } => vec![Some(vote), leader_ack.as_ref()],
            Message::Proposal(p) => vec![p.leader_ack.as_ref()],
            _ => return Ok(()),
        };
        for vote in votes.into_iter().flatten().filter(|v| v.voter == signer) {
            let d = &vote.data;
            let slot = (signer, d.height, d.view, d.kind);
            let before = *self.slots.entry(slot).or_insert(d.block_hash);
            if before != d.block_hash {
                return Err(format!(
                    "validator {} signed two {:?} votes at height {} view {}: {before} and {}",
                    signer.short(),
                    d.kind,
                    d.height,
                    d.view,
                    d.block_hash
                ));
            }
        }
        Ok(())
    }
}

/// The scenario's wipes, drawn from its RNG. A wiped validator abstains until the heights
/// it may have signed at are over: a fault while it does, so a wipe is drawn only within
/// the fault budget the Byzantine validators leave (and one per run).
pub(crate) fn draw_wipes(
    rng: &mut impl rand::Rng,
    nodes: usize,
    calm: bool,
    byzantine: &[(usize, super::Byzantine)],
) -> Vec<(u64, u64, usize)> {
    if calm || byzantine.len() >= super::byzantine_max(nodes) || !rng.gen_bool(0.5) {
        return Vec::new();
    }
    let node = rng.gen_range(0..nodes);
    let at = rng.gen_range(0..super::FAULT_PHASE_MS);
    let back = (at + rng.gen_range(50..1_500)).min(super::FAULT_PHASE_MS);
    if byzantine.iter().any(|(b, _)| *b == node) {
        return Vec::new();
    }
    vec![(at, back, node)]
}

impl World {
    /// A Byzantine validator's answer to a recovering node: it claims the chain is at
    /// its start (so the node would sign at once), or offers a checkpoint with a forged
    /// digest, or none — none of which may make the node sign a slot twice or restore
    /// anything but the chain's state.
    pub(crate) fn lie_in_recovery(&mut self, answer: &mut RecoveryAnswer) {
        self.faults.recovery_lies += 1;
        match self.rng.gen_range(0..3) {
            0 => (answer.height, answer.fast_view) = (Height(1), View(0)),
            1 => {
                if let Some(c) = answer.checkpoint.as_mut() {
                    c.digest.state_root = vigil_protocol::Hash32([0xbd; 32]);
                    c.digest.height = Height(c.digest.height.0 + 8);
                }
            }
            _ => answer.checkpoint = None,
        }
    }

    /// Node `i` loses everything on its disk (its process with it).
    pub(crate) fn wipe(&mut self, i: usize) {
        self.nodes[i].node = None;
        self.nodes[i].disk = super::Disk { needs_recovery: true, ..Default::default() };
        self.nodes[i].snapshots.clear();
        self.nodes[i].committed_txs.clear();
        self.faults.wipes += 1;
        self.trace.push(self.now_ms, TraceEvent::Wipe(i));
    }

    /// A checkpoint digest computed at node `i`, with the chunks it serves from then on.
    pub(crate) fn keep_snapshot(&mut self, i: usize, snapshot: ChunkedSnapshot) {
        let snapshots = &mut self.nodes[i].snapshots;
        snapshots.insert(snapshot.digest.height, snapshot);
        while snapshots.len() > SNAPSHOTS_KEPT {
            snapshots.pop_first();
        }
    }

    /// A recovering node asks for a checkpoint's snapshot: fetched chunk by chunk from
    /// the first peer that runs and holds it, each checked on arrival; the rebuilt
    /// ledger is handed back after [`RESTORE_MS`] (or a failure, and the node asks again).
    pub(crate) fn restore(&mut self, i: usize, job: RestoreJob) {
        let digest = &job.checkpoint.digest;
        let incarnation = self.nodes[i].incarnation;
        let served = job.peers.iter().filter_map(|p| self.index_of(p)).find_map(|peer| {
            let n = &self.nodes[peer];
            let snapshot = n.node.as_ref().and(n.snapshots.get(&digest.height))?;
            // Each chunk as the peer serves it, checked as a restoring node checks it.
            (0..digest.chunk_count)
                .map(|i| {
                    snapshot.serve(i).filter(|s| verify_chunk(digest, &s.chunk, &s.proof).is_ok()).map(|s| s.chunk)
                })
                .collect::<Option<Vec<_>>>()
        });
        let ledger = served
            .and_then(|chunks| StateTree::from_snapshot(digest, chunks).ok())
            .and_then(|tree| Ledger::from_checkpoint(&self.genesis, digest, tree).ok());
        match ledger {
            Some(_) => self.faults.restores += 1,
            None => self.faults.restores_failed += 1,
        }
        self.schedule(self.now_ms + RESTORE_MS, Event::Restored { node: i, incarnation, ledger: ledger.map(Box::new) });
    }

    /// The restore's result reaches the node. Once the core took it, the rebuilt state
    /// and the set changes it verified are its disk's base (what it restarts from if it
    /// crashes again).
    pub(crate) fn restored(&mut self, i: usize, ledger: Option<Box<Ledger>>) {
        let Some(ledger) = ledger else {
            return self.input(i, Input::RestoreFailed);
        };
        let (meta, records) = ledger.snapshot();
        self.input(i, Input::Restored(ledger));
        let n = &mut self.nodes[i];
        if let Some(node) = n.node.as_ref().filter(|node| !node.is_recovering()) {
            n.disk.base = Some(Base { meta, records, set_changes: node.set_changes().to_vec() });
        }
    }
}
