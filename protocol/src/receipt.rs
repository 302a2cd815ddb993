//! Receipts: a node's signed statement of what a transaction did.
//!
//! A block commits to one [`ReceiptEntry`] per transaction in its `receipts_root`. A node
//! answering a client signs a [`Receipt`] that repeats the entry with the height and
//! position; if the signed entry differs from the certified one, the receipt itself
//! is evidence against the node (see [`crate::evidence`]).

use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, PublicKey, SecretKey, Signature};
use crate::encoding;
use crate::hash::{hash_value, BlockHash, Domain, Hash32, TxHash};
use crate::ids::{ChainId, Height, NodeId};

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

/// A node's statement about a transaction's outcome (the signed part).
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
    pub fn sign(self, key: &SecretKey) -> SignedReceipt {
        let signature = key.sign(Domain::ReceiptSignature, &encoding::to_bytes(&self));
        SignedReceipt { receipt: self, signature }
    }
}

/// A receipt with the signature of the node named in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    pub receipt: Receipt,
    pub signature: Signature,
}

impl SignedReceipt {
    /// Checks the signature against the node's consensus key (from a trusted set).
    pub fn verify(&self, node_key: &PublicKey) -> Result<(), CryptoError> {
        node_key.verify(Domain::ReceiptSignature, &encoding::to_bytes(&self.receipt), &self.signature)
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
}
