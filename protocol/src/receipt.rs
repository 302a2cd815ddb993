//! Receipts: a node's signed statement of what a transaction did.
//!
//! A block commits to one [`ReceiptEntry`] per transaction in its `receipts_root`. A node
//! signs, once per committed block, a [`ReceiptsStatement`]: the root of the Merkle tree
//! of the entries it computed for that block ([`BlockReceipts`]). A client gets a
//! [`SignedReceipt`]: its [`Receipt`] (the entry with the height and position), the path
//! from that entry to the signed root, and the signature. Whoever holds it can check
//! that the node vouched for exactly that entry at exactly that position, as firmly as
//! if the node had signed the receipt alone; if the entry differs from the certified
//! one, the receipt itself is evidence against the node (see [`crate::evidence`]).
//!
//! One signature per block instead of one per transaction: under load a node answers
//! thousands of receipts a second, and signing each was a tenth of its CPU.

use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, PublicKey, SecretKey, Signature};
use crate::encoding;
use crate::hash::{hash_value, BlockHash, Domain, Hash32, TxHash};
use crate::ids::{ChainId, Height, NodeId};
use crate::merkle::{MerkleProof, MerkleTree};

/// Why execution refused a transaction that was ordered into a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureCode {
    InsufficientBalance,
    InvalidNonce,
    InvalidEvidence,
    UnknownAccount,
    Overflow,
    /// The evidence is valid but its offender is already jailed.
    DuplicateEvidence,
    /// Jailing would leave fewer validators than the chain needs.
    ValidatorSetTooSmall,
    /// The user id is registered to another account.
    UserIdTaken,
    /// The manifest's user id is not registered to the sender.
    UnknownUser,
    /// The manifest does not fit the chain's vault configuration or validator set.
    BadManifest,
    /// An object with this id is already recorded.
    DuplicateObject,
    /// The account holds as many objects as it may.
    TooManyObjects,
    /// The checkpoint is no newer than the one recorded.
    StaleCheckpoint,
    /// The packet was received already (another relayer was first).
    PacketAlreadyReceived,
    /// The packet is settled already: acknowledged or timed out.
    PacketNotPending,
    /// The header a packet's proof is against is not kept (never verified, or forgotten).
    UnknownProofHeight,
    /// The connection's client is frozen or expired.
    ConnectionClosed,
    /// The destination's timeout height is reached: the packet is no longer received.
    PacketTimedOut,
    /// The trade was confirmed already (earlier in the block).
    TradeAlreadyConfirmed,
    /// The counterparty sent its notice about the audit already (earlier in the block).
    AlreadyNoted,
    /// The audit is no longer pending: agreed, disputed, or past its deadline.
    AuditClosed,
    /// The period was submitted already, or a trade confirmed earlier in the block
    /// changed its counterparties: submit it again.
    AuditClaimsChanged,
}

/// Outcome of executing one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TxStatus {
    Success,
    Failed(FailureCode),
}

/// What the receipts root certifies about one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReceiptEntry {
    pub tx_hash: TxHash,
    pub status: TxStatus,
    /// Hash of the execution result (state changes and events), so two nodes that
    /// disagree on effects disagree on this hash.
    pub result_hash: Hash32,
}

impl ReceiptEntry {
    /// The leaf this entry contributes to a block's receipts root.
    pub fn leaf_hash(&self) -> Hash32 {
        hash_value(Domain::ReceiptLeaf, self)
    }
}

/// A node's statement about one transaction's outcome: what its [`SignedReceipt`]
/// proves the node vouched for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub chain_id: ChainId,
    pub height: Height,
    /// The block this node committed at `height`: the receipt says what *that* block
    /// holds, so it can be proven false only against that block. (Beyond Fast mode's
    /// bound an honest node on the losing side of a fork signs receipts for its own
    /// block; against the other side's certified block they prove nothing.)
    pub block_hash: BlockHash,
    /// Position of the transaction in its block (the leaf index in the receipts root).
    pub tx_index: u32,
    pub entry: ReceiptEntry,
    pub node: NodeId,
}

impl Receipt {
    /// Signs this receipt on its own: a statement over a tree of `tx_index + 1` leaves
    /// whose last is this entry, the paths to the others left as padding. For tests and
    /// walk-throughs that need one receipt; a node signs a whole block's at once
    /// ([`BlockReceipts::sign`]).
    pub fn sign(self, key: &SecretKey) -> SignedReceipt {
        let index = u64::from(self.tx_index);
        let padding = Hash32([0; 32]);
        let siblings = vec![padding; MerkleProof::depth(index, index + 1)];
        let proof = MerkleProof { index, leaf_count: index + 1, siblings };
        let root = match proof.root_of(&self.entry.leaf_hash()) {
            Ok(root) => root,
            Err(e) => unreachable!("a path of the computed depth leads to a root: {e}"),
        };
        let statement = ReceiptsStatement::of(&self, root);
        let signature = key.sign(Domain::ReceiptSignature, &encoding::to_bytes(&statement));
        SignedReceipt { receipt: self, proof, signature }
    }
}

/// What a node signs once per committed block: the root of the Merkle tree (the
/// block's own shape, [`crate::merkle`]) of the receipt entries it computed. An honest
/// node's root is the block's certified `receipts_root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptsStatement {
    pub chain_id: ChainId,
    pub height: Height,
    pub block_hash: BlockHash,
    pub receipts_root: Hash32,
    pub node: NodeId,
}

impl ReceiptsStatement {
    fn of(receipt: &Receipt, receipts_root: Hash32) -> Self {
        Self {
            chain_id: receipt.chain_id.clone(),
            height: receipt.height,
            block_hash: receipt.block_hash,
            receipts_root,
            node: receipt.node,
        }
    }
}

/// A receipt, the path from its entry to the receipts root the node named in it
/// signed, and that signature. Every field of the receipt is bound: the chain, height,
/// block and node by the statement, the entry and its position by the path (the root
/// binds the leaf count, so a path cannot be relabelled to another position).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    pub receipt: Receipt,
    /// Proof of `receipt.entry` at `receipt.tx_index` in the signed root.
    pub proof: MerkleProof,
    /// The node's signature over the [`ReceiptsStatement`] with that root.
    pub signature: Signature,
}

impl SignedReceipt {
    /// Checks the path and the signature against the node's consensus key (from a
    /// trusted set). A path that does not lead from this entry at this position to a
    /// root is a [`CryptoError::BadSignature`]: the signature does not cover the receipt.
    pub fn verify(&self, node_key: &PublicKey) -> Result<(), CryptoError> {
        let statement = self.statement()?;
        node_key.verify(Domain::ReceiptSignature, &encoding::to_bytes(&statement), &self.signature)
    }

    /// The statement the signature must cover for this receipt to hold.
    pub fn statement(&self) -> Result<ReceiptsStatement, CryptoError> {
        if self.proof.index != u64::from(self.receipt.tx_index) {
            return Err(CryptoError::BadSignature);
        }
        let root = self.proof.root_of(&self.receipt.entry.leaf_hash()).map_err(|_| CryptoError::BadSignature)?;
        Ok(ReceiptsStatement::of(&self.receipt, root))
    }
}

/// One node's signed receipts for one committed block: a statement signed once, and
/// the tree each receipt's path is cut from.
#[derive(Debug, Clone)]
pub struct BlockReceipts {
    statement: ReceiptsStatement,
    signature: Signature,
    entries: Vec<ReceiptEntry>,
    tree: MerkleTree,
}

impl BlockReceipts {
    /// Signs the receipts `entries` (in block order) of block `block_hash` at `height`
    /// as node `node`.
    pub fn sign(
        chain_id: ChainId,
        height: Height,
        block_hash: BlockHash,
        entries: Vec<ReceiptEntry>,
        node: NodeId,
        key: &SecretKey,
    ) -> Self {
        let tree = MerkleTree::new(entries.iter().map(ReceiptEntry::leaf_hash).collect());
        let statement = ReceiptsStatement { chain_id, height, block_hash, receipts_root: tree.root(), node };
        let signature = key.sign(Domain::ReceiptSignature, &encoding::to_bytes(&statement));
        Self { statement, signature, entries, tree }
    }

    pub fn statement(&self) -> &ReceiptsStatement {
        &self.statement
    }

    /// How many receipts (transactions) the block holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The receipt at position `tx_index`, or `None` past the block's end.
    pub fn receipt(&self, tx_index: u32) -> Option<SignedReceipt> {
        let index = usize::try_from(tx_index).ok()?;
        let entry = self.entries.get(index)?.clone();
        let proof = self.tree.prove(index)?;
        let s = &self.statement;
        let receipt = Receipt {
            chain_id: s.chain_id.clone(),
            height: s.height,
            block_hash: s.block_hash,
            tx_index,
            entry,
            node: s.node,
        };
        Some(SignedReceipt { receipt, proof, signature: self.signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chain, validators};

    #[test]
    fn receipt_signature_binds_the_outcome() {
        let (set, keys) = validators(4);
        let node = set.validators()[0].id;
        let key = keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == node).unwrap();
        let entry = ReceiptEntry { tx_hash: Hash32([1; 32]), status: TxStatus::Success, result_hash: Hash32([2; 32]) };
        let signed =
            Receipt { chain_id: chain(), height: Height(5), block_hash: Hash32([3; 32]), tx_index: 0, entry, node }
                .sign(key);
        signed.verify(&key.public_key()).unwrap();
        let mut lie = signed.clone();
        lie.receipt.entry.status = TxStatus::Failed(FailureCode::InsufficientBalance);
        assert_eq!(lie.verify(&key.public_key()), Err(CryptoError::BadSignature));
    }

    fn entries(n: u8) -> Vec<ReceiptEntry> {
        (0..n)
            .map(|i| ReceiptEntry {
                tx_hash: Hash32([i; 32]),
                status: TxStatus::Success,
                result_hash: Hash32([!i; 32]),
            })
            .collect()
    }

    #[test]
    fn one_signature_per_block_proves_each_receipt_and_the_certified_root() {
        let (set, keys) = validators(4);
        let node = set.validators()[1].id;
        let key = keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == node).unwrap();
        let entries = entries(11);
        let block = BlockReceipts::sign(chain(), Height(9), Hash32([7; 32]), entries.clone(), node, key);
        assert_eq!(block.statement().receipts_root, crate::block::Block::receipts_root(&entries));
        for (i, entry) in entries.iter().enumerate() {
            let r = block.receipt(i as u32).unwrap();
            assert_eq!((&r.receipt.entry, r.receipt.tx_index, r.receipt.height), (entry, i as u32, Height(9)));
            r.verify(&key.public_key()).unwrap();
            // A known-good byte pattern cannot be moved to another position or block.
            let mut moved = r.clone();
            moved.receipt.tx_index = (i as u32 + 1) % 11;
            assert_eq!(moved.verify(&key.public_key()), Err(CryptoError::BadSignature));
            let mut relabelled = r.clone();
            relabelled.proof.index = u64::from(moved.receipt.tx_index);
            relabelled.receipt.tx_index = moved.receipt.tx_index;
            assert_eq!(relabelled.verify(&key.public_key()), Err(CryptoError::BadSignature));
            let mut other_block = r.clone();
            other_block.receipt.block_hash = Hash32([8; 32]);
            assert_eq!(other_block.verify(&key.public_key()), Err(CryptoError::BadSignature));
            let mut other_entry = r;
            other_entry.receipt.entry = entries[(i + 1) % 11].clone();
            assert_eq!(other_entry.verify(&key.public_key()), Err(CryptoError::BadSignature));
        }
        assert!(block.receipt(11).is_none());
        assert!(block.receipt(u32::MAX).is_none());
    }

    #[test]
    fn a_receipt_signed_alone_verifies_at_any_position_and_binds_it() {
        let (set, keys) = validators(4);
        let node = set.validators()[0].id;
        let key = keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == node).unwrap();
        for tx_index in [0, 1, 2, 5, 1000, u32::MAX] {
            let entry = entries(1).remove(0);
            let r =
                Receipt { chain_id: chain(), height: Height(3), block_hash: Hash32([3; 32]), tx_index, entry, node };
            let signed = r.sign(key);
            signed.verify(&key.public_key()).unwrap();
            let mut moved = signed;
            moved.receipt.tx_index = tx_index.wrapping_add(1);
            assert!(moved.verify(&key.public_key()).is_err());
        }
    }
}
