//! `vigil-node`: the full node's shell around the pure core ([`vigil_core`]).
//!
//! - [`service`]: the node process — the consensus thread driving [`vigil_core`]'s
//!   state machine, [`storage`] (redb), [`net`] (Noise links between validators),
//!   [`api`] (axum), [`metrics`].
//! - [`sealed`] and [`link`]: the node's side of sealed requests (Oblivious HTTP) and of
//!   the gateway's forwarding link.
//! - [`capability`]: each capability's routes and what the node keeps for it (the
//!   vault's fragment store: a redb table, a directory or S3).
//! - [`recovery`]: the snapshots this node serves, and the restore of its own state
//!   from its peers' snapshots when it lost its data.
//! - [`verified`]: the signatures this node has checked, so each is checked once.
//! - [`receipts`]: this node's signed receipts, one signature per block.
//! - [`config`]: the node's TOML file and its environment overrides.
//!
//! What the node shares with the gateway lives in `vigil-server`; the `vigil` binary is
//! the only crate where the two meet.
#![deny(unsafe_code)]

pub mod api;
pub mod capability;
pub mod config;
pub mod link;
pub mod metrics;
pub mod net;
pub mod openapi;
pub mod pruning;
pub mod receipts;
pub mod recovery;
pub mod sealed;
pub mod service;
pub mod storage;
pub mod verified;
