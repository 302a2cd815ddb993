//! Forks beyond Fast mode's bound: seen, traced to their cause, stopped.
//!
//! With fewer Byzantine validators than two Fast quorums share, no two blocks are ever
//! certified at one height. Beyond that bound (e.g. one Byzantine of 7) they can be, and
//! then the fork must be *accountable*: a node that meets a certified block conflicting
//! with one it committed
//! 1. checks the other block's certificate against the set in force there, and finds
//!    the lowest height where the two chains part (same parent, different blocks),
//!    asking the sender for its blocks below when the parents differ;
//! 2. walks both blocks' certificates and justifications
//!    ([`vigil_protocol::forensics::fork_evidence`]) to the validators whose own signed
//!    statements conflict, and submits that evidence (gossiped like any transaction);
//! 3. stops Fast mode there: it neither proposes nor acks a Fast block that does not
//!    carry evidence, until the evidence commits, jails the offenders and the chain runs
//!    Bft. An honest validator — even one that signed receipts for the losing block —
//!    is never accused: the evidence is two statements of one validator that no honest
//!    validator signs.
//!
//! A node learns of the other chain from what reaches it anyway: a proposal whose
//! parent is not its block at that height (it then asks the proposer for its blocks),
//! and the blocks peers send it in sync.

use std::collections::BTreeSet;

use vigil_protocol::forensics::{fork_evidence, CertifiedProposal};
use vigil_protocol::{Block, BlockHeader, ConsensusMode, Height, NodeId, Payload};

use super::{CommittedBlock, Message, Node, Output, SYNC_BATCH_BLOCKS_MAX};

/// Most (peer, height) block requests sent to trace a fork per height in progress; a
/// peer that keeps showing other parents costs at most this many sync requests.
pub const FORK_PROBES_MAX: usize = 64;

/// What a node knows of forks.
#[derive(Debug, Default, Clone)]
pub struct ForkState {
    /// Block requests already sent, by peer and first height (cleared on each commit).
    probes: BTreeSet<(NodeId, Height)>,
    /// Heights at which a fork was traced to its validators (one entry each).
    proven: BTreeSet<Height>,
    /// Conflicting blocks examined without finding who caused them (by height, hash and
    /// whether a justification came with them), so that each is walked once.
    examined: BTreeSet<(Height, vigil_protocol::BlockHash, bool)>,
    /// The validators proven to have caused a fork.
    offenders: BTreeSet<NodeId>,
}

impl ForkState {
    pub(super) fn after_commit(&mut self) {
        self.probes.clear();
    }
}

/// Whether a block carries fault evidence (a block that may commit while Fast mode is
/// stopped by a proven fork).
pub fn carries_evidence(block: &Block) -> bool {
    block.txs.iter().any(|t| matches!(t.tx.payload, Payload::FaultEvidence(_)))
}

impl Node {
    /// Whether a proven fork stops Fast mode: its offenders are still in the set.
    pub(super) fn fork_halted(&self) -> bool {
        self.ledger.mode() == ConsensusMode::Fast && self.fork.offenders.iter().any(|o| self.set().get(o).is_some())
    }

    /// The heights at which this node proved a fork.
    pub fn forks_proven(&self) -> impl Iterator<Item = Height> + '_ {
        self.fork.proven.iter().copied()
    }

    /// The hash of this node's block at `height` (the genesis hash at 0).
    fn hash_at(&self, height: Height) -> Option<vigil_protocol::BlockHash> {
        match height {
            Height(0) => Some(self.genesis_hash),
            _ => self.committed.get(height).map(|cb| cb.block.header.hash()),
        }
    }

    /// A header from `from` (a proposal's or a synced block's) at a height this node
    /// reached: if its parent is not this node's block below it, the chains parted
    /// there or lower, so ask `from` for its blocks from that height.
    pub(super) fn check_parent(&mut self, from: NodeId, header: &BlockHeader) {
        let Some(parent_height) = header.height.0.checked_sub(1).map(Height) else { return };
        if self.hash_at(parent_height).is_none_or(|mine| mine == header.parent_hash) || parent_height == Height(0) {
            return;
        }
        self.probe(from, parent_height);
    }

    fn probe(&mut self, from: NodeId, from_height: Height) {
        if from == self.me || self.fork.probes.len() >= FORK_PROBES_MAX || !self.fork.probes.insert((from, from_height))
        {
            return;
        }
        self.out.push(Output::Send { to: from, message: Message::SyncRequest { from_height } });
    }

    /// A certified block from `from` for a height this node committed.
    pub(super) fn check_for_fork(&mut self, from: NodeId, theirs: &CommittedBlock) {
        let height = theirs.block.header.height;
        let Some(mine) = self.committed.get(height) else { return };
        let hash = theirs.block.header.hash();
        let key = (height, hash, theirs.justification.is_some());
        if mine.block.header.hash() == hash || self.fork.proven.contains(&height) || self.fork.examined.contains(&key) {
            return;
        }
        let set = self.ledger.validators_at(height);
        let certified = theirs.certified_header();
        if certified.verify(set).is_err() {
            return;
        }
        if self.hash_at(Height(height.0 - 1)) != Some(theirs.block.header.parent_hash) {
            // The chains parted lower: ask for the blocks below, a batch at a time.
            let back = (SYNC_BATCH_BLOCKS_MAX as u64).saturating_sub(1);
            self.probe(from, Height(height.0.saturating_sub(back).max(1)));
            return;
        }
        let mine_proposal = CertifiedProposal { cert: &mine.cert, justification: mine.justification.as_ref() };
        let theirs_proposal = CertifiedProposal { cert: &theirs.cert, justification: theirs.justification.as_ref() };
        let evidence = fork_evidence(self.ledger.chain_id(), set, mine_proposal, theirs_proposal);
        let offenders: Vec<NodeId> = evidence.iter().map(|e| e.accused()).collect();
        if !offenders.is_empty() {
            self.fork.proven.insert(height);
        } else if self.fork.examined.len() < FORK_PROBES_MAX {
            // Not traced from what these two blocks carry (e.g. the higher one came
            // without its justification): another copy may carry it.
            self.fork.examined.insert(key);
        } else {
            return;
        }
        self.fork.offenders.extend(offenders.iter().copied());
        self.out.push(Output::ForkProven { height, theirs: hash, offenders });
        for e in evidence {
            self.submit_evidence(e);
        }
    }
}
