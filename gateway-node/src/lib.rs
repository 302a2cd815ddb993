//! `vigil-node`: Vigil's full node, forwarding gateway and devnet tooling.
//!
//! - [`execution`]: the deterministic state transition (accounts, transfers, fault
//!   evidence → jailing and the switch to Bft mode).
//! - [`consensus`]: the sans-io consensus state machine (Fast and Bft modes).
//! - [`sim`]: the deterministic simulator that runs the real consensus code under a
//!   seeded, faulty virtual network.
//!
//! The binary `vigil` (node, gateway, devnet) and `vigil-sim` are thin shells on top.
#![forbid(unsafe_code)]

pub mod consensus;
pub mod execution;
pub mod sim;
