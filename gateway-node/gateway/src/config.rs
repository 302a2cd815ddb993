//! Gateway configuration: a TOML file, with environment overrides for what differs per
//! deployment (`VIGIL_GATEWAY_LISTEN`, `VIGIL_GATEWAY_STATIC_DIR`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vigil_protocol::limits::WALLET_GATEWAYS_MAX;
use vigil_protocol::wallet_config::GatewayOrigin;

use vigil_server::config::{read_toml, resolve, ConfigError};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Where clients connect (HTTPS unless `plain_http_on_loopback`).
    pub listen: SocketAddr,
    /// Genesis file of the chain: the validator set the registry is followed from.
    pub genesis_file: PathBuf,
    /// TLS certificate chain (PEM) for the gateway's domain name.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP instead of TLS. Refused unless `listen` is a loopback address.
    #[serde(default)]
    pub plain_http_on_loopback: bool,
    /// Serve the web wallet from this directory (e.g. `www/dist`) on the same origin.
    #[serde(default)]
    pub static_dir: Option<PathBuf>,
    /// Where `/metrics` (and `/healthz`) are served, over plain HTTP: a loopback address
    /// only. Without it the gateway serves no metrics; the public listener never does.
    #[serde(default)]
    pub admin_listen: Option<SocketAddr>,
    /// Origins allowed to call the API from a browser (`["*"]` for any).
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// The other gateways the served web wallet may use (`https://host[:port]`, or
    /// `http://127.0.0.1:port` for loopback tests), in the order it tries them: its CSP
    /// `connect-src` is this origin and exactly these, and `GET /v1/wallet-config` lists
    /// them. Each must allow this gateway's origin in its `cors_origins`.
    #[serde(default)]
    pub wallet_gateways: Vec<GatewayOrigin>,
    /// Gateways of other chains the served web wallet may follow for transfers across
    /// chains: its CSP `connect-src` names them too, and `GET /v1/wallet-config` lists
    /// them as `other_chains`. Each must allow this gateway's origin in its `cors_origins`.
    #[serde(default)]
    pub other_chains: Vec<GatewayOrigin>,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// A test-network faucet (`POST /v1/faucet`); leave out on a real chain.
    #[serde(default)]
    pub faucet: Option<super::faucet::FaucetConfig>,
    /// The nodes this gateway forwards to: where to reach each validator. Only those in
    /// the validator set followed from genesis are reachable.
    pub nodes: Vec<NodeEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// Node id (hex), as in the validator set.
    pub id: String,
    /// Base URL of the node's API, e.g. `http://10.0.0.5:7800`.
    pub url: String,
}

/// Default cap on a client network's requests (fan-out targets) in flight.
pub const FORWARDS_IN_FLIGHT_PER_CLIENT_MAX: u32 = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body accepted from a client.
    pub body_max_bytes: usize,
    /// Requests per second allowed per client address (sustained).
    pub rate_per_second: u32,
    /// Requests a client may send at once above the sustained rate. A fan-out costs
    /// one per target.
    pub rate_burst: u32,
    /// Requests a client network may have in flight at once (a fan-out counts one per
    /// target); beyond it, 429 `TOO_MANY_IN_FLIGHT`.
    pub in_flight_per_client_max: u32,
    /// Longest wait for one node's answer.
    pub node_timeout_ms: u64,
    /// Failures in a row after which a node's circuit opens.
    pub breaker_failures: u32,
    /// How long an open circuit refuses requests before trying the node again.
    pub breaker_open_ms: u64,
    /// Interval of health checks and registry refreshes.
    pub health_interval_ms: u64,
    /// Client addresses never limited (an operator's own authentication centers, whose
    /// transactions fan out to every node). Empty by default.
    pub unlimited: Vec<std::net::IpAddr>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            body_max_bytes: 1024 * 1024,
            rate_per_second: 50,
            rate_burst: 100,
            in_flight_per_client_max: FORWARDS_IN_FLIGHT_PER_CLIENT_MAX,
            node_timeout_ms: 15_000,
            breaker_failures: 3,
            breaker_open_ms: 5_000,
            health_interval_ms: 2_000,
            unlimited: Vec::new(),
        }
    }
}

impl GatewayConfig {
    /// Reads `path`; relative paths inside are resolved against its directory. Then
    /// applies environment overrides and checks the TLS settings.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let (mut cfg, base): (Self, _) = read_toml(path)?;
        let resolve = |p: &mut PathBuf| resolve(&base, p);
        resolve(&mut cfg.genesis_file);
        for p in [&mut cfg.tls_cert, &mut cfg.tls_key, &mut cfg.static_dir].into_iter().flatten() {
            resolve(p);
        }
        if let Some(f) = &mut cfg.faucet {
            resolve(&mut f.key_file);
        }
        if let Ok(v) = std::env::var("VIGIL_GATEWAY_LISTEN") {
            cfg.listen =
                v.parse().map_err(|e| ConfigError::Env { var: "VIGIL_GATEWAY_LISTEN", reason: format!("{e}") })?;
        }
        if let Ok(v) = std::env::var("VIGIL_GATEWAY_STATIC_DIR") {
            cfg.static_dir = Some(PathBuf::from(v));
        }
        cfg.check().map_err(|reason| ConfigError::Parse { path: shown, reason })?;
        Ok(cfg)
    }

    /// TLS is the default; plain HTTP only on loopback and only when asked for. The
    /// admin listener (plain HTTP) is on loopback only.
    pub fn check(&self) -> Result<(), String> {
        for (name, list) in [("wallet_gateways", &self.wallet_gateways), ("other_chains", &self.other_chains)] {
            if list.len() > WALLET_GATEWAYS_MAX {
                return Err(format!("{name} lists {}; at most {WALLET_GATEWAYS_MAX}", list.len()));
            }
        }
        if let Some(admin) = self.admin_listen {
            if !admin.ip().is_loopback() {
                return Err(format!("admin_listen ({admin}) must be a loopback address: metrics are not public"));
            }
        }
        match (&self.tls_cert, &self.tls_key, self.plain_http_on_loopback) {
            (Some(_), Some(_), false) => Ok(()),
            (None, None, true) if self.listen.ip().is_loopback() => Ok(()),
            (None, None, true) => Err(format!(
                "plain_http_on_loopback is set but listen ({}) is not a loopback address; configure tls_cert and tls_key",
                self.listen
            )),
            (_, _, true) => Err("set either tls_cert and tls_key, or plain_http_on_loopback, not both".into()),
            _ => Err("set tls_cert and tls_key (PEM files) for the gateway's domain name".into()),
        }
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = toml::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(listen: &str, tls: bool, plain: bool) -> GatewayConfig {
        GatewayConfig {
            listen: listen.parse().unwrap(),
            genesis_file: "genesis.json".into(),
            tls_cert: tls.then(|| "c.pem".into()),
            tls_key: tls.then(|| "k.pem".into()),
            plain_http_on_loopback: plain,
            static_dir: None,
            admin_listen: None,
            cors_origins: vec![],
            wallet_gateways: vec![],
            other_chains: vec![],
            limits: LimitsConfig::default(),
            faucet: None,
            nodes: vec![],
        }
    }

    #[test]
    fn plain_http_only_on_loopback_and_only_when_asked() {
        assert!(cfg("0.0.0.0:443", true, false).check().is_ok());
        assert!(cfg("127.0.0.1:8080", false, true).check().is_ok());
        assert!(cfg("[::1]:8080", false, true).check().is_ok());
        assert!(cfg("0.0.0.0:8080", false, true).check().unwrap_err().contains("not a loopback"));
        assert!(cfg("127.0.0.1:8080", false, false).check().unwrap_err().contains("tls_cert"));
        assert!(cfg("127.0.0.1:8080", true, true).check().is_err());
        let mut admin = cfg("0.0.0.0:443", true, false);
        admin.admin_listen = Some("127.0.0.1:9100".parse().unwrap());
        assert!(admin.check().is_ok());
        admin.admin_listen = Some("0.0.0.0:9100".parse().unwrap());
        assert!(admin.check().unwrap_err().contains("loopback"));
    }

    #[test]
    fn wallet_gateways_are_origins_and_bounded() {
        let text = |gateways: &str| {
            format!("listen = \"127.0.0.1:1\"\ngenesis_file = \"g.json\"\nplain_http_on_loopback = true\nwallet_gateways = {gateways}\nnodes = []\n")
        };
        let cfg: GatewayConfig =
            toml::from_str(&text(r#"["https://b.example:8443", "http://127.0.0.1:9000"]"#)).unwrap();
        assert_eq!(cfg.wallet_gateways.len(), 2);
        assert!(cfg.check().is_ok());
        let e = toml::from_str::<GatewayConfig>(&text(r#"["https://b.example/wallet"]"#)).unwrap_err();
        assert!(e.to_string().contains("not a gateway origin"), "{e}");
        let e = toml::from_str::<GatewayConfig>(&text(r#"["http://b.example"]"#)).unwrap_err();
        assert!(e.to_string().contains("plain http"), "{e}");
        let many: Vec<String> = (0..=WALLET_GATEWAYS_MAX).map(|i| format!("\"https://g{i}.example\"")).collect();
        let cfg: GatewayConfig = toml::from_str(&text(&format!("[{}]", many.join(",")))).unwrap();
        assert!(cfg.check().unwrap_err().contains("at most"));
    }
}
