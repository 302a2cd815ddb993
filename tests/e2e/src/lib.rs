//! Helpers for the end-to-end tests: find the `vigil` binary, start a devnet on free
//! loopback ports, talk to its nodes over HTTP.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use vigil::devnet::{self, Devnet, DevnetOptions, Running};
use vigil_protocol::ConsensusMode;

pub mod load;
pub mod twonet;

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
        bail!("{} not found: run `cargo build -p vigil --bin vigil` first (cargo xtask test does)", p.display());
    }
    Ok(p)
}

/// A load generator's account key: the `i`-th of the family `tag` (so benches and tests
/// that fund accounts in a genesis sign for them without key files).
pub fn seeded_key(tag: u8, i: usize) -> vigil_protocol::SecretKey {
    let mut s = [tag; 32];
    s[..8].copy_from_slice(&(i as u64).to_le_bytes());
    vigil_protocol::SecretKey::from_seed(s)
}

/// A bench's size from the environment variable `name` (to shorten or lengthen a run),
/// else `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A base port with free ports at base+i, base+100+i and base+210+i (its admin
/// listener) for each of `nodes` nodes and base+200 (base+201: its admin listener) for
/// the gateway. Each call in this process gets its own range (tests run in parallel
/// threads). Below the kernel's ephemeral range (32768 up): an outgoing connection of
/// one devnet can take an ephemeral port between the check here and a bind there.
pub fn free_base_port(nodes: usize) -> u16 {
    static NEXT_SLOT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let pid_offset = (std::process::id() % 50) as u16 * 900;
    for _ in 0..200 {
        let slot = NEXT_SLOT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 50;
        let base = 20_000 + (pid_offset + slot * 300) % 12_000;
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
        // `VIGIL_KEEP_DEVNET=1`: the devnet's files and logs stay, to read after a run.
        if std::env::var_os("VIGIL_KEEP_DEVNET").is_some() {
            eprintln!("devnet kept at {}", self.0.display());
            return;
        }
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
        Self::start_configured(nodes, byzantine, mode, accounts, |_| Ok(())).await
    }

    /// Like [`TestNet::start_with`], with `configure` run on the written devnet before
    /// any process starts (to change a node's `node.toml`, as an operator would).
    pub async fn start_configured(
        nodes: usize,
        byzantine: usize,
        mode: ConsensusMode,
        accounts: Vec<(vigil_protocol::Address, vigil_protocol::Amount)>,
        configure: impl FnOnce(&Devnet) -> anyhow::Result<()>,
    ) -> anyhow::Result<Self> {
        Self::start_full(nodes, byzantine, mode, accounts, (0, devnet::DEVNET_CENTER_THRESHOLD), configure).await
    }

    /// A devnet with `centers` authentication center processes, any `threshold` of which
    /// sign; `configure` runs on the written devnet first (to set a center's policy).
    pub async fn start_with_centers(
        nodes: usize,
        centers: usize,
        threshold: u16,
        configure: impl FnOnce(&Devnet) -> anyhow::Result<()>,
    ) -> anyhow::Result<Self> {
        Self::start_full(nodes, 0, ConsensusMode::Fast, Vec::new(), (centers, threshold), configure).await
    }

    /// [`TestNet::start_with_centers`] whose genesis also funds `accounts`.
    pub async fn start_with_centers_funding(
        nodes: usize,
        (centers, threshold): (usize, u16),
        accounts: Vec<(vigil_protocol::Address, vigil_protocol::Amount)>,
    ) -> anyhow::Result<Self> {
        Self::start_full(nodes, 0, ConsensusMode::Fast, accounts, (centers, threshold), |_| Ok(())).await
    }

    async fn start_full(
        nodes: usize,
        byzantine: usize,
        mode: ConsensusMode,
        accounts: Vec<(vigil_protocol::Address, vigil_protocol::Amount)>,
        (centers, center_threshold): (usize, u16),
        configure: impl FnOnce(&Devnet) -> anyhow::Result<()>,
    ) -> anyhow::Result<Self> {
        static NEXT_DIR: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT_DIR.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("vigil-e2e-{}-{}-{n}", std::process::id(), vigil_server::now_ms()));
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
            centers,
            center_threshold,
        };
        let devnet = devnet::write(&opts)?;
        configure(&devnet)?;
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

    /// A wallet session (the native build of the wasm core) through this devnet's
    /// gateway, its light client at the genesis set.
    pub fn wallet_session(&self, http: &reqwest::Client) -> anyhow::Result<vigil_wallet::session::Session<Native>> {
        use vigil_wallet::client::{ClientConfig, GatewayClient};
        let genesis: vigil_protocol::Genesis = serde_json::from_str(&std::fs::read_to_string(&self.devnet.genesis)?)?;
        let light = vigil_wallet::light::LightClient::new(
            vigil_protocol::ChainId::new("vigil-e2e")?,
            &vigil_protocol::encoding::to_bytes(&genesis.validators),
            &genesis.validators.hash(),
        )?;
        let cfg = ClientConfig { gateways: vec![self.devnet.gateway.url.clone()], ..ClientConfig::default() };
        Ok(vigil_wallet::session::Session::new(GatewayClient::new(cfg, Native(http.clone())), light))
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
pub use vigil_wallet::native::Native;

/// A real S3-protocol server (`s3s-fs`) as a child process on a free loopback port,
/// with SigV4 authentication, over its own directory; stopped when dropped.
pub struct S3Server {
    pub port: u16,
    pub root: PathBuf,
    pub access_key: String,
    pub secret_key: String,
    child: Option<std::process::Child>,
    _dir: TempDir,
}

impl S3Server {
    /// Starts a server holding one (empty) bucket named `bucket`.
    pub async fn start(bucket: &str) -> anyhow::Result<Self> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("vigil-s3-{}-{n}", std::process::id()));
        std::fs::create_dir_all(root.join(bucket))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut server = Self {
            port,
            root: root.clone(),
            access_key: format!("vigil-test-{n}"),
            secret_key: format!("secret-{}-{n}", std::process::id()),
            child: None,
            _dir: TempDir(root),
        };
        server.resume().await?;
        Ok(server)
    }

    /// The endpoint URL an operator would configure.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGKILL: as a crashed or unplugged one), keeping its data.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and data.
    pub async fn resume(&mut self) -> anyhow::Result<()> {
        let bin = s3s_fs_bin()?;
        let child = std::process::Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", &self.access_key, "--secret-key", &self.secret_key])
            .arg(&self.root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("s3s-fs did not listen on 127.0.0.1:{} within 20 s", self.port)
    }

    /// Files the server holds under `bucket` (its objects, one file each).
    pub fn objects(&self, bucket: &str) -> usize {
        fn walk(p: &std::path::Path) -> usize {
            std::fs::read_dir(p)
                .map(|d| d.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
                .unwrap_or(0)
        }
        walk(&self.root.join(bucket))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `s3s-fs` on PATH or in cargo's bin directory (`cargo xtask provision --tests`
/// installs the version it pins).
fn s3s_fs_bin() -> anyhow::Result<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|h| h.join("bin/s3s-fs"));
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("s3s-fs")).find(|p| p.is_file()));
    match on_path.or(cargo_bin.filter(|p| p.is_file())) {
        Some(p) => Ok(p),
        None => bail!("s3s-fs (the S3 server the tests run) is not installed: run `cargo xtask provision --tests`"),
    }
}
