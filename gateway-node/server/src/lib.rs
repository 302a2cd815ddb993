//! `vigil-server`: what Vigil's server processes (the node and the gateway) share, so
//! that neither borrows the other's internals.
//!
//! - [`http`]: the error body every route answers with, body limits as the body
//!   streams, the access log.
//! - [`limits`]: rate limit and in-flight cap per client network, outermost.
//! - [`metrics`]: counters and histograms in Prometheus' text format.
//! - [`keys`]: key files (a node's keys, an account's key).
//! - [`config`]: why a config file is refused.
//! - [`process`]: wall clock, genesis file, shutdown signal, the OS generator.
#![deny(unsafe_code)]

pub mod config;
pub mod http;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod process;

pub use process::{now_ms, os_rng, read_genesis, shutdown_signal, GenesisFileError};
