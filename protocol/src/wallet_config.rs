//! What a gateway tells the web wallet it serves (`GET /v1/wallet-config`): the other
//! gateways the deployment trusts, as origins, and the gateways of other chains the
//! wallet may follow for cross-chain transfers. The gateway's Content-Security-Policy
//! lets the page connect to exactly these (and its own origin), and the wallet fails
//! over to the first list when a node is silent through the first gateway. One definition for the gateway
//! that serves it and the wallet that reads it.
//!
//! Nothing here is trusted for safety: every answer through any gateway is verified by
//! the wallet against the validator set it pinned, and a gateway on another chain is
//! refused. An origin is checked strictly (no path, no user, nothing that could change
//! the meaning of the CSP header it is written into).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::limits::{ORIGIN_LEN_MAX_BYTES, WALLET_GATEWAYS_MAX};

/// Why a gateway origin or a wallet configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("`{0}` is not a gateway origin: write https://host or https://host:port, lowercase, without a path")]
    Shape(String),
    #[error("`{0}`: plain http is allowed only for http://127.0.0.1 (loopback tests); use https")]
    PlainHttp(String),
    #[error("a gateway origin is at most {ORIGIN_LEN_MAX_BYTES} bytes, this one is {0}")]
    TooLong(usize),
    #[error("at most {WALLET_GATEWAYS_MAX} wallet gateways, not {0}")]
    TooMany(usize),
}

/// A gateway's origin: `https://host[:port]`, or `http://127.0.0.1[:port]` for tests on
/// one machine. Host names are lowercase DNS names (or IPv4 addresses); nothing else
/// is accepted, so the text is safe to write into a CSP header as it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GatewayOrigin(String);

impl GatewayOrigin {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_host(host: &str) -> bool {
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    (1..=253).contains(&host.len()) && host.split('.').all(label)
}

fn is_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && !port.starts_with('0')
        && port.parse::<u16>().is_ok()
}

impl FromStr for GatewayOrigin {
    type Err = OriginError;

    fn from_str(s: &str) -> Result<Self, OriginError> {
        if s.len() > ORIGIN_LEN_MAX_BYTES {
            return Err(OriginError::TooLong(s.len()));
        }
        let shape = || OriginError::Shape(s.to_string());
        let (plain, rest) = match (s.strip_prefix("https://"), s.strip_prefix("http://")) {
            (Some(rest), _) => (false, rest),
            (None, Some(rest)) => (true, rest),
            (None, None) => return Err(shape()),
        };
        let (host, port) = match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        if !is_host(host) || port.is_some_and(|p| !is_port(p)) {
            return Err(shape());
        }
        if plain && host != "127.0.0.1" {
            return Err(OriginError::PlainHttp(s.to_string()));
        }
        Ok(Self(s.to_string()))
    }
}

impl TryFrom<String> for GatewayOrigin {
    type Error = OriginError;

    fn try_from(s: String) -> Result<Self, OriginError> {
        s.parse()
    }
}

impl From<GatewayOrigin> for String {
    fn from(o: GatewayOrigin) -> String {
        o.0
    }
}

impl fmt::Display for GatewayOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The body of `GET /v1/wallet-config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletConfig {
    /// The other gateways the wallet may use, in the order to try them after the one
    /// that served it (each origin is checked as it is read).
    pub gateways: Vec<GatewayOrigin>,
    /// Gateways of other chains (one per chain, or several of one) the wallet may follow
    /// for transfers across chains: each chain is trusted only through the genesis the
    /// wallet pins for it, never through this list.
    #[serde(default)]
    pub other_chains: Vec<GatewayOrigin>,
}

impl WalletConfig {
    /// Checks what the origins' own parsing cannot: how many there are.
    pub fn check(&self) -> Result<(), OriginError> {
        for list in [&self.gateways, &self.other_chains] {
            if list.len() > WALLET_GATEWAYS_MAX {
                return Err(OriginError::TooMany(list.len()));
            }
        }
        Ok(())
    }

    /// Every origin the served page may connect to besides its own.
    pub fn origins(&self) -> impl Iterator<Item = &GatewayOrigin> {
        self.gateways.iter().chain(&self.other_chains)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_origins_and_loopback_http_are_accepted() {
        for ok in ["https://gw.example.org", "https://localhost:8443", "https://10.0.0.7:443", "http://127.0.0.1:8080"]
        {
            assert_eq!(ok.parse::<GatewayOrigin>().unwrap().as_str(), ok);
        }
    }

    #[test]
    fn anything_that_is_not_a_bare_origin_is_refused() {
        for bad in [
            "",
            "gw.example.org",
            "ftp://gw.example.org",
            "https://",
            "https://gw.example.org/",
            "https://gw.example.org/v1",
            "https://user@gw.example.org",
            "https://GW.example.org",
            "https://gw.example.org:",
            "https://gw.example.org:0",
            "https://gw.example.org:080",
            "https://gw.example.org:65536",
            "https://gw.example.org:1:2",
            "https://-gw.example.org",
            "https://gw..example.org",
            "https://gw.example.org; script-src *",
            "https://gw.example.org 'unsafe-inline'",
            "https://[::1]:8443",
        ] {
            assert!(matches!(bad.parse::<GatewayOrigin>(), Err(OriginError::Shape(_))), "{bad}");
        }
        assert!(matches!("http://gw.example.org".parse::<GatewayOrigin>(), Err(OriginError::PlainHttp(_))));
        assert!(matches!("http://localhost:80".parse::<GatewayOrigin>(), Err(OriginError::PlainHttp(_))));
        let long = format!("https://{}.org", "a.".repeat(200));
        assert!(matches!(long.parse::<GatewayOrigin>(), Err(OriginError::TooLong(_))));
    }

    #[test]
    fn a_wallet_config_is_checked_as_it_is_read() {
        let v: WalletConfig = serde_json::from_str(r#"{"gateways":["https://b.example:8443"]}"#).unwrap();
        assert_eq!(v.gateways[0].as_str(), "https://b.example:8443");
        assert!(serde_json::from_str::<WalletConfig>(r#"{"gateways":["https://b.example/x"]}"#).is_err());
        assert!(serde_json::from_str::<WalletConfig>(r#"{"gateways":[],"other":1}"#).is_err());
        let too_many: Vec<GatewayOrigin> =
            (0..=WALLET_GATEWAYS_MAX).map(|i| format!("https://g{i}.example").parse().unwrap()).collect();
        let many = WalletConfig { gateways: too_many.clone(), other_chains: vec![] };
        assert_eq!(many.check(), Err(OriginError::TooMany(WALLET_GATEWAYS_MAX + 1)));
        let many = WalletConfig { gateways: vec![], other_chains: too_many };
        assert_eq!(many.check(), Err(OriginError::TooMany(WALLET_GATEWAYS_MAX + 1)));
        let both: WalletConfig =
            serde_json::from_str(r#"{"gateways":["https://a.example"],"other_chains":["https://b.example"]}"#).unwrap();
        assert_eq!(both.origins().map(|o| o.as_str()).collect::<Vec<_>>(), ["https://a.example", "https://b.example"]);
        assert_eq!(v.check(), Ok(()));
    }
}
