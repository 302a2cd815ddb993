//! `vigil`: the operator's binary, where the node (`vigil-node`) and the gateway
//! (`vigil-gateway`) meet.
//!
//! - [`devnet`]: writes a whole network's keys, genesis and configs and runs it as real
//!   processes (nodes, gateways), for `vigil devnet`, `cargo xtask demo` and the tests.
//! - [`twochains`]: two such networks, a connection each way opened by their validators'
//!   quorums, and a relayer between them (`vigil devnet --chains 2`).
//! - [`auditor`]: a counterparty of audits as a process (`vigil auditor`).
#![deny(unsafe_code)]

pub mod auditor;
pub mod devnet;
pub mod twochains;
