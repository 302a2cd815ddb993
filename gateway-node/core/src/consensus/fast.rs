//! Fast mode: stable leader, majority acknowledgements, view change by signed promises.
//!
//! - The leader of view `v` is `validators[v mod n]` ([`vigil_protocol::fast::leader`]).
//!   It proposes once it is *active* in `v`, and every proposal carries its
//!   [`Justification`]: genesis (view 0 of height 1), the parent's certificate at `v` (the
//!   leader stays active across heights, Multi-Paxos), or a quorum of signed promises
//!   for `v` with the backing of the highest claims.
//! - A follower acks a proposal only if its justification holds and it re-executes to
//!   the same roots; the ack carries the leader's ack, so a leader that proposes two
//!   blocks in one view is caught.
//! - No commit in time: the follower moves to `v+1` (only if validators holding f+1
//!   power are known to be at `v` or beyond, so one node does not run ahead alone) and
//!   broadcasts a signed promise with its highest ack and that ack's backing; a node
//!   jumps to a higher view only on a justified proposal, a certificate, or the word of
//!   f+1 power — never on one message.
//! - Views, acks and promises are only taken within [`VIEW_WINDOW_MAX`] of this node's
//!   view, and one ack per validator and view, so memory stays bounded.

use std::collections::BTreeMap;

use vigil_protocol::fast::{leader_ack_data, Selection};
use vigil_protocol::{
    Backing, Block, BlockHash, ConsensusMode, Height, Justification, NodeId, PromiseData, ProposalSlot, QuorumCert,
    View, Vote, VoteData, VoteKind,
};

use super::{fork, CommittedBlock, Message, Node, Proposal, TimerKind, ViewChange};

/// How far above (or below) this node's view acks, promises and votes are considered.
pub const VIEW_WINDOW_MAX: u64 = 256;

/// How much of a view's timeout a leader waits for promises that may still resolve an
/// equivocation of the claimed view's leader before it picks (beyond the bound only).
pub const PICK_WAIT_DIVISOR: u64 = 4;

/// A block this node acked at the height in progress, with the backing that lets it
/// claim so in a promise (persisted in the safety state).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Acked {
    pub view: View,
    pub block: Block,
    pub backing: Backing,
}

/// The view this node may propose in, why, and the block it must re-propose (if any).
#[derive(Debug, Clone)]
pub(super) struct Active {
    view: View,
    justification: Justification,
    reproposal: Option<Block>,
}

/// Per-node Fast-mode state; what must survive a crash is in `SafetyState`.
#[derive(Debug, Default, Clone)]
pub struct FastState {
    pub(super) active: Option<Active>,
    /// Promises for the view this node leads, verified, with their backings.
    promises: BTreeMap<NodeId, ViewChange>,
    /// Verified promises for a later view this node leads, one per validator (its
    /// highest), collected when this node gets to that view: a leader whose timer
    /// fires after its followers' must not lose the promises they sent first.
    early: BTreeMap<NodeId, ViewChange>,
    /// The highest view each validator is known to have reached (signed promises and
    /// acks), for the f+1 rule. One entry per validator.
    reached: BTreeMap<NodeId, View>,
    proposed: Option<View>,
    /// Acks by (view, block), at most one per validator and view.
    acks: BTreeMap<(View, BlockHash), BTreeMap<NodeId, Vote>>,
    acked_by: BTreeMap<(NodeId, View), BlockHash>,
    /// The justification of each proposal this node accepted at this height (at most
    /// one per leader and view, like `acked_by`), stored with the block if it commits.
    justifications: BTreeMap<(View, BlockHash), Justification>,
    view_at_height_start: View,
    /// Beyond the bound, the view whose promises left a choice, and whether the wait
    /// for more ([`PICK_WAIT_DIVISOR`]) is over.
    pick: Option<(View, bool)>,
}

impl FastState {
    /// Votes and promises held (see [`Node::retained`]).
    pub(super) fn retained(&self) -> usize {
        self.promises.len()
            + self.early.len()
            + self.reached.len()
            + self.acked_by.len()
            + self.justifications.len()
            + self.acks.values().map(BTreeMap::len).sum::<usize>()
    }

    pub(super) fn remember_justification(&mut self, view: View, block: BlockHash, justification: Justification) {
        self.justifications.insert((view, block), justification);
    }

    /// The justification of the proposal of `block` at `view`, if this node accepted it.
    pub(super) fn take_justification(&mut self, view: View, block: &BlockHash) -> Option<Justification> {
        self.justifications.remove(&(view, *block))
    }

    pub(super) fn reset_height(&mut self) {
        self.proposed = None;
        self.acks.clear();
        self.acked_by.clear();
        self.justifications.clear();
        self.promises.clear();
        self.early.clear();
        self.active = None;
        self.pick = None;
    }
}

impl Node {
    fn leader(&self, view: View) -> NodeId {
        vigil_protocol::fast::leader(self.set(), view).unwrap_or(self.me)
    }

    fn view_timeout_ms(&self, view: View) -> u64 {
        let failures = view.0.saturating_sub(self.fast.view_at_height_start.0).min(3);
        self.cfg.timeouts.fast_view_ms * (1 + failures)
    }

    /// Whether `view` is close enough to ours to be worth remembering anything about.
    pub(super) fn fast_in_window(&self, view: View) -> bool {
        let mine = self.safety.fast_view.0;
        view.0 <= mine.saturating_add(VIEW_WINDOW_MAX) && view.0.saturating_add(VIEW_WINDOW_MAX) >= mine
    }

    /// What a justification at `view` of the height in progress is checked against.
    fn proposal_slot(&self, view: View) -> ProposalSlot<'_> {
        ProposalSlot {
            chain_id: self.ledger.chain_id(),
            height: self.height(),
            view,
            parent_hash: self.ledger.last_hash(),
            set: self.set(),
        }
    }

    pub(super) fn fast_enter_height(&mut self) {
        let view = self.safety.fast_view;
        self.fast.view_at_height_start = view;
        // Still the leader since the previous height (its certificate is at this view),
        // or the very first view of the chain.
        let parent_cert = self.committed.last().map(|cb| &cb.cert).filter(|c| c.data.kind == VoteKind::Ack);
        self.fast.active = match parent_cert {
            Some(cert) if cert.data.view == view => {
                Some(Active { view, justification: Justification::Parent(cert.clone()), reproposal: None })
            }
            None if self.height() == Height(1) && view == View(0) => {
                Some(Active { view, justification: Justification::Genesis, reproposal: None })
            }
            _ => None,
        };
        self.fast_arm(view);
    }

    fn is_active(&self, view: View) -> bool {
        self.fast.active.as_ref().is_some_and(|a| a.view == view)
    }

    /// Schedules what the current view needs: the leader's proposal, everyone's timeout.
    fn fast_arm(&mut self, view: View) {
        if self.leader(view) == self.me && self.is_active(view) {
            let delay = self.cfg.timeouts.propose_delay_ms;
            self.timer(TimerKind::Propose, view, delay);
        }
        let timeout = self.view_timeout_ms(view);
        self.timer(TimerKind::FastView, view, timeout);
    }

    /// This node's signed promise for `view` with the backing of what it acked.
    fn own_promise(&self, view: View) -> Option<ViewChange> {
        if !self.is_validator() || !self.may_sign() {
            return None;
        }
        let acked = self.safety.fast_acked.as_ref();
        let data = PromiseData {
            chain_id: self.ledger.chain_id().clone(),
            height: self.height(),
            view,
            acked: acked.map(|a| (a.view, a.block.header.hash())),
        };
        Some(ViewChange {
            promise: data.sign(self.me, &self.cfg.key),
            acked: acked.map(|a| (a.backing.clone(), a.block.clone())),
        })
    }

    /// Moves to a higher view (never back), promising its leader what we acked.
    fn fast_adopt_view(&mut self, view: View, send_promise: bool) {
        if view <= self.safety.fast_view {
            return;
        }
        self.safety.fast_view = view;
        self.fast.promises.clear();
        self.fast.active = self.fast.active.take().filter(|a| a.view == view);
        self.fast.reached.insert(self.me, view);
        self.persist();
        let promise = self.own_promise(view);
        if let Some(p) = &promise {
            if send_promise {
                self.out.push(super::Output::Broadcast(Message::ViewChange(Box::new(p.clone()))));
            }
            if self.leader(view) == self.me {
                self.fast_collect_promise(self.me, p.clone());
                let early = std::mem::take(&mut self.fast.early);
                for (from, vc) in early {
                    match vc.promise.data.view.cmp(&view) {
                        std::cmp::Ordering::Equal => self.fast_collect_promise(from, vc),
                        std::cmp::Ordering::Greater => {
                            self.fast.early.insert(from, vc);
                        }
                        std::cmp::Ordering::Less => {}
                    }
                }
            }
        }
        self.fast_arm(view);
    }

    pub(super) fn fast_view_timeout(&mut self, view: View) {
        if view != self.safety.fast_view {
            return;
        }
        // Move on only with company: beyond the first timeout of a height, if fewer than
        // f+1 power is known to be at this view or beyond, repeat the promise instead of
        // running ahead alone (the others catch up on it, and this node waits for them).
        let alone = self.power_at_or_above(view) < self.set().fault_tolerance_power() + 1;
        if alone && view > self.fast.view_at_height_start {
            if let Some(p) = self.own_promise(view) {
                self.out.push(super::Output::Broadcast(Message::ViewChange(Box::new(p))));
            }
            let timeout = self.view_timeout_ms(view);
            self.timer(TimerKind::FastView, view, timeout);
            return;
        }
        if let Some(next) = view.0.checked_add(1) {
            self.fast_adopt_view(View(next), true);
        }
    }

    fn power_at_or_above(&self, view: View) -> u64 {
        let set = self.set();
        let mut reached: Vec<usize> =
            self.fast.reached.iter().filter(|(_, v)| **v >= view).filter_map(|(id, _)| set.index_of(id)).collect();
        if let Some(me) = set.index_of(&self.me).filter(|_| self.safety.fast_view >= view) {
            reached.push(me);
        }
        reached.sort_unstable();
        reached.dedup();
        set.power_of(reached)
    }

    /// The highest view above ours that validators holding f+1 power have reached.
    fn fast_skip_target(&self) -> Option<View> {
        let others = self.fast.reached.iter().filter(|(id, _)| **id != self.me);
        super::skip_target(self.set(), others, self.safety.fast_view)
    }

    fn note_reached(&mut self, who: NodeId, view: View) {
        if self.set().get(&who).is_none() || !self.fast_in_window(view) {
            return;
        }
        let r = self.fast.reached.entry(who).or_insert(view);
        *r = (*r).max(view);
    }

    pub(super) fn fast_on_view_change(&mut self, from: NodeId, vc: ViewChange) {
        let p = &vc.promise;
        if p.voter != from
            || p.data.height != self.height()
            || &p.data.chain_id != self.ledger.chain_id()
            || !self.fast_in_window(p.data.view)
            || p.verify(self.set()).is_err()
        {
            return;
        }
        self.note_reached(from, p.data.view);
        if let Some(target) = self.fast_skip_target() {
            self.fast_adopt_view(target, true);
        }
        if self.leader(p.data.view) != self.me {
            return;
        }
        if p.data.view == self.safety.fast_view {
            self.fast_collect_promise(from, vc);
        } else if p.data.view > self.safety.fast_view
            && self.fast.early.get(&from).is_none_or(|e| e.promise.data.view < p.data.view)
        {
            self.fast.early.insert(from, vc);
        }
    }

    /// Whether a synced block's justification holds for its certified view (the block
    /// is at the height in progress).
    pub(super) fn justification_holds(&self, cb: &CommittedBlock) -> bool {
        let (Some(j), VoteKind::Ack) = (&cb.justification, cb.cert.data.kind) else {
            return false;
        };
        j.check(&self.proposal_slot(cb.cert.data.view), &cb.block.header.hash()).is_ok()
    }

    /// Whether a promise's claim comes with a backing that holds, and the block it names.
    fn backing_holds(&self, vc: &ViewChange) -> bool {
        let Some((claim_view, claim_hash)) = vc.promise.data.acked else {
            return true;
        };
        let Some((backing, block)) = &vc.acked else {
            return false;
        };
        let slot = self.proposal_slot(claim_view);
        let expected = leader_ack_data(slot.chain_id, slot.height, claim_view, claim_hash);
        block.header.hash() == claim_hash
            && backing.leader_ack.data == expected
            && backing.leader_ack.voter == self.leader(claim_view)
            && backing.leader_ack.verify(self.set()).is_ok()
            && backing.justification.check(&slot, &claim_hash).is_ok()
    }

    /// A verified promise for the view this node leads: with a quorum whose claims
    /// select a block (or none), this node becomes active in the view.
    fn fast_collect_promise(&mut self, from: NodeId, vc: ViewChange) {
        let view = vc.promise.data.view;
        if view != self.safety.fast_view || self.is_active(view) || !self.backing_holds(&vc) {
            return;
        }
        self.fast.promises.insert(from, vc);
        self.fast_try_activate(view);
    }

    /// The wait for promises that may still resolve an equivocation is over: pick.
    pub(super) fn fast_pick_timeout(&mut self, view: View) {
        if view != self.safety.fast_view || self.is_active(view) || self.fast.pick != Some((view, false)) {
            return;
        }
        self.fast.pick = Some((view, true));
        self.fast_try_activate(view);
    }

    /// Becomes active in `view` if the promises held select what to propose.
    fn fast_try_activate(&mut self, view: View) {
        let top = self.fast.promises.values().filter_map(|v| v.promise.data.acked.map(|(v, _)| v)).max();
        let mut backings: Vec<Backing> = Vec::new();
        for vc in self.fast.promises.values() {
            if let (Some((v, _)), Some((b, _))) = (vc.promise.data.acked, &vc.acked) {
                if Some(v) == top && !backings.iter().any(|x| x.leader_ack == b.leader_ack) {
                    backings.push(b.clone());
                }
            }
        }
        let justification = Justification::Promises {
            promises: self.fast.promises.values().map(|vc| vc.promise.clone()).collect(),
            backings,
        };
        // Without a quorum yet, or with the leader of the top view proven to have
        // equivocated and the promises not telling which block may be committed: wait.
        let Ok(selection) = justification.selection(&self.proposal_slot(view), 0) else {
            return;
        };
        let wanted: Vec<BlockHash> = match selection {
            Selection::Free => Vec::new(),
            Selection::Block(hash) => vec![hash],
            Selection::OneOf(possible) => {
                // Beyond the bound: give the promises that would tell a while to come
                // (every honest one resolves it below the bound), then pick.
                match self.fast.pick {
                    Some((v, true)) if v == view => possible,
                    Some((v, false)) if v == view => return,
                    _ => {
                        self.fast.pick = Some((view, false));
                        let wait = self.view_timeout_ms(view) / PICK_WAIT_DIVISOR;
                        self.timer(TimerKind::FastPick, view, wait);
                        return;
                    }
                }
            }
        };
        let reproposal = if wanted.is_empty() {
            None
        } else {
            // The first wanted block whose body this node has (in preference order).
            let bodies: Vec<&Block> = self
                .fast
                .promises
                .values()
                .filter_map(|vc| vc.acked.as_ref().map(|(_, b)| b))
                .chain(self.safety.fast_acked.as_ref().map(|a| &a.block))
                .collect();
            let body = wanted.iter().find_map(|h| bodies.iter().find(|b| b.header.hash() == *h)).map(|b| (*b).clone());
            match body {
                Some(b) => Some(b),
                None => return,
            }
        };
        if let Some(b) = &reproposal {
            self.add_candidate(b.clone());
        }
        self.fast.active = Some(Active { view, justification, reproposal });
        self.fast.promises.clear();
        self.timer(TimerKind::Propose, view, 0);
    }

    pub(super) fn fast_propose(&mut self, view: View) {
        if view != self.safety.fast_view
            || !self.is_active(view)
            || self.leader(view) != self.me
            || self.fast.proposed == Some(view)
        {
            return;
        }
        let Some(active) = self.fast.active.clone() else {
            return;
        };
        // After a restart in the view it already proposed in: the same block again.
        let mine = self.safety.fast_acked.as_ref().filter(|a| a.view == view).map(|a| a.block.clone());
        let block = match mine.or(active.reproposal) {
            Some(block) => block,
            None if self.hold_empty_proposal(view) => return,
            None => match self.build_block(view) {
                Some(b) => b,
                None => return,
            },
        };
        if self.fork_halted() && !fork::carries_evidence(&block) {
            // Stopped by a proven fork: propose once the evidence is in the mempool.
            let delay = self.cfg.timeouts.propose_delay_ms.max(1);
            self.timer(TimerKind::Propose, view, delay);
            return;
        }
        let hash = self.add_candidate(block.clone());
        if !self.candidate_is_valid(&hash) {
            return;
        }
        let Some(ack) = self.sign_vote(VoteKind::Ack, view, hash) else {
            return;
        };
        self.fast.proposed = Some(view);
        self.fast.remember_justification(view, hash, active.justification.clone());
        let backing = Backing { leader_ack: ack.clone(), justification: active.justification };
        self.safety.fast_acked = Some(Acked { view, block: block.clone(), backing: backing.clone() });
        self.persist();
        let proposal = Proposal {
            view,
            block,
            valid_round: None,
            leader_ack: Some(ack.clone()),
            pol: Vec::new(),
            justification: Some(backing.justification),
        };
        self.out.push(super::Output::Broadcast(Message::Proposal(Box::new(proposal))));
        self.fast_on_ack(ack);
    }

    pub(super) fn fast_on_proposal(&mut self, from: NodeId, p: Proposal) {
        let Some(leader_ack) = p.leader_ack.clone() else {
            return;
        };
        let hash = p.block.header.hash();
        if leader_ack.voter != from
            || from != self.leader(p.view)
            || leader_ack.data.kind != VoteKind::Ack
            || leader_ack.data.view != p.view
            || leader_ack.data.block_hash != hash
            || !self.check_vote(&leader_ack)
        {
            return;
        }
        if self.fast.acked_by.get(&(from, p.view)).is_some_and(|h| *h != hash) {
            // A second proposal of one leader in one view: the detector has its two
            // signed acks; checking this block too would only cost time and memory.
            return;
        }
        self.fast.acked_by.entry((from, p.view)).or_insert(hash);
        if p.view < self.safety.fast_view {
            // Too late to ack; but if the leader lied in that view, still show others
            // its signed ack of a block this node refuses, so that the lie is caught.
            self.add_candidate(p.block);
            if !self.candidate_is_valid(&hash) {
                self.out.push(super::Output::Broadcast(Message::Vote { vote: leader_ack, leader_ack: None }));
            }
            return;
        }
        // Only a justified proposal moves this node (to its view) or gets its ack.
        let Some(justification) = p.justification else {
            return;
        };
        if justification.check(&self.proposal_slot(p.view), &hash).is_err() {
            return;
        }
        self.fast.remember_justification(p.view, hash, justification.clone());
        self.fast_adopt_view(p.view, false);
        self.add_candidate(p.block.clone());
        self.fast_on_ack(leader_ack.clone());
        if !self.candidate_is_valid(&hash) {
            // Forward the leader's signed ack of a block we refuse: if it sent others a
            // different one, someone now holds two conflicting acks.
            self.out.push(super::Output::Broadcast(Message::Vote { vote: leader_ack, leader_ack: None }));
            return;
        }
        if self.fork_halted() && !fork::carries_evidence(&p.block) {
            // A fork is proven at this chain: nothing more commits in Fast mode until
            // the evidence does (the leader's next block must carry it).
            return;
        }
        let Some(ack) = self.sign_vote(VoteKind::Ack, p.view, hash) else {
            return;
        };
        let backing = Backing { leader_ack: leader_ack.clone(), justification };
        self.safety.fast_acked = Some(Acked { view: p.view, block: p.block, backing });
        self.persist();
        self.out.push(super::Output::Broadcast(Message::Vote { vote: ack.clone(), leader_ack: Some(leader_ack) }));
        self.fast_on_ack(ack);
    }

    /// Counts a verified ack; commits on a majority.
    pub(super) fn fast_on_ack(&mut self, vote: Vote) {
        if vote.data.kind != VoteKind::Ack || !self.fast_in_window(vote.data.view) {
            return;
        }
        let data: VoteData = vote.data.clone();
        // One ack per validator and view (a second one is equivocation, which the
        // detector has already turned into evidence).
        match self.fast.acked_by.get(&(vote.voter, data.view)) {
            Some(h) if *h != data.block_hash => return,
            Some(_) => {}
            None => {
                self.fast.acked_by.insert((vote.voter, data.view), data.block_hash);
            }
        }
        self.note_reached(vote.voter, data.view);
        let acks = self.fast.acks.entry((data.view, data.block_hash)).or_default();
        acks.entry(vote.voter).or_insert(vote);
        let votes: Vec<Vote> = acks.values().cloned().collect();
        let set = self.set();
        let power = set.power_of(votes.iter().filter_map(|v| set.index_of(&v.voter)));
        if power < set.quorum_power(ConsensusMode::Fast) {
            return;
        }
        if !self.candidate_is_valid(&data.block_hash) {
            // Certified but we lack (or could not check) the block: fetch it committed.
            if let Some(peer) = votes.iter().map(|v| v.voter).find(|v| *v != self.me) {
                self.request_sync(peer);
            }
            return;
        }
        if let Ok(cert) = QuorumCert::from_verified_votes(data.clone(), &votes, self.set()) {
            self.commit(data.block_hash, cert);
        }
    }
}
