//! Blocks and headers.
//!
//! A header commits to the block's transactions (`tx_root`), their certified outcomes
//! (`receipts_root`), the authenticated state after executing them (`state_root`), the
//! validator set that certifies it and the one that certifies the next block, and the
//! consensus mode. A [`CertifiedHeader`] is a header with the quorum certificate that
//! commits it: the unit a light client checks.

use serde::{Deserialize, Serialize};

use crate::hash::{hash_value, BlockHash, Domain, Hash32, TxHash};
use crate::ids::{ChainId, Height, NodeId, View};
use crate::merkle;
use crate::receipt::ReceiptEntry;
use crate::transaction::SignedTransaction;
use crate::validator::{ConsensusMode, ValidatorSet};
use crate::vote::{QcError, QuorumCert};

/// Why a block or certified header is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block holds {0} transactions, more than the limit")]
    TooManyTransactions(usize),
    #[error("transactions do not match the header's tx root")]
    TxRootMismatch,
    #[error("validator set does not match the header's validator-set hash")]
    ValidatorSetMismatch,
    #[error("certificate is for another block or height")]
    CertificateForOtherBlock,
    #[error("certificate is a {found:?} quorum; a committed {mode} block needs a commit quorum of its own mode")]
    CertificateKind { found: crate::vote::VoteKind, mode: ConsensusMode },
    #[error("certificate is for chain `{found}`, header is for `{expected}`")]
    WrongChain { expected: ChainId, found: ChainId },
    #[error(transparent)]
    Certificate(#[from] QcError),
}

/// A block header: everything the certificate signs (through the header hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    pub chain_id: ChainId,
    pub height: Height,
    pub view: View,
    pub parent_hash: BlockHash,
    pub tx_root: Hash32,
    pub receipts_root: Hash32,
    pub state_root: Hash32,
    pub validator_set_hash: Hash32,
    pub next_validator_set_hash: Hash32,
    pub mode: ConsensusMode,
    pub proposer: NodeId,
    /// Proposer's clock, milliseconds since the Unix epoch; informational.
    pub time_ms: u64,
}

impl BlockHeader {
    pub fn hash(&self) -> BlockHash {
        hash_value(Domain::BlockHeader, self)
    }
}

/// A header and the transactions it orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<SignedTransaction>,
}

impl Block {
    /// Merkle root over the transactions' ids, in block order.
    pub fn tx_root(txs: &[SignedTransaction]) -> Hash32 {
        Self::tx_root_of(&txs.iter().map(SignedTransaction::hash).collect::<Vec<_>>())
    }

    /// [`Block::tx_root`] from the transactions' ids, for callers that have them.
    pub fn tx_root_of(hashes: &[TxHash]) -> Hash32 {
        let leaves: Vec<Hash32> = hashes.iter().map(|h| crate::hash::hash(Domain::TransactionLeaf, &h.0)).collect();
        merkle::root(&leaves)
    }

    /// Merkle root over receipt entries, in block order.
    pub fn receipts_root(entries: &[ReceiptEntry]) -> Hash32 {
        let leaves: Vec<Hash32> = entries.iter().map(ReceiptEntry::leaf_hash).collect();
        merkle::root(&leaves)
    }

    /// Proof of the entry at `index` against [`Block::receipts_root`] of `entries`.
    pub fn receipt_proof(entries: &[ReceiptEntry], index: usize) -> Option<merkle::MerkleProof> {
        let leaves: Vec<Hash32> = entries.iter().map(ReceiptEntry::leaf_hash).collect();
        merkle::prove(&leaves, index)
    }

    /// Checks the body against the header (size bound and tx root).
    pub fn check_body(&self) -> Result<(), BlockError> {
        self.check_body_hashed(&self.txs.iter().map(SignedTransaction::hash).collect::<Vec<_>>())
    }

    /// [`Block::check_body`] with the transactions' ids already computed (in order).
    pub fn check_body_hashed(&self, hashes: &[TxHash]) -> Result<(), BlockError> {
        if self.txs.len() > crate::limits::BLOCK_TXS_MAX {
            return Err(BlockError::TooManyTransactions(self.txs.len()));
        }
        if hashes.len() != self.txs.len() || Self::tx_root_of(hashes) != self.header.tx_root {
            return Err(BlockError::TxRootMismatch);
        }
        Ok(())
    }
}

/// A header with the certificate that commits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertifiedHeader {
    pub header: BlockHeader,
    pub cert: QuorumCert,
}

impl CertifiedHeader {
    /// Verifies that `set` is the header's validator set and that the certificate is a
    /// commit quorum of the header's mode on exactly this header.
    pub fn verify(&self, set: &ValidatorSet) -> Result<(), BlockError> {
        let (h, d) = (&self.header, &self.cert.data);
        if set.hash() != h.validator_set_hash {
            return Err(BlockError::ValidatorSetMismatch);
        }
        if d.chain_id != h.chain_id {
            return Err(BlockError::WrongChain { expected: h.chain_id.clone(), found: d.chain_id.clone() });
        }
        // The certificate's view may be later than the header's: a block proposed in one
        // view can be re-proposed (unchanged) and committed in a later one.
        if d.block_hash != h.hash() || d.height != h.height || d.view < h.view {
            return Err(BlockError::CertificateForOtherBlock);
        }
        if !d.kind.commits() || d.kind.mode() != h.mode {
            return Err(BlockError::CertificateKind { found: d.kind, mode: h.mode });
        }
        self.cert.verify(set)?;
        Ok(())
    }
}

/// A certified change of validator set: the header that committed it (its
/// `next_validator_set_hash` is the new set's hash) with its certificate by the old set,
/// and the new set. A light client follows these from the genesis set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetChange {
    pub certified: CertifiedHeader,
    pub next: ValidatorSet,
}

/// Why a chain of validator-set changes cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetChangeError {
    #[error("set change at height {height}: {source}")]
    Header { height: Height, source: BlockError },
    #[error("set change at height {0} does not lead to the set it names")]
    WrongNextSet(Height),
    #[error("set change at height {0} changes nothing")]
    NoChange(Height),
    #[error("set changes are not in increasing height order at height {0}")]
    OutOfOrder(Height),
}

/// Follows certified set changes from `trusted` (the genesis set, or one already
/// followed); returns the newest set. Each change must be certified by the set before it.
pub fn follow_set_changes(trusted: &ValidatorSet, changes: &[SetChange]) -> Result<ValidatorSet, SetChangeError> {
    let mut current = trusted.clone();
    let mut last = None;
    for change in changes {
        let h = &change.certified.header;
        if last.is_some_and(|l| h.height <= l) {
            return Err(SetChangeError::OutOfOrder(h.height));
        }
        change.certified.verify(&current).map_err(|source| SetChangeError::Header { height: h.height, source })?;
        if change.next.hash() != h.next_validator_set_hash {
            return Err(SetChangeError::WrongNextSet(h.height));
        }
        if h.next_validator_set_hash == h.validator_set_hash {
            return Err(SetChangeError::NoChange(h.height));
        }
        current = change.next.clone();
        last = Some(h.height);
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{certified_header, validators};
    use crate::vote::VoteKind;
    use crate::SecretKey;

    #[test]
    fn certified_header_verifies_against_its_set() {
        let (set, keys) = validators(4);
        let ch = certified_header(&set, &keys, Height(1), ConsensusMode::Bft, 3);
        ch.verify(&set).unwrap();
    }

    #[test]
    fn header_changed_after_certification_is_rejected() {
        let (set, keys) = validators(4);
        let mut ch = certified_header(&set, &keys, Height(1), ConsensusMode::Bft, 3);
        ch.header.state_root = Hash32([0xee; 32]);
        assert_eq!(ch.verify(&set), Err(BlockError::CertificateForOtherBlock));
    }

    #[test]
    fn header_with_another_validator_set_is_rejected() {
        let (set, keys) = validators(4);
        let (other, _) = validators(5);
        let ch = certified_header(&set, &keys, Height(1), ConsensusMode::Fast, 3);
        assert_eq!(ch.verify(&other), Err(BlockError::ValidatorSetMismatch));
    }

    #[test]
    fn bft_header_with_fast_certificate_is_rejected() {
        let (set, keys) = validators(4);
        let ch = certified_header(&set, &keys, Height(1), ConsensusMode::Fast, 3);
        let mut header = ch.header.clone();
        header.mode = ConsensusMode::Bft;
        let mut cert = ch.cert.clone();
        cert.data.block_hash = header.hash();
        let bad = CertifiedHeader { header, cert };
        assert!(matches!(bad.verify(&set), Err(BlockError::CertificateKind { found: VoteKind::Ack, .. })));
    }

    #[test]
    fn body_must_match_tx_root() {
        let (set, keys) = validators(4);
        let ch = certified_header(&set, &keys, Height(1), ConsensusMode::Fast, 3);
        let (tx, _) = crate::testutil::transfer(1, 0);
        let block = Block { header: ch.header, txs: vec![tx] };
        assert_eq!(block.check_body(), Err(BlockError::TxRootMismatch));
    }

    fn change(set: &ValidatorSet, keys: &[SecretKey], height: u64, next: &ValidatorSet) -> SetChange {
        let mut header = certified_header(set, keys, Height(height), ConsensusMode::Bft, keys.len()).header;
        header.next_validator_set_hash = next.hash();
        SetChange { certified: crate::testutil::certify(set, keys, header, keys.len()), next: next.clone() }
    }

    #[test]
    fn set_changes_are_followed_only_when_each_is_certified_by_the_set_before() {
        let (set, keys) = validators(4);
        let smaller = set.without(&set.validators()[3].id).unwrap();
        let signers: Vec<SecretKey> =
            keys.iter().filter(|k| smaller.get(&NodeId::from_public_key(&k.public_key())).is_some()).cloned().collect();
        let smallest = smaller.without(&smaller.validators()[0].id).unwrap();
        let chain = vec![change(&set, &keys, 5, &smaller), change(&smaller, &signers, 9, &smallest)];
        assert_eq!(follow_set_changes(&set, &chain).unwrap(), smallest);
        assert_eq!(follow_set_changes(&set, &[]).unwrap(), set);
        // Skipping the first change: the second is not certified by the trusted set.
        assert!(matches!(follow_set_changes(&set, &chain[1..]), Err(SetChangeError::Header { .. })));
        // A validator that invents a set of its own, "certified" by itself alone.
        let (mine, my_keys) = validators(1);
        let forged = change(&mine, &my_keys, 6, &mine);
        assert!(matches!(follow_set_changes(&set, &[forged]), Err(SetChangeError::Header { .. })));
        // The right certificate, another set.
        let mut swapped = chain[0].clone();
        swapped.next = smallest.clone();
        assert_eq!(follow_set_changes(&set, &[swapped]), Err(SetChangeError::WrongNextSet(Height(5))));
        let reordered = vec![chain[0].clone(), chain[0].clone()];
        assert_eq!(follow_set_changes(&set, &reordered), Err(SetChangeError::OutOfOrder(Height(5))));
    }
}
