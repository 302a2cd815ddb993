//! Bft mode: Tendermint ("The latest gossip on BFT consensus", Buchman, Kwon,
//! Milosevic 2018). Comments cite the paper's Algorithm 1 line numbers.
//!
//! Every "upon" rule is re-evaluated after each event (`Node::bft_progress`), so the
//! order in which messages arrive does not matter. Two additions for a network that
//! loses messages: a round timer that always fires (moving to a new round is always
//! safe in Tendermint; locks carry safety), and re-broadcast of this node's votes of the
//! current round when a timeout fires.

use std::collections::{BTreeMap, BTreeSet};

use vigil_protocol::{BlockHash, ConsensusMode, NodeId, QuorumCert, Round, View, Vote, VoteKind};

use super::{Message, Node, Output, Proposal, Timer, TimerKind, NIL};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Step {
    #[default]
    Propose,
    Prevote,
    Precommit,
}

/// Per-height Tendermint state; locked/valid values are mirrored in `SafetyState`.
#[derive(Debug, Default, Clone)]
pub struct BftState {
    pub(super) round: Round,
    step: Step,
    proposals: BTreeMap<Round, (BlockHash, Option<Round>)>,
    prevotes: BTreeMap<Round, Votes>,
    precommits: BTreeMap<Round, Votes>,
    /// Highest round each validator has sent anything for (rule L55).
    max_round_of: BTreeMap<NodeId, Round>,
    prevote_timer: BTreeSet<Round>,
    precommit_timer: BTreeSet<Round>,
    line36_done: BTreeSet<Round>,
}

impl BftState {
    /// Votes and proposals held (see [`Node::retained`]).
    pub(super) fn retained(&self) -> usize {
        self.proposals.len()
            + self.max_round_of.len()
            + self.prevotes.values().map(BTreeMap::len).sum::<usize>()
            + self.precommits.values().map(BTreeMap::len).sum::<usize>()
    }
}

/// Most different votes kept per validator and round. An honest validator casts one; an
/// equivocator's votes count for each block they name (as in Tendermint's vote sets),
/// which is safe because quorums are sized for f of them, and bounded here.
pub const VOTES_PER_VALIDATOR_ROUND_MAX: usize = 3;

/// One round's prevotes or precommits, keyed by voter and block.
type Votes = BTreeMap<(NodeId, BlockHash), Vote>;

fn insert_vote(votes: &mut Votes, vote: Vote) {
    let key = (vote.voter, vote.data.block_hash);
    if votes.contains_key(&key) {
        return;
    }
    if votes.range((vote.voter, NIL)..).take_while(|((v, _), _)| *v == vote.voter).count()
        < VOTES_PER_VALIDATOR_ROUND_MAX
    {
        votes.insert(key, vote);
    }
}

/// A vote from a proposal's proof of lock, kept even past its voter's
/// [`VOTES_PER_VALIDATOR_ROUND_MAX`]: an equivocator that filled its slots with other
/// blocks must not keep an honest proposer's locked block from being seen as justified
/// (Tendermint's "peer claims a +2/3 majority" vote-set rule). Bounded all the same: a
/// round has one proposal and its proof names each voter at most once.
fn insert_lock_proof_vote(votes: &mut Votes, vote: Vote) {
    votes.entry((vote.voter, vote.data.block_hash)).or_insert(vote);
}

/// Which prevotes or precommits to weigh.
#[derive(Clone, Copy)]
enum For {
    Block(BlockHash),
    Any,
}

impl Node {
    /// Round `round`'s proposer at this height: validators in turn (`None` only for an
    /// empty set, which `ValidatorSet` cannot be).
    fn proposer(&self, round: Round) -> Option<NodeId> {
        vigil_protocol::fast::leader(self.set(), View(self.height().0.wrapping_add(round.0)))
    }

    /// Voting power of the distinct validators with a vote matching `which`.
    fn power(&self, votes: Option<&Votes>, which: For) -> u64 {
        let Some(votes) = votes else { return 0 };
        let set = self.set();
        let voters: BTreeSet<NodeId> = votes
            .keys()
            .filter(|(_, h)| match which {
                For::Block(b) => *h == b,
                For::Any => true,
            })
            .map(|(v, _)| *v)
            .collect();
        set.power_of(voters.iter().filter_map(|v| set.index_of(v)))
    }

    fn round_timeout_ms(&self, base: u64, round: Round) -> u64 {
        base + self.cfg.timeouts.bft_round_increment_ms * round.0.min(50)
    }

    pub(super) fn bft_enter_height(&mut self) {
        let round = self.safety.bft_round;
        self.bft_start_round(round);
    }

    /// L11 StartRound.
    fn bft_start_round(&mut self, round: Round) {
        self.bft.round = round;
        self.bft.step = Step::Propose;
        if self.safety.bft_round != round {
            self.safety.bft_round = round;
            self.persist();
        }
        let t = self.cfg.timeouts;
        if self.proposer(round) == Some(self.me) {
            self.timer(TimerKind::Propose, round.slot(), t.propose_delay_ms);
        }
        // L21: schedule OnTimeoutPropose (also for the proposer, in case it crashes).
        let propose = self.round_timeout_ms(t.bft_propose_ms, round);
        self.timer(TimerKind::BftPropose, round.slot(), propose);
        let whole_round = 2 * (propose + 2 * self.round_timeout_ms(t.bft_vote_ms, round));
        self.timer(TimerKind::BftRound, round.slot(), whole_round);
        self.bft_progress();
    }

    /// L14-L19: propose the valid value if there is one, else a new block.
    fn bft_propose(&mut self, round: Round) {
        if round != self.bft.round || self.bft.step != Step::Propose || self.proposer(round) != Some(self.me) {
            return;
        }
        let (block, valid_round, pol) = match self.safety.bft_valid.clone() {
            Some((vr, block)) => (block, Some(vr), self.safety.bft_valid_pol.clone()),
            None if self.hold_empty_proposal(round.slot()) => return,
            None => match self.build_block(round.slot()) {
                Some(b) => (b, None, Vec::new()),
                None => return,
            },
        };
        let proposal = Proposal { view: round.slot(), block, valid_round, leader_ack: None, pol, justification: None };
        self.out.push(Output::Broadcast(Message::Proposal(Box::new(proposal.clone()))));
        let me = self.me;
        self.bft_on_proposal(me, proposal);
    }

    /// Whether `round` is close enough above ours to be worth remembering anything about
    /// (rounds below are kept: their votes may still certify a block).
    pub(super) fn bft_in_window(&self, round: Round) -> bool {
        round.0 <= self.bft.round.0.saturating_add(super::fast::VIEW_WINDOW_MAX)
    }

    pub(super) fn bft_on_proposal(&mut self, from: NodeId, p: Proposal) {
        let round = Round::of_slot(p.view);
        if Some(from) != self.proposer(round) || self.bft.proposals.contains_key(&round) || !self.bft_in_window(round) {
            return;
        }
        if p.valid_round.is_some_and(|vr| vr >= round) {
            return;
        }
        let hash = self.add_candidate(p.block);
        // The proof of lock: prevotes of the valid round for this block.
        for vote in p.pol {
            let d = &vote.data;
            let vote_round = Round::of_slot(d.view);
            if Some(vote_round) == p.valid_round
                && d.kind == VoteKind::Prevote
                && d.block_hash == hash
                && self.check_vote(&vote)
            {
                insert_lock_proof_vote(self.bft.prevotes.entry(vote_round).or_default(), vote);
            }
        }
        self.bft.proposals.insert(round, (hash, p.valid_round));
        self.note_round(from, round);
        self.bft_progress();
    }

    pub(super) fn bft_on_vote(&mut self, vote: Vote) {
        let round = Round::of_slot(vote.data.view);
        let map = match vote.data.kind {
            VoteKind::Prevote => &mut self.bft.prevotes,
            VoteKind::Precommit => &mut self.bft.precommits,
            VoteKind::Ack => return,
        };
        // A second, different vote of one validator is equivocation, already turned into
        // evidence by the detector; it still counts for the block it names.
        insert_vote(map.entry(round).or_default(), vote.clone());
        self.note_round(vote.voter, round);
        self.bft_progress();
    }

    fn note_round(&mut self, who: NodeId, round: Round) {
        let r = self.bft.max_round_of.entry(who).or_insert(round);
        *r = (*r).max(round);
    }

    fn bft_vote(&mut self, kind: VoteKind, hash: BlockHash) {
        let round = self.bft.round;
        if let Some(vote) = self.sign_vote(kind, round.slot(), hash) {
            self.out.push(Output::Broadcast(Message::Vote { vote: vote.clone(), leader_ack: None }));
            self.bft_on_vote(vote);
        }
    }

    fn set_locked(&mut self, round: Round, hash: BlockHash) {
        if let Some((block, _)) = self.candidates.get(&hash) {
            self.safety.bft_locked = Some((round, block.clone()));
        }
    }

    fn set_valid(&mut self, round: Round, hash: BlockHash) {
        if let Some((block, _)) = self.candidates.get(&hash) {
            self.safety.bft_valid = Some((round, block.clone()));
            self.safety.bft_valid_pol = self
                .bft
                .prevotes
                .get(&round)
                .map(|votes| votes.values().filter(|v| v.data.block_hash == hash).cloned().collect())
                .unwrap_or_default();
            self.persist();
        }
    }

    pub(super) fn locked(&self) -> Option<(Round, BlockHash)> {
        self.safety.bft_locked.as_ref().map(|(r, b)| (*r, b.header.hash()))
    }

    /// Evaluates every rule until none fires.
    fn bft_progress(&mut self) {
        let height = self.height();
        let quorum = self.set().quorum_power(ConsensusMode::Bft);
        loop {
            if self.height() != height {
                return;
            }
            let round = self.bft.round;

            // L49: a proposal and 2f+1 precommits for it in any round: decide.
            let decision = self.bft.precommits.iter().find_map(|(r, votes)| {
                let hashes: BTreeSet<BlockHash> = votes.values().map(|v| v.data.block_hash).collect();
                hashes
                    .into_iter()
                    .filter(|h| *h != NIL)
                    .find(|h| self.power(Some(votes), For::Block(*h)) >= quorum)
                    .map(|h| (*r, h))
            });
            if let Some((r, hash)) = decision {
                if self.candidate_is_valid(&hash) {
                    let votes: Vec<Vote> = self
                        .bft
                        .precommits
                        .get(&r)
                        .into_iter()
                        .flat_map(|m| m.values())
                        .filter(|v| v.data.block_hash == hash)
                        .cloned()
                        .collect();
                    let cert = votes
                        .first()
                        .map(|v| v.data.clone())
                        .map(|data| QuorumCert::from_verified_votes(data, &votes, self.set()));
                    if let Some(Ok(cert)) = cert {
                        self.commit(hash, cert);
                        return;
                    }
                } else if let Some(peer) = self
                    .bft
                    .precommits
                    .get(&r)
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .map(|(v, _)| *v)
                    .find(|p| *p != self.me)
                {
                    self.request_sync(peer);
                }
            }

            // L55: f+1 validators are in a higher round: join them.
            if let Some(r) = self.skip_round_target() {
                self.bft_start_round(r);
                continue;
            }

            // L22 / L28: prevote on the proposal of this round.
            if self.bft.step == Step::Propose {
                if let Some(&(hash, vr)) = self.bft.proposals.get(&round) {
                    let valid = self.candidate_is_valid(&hash);
                    let choice = match vr {
                        None => Some(valid && self.locked().is_none_or(|(_, l)| l == hash)),
                        Some(vr) if self.power(self.bft.prevotes.get(&vr), For::Block(hash)) >= quorum => {
                            Some(valid && self.locked().is_none_or(|(lr, l)| lr <= vr || l == hash))
                        }
                        Some(_) => None,
                    };
                    if let Some(yes) = choice {
                        self.bft.step = Step::Prevote;
                        self.bft_vote(VoteKind::Prevote, if yes { hash } else { NIL });
                        continue;
                    }
                }
            }

            // L34: 2f+1 prevotes of any kind: start the prevote timer.
            if self.bft.step == Step::Prevote
                && !self.bft.prevote_timer.contains(&round)
                && self.power(self.bft.prevotes.get(&round), For::Any) >= quorum
            {
                self.bft.prevote_timer.insert(round);
                let t = self.round_timeout_ms(self.cfg.timeouts.bft_vote_ms, round);
                self.timer(TimerKind::BftPrevote, round.slot(), t);
            }

            // L36: the proposal has 2f+1 prevotes: lock (if still prevoting) and precommit.
            if let Some(&(hash, _)) = self.bft.proposals.get(&round) {
                if self.bft.step >= Step::Prevote
                    && !self.bft.line36_done.contains(&round)
                    && self.candidate_is_valid(&hash)
                    && self.power(self.bft.prevotes.get(&round), For::Block(hash)) >= quorum
                {
                    self.bft.line36_done.insert(round);
                    if self.bft.step == Step::Prevote {
                        self.set_locked(round, hash);
                        self.bft.step = Step::Precommit;
                        self.bft_vote(VoteKind::Precommit, hash);
                    }
                    self.set_valid(round, hash);
                    continue;
                }
            }

            // L44: 2f+1 prevotes for nil: precommit nil.
            if self.bft.step == Step::Prevote && self.power(self.bft.prevotes.get(&round), For::Block(NIL)) >= quorum {
                self.bft.step = Step::Precommit;
                self.bft_vote(VoteKind::Precommit, NIL);
                continue;
            }

            // L47: 2f+1 precommits of any kind: start the precommit timer.
            if !self.bft.precommit_timer.contains(&round)
                && self.power(self.bft.precommits.get(&round), For::Any) >= quorum
            {
                self.bft.precommit_timer.insert(round);
                let t = self.round_timeout_ms(self.cfg.timeouts.bft_vote_ms, round);
                self.timer(TimerKind::BftPrecommit, round.slot(), t);
            }
            return;
        }
    }

    /// The highest round above ours that validators holding f+1 power have reached.
    fn skip_round_target(&self) -> Option<Round> {
        super::skip_target(self.set(), self.bft.max_round_of.iter(), self.bft.round)
    }

    pub(super) fn bft_timeout(&mut self, timer: Timer) {
        let round = Round::of_slot(timer.view);
        match timer.kind {
            TimerKind::Propose => self.bft_propose(round),
            // L57: OnTimeoutPropose.
            TimerKind::BftPropose if round == self.bft.round && self.bft.step == Step::Propose => {
                self.bft.step = Step::Prevote;
                self.bft_vote(VoteKind::Prevote, NIL);
                self.bft_progress();
            }
            // L61: OnTimeoutPrevote.
            TimerKind::BftPrevote if round == self.bft.round && self.bft.step == Step::Prevote => {
                self.bft.step = Step::Precommit;
                self.bft_vote(VoteKind::Precommit, NIL);
                self.bft_progress();
            }
            // L65: OnTimeoutPrecommit.
            TimerKind::BftPrecommit if round == self.bft.round => self.bft_start_round(round.next()),
            // Always-on round timer: re-send this round's votes (they may have been lost),
            // then move on.
            TimerKind::BftRound if round == self.bft.round => {
                let mine: Vec<Vote> =
                    self.safety.signed.iter().filter(|v| Round::of_slot(v.data.view) == round).cloned().collect();
                for vote in mine {
                    self.out.push(Output::Broadcast(Message::Vote { vote, leader_ack: None }));
                }
                self.bft_start_round(round.next());
            }
            _ => {}
        }
    }
}
