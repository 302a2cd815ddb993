//! Validator sets and the quorum math of both consensus modes.
//!
//! A set is canonical: sorted by [`NodeId`], no duplicates, 1 to
//! [`crate::limits::VALIDATORS_MAX`] members, positive voting power. Its hash goes in every
//! header (`validator_set_hash`), so a light client that trusts one hash trusts the
//! set. Signer bitmaps in certificates index into this order.

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::crypto::{EncryptionKey, P2pKey, PublicKey};
use crate::hash::{hash_value, Domain, Hash32};
use crate::ids::NodeId;
use crate::limits::{VALIDATORS_MAX, VALIDATOR_NAME_LEN_MAX};

/// Which consensus protocol certifies blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConsensusMode {
    /// First mode: leader-based, crash-fault tolerant; a majority of acknowledgements
    /// certifies a block.
    Fast,
    /// Second mode: Byzantine fault tolerant; more than two thirds of the voting power
    /// (2f+1 of 3f+1) certifies a block. Entered once a fault is proven.
    Bft,
}

impl std::fmt::Display for ConsensusMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConsensusMode::Fast => "fast",
            ConsensusMode::Bft => "bft",
        })
    }
}

/// One validator as published in the chain's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorInfo {
    /// Derived from `consensus_key`; checked when the set is built.
    pub id: NodeId,
    /// Operator-chosen display name (e.g. the organisation).
    pub name: String,
    /// Signs votes, acknowledgements and receipts.
    pub consensus_key: PublicKey,
    /// X25519 key the gateway and wallets seal requests to (HPKE).
    pub encryption_key: EncryptionKey,
    /// X25519 Noise static key of its links to other validators; never the same key
    /// as `encryption_key` (each has its own seed).
    pub p2p_key: P2pKey,
    /// The validator's account (fees, stake).
    pub account: Address,
    /// Voting power; equal power is the consortium default.
    pub power: u64,
}

impl ValidatorInfo {
    /// A validator with power 1 whose id and account are derived from its key.
    pub fn new(
        name: impl Into<String>,
        consensus_key: PublicKey,
        encryption_key: EncryptionKey,
        p2p_key: P2pKey,
    ) -> Self {
        Self {
            id: NodeId::from_public_key(&consensus_key),
            name: name.into(),
            consensus_key,
            encryption_key,
            p2p_key,
            account: Address::from_public_key(&consensus_key),
            power: 1,
        }
    }
}

/// Why a list of validators is not a valid set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    #[error("a validator set needs 1 to {VALIDATORS_MAX} members, found {0}")]
    Size(usize),
    #[error("validator {0} appears twice")]
    Duplicate(NodeId),
    #[error("validator {0} has an id that does not match its consensus key")]
    IdMismatch(NodeId),
    #[error("validator {0} has zero voting power")]
    ZeroPower(NodeId),
    #[error("validator {0} has a name longer than {VALIDATOR_NAME_LEN_MAX} bytes")]
    NameTooLong(NodeId),
    #[error("validator {0} is out of canonical (sorted by id) order")]
    NotCanonicalOrder(NodeId),
    #[error("total voting power overflows")]
    PowerOverflow,
    #[error("validator {0} publishes one key as both its p2p (Noise) key and its HPKE key")]
    SharedKey(NodeId),
}

/// A canonical validator set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<ValidatorInfo>", into = "Vec<ValidatorInfo>")]
pub struct ValidatorSet {
    validators: Vec<ValidatorInfo>,
    total_power: u64,
}

impl ValidatorSet {
    /// Builds a set, sorting by id and checking every invariant.
    pub fn new(mut validators: Vec<ValidatorInfo>) -> Result<Self, ValidatorSetError> {
        if validators.is_empty() || validators.len() > VALIDATORS_MAX {
            return Err(ValidatorSetError::Size(validators.len()));
        }
        validators.sort_by_key(|v| v.id);
        let mut total_power: u64 = 0;
        for (i, v) in validators.iter().enumerate() {
            if i > 0 && validators[i - 1].id == v.id {
                return Err(ValidatorSetError::Duplicate(v.id));
            }
            if NodeId::from_public_key(&v.consensus_key) != v.id {
                return Err(ValidatorSetError::IdMismatch(v.id));
            }
            if v.power == 0 {
                return Err(ValidatorSetError::ZeroPower(v.id));
            }
            if v.name.len() > VALIDATOR_NAME_LEN_MAX {
                return Err(ValidatorSetError::NameTooLong(v.id));
            }
            if v.p2p_key.0 == v.encryption_key.0 {
                return Err(ValidatorSetError::SharedKey(v.id));
            }
            total_power = total_power.checked_add(v.power).ok_or(ValidatorSetError::PowerOverflow)?;
        }
        Ok(Self { validators, total_power })
    }

    pub fn validators(&self) -> &[ValidatorInfo] {
        &self.validators
    }

    pub fn len(&self) -> usize {
        self.validators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    pub fn total_power(&self) -> u64 {
        self.total_power
    }

    /// Position of a validator in the canonical order (its bit in signer bitmaps).
    pub fn index_of(&self, id: &NodeId) -> Option<usize> {
        self.validators.binary_search_by(|v| v.id.cmp(id)).ok()
    }

    pub fn get(&self, id: &NodeId) -> Option<&ValidatorInfo> {
        self.index_of(id).map(|i| &self.validators[i])
    }

    pub fn by_index(&self, index: usize) -> Option<&ValidatorInfo> {
        self.validators.get(index)
    }

    /// The set's hash, as it appears in headers.
    pub fn hash(&self) -> Hash32 {
        hash_value(Domain::ValidatorSet, &self.validators)
    }

    /// Byzantine faults the set tolerates in Bft mode: the largest f with 3f < total.
    pub fn fault_tolerance_power(&self) -> u64 {
        (self.total_power - 1) / 3
    }

    /// Least voting power that certifies a block in `mode`.
    ///
    /// Fast: a strict majority, `⌊total/2⌋ + 1` (any two majorities intersect, which
    /// is enough against crashes). Bft: more than two thirds, `⌊2·total/3⌋ + 1`, which is
    /// 2f+1 when total = 3f+1 (any two quorums intersect in an honest validator).
    pub fn quorum_power(&self, mode: ConsensusMode) -> u64 {
        let total = u128::from(self.total_power);
        let q = match mode {
            ConsensusMode::Fast => total / 2 + 1,
            ConsensusMode::Bft => total * 2 / 3 + 1,
        };
        // q ≤ total ≤ u64::MAX, so the conversion cannot fail.
        u64::try_from(q).unwrap_or(u64::MAX)
    }

    /// Least voting power any two Fast quorums share (`2·quorum − total`): Byzantine
    /// validators holding less can never make Fast mode fork; holding this much, they can.
    pub fn fast_overlap_power(&self) -> u64 {
        self.quorum_power(ConsensusMode::Fast).saturating_mul(2).saturating_sub(self.total_power)
    }

    /// Voting power of the validators whose indices are given (unknown indices count 0).
    pub fn power_of(&self, indices: impl IntoIterator<Item = usize>) -> u64 {
        indices.into_iter().filter_map(|i| self.validators.get(i)).map(|v| v.power).fold(0u64, u64::saturating_add)
    }

    /// A new set without `id` (for jailing). Errors if that would leave it empty.
    pub fn without(&self, id: &NodeId) -> Result<Self, ValidatorSetError> {
        Self::new(self.validators.iter().filter(|v| &v.id != id).cloned().collect())
    }
}

impl TryFrom<Vec<ValidatorInfo>> for ValidatorSet {
    type Error = ValidatorSetError;
    fn try_from(v: Vec<ValidatorInfo>) -> Result<Self, Self::Error> {
        // Decoded sets must already be in canonical order: a set re-sorted on decode
        // would hash differently from the bytes that were signed.
        if let Some(w) = v.windows(2).find(|w| w[0].id >= w[1].id) {
            return Err(if w[0].id == w[1].id {
                ValidatorSetError::Duplicate(w[0].id)
            } else {
                ValidatorSetError::NotCanonicalOrder(w[1].id)
            });
        }
        Self::new(v)
    }
}

impl From<ValidatorSet> for Vec<ValidatorInfo> {
    fn from(s: ValidatorSet) -> Self {
        s.validators
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::validators;

    /// Finding 13 of the soundness review (in part): on 35b51aa a validator had one
    /// X25519 key for both its Noise links and its HPKE requests.
    #[test]
    fn a_validator_publishing_one_key_for_noise_and_hpke_is_refused() {
        let (set, _) = validators(4);
        let mut members = set.validators().to_vec();
        members[2].p2p_key = P2pKey(members[2].encryption_key.0);
        let id = members[2].id;
        assert_eq!(ValidatorSet::new(members.clone()), Err(ValidatorSetError::SharedKey(id)));
        // Decoding runs the same check: such a set cannot arrive in a genesis or a change.
        let bytes = crate::encoding::to_bytes(&members);
        assert!(crate::encoding::from_bytes::<ValidatorSet>(&bytes).is_err());
    }

    #[test]
    fn quorum_for_four_equal_validators() {
        let (set, _) = validators(4);
        assert_eq!(set.quorum_power(ConsensusMode::Fast), 3);
        assert_eq!(set.quorum_power(ConsensusMode::Bft), 3);
        assert_eq!(set.fault_tolerance_power(), 1);
    }

    #[test]
    fn quorum_for_seven_equal_validators() {
        let (set, _) = validators(7);
        assert_eq!(set.quorum_power(ConsensusMode::Fast), 4);
        assert_eq!(set.quorum_power(ConsensusMode::Bft), 5);
        assert_eq!(set.fault_tolerance_power(), 2);
    }

    #[test]
    fn bft_quorum_is_two_f_plus_one_of_three_f_plus_one() {
        for f in 0..=30u64 {
            let (set, _) = validators((3 * f + 1) as usize);
            assert_eq!(set.quorum_power(ConsensusMode::Bft), 2 * f + 1, "f = {f}");
            assert_eq!(set.fault_tolerance_power(), f);
        }
    }

    #[test]
    fn any_two_quorums_intersect_in_enough_power() {
        // Fast quorums share at least one validator; Bft quorums share more than f.
        for n in 1..=40usize {
            let (set, _) = validators(n);
            let total = set.total_power();
            let fast = set.quorum_power(ConsensusMode::Fast);
            let bft = set.quorum_power(ConsensusMode::Bft);
            assert!(2 * fast > total, "n = {n}");
            assert!(2 * bft - total > set.fault_tolerance_power(), "n = {n}");
            assert!(bft <= total && fast <= total);
        }
    }

    #[test]
    fn duplicate_validator_is_rejected() {
        let (set, _) = validators(3);
        let mut list = set.validators().to_vec();
        list.push(list[0].clone());
        assert!(matches!(ValidatorSet::new(list), Err(ValidatorSetError::Duplicate(_))));
    }

    #[test]
    fn id_not_matching_key_is_rejected() {
        let (set, _) = validators(2);
        let mut list = set.validators().to_vec();
        list[0].id = NodeId([0xab; 32]);
        assert!(matches!(ValidatorSet::new(list), Err(ValidatorSetError::IdMismatch(_))));
    }

    #[test]
    fn empty_set_is_rejected() {
        assert_eq!(ValidatorSet::new(vec![]), Err(ValidatorSetError::Size(0)));
    }

    #[test]
    fn unsorted_encoding_is_rejected_on_decode() {
        let (set, _) = validators(3);
        let mut list = set.validators().to_vec();
        list.swap(0, 1);
        let bytes = crate::encoding::to_bytes(&list);
        assert!(crate::encoding::from_bytes::<ValidatorSet>(&bytes).is_err());
        let good = crate::encoding::to_bytes(&set);
        assert_eq!(crate::encoding::from_bytes::<ValidatorSet>(&good).unwrap(), set);
    }

    #[test]
    fn jailing_removes_the_validator_and_changes_the_hash() {
        let (set, _) = validators(4);
        let jailed = set.validators()[2].id;
        let next = set.without(&jailed).unwrap();
        assert_eq!(next.len(), 3);
        assert!(next.get(&jailed).is_none());
        assert_ne!(next.hash(), set.hash());
    }
}
