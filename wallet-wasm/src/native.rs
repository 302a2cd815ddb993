//! The native platform (feature `native`): HTTP by reqwest over rustls, timers by tokio,
//! randomness from the operating system. What a process that is not a browser — an
//! authentication center, a test — runs the wallet core on; the browser's is
//! `fetch::Fetch` (wasm32).

use std::time::Duration;

use crate::client::{HttpRequest, HttpResponse, TransportError};
use crate::platform::Platform;

/// A reqwest client as the wallet's platform. Build the client with the roots to trust
/// (a devnet's local CA, say): the platform adds nothing to it.
pub struct Native(pub reqwest::Client);

impl Native {
    /// A client trusting exactly the PEM certificate `ca_pem` (a devnet gateway's CA),
    /// its requests leaving from `local` if given.
    pub fn trusting(ca_pem: &[u8], local: Option<std::net::IpAddr>) -> Result<Native, reqwest::Error> {
        let ca = reqwest::Certificate::from_pem(ca_pem)?;
        let builder = reqwest::Client::builder().use_rustls_tls().add_root_certificate(ca).local_address(local);
        Ok(Native(builder.build()?))
    }
}

impl Platform for Native {
    fn now_ms(&self) -> u64 {
        crate::platform::system_now_ms()
    }

    fn fill_random(&self, out: &mut [u8]) {
        // The operating system's generator failing leaves nothing safe to do.
        getrandom::getrandom(out).expect("the operating system's random generator failed");
    }

    async fn send(&self, r: HttpRequest) -> Result<HttpResponse, TransportError> {
        let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut b = self.0.request(method, &r.url).timeout(Duration::from_millis(r.timeout_ms)).body(r.body);
        if let Some(c) = r.content_type {
            b = b.header("content-type", c);
        }
        match b.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after_s =
                    resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
                let body = resp.bytes().await.map_err(|_| TransportError::Unreachable(r.url.clone()))?.to_vec();
                Ok(HttpResponse { status, retry_after_s, body })
            }
            Err(e) if e.is_timeout() => Err(TransportError::Timeout(r.timeout_ms)),
            Err(_) => Err(TransportError::Unreachable(r.url)),
        }
    }

    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// A session on the chain of `genesis` through `gateways` (HTTPS, their certificates
/// signed by `ca_pem`), its light client starting from the genesis set and following
/// the certified set changes to the current set: how a process — a center, a relayer,
/// a devnet opening its connections — reaches a chain.
pub async fn session_through(
    genesis: &vigil_protocol::Genesis,
    gateways: Vec<String>,
    ca_pem: &[u8],
    local: Option<std::net::IpAddr>,
) -> Result<crate::session::Session<Native>, crate::session::WalletError> {
    let platform = Native::trusting(ca_pem, local)
        .map_err(|e| crate::session::WalletError::BadAnswer(format!("the CA certificate is not usable: {e}")))?;
    let set_bcs = vigil_protocol::encoding::to_bytes(&genesis.validators);
    let light = crate::light::LightClient::new(genesis.chain_id.clone(), &set_bcs, &genesis.validators.hash())?;
    let config = crate::client::ClientConfig { gateways, ..crate::client::ClientConfig::default() };
    let mut session = crate::session::Session::new(crate::client::GatewayClient::new(config, platform), light);
    session.sync().await?;
    Ok(session)
}
