//! Blocks and headers.
//!
//! A header commits to the block's transactions (`tx_root`), their certified outcomes
//! (`receipts_root`), the authenticated state after executing them (`state_root`), the
//! validator set that certifies it and the one that certifies the next block, and the
//! consensus mode. A [`CertifiedHeader`] is a header with the quorum certificate that
//! commits it: the unit a light client checks.

use serde::{Deserialize, Serialize};

use crate::hash::{hash_value, BlockHash, Domain, Hash32};
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
        let leaves: Vec<Hash32> = txs.iter().map(|t| crate::hash::hash(Domain::TransactionLeaf, &t.hash().0)).collect();
        merkle::root(&leaves)
    }

    /// Merkle root over receipt entries, in block order.
    pub fn receipts_root(entries: &[ReceiptEntry]) -> Hash32 {
        let leaves: Vec<Hash32> = entries.iter().map(ReceiptEntry::leaf_hash).collect();
        merkle::root(&leaves)
    }

    /// Checks the body against the header (size bound and tx root).
    pub fn check_body(&self) -> Result<(), BlockError> {
        if self.txs.len() > crate::limits::BLOCK_TXS_MAX {
            return Err(BlockError::TooManyTransactions(self.txs.len()));
        }
        if Self::tx_root(&self.txs) != self.header.tx_root {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{certified_header, validators};
    use crate::vote::VoteKind;

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
}
