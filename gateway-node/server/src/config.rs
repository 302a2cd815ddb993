//! What a config file can be refused for, the node's and the gateway's alike.

use std::net::SocketAddr;

/// Environment variable that must also be set for fault injection to start.
pub const FAULT_INJECTION_ENV: &str = "VIGIL_ALLOW_FAULT_INJECTION";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {reason}")]
    Parse { path: String, reason: String },
    #[error("environment variable {var}: {reason}")]
    Env { var: &'static str, reason: String },
    #[error(
        "[testing] fault injection is on but {FAULT_INJECTION_ENV}=1 is not set: fault injection is for tests and demos only"
    )]
    FaultInjectionNotAllowed,
    #[error("admin_listen ({0}) must be a loopback address: metrics are not public")]
    AdminNotLoopback(SocketAddr),
}
