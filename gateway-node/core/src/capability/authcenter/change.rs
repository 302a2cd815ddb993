//! A change of the center set that keeps the group key (SPEC C4; the messages are
//! described in `vigil_protocol::authcenter::change`): the votes that open it, the
//! timeout that ends an attempt, and the dispatch of the resharing messages
//! ([`super::reshare`]) and of the switch to the new set ([`super::switch`]).
//!
//! Every message is free and pooled first. A vote comes from a center of the set in
//! force; a member's message (ready, complaint, confirmation) from a center of the
//! proposed set, a deal from a dealer of the old one; each names the open change and its
//! current attempt, or may not be in a block at all.
//!
//! Continuing centers keep their places: a proposal puts each center of the set in force
//! that stays at its old position, so everything the chain keeps by position (verdicts,
//! approvers, nonce queues) still names the same center. A removed center's place is
//! taken by a new one, or is at the end.

use vigil_protocol::authcenter::change::{
    positions, AttemptFailure, CenterChange, CenterSetVotes, ChangeOutcome, CHANGE_ATTEMPT_HEIGHTS, PROPOSALS_MAX,
};
use vigil_protocol::authcenter::{AuthCenterSet, CenterChangeMessage, CenterSetVote, GroupKey, ReshareTimeout};
use vigil_protocol::{PublicKey, StateKey, TxStatus};

use super::reshare::{self, Attempt};
use super::{Capability, ReadState};
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

/// What a block's check of a change message found, for its execution.
pub enum Checked {
    /// The votes as they stand with this one, and the change it opens, if any.
    Vote(CenterSetVotes, Option<Box<CenterChange>>),
    Ready(u16),
    Deal(u16),
    /// The change after a complaint or a timeout.
    Change(Box<CenterChange>),
    Confirm(Box<reshare::Confirmed>),
}

fn in_force(state: &impl ReadState) -> Result<(AuthCenterSet, GroupKey), String> {
    let set: AuthCenterSet = state.get(&StateKey::AuthCenters).ok_or("this chain has no authentication centers")?;
    let key: GroupKey = state.get(&StateKey::GroupKey).ok_or("the centers' group key is not ready yet")?;
    Ok((set, key))
}

/// Whether `proposed` may replace `set`: a valid set, another one, every continuing
/// center in its place.
pub fn check_proposal(set: &AuthCenterSet, proposed: &AuthCenterSet) -> Result<(), String> {
    proposed.check().map_err(|e| e.to_string())?;
    if proposed == set {
        return Err("the proposed set is the set in force".into());
    }
    for (old, new) in positions(set, proposed).into_iter().enumerate() {
        if new.is_some_and(|new| usize::from(new) != old) {
            let name = set.centers.get(old).map_or("?", |c| c.name.as_str());
            return Err(format!("center {old} ({name}) must keep its place in the proposed set"));
        }
    }
    Ok(())
}

fn check_vote(vote: &CenterSetVote, sender: &PublicKey, state: &impl ReadState) -> Result<Checked, String> {
    let (set, key) = in_force(state)?;
    let center = set.index_of(sender).ok_or("the sender is not an authentication center")?;
    if vote.current != set.hash() {
        return Err("the vote is about another set than the one in force".into());
    }
    check_proposal(&set, &vote.proposed)?;
    if state.get::<CenterChange>(&StateKey::CenterChange).is_some_and(|c| c.outcome == ChangeOutcome::Open) {
        return Err("a change of the center set is under way; vote again once it ended".into());
    }
    let mut votes: CenterSetVotes = state.get(&StateKey::CenterSetVotes).unwrap_or_default();
    if votes.current != set.hash() {
        votes = CenterSetVotes { current: set.hash(), proposals: Vec::new() };
    }
    if votes.proposals.iter().any(|(p, voters)| *p == vote.proposed && voters.contains(&center)) {
        return Err(format!("center {center} voted for this proposal already"));
    }
    // A center's newer vote replaces its older one.
    for (_, voters) in &mut votes.proposals {
        voters.retain(|&c| c != center);
    }
    votes.proposals.retain(|(_, voters)| !voters.is_empty());
    let at = match votes.proposals.iter().position(|(p, _)| *p == vote.proposed) {
        Some(at) => at,
        None if votes.proposals.len() < PROPOSALS_MAX => {
            votes.proposals.push((vote.proposed.clone(), Vec::new()));
            votes.proposals.len() - 1
        }
        None => return Err(format!("{PROPOSALS_MAX} proposals are voted on already; vote for one of them")),
    };
    let Some((_, voters)) = votes.proposals.get_mut(at) else { return Err("no such proposal".into()) };
    voters.push(center);
    voters.sort_unstable();
    let opens = voters.len() >= usize::from(set.threshold);
    let change = opens.then(|| {
        let dealers = CenterChange::choose_dealers(&key.participants, &[], key.threshold).unwrap_or_default();
        Box::new(CenterChange {
            from: set.hash(),
            proposed: vote.proposed.clone(),
            attempt: 0,
            attempt_started: state.height().next(),
            dealers,
            excluded: Vec::new(),
            confirmed: Vec::new(),
            failures: Vec::new(),
            outcome: ChangeOutcome::Open,
        })
    });
    if change.is_some() {
        votes.proposals.clear();
    }
    Ok(Checked::Vote(votes, change))
}

/// The open change's current attempt, for a message naming `scope`.
fn attempt(scope: (vigil_protocol::Hash32, u32), state: &impl ReadState) -> Result<Attempt, String> {
    let (set, key) = in_force(state)?;
    let change: CenterChange = state.get(&StateKey::CenterChange).ok_or("no change of the center set is open")?;
    if change.outcome != ChangeOutcome::Open {
        return Err("no change of the center set is open".into());
    }
    if scope.0 != change.id() {
        return Err("the message is for another change of the center set".into());
    }
    if scope.1 != change.attempt {
        return Err(format!("the message is for attempt {}; the change is at attempt {}", scope.1, change.attempt));
    }
    Ok(Attempt { change, key, set })
}

fn member(at: &Attempt, sender: &PublicKey) -> Result<u16, String> {
    at.change.proposed.index_of(sender).ok_or_else(|| "the sender is not a center of the proposed set".into())
}

fn check_timeout(at: Attempt, sender: &PublicKey, state: &impl ReadState) -> Result<Checked, String> {
    if at.set.index_of(sender).is_none() && at.change.proposed.index_of(sender).is_none() {
        return Err("the sender is a center of neither set".into());
    }
    let height = state.height().next();
    let due = at.change.attempt_started.0.saturating_add(CHANGE_ATTEMPT_HEIGHTS);
    if height.0 < due {
        return Err(format!("the attempt may time out from height {due}"));
    }
    let mut change = at.change.clone();
    let abandon = |change: &mut CenterChange, reason: String| {
        change.outcome = ChangeOutcome::Abandoned { height, reason };
    };
    let silent = at.silent(state);
    let name = |m: u16| at.change.proposed.centers.get(usize::from(m)).map_or("?", |c| c.name.as_str()).to_string();
    if let Some(m) = at.unready(state) {
        abandon(&mut change, format!("member {m} ({}) never got ready", name(m)));
    } else if !silent.is_empty() {
        let failure = AttemptFailure::Silent { dealers: silent.clone() };
        reshare::next_attempt(&mut change, &at.key, silent, failure, height);
    } else if let Some(m) = at.members().find(|m| at.change.confirmed.binary_search(m).is_err()) {
        abandon(&mut change, format!("member {m} ({}) never confirmed", name(m)));
    } else {
        return Err("the attempt is complete".into());
    }
    Ok(Checked::Change(Box::new(change)))
}

fn check(message: &CenterChangeMessage, sender: &PublicKey, state: &impl ReadState) -> Result<Checked, String> {
    let CenterChangeMessage::Vote(vote) = message else {
        let at = attempt(message.scope().ok_or("a resharing message names its change")?, state)?;
        return match message {
            CenterChangeMessage::Ready(m) => {
                let member = member(&at, sender)?;
                reshare::check_ready(m, member, &at, state).map(|()| Checked::Ready(member))
            }
            CenterChangeMessage::Deal(m) => {
                let dealer = at.set.index_of(sender).ok_or("the sender is not a center of the set in force")?;
                reshare::check_deal(m, dealer, &at, state).map(|()| Checked::Deal(dealer))
            }
            CenterChangeMessage::Complaint(m) => {
                let member = member(&at, sender)?;
                reshare::check_complaint(m, member, at, state).map(|c| Checked::Change(Box::new(c)))
            }
            CenterChangeMessage::Confirm(m) => {
                let member = member(&at, sender)?;
                reshare::check_confirm(m, member, at, state).map(|c| Checked::Confirm(Box::new(c)))
            }
            CenterChangeMessage::Timeout(ReshareTimeout { .. }) => check_timeout(at, sender, state),
            CenterChangeMessage::Vote(_) => Err("a vote opens no attempt".into()),
        };
    };
    check_vote(vote, sender, state)
}

impl Capability for CenterChangeMessage {
    type Checked = Checked;

    fn fee_min(&self) -> u64 {
        0
    }

    fn priority(&self) -> bool {
        true
    }

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check(self, sender, ledger).map(|_| ()).map_err(Rejection::InvalidCenterChange)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Checked, TxInvalid> {
        check(self, &cx.sender_key(), cx).map_err(TxInvalid::CenterChange)
    }

    fn apply(&self, checked: Checked, cx: &mut TxContext<'_>) -> TxStatus {
        match (self, checked) {
            (_, Checked::Vote(votes, change)) => {
                cx.write(StateKey::CenterSetVotes, &votes);
                if let Some(change) = change {
                    cx.write(StateKey::CenterChange, &*change);
                }
            }
            (CenterChangeMessage::Ready(m), Checked::Ready(member)) => cx.write(StateKey::ReshareReady(member), m),
            (CenterChangeMessage::Deal(m), Checked::Deal(dealer)) => cx.write(StateKey::ReshareDeal(dealer), m),
            (_, Checked::Change(change)) => cx.write(StateKey::CenterChange, &*change),
            (_, Checked::Confirm(confirmed)) => {
                let reshare::Confirmed { mut change, ready } = *confirmed;
                if let Some(key) = ready {
                    super::switch::switch(&mut change, key, cx);
                }
                cx.write(StateKey::CenterChange, &change);
            }
            // `check` returns the variant of the message it was given.
            _ => {}
        }
        TxStatus::Success
    }
}
