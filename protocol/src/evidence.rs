//! Fault evidence: signed statements that prove a validator misbehaved.
//!
//! Two shapes prove a fault without trusting whoever submits them:
//! - **Equivocation**: two different statements signed by one validator for the same
//!   slot, which an honest validator never signs: two receipts for one position of one
//!   block (height and index) that disagree, or two votes of one kind at one height and
//!   view for different blocks. Two receipts for one transaction at *different*
//!   positions are not a slot conflict: the statements must be impossible for an honest
//!   node, not merely unusual, or a replayed transaction could jail honest validators.
//! - **Receipt contradicting a certified block**: a validator signed a receipt saying
//!   position `i` of block `h` holds some outcome, while the block's receipts root,
//!   certified by a quorum, holds another entry there (shown with a Merkle proof).
//!
//! [`FaultEvidence::verify`] is deterministic and depends only on its arguments, so every
//! node reaches the same verdict.

use serde::{Deserialize, Serialize};

use crate::block::{BlockError, CertifiedHeader};
use crate::fast::{self, Promise};
use crate::hash::BlockHash;
use crate::ids::{ChainId, Height, NodeId, View};
use crate::merkle::{MerkleError, MerkleProof};
use crate::receipt::{ReceiptEntry, SignedReceipt};
use crate::validator::ValidatorSet;
use crate::vote::{Vote, VoteKind};

/// Why evidence does not prove a fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("evidence is for chain `{found}`, this is `{expected}`")]
    WrongChain { expected: ChainId, found: ChainId },
    #[error("{0} is not a validator of the set in force at that height")]
    UnknownValidator(NodeId),
    #[error("the two statements are signed by different validators")]
    DifferentSigners,
    #[error("the two statements are identical, which is no fault")]
    IdenticalStatements,
    #[error("the two statements are about different things, so they do not conflict")]
    NotConflicting,
    #[error("a statement's signature is forged or corrupt")]
    ForgedSignature,
    #[error("the receipt agrees with the certified block")]
    ReceiptAgreesWithBlock,
    #[error(
        "the receipt names block {receipt} at its height, the certified header is block {header}: a fork, not a lie"
    )]
    OtherBlock { receipt: BlockHash, header: BlockHash },
    #[error("the receipt is for height {receipt}, the certified header for {header}")]
    HeightMismatch { receipt: Height, header: Height },
    #[error("the proof is for position {proof}, the receipt claims {receipt}")]
    PositionMismatch { proof: u64, receipt: u32 },
    #[error("certified header: {0}")]
    Certificate(#[from] BlockError),
    #[error("receipt proof: {0}")]
    Proof(#[from] MerkleError),
}

/// Something a validator signs and must never contradict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignedStatement {
    Receipt(SignedReceipt),
    Vote(Vote),
    /// A Fast-mode promise (view change).
    Promise(Promise),
}

/// What a statement must be unique for: two statements for one slot must agree.
#[derive(Debug, PartialEq, Eq)]
enum Slot {
    /// An honest node commits one block per height and signs receipts only for it.
    Receipt {
        height: Height,
        tx_index: u32,
    },
    Vote {
        height: Height,
        view: View,
        kind: VoteKind,
    },
}

impl SignedStatement {
    pub fn signer(&self) -> NodeId {
        match self {
            SignedStatement::Receipt(r) => r.receipt.node,
            SignedStatement::Vote(v) => v.voter,
            SignedStatement::Promise(p) => p.voter,
        }
    }

    fn chain_id(&self) -> &ChainId {
        match self {
            SignedStatement::Receipt(r) => &r.receipt.chain_id,
            SignedStatement::Vote(v) => &v.data.chain_id,
            SignedStatement::Promise(p) => &p.data.chain_id,
        }
    }

    /// The height whose validator set judges this statement.
    pub fn height(&self) -> Height {
        match self {
            SignedStatement::Receipt(r) => r.receipt.height,
            SignedStatement::Vote(v) => v.data.height,
            SignedStatement::Promise(p) => p.data.height,
        }
    }

    fn slot(&self) -> Option<Slot> {
        match self {
            SignedStatement::Receipt(r) => {
                Some(Slot::Receipt { height: r.receipt.height, tx_index: r.receipt.tx_index })
            }
            SignedStatement::Vote(v) => {
                Some(Slot::Vote { height: v.data.height, view: v.data.view, kind: v.data.kind })
            }
            SignedStatement::Promise(_) => None,
        }
    }

    /// Whether these two statements (of one signer, with different contents) cannot
    /// both be honest: one slot signed twice, or the Fast-mode rules of
    /// [`crate::fast`] (acks never go back in view, a promise reports every ack below it).
    fn conflicts_with(&self, other: &Self) -> bool {
        use SignedStatement as S;
        match (self, other) {
            (S::Vote(a), S::Vote(b)) if fast::acks_regress(a, b) => true,
            (S::Vote(ack), S::Promise(p)) | (S::Promise(p), S::Vote(ack)) => fast::ack_and_promise_conflict(ack, p),
            (S::Promise(a), S::Promise(b)) => fast::promises_conflict(a, b),
            _ => self.slot().is_some() && self.slot() == other.slot(),
        }
    }

    /// Whether these two statements could be evidence against their signer (one signer,
    /// different contents, a conflicting pair), before any signature is checked.
    pub(crate) fn may_conflict_with(&self, other: &Self) -> bool {
        self.signer() == other.signer() && !self.same_content(other) && self.conflicts_with(other)
    }

    /// Whether the signed contents (not the signatures) are equal.
    fn same_content(&self, other: &Self) -> bool {
        match (self, other) {
            (SignedStatement::Receipt(a), SignedStatement::Receipt(b)) => a.receipt == b.receipt,
            (SignedStatement::Vote(a), SignedStatement::Vote(b)) => a.data == b.data && a.voter == b.voter,
            (SignedStatement::Promise(a), SignedStatement::Promise(b)) => a.data == b.data && a.voter == b.voter,
            _ => false,
        }
    }

    fn verify_signature(&self, set: &ValidatorSet) -> Result<(), EvidenceError> {
        let signer = self.signer();
        let key = set.get(&signer).ok_or(EvidenceError::UnknownValidator(signer))?.consensus_key;
        let ok = match self {
            SignedStatement::Receipt(r) => r.verify(&key),
            SignedStatement::Vote(v) => v.verify_with_key(&key),
            SignedStatement::Promise(p) => return p.verify(set).map_err(|_| EvidenceError::ForgedSignature),
        };
        ok.map_err(|_| EvidenceError::ForgedSignature)
    }
}

/// A receipt that contradicts a certified block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContradictedReceipt {
    /// The offending node's signed receipt.
    pub receipt: SignedReceipt,
    /// The block at the receipt's height, with its commit certificate.
    pub certified: CertifiedHeader,
    /// What the block really holds at the receipt's position.
    pub certified_entry: ReceiptEntry,
    /// Proof of `certified_entry` against `certified.header.receipts_root`.
    pub proof: MerkleProof,
}

/// Proof that one validator is faulty.
// Evidence is rare and travels boxed inside `Payload`, so the unboxed equivocation
// variant's size costs nothing where it matters.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultEvidence {
    Equivocation { first: SignedStatement, second: SignedStatement },
    ReceiptContradictsBlock(Box<ContradictedReceipt>),
}

impl FaultEvidence {
    /// The validator this evidence accuses (valid or not).
    pub fn accused(&self) -> NodeId {
        match self {
            FaultEvidence::Equivocation { first, .. } => first.signer(),
            FaultEvidence::ReceiptContradictsBlock(c) => c.receipt.receipt.node,
        }
    }

    /// The height whose validator set must be passed to [`FaultEvidence::verify`].
    pub fn height(&self) -> Height {
        match self {
            FaultEvidence::Equivocation { first, .. } => first.height(),
            FaultEvidence::ReceiptContradictsBlock(c) => c.receipt.receipt.height,
        }
    }

    /// Checks the evidence against `set`, the validator set in force at
    /// [`FaultEvidence::height`]. Returns the proven offender.
    pub fn verify(&self, chain_id: &ChainId, set: &ValidatorSet) -> Result<NodeId, EvidenceError> {
        match self {
            FaultEvidence::Equivocation { first, second } => {
                for s in [first, second] {
                    if s.chain_id() != chain_id {
                        return Err(EvidenceError::WrongChain {
                            expected: chain_id.clone(),
                            found: s.chain_id().clone(),
                        });
                    }
                }
                if first.signer() != second.signer() {
                    return Err(EvidenceError::DifferentSigners);
                }
                if set.get(&first.signer()).is_none() {
                    return Err(EvidenceError::UnknownValidator(first.signer()));
                }
                if first.same_content(second) {
                    return Err(EvidenceError::IdenticalStatements);
                }
                if !first.conflicts_with(second) {
                    return Err(EvidenceError::NotConflicting);
                }
                first.verify_signature(set)?;
                second.verify_signature(set)?;
                Ok(first.signer())
            }
            FaultEvidence::ReceiptContradictsBlock(c) => {
                let r = &c.receipt.receipt;
                if &r.chain_id != chain_id {
                    return Err(EvidenceError::WrongChain { expected: chain_id.clone(), found: r.chain_id.clone() });
                }
                let statement = SignedStatement::Receipt(c.receipt.clone());
                statement.verify_signature(set)?;
                let header = &c.certified.header;
                if r.height != header.height {
                    return Err(EvidenceError::HeightMismatch { receipt: r.height, header: header.height });
                }
                if r.block_hash != header.hash() {
                    return Err(EvidenceError::OtherBlock { receipt: r.block_hash, header: header.hash() });
                }
                if c.proof.index != u64::from(r.tx_index) {
                    return Err(EvidenceError::PositionMismatch { proof: c.proof.index, receipt: r.tx_index });
                }
                c.certified.verify(set)?;
                c.proof.verify(&c.certified_entry.leaf_hash(), &header.receipts_root)?;
                if c.certified_entry == r.entry {
                    return Err(EvidenceError::ReceiptAgreesWithBlock);
                }
                Ok(r.node)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{Block, BlockHeader};
    use crate::crypto::SecretKey;
    use crate::hash::Hash32;
    use crate::receipt::{FailureCode, Receipt, TxStatus};
    use crate::testutil::{certify, chain, key_of, validators};
    use crate::validator::ConsensusMode;
    use crate::vote::VoteData;

    fn entry(tx: u8, status: TxStatus) -> ReceiptEntry {
        ReceiptEntry { tx_hash: Hash32([tx; 32]), status, result_hash: Hash32([tx ^ 0xff; 32]) }
    }

    fn receipt(node: NodeId, key: &SecretKey, height: u64, index: u32, e: ReceiptEntry) -> SignedReceipt {
        receipt_in(Hash32([0xb0; 32]), node, key, height, index, e)
    }

    fn receipt_in(
        block_hash: BlockHash,
        node: NodeId,
        key: &SecretKey,
        height: u64,
        index: u32,
        e: ReceiptEntry,
    ) -> SignedReceipt {
        Receipt { chain_id: chain(), height: Height(height), block_hash, tx_index: index, entry: e, node }.sign(key)
    }

    fn vote(node: NodeId, key: &SecretKey, block: u8) -> Vote {
        VoteData {
            chain_id: chain(),
            height: Height(9),
            view: View(1),
            block_hash: Hash32([block; 32]),
            kind: VoteKind::Prevote,
        }
        .sign(node, key)
    }

    #[test]
    fn two_receipts_with_different_outcomes_prove_equivocation() {
        let (set, keys) = validators(4);
        let node = set.validators()[1].id;
        let key = key_of(&keys, node);
        let a = receipt(node, key, 4, 0, entry(1, TxStatus::Success));
        let b = receipt(node, key, 4, 0, entry(1, TxStatus::Failed(FailureCode::InsufficientBalance)));
        let ev =
            FaultEvidence::Equivocation { first: SignedStatement::Receipt(a), second: SignedStatement::Receipt(b) };
        assert_eq!(ev.verify(&chain(), &set), Ok(node));
    }

    /// Finding 1 of the soundness review: a transaction committed twice (a replay) gets
    /// two honest receipts at two positions. They must not prove anything, or anyone
    /// who can get a transaction re-included jails honest validators. (On 35b51aa the
    /// slot was the tx hash alone and this pair jailed the node.)
    #[test]
    fn two_receipts_for_one_transaction_at_different_positions_do_not_conflict() {
        let (set, keys) = validators(4);
        let node = set.validators()[1].id;
        let key = key_of(&keys, node);
        let failed = entry(1, TxStatus::Failed(FailureCode::InsufficientBalance));
        let a = receipt(node, key, 4, 0, failed.clone());
        let b = receipt(node, key, 9, 2, entry(1, TxStatus::Success));
        let ev =
            FaultEvidence::Equivocation { first: SignedStatement::Receipt(a), second: SignedStatement::Receipt(b) };
        assert_eq!(ev.verify(&chain(), &set), Err(EvidenceError::NotConflicting));
        // One position, two outcomes: that an honest node never signs.
        let c = receipt(node, key, 9, 2, failed);
        let d = receipt(node, key, 9, 2, entry(1, TxStatus::Success));
        let ev =
            FaultEvidence::Equivocation { first: SignedStatement::Receipt(c), second: SignedStatement::Receipt(d) };
        assert_eq!(ev.verify(&chain(), &set), Ok(node));
    }

    #[test]
    fn two_votes_for_different_blocks_prove_equivocation() {
        let (set, keys) = validators(4);
        let node = set.validators()[2].id;
        let key = key_of(&keys, node);
        let ev = FaultEvidence::Equivocation {
            first: SignedStatement::Vote(vote(node, key, 1)),
            second: SignedStatement::Vote(vote(node, key, 2)),
        };
        assert_eq!(ev.verify(&chain(), &set), Ok(node));
    }

    #[test]
    fn evidence_with_forged_signature_is_rejected() {
        let (set, keys) = validators(4);
        let node = set.validators()[1].id;
        let a = receipt(node, key_of(&keys, node), 4, 0, entry(1, TxStatus::Success));
        // Signed by someone else but naming `node`.
        let b =
            receipt(node, &SecretKey::from_seed([77; 32]), 4, 0, entry(1, TxStatus::Failed(FailureCode::InvalidNonce)));
        let ev =
            FaultEvidence::Equivocation { first: SignedStatement::Receipt(a), second: SignedStatement::Receipt(b) };
        assert_eq!(ev.verify(&chain(), &set), Err(EvidenceError::ForgedSignature));
    }

    #[test]
    fn evidence_about_two_identical_statements_is_rejected() {
        let (set, keys) = validators(4);
        let node = set.validators()[0].id;
        let a = receipt(node, key_of(&keys, node), 4, 0, entry(1, TxStatus::Success));
        let ev = FaultEvidence::Equivocation {
            first: SignedStatement::Receipt(a.clone()),
            second: SignedStatement::Receipt(a),
        };
        assert_eq!(ev.verify(&chain(), &set), Err(EvidenceError::IdenticalStatements));
    }

    #[test]
    fn evidence_against_a_non_validator_is_rejected() {
        let (set, _) = validators(4);
        let outsider = SecretKey::from_seed([55; 32]);
        let id = NodeId::from_public_key(&outsider.public_key());
        let ev = FaultEvidence::Equivocation {
            first: SignedStatement::Vote(vote(id, &outsider, 1)),
            second: SignedStatement::Vote(vote(id, &outsider, 2)),
        };
        assert_eq!(ev.verify(&chain(), &set), Err(EvidenceError::UnknownValidator(id)));
    }

    #[test]
    fn statements_by_two_validators_do_not_prove_anything() {
        let (set, keys) = validators(4);
        let (n0, n1) = (set.validators()[0].id, set.validators()[1].id);
        let ev = FaultEvidence::Equivocation {
            first: SignedStatement::Vote(vote(n0, key_of(&keys, n0), 1)),
            second: SignedStatement::Vote(vote(n1, key_of(&keys, n1), 2)),
        };
        assert_eq!(ev.verify(&chain(), &set), Err(EvidenceError::DifferentSigners));
    }

    #[test]
    fn votes_in_different_views_do_not_conflict() {
        let (set, keys) = validators(4);
        let node = set.validators()[0].id;
        let key = key_of(&keys, node);
        let mut second = vote(node, key, 2);
        second.data.view = View(2);
        let second = second.data.sign(node, key);
        let ev = FaultEvidence::Equivocation {
            first: SignedStatement::Vote(vote(node, key, 1)),
            second: SignedStatement::Vote(second),
        };
        assert_eq!(ev.verify(&chain(), &set), Err(EvidenceError::NotConflicting));
    }

    fn certified_block(set: &ValidatorSet, keys: &[SecretKey], entries: &[ReceiptEntry]) -> CertifiedHeader {
        let header = BlockHeader {
            chain_id: chain(),
            height: Height(4),
            view: View(0),
            parent_hash: Hash32([0; 32]),
            tx_root: Hash32([0; 32]),
            receipts_root: Block::receipts_root(entries),
            state_root: Hash32([0; 32]),
            validator_set_hash: set.hash(),
            next_validator_set_hash: set.hash(),
            mode: ConsensusMode::Fast,
            proposer: set.validators()[0].id,
            time_ms: 0,
        };
        certify(set, keys, header, 3)
    }

    fn contradiction(set: &ValidatorSet, keys: &[SecretKey], lie: ReceiptEntry) -> (FaultEvidence, NodeId) {
        let entries = vec![entry(1, TxStatus::Success), entry(2, TxStatus::Success), entry(3, TxStatus::Success)];
        let certified = certified_block(set, keys, &entries);
        let leaves: Vec<_> = entries.iter().map(ReceiptEntry::leaf_hash).collect();
        let proof = crate::merkle::prove(&leaves, 1).unwrap();
        let liar = set.validators()[3].id;
        let receipt = receipt_in(certified.header.hash(), liar, key_of(keys, liar), 4, 1, lie);
        let ev = FaultEvidence::ReceiptContradictsBlock(Box::new(ContradictedReceipt {
            receipt,
            certified,
            certified_entry: entries[1].clone(),
            proof,
        }));
        (ev, liar)
    }

    #[test]
    fn receipt_contradicting_a_certified_block_proves_a_fault() {
        let (set, keys) = validators(4);
        let (ev, liar) = contradiction(&set, &keys, entry(2, TxStatus::Failed(FailureCode::InsufficientBalance)));
        assert_eq!(ev.verify(&chain(), &set), Ok(liar));
    }

    /// Finding 2's second half: beyond Fast mode's bound two blocks can be certified at
    /// one height, and an honest node on the losing side signs receipts for its own
    /// block. Those differ from what the other block holds, yet prove nothing: a receipt
    /// names its block, and only that block can prove it false. (On 35b51aa a receipt
    /// named only a height, so the other side's certificate jailed honest validators.)
    #[test]
    fn a_receipt_for_another_block_at_the_height_proves_no_fault() {
        let (set, keys) = validators(4);
        let (mut ev, _) = contradiction(&set, &keys, entry(2, TxStatus::Failed(FailureCode::InsufficientBalance)));
        let FaultEvidence::ReceiptContradictsBlock(c) = &mut ev else { unreachable!() };
        let honest = set.validators()[1].id;
        let own_block = Hash32([0x1f; 32]);
        c.receipt = receipt_in(own_block, honest, key_of(&keys, honest), 4, 1, c.receipt.receipt.entry.clone());
        let header = c.certified.header.hash();
        assert_eq!(ev.verify(&chain(), &set), Err(EvidenceError::OtherBlock { receipt: own_block, header }));
    }

    #[test]
    fn receipt_agreeing_with_the_block_is_not_a_fault() {
        let (set, keys) = validators(4);
        let (ev, _) = contradiction(&set, &keys, entry(2, TxStatus::Success));
        assert_eq!(ev.verify(&chain(), &set), Err(EvidenceError::ReceiptAgreesWithBlock));
    }

    #[test]
    fn contradiction_with_a_fake_certified_entry_is_rejected() {
        let (set, keys) = validators(4);
        let (mut ev, _) = contradiction(&set, &keys, entry(2, TxStatus::Success));
        if let FaultEvidence::ReceiptContradictsBlock(c) = &mut ev {
            c.certified_entry = entry(2, TxStatus::Failed(FailureCode::Overflow));
        }
        assert_eq!(ev.verify(&chain(), &set), Err(EvidenceError::Proof(MerkleError::RootMismatch)));
    }

    #[test]
    fn contradiction_with_an_uncertified_header_is_rejected() {
        let (set, keys) = validators(4);
        let (mut ev, _) = contradiction(&set, &keys, entry(2, TxStatus::Failed(FailureCode::Overflow)));
        if let FaultEvidence::ReceiptContradictsBlock(c) = &mut ev {
            c.certified.cert.signatures.truncate(2);
            c.certified.cert.signers = {
                let mut b = crate::vote::SignerBitmap::empty(4);
                c.certified.cert.signers.indices().take(2).for_each(|i| b.set(i));
                b
            };
        }
        assert!(matches!(ev.verify(&chain(), &set), Err(EvidenceError::Certificate(_))));
    }
}
