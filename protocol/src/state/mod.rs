//! Authenticated state: a Jellyfish Merkle Tree (the `jmt` crate, as in Diem, Aptos and
//! Penumbra) whose root is the header's `state_root`.
//!
//! Proofs show either that a key holds a value (membership) or that it holds nothing
//! (non-membership), and verify anywhere this crate builds, including the browser.
//! Keys are typed ([`StateKey`]); their tree position is the domain-separated hash of
//! their canonical bytes. Values are BCS bytes of the entry's type.
//!
//! [`StateTree`] keeps the last [`STATE_VERSIONS_KEPT`] versions of the tree in memory, in
//! persistent maps: [`StateTree::snapshot`] hands out one version as an immutable
//! [`StateSnapshot`] in O(1), which other threads read (and prove from) while the tree
//! goes on growing. The node stores each version's records on disk.

use jmt::KeyHash;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::address::Address;
use crate::encoding;
use crate::hash::{hash, Domain, Hash32};

/// Why a state read or proof failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("proof does not show that the key holds this value under this root: {0}")]
    BadProof(String),
    #[error("state version {0} does not exist")]
    UnknownVersion(u64),
    #[error("state version {found} cannot be written next; versions are contiguous and the next is {expected}")]
    VersionGap { expected: u64, found: u64 },
    #[error("state tree: {0}")]
    Tree(String),
    #[error("stored state is corrupt: {0}")]
    Corrupt(String),
}

/// A key in the authenticated state. Capabilities add variants at the end; each
/// variant's value type is defined in its capability's module.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StateKey {
    /// An account's balance and nonce ([`crate::AccountState`]).
    Account(Address),
    /// The chain's consensus configuration (mode, jailed validators).
    Consensus,
    /// The vault's serialization factor ([`crate::VaultConfig`]).
    VaultConfig,
    /// The account a user id is registered to ([`crate::UserRecord`]).
    User(crate::UserId),
    /// A stored object's manifest ([`crate::VaultManifest`]), by object id.
    Manifest(crate::Hash32),
    /// The object ids an account holds, oldest first (`Vec<Hash32>`).
    Objects(Address),
    /// The newest stable checkpoint recorded on chain ([`crate::StableCheckpoint`]).
    Checkpoint,
    /// The authentication centers and their threshold ([`crate::authcenter::AuthCenterSet`]).
    AuthCenters,
    /// Center `i`'s round-1 key generation package of the current attempt
    /// ([`crate::authcenter::DkgRound1`]).
    DkgRound1(u16),
    /// The centers' group key, once every participant confirmed the key generation
    /// ([`crate::authcenter::GroupKey`]).
    GroupKey,
    /// Center `i`'s round-2 package of the current attempt ([`crate::authcenter::DkgRound2`]).
    DkgRound2(u16),
    /// Where the key generation stands ([`crate::authcenter::DkgState`]).
    Dkg,
    /// Center `i`'s unused nonce commitments ([`crate::authcenter::NonceQueue`]).
    Nonces(u16),
    /// A signing session by id ([`crate::authcenter::SigningSession`]).
    SigningSession(u64),
    /// The sessions' bookkeeping ([`crate::authcenter::SigningState`]).
    Signing,
    /// The consortium's certificate authority and root ([`crate::authcenter::CertAuthority`]).
    CertAuthority,
    /// The certificate requests' bookkeeping ([`crate::authcenter::CertRequests`]).
    CertRequests,
    /// A certificate request by id ([`crate::authcenter::CertRequestRecord`]).
    CertRequest(u64),
    /// The account holding an issued certificate's record, by serial
    /// ([`crate::authcenter::CertAccount`]: its type is the certificate's state).
    Certificate([u8; 16]),
    /// The serials of the certificates issued for a key, oldest first (`Vec<[u8; 16]>`).
    CertificatesOf(crate::PublicKey),
    /// The centers' votes not yet applied on a certificate ([`crate::authcenter::CertVotes`]).
    CertVotes([u8; 16]),
    /// The votes on changing the center set ([`crate::authcenter::CenterSetVotes`]).
    CenterSetVotes,
    /// The change of the center set voted last ([`crate::authcenter::CenterChange`]).
    CenterChange,
    /// Member `i` (of the proposed set)'s ready key ([`crate::authcenter::ReshareReady`]).
    ReshareReady(u16),
    /// Dealer `i` (of the old set)'s sharing ([`crate::authcenter::ReshareDeal`]).
    ReshareDeal(u16),
    /// A table's owner and schema versions ([`crate::tables::TableRecord`]), by name.
    Table(String),
    /// A table's ordered root and row count ([`crate::tables::TableRoot`]).
    TableRoot(String),
    /// A key's latest write and how many it had ([`crate::tables::RowEntry`]), by table
    /// and encoded primary key: the row in force unless that write is a delete.
    Row(String, Vec<u8>),
    /// The `n`-th write of a key, deletes included, all but its latest
    /// ([`crate::tables::StoredRow`]).
    RowVersion(String, Vec<u8>, u32),
    /// Every table's name, in creation order (`Vec<String>`).
    TableNames,
    /// This chain's light client of another chain, by that chain's id
    /// ([`crate::crosschain::ClientState`]).
    Connection(crate::ChainId),
    /// This chain's traffic with another chain: sequences, escrow, vouchers
    /// ([`crate::crosschain::Channel`]).
    Channel(crate::ChainId),
    /// A verified header of another chain, by chain and height
    /// ([`crate::crosschain::ForeignHeader`]); the newest few are kept.
    ForeignHeader(crate::ChainId, crate::Height),
    /// A packet sent to another chain and not yet settled, by destination and sequence
    /// ([`crate::crosschain::Packet`]): the commitment the destination proves.
    Packet(crate::ChainId, u64),
    /// A packet received from another chain, by source and sequence
    /// ([`crate::crosschain::PacketReceipt`]); kept for ever.
    PacketReceipt(crate::ChainId, u64),
    /// An account's vouchers of another chain's coin, by that chain and the account
    /// (`Amount`).
    Voucher(crate::ChainId, crate::Address),
    /// The chains this chain has connections to, in opening order (`Vec<ChainId>`).
    Connections,
    /// The packet a cross-chain transfer sent, by its sender and the transaction's nonce
    /// ([`crate::crosschain::SentPacket`]): how a wallet finds the packet it sent.
    SentPacket(crate::Address, u64),
    /// The chain's rule for agreeing audits ([`crate::audit::AuditCondition`]), written at
    /// genesis when it is not the default (every counterparty).
    AuditCondition,
    /// A target object of audits, by id ([`crate::audit::Target`]).
    Target(crate::audit::TargetId),
    /// A target's trade with a counterparty, by target and number ([`crate::audit::Trade`]).
    Trade(crate::audit::TargetId, u64),
    /// An audit of a target's period, by target and number ([`crate::audit::AuditRecord`]).
    Audit(crate::audit::TargetId, u64),
}

impl StateKey {
    /// Position in the tree.
    pub fn key_hash(&self) -> KeyHash {
        KeyHash(hash(Domain::StateKey, &encoding::to_bytes(self)).0)
    }
}

/// A membership or non-membership proof for one key: jmt's `SparseMerkleProof`, byte
/// for byte (the node builds it with jmt and re-reads its BCS), checked by the code
/// below — jmt's algorithm over SHA-256 with jmt's domain separators. A light client so
/// needs nothing of jmt but this format: jmt's own checker reports through `anyhow`,
/// whose std backtrace printer alone would add ~18 KB gzipped to the browser wallet.
/// Tests hold this checker to jmt's on every proof and every tampered proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateProof {
    /// The leaf on the key's path: the key's own (membership), another key's whose
    /// subtree the key would fall in (non-membership), or none (an empty subtree).
    leaf: Option<ProofLeaf>,
    /// Siblings on the path, from the bottom up.
    siblings: Vec<ProofNode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct ProofLeaf {
    key_hash: [u8; 32],
    value_hash: [u8; 32],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct ProofInternal {
    left_child: [u8; 32],
    right_child: [u8; 32],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum ProofNode {
    Null,
    Internal(ProofInternal),
    Leaf(ProofLeaf),
}

/// jmt's hash of an empty subtree, and its leaf and internal-node domain separators.
const PLACEHOLDER_HASH: [u8; 32] = *b"SPARSE_MERKLE_PLACEHOLDER_HASH__";
const LEAF_SEPARATOR: &[u8] = b"JMT::LeafNode";
const INTERNAL_SEPARATOR: &[u8] = b"JMT::IntrnalNode";

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

impl ProofLeaf {
    fn hash(&self) -> [u8; 32] {
        sha256(&[LEAF_SEPARATOR, &self.key_hash, &self.value_hash])
    }
}

fn internal_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    sha256(&[INTERNAL_SEPARATOR, left, right])
}

impl ProofNode {
    fn hash(&self) -> [u8; 32] {
        match self {
            ProofNode::Null => PLACEHOLDER_HASH,
            ProofNode::Internal(n) => internal_hash(&n.left_child, &n.right_child),
            ProofNode::Leaf(l) => l.hash(),
        }
    }
}

/// Bit `i` of a key hash, most significant first: the branch taken at depth `i`.
fn bit(key: &[u8; 32], i: usize) -> bool {
    key[i / 8] >> (7 - i % 8) & 1 == 1
}

fn bad(why: &str) -> StateError {
    StateError::BadProof(why.to_string())
}

impl StateProof {
    /// Verifies that under `root`, `key` holds `value` (`Some`) or nothing (`None`).
    pub fn verify(&self, root: &Hash32, key: &StateKey, value: Option<&[u8]>) -> Result<(), StateError> {
        let key = key.key_hash().0;
        let depth = self.siblings.len();
        if depth > 256 {
            return Err(bad("more siblings than a 256-bit key has levels"));
        }
        match (value, &self.leaf) {
            (Some(value), Some(leaf)) => {
                if leaf.key_hash != key {
                    return Err(bad("the proof's leaf is another key's"));
                }
                if leaf.value_hash != sha256(&[value]) {
                    return Err(bad("the proof's leaf holds another value"));
                }
            }
            (Some(_), None) => return Err(bad("a proof of absence cannot show a value")),
            (None, Some(leaf)) => {
                if leaf.key_hash == key {
                    return Err(bad("the key is present in the proof"));
                }
                if (0..depth).any(|i| bit(&key, i) != bit(&leaf.key_hash, i)) {
                    return Err(bad("the key would not fall in the subtree of the proof's leaf"));
                }
            }
            (None, None) => {}
        }
        let mut hash = self.leaf.as_ref().map_or(PLACEHOLDER_HASH, ProofLeaf::hash);
        for (i, sibling) in self.siblings.iter().enumerate() {
            let s = sibling.hash();
            hash = if bit(&key, depth - 1 - i) { internal_hash(&s, &hash) } else { internal_hash(&hash, &s) };
        }
        if hash != root.0 {
            return Err(bad("the proof leads to another root"));
        }
        Ok(())
    }
}

#[cfg(feature = "tree")]
mod tree;
#[cfg(feature = "tree")]
pub use tree::{
    MemoryTreeStore, PreparedVersion, StateRecords, StateSnapshot, StateTree, STATE_VERSIONS_KEPT, VALUE_KEY_LEN,
};
