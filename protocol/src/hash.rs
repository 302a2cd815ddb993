//! Domain-separated SHA-256.
//!
//! Every hash and every signed message starts with a tag `vigil/v1/<kind>` followed by
//! a zero byte, so bytes meant as one kind can never be taken for another (a vote for a
//! receipt, a Merkle leaf for an inner node). The tags are listed in one place,
//! [`Domain`], so that no two uses can share one by accident.

use sha2::{Digest, Sha256};

use crate::bytes::byte_newtype;

byte_newtype!(
    /// A 32-byte SHA-256 digest.
    Hash32,
    32
);

/// Hash of a [`crate::Transaction`] (its signed body).
pub type TxHash = Hash32;
/// Hash of a [`crate::BlockHeader`].
pub type BlockHash = Hash32;

/// What a hash or signature is about. Each variant has a distinct, stable tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Hash of a transaction body: its id.
    Transaction,
    /// Message a sender signs for a transaction.
    TransactionSignature,
    /// Hash of a block header: the block's id.
    BlockHeader,
    /// Message a validator signs when it votes or acknowledges.
    VoteSignature,
    /// Message a node signs for a block's receipts ([`crate::ReceiptsStatement`]).
    ReceiptSignature,
    /// Leaf of the receipts Merkle root (a certified [`crate::ReceiptEntry`]).
    ReceiptLeaf,
    /// Leaf of the transactions Merkle root.
    TransactionLeaf,
    /// Inner node of an ordered Merkle tree.
    MerkleNode,
    /// The root of an ordered Merkle tree with no leaves.
    MerkleEmpty,
    /// An ordered Merkle tree's committed root: leaf count and tree hash.
    MerkleRoot,
    /// Hash of a validator set.
    ValidatorSet,
    /// Account address derivation.
    Address,
    /// Node id derivation.
    NodeId,
    /// Key of an entry in the authenticated state.
    StateKey,
    /// What executing one transaction changed (a receipt's `result_hash`).
    ExecutionResult,
    /// Hash of a genesis configuration: the parent of block 1.
    Genesis,
    /// Hash of one vault fragment (what a manifest lists).
    VaultFragment,
    /// Message a user signs to store fragments.
    VaultStoreSignature,
    /// Message a user signs to fetch fragments.
    VaultFetchSignature,
    /// Message a validator signs when it promises a Fast-mode view.
    PromiseSignature,
    /// Seed of a batch signature check's coefficients (a hash of the whole batch).
    BatchVerificationSeed,
    /// A node's Noise static key derived from its p2p seed (apart from its HPKE key).
    P2pStaticKey,
    /// A checkpoint's digest: its id.
    CheckpointDigest,
    /// Message a validator signs for a checkpoint digest.
    CheckpointSignature,
    /// Hash of one chunk of a state snapshot (a leaf of the checkpoint's chunk root).
    SnapshotChunk,
    /// Hash of the authentication centers' set (what key generation packages name).
    AuthCenterSet,
    /// What a certificate's serial is cut from.
    CertificateSerial,
    /// Message an applicant's key signs for a certificate request (proof of possession).
    CertRequestSignature,
    /// Digest of a request's identification claims (what is public of them on chain).
    CertClaims,
    /// A change of the center set's id (the sets before and after).
    CenterChange,
    /// A node of a table's ordered map (its key, row hash and children's hashes).
    TableNode,
    /// A table map node's priority (the hash of its key: it fixes the tree's shape).
    TableNodePriority,
    /// Message a writer signs for a table row.
    TableRow,
    /// A stored row (its signed write and height): what a table's ordered map holds.
    TableRowRecord,
    /// Message a validator signs to approve opening a connection to another chain.
    ConnectionApproval,
    /// A target object's id (its owner and name).
    AuditTarget,
    /// Message a target's owner signs for one of its records.
    AuditRecord,
    /// Leaf of a records digest's Merkle root (a signed record).
    AuditRecordLeaf,
}

impl Domain {
    /// Every domain, for checks that tags are distinct.
    pub const ALL: [Domain; 38] = [
        Domain::Transaction,
        Domain::TransactionSignature,
        Domain::BlockHeader,
        Domain::VoteSignature,
        Domain::ReceiptSignature,
        Domain::ReceiptLeaf,
        Domain::TransactionLeaf,
        Domain::MerkleNode,
        Domain::MerkleEmpty,
        Domain::MerkleRoot,
        Domain::ValidatorSet,
        Domain::Address,
        Domain::NodeId,
        Domain::StateKey,
        Domain::ExecutionResult,
        Domain::Genesis,
        Domain::VaultFragment,
        Domain::VaultStoreSignature,
        Domain::VaultFetchSignature,
        Domain::PromiseSignature,
        Domain::BatchVerificationSeed,
        Domain::P2pStaticKey,
        Domain::CheckpointDigest,
        Domain::CheckpointSignature,
        Domain::SnapshotChunk,
        Domain::AuthCenterSet,
        Domain::CertificateSerial,
        Domain::CertRequestSignature,
        Domain::CertClaims,
        Domain::CenterChange,
        Domain::TableNode,
        Domain::TableNodePriority,
        Domain::TableRow,
        Domain::TableRowRecord,
        Domain::ConnectionApproval,
        Domain::AuditTarget,
        Domain::AuditRecord,
        Domain::AuditRecordLeaf,
    ];

    /// The tag hashed before the content.
    pub const fn tag(self) -> &'static str {
        match self {
            Domain::Transaction => "vigil/v1/tx",
            Domain::TransactionSignature => "vigil/v1/sign/tx",
            Domain::BlockHeader => "vigil/v1/header",
            Domain::VoteSignature => "vigil/v1/sign/vote",
            Domain::ReceiptSignature => "vigil/v1/sign/block-receipts",
            Domain::ReceiptLeaf => "vigil/v1/leaf/receipt",
            Domain::TransactionLeaf => "vigil/v1/leaf/tx",
            Domain::MerkleNode => "vigil/v1/merkle/node",
            Domain::MerkleEmpty => "vigil/v1/merkle/empty",
            Domain::MerkleRoot => "vigil/v1/merkle/root",
            Domain::ValidatorSet => "vigil/v1/validator-set",
            Domain::Address => "vigil/v1/address",
            Domain::NodeId => "vigil/v1/node-id",
            Domain::StateKey => "vigil/v1/state-key",
            Domain::ExecutionResult => "vigil/v1/execution-result",
            Domain::Genesis => "vigil/v1/genesis",
            Domain::VaultFragment => "vigil/v1/vault/fragment",
            Domain::VaultStoreSignature => "vigil/v1/sign/vault-store",
            Domain::VaultFetchSignature => "vigil/v1/sign/vault-fetch",
            Domain::PromiseSignature => "vigil/v1/sign/promise",
            Domain::BatchVerificationSeed => "vigil/v1/batch-verification-seed",
            Domain::P2pStaticKey => "vigil/v1/p2p-static-key",
            Domain::CheckpointDigest => "vigil/v1/checkpoint",
            Domain::CheckpointSignature => "vigil/v1/sign/checkpoint",
            Domain::SnapshotChunk => "vigil/v1/snapshot/chunk",
            Domain::AuthCenterSet => "vigil/v1/auth-center-set",
            Domain::CertificateSerial => "vigil/v1/certificate-serial",
            Domain::CertRequestSignature => "vigil/v1/sign/cert-request",
            Domain::CertClaims => "vigil/v1/cert-claims",
            Domain::CenterChange => "vigil/v1/center-change",
            Domain::TableNode => "vigil/v1/table-node",
            Domain::TableNodePriority => "vigil/v1/table-node-priority",
            Domain::TableRow => "vigil/v1/sign/table-row",
            Domain::TableRowRecord => "vigil/v1/table-row",
            Domain::ConnectionApproval => "vigil/v1/sign/connection",
            Domain::AuditTarget => "vigil/v1/audit-target",
            Domain::AuditRecord => "vigil/v1/sign/audit-record",
            Domain::AuditRecordLeaf => "vigil/v1/leaf/audit-record",
        }
    }

    /// `tag || 0x00 || content`: the exact bytes hashed or signed for this domain.
    pub fn framed(self, content: &[u8]) -> Vec<u8> {
        let tag = self.tag().as_bytes();
        let mut out = Vec::with_capacity(tag.len() + 1 + content.len());
        out.extend_from_slice(tag);
        out.push(0);
        out.extend_from_slice(content);
        out
    }
}

/// SHA-256 of `tag || 0x00 || content`.
pub fn hash(domain: Domain, content: &[u8]) -> Hash32 {
    let mut hasher = Sha256::new();
    hasher.update(domain.tag().as_bytes());
    hasher.update([0u8]);
    hasher.update(content);
    Hash32(hasher.finalize().into())
}

/// Hash of a value's canonical encoding.
pub fn hash_value<T: serde::Serialize + ?Sized>(domain: Domain, value: &T) -> Hash32 {
    hash(domain, &crate::encoding::to_bytes(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_have_distinct_tags() {
        let all = Domain::ALL;
        let mut tags: Vec<_> = all.iter().map(|d| d.tag()).collect();
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), all.len());
    }

    #[test]
    fn same_content_hashes_differently_per_domain() {
        assert_ne!(hash(Domain::Transaction, b"x"), hash(Domain::BlockHeader, b"x"));
    }

    #[test]
    fn hash_matches_sha256_of_framed_bytes() {
        // Known-answer: sha256("vigil/v1/tx\0abc") computed independently of `hash`.
        let framed = Domain::Transaction.framed(b"abc");
        assert_eq!(&framed[..12], b"vigil/v1/tx\0");
        let expected: [u8; 32] = Sha256::digest(&framed).into();
        assert_eq!(hash(Domain::Transaction, b"abc").0, expected);
    }

    #[test]
    fn hash_hex_round_trips_through_json() {
        let h = hash(Domain::Address, b"k");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{h}\""));
        assert_eq!(serde_json::from_str::<Hash32>(&json).unwrap(), h);
    }
}
