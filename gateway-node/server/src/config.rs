//! What a config file can be refused for, the node's and the gateway's alike.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

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

/// A config file read as TOML into `T`, with the directory its relative paths are
/// relative to (the node's, the gateway's and an authentication center's alike).
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<(T, PathBuf), ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: shown.clone(), source })?;
    let cfg = toml::from_str(&text).map_err(|e| ConfigError::Parse { path: shown, reason: e.to_string() })?;
    Ok((cfg, path.parent().unwrap_or(Path::new(".")).to_path_buf()))
}

/// `path` resolved against `base` if it is relative.
pub fn resolve(base: &Path, path: &mut PathBuf) {
    if path.is_relative() {
        *path = base.join(&*path);
    }
}
