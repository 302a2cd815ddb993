//! `vigil-api`: the contract between Vigil's node, gateway, wallet and web wallet, as
//! types both sides use — nothing is read by a field name in a string.
//!
//! - [`error`]: the error document every route answers with, and its codes.
//! - [`answers`]: the parts of the node's answers a client verifies.
//! - [`views`]: the node's answers as a whole, those parts flattened in.
//! - [`gateway`]: the gateway's own routes (forward, nodes, faucet).
//! - [`tables`]: the table routes' scans and history pages.
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod answers;
pub mod audit;
pub mod compact;
pub mod error;
pub mod gateway;
pub mod tables;
pub mod views;

pub use answers::{
    BlockProof, CertsAnswer, CheckpointProof, Hex, ProvenEntry, ProvenState, ProvenStates, ReceiptAnswer, ReceiptProof,
    StatesRequest, StatusHeight, ValidatorsProof, STATES_WAIT_MAX_MS, STATE_KEYS_MAX,
};
pub use audit::{RecordsAnswer, RecordsStored};
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use gateway::{
    FanOutAnswer, FaucetInfo, FaucetRequest, ForwardRequest, Funded, InnerRequest, NodeAnswer, NodeHealth, NodesAnswer,
    Targets,
};
pub use tables::{HistoryQuery, KeyBound, ScanAnswer, ScanRequest};
pub use views::{
    AccountAnswer, BlockAnswer, CheckpointAnswer, NodeStatus, ReceiptProofAnswer, TxAnswer, TxBatchAnswer, TxOutcome,
    TxPending, TxState, ValidatorsAnswer, VaultStored,
};
