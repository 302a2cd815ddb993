//! `authcenter.toml`: what a center process needs to follow its chain and speak on it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vigil_server::config::{read_toml, resolve, ConfigError, FAULT_INJECTION_ENV};

use crate::check::Policy;

/// How often a center asks the chain where it is, by default.
pub const POLL_MS_DEFAULT: u64 = 100;
/// The least poll interval a config may ask for (each poll is a few proven reads
/// through a gateway).
pub const POLL_MS_MIN: u64 = 50;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthCenterConfig {
    /// The center's name in logs (the chain knows it by its identity key).
    pub name: String,
    /// The center's Ed25519 identity key (as `vigil keygen account` writes it): the key
    /// the chain's center set names, and the sender of its transactions.
    pub key_file: PathBuf,
    /// Where the center keeps its secrets (key-generation seeds, its signing share, its
    /// nonces): owner-only, replaced atomically. Losing it loses the center's share.
    pub secrets_file: PathBuf,
    /// The chain's genesis: the validator set the center's light client starts from.
    pub genesis_file: PathBuf,
    /// Gateways (HTTPS base URLs) the center reaches the validators through, tried in order.
    pub gateways: Vec<String>,
    /// The CA certificate (PEM) that signed the gateways' TLS certificates (a devnet's
    /// local CA): the only root the center trusts.
    pub ca_cert: PathBuf,
    /// The local address the center's requests leave from (a gateway limits each client
    /// address; its operator may list this one as unlimited). None: the system's choice.
    #[serde(default)]
    pub local_address: Option<std::net::IpAddr>,
    /// How often the chain is read, in milliseconds.
    #[serde(default = "poll_ms_default")]
    pub poll_ms: u64,
    /// What this center approves (the default identification check's policy; by default
    /// any subject, a validity starting within 10 minutes of this center's clock).
    #[serde(default)]
    pub policy: Policy,
    /// Fault injection for tests and demos (refused unless VIGIL_ALLOW_FAULT_INJECTION=1).
    #[serde(default)]
    pub testing: CenterTesting,
}

/// What a test may make a center do wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CenterTesting {
    /// Approve and take part, but never send a signature share.
    #[serde(default)]
    pub withhold_shares: bool,
}

fn poll_ms_default() -> u64 {
    POLL_MS_DEFAULT
}

impl AuthCenterConfig {
    /// Reads the file and resolves relative paths against its directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let (mut cfg, base): (Self, _) = read_toml(path)?;
        for p in [&mut cfg.key_file, &mut cfg.secrets_file, &mut cfg.genesis_file, &mut cfg.ca_cert] {
            resolve(&base, p);
        }
        cfg.check().map_err(|reason| ConfigError::Parse { path: shown, reason })?;
        if cfg.testing.withhold_shares && std::env::var(FAULT_INJECTION_ENV).as_deref() != Ok("1") {
            return Err(ConfigError::FaultInjectionNotAllowed);
        }
        Ok(cfg)
    }

    fn check(&self) -> Result<(), String> {
        if self.gateways.is_empty() {
            return Err("`gateways` lists no gateway: name at least one (https://host:port)".into());
        }
        if self.poll_ms < POLL_MS_MIN {
            return Err(format!("`poll_ms` is {}; the least is {POLL_MS_MIN}", self.poll_ms));
        }
        Ok(())
    }

    /// Writes the config as TOML (what [`AuthCenterConfig::load`] reads).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = toml::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }
}
