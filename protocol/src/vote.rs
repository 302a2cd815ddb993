//! Votes and quorum certificates.
//!
//! Every validator that votes signs the same [`VoteData`]; a [`QuorumCert`] gathers enough
//! of those signatures (by voting power, per [`ValidatorSet::quorum_power`]) with a
//! bitmap saying who signed. Verifying a certificate is what lets a light client
//! accept a header without trusting any single node; it uses batch verification.

use serde::{Deserialize, Serialize};

use crate::crypto::{verify_batch, CryptoError, PublicKey, SecretKey, Signature};
use crate::encoding;
use crate::hash::{BlockHash, Domain};
use crate::ids::{ChainId, Height, NodeId, View};
use crate::limits::VALIDATORS_MAX;
use crate::validator::{ConsensusMode, ValidatorSet};

/// What a vote says about a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum VoteKind {
    /// Fast mode: a follower acknowledges the leader's proposal. A majority of acks
    /// commits the block.
    Ack,
    /// Bft mode, first phase: the block is valid and extends the voter's lock.
    Prevote,
    /// Bft mode, second phase: the voter saw a prevote quorum. 2f+1 precommits commit.
    Precommit,
}

impl VoteKind {
    /// The mode whose quorum rule applies to certificates of this kind.
    pub fn mode(self) -> ConsensusMode {
        match self {
            VoteKind::Ack => ConsensusMode::Fast,
            VoteKind::Prevote | VoteKind::Precommit => ConsensusMode::Bft,
        }
    }

    /// Whether a quorum of this kind proves the block committed.
    pub fn commits(self) -> bool {
        matches!(self, VoteKind::Ack | VoteKind::Precommit)
    }
}

/// The signed content of a vote. Identical for every voter on the same block and
/// phase, which is what makes batch verification of a certificate cheap.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VoteData {
    pub chain_id: ChainId,
    pub height: Height,
    pub view: View,
    pub block_hash: BlockHash,
    pub kind: VoteKind,
}

impl VoteData {
    pub fn signing_bytes(&self) -> Vec<u8> {
        encoding::to_bytes(self)
    }

    pub fn sign(&self, voter: NodeId, key: &SecretKey) -> Vote {
        Vote { data: self.clone(), voter, signature: key.sign(Domain::VoteSignature, &self.signing_bytes()) }
    }
}

/// One validator's signed vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub data: VoteData,
    pub voter: NodeId,
    pub signature: Signature,
}

impl Vote {
    /// Verifies the signature (ZIP-215, as everywhere) with the voter's key.
    pub fn verify_with_key(&self, key: &PublicKey) -> Result<(), CryptoError> {
        key.verify(Domain::VoteSignature, &self.data.signing_bytes(), &self.signature)
    }

    /// Verifies against a validator set: the voter must be a member.
    pub fn verify(&self, set: &ValidatorSet) -> Result<(), QcError> {
        let v = set.get(&self.voter).ok_or(QcError::UnknownVoter(self.voter))?;
        self.verify_with_key(&v.consensus_key).map_err(|_| QcError::BadSignature)
    }
}

/// Why a certificate (or a vote offered for one) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QcError {
    #[error("signer bitmap is {found} bytes, a set of {validators} validators needs {expected}")]
    BitmapLength { found: usize, expected: usize, validators: usize },
    #[error("signer bitmap names validator index {0}, beyond the set")]
    BitmapOutOfRange(usize),
    #[error("bitmap names {signers} signers but the certificate carries {signatures} signatures")]
    SignatureCount { signers: usize, signatures: usize },
    #[error("signers hold {power} voting power, {mode} mode needs {quorum}")]
    NoQuorum { power: u64, quorum: u64, mode: ConsensusMode },
    #[error("a signature in the certificate does not verify")]
    BadSignature,
    #[error("voter {0} is not in the validator set")]
    UnknownVoter(NodeId),
    #[error("vote is for different data than the certificate")]
    DataMismatch,
}

/// Which validators (by index in the canonical set order) signed: bit `i` of byte
/// `i / 8`, least significant bit first. Exactly `⌈n/8⌉` bytes, no bits past `n`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<u8>", into = "Vec<u8>")]
pub struct SignerBitmap(Vec<u8>);

impl SignerBitmap {
    pub fn empty(validators: usize) -> Self {
        Self(vec![0; validators.div_ceil(8)])
    }

    pub fn set(&mut self, index: usize) {
        if let Some(byte) = self.0.get_mut(index / 8) {
            *byte |= 1 << (index % 8);
        }
    }

    pub fn contains(&self, index: usize) -> bool {
        self.0.get(index / 8).is_some_and(|b| b & (1 << (index % 8)) != 0)
    }

    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// Signer indices in ascending order.
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.0.len() * 8).filter(|&i| self.contains(i))
    }

    /// The signers of `by_index` (a signature, or none, per validator index) and their
    /// signatures in ascending index order: what a certificate carries.
    pub(crate) fn aggregate(by_index: Vec<Option<Signature>>) -> (Self, Vec<Signature>) {
        let mut signers = SignerBitmap::empty(by_index.len());
        let mut signatures = Vec::new();
        for (i, signature) in by_index.into_iter().enumerate() {
            if let Some(signature) = signature {
                signers.set(i);
                signatures.push(signature);
            }
        }
        (signers, signatures)
    }

    /// A certificate's shape and weight: the bitmap fits `set`, one signature per signer,
    /// and the signers hold `mode`'s quorum of its power.
    pub(crate) fn check_quorum(
        &self,
        signatures: usize,
        set: &ValidatorSet,
        mode: ConsensusMode,
    ) -> Result<(), QcError> {
        self.check(set.len())?;
        let signers = self.count();
        if signers != signatures {
            return Err(QcError::SignatureCount { signers, signatures });
        }
        let (power, quorum) = (set.power_of(self.indices()), set.quorum_power(mode));
        if power < quorum {
            return Err(QcError::NoQuorum { power, quorum, mode });
        }
        Ok(())
    }

    pub(crate) fn check(&self, validators: usize) -> Result<(), QcError> {
        let expected = validators.div_ceil(8);
        if self.0.len() != expected {
            return Err(QcError::BitmapLength { found: self.0.len(), expected, validators });
        }
        match self.indices().find(|&i| i >= validators) {
            Some(i) => Err(QcError::BitmapOutOfRange(i)),
            None => Ok(()),
        }
    }
}

impl TryFrom<Vec<u8>> for SignerBitmap {
    type Error = QcError;
    fn try_from(v: Vec<u8>) -> Result<Self, Self::Error> {
        let max = VALIDATORS_MAX.div_ceil(8);
        if v.len() > max {
            return Err(QcError::BitmapLength { found: v.len(), expected: max, validators: VALIDATORS_MAX });
        }
        Ok(Self(v))
    }
}

impl From<SignerBitmap> for Vec<u8> {
    fn from(b: SignerBitmap) -> Self {
        b.0
    }
}

/// A quorum of signatures on one [`VoteData`]: the certificate of a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumCert {
    pub data: VoteData,
    pub signers: SignerBitmap,
    /// One signature per set bit, in ascending index order.
    pub signatures: Vec<Signature>,
}

/// Part of a quorum certificate's signatures, verified apart from the rest (on another
/// thread, in the wallet): each is a signature of `data` by the key at its position.
/// [`QuorumCert::vote_batches`] makes them after checking the certificate's shape and
/// quorum, which a batch alone cannot show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteBatch {
    pub data: VoteData,
    pub keys: Vec<PublicKey>,
    pub signatures: Vec<Signature>,
}

impl VoteBatch {
    /// Every signature, batch-verified (a shape mismatch fails too).
    pub fn verify(&self) -> Result<(), QcError> {
        let message = self.data.signing_bytes();
        let messages = vec![message.as_slice(); self.signatures.len()];
        verify_batch(Domain::VoteSignature, &messages, &self.signatures, &self.keys).map_err(|_| QcError::BadSignature)
    }
}

impl QuorumCert {
    /// Aggregates votes into a certificate, verifying each vote. Duplicate
    /// votes from one voter count once. Fails without a quorum.
    pub fn from_votes(data: VoteData, votes: &[Vote], set: &ValidatorSet) -> Result<Self, QcError> {
        for vote in votes {
            vote.verify(set)?;
        }
        Self::from_verified_votes(data, votes, set)
    }

    /// Aggregates votes whose signatures the caller has already verified (as a
    /// node does once per incoming vote). Still checks data, membership and quorum.
    pub fn from_verified_votes(data: VoteData, votes: &[Vote], set: &ValidatorSet) -> Result<Self, QcError> {
        let mut by_index: Vec<Option<Signature>> = vec![None; set.len()];
        for vote in votes {
            if vote.data != data {
                return Err(QcError::DataMismatch);
            }
            let index = set.index_of(&vote.voter).ok_or(QcError::UnknownVoter(vote.voter))?;
            by_index[index] = Some(vote.signature);
        }
        let (signers, signatures) = SignerBitmap::aggregate(by_index);
        let qc = Self { data, signers, signatures };
        qc.check_quorum(set)?;
        Ok(qc)
    }

    fn check_quorum(&self, set: &ValidatorSet) -> Result<(), QcError> {
        self.signers.check_quorum(self.signatures.len(), set, self.data.kind.mode())
    }

    /// Checks shape, quorum and every signature (batch-verified) against `set`.
    pub fn verify(&self, set: &ValidatorSet) -> Result<(), QcError> {
        self.vote_batches(set, 1)?.iter().try_for_each(VoteBatch::verify)
    }

    /// Checks shape and quorum against `set`, then splits the signatures, with their
    /// signers' keys, into at most `parts` batches of about equal size (at least one
    /// signature each), for threads to verify apart: the certificate verifies exactly
    /// when every batch does. There is always at least one batch.
    pub fn vote_batches(&self, set: &ValidatorSet, parts: usize) -> Result<Vec<VoteBatch>, QcError> {
        self.check_quorum(set)?;
        let keys: Vec<PublicKey> =
            self.signers.indices().filter_map(|i| set.by_index(i)).map(|v| v.consensus_key).collect();
        // `check_quorum` held the bitmap to the set and to the signature count; a mismatch
        // here would let `zip` below drop signatures unchecked.
        if keys.len() != self.signatures.len() {
            return Err(QcError::SignatureCount { signers: keys.len(), signatures: self.signatures.len() });
        }
        debug_assert!(!keys.is_empty(), "a quorum has signers");
        let per = keys.len().div_ceil(parts.max(1)).max(1);
        let batches: Vec<VoteBatch> = keys
            .chunks(per)
            .zip(self.signatures.chunks(per))
            .map(|(keys, signatures)| VoteBatch {
                data: self.data.clone(),
                keys: keys.to_vec(),
                signatures: signatures.to_vec(),
            })
            .collect();
        if batches.is_empty() {
            return Err(QcError::SignatureCount { signers: 0, signatures: 0 });
        }
        Ok(batches)
    }

    /// The validators that signed, in index order.
    pub fn signer_ids<'a>(&'a self, set: &'a ValidatorSet) -> impl Iterator<Item = NodeId> + 'a {
        self.signers.indices().filter_map(|i| set.by_index(i)).map(|v| v.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hash32;
    use crate::testutil::{chain, quorum_cert, validators};

    fn data(kind: VoteKind) -> VoteData {
        VoteData { chain_id: chain(), height: Height(3), view: View(0), block_hash: Hash32([7; 32]), kind }
    }

    #[test]
    fn four_validator_certificate_with_three_signers_verifies() {
        let (set, keys) = validators(4);
        let qc = quorum_cert(&set, &keys, data(VoteKind::Precommit), 3);
        qc.verify(&set).unwrap();
        assert_eq!(qc.signer_ids(&set).count(), 3);
    }

    #[test]
    fn vote_batches_split_a_certificate_into_parts_that_verify_exactly_when_it_does() {
        let (set, keys) = validators(10);
        let qc = quorum_cert(&set, &keys, data(VoteKind::Precommit), 10);
        for (parts, sizes) in [(1, vec![10]), (2, vec![5, 5]), (3, vec![4, 4, 2]), (0, vec![10]), (25, vec![1; 10])] {
            let batches = qc.vote_batches(&set, parts).unwrap();
            assert_eq!(batches.iter().map(|b| b.signatures.len()).collect::<Vec<_>>(), sizes, "{parts} parts");
            // In order, every signature once, each beside its signer's key.
            let sigs: Vec<Signature> = batches.iter().flat_map(|b| b.signatures.clone()).collect();
            assert_eq!(sigs, qc.signatures);
            let signers: Vec<PublicKey> = batches.iter().flat_map(|b| b.keys.clone()).collect();
            assert_eq!(signers, set.validators().iter().map(|v| v.consensus_key).collect::<Vec<_>>());
            batches.iter().for_each(|b| b.verify().unwrap());
        }
        // One forged signature fails the batch that holds it, and only that one.
        let mut forged = qc.clone();
        forged.signatures[9] = forged.signatures[0];
        let batches = forged.vote_batches(&set, 2).unwrap();
        assert_eq!(batches[0].verify(), Ok(()));
        assert_eq!(batches[1].verify(), Err(QcError::BadSignature));
        assert_eq!(forged.verify(&set), Err(QcError::BadSignature));
        // A batch with a key missing, or for other data, fails whole.
        let mut short = qc.vote_batches(&set, 1).unwrap().remove(0);
        short.keys.pop();
        assert_eq!(short.verify(), Err(QcError::BadSignature));
        let mut moved = qc.vote_batches(&set, 2).unwrap().remove(0);
        moved.data.height = Height(4);
        assert_eq!(moved.verify(), Err(QcError::BadSignature));
    }

    #[test]
    fn vote_batches_are_refused_for_a_certificate_without_quorum() {
        let (set, keys) = validators(4);
        let qc = quorum_cert(&set, &keys, data(VoteKind::Precommit), 2);
        assert!(matches!(qc.vote_batches(&set, 2), Err(QcError::NoQuorum { .. })));
    }

    #[test]
    fn two_of_four_is_not_a_quorum_in_either_mode() {
        let (set, keys) = validators(4);
        for kind in [VoteKind::Ack, VoteKind::Precommit] {
            let mut qc = quorum_cert(&set, &keys, data(kind), 3);
            // Drop the last signer.
            let last = qc.signers.indices().last().unwrap();
            qc.signers = {
                let mut b = SignerBitmap::empty(4);
                qc.signers.indices().filter(|&i| i != last).for_each(|i| b.set(i));
                b
            };
            qc.signatures.pop();
            assert!(matches!(qc.verify(&set), Err(QcError::NoQuorum { power: 2, quorum: 3, .. })));
        }
    }

    #[test]
    fn fast_mode_needs_a_majority_and_bft_two_thirds_of_seven() {
        let (set, keys) = validators(7);
        quorum_cert(&set, &keys, data(VoteKind::Ack), 4).verify(&set).unwrap();
        let qc = quorum_cert(&set, &keys, data(VoteKind::Precommit), 4);
        assert!(matches!(qc.verify(&set), Err(QcError::NoQuorum { power: 4, quorum: 5, .. })));
        quorum_cert(&set, &keys, data(VoteKind::Precommit), 5).verify(&set).unwrap();
    }

    #[test]
    fn certificate_for_other_data_fails() {
        let (set, keys) = validators(4);
        let mut qc = quorum_cert(&set, &keys, data(VoteKind::Precommit), 3);
        qc.data.block_hash = Hash32([8; 32]);
        assert_eq!(qc.verify(&set), Err(QcError::BadSignature));
    }

    #[test]
    fn swapped_signatures_fail() {
        let (set, keys) = validators(4);
        let mut qc = quorum_cert(&set, &keys, data(VoteKind::Precommit), 3);
        qc.signatures.swap(0, 1);
        assert_eq!(qc.verify(&set), Err(QcError::BadSignature));
    }

    #[test]
    fn bitmap_with_bits_beyond_the_set_is_rejected() {
        let (set, keys) = validators(4);
        let mut qc = quorum_cert(&set, &keys, data(VoteKind::Precommit), 3);
        qc.signers.set(6);
        qc.signatures.push(qc.signatures[0]);
        assert_eq!(qc.verify(&set), Err(QcError::BitmapOutOfRange(6)));
    }

    #[test]
    fn duplicate_votes_count_once() {
        let (set, keys) = validators(4);
        let d = data(VoteKind::Precommit);
        let v0 = set.validators()[0].id;
        let k0 = keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == v0).unwrap();
        let vote = d.sign(v0, k0);
        let votes = vec![vote.clone(), vote.clone(), vote];
        assert!(matches!(QuorumCert::from_votes(d, &votes, &set), Err(QcError::NoQuorum { power: 1, .. })));
    }

    #[test]
    fn vote_from_outside_the_set_is_refused() {
        let (set, _) = validators(4);
        let outsider = SecretKey::from_seed([200; 32]);
        let id = NodeId::from_public_key(&outsider.public_key());
        let d = data(VoteKind::Precommit);
        let vote = d.sign(id, &outsider);
        assert_eq!(QuorumCert::from_votes(d, &[vote], &set), Err(QcError::UnknownVoter(id)));
    }
}
