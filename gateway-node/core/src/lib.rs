//! `vigil-core`: Vigil's consensus and execution, pure.
//!
//! - [`execution`]: the deterministic state transition (fees, nonces, the state tree).
//! - [`capability`]: what each kind of transaction does, one module each (transfers,
//!   fault evidence → jailing and the switch to Bft mode, the vault's records).
//! - [`consensus`]: the sans-io consensus state machine (Fast and Bft modes).
//! - [`carry`]: carrying out what a step decided, in order, through an [`carry::Env`]
//!   (the node's: redb, Noise, tokio timers; the simulator's: a simulated disk and network).
//!
//! Nothing here touches sockets, files, clocks, threads or randomness: time and inputs
//! come in, a list of what to do comes out. The node (`vigil-node`) carries the list out
//! over redb and Noise links; the simulator (`vigil-sim`) over a seeded, faulty virtual
//! network, running this very code.
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod capability;
pub mod carry;
pub mod consensus;
pub mod execution;
