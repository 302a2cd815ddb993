//! Node configuration: a TOML file, with environment overrides for what differs per
//! deployment (`VIGIL_API_LISTEN`, `VIGIL_P2P_LISTEN`, `VIGIL_DATA_DIR`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use vigil_core::consensus::Timeouts;

pub use vigil_server::config::{ConfigError, FAULT_INJECTION_ENV};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Display name (logs).
    pub name: String,
    /// Directory for the database; relative paths are relative to the config file.
    pub data_dir: PathBuf,
    /// Node key file (from `vigil keygen --kind node`).
    pub key_file: PathBuf,
    /// Genesis file (JSON), identical on every node.
    pub genesis_file: PathBuf,
    /// Node-to-node listener (Noise).
    pub p2p_listen: SocketAddr,
    /// Public HTTP API listener.
    pub api_listen: SocketAddr,
    /// Where `/metrics` (and `/healthz`) are served, over plain HTTP: a loopback address
    /// only, refused at load otherwise. Without it the node serves no metrics; the public
    /// API never does.
    #[serde(default)]
    pub admin_listen: Option<SocketAddr>,
    /// Per-client limits of the public API.
    #[serde(default)]
    pub api_limits: ApiLimitsConfig,
    /// Every other validator's p2p address.
    #[serde(default)]
    pub peers: Vec<PeerEntry>,
    #[serde(default)]
    pub consensus: ConsensusConfig,
    #[serde(default)]
    pub testing: TestingConfig,
    /// Where vault fragments are kept (default: `fragments.redb` in `data_dir`).
    #[serde(default)]
    pub vault: crate::capability::vault::VaultStoreConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    /// Set by `vigil node --recover`: the data directory was lost (or is new to a chain
    /// that has run without this validator), so the node restores its state from its
    /// peers' latest stable checkpoint before it signs anything, instead of starting at
    /// genesis. Ignored when the data directory holds a chain.
    #[serde(skip)]
    pub recover: bool,
}

/// The node database's memory bounds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Most transaction positions the tx index keeps in memory before the oldest move to
    /// its table on disk ([`crate::storage::TX_INDEX_MEMORY_MAX`] by default).
    pub tx_index_memory_max: usize,
    /// An archive node keeps every block, receipt and state version; others prune after
    /// each stable checkpoint ([`crate::pruning`]).
    pub archive: bool,
    /// Blocks and receipts kept below the latest stable checkpoint.
    pub retention_blocks: u64,
    /// Least time between two compactions of the database file, in seconds.
    pub compact_interval_s: u64,
}

/// Blocks kept below the latest stable checkpoint by default (about 7 hours of an idle
/// devnet's blocks): a node down for longer catches up by recovery, not by sync.
pub const RETENTION_BLOCKS_DEFAULT: u64 = 100_000;
/// Least time between two compactions by default.
pub const COMPACT_INTERVAL_S_DEFAULT: u64 = 600;

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            tx_index_memory_max: crate::storage::TX_INDEX_MEMORY_MAX,
            archive: false,
            retention_blocks: RETENTION_BLOCKS_DEFAULT,
            compact_interval_s: COMPACT_INTERVAL_S_DEFAULT,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    /// Node id (hex), as in the genesis validator set.
    pub id: String,
    /// `host:port` of its p2p listener.
    pub address: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusConfig {
    pub propose_delay_ms: u64,
    pub fast_view_ms: u64,
    pub bft_propose_ms: u64,
    pub bft_vote_ms: u64,
    pub empty_block_interval_ms: u64,
    pub block_txs_max: usize,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        let t = Timeouts::default();
        Self {
            propose_delay_ms: t.propose_delay_ms,
            fast_view_ms: t.fast_view_ms,
            bft_propose_ms: t.bft_propose_ms,
            bft_vote_ms: t.bft_vote_ms,
            empty_block_interval_ms: t.empty_block_interval_ms,
            block_txs_max: 2_000,
        }
    }
}

impl ConsensusConfig {
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            propose_delay_ms: self.propose_delay_ms,
            fast_view_ms: self.fast_view_ms,
            bft_propose_ms: self.bft_propose_ms,
            bft_vote_ms: self.bft_vote_ms,
            empty_block_interval_ms: self.empty_block_interval_ms,
            ..Timeouts::default()
        }
    }
}

/// Default sustained requests per second per client network on the node API.
pub const API_RATE_PER_SECOND: u32 = 50;
/// Default burst of the node API's rate limit.
pub const API_RATE_BURST: u32 = 100;
/// Default cap on a client network's requests in flight at the node API.
pub const API_IN_FLIGHT_PER_CLIENT_MAX: u32 = 32;

/// Per-client-network limits of the node's public API (an IPv4 address or an IPv6 /64),
/// checked before anything reads a request: 429 `RATE_LIMITED` (with `Retry-After`) or
/// `TOO_MANY_IN_FLIGHT`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiLimitsConfig {
    pub rate_per_second: u32,
    pub rate_burst: u32,
    pub in_flight_per_client_max: u32,
    /// Addresses never limited: the gateways that forward to this node (all their
    /// clients arrive from the gateway's address). Empty by default.
    pub unlimited: Vec<std::net::IpAddr>,
}

impl Default for ApiLimitsConfig {
    fn default() -> Self {
        Self {
            rate_per_second: API_RATE_PER_SECOND,
            rate_burst: API_RATE_BURST,
            in_flight_per_client_max: API_IN_FLIGHT_PER_CLIENT_MAX,
            unlimited: Vec::new(),
        }
    }
}

impl ApiLimitsConfig {
    pub fn settings(&self) -> vigil_server::limits::Settings {
        vigil_server::limits::Settings {
            rate_per_second: self.rate_per_second,
            rate_burst: self.rate_burst,
            in_flight_max: self.in_flight_per_client_max,
        }
    }
}

/// Fault injection for tests and demos. Needs `VIGIL_ALLOW_FAULT_INJECTION=1` as well.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TestingConfig {
    /// Sign receipts with a wrong result hash, so wallets have a lie to catch.
    pub byzantine_receipts: bool,
    /// Serve snapshot chunks with one byte flipped, so a restoring peer has a bad chunk
    /// to catch.
    pub corrupt_snapshot_chunks: bool,
}

impl TestingConfig {
    /// Whether any fault is injected.
    pub fn any(&self) -> bool {
        self.byzantine_receipts || self.corrupt_snapshot_chunks
    }
}

impl NodeConfig {
    /// Reads the file, resolves relative paths against its directory, applies env overrides.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let (mut cfg, base): (NodeConfig, _) = vigil_server::config::read_toml(path)?;
        for p in [&mut cfg.data_dir, &mut cfg.key_file, &mut cfg.genesis_file] {
            vigil_server::config::resolve(&base, p);
        }
        cfg.apply_env()?;
        cfg.check()?;
        if cfg.testing.any() && std::env::var(FAULT_INJECTION_ENV).as_deref() != Ok("1") {
            return Err(ConfigError::FaultInjectionNotAllowed);
        }
        Ok(cfg)
    }

    /// What the file must not ask for whatever the environment: an admin listener off
    /// loopback.
    pub fn check(&self) -> Result<(), ConfigError> {
        match self.admin_listen {
            Some(admin) if !admin.ip().is_loopback() => Err(ConfigError::AdminNotLoopback(admin)),
            _ => Ok(()),
        }
    }

    /// Writes the config as TOML (what [`NodeConfig::load`] reads).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = toml::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }

    fn apply_env(&mut self) -> Result<(), ConfigError> {
        fn addr(var: &'static str) -> Result<Option<SocketAddr>, ConfigError> {
            match std::env::var(var) {
                Ok(v) => v.parse().map(Some).map_err(|e| ConfigError::Env { var, reason: format!("{e}") }),
                Err(_) => Ok(None),
            }
        }
        if let Some(a) = addr("VIGIL_API_LISTEN")? {
            self.api_listen = a;
        }
        if let Some(a) = addr("VIGIL_P2P_LISTEN")? {
            self.p2p_listen = a;
        }
        if let Ok(dir) = std::env::var("VIGIL_DATA_DIR") {
            self.data_dir = PathBuf::from(dir);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, admin_listen: &str) -> PathBuf {
        let path = dir.join("node.toml");
        let text = format!(
            "name = \"n\"\ndata_dir = \"data\"\nkey_file = \"node.key\"\ngenesis_file = \"genesis.json\"\n\
             p2p_listen = \"127.0.0.1:7700\"\napi_listen = \"0.0.0.0:7800\"\n{admin_listen}"
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Issue 14: the node's metrics are served on a loopback admin listener only.
    #[test]
    fn an_admin_listener_off_loopback_is_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let err = NodeConfig::load(&write(dir.path(), "admin_listen = \"0.0.0.0:7910\"")).unwrap_err();
        assert!(matches!(err, ConfigError::AdminNotLoopback(a) if a.port() == 7910), "{err}");
        assert!(err.to_string().contains("loopback"), "{err}");
        let cfg = NodeConfig::load(&write(dir.path(), "admin_listen = \"[::1]:7910\"")).unwrap();
        assert_eq!(cfg.admin_listen, Some("[::1]:7910".parse().unwrap()));
        let cfg = NodeConfig::load(&write(dir.path(), "")).unwrap();
        assert_eq!(cfg.admin_listen, None, "no admin listener unless configured");
    }
}
