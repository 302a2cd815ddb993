//! A change of the center set — centers replaced, added or removed, the threshold
//! changed — that **keeps the group key**, so the consortium's root certificate and every
//! certificate it issued still verify afterwards.
//!
//! 1. **Votes.** Each center of the set in force votes for the proposed set
//!    ([`CenterSetVote`]); with t votes for one proposal the change opens
//!    ([`CenterChange`]). Votes are kept in [`CenterSetVotes`] (a center's newer vote
//!    replaces its older one).
//! 2. **Resharing**, one attempt after the other until one completes or the change is
//!    abandoned. The attempt's **dealers** are t centers of the old set that hold a share
//!    (the first t not excluded, ascending), so their Lagrange-weighted shares λᵢ·sᵢ sum
//!    to the group's secret.
//!    - [`ReshareReady`]: each member of the proposed set publishes a fresh X25519 key
//!      for this attempt (what the dealers seal its shares to, and what it reveals to
//!      complain).
//!    - [`ReshareDeal`]: each dealer shares λᵢ·sᵢ among the proposed set with a fresh
//!      polynomial of degree t′ − 1 (FROST's dealer split): its commitments — whose
//!      first the chain checks is λᵢ·Yᵢ, its old verifying share weighted, so no dealer
//!      can shift the key — and one sealed share per member, in the proposed set's order.
//!    - [`ReshareConfirm`]: a member checked every share it got against its dealer's
//!      commitments and names the group key; with every member's confirmation the new
//!      set is in force, with new verifying shares under the same key.
//!    - [`ReshareComplaint`]: a member reveals its attempt key to show a dealer's share
//!      to it is bad; the chain checks, excludes the dealer and starts a new attempt.
//!    - [`ReshareTimeout`]: past [`CHANGE_ATTEMPT_HEIGHTS`], dealers that never dealt are
//!      excluded and a new attempt starts; a member that never got ready or never
//!      confirmed, or too few dealers left, abandons the change (the old set stays).
//!
//! Nobody ever holds the key: a dealer deals a weighted share, a member sums what t
//! dealers sent it. A center removed keeps its old share, which no longer combines with
//! the new ones (each new share lies on a fresh polynomial).

use serde::{Deserialize, Serialize};

use super::{AuthCenterSet, SealedShare};
use crate::crypto::{EncryptionKey, PublicKey};
use crate::hash::{hash_value, Domain, Hash32};
use crate::ids::Height;

/// Heights an attempt of a change waits for its messages before a timeout may end it.
pub const CHANGE_ATTEMPT_HEIGHTS: u64 = 32;
/// Most distinct proposals voted on at once.
pub const PROPOSALS_MAX: usize = 8;

/// A center's vote for replacing the set in force (of hash `current`) by `proposed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CenterSetVote {
    pub current: Hash32,
    pub proposed: AuthCenterSet,
}

/// The votes on changes of the set in force (at `StateKey::CenterSetVotes`): each
/// proposal with the centers (positions in the set in force) that voted for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CenterSetVotes {
    /// The set in force the votes are about (votes about an older set do not count).
    pub current: Hash32,
    pub proposals: Vec<(AuthCenterSet, Vec<u16>)>,
}

/// A member of the proposed set is ready for attempt `attempt`: the key its shares are
/// sealed to (at `StateKey::ReshareReady(member)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReshareReady {
    pub change: Hash32,
    pub attempt: u32,
    pub share_key: EncryptionKey,
}

/// A dealer's sharing of its weighted share (at `StateKey::ReshareDeal(dealer)`): t′
/// commitments (compressed Edwards points; the first is λᵢ·Yᵢ) and one share per member
/// of the proposed set, sealed to its ready key, in the set's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReshareDeal {
    pub change: Hash32,
    pub attempt: u32,
    pub commitment: Vec<[u8; 32]>,
    pub shares: Vec<SealedShare>,
}

/// A member shows that dealer `dealer`'s share to it does not open or does not match
/// the dealer's commitments, revealing the secret of its ready key for this attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReshareComplaint {
    pub change: Hash32,
    pub attempt: u32,
    pub dealer: u16,
    #[serde(with = "crate::bytes")]
    pub share_secret: [u8; 32],
}

/// A member checked every share it got and names the group key they make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReshareConfirm {
    pub change: Hash32,
    pub attempt: u32,
    pub group_key: PublicKey,
}

/// The attempt's time is up (sent by any center of either set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReshareTimeout {
    pub change: Hash32,
    pub attempt: u32,
}

/// One message of a change of the center set, as a transaction carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CenterChangeMessage {
    Vote(CenterSetVote),
    Ready(ReshareReady),
    Deal(ReshareDeal),
    Complaint(ReshareComplaint),
    Confirm(ReshareConfirm),
    Timeout(ReshareTimeout),
}

impl CenterChangeMessage {
    /// The change and attempt a resharing message is for (`None` for a vote).
    pub fn scope(&self) -> Option<(Hash32, u32)> {
        match self {
            CenterChangeMessage::Vote(_) => None,
            CenterChangeMessage::Ready(m) => Some((m.change, m.attempt)),
            CenterChangeMessage::Deal(m) => Some((m.change, m.attempt)),
            CenterChangeMessage::Complaint(m) => Some((m.change, m.attempt)),
            CenterChangeMessage::Confirm(m) => Some((m.change, m.attempt)),
            CenterChangeMessage::Timeout(m) => Some((m.change, m.attempt)),
        }
    }
}

/// Why an attempt ended without the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptFailure {
    /// Member `member`'s complaint against dealer `dealer`'s share was upheld.
    BadShare { dealer: u16, member: u16 },
    /// These dealers never dealt in time.
    Silent { dealers: Vec<u16> },
}

/// How a change ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeOutcome {
    Open,
    /// The proposed set is in force since this height.
    Done(Height),
    /// The old set stays in force.
    Abandoned {
        height: Height,
        reason: String,
    },
}

/// The change of the center set voted last (at `StateKey::CenterChange`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CenterChange {
    /// The hash of the set in force when it opened.
    pub from: Hash32,
    pub proposed: AuthCenterSet,
    pub attempt: u32,
    /// When the current attempt started.
    pub attempt_started: Height,
    /// The current attempt's dealers: positions in the old set, ascending.
    pub dealers: Vec<u16>,
    /// Old centers no attempt may choose again, ascending.
    pub excluded: Vec<u16>,
    /// Members (positions in the proposed set) that confirmed this attempt, ascending.
    pub confirmed: Vec<u16>,
    /// Why each earlier attempt failed, oldest first.
    pub failures: Vec<(u32, AttemptFailure)>,
    pub outcome: ChangeOutcome,
}

impl CenterChange {
    /// The change's id: what its messages name and its shares are sealed under.
    pub fn id(&self) -> Hash32 {
        change_id(&self.from, &self.proposed)
    }

    /// The first `threshold` of `holders` (old centers with a share, ascending) not
    /// excluded, or `None` if fewer are left.
    pub fn choose_dealers(holders: &[u16], excluded: &[u16], threshold: u16) -> Option<Vec<u16>> {
        let dealers: Vec<u16> = holders
            .iter()
            .copied()
            .filter(|c| excluded.binary_search(c).is_err())
            .take(usize::from(threshold))
            .collect();
        (dealers.len() == usize::from(threshold)).then_some(dealers)
    }
}

/// The id of the change from the set of hash `from` to `proposed`.
pub fn change_id(from: &Hash32, proposed: &AuthCenterSet) -> Hash32 {
    hash_value(Domain::CenterChange, &(from, proposed))
}

/// Where each center of the old set sits in the new one (by identity key): `map[i]`
/// is old center `i`'s new position, if it stays.
pub fn positions(old: &AuthCenterSet, new: &AuthCenterSet) -> Vec<Option<u16>> {
    old.centers.iter().map(|c| new.index_of(&c.identity_key)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authcenter::AuthCenterInfo;
    use crate::crypto::SecretKey;

    fn set(ids: &[u8], t: u16) -> AuthCenterSet {
        let centers = ids
            .iter()
            .map(|&i| AuthCenterInfo {
                name: format!("c{i}"),
                identity_key: SecretKey::from_seed([i; 32]).public_key(),
                encryption_key: EncryptionKey([i; 32]),
            })
            .collect();
        AuthCenterSet { centers, threshold: t }
    }

    #[test]
    fn dealers_are_the_first_t_holders_not_excluded_and_positions_follow_identity() {
        assert_eq!(CenterChange::choose_dealers(&[0, 1, 2, 3, 4], &[], 3), Some(vec![0, 1, 2]));
        assert_eq!(CenterChange::choose_dealers(&[0, 1, 2, 3, 4], &[1], 3), Some(vec![0, 2, 3]));
        assert_eq!(CenterChange::choose_dealers(&[0, 1, 2, 3, 4], &[0, 2, 3], 3), None);
        let (old, new) = (set(&[1, 2, 3, 4, 5], 3), set(&[1, 2, 6, 4, 5], 3));
        assert_eq!(positions(&old, &new), vec![Some(0), Some(1), None, Some(3), Some(4)]);
        assert_ne!(change_id(&old.hash(), &new), change_id(&new.hash(), &old), "a change names both sets");
    }
}
