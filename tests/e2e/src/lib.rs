//! Helpers for the end-to-end tests: find the `vigil` binary, start a devnet on free
//! loopback ports, talk to its nodes over HTTP.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use vigil_node::devnet::{self, Devnet, DevnetOptions, Running};
use vigil_protocol::ConsensusMode;
use vigil_wallet::client::{HttpRequest, HttpResponse, Transport, TransportError};

/// The `vigil` binary: `$VIGIL_BIN`, or `target/debug/vigil` of this workspace
/// (`cargo xtask test` builds it first).
pub fn vigil_bin() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("VIGIL_BIN") {
        return Ok(PathBuf::from(p));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let p = target.join("debug/vigil");
    if !p.is_file() {
        bail!("{} not found: run `cargo build -p vigil-node --bin vigil` first (cargo xtask test does)", p.display());
    }
    Ok(p)
}

/// A base port with free ports at base+i, base+100+i and base+210+i (its admin
/// listener) for each of `nodes` nodes and base+200 (base+201: its admin listener) for
/// the gateway. Each call in this process gets its own range (tests run in parallel
/// threads).
pub fn free_base_port(nodes: usize) -> u16 {
    static NEXT_SLOT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let pid_offset = (std::process::id() % 50) as u16 * 900;
    for _ in 0..200 {
        let slot = NEXT_SLOT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 50;
        let base = 20_000 + (pid_offset + slot * 300) % 40_000;
        let free = (0..nodes as u16).all(|i| {
            std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", base + 100 + i)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", base + devnet::NODE_ADMIN_PORT_OFFSET as u16 + i)).is_ok()
        }) && std::net::TcpListener::bind(("127.0.0.1", base + 200)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", base + 201)).is_ok();
        if free {
            return base;
        }
    }
    panic!("no free loopback port range found for a {nodes}-node devnet");
}

pub struct TestNet {
    pub devnet: Devnet,
    pub running: Running,
    pub http: reqwest::Client,
    _dir: TempDir,
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestNet {
    pub async fn start(nodes: usize, byzantine: usize, mode: ConsensusMode) -> anyhow::Result<Self> {
        Self::start_with(nodes, byzantine, mode, Vec::new()).await
    }

    /// A devnet whose genesis also funds `accounts`.
    pub async fn start_with(
        nodes: usize,
        byzantine: usize,
        mode: ConsensusMode,
        accounts: Vec<(vigil_protocol::Address, vigil_protocol::Amount)>,
    ) -> anyhow::Result<Self> {
        static NEXT_DIR: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT_DIR.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "vigil-e2e-{}-{}-{n}",
            std::process::id(),
            vigil_node::service::now_ms()
        ));
        let opts = DevnetOptions {
            nodes,
            dir: dir.clone(),
            byzantine,
            hosts: None,
            base_port: free_base_port(nodes),
            mode,
            chain_id: "vigil-e2e".into(),
            accounts,
            static_dir: None,
            gateways: 1,
        };
        let devnet = devnet::write(&opts)?;
        let running = devnet.start(&vigil_bin()?)?;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        let net = Self { devnet, running, http, _dir: TempDir(dir) };
        net.wait_until_connected(Duration::from_secs(30)).await?;
        Ok(net)
    }

    pub fn url(&self, node: usize, path: &str) -> String {
        format!("{}{}", self.devnet.nodes[node].api_url, path)
    }

    pub async fn get(&self, node: usize, path: &str) -> anyhow::Result<(u16, Value)> {
        let r = self.http.get(self.url(node, path)).send().await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    /// Waits until every node answers and has links up to every peer.
    pub async fn wait_until_connected(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        let n = self.devnet.nodes.len();
        for i in 0..n {
            loop {
                let ok = match self.get(i, "/v1/status").await {
                    Ok((200, s)) => s["peers_connected"].as_array().map_or(0, Vec::len) == n - 1,
                    _ => false,
                };
                if ok {
                    break;
                }
                if Instant::now() > deadline {
                    let log =
                        std::fs::read_to_string(self.devnet.dir.join(format!("node-{i}/node.log"))).unwrap_or_default();
                    bail!("node {i} not connected within {limit:?}; its log:\n{log}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// Height of node `i`'s last committed block.
    pub async fn height(&self, i: usize) -> anyhow::Result<u64> {
        let (_, s) = self.get(i, "/v1/status").await?;
        s["height"].as_u64().context("status without height")
    }

    /// Node `i`'s signed receipt for `hash`, waiting up to `limit` for the node to
    /// commit it (other nodes may commit a moment after the one that answered).
    pub async fn signed_receipt(
        &self,
        i: usize,
        hash: &vigil_protocol::TxHash,
        limit: Duration,
    ) -> anyhow::Result<vigil_protocol::SignedReceipt> {
        let deadline = Instant::now() + limit;
        loop {
            let (status, body) = self.get(i, &format!("/v1/tx/{hash}")).await?;
            if status == 200 {
                let hex = body["receipt_bcs"].as_str().context("receipt without receipt_bcs")?;
                return Ok(vigil_protocol::encoding::from_bytes(&hex::decode(hex)?)?);
            }
            if Instant::now() > deadline {
                bail!("node {i} has no receipt for {hash} after {limit:?}: {status} {body}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A client for the devnet's gateway, trusting only the devnet's local CA (so the
    /// gateway's certificate is checked for `localhost` as a browser would).
    pub fn gateway_client(&self) -> anyhow::Result<reqwest::Client> {
        let ca = std::fs::read(&self.devnet.gateway.ca_cert)?;
        Ok(reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
            .timeout(Duration::from_secs(30))
            .build()?)
    }

    /// Waits until the gateway answers over TLS and lists every node as healthy.
    pub async fn wait_for_gateway(&self, client: &reqwest::Client, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        let n = self.devnet.nodes.len();
        loop {
            if let Ok(r) = client.get(format!("{}/v1/nodes", self.devnet.gateway.url)).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    let healthy =
                        v["nodes"].as_array().map_or(0, |a| a.iter().filter(|x| x["healthy"] == true).count());
                    if healthy == n {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.devnet.dir.join("gateway/gateway.log")).unwrap_or_default();
                bail!("gateway not ready within {limit:?}; its log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Node `i`'s `/metrics`, from its loopback admin listener (the public API has none).
    pub async fn metrics(&self, i: usize) -> anyhow::Result<String> {
        let r = self.http.get(format!("{}/metrics", self.devnet.nodes[i].admin_url)).send().await?;
        anyhow::ensure!(r.status() == 200, "node {i}'s admin listener answered {} for /metrics", r.status());
        Ok(r.text().await?)
    }

    /// A Prometheus counter's value in node `i`'s `/metrics`.
    pub async fn metric(&self, i: usize, series: &str) -> anyhow::Result<f64> {
        let text = self.metrics(i).await?;
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
            .with_context(|| format!("no series {series} in node {i}'s metrics"))
    }
}

/// The native transport: reqwest with rustls, trusting the devnet's CA only.
pub struct Native(pub reqwest::Client);

impl Transport for Native {
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
