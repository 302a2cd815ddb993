//! Checkpoints: the "eigenvalue" of patent 8. At a checkpoint height H every validator
//! computes the digest of the data the chain shares up to H — the block hash, the state
//! root, and the root of an ordered Merkle tree over the hashes of the state snapshot's
//! chunks ([`crate::snapshot`]) — and signs it. A quorum of signatures over one digest
//! (the quorum of the mode the next height runs in, by the set that certifies it) is a
//! [`StableCheckpoint`]: a node that lost its data restores from it, chunk by chunk,
//! checking each against the signed chunk root; a light client may start from it instead
//! of following every validator-set change from genesis.
//!
//! A validator whose signed digest differs from the quorum's at the same height is named
//! by [`diverging`]: every honest node computes the same digest from the same block, so
//! its signature over another one shows it ran other state.

use serde::{Deserialize, Serialize};

use crate::crypto::{verify_batch, SecretKey, Signature};
use crate::encoding::to_bytes;
use crate::hash::{hash_value, BlockHash, Domain, Hash32};
use crate::ids::{ChainId, Height, NodeId};
use crate::validator::{ConsensusMode, ValidatorSet};
use crate::vote::{QcError, SignerBitmap};

/// Blocks between two checkpoints when the chain's configuration does not say.
pub const CHECKPOINT_INTERVAL_DEFAULT: u64 = 64;

/// The chain's checkpoint configuration (in its genesis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointConfig {
    /// Blocks between two checkpoints; 0: none.
    pub interval: u64,
    /// Largest encoded snapshot chunk, in bytes (at most, and by default,
    /// [`crate::snapshot::SNAPSHOT_CHUNK_BYTES_MAX`]): every node cuts alike.
    #[serde(default = "chunk_bytes_default")]
    pub chunk_bytes: u32,
}

fn chunk_bytes_default() -> u32 {
    crate::snapshot::SNAPSHOT_CHUNK_BYTES_MAX as u32
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self { interval: CHECKPOINT_INTERVAL_DEFAULT, chunk_bytes: chunk_bytes_default() }
    }
}

impl CheckpointConfig {
    /// The chunk size snapshots are cut at (the configured one, within the bound).
    pub fn chunk_bytes(&self) -> usize {
        (self.chunk_bytes as usize).clamp(1, crate::snapshot::SNAPSHOT_CHUNK_BYTES_MAX)
    }

    /// Whether validators make a checkpoint once `height` is committed.
    pub fn is_checkpoint(&self, height: Height) -> bool {
        self.interval > 0 && height.0 > 0 && height.0 % self.interval == 0
    }
}

/// Why a checkpoint vote or a stable checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the checkpoint is for chain `{found}`, this is `{expected}`")]
    WrongChain { expected: ChainId, found: ChainId },
    #[error("the checkpoint names validator set {named}, the set given is {given}")]
    OtherSet { named: Hash32, given: Hash32 },
    #[error("signer {0} is not in the validator set")]
    UnknownSigner(NodeId),
    #[error("a vote is for another digest than the checkpoint's")]
    DigestMismatch,
    #[error(transparent)]
    Certificate(#[from] QcError),
}

/// What a validator signs at a checkpoint height: the data the chain shares up to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointDigest {
    pub chain_id: ChainId,
    pub height: Height,
    /// The block committed at `height`.
    pub block_hash: BlockHash,
    /// The state after it (the block header's `state_root`).
    pub state_root: Hash32,
    /// Ordered Merkle root (count-bound) over the hashes of the state snapshot's chunks.
    pub chunk_root: Hash32,
    pub chunk_count: u32,
    /// The set that certifies height `height + 1`, which signs this digest: where a
    /// light client that starts here goes on from.
    pub next_validator_set_hash: Hash32,
    /// The mode height `height + 1` runs in, whose quorum makes the checkpoint stable.
    pub next_mode: ConsensusMode,
}

impl CheckpointDigest {
    /// The digest's id (what a user may pin to start a light client from it).
    pub fn hash(&self) -> Hash32 {
        hash_value(Domain::CheckpointDigest, self)
    }

    /// Signs the digest as validator `signer`.
    pub fn sign(&self, signer: NodeId, key: &SecretKey) -> CheckpointVote {
        CheckpointVote {
            digest: self.clone(),
            signer,
            signature: key.sign(Domain::CheckpointSignature, &to_bytes(self)),
        }
    }
}

/// One validator's signed digest at a checkpoint height (also its answer to a recovery
/// request for that height: the "recovery indication").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointVote {
    pub digest: CheckpointDigest,
    pub signer: NodeId,
    pub signature: Signature,
}

impl CheckpointVote {
    /// The signer is a member of `set` and the signature is its.
    pub fn verify(&self, set: &ValidatorSet) -> Result<(), CheckpointError> {
        let v = set.get(&self.signer).ok_or(CheckpointError::UnknownSigner(self.signer))?;
        v.consensus_key
            .verify(Domain::CheckpointSignature, &to_bytes(&self.digest), &self.signature)
            .map_err(|_| CheckpointError::Certificate(QcError::BadSignature))
    }
}

/// A digest signed by a quorum of the set that certifies the next height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StableCheckpoint {
    pub digest: CheckpointDigest,
    /// Which validators of that set signed (canonical index order).
    pub signers: SignerBitmap,
    /// One signature per set bit, in ascending index order.
    pub signatures: Vec<Signature>,
}

impl StableCheckpoint {
    /// Aggregates votes the caller has verified ([`CheckpointVote::verify`]) into a
    /// stable checkpoint; a vote for another digest is refused, a voter's second vote
    /// counts once. Fails without a quorum.
    pub fn from_verified_votes(
        digest: CheckpointDigest,
        votes: &[CheckpointVote],
        set: &ValidatorSet,
    ) -> Result<Self, CheckpointError> {
        check_set(&digest, set)?;
        let mut by_index: Vec<Option<Signature>> = vec![None; set.len()];
        for vote in votes {
            if vote.digest != digest {
                return Err(CheckpointError::DigestMismatch);
            }
            let index = set.index_of(&vote.signer).ok_or(CheckpointError::UnknownSigner(vote.signer))?;
            if let Some(slot) = by_index.get_mut(index) {
                *slot = Some(vote.signature);
            }
        }
        let (signers, signatures) = SignerBitmap::aggregate(by_index);
        let stable = Self { digest, signers, signatures };
        stable.check_quorum(set)?;
        Ok(stable)
    }

    /// Checks the chain, that `set` is the one the digest names, the quorum and every
    /// signature (batch-verified).
    ///
    /// The caller decides which set it trusts (one it followed through certified
    /// changes, or a digest hash the user pinned): any set can sign a digest that names
    /// it. The quorum is that of the digest's `next_mode`, which only a digest honest
    /// validators computed carries truly — a Byzantine minority claiming Fast on a Bft
    /// chain still lacks the majority that Fast asks, as honest validators sign only the
    /// digest they computed.
    pub fn verify(&self, chain_id: &ChainId, set: &ValidatorSet) -> Result<(), CheckpointError> {
        if &self.digest.chain_id != chain_id {
            return Err(CheckpointError::WrongChain {
                expected: chain_id.clone(),
                found: self.digest.chain_id.clone(),
            });
        }
        check_set(&self.digest, set)?;
        self.check_quorum(set)?;
        let message = to_bytes(&self.digest);
        let messages = vec![message.as_slice(); self.signatures.len()];
        let keys: Vec<_> = self.signers.indices().filter_map(|i| set.by_index(i)).map(|v| v.consensus_key).collect();
        verify_batch(Domain::CheckpointSignature, &messages, &self.signatures, &keys)
            .map_err(|_| CheckpointError::Certificate(QcError::BadSignature))
    }

    /// The validators that signed, in index order.
    pub fn signer_ids<'a>(&'a self, set: &'a ValidatorSet) -> impl Iterator<Item = NodeId> + 'a {
        self.signers.indices().filter_map(|i| set.by_index(i)).map(|v| v.id)
    }

    fn check_quorum(&self, set: &ValidatorSet) -> Result<(), CheckpointError> {
        Ok(self.signers.check_quorum(self.signatures.len(), set, self.digest.next_mode)?)
    }
}

fn check_set(digest: &CheckpointDigest, set: &ValidatorSet) -> Result<(), CheckpointError> {
    if set.hash() != digest.next_validator_set_hash {
        return Err(CheckpointError::OtherSet { named: digest.next_validator_set_hash, given: set.hash() });
    }
    Ok(())
}

/// The signers of verified `votes` at the stable checkpoint's height whose digest is not
/// the stable one: each vote is that validator's own signed statement that it holds
/// other data at that height.
pub fn diverging<'a>(
    stable: &'a StableCheckpoint,
    votes: &'a [CheckpointVote],
) -> impl Iterator<Item = &'a CheckpointVote> + 'a {
    let at = &stable.digest;
    votes.iter().filter(move |v| v.digest.chain_id == at.chain_id && v.digest.height == at.height && v.digest != *at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chain, validators};

    fn digest(set: &ValidatorSet, mode: ConsensusMode) -> CheckpointDigest {
        CheckpointDigest {
            chain_id: chain(),
            height: Height(64),
            block_hash: Hash32([1; 32]),
            state_root: Hash32([2; 32]),
            chunk_root: Hash32([3; 32]),
            chunk_count: 5,
            next_validator_set_hash: set.hash(),
            next_mode: mode,
        }
    }

    fn votes(d: &CheckpointDigest, set: &ValidatorSet, keys: &[SecretKey], n: usize) -> Vec<CheckpointVote> {
        keys.iter()
            .take(n)
            .map(|k| {
                let id = NodeId::from_public_key(&k.public_key());
                assert!(set.get(&id).is_some());
                d.sign(id, k)
            })
            .collect()
    }

    #[test]
    fn a_quorum_of_the_next_modes_signatures_makes_a_checkpoint_stable() {
        let (set, keys) = validators(4);
        let d = digest(&set, ConsensusMode::Bft);
        let three = votes(&d, &set, &keys, 3);
        for v in &three {
            v.verify(&set).unwrap();
        }
        let stable = StableCheckpoint::from_verified_votes(d.clone(), &three, &set).unwrap();
        stable.verify(&chain(), &set).unwrap();
        assert_eq!(stable.signer_ids(&set).count(), 3);
        // Two of four are a Fast quorum, not a Bft one.
        let two = votes(&d, &set, &keys, 2);
        assert!(matches!(
            StableCheckpoint::from_verified_votes(d, &two, &set),
            Err(CheckpointError::Certificate(QcError::NoQuorum { .. }))
        ));
        let fast = digest(&set, ConsensusMode::Fast);
        let stable = StableCheckpoint::from_verified_votes(fast.clone(), &votes(&fast, &set, &keys, 3), &set).unwrap();
        stable.verify(&chain(), &set).unwrap();
    }

    #[test]
    fn forged_altered_or_foreign_checkpoints_are_refused() {
        let (set, keys) = validators(4);
        let d = digest(&set, ConsensusMode::Bft);
        let stable = StableCheckpoint::from_verified_votes(d.clone(), &votes(&d, &set, &keys, 3), &set).unwrap();

        let mut altered = stable.clone();
        altered.digest.state_root = Hash32([9; 32]);
        assert_eq!(altered.verify(&chain(), &set), Err(CheckpointError::Certificate(QcError::BadSignature)));

        let mut dropped = stable.clone();
        dropped.signatures.pop();
        assert!(matches!(dropped.verify(&chain(), &set), Err(CheckpointError::Certificate(_))));

        let other_chain = ChainId::new("vigil-other").unwrap();
        assert!(matches!(stable.verify(&other_chain, &set), Err(CheckpointError::WrongChain { .. })));

        // Signed by keys of another set of the same size: that set is not the one named.
        let (other, other_keys) = validators(5);
        assert!(matches!(stable.verify(&chain(), &other), Err(CheckpointError::OtherSet { .. })));
        let forged = votes(&d, &set, &keys, 1).pop().unwrap();
        let mut by_outsider = forged.clone();
        by_outsider.signer = NodeId::from_public_key(&other_keys[4].public_key());
        assert!(matches!(by_outsider.verify(&set), Err(CheckpointError::UnknownSigner(_))));
        let mut wrong_key = forged;
        wrong_key.signature = other_keys[4].sign(Domain::CheckpointSignature, &to_bytes(&d));
        assert!(wrong_key.verify(&set).is_err());

        // A vote signed for a checkpoint is not a vote for anything else (its domain).
        let id = NodeId::from_public_key(&keys[0].public_key());
        let cross = CheckpointVote {
            digest: d.clone(),
            signer: id,
            signature: keys[0].sign(Domain::VoteSignature, &to_bytes(&d)),
        };
        assert!(cross.verify(&set).is_err());
    }

    #[test]
    fn a_vote_for_another_digest_is_refused_and_its_signer_named() {
        let (set, keys) = validators(4);
        let d = digest(&set, ConsensusMode::Bft);
        let mut all = votes(&d, &set, &keys, 3);
        let mut lie = d.clone();
        lie.chunk_root = Hash32([7; 32]);
        let liar = NodeId::from_public_key(&keys[3].public_key());
        all.push(lie.sign(liar, &keys[3]));
        assert_eq!(StableCheckpoint::from_verified_votes(d.clone(), &all, &set), Err(CheckpointError::DigestMismatch));
        // The same key's vote for another chain at that height is no divergence here.
        let mut elsewhere = d.clone();
        elsewhere.chain_id = ChainId::new("vigil-other").unwrap();
        all.push(elsewhere.sign(NodeId::from_public_key(&keys[0].public_key()), &keys[0]));
        let stable = StableCheckpoint::from_verified_votes(d, &all[..3], &set).unwrap();
        let named: Vec<NodeId> = diverging(&stable, &all).map(|v| v.signer).collect();
        assert_eq!(named, vec![liar]);
    }
}
