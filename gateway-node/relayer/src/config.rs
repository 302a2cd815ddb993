//! `relayer.toml`: the two chains a relayer connects, and its account on each.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vigil_server::config::{read_toml, resolve, ConfigError};

/// How often the relayer reads both chains, by default.
pub const POLL_MS_DEFAULT: u64 = 100;
/// The least poll interval a config may ask for.
pub const POLL_MS_MIN: u64 = 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayerConfig {
    /// The relayer's name in logs.
    pub name: String,
    /// Exactly two chains.
    pub chains: Vec<ChainEndpoint>,
    /// How often both chains are read, in milliseconds.
    #[serde(default = "poll_ms_default")]
    pub poll_ms: u64,
}

/// One chain as the relayer reaches it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainEndpoint {
    /// The chain's genesis: the validator set its light client starts from.
    pub genesis_file: PathBuf,
    /// Gateways (HTTPS base URLs) that reach its validators, tried in order.
    pub gateways: Vec<String>,
    /// The CA certificate (PEM) that signed the gateways' TLS certificates.
    pub ca_cert: PathBuf,
    /// The relayer's account key on this chain (as `vigil keygen account` writes it):
    /// it pays the fees of what it carries here, and is paid the relayer fees.
    pub key_file: PathBuf,
    /// The local address its requests leave from (a gateway may list it as unlimited).
    #[serde(default)]
    pub local_address: Option<std::net::IpAddr>,
}

fn poll_ms_default() -> u64 {
    POLL_MS_DEFAULT
}

impl RelayerConfig {
    /// Reads the file and resolves relative paths against its directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let (mut cfg, base): (Self, _) = read_toml(path)?;
        for chain in &mut cfg.chains {
            for p in [&mut chain.genesis_file, &mut chain.ca_cert, &mut chain.key_file] {
                resolve(&base, p);
            }
        }
        cfg.check().map_err(|reason| ConfigError::Parse { path: shown, reason })?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), String> {
        if self.chains.len() != 2 {
            return Err(format!("`chains` lists {} chains; a relayer connects exactly two", self.chains.len()));
        }
        if let Some(i) = self.chains.iter().position(|c| c.gateways.is_empty()) {
            return Err(format!("chain {} lists no gateway: name at least one (https://host:port)", i + 1));
        }
        if self.poll_ms < POLL_MS_MIN {
            return Err(format!("`poll_ms` is {}; the least is {POLL_MS_MIN}", self.poll_ms));
        }
        Ok(())
    }

    /// Writes the config as TOML (what [`RelayerConfig::load`] reads).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = toml::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_names_two_chains_with_gateways_and_resolves_its_paths() {
        let dir = tempfile::tempdir().unwrap();
        let chain = |g: &str| ChainEndpoint {
            genesis_file: "a/genesis.json".into(),
            gateways: vec![g.into()],
            ca_cert: "ca.pem".into(),
            key_file: "relayer.key".into(),
            local_address: None,
        };
        let path = dir.path().join("relayer.toml");
        let cfg =
            RelayerConfig { name: "r".into(), chains: vec![chain("https://a"), chain("https://b")], poll_ms: 100 };
        cfg.save(&path).unwrap();
        let back = RelayerConfig::load(&path).unwrap();
        assert_eq!(back.chains[0].genesis_file, dir.path().join("a/genesis.json"));
        let one = RelayerConfig { chains: vec![chain("https://a")], ..cfg.clone() };
        one.save(&path).unwrap();
        assert!(RelayerConfig::load(&path).unwrap_err().to_string().contains("exactly two"));
        let no_gateway =
            RelayerConfig { chains: vec![chain("https://a"), ChainEndpoint { gateways: vec![], ..chain("") }], ..cfg };
        no_gateway.save(&path).unwrap();
        assert!(RelayerConfig::load(&path).unwrap_err().to_string().contains("no gateway"));
    }
}
