//! The Byzantine validator: the honest state machine runs underneath, and its
//! broadcasts are rewritten (or joined by forged messages) here, signed with its real
//! key. It can do anything a key holder can: lie about results, equivocate, lie in
//! promises (after withholding its acks from all but one peer), claim far and maximal
//! views and rounds, replay what it heard, and re-include committed or failed
//! transactions in its proposals.

use rand::Rng;
use vigil_protocol::fast::leader_ack_data;
use vigil_protocol::{Backing, Block, BlockHash, Hash32, Justification, PromiseData, View, Vote, VoteData, VoteKind};

use super::{Byzantine, World};
use vigil_core::consensus::{Message, Proposal, ViewChange, NIL};

/// Messages the replayer remembers (the newest).
pub(super) const REPLAY_BUFFER_MAX: usize = 64;
/// Fast leader equivocations the coalition remembers (the newest).
pub(super) const COALITION_MAX: usize = 64;

/// A Fast leader's two proposals for one view, and who got the second: what a
/// colluding equivocator needs to ack each block to the side that got it.
#[derive(Debug, Clone)]
pub(crate) struct Equivocation {
    /// The block (and the leader's signed ack of it) the truth side got.
    original: (BlockHash, Vote),
    /// The other block, sent to `lied_to`.
    forged: (BlockHash, Vote),
    lied_to: Vec<usize>,
}

impl World {
    /// Splits the peers in two non-empty halves (when there are at least two).
    fn split_peers(&mut self, me: usize) -> (Vec<usize>, Vec<usize>) {
        let mut peers: Vec<usize> = (0..self.nodes.len()).filter(|p| *p != me).collect();
        // Deterministic shuffle.
        for k in (1..peers.len()).rev() {
            let j = self.rng.gen_range(0..=k);
            peers.swap(k, j);
        }
        let cut = self.rng.gen_range(1..peers.len().max(2));
        let lied_to = peers.split_off(cut.min(peers.len()));
        (peers, lied_to)
    }

    fn byzantine_kind(&self, me: usize) -> Option<Byzantine> {
        self.sc.byzantine.iter().find(|(b, _)| *b == me).map(|(_, kind)| *kind)
    }

    /// What a Byzantine node hears, for the replayer.
    pub(super) fn byzantine_heard(&mut self, me: usize, message: &Message) {
        if self.byzantine_kind(me) != Some(Byzantine::Replayer) || matches!(message, Message::Transactions(_)) {
            return;
        }
        if self.replay.len() >= REPLAY_BUFFER_MAX {
            self.replay.remove(0);
        }
        self.replay.push(message.clone());
    }

    pub(super) fn byzantine_broadcast(&mut self, me: usize, message: Message) {
        let Some(kind) = self.byzantine_kind(me) else {
            return;
        };
        if kind == Byzantine::Equivocator && self.colluding_ack(me, &message) {
            return;
        }
        let forged = match (&message, kind) {
            (Message::Proposal(p), Byzantine::LyingLeader) if p.leader_ack.is_some() => {
                self.faults.lies += 1;
                if self.healed() {
                    self.lied_after_heal.insert(me);
                }
                Some(self.forge_proposal(me, p, |b| b.header.state_root = Hash32([0xba; 32])))
            }
            (Message::Proposal(p), Byzantine::Equivocator) => {
                self.faults.equivocations += 1;
                Some(self.forge_proposal(me, p, |b| b.header.time_ms += 1))
            }
            (Message::Vote { vote, .. }, Byzantine::Equivocator) if vote.voter == self.nodes[me].id => {
                self.faults.equivocations += 1;
                let other = if vote.data.block_hash == NIL { Hash32([0xee; 32]) } else { NIL };
                let data = VoteData { block_hash: other, ..vote.data.clone() };
                let forged_vote = data.sign(vote.voter, &self.nodes[me].key);
                Some(Message::Vote { vote: forged_vote, leader_ack: None })
            }
            (Message::Vote { vote, .. }, Byzantine::LyingPromises)
                if vote.voter == self.nodes[me].id && vote.data.kind == VoteKind::Ack =>
            {
                self.withhold_ack(me, message);
                return;
            }
            (Message::ViewChange(vc), Byzantine::LyingPromises) => {
                self.faults.promise_lies += 1;
                Some(self.lying_promise(me, vc))
            }
            (Message::Proposal(p), Byzantine::TxReplayer) => self.reinclude(me, p),
            _ => None,
        };
        // The liar tells its lie to part of the network and the truth to the rest;
        // the others broadcast what they forged to everyone.
        let (honest, lied_to) = match (&forged, kind) {
            (Some(_), Byzantine::LyingLeader | Byzantine::Equivocator) => self.split_peers(me),
            (Some(_), _) => (Vec::new(), (0..self.nodes.len()).filter(|p| *p != me).collect()),
            (None, _) => ((0..self.nodes.len()).filter(|p| *p != me).collect(), Vec::new()),
        };
        if let (Message::Proposal(p), Some(Message::Proposal(f)), Byzantine::Equivocator) = (&message, &forged, kind) {
            self.remember_equivocation(p, f, &lied_to);
        }
        for to in honest {
            self.send(me, to, message.clone());
        }
        if let Some(forged) = forged {
            for to in lied_to {
                self.send(me, to, forged.clone());
            }
        }
        match kind {
            Byzantine::ViewFlood => self.flood_views(me),
            Byzantine::Replayer => self.replay_old(me),
            _ => {}
        }
    }

    /// A Fast leader of the coalition sent two proposals: its fellow equivocators will
    /// ack each to the side that got it.
    fn remember_equivocation(&mut self, original: &Proposal, forged: &Proposal, lied_to: &[usize]) {
        let (Some(a), Some(b)) = (&original.leader_ack, &forged.leader_ack) else {
            return;
        };
        if self.coalition.len() >= COALITION_MAX {
            self.coalition.pop_first();
        }
        let key = (original.block.header.height, original.view);
        let entry = Equivocation {
            original: (original.block.header.hash(), a.clone()),
            forged: (forged.block.header.hash(), b.clone()),
            lied_to: lied_to.to_vec(),
        };
        self.coalition.insert(key, entry);
    }

    /// A colluding equivocator's Fast ack of one of a coalition leader's two blocks:
    /// sent to the side that got that block, and an ack of the other block (with the
    /// leader's ack of it) to the other side, so that both sides can gather a quorum.
    /// Returns whether it handled the message.
    fn colluding_ack(&mut self, me: usize, message: &Message) -> bool {
        let Message::Vote { vote, .. } = message else {
            return false;
        };
        if vote.data.kind != VoteKind::Ack || vote.voter != self.nodes[me].id {
            return false;
        }
        let Some(e) = self.coalition.get(&(vote.data.height, vote.data.view)).cloned() else {
            return false;
        };
        let truth_side: Vec<usize> = (0..self.nodes.len()).filter(|p| *p != me && !e.lied_to.contains(p)).collect();
        let ((same, same_side), (other, other_side)) = if vote.data.block_hash == e.original.0 {
            ((e.original, truth_side), (e.forged, e.lied_to.clone()))
        } else if vote.data.block_hash == e.forged.0 {
            ((e.forged, e.lied_to.clone()), (e.original, truth_side))
        } else {
            return false;
        };
        self.faults.equivocations += 1;
        let second = VoteData { block_hash: other.0, ..vote.data.clone() }.sign(vote.voter, &self.nodes[me].key);
        let honest = Message::Vote { vote: vote.clone(), leader_ack: Some(same.1) };
        let forged = Message::Vote { vote: second, leader_ack: Some(other.1) };
        for to in same_side.into_iter().filter(|p| *p != me) {
            self.send(me, to, honest.clone());
        }
        for to in other_side.into_iter().filter(|p| *p != me) {
            self.send(me, to, forged.clone());
        }
        true
    }

    /// The same proposal with a changed block, and (in Fast mode) a fresh signed ack.
    fn forge_proposal(&mut self, me: usize, p: &Proposal, change: impl FnOnce(&mut Block)) -> Message {
        let mut forged = p.clone();
        change(&mut forged.block);
        if let Some(ack) = &p.leader_ack {
            let data = VoteData { block_hash: forged.block.header.hash(), ..ack.data.clone() };
            forged.leader_ack = Some(data.sign(ack.voter, &self.nodes[me].key));
        }
        Message::Proposal(Box::new(forged))
    }

    /// Its own proposal with a transaction that was already committed (or failed)
    /// appended, the header's transaction root fixed so that only execution can tell.
    fn reinclude(&mut self, me: usize, p: &Proposal) -> Option<Message> {
        if self.history.is_empty() {
            return None;
        }
        let old = self.history[self.rng.gen_range(0..self.history.len())].clone();
        self.faults.reinclusions += 1;
        Some(self.forge_proposal(me, p, |b| {
            b.txs.push(old);
            let ids: Vec<_> = b.txs.iter().map(|t| t.hash()).collect();
            b.header.tx_root = Block::tx_root_of(&ids);
        }))
    }

    /// Its Fast ack to one peer only: a block may then be committed by that peer alone,
    /// and the view change that follows is where a lying promise could fork the chain
    /// (as it did on 35b51aa: finding 2 of issue 14).
    fn withhold_ack(&mut self, me: usize, ack: Message) {
        self.faults.withheld_acks += 1;
        let peers: Vec<usize> = (0..self.nodes.len()).filter(|p| *p != me).collect();
        let to = peers[self.rng.gen_range(0..peers.len())];
        self.send(me, to, ack);
    }

    /// A promise one view ahead of the one it moves to, claiming an ack it never signed
    /// in the view it moves to, of a block it makes up, "backed" by its own signature:
    /// a claim above every honest one, so that a leader trusting it re-proposes the
    /// made-up block.
    fn lying_promise(&mut self, me: usize, vc: &ViewChange) -> Message {
        let key = self.nodes[me].key.clone();
        let id = self.nodes[me].id;
        let d = &vc.promise.data;
        let claim_view = d.view;
        let d = &PromiseData { view: View(d.view.0.saturating_add(1)), ..d.clone() };
        let mut block = vc.acked.as_ref().map(|(_, b)| b.clone()).unwrap_or_else(|| self.fake_block(d.height));
        block.header.time_ms = block.header.time_ms.wrapping_add(self.rng.gen_range(1..1_000));
        let hash = block.header.hash();
        let data = PromiseData { acked: Some((claim_view, hash)), ..d.clone() };
        let leader_ack = leader_ack_data(&d.chain_id, d.height, claim_view, hash).sign(id, &key);
        let justification = vc.acked.as_ref().map_or(Justification::Genesis, |(b, _)| b.justification.clone());
        Message::ViewChange(Box::new(ViewChange {
            promise: data.sign(id, &key),
            acked: Some((Backing { leader_ack, justification }, block)),
        }))
    }

    fn fake_block(&mut self, height: vigil_protocol::Height) -> Block {
        let node = self.nodes.iter().find_map(|n| n.node.as_ref()).map(|n| n.ledger().clone());
        let ledger = node.unwrap_or_else(|| unreachable!("some node runs"));
        let exec = ledger.execute(&[]).unwrap_or_else(|e| unreachable!("an empty block executes: {e}"));
        let mut header = ledger.build_header(&exec, View(0), self.nodes[0].id, self.now_ms);
        header.height = height;
        Block { header, txs: Vec::new() }
    }

    /// Signed acks, votes and promises at the largest views and at random far ones.
    fn flood_views(&mut self, me: usize) {
        let Some(height) = self.nodes[me].node.as_ref().map(|n| n.ledger().height().next()) else {
            return;
        };
        self.faults.view_floods += 1;
        let key = self.nodes[me].key.clone();
        let id = self.nodes[me].id;
        let chain_id = self.genesis.chain_id.clone();
        let far = self.rng.gen_range(1_000..1u64 << 40);
        let near = self.rng.gen_range(2..vigil_core::consensus::fast::VIEW_WINDOW_MAX);
        let mut messages = Vec::new();
        for view in [View(u64::MAX), View(far), View(near)] {
            for kind in [VoteKind::Ack, VoteKind::Prevote, VoteKind::Precommit] {
                let block_hash = Hash32([self.rng.gen(); 32]);
                let vote = VoteData { chain_id: chain_id.clone(), height, view, block_hash, kind }.sign(id, &key);
                messages.push(Message::Vote { vote, leader_ack: None });
            }
            let promise = PromiseData { chain_id: chain_id.clone(), height, view, acked: None }.sign(id, &key);
            messages.push(Message::ViewChange(Box::new(ViewChange { promise, acked: None })));
        }
        for m in messages {
            for to in (0..self.nodes.len()).filter(|p| *p != me) {
                self.send(me, to, m.clone());
            }
        }
    }

    /// Sends a message it heard earlier to everyone, as if it were new.
    fn replay_old(&mut self, me: usize) {
        if self.replay.is_empty() || !self.rng.gen_bool(0.5) {
            return;
        }
        self.faults.replays += 1;
        let m = self.replay[self.rng.gen_range(0..self.replay.len())].clone();
        for to in (0..self.nodes.len()).filter(|p| *p != me) {
            self.send(me, to, m.clone());
        }
    }
}
