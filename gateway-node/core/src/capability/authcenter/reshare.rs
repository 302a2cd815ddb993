//! The resharing of a change of the center set, as the chain checks and records it (the
//! messages and their order are described in `vigil_protocol::authcenter::change`).
//!
//! - Ready: a member of the proposed set, once per attempt, with a key shares can be
//!   sealed to.
//! - Deal: a dealer of the attempt, once every member is ready: t′ commitments whose
//!   first is exactly λᵢ·Yᵢ (its old verifying share times its Lagrange coefficient among
//!   the attempt's dealers — so the dealt secrets sum to the group's), one sealed share
//!   per member.
//! - Confirm: every dealer dealt, and the key the member names is the group key the
//!   dealers' commitments make (they can make no other). The last member's confirmation
//!   puts the proposed set in force ([`super::switch`]).
//! - Complaint: as in the key generation — the member reveals its ready key, the chain
//!   opens the dealer's share to it and checks it against the dealer's commitments; an
//!   upheld complaint excludes the dealer and starts a new attempt, a complaint against a
//!   good share is refused.
//!
//! The FROST arithmetic (Lagrange coefficients, sums of commitments) is frost-core's; the
//! centers call the same functions to deal and to check what they received.

use std::collections::BTreeSet;

use frost_core::Group;
use frost_ed25519::keys::VerifyingShare;
use frost_ed25519::keys::{PublicKeyPackage, SecretShare, SigningShare, VerifiableSecretSharingCommitment};
use frost_ed25519::{Ed25519Group, Ed25519Sha512, Identifier};
use vigil_protocol::authcenter::change::{AttemptFailure, CenterChange, ChangeOutcome};
use vigil_protocol::authcenter::share::{usable, ShareKey, ShareLabel};
use vigil_protocol::authcenter::{
    AuthCenterSet, GroupKey, ReshareComplaint, ReshareConfirm, ReshareDeal, ReshareReady,
};
use vigil_protocol::{Height, StateKey};

use super::keygen::{commitment_of, identifier, key_of};
use super::ReadState;

/// Dealer `dealer`'s Lagrange coefficient at zero among `dealers` (old positions).
pub fn lagrange(dealers: &[u16], dealer: u16) -> Result<frost_core::Scalar<Ed25519Sha512>, String> {
    let ids: BTreeSet<Identifier> = dealers.iter().map(|&d| identifier(d)).collect::<Result<_, _>>()?;
    frost_core::compute_lagrange_coefficient(&ids, None, identifier(dealer)?).map_err(|e| e.to_string())
}

/// What dealer `dealer`'s first commitment must be: its verifying share in `key` times
/// its Lagrange coefficient among `dealers`.
pub fn dealt_constant(dealers: &[u16], dealer: u16, key: &GroupKey) -> Result<[u8; 32], String> {
    let share = key.verifying_share(dealer).ok_or_else(|| format!("center {dealer} holds no share"))?;
    let share = VerifyingShare::deserialize(&share).map_err(|e| e.to_string())?;
    let point = share.to_element() * lagrange(dealers, dealer)?;
    Ed25519Group::serialize(&point).map_err(|e| e.to_string())
}

/// The key the dealers' sharings make for the proposed set: the same group key, with a
/// verifying share for each of its members. Refused if the key is not `key`'s.
pub fn reshared_key(proposed: &AuthCenterSet, deals: &[ReshareDeal], key: &GroupKey) -> Result<GroupKey, String> {
    let commitments: Vec<VerifiableSecretSharingCommitment> =
        deals.iter().map(|d| commitment_of(&d.commitment, proposed.threshold)).collect::<Result<_, _>>()?;
    let refs: Vec<&VerifiableSecretSharingCommitment> = commitments.iter().collect();
    let sum = frost_core::keys::sum_commitments(&refs).map_err(|e| e.to_string())?;
    let members: Vec<u16> = (0..proposed.centers.len()).filter_map(|i| u16::try_from(i).ok()).collect();
    let ids: BTreeSet<Identifier> = members.iter().map(|&m| identifier(m)).collect::<Result<_, _>>()?;
    let public = PublicKeyPackage::from_commitment(&ids, &sum).map_err(|e| e.to_string())?;
    let reshared = key_of(&public, &members, proposed.threshold)?;
    if reshared.key != key.key {
        return Err("the dealers' commitments make another key than the group key".into());
    }
    Ok(reshared)
}

/// Whether the share `member` got (`share`, 32 bytes) lies on `commitment`'s polynomial.
pub fn share_matches(member: u16, share: &[u8], commitment: &[[u8; 32]], threshold: u16) -> bool {
    let (Ok(share), Ok(commitment), Ok(id)) =
        (SigningShare::deserialize(share), commitment_of(commitment, threshold), identifier(member))
    else {
        return false;
    };
    SecretShare::new(id, share, commitment).verify().is_ok()
}

/// A change's current attempt, as a resharing message finds it.
pub(crate) struct Attempt {
    pub change: CenterChange,
    pub key: GroupKey,
    /// The set in force.
    pub set: AuthCenterSet,
}

impl Attempt {
    pub fn id(&self) -> vigil_protocol::Hash32 {
        self.change.id()
    }

    pub fn members(&self) -> impl Iterator<Item = u16> + '_ {
        (0..self.change.proposed.centers.len()).filter_map(|i| u16::try_from(i).ok())
    }

    pub fn ready(&self, member: u16, state: &impl ReadState) -> Option<ReshareReady> {
        let (id, at) = (self.id(), self.change.attempt);
        state.get::<ReshareReady>(&StateKey::ReshareReady(member)).filter(|r| r.change == id && r.attempt == at)
    }

    pub fn deal(&self, dealer: u16, state: &impl ReadState) -> Option<ReshareDeal> {
        let (id, at) = (self.id(), self.change.attempt);
        state.get::<ReshareDeal>(&StateKey::ReshareDeal(dealer)).filter(|d| d.change == id && d.attempt == at)
    }

    /// The first member not ready yet.
    pub fn unready(&self, state: &impl ReadState) -> Option<u16> {
        self.members().find(|&m| self.ready(m, state).is_none())
    }

    /// The dealers that have not dealt yet.
    pub fn silent(&self, state: &impl ReadState) -> Vec<u16> {
        self.change.dealers.iter().copied().filter(|&d| self.deal(d, state).is_none()).collect()
    }

    /// Every dealer's sharing, in dealer order, or the first missing.
    pub fn deals(&self, state: &impl ReadState) -> Result<Vec<ReshareDeal>, u16> {
        self.change.dealers.iter().map(|&d| self.deal(d, state).ok_or(d)).collect()
    }
}

pub(crate) fn check_ready(
    ready: &ReshareReady,
    member: u16,
    at: &Attempt,
    state: &impl ReadState,
) -> Result<(), String> {
    if at.ready(member, state).is_some() {
        return Err(format!("member {member} is ready for this attempt already"));
    }
    if !usable(&ready.share_key) {
        return Err("the share key is not a key shares can be sealed to".into());
    }
    Ok(())
}

pub(crate) fn check_deal(deal: &ReshareDeal, dealer: u16, at: &Attempt, state: &impl ReadState) -> Result<(), String> {
    if at.change.dealers.binary_search(&dealer).is_err() {
        return Err(format!("center {dealer} is not a dealer of this attempt"));
    }
    if let Some(member) = at.unready(state) {
        return Err(format!("the dealers wait for every member: member {member} is not ready"));
    }
    if at.deal(dealer, state).is_some() {
        return Err(format!("center {dealer} dealt in this attempt already"));
    }
    commitment_of(&deal.commitment, at.change.proposed.threshold)?;
    if deal.commitment.first() != Some(&dealt_constant(&at.change.dealers, dealer, &at.key)?) {
        return Err(format!("center {dealer}'s sharing is not of its own weighted share of the group key"));
    }
    let n = at.change.proposed.centers.len();
    if deal.shares.len() != n {
        return Err(format!("{} shares; one for each of the {n} members", deal.shares.len()));
    }
    Ok(())
}

/// A confirmation that may be recorded, and the key when it is the last.
pub struct Confirmed {
    pub(crate) change: CenterChange,
    pub(crate) ready: Option<GroupKey>,
}

pub(crate) fn check_confirm(
    confirm: &ReshareConfirm,
    member: u16,
    at: Attempt,
    state: &impl ReadState,
) -> Result<Confirmed, String> {
    let deals =
        at.deals(state).map_err(|d| format!("the confirmation waits for every dealer: center {d} has not dealt"))?;
    let Err(slot) = at.change.confirmed.binary_search(&member) else {
        return Err(format!("member {member} confirmed this attempt already"));
    };
    let key = reshared_key(&at.change.proposed, &deals, &at.key)?;
    if key.key != confirm.group_key {
        return Err(format!("member {member} names another key than the group key"));
    }
    let mut change = at.change;
    change.confirmed.insert(slot, member);
    let done = change.confirmed.len() == change.proposed.centers.len();
    Ok(Confirmed { change, ready: done.then_some(key) })
}

pub(crate) fn check_complaint(
    complaint: &ReshareComplaint,
    member: u16,
    at: Attempt,
    state: &impl ReadState,
) -> Result<CenterChange, String> {
    let dealer = complaint.dealer;
    if at.change.confirmed.binary_search(&member).is_ok() {
        return Err(format!("member {member} confirmed this attempt: every share it got was good"));
    }
    let mine = at.ready(member, state).ok_or("the complainer has published no ready key in this attempt")?;
    let deal = at.deal(dealer, state).ok_or_else(|| format!("center {dealer} has not dealt in this attempt"))?;
    let key = ShareKey::from_secret(&complaint.share_secret).map_err(|e| e.to_string())?;
    if key.public_key() != mine.share_key {
        return Err("the revealed secret is not the complainer's ready key".into());
    }
    let sealed = deal.shares.get(usize::from(member)).ok_or("the dealer's sharing has no share for the complainer")?;
    let label = ShareLabel { set: at.id(), attempt: at.change.attempt, sender: dealer, recipient: member };
    let threshold = at.change.proposed.threshold;
    let good =
        key.open(sealed, &label).is_ok_and(|share| share_matches(member, &share[..], &deal.commitment, threshold));
    if good {
        return Err(format!("center {dealer}'s share to member {member} matches its commitments"));
    }
    let mut change = at.change;
    let failure = AttemptFailure::BadShare { dealer, member };
    let height = state_height(state);
    next_attempt(&mut change, &at.key, vec![dealer], failure, height);
    Ok(change)
}

/// The height a message executes at (admission: the next block's).
fn state_height(state: &impl ReadState) -> Height {
    state.height().next()
}

/// The attempt failed: `out` are excluded and a new attempt starts among the others, or
/// the change is abandoned if fewer than t dealers are left.
pub(crate) fn next_attempt(
    change: &mut CenterChange,
    key: &GroupKey,
    out: Vec<u16>,
    failure: AttemptFailure,
    height: Height,
) {
    for dealer in out {
        if let Err(at) = change.excluded.binary_search(&dealer) {
            change.excluded.insert(at, dealer);
        }
    }
    change.failures.push((change.attempt, failure));
    change.attempt = change.attempt.saturating_add(1);
    change.attempt_started = height;
    change.confirmed.clear();
    match CenterChange::choose_dealers(&key.participants, &change.excluded, key.threshold) {
        Some(dealers) => change.dealers = dealers,
        None => {
            let reason = "fewer centers than the threshold are left to deal".to_string();
            change.outcome = ChangeOutcome::Abandoned { height, reason };
        }
    }
}
