//! `vigil-protocol`: the shared language of Vigil's nodes, gateway and wallet.
//!
//! Everything that is signed, hashed or sent between nodes is defined here, together
//! with the rules to check it: canonical BCS encoding ([`encoding`]), domain-separated
//! SHA-256 ([`hash`]), strict Ed25519 ([`crypto`]), checksummed addresses
//! ([`address`]), transactions, blocks, votes and quorum certificates, node-signed
//! receipts, fault evidence, validator sets with the quorum math of both consensus
//! modes, and authenticated state with membership and non-membership proofs.
//!
//! This crate must not do I/O, read clocks or use global randomness: it builds for
//! `wasm32-unknown-unknown` and runs unchanged in the browser wallet. Anything that
//! comes from outside (bytes, signatures, proofs) is checked and rejected with a typed
//! error; nothing here panics on input.
//!
//! # Examples
//!
//! ```
//! use vigil_protocol::{Address, Amount, ChainId, Nonce, Payload, SecretKey, Transaction, Transfer};
//!
//! let alice = SecretKey::from_seed([7u8; 32]);
//! let bob = Address::from_public_key(&SecretKey::from_seed([8u8; 32]).public_key());
//! let tx = Transaction {
//!     chain_id: ChainId::new("vigil-devnet").unwrap(),
//!     sender: alice.public_key(),
//!     nonce: Nonce(0),
//!     fee: Amount(1),
//!     payload: Payload::Transfer(Transfer { to: bob, amount: Amount(250) }),
//! };
//! let signed = tx.sign(&alice);
//! signed.verify().unwrap();
//!
//! // Canonical bytes round-trip, and the address has a bech32m checksum.
//! let bytes = vigil_protocol::encoding::to_bytes(&signed);
//! assert_eq!(vigil_protocol::encoding::from_bytes::<vigil_protocol::SignedTransaction>(&bytes).unwrap(), signed);
//! assert!(bob.to_string().starts_with("vigil1"));
//! ```
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod address;
pub mod audit;
pub mod authcenter;
pub mod block;
mod bytes;
pub use bytes::to_hex;
pub mod checkpoint;
pub mod crosschain;
pub mod crypto;
pub mod encoding;
#[cfg(feature = "erasure")]
pub use vigil_codec::erasure;
pub mod evidence;
pub mod fast;
pub mod forensics;
pub mod genesis;
pub mod hash;
pub mod ids;
pub mod limits;
#[cfg(feature = "link")]
pub mod link;
#[cfg(feature = "link")]
pub mod link_batch;
pub mod merkle;
pub mod receipt;
#[cfg(feature = "sealed")]
pub mod sealed;
pub mod snapshot;
pub mod state;
pub mod tables;
pub mod transaction;
pub mod transfer;
pub mod validator;
pub mod vault;
pub mod verifier;
pub mod vote;
pub mod wallet_config;
pub mod x509;
mod zip215;

#[cfg(test)]
mod testutil;

pub use address::{Address, AddressError};
pub use block::{follow_set_changes, Block, BlockError, BlockHeader, CertifiedHeader, SetChange, SetChangeError};
pub use checkpoint::{CheckpointConfig, CheckpointDigest, CheckpointError, CheckpointVote, StableCheckpoint};
pub use crypto::{CryptoError, EncryptionKey, P2pKey, PublicKey, SecretKey, Signature};
pub use encoding::DecodeError;
pub use evidence::{ContradictedReceipt, EvidenceError, FaultEvidence, SignedStatement};
pub use fast::{Backing, FastError, Justification, Promise, PromiseData, ProposalSlot, Selection};
pub use genesis::Genesis;
pub use hash::{BlockHash, Domain, Hash32, TxHash};
pub use ids::{Amount, ChainId, ChainIdError, Height, NodeId, Nonce, Round, View};
pub use merkle::{MerkleError, MerkleProof, MerkleTree};
pub use receipt::{BlockReceipts, FailureCode, Receipt, ReceiptEntry, ReceiptsStatement, SignedReceipt, TxStatus};
pub use snapshot::{ChunkedSnapshot, ServedChunk, SnapshotChunk, SnapshotError};
#[cfg(feature = "tree")]
pub use state::{PreparedVersion, StateRecords, StateSnapshot, StateTree};
pub use state::{StateError, StateKey, StateProof};
pub use transaction::{Payload, SignedTransaction, Transaction, TransactionError};
pub use transfer::{AccountState, Transfer};
pub use validator::{ConsensusMode, ValidatorInfo, ValidatorSet, ValidatorSetError};
pub use vault::{
    FetchRequest, FragmentRef, RequestBinding, StoreRequest, UserId, UserRecord, VaultConfig, VaultError, VaultManifest,
};
pub use vote::{QcError, QuorumCert, SignerBitmap, Vote, VoteBatch, VoteData, VoteKind};
