//! The centers' distributed key generation (FROST, RFC 9591, Ed25519) with the chain as
//! its broadcast channel: what each round puts on chain, and what the chain keeps.
//!
//! One **attempt** runs among the **participants** — the set's centers that no upheld
//! complaint has excluded — in three steps, each a transaction from every participant:
//!
//! 1. [`DkgRound1`]: the commitments to the center's secret polynomial, the proof that it
//!    knows the secret, and a fresh X25519 key for this attempt only (`share_key`).
//! 2. [`DkgRound2`]: the share for each other participant, HPKE-sealed to that
//!    participant's `share_key` (so only it reads it), in participant order.
//! 3. [`DkgConfirm`]: the center finished the key generation (every share it received
//!    matched its sender's commitments) and names the group key it got. With every
//!    participant's confirmation the chain writes [`GroupKey`]: the key is ready.
//!
//! A participant that received a share that does not match sends a [`DkgComplaint`]
//! instead: it reveals this attempt's `share_key` secret, so anyone — the chain — can
//! open the accused's share to it and check it against the accused's commitments. A
//! share that does not open or does not match excludes the accused and starts a new
//! attempt among the others ([`DkgState`]); a complaint against a good share is refused.
//! The revealed key is used for nothing else: the centers' long-term encryption keys,
//! which applicants seal their identification claims to, are never exposed.

use serde::{Deserialize, Serialize};

use crate::crypto::{EncryptionKey, PublicKey};
use crate::hash::Hash32;
use crate::ids::Height;

/// Bytes of a sealed round-2 share: the 32-byte share and ChaCha20-Poly1305's tag.
pub const SEALED_SHARE_BYTES: usize = 32 + 16;

/// A center's round-1 package for attempt `attempt` of the key generation of the center
/// set of hash `set`: the commitments to its secret polynomial's t coefficients
/// (compressed Edwards points, the first the commitment to its secret), its proof of
/// knowledge of that secret (a Schnorr signature, R ‖ z), and the X25519 key the other
/// participants seal its shares to in this attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkgRound1 {
    pub set: Hash32,
    pub attempt: u32,
    pub commitment: Vec<[u8; 32]>,
    #[serde(with = "crate::bytes")]
    pub proof_of_knowledge: [u8; 64],
    pub share_key: EncryptionKey,
}

/// One round-2 share sealed to its recipient (HPKE base mode, X25519-HKDF-SHA256,
/// ChaCha20-Poly1305; the associated data names the set, attempt, sender and recipient).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedShare {
    /// HPKE's encapsulated key.
    #[serde(with = "crate::bytes")]
    pub enc: [u8; 32],
    #[serde(with = "crate::bytes")]
    pub ciphertext: [u8; SEALED_SHARE_BYTES],
}

/// A center's round-2 package: its share for every other participant, sealed, in
/// participant order (the sender skipped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkgRound2 {
    pub set: Hash32,
    pub attempt: u32,
    pub shares: Vec<SealedShare>,
}

impl DkgRound2 {
    /// The share `sender`'s package holds for `recipient`, among `participants`
    /// (ascending): its place is the recipient's among the participants but the sender.
    pub fn share_for(&self, participants: &[u16], sender: u16, recipient: u16) -> Option<&SealedShare> {
        let slot = participants.iter().filter(|&&i| i != sender).position(|&i| i == recipient)?;
        self.shares.get(slot)
    }
}

/// A participant's accusation that center `accused` sent it a share that does not open
/// or does not match the accused's commitments, with the secret of the complainer's
/// `share_key` for this attempt so that anyone can check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkgComplaint {
    pub set: Hash32,
    pub attempt: u32,
    pub accused: u16,
    #[serde(with = "crate::bytes")]
    pub share_secret: [u8; 32],
}

/// A participant finished the key generation: each share it received matched, and this
/// is the group key it computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkgConfirm {
    pub set: Hash32,
    pub attempt: u32,
    pub group_key: PublicKey,
}

/// One message of the key generation, as a transaction carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DkgMessage {
    Round1(DkgRound1),
    Round2(DkgRound2),
    Complaint(DkgComplaint),
    Confirm(DkgConfirm),
}

impl DkgMessage {
    /// The set and attempt the message is for.
    pub fn scope(&self) -> (Hash32, u32) {
        match self {
            DkgMessage::Round1(m) => (m.set, m.attempt),
            DkgMessage::Round2(m) => (m.set, m.attempt),
            DkgMessage::Complaint(m) => (m.set, m.attempt),
            DkgMessage::Confirm(m) => (m.set, m.attempt),
        }
    }
}

/// An upheld complaint: in attempt `attempt`, center `accused`'s share to `complainer`
/// did not open or did not match its commitments (recorded at `height`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkgFailure {
    pub attempt: u32,
    pub accused: u16,
    pub complainer: u16,
    pub height: Height,
}

/// Where the key generation stands (at `StateKey::Dkg`; absent: attempt 0, nobody
/// excluded, nobody confirmed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkgState {
    pub attempt: u32,
    /// Centers excluded by upheld complaints, ascending.
    pub excluded: Vec<u16>,
    /// The participants that confirmed the current attempt, ascending.
    pub confirmed: Vec<u16>,
    /// Every upheld complaint, oldest first.
    pub failures: Vec<DkgFailure>,
}

impl DkgState {
    /// The participants of the current attempt among `centers` centers, ascending.
    pub fn participants(&self, centers: usize) -> Vec<u16> {
        (0..centers).filter_map(|i| u16::try_from(i).ok()).filter(|i| self.excluded.binary_search(i).is_err()).collect()
    }
}

/// The centers' group key, ready: the group's Ed25519 public key (what the consortium's
/// root certificate and every certificate it issues verify against) and each
/// participant's verifying share (what its signature shares are checked against).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupKey {
    pub key: PublicKey,
    /// The centers holding a share, ascending (center `i` is FROST participant `i + 1`).
    pub participants: Vec<u16>,
    /// `participants[k]`'s verifying share.
    pub verifying_shares: Vec<[u8; 32]>,
    pub threshold: u16,
    /// The height these shares are in force from (the key generation's end, or the last
    /// change of the center set): a signing session opened before it was opened under
    /// shares that no longer combine, and restarts at once.
    pub since: Height,
}

impl GroupKey {
    /// Center `center`'s verifying share, if it holds a share.
    pub fn verifying_share(&self, center: u16) -> Option<[u8; 32]> {
        let k = self.participants.binary_search(&center).ok()?;
        self.verifying_shares.get(k).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_participants_are_the_centers_not_excluded() {
        let state = DkgState { excluded: vec![1, 3], ..DkgState::default() };
        assert_eq!(state.participants(5), vec![0, 2, 4]);
        assert_eq!(DkgState::default().participants(3), vec![0, 1, 2]);
        let key = GroupKey {
            key: crate::crypto::SecretKey::from_seed([1; 32]).public_key(),
            participants: vec![0, 2, 4],
            verifying_shares: vec![[0; 32], [2; 32], [4; 32]],
            threshold: 2,
            since: Height(0),
        };
        assert_eq!(key.verifying_share(2), Some([2; 32]));
        assert_eq!(key.verifying_share(1), None);
    }
}
