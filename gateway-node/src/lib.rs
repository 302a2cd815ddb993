//! `vigil-node`: Vigil's full node, forwarding gateway and devnet tooling.
//!
//! - [`execution`]: the deterministic state transition (accounts, transfers, fault
//!   evidence → jailing and the switch to Bft mode).
//! - [`consensus`]: the sans-io consensus state machine (Fast and Bft modes).
//! - [`sim`]: the deterministic simulator that runs the real consensus code under a
//!   seeded, faulty virtual network.
//!
//! - [`service`]: the node process — [`storage`] (redb), [`net`] (Noise links),
//!   [`api`] (axum), [`metrics`] — around the consensus state machine.
//! - [`devnet`]: writes a whole network's keys, genesis and configs and runs it.
//!
//! The binaries `vigil` (node, devnet, keygen) and `vigil-sim` are thin shells on top.
#![deny(unsafe_code)]

pub mod api;
pub mod config;
pub mod consensus;
pub mod devnet;
pub mod execution;
pub mod gateway;
mod http;
pub mod keys;
pub mod limits;
pub mod link;
pub mod metrics;
pub mod net;
mod openapi;
pub mod sealed;
pub mod service;
pub mod sim;
pub mod storage;
pub mod vault;
