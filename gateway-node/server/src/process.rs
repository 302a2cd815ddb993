//! The process around a server: the wall clock, the genesis file both the node and the
//! gateway start from, the shutdown signal, the operating system's generator.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use vigil_protocol::Genesis;

/// Milliseconds since the Unix epoch by the wall clock (0 before it).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Why a genesis file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GenesisFileError {
    #[error("reading genesis {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not a valid genesis file: {reason}")]
    Format { path: String, reason: String },
    #[error(
        "{path} was written by an older vigil (validators without a p2p key: one X25519 key for Noise and HPKE); \
         make a new genesis, or `vigil devnet --reset` for a devnet"
    )]
    OldFormat { path: String },
}

/// Reads a genesis file (JSON); the node and the gateway both start from one.
pub fn read_genesis(path: &Path) -> Result<Genesis, GenesisFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| GenesisFileError::Io { path: shown.clone(), source })?;
    serde_json::from_str(&text).map_err(|e| {
        let reason = e.to_string();
        if reason.contains("missing field `p2p_key`") {
            GenesisFileError::OldFormat { path: shown }
        } else {
            GenesisFileError::Format { path: shown, reason }
        }
    })
}

pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// The operating system's generator, as HPKE's `rand_core` wants it.
pub fn os_rng() -> rand_core09::UnwrapErr<rand_core09::OsRng> {
    rand_core09::UnwrapErr(rand_core09::OsRng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::NodeKeys;
    use vigil_protocol::{ChainId, ConsensusMode, ValidatorInfo, ValidatorSet};

    #[test]
    fn a_genesis_of_one_key_validators_is_refused_with_what_to_do() {
        let keys = NodeKeys::generate();
        let genesis = Genesis {
            chain_id: ChainId::new("vigil-test").unwrap(),
            validators: ValidatorSet::new(vec![ValidatorInfo::new(
                "v",
                keys.consensus.public_key(),
                keys.encryption_public(),
                keys.p2p_public(),
            )])
            .unwrap(),
            accounts: vec![],
            mode: ConsensusMode::Fast,
            time_ms: 0,
            vault: Default::default(),
            checkpoints: Default::default(),
            authcenters: None,
            audit: Default::default(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("genesis.json");
        std::fs::write(&path, serde_json::to_string(&genesis).unwrap()).unwrap();
        assert_eq!(read_genesis(&path).unwrap(), genesis);
        // The previous format: validators without a p2p key.
        let mut old = serde_json::to_value(&genesis).unwrap();
        for v in old["validators"].as_array_mut().unwrap() {
            v.as_object_mut().unwrap().remove("p2p_key");
        }
        std::fs::write(&path, old.to_string()).unwrap();
        let err = read_genesis(&path).expect_err("refused");
        assert!(matches!(err, GenesisFileError::OldFormat { .. }), "{err}");
        assert!(err.to_string().contains("vigil devnet --reset"), "{err}");
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(read_genesis(&path), Err(GenesisFileError::Format { .. })));
    }
}
