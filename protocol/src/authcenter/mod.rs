//! Authentication centers (SPEC C4, patents 3 and 10): the independent parties a
//! certificate needs a threshold of. The chain's genesis names them — each with its
//! Ed25519 identity key (it signs the centers' transactions), its X25519 key (what the
//! other centers seal their key generation shares to) and a name — and the threshold t.
//!
//! The centers make one Ed25519 key together by a distributed key generation (FROST,
//! RFC 9591, Ed25519 ciphersuite) with the chain as their broadcast channel: each
//! publishes its round-1 package ([`DkgRound1`]: its coefficients' commitments and a
//! proof that it knows the secret behind them), then seals each other center's share
//! to that center (round 2). Nobody ever holds the whole key. The group's public key
//! follows from the round-1 commitments alone ([`GroupKey`]), so the chain records it as
//! soon as every center published its round 1.
//!
//! What is here is the shared shape: the set ([`AuthCenterSet`]), the key generation's
//! messages as raw curve bytes ([`dkg`]: no library's serialization in consensus state)
//! and, for the centers and the chain, how a round-2 share is sealed to its recipient
//! and opened again ([`share`]), the threshold signing sessions ([`signing`]), the
//! certificates they sign (`certificate`) and a change of the set that keeps the group
//! key ([`change`]).

#[cfg(feature = "issue")]
pub mod certificate;
pub mod change;
#[cfg(feature = "dkg")]
pub mod claims;
pub mod dkg;
pub mod issuance;
#[cfg(feature = "dkg")]
pub mod share;
pub mod signing;

pub use change::{
    CenterChange, CenterChangeMessage, CenterSetVote, CenterSetVotes, ChangeOutcome, ReshareComplaint, ReshareConfirm,
    ReshareDeal, ReshareReady, ReshareTimeout,
};
pub use dkg::{
    DkgComplaint, DkgConfirm, DkgFailure, DkgMessage, DkgRound1, DkgRound2, DkgState, GroupKey, SealedShare,
};
pub use issuance::{
    CertAccount, CertAction, CertActionVote, CertKind, CertRequest, CertRequestRecord, CertRequests, CertState,
    CertVerdict, CertVotes, CertificateRecord, IdentityClaims, KindChange, RequestStatus, SealedClaims, Subject,
    Verdict,
};
pub use signing::{
    CertAuthority, NonceCommitment, NonceCommitments, NonceQueue, SessionOutcome, SignatureShare, SigningMessage,
    SigningPurpose, SigningSession, SigningState, Waiting,
};

use serde::{Deserialize, Serialize};

use crate::crypto::{EncryptionKey, PublicKey};
use crate::hash::{hash_value, Domain, Hash32};

/// Most centers a chain may name.
pub const CENTERS_MAX: usize = 32;
/// Longest center name.
pub const CENTER_NAME_LEN_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthCenterError {
    #[error("the threshold must be at least 2 and at most the number of centers ({centers}), found {threshold}")]
    Threshold { threshold: u16, centers: usize },
    #[error("at most {CENTERS_MAX} centers")]
    TooMany,
    #[error("center names must be 1 to {CENTER_NAME_LEN_MAX} characters and distinct")]
    Name,
    #[error("two centers share an identity or encryption key")]
    DuplicateKey,
}

/// One authentication center as the chain knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCenterInfo {
    pub name: String,
    /// Signs the center's transactions (verdicts, key generation packages, shares).
    pub identity_key: PublicKey,
    /// What the other centers seal key generation shares to (HPKE, X25519).
    pub encryption_key: EncryptionKey,
}

/// The centers and the threshold of them a certificate needs (in genesis; in the state
/// under [`crate::StateKey::AuthCenters`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCenterSet {
    /// In a fixed order: center `i` (from 0) is FROST participant `i + 1`.
    pub centers: Vec<AuthCenterInfo>,
    pub threshold: u16,
}

impl AuthCenterSet {
    pub fn check(&self) -> Result<(), AuthCenterError> {
        let n = self.centers.len();
        if n > CENTERS_MAX {
            return Err(AuthCenterError::TooMany);
        }
        if self.threshold < 2 || usize::from(self.threshold) > n {
            return Err(AuthCenterError::Threshold { threshold: self.threshold, centers: n });
        }
        let mut names: Vec<&str> = self.centers.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        let bad_name = |s: &&str| s.is_empty() || s.len() > CENTER_NAME_LEN_MAX;
        if names.iter().any(bad_name) || names.windows(2).any(|w| w[0] == w[1]) {
            return Err(AuthCenterError::Name);
        }
        let mut identity: Vec<_> = self.centers.iter().map(|c| c.identity_key.to_bytes()).collect();
        let mut encryption: Vec<_> = self.centers.iter().map(|c| c.encryption_key.0).collect();
        identity.sort_unstable();
        encryption.sort_unstable();
        if identity.windows(2).any(|w| w[0] == w[1]) || encryption.windows(2).any(|w| w[0] == w[1]) {
            return Err(AuthCenterError::DuplicateKey);
        }
        Ok(())
    }

    /// The position of the center whose identity key is `key`.
    pub fn index_of(&self, key: &PublicKey) -> Option<u16> {
        self.centers.iter().position(|c| c.identity_key == *key).and_then(|i| u16::try_from(i).ok())
    }

    /// The set's hash: what a key generation package is bound to.
    pub fn hash(&self) -> Hash32 {
        hash_value(Domain::AuthCenterSet, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;

    fn center(i: u8) -> AuthCenterInfo {
        AuthCenterInfo {
            name: format!("center-{i}"),
            identity_key: SecretKey::from_seed([i; 32]).public_key(),
            encryption_key: EncryptionKey([i; 32]),
        }
    }

    #[test]
    fn a_center_set_needs_a_threshold_of_two_to_n_and_distinct_names_and_keys() {
        let set = |n: u8, t: u16| AuthCenterSet { centers: (1..=n).map(center).collect(), threshold: t };
        assert_eq!(set(5, 3).check(), Ok(()));
        assert_eq!(set(5, 1).check(), Err(AuthCenterError::Threshold { threshold: 1, centers: 5 }));
        assert_eq!(set(5, 6).check(), Err(AuthCenterError::Threshold { threshold: 6, centers: 5 }));
        let mut twice = set(3, 2);
        twice.centers[2].name = twice.centers[0].name.clone();
        assert_eq!(twice.check(), Err(AuthCenterError::Name));
        let mut same_key = set(3, 2);
        same_key.centers[2].encryption_key = same_key.centers[1].encryption_key;
        assert_eq!(same_key.check(), Err(AuthCenterError::DuplicateKey));
        assert_eq!(set(5, 3).index_of(&center(4).identity_key), Some(3));
        assert_eq!(set(5, 3).index_of(&center(9).identity_key), None);
    }
}
