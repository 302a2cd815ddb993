//! Fast mode: stable leader, majority acknowledgements, view change by promises.
//!
//! - The leader of view `v` is `validators[v mod n]`. It may propose once it is
//!   *active* in `v`: at view 0 from genesis, otherwise after a majority promised `v`
//!   ([`ViewChange`]); it then stays active for every later height (Multi-Paxos).
//! - A follower re-executes each proposal and, if the roots match and it acked nothing
//!   else at this height and view, broadcasts a signed `Ack` carrying the leader's ack.
//!   Whoever sees a majority of acks for a block holds its certificate and commits.
//! - No commit in time: the follower promises view `v+1` to its leader, reporting the
//!   highest-view block it acked at this height; that leader re-proposes the highest
//!   such block among a majority of promises, so a block that may have been committed
//!   is never replaced (crash faults).
//! - Results are checked by every follower, so a leader that lies about results gets
//!   no honest acks; if it sends different proposals to different followers, its two
//!   signed acks meet in some node's detector and become evidence.

use std::collections::BTreeMap;

use vigil_protocol::{BlockHash, ConsensusMode, NodeId, QuorumCert, View, Vote, VoteData, VoteKind};

use super::{Message, Node, Proposal, TimerKind, ViewChange};

/// Per-node Fast-mode state; what must survive a crash is in `SafetyState`.
#[derive(Debug, Default, Clone)]
pub struct FastState {
    /// The view in which this node may propose without collecting promises.
    pub(super) active_view: Option<View>,
    promises: BTreeMap<NodeId, ViewChange>,
    proposed: Option<View>,
    acks: BTreeMap<(View, BlockHash), BTreeMap<NodeId, Vote>>,
    /// Views whose timeout has already been scheduled at this height.
    view_at_height_start: View,
}

impl FastState {
    pub(super) fn reset_height(&mut self) {
        self.proposed = None;
        self.acks.clear();
    }
}

impl Node {
    fn leader(&self, view: View) -> NodeId {
        let set = self.set();
        set.validators()[(view.0 % set.len() as u64) as usize].id
    }

    fn view_timeout_ms(&self, view: View) -> u64 {
        let failures = view.0.saturating_sub(self.fast.view_at_height_start.0).min(3);
        self.cfg.timeouts.fast_view_ms * (1 + failures)
    }

    pub(super) fn fast_enter_height(&mut self) {
        let view = self.safety.fast_view;
        self.fast.view_at_height_start = view;
        self.fast_arm(view);
    }

    /// Schedules what the current view needs: the leader's proposal, everyone's timeout.
    fn fast_arm(&mut self, view: View) {
        if self.leader(view) == self.me && self.fast.active_view == Some(view) {
            let delay = self.cfg.timeouts.propose_delay_ms;
            self.timer(TimerKind::Propose, view, delay);
        }
        let timeout = self.view_timeout_ms(view);
        self.timer(TimerKind::FastView, view, timeout);
    }

    /// Moves to a higher view (never back), promising its leader what we acked.
    fn fast_adopt_view(&mut self, view: View, send_promise: bool) {
        if view <= self.safety.fast_view {
            return;
        }
        self.safety.fast_view = view;
        self.fast.promises.clear();
        self.persist();
        let promise = ViewChange { height: self.height(), view, acked: self.safety.fast_acked.clone() };
        if send_promise && self.is_validator() {
            // Broadcast, not just to the new leader: every node that hears of a higher
            // view jumps to it, so views converge in one message delay after a heal.
            self.out.push(super::Output::Broadcast(Message::ViewChange(Box::new(promise.clone()))));
        }
        if self.leader(view) == self.me {
            self.fast_on_view_change(self.me, promise);
        }
        self.fast_arm(view);
    }

    pub(super) fn fast_view_timeout(&mut self, view: View) {
        if view == self.safety.fast_view {
            self.fast_adopt_view(view.next(), true);
        }
    }

    pub(super) fn fast_on_view_change(&mut self, from: NodeId, vc: ViewChange) {
        if vc.view > self.safety.fast_view {
            self.fast_adopt_view(vc.view, true);
        }
        if vc.view != self.safety.fast_view || self.leader(vc.view) != self.me || self.fast.active_view == Some(vc.view)
        {
            return;
        }
        if self.set().get(&from).is_none() {
            return;
        }
        let view = vc.view;
        self.fast.promises.insert(from, vc);
        let power = self.set().power_of(self.fast.promises.keys().filter_map(|id| self.set().index_of(id)));
        if power >= self.set().quorum_power(ConsensusMode::Fast) {
            // Adopt the highest-view block acked at this height by anyone who promised.
            let height = self.height();
            let best = self
                .fast
                .promises
                .values()
                .filter(|p| p.height == height)
                .filter_map(|p| p.acked.clone())
                .chain(self.safety.fast_acked.clone())
                .max_by_key(|(v, _)| *v);
            if let Some((acked_view, block)) = best {
                self.add_candidate(block.clone());
                self.safety.fast_acked = Some((acked_view, block));
            }
            self.fast.active_view = Some(view);
            self.fast.promises.clear();
            self.timer(TimerKind::Propose, view, 0);
        }
    }

    pub(super) fn fast_propose(&mut self, view: View) {
        if view != self.safety.fast_view
            || self.fast.active_view != Some(view)
            || self.leader(view) != self.me
            || self.fast.proposed == Some(view)
        {
            return;
        }
        // Re-propose what may already be committed; otherwise a new block.
        let block = match self.safety.fast_acked.clone() {
            Some((_, block)) => block,
            None if self.hold_empty_proposal(view) => return,
            None => match self.build_block(view) {
                Some(b) => b,
                None => return,
            },
        };
        let hash = self.add_candidate(block.clone());
        if !self.candidate_is_valid(&hash) {
            return;
        }
        let Some(ack) = self.sign_vote(VoteKind::Ack, view, hash) else {
            return;
        };
        self.fast.proposed = Some(view);
        self.safety.fast_acked = Some((view, block.clone()));
        self.persist();
        let proposal = Proposal { view, block, valid_round: None, leader_ack: Some(ack.clone()), pol: Vec::new() };
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
        if p.view < self.safety.fast_view {
            // Too late to ack; but if the leader lied in that view, still show others
            // its signed ack of a block this node refuses, so that the lie is caught.
            self.add_candidate(p.block);
            if !self.candidate_is_valid(&hash) {
                self.out.push(super::Output::Broadcast(Message::Vote { vote: leader_ack, leader_ack: None }));
            }
            return;
        }
        // A proposal from the leader of a higher view means that leader holds a
        // majority of promises for it: follow (crash-fault model).
        self.fast_adopt_view(p.view, false);
        self.add_candidate(p.block.clone());
        self.fast_on_ack(leader_ack.clone());
        if !self.candidate_is_valid(&hash) {
            // Forward the leader's signed ack of a block we refuse: if it sent others a
            // different one, someone now holds two conflicting acks.
            self.out.push(super::Output::Broadcast(Message::Vote { vote: leader_ack, leader_ack: None }));
            return;
        }
        let Some(ack) = self.sign_vote(VoteKind::Ack, p.view, hash) else {
            return;
        };
        self.safety.fast_acked = Some((p.view, p.block));
        self.persist();
        self.out.push(super::Output::Broadcast(Message::Vote { vote: ack.clone(), leader_ack: Some(leader_ack) }));
        self.fast_on_ack(ack);
    }

    /// Counts a verified ack; commits on a majority.
    pub(super) fn fast_on_ack(&mut self, vote: Vote) {
        if vote.data.kind != VoteKind::Ack {
            return;
        }
        let data: VoteData = vote.data.clone();
        if data.view > self.safety.fast_view {
            self.fast_adopt_view(data.view, true);
        }
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
