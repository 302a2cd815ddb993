//! The Byzantine validator: the honest state machine runs underneath, and its
//! broadcasts are rewritten here, signed with its real key.

use rand::Rng;
use vigil_protocol::{Hash32, VoteData, VoteKind};

use super::{Byzantine, World};
use crate::consensus::{Message, Proposal, NIL};

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

    pub(super) fn byzantine_broadcast(&mut self, me: usize, message: Message) {
        let Some((_, kind)) = self.sc.byzantine else {
            return;
        };
        let forged = match (&message, kind) {
            (Message::Proposal(p), Byzantine::LyingLeader) if p.leader_ack.is_some() => {
                self.faults.lies += 1;
                if self.healed() {
                    self.lie_after_heal = true;
                }
                Some(self.forge_proposal(me, p, |h| h.state_root = Hash32([0xba; 32])))
            }
            (Message::Proposal(p), Byzantine::Equivocator) => {
                self.faults.equivocations += 1;
                Some(self.forge_proposal(me, p, |h| h.time_ms += 1))
            }
            (Message::Vote { vote, .. }, Byzantine::Equivocator)
                if vote.voter == self.nodes[me].id && vote.data.kind != VoteKind::Ack =>
            {
                self.faults.equivocations += 1;
                let other = if vote.data.block_hash == NIL { Hash32([0xee; 32]) } else { NIL };
                let data = VoteData { block_hash: other, ..vote.data.clone() };
                let forged_vote = data.sign(vote.voter, &self.nodes[me].key);
                Some(Message::Vote { vote: forged_vote, leader_ack: None })
            }
            _ => None,
        };
        let (honest, lied_to) = match forged {
            Some(_) => self.split_peers(me),
            None => ((0..self.nodes.len()).filter(|p| *p != me).collect(), Vec::new()),
        };
        for to in honest {
            self.send(me, to, message.clone());
        }
        if let Some(forged) = forged {
            for to in lied_to {
                self.send(me, to, forged.clone());
            }
        }
    }

    /// The same proposal with a changed header, and (in Fast mode) a fresh signed ack.
    fn forge_proposal(
        &mut self,
        me: usize,
        p: &Proposal,
        change: impl FnOnce(&mut vigil_protocol::BlockHeader),
    ) -> Message {
        let mut forged = p.clone();
        change(&mut forged.block.header);
        if let Some(ack) = &p.leader_ack {
            let data = VoteData { block_hash: forged.block.header.hash(), ..ack.data.clone() };
            forged.leader_ack = Some(data.sign(ack.voter, &self.nodes[me].key));
        }
        Message::Proposal(Box::new(forged))
    }
}
