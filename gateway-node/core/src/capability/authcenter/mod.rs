//! The authentication centers' key generation, with the chain as its broadcast channel
//! (SPEC C4; FROST, RFC 9591, Ed25519; the messages and their order are described in
//! `vigil_protocol::authcenter::dkg`).
//!
//! Every message is free and pooled first, and only a participant of the current attempt
//! may send one (checked at admission and in a block): a message from anyone else, for
//! another set or attempt, out of its turn, a second of its kind, or of the wrong shape
//! may not be in a block at all.
//!
//! - [`keygen`]: rounds 1 and 2 and the confirmation; with every participant's
//!   confirmation the chain writes the group key, derived from the round-1 commitments
//!   alone (no process ever held the key) and equal to what every center computed.
//! - [`complaint`]: a participant shows that a share sent to it is bad; the accused is
//!   excluded and a new attempt starts among the others.
//! - [`signing`] and [`session`]: the threshold signing sessions — nonce commitments
//!   published ahead, sessions opened by execution, shares checked one by one and
//!   aggregated, restarts after a timeout counted in heights. The first thing signed is
//!   the consortium's root certificate, as soon as the group key is ready.

use vigil_protocol::authcenter::{AuthCenterSet, DkgMessage, DkgRound1, DkgRound2, DkgState, GroupKey};
use vigil_protocol::{PublicKey, StateKey, TxStatus};

use super::Capability;
pub(crate) use super::ReadState;
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

pub mod actions;
pub mod change;
pub mod complaint;
pub mod issuance;
pub mod keygen;
pub mod reshare;
pub mod session;
pub mod signing;
pub mod switch;

pub use keygen::{from_chain, group_key, identifier, to_chain};

/// The key generation as a message from `sender` finds it.
pub(crate) struct Scope {
    pub set: AuthCenterSet,
    pub state: DkgState,
    /// The sender's position in the set.
    pub sender: u16,
    pub participants: Vec<u16>,
}

impl Scope {
    /// Whether it is the sender's turn at all: the chain has centers, the sender is a
    /// participant of the current attempt, the message names that set and attempt, the
    /// key is not ready yet and enough participants are left to make it.
    pub fn of(message: &DkgMessage, sender: &PublicKey, state: &impl ReadState) -> Result<Scope, String> {
        let set: AuthCenterSet = state.get(&StateKey::AuthCenters).ok_or("this chain has no authentication centers")?;
        let index = set.index_of(sender).ok_or("the sender is not an authentication center")?;
        let dkg: DkgState = state.get(&StateKey::Dkg).unwrap_or_default();
        if state.get::<GroupKey>(&StateKey::GroupKey).is_some() {
            return Err("the centers' key generation is over: the group key is ready".into());
        }
        let participants = dkg.participants(set.centers.len());
        if participants.binary_search(&index).is_err() {
            return Err(format!("center {index} was excluded from the key generation"));
        }
        if participants.len() < usize::from(set.threshold) {
            return Err("fewer centers are left than the threshold: the center set must change first".into());
        }
        let (set_hash, attempt) = message.scope();
        if set_hash != set.hash() {
            return Err("the message is for another center set".into());
        }
        if attempt != dkg.attempt {
            return Err(format!(
                "the message is for attempt {attempt}; the key generation is at attempt {}",
                dkg.attempt
            ));
        }
        Ok(Scope { set, state: dkg, sender: index, participants })
    }

    /// Center `i`'s round-1 package of the current attempt, if published.
    pub fn round1(&self, i: u16, state: &impl ReadState) -> Option<DkgRound1> {
        state.get::<DkgRound1>(&StateKey::DkgRound1(i)).filter(|p| p.attempt == self.state.attempt)
    }

    /// Center `i`'s round-2 package of the current attempt, if published.
    pub fn round2(&self, i: u16, state: &impl ReadState) -> Option<DkgRound2> {
        state.get::<DkgRound2>(&StateKey::DkgRound2(i)).filter(|p| p.attempt == self.state.attempt)
    }

    /// Every participant's round-1 package of the current attempt, in participant order,
    /// or the first participant still missing.
    pub fn all_round1(&self, state: &impl ReadState) -> Result<Vec<DkgRound1>, u16> {
        self.participants.iter().map(|&i| self.round1(i, state).ok_or(i)).collect()
    }
}

/// What a block's check of a key generation message found, for its execution.
pub enum Checked {
    Round1(u16),
    Round2(u16),
    Confirm(Box<keygen::Confirmed>),
    Complaint(complaint::Upheld),
}

fn check(message: &DkgMessage, sender: &PublicKey, state: &impl ReadState) -> Result<Checked, String> {
    let scope = Scope::of(message, sender, state)?;
    match message {
        DkgMessage::Round1(m) => keygen::check_round1(m, &scope, state).map(Checked::Round1),
        DkgMessage::Round2(m) => keygen::check_round2(m, &scope, state).map(Checked::Round2),
        DkgMessage::Confirm(m) => keygen::check_confirm(m, scope, state).map(|c| Checked::Confirm(Box::new(c))),
        DkgMessage::Complaint(m) => complaint::check(m, scope, state).map(Checked::Complaint),
    }
}

impl Capability for DkgMessage {
    type Checked = Checked;

    fn fee_min(&self) -> u64 {
        0
    }

    fn priority(&self) -> bool {
        true
    }

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check(self, sender, ledger).map(|_| ()).map_err(Rejection::InvalidDkgPackage)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Checked, TxInvalid> {
        check(self, &cx.sender_key(), cx).map_err(TxInvalid::DkgPackage)
    }

    fn apply(&self, checked: Checked, cx: &mut TxContext<'_>) -> TxStatus {
        match (self, checked) {
            (DkgMessage::Round1(m), Checked::Round1(i)) => cx.write(StateKey::DkgRound1(i), m),
            (DkgMessage::Round2(m), Checked::Round2(i)) => cx.write(StateKey::DkgRound2(i), m),
            (_, Checked::Confirm(confirmed)) => keygen::apply_confirm(*confirmed, cx),
            (_, Checked::Complaint(upheld)) => complaint::apply(upheld, cx),
            // `check` returns the variant of the message it was given.
            _ => {}
        }
        TxStatus::Success
    }
}

#[cfg(test)]
mod tests;
