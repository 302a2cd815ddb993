//! Test vectors shared by the native generator (`vectors.rs`) and the wasm test
//! (`wasm.rs`): everything a browser build must agree on with native code.
#![allow(dead_code)]

use serde::{Deserialize, Serialize};

/// The committed file; regenerate with `UPDATE_VECTORS=1 cargo test -p vigil-protocol --test vectors`.
pub const VECTORS_JSON: &str = include_str!("../vectors/v1.json");

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Vectors {
    /// Seed of the account key that signs `signed_tx`.
    pub account_seed_hex: String,
    pub account_address: String,
    /// BCS of the unsigned transaction body.
    pub tx_body_hex: String,
    pub tx_hash_hex: String,
    /// BCS of the signed transaction; its signature is deterministic (RFC 8032).
    pub signed_tx_hex: String,
    /// BCS of a 4-validator set.
    pub validator_set_hex: String,
    pub validator_set_hash_hex: String,
    /// BCS of a certified header (Bft mode, 3 of 4 precommits).
    pub certified_header_hex: String,
    /// The same certificate with one signature replaced by a signature on other data.
    pub bad_certified_header_hex: String,
    pub state_root_hex: String,
    /// BCS of a `StateKey` present in the state, its value, and a membership proof.
    pub present_key_hex: String,
    pub present_value_hex: String,
    pub present_proof_hex: String,
    /// BCS of a `StateKey` absent from the state and a non-membership proof.
    pub absent_key_hex: String,
    pub absent_proof_hex: String,
    /// BCS of a 32-validator set, and of a certificate every one of them signed: large
    /// enough for the npm package to split across its verifier workers.
    pub large_set_hex: String,
    pub large_qc_hex: String,
    /// The same certificate with its last signature (the workers' share) on other data.
    pub large_forged_qc_hex: String,
}
