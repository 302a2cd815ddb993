//! A whole network on one machine (or configs for several): keys, genesis and node
//! configs written to a directory, then every node started as its own process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use vigil_authcenter::config::AuthCenterConfig;
use vigil_protocol::authcenter::{AuthCenterInfo, AuthCenterSet};
use vigil_protocol::{
    Address, Amount, ChainId, ConsensusMode, Genesis, NodeId, SecretKey, ValidatorInfo, ValidatorSet,
};

use vigil_gateway::config::{GatewayConfig, LimitsConfig, NodeEntry};
use vigil_gateway::faucet::FaucetConfig;
use vigil_node::config::{ApiLimitsConfig, ConsensusConfig, NodeConfig, PeerEntry, TestingConfig, FAULT_INJECTION_ENV};
use vigil_server::keys::{load_account_key, load_node_keys, save_account_key, save_node_keys, NodeKeys};

/// Units the devnet gateway's faucet gives per request (`POST /v1/faucet`).
pub const FAUCET_GIFT: u64 = 100_000;
/// Balance of the devnet's faucet account (its key is `faucet.key` in the directory).
pub const FAUCET_BALANCE: u64 = 1_000_000_000_000;

#[derive(Debug, Clone)]
pub struct DevnetOptions {
    pub nodes: usize,
    pub dir: PathBuf,
    /// The last `byzantine` nodes sign wrong receipts (fault injection).
    pub byzantine: usize,
    /// One host per node for a multi-machine deployment; `None` = all on 127.0.0.1.
    pub hosts: Option<Vec<String>>,
    pub base_port: u16,
    pub mode: ConsensusMode,
    pub chain_id: String,
    /// Extra funded accounts at genesis (load generators, tests).
    pub accounts: Vec<(Address, Amount)>,
    /// Directory the gateway serves the web wallet from (e.g. `www/dist`).
    pub static_dir: Option<PathBuf>,
    /// Gateways to run (1 to [`DEVNET_GATEWAYS_MAX`]), each serving the wallet and
    /// listing the others as the gateways it may fail over to.
    pub gateways: usize,
    /// Authentication centers (0: none) and how many of them a certificate needs.
    pub centers: usize,
    pub center_threshold: u16,
}

/// The devnet's authentication centers by default: five, any three of which sign.
pub const DEVNET_CENTERS: usize = 5;
pub const DEVNET_CENTER_THRESHOLD: u16 = 3;

/// Port offset (from the base port) of node `i`'s admin listener, which is on
/// `127.0.0.1:(base_port + 210 + i)`: above the gateway's two ports and, for up to the
/// devnet's 64 nodes, below the next range a test takes (300 ports apart).
pub const NODE_ADMIN_PORT_OFFSET: usize = 210;

/// Most gateways a devnet runs.
pub const DEVNET_GATEWAYS_MAX: usize = 4;

/// A devnet gateway: HTTPS on `base_port + 200` (the next on `+ 202`, …) with a
/// certificate from a local CA; its metrics on `127.0.0.1:(base_port + 201)` (`+ 203`, …).
#[derive(Debug, Clone)]
pub struct DevnetGateway {
    /// `gateway`, `gateway-1`, …: its directory and its process's name.
    pub name: String,
    pub config: PathBuf,
    pub url: String,
    /// The local CA's certificate: trust it to reach the gateway without warnings.
    pub ca_cert: PathBuf,
    /// The admin listener (`/metrics`), plain HTTP on loopback.
    pub admin_url: String,
}

#[derive(Debug, Clone)]
pub struct DevnetNode {
    pub name: String,
    pub id: NodeId,
    pub config: PathBuf,
    pub api_url: String,
    /// The node's admin listener (`/metrics`), plain HTTP on its host's loopback.
    pub admin_url: String,
    pub p2p: String,
    pub byzantine: bool,
}

#[derive(Debug, Clone)]
pub struct Devnet {
    pub dir: PathBuf,
    pub genesis: PathBuf,
    pub faucet_key: PathBuf,
    pub nodes: Vec<DevnetNode>,
    /// The first gateway (with the faucet).
    pub gateway: DevnetGateway,
    /// The others (`--gateways N`), each a failover for the wallet the first serves.
    pub other_gateways: Vec<DevnetGateway>,
    /// The authentication centers, as the genesis names them.
    pub centers: Vec<DevnetCenter>,
}

/// A devnet authentication center: `center-i/authcenter.toml` beside its key and secrets.
#[derive(Debug, Clone)]
pub struct DevnetCenter {
    pub name: String,
    pub config: PathBuf,
}

fn port(base: u16, offset: usize) -> anyhow::Result<u16> {
    u16::try_from(usize::from(base) + offset).context("port out of range: lower --base-port")
}

/// Writes (or, if the directory already holds a network of the same size, reuses) the
/// devnet's files.
pub fn write(opts: &DevnetOptions) -> anyhow::Result<Devnet> {
    if opts.nodes == 0 || opts.nodes > 64 {
        bail!("--nodes must be between 1 and 64");
    }
    if opts.byzantine >= opts.nodes {
        bail!("--byzantine must be smaller than --nodes");
    }
    if opts.gateways == 0 || opts.gateways > DEVNET_GATEWAYS_MAX {
        bail!("--gateways must be between 1 and {DEVNET_GATEWAYS_MAX}");
    }
    if let Some(h) = &opts.hosts {
        if h.len() != opts.nodes {
            bail!("--hosts lists {} hosts for {} nodes", h.len(), opts.nodes);
        }
    }
    std::fs::create_dir_all(&opts.dir).with_context(|| format!("creating {}", opts.dir.display()))?;
    let genesis_path = opts.dir.join("genesis.json");
    let faucet_path = opts.dir.join("faucet.key");
    let key_path = |i: usize| opts.dir.join(format!("node-{i}")).join("node.key");

    let center_key_path = |i: usize| opts.dir.join(format!("center-{i}")).join("center.key");
    let keys: Vec<NodeKeys> = if genesis_path.exists() {
        (0..opts.nodes)
            .map(|i| load_node_keys(&key_path(i)))
            .collect::<Result<_, _>>()
            .with_context(|| format!("{} holds another network; delete it or pass --reset", opts.dir.display()))?
    } else {
        let keys: Vec<NodeKeys> = (0..opts.nodes).map(|_| NodeKeys::generate()).collect();
        for (i, k) in keys.iter().enumerate() {
            save_node_keys(&key_path(i), k)?;
        }
        let faucet = SecretKey::generate();
        save_account_key(&faucet_path, &faucet)?;
        let authcenters = write_center_keys(opts, &center_key_path)?;
        let validators = ValidatorSet::new(
            keys.iter()
                .enumerate()
                .map(|(i, k)| {
                    ValidatorInfo::new(
                        format!("node-{i}"),
                        k.consensus.public_key(),
                        k.encryption_public(),
                        k.p2p_public(),
                    )
                })
                .collect(),
        )?;
        let genesis = Genesis {
            chain_id: ChainId::new(opts.chain_id.clone())?,
            validators,
            accounts: {
                let mut a = opts.accounts.clone();
                a.push((Address::from_public_key(&faucet.public_key()), Amount(FAUCET_BALANCE)));
                a.sort();
                a.dedup_by_key(|(address, _)| *address);
                a
            },
            mode: opts.mode,
            time_ms: vigil_server::now_ms(),
            vault: Default::default(),
            checkpoints: Default::default(),
            authcenters,
            audit: Default::default(),
        };
        std::fs::write(&genesis_path, serde_json::to_string_pretty(&genesis)? + "\n")?;
        keys
    };
    let host = |i: usize| opts.hosts.as_ref().map_or("127.0.0.1".to_string(), |h| h[i].clone());
    let bind = if opts.hosts.is_some() { "0.0.0.0" } else { "127.0.0.1" };
    let mut nodes = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let p2p_port = port(opts.base_port, i)?;
        let api_port = port(opts.base_port, 100 + i)?;
        let admin_port = port(opts.base_port, NODE_ADMIN_PORT_OFFSET + i)?;
        let byzantine = i >= opts.nodes - opts.byzantine;
        let peers = keys
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(j, pk)| -> anyhow::Result<PeerEntry> {
                Ok(PeerEntry { id: pk.id().to_string(), address: format!("{}:{}", host(j), port(opts.base_port, j)?) })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let cfg = NodeConfig {
            name: format!("node-{i}"),
            data_dir: PathBuf::from("data"),
            key_file: PathBuf::from("node.key"),
            genesis_file: PathBuf::from("../genesis.json"),
            p2p_listen: format!("{bind}:{p2p_port}").parse()?,
            api_listen: format!("{bind}:{api_port}").parse()?,
            // On loopback even when the API is public (`--hosts`): metrics are not.
            admin_listen: Some(format!("127.0.0.1:{admin_port}").parse()?),
            // The devnet's gateway, faucet and load generators run on this machine.
            api_limits: ApiLimitsConfig {
                unlimited: vec![std::net::Ipv4Addr::LOCALHOST.into(), std::net::Ipv6Addr::LOCALHOST.into()],
                ..ApiLimitsConfig::default()
            },
            peers,
            consensus: ConsensusConfig::default(),
            testing: TestingConfig { byzantine_receipts: byzantine, ..TestingConfig::default() },
            vault: Default::default(),
            storage: Default::default(),
            recover: false,
        };
        let config = opts.dir.join(format!("node-{i}")).join("node.toml");
        cfg.save(&config).with_context(|| format!("writing {}", config.display()))?;
        nodes.push(DevnetNode {
            name: cfg.name.clone(),
            id: k.id(),
            config,
            api_url: format!("http://{}:{api_port}", host(i)),
            admin_url: format!("http://127.0.0.1:{admin_port}"),
            p2p: format!("{}:{p2p_port}", host(i)),
            byzantine,
        });
    }
    let all_gateways = write_gateways(opts, &nodes, bind)?;
    let genesis = vigil_server::read_genesis(&genesis_path)?;
    let centers = write_center_configs(opts.hosts.is_none(), &genesis, &all_gateways, &center_key_path)?;
    let mut gateways = all_gateways.into_iter();
    let gateway = gateways.next().context("a devnet has a gateway")?;
    Ok(Devnet {
        centers,
        dir: opts.dir.clone(),
        genesis: genesis_path,
        faucet_key: faucet_path,
        nodes,
        gateway,
        other_gateways: gateways.collect(),
    })
}

/// Keys for `opts.centers` authentication centers (identity and HPKE key, in the node
/// key format) and the set the genesis names; `None` for a devnet without centers.
fn write_center_keys(
    opts: &DevnetOptions,
    key_path: &dyn Fn(usize) -> PathBuf,
) -> anyhow::Result<Option<AuthCenterSet>> {
    if opts.centers == 0 {
        return Ok(None);
    }
    let mut centers = Vec::new();
    for i in 0..opts.centers {
        let k = NodeKeys::generate();
        save_node_keys(&key_path(i), &k)?;
        centers.push(AuthCenterInfo {
            name: format!("center-{i}"),
            identity_key: k.consensus.public_key(),
            encryption_key: k.encryption_public(),
        });
    }
    let set = AuthCenterSet { centers, threshold: opts.center_threshold };
    set.check()
        .map_err(|e| anyhow::anyhow!("--centers {} --center-threshold {}: {e}", opts.centers, opts.center_threshold))?;
    Ok(Some(set))
}

/// The loopback address center `i`'s requests leave from: its own, so the gateways can
/// exempt it from their per-client limits without exempting every local client.
pub fn center_address(i: usize) -> std::net::IpAddr {
    std::net::Ipv4Addr::new(127, 0, 1, (i % 250) as u8 + 1).into()
}

/// Each center's `authcenter.toml` (the centers the genesis names: a resumed devnet
/// keeps its own), reaching the chain through every gateway, the first first; on one
/// machine (`local`) each from its own loopback address.
fn write_center_configs(
    local: bool,
    genesis: &Genesis,
    gateways: &[DevnetGateway],
    key_path: &dyn Fn(usize) -> PathBuf,
) -> anyhow::Result<Vec<DevnetCenter>> {
    let Some(set) = &genesis.authcenters else { return Ok(Vec::new()) };
    let mut centers = Vec::new();
    for (i, info) in set.centers.iter().enumerate() {
        let config = key_path(i).with_file_name("authcenter.toml");
        let cfg = AuthCenterConfig {
            name: info.name.clone(),
            key_file: PathBuf::from("center.key"),
            secrets_file: PathBuf::from("secrets.json"),
            genesis_file: PathBuf::from("../genesis.json"),
            gateways: gateways.iter().map(|g| g.url.clone()).collect(),
            ca_cert: std::path::absolute(&gateways.first().context("a devnet has a gateway")?.ca_cert)?,
            local_address: local.then(|| center_address(i)),
            poll_ms: vigil_authcenter::config::POLL_MS_DEFAULT,
            policy: Default::default(),
            testing: Default::default(),
        };
        cfg.save(&config).with_context(|| format!("writing {}", config.display()))?;
        centers.push(DevnetCenter { name: info.name.clone(), config });
    }
    Ok(centers)
}

/// The gateways' configs and TLS files (a local CA and a `localhost` certificate, made
/// once and kept, shared by every gateway). Gateway i listens on `base_port + 200 + 2i`
/// (its metrics on `+ 201 + 2i`); each lists the others as `wallet_gateways` and allows
/// their origins in `cors_origins`, so the wallet served by one fails over to the others.
/// The first has the faucet (one faucet key, one sender of its transfers).
fn write_gateways(opts: &DevnetOptions, nodes: &[DevnetNode], bind: &str) -> anyhow::Result<Vec<DevnetGateway>> {
    let tls_dir = opts.dir.join("gateway").join("tls");
    let tls = vigil_gateway::tls::LocalTls::in_dir(&tls_dir);
    let tls = if tls.exists() { tls } else { vigil_gateway::tls::make_local_tls(&tls_dir)? };
    let ports: Vec<(u16, u16)> = (0..opts.gateways)
        .map(|i| Ok((port(opts.base_port, 200 + 2 * i)?, port(opts.base_port, 201 + 2 * i)?)))
        .collect::<anyhow::Result<_>>()?;
    let origin = |port: u16| format!("https://localhost:{port}");
    let mut gateways = Vec::new();
    for (i, (port, admin_port)) in ports.iter().copied().enumerate() {
        let name = if i == 0 { "gateway".to_string() } else { format!("gateway-{i}") };
        let dir = opts.dir.join(&name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let others: Vec<String> =
            ports.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, (p, _))| origin(*p)).collect();
        let tls_path = |file: &str| {
            if i == 0 {
                PathBuf::from("tls").join(file)
            } else {
                PathBuf::from("../gateway/tls").join(file)
            }
        };
        let cfg = GatewayConfig {
            listen: format!("{bind}:{port}").parse()?,
            genesis_file: PathBuf::from("../genesis.json"),
            tls_cert: Some(tls_path("gateway.pem")),
            tls_key: Some(tls_path("gateway.key")),
            plain_http_on_loopback: false,
            static_dir: opts.static_dir.as_ref().map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone())),
            admin_listen: Some(format!("127.0.0.1:{admin_port}").parse()?),
            cors_origins: others.clone(),
            wallet_gateways: others.iter().map(|o| o.parse()).collect::<Result<_, _>>()?,
            other_chains: vec![],
            // The centers' transactions go to every node: their addresses are not limited.
            limits: LimitsConfig {
                node_timeout_ms: 12_000,
                unlimited: (0..opts.centers).map(center_address).collect(),
                ..LimitsConfig::default()
            },
            faucet: (i == 0).then(|| FaucetConfig { key_file: PathBuf::from("../faucet.key"), amount: FAUCET_GIFT }),
            nodes: nodes.iter().map(|n| NodeEntry { id: n.id.to_string(), url: n.api_url.clone() }).collect(),
        };
        let config = dir.join("gateway.toml");
        cfg.save(&config).with_context(|| format!("writing {}", config.display()))?;
        gateways.push(DevnetGateway {
            name,
            config,
            url: origin(port),
            ca_cert: tls.ca_cert.clone(),
            admin_url: format!("http://127.0.0.1:{admin_port}"),
        });
    }
    Ok(gateways)
}

/// Running node processes; stopped (SIGTERM, then SIGKILL after a grace period) on drop.
pub struct Running {
    pub children: Vec<(String, Child)>,
}

impl Devnet {
    /// Starts every node as a child process of `exe` (the `vigil` binary), logging to
    /// `node-i/node.log`.
    pub fn start(&self, exe: &Path) -> anyhow::Result<Running> {
        let mut children = Vec::new();
        for n in &self.nodes {
            children.push((n.name.clone(), self.spawn_node(exe, n)?));
        }
        for g in self.gateways() {
            let child = self.spawn_gateway(exe, g)?;
            // Beside its log, so that a test (or an operator) can stop this one alone.
            std::fs::write(g.config.with_file_name("gateway.pid"), child.id().to_string())?;
            children.push((g.name.clone(), child));
        }
        for c in &self.centers {
            children.push((c.name.clone(), self.spawn_center(exe, c)?));
        }
        Ok(Running { children })
    }

    /// Every gateway, the first one first.
    pub fn gateways(&self) -> impl Iterator<Item = &DevnetGateway> {
        std::iter::once(&self.gateway).chain(&self.other_gateways)
    }

    /// Where the process `name` (a node's, a gateway's or a center's name) logs:
    /// `node-i/node.log`, `gateway/gateway.log`, `gateway-1/gateway.log`,
    /// `center-i/authcenter.log`, beside its config.
    pub fn log_path(&self, name: &str) -> PathBuf {
        if let Some(c) = self.centers.iter().find(|c| c.name == name) {
            return c.config.with_file_name("authcenter.log");
        }
        match self.nodes.iter().find(|n| n.name == name) {
            Some(n) => n.config.with_file_name("node.log"),
            None => {
                self.gateways().find(|g| g.name == name).unwrap_or(&self.gateway).config.with_file_name("gateway.log")
            }
        }
    }

    /// Starts a gateway, logging to `gateway.log` beside its config.
    pub fn spawn_gateway(&self, exe: &Path, g: &DevnetGateway) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path(&g.name))?;
        let mut cmd = Command::new(exe);
        cmd.arg("gateway")
            .arg("--config")
            .arg(&g.config)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log));
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        cmd.spawn().with_context(|| format!("starting {} ({})", g.name, exe.display()))
    }

    /// Starts an authentication center, logging to `authcenter.log` beside its config.
    pub fn spawn_center(&self, exe: &Path, c: &DevnetCenter) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path(&c.name))?;
        let mut cmd = Command::new(exe);
        cmd.arg("authcenter").arg("--config").arg(&c.config);
        cmd.stdout(Stdio::from(log.try_clone()?)).stderr(Stdio::from(log));
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        // A test that made this center misbehave (its config's `[testing]`) allows it.
        let text = std::fs::read_to_string(&c.config).unwrap_or_default();
        if toml::from_str::<AuthCenterConfig>(&text).is_ok_and(|cfg| cfg.testing != Default::default()) {
            cmd.env(FAULT_INJECTION_ENV, "1");
        }
        cmd.spawn().with_context(|| format!("starting {} ({})", c.name, exe.display()))
    }

    /// Whether `name` is one of this devnet's gateways.
    pub fn is_gateway(&self, name: &str) -> bool {
        self.gateways().any(|g| g.name == name)
    }

    pub fn spawn_node(&self, exe: &Path, n: &DevnetNode) -> anyhow::Result<Child> {
        self.spawn_node_with(exe, n, &[])
    }

    /// [`Devnet::spawn_node`] with more arguments for `vigil node` (e.g. `--recover`).
    pub fn spawn_node_with(&self, exe: &Path, n: &DevnetNode, args: &[&str]) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path(&n.name))?;
        let mut cmd = Command::new(exe);
        cmd.arg("node").arg("--config").arg(&n.config).args(args);
        cmd.stdout(Stdio::from(log.try_clone()?)).stderr(Stdio::from(log));
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        if n.byzantine {
            cmd.env(FAULT_INJECTION_ENV, "1");
        }
        cmd.spawn().with_context(|| format!("starting {}", exe.display()))
    }

    pub fn faucet(&self) -> anyhow::Result<SecretKey> {
        Ok(load_account_key(&self.faucet_key)?)
    }
}

/// Why a process stopped, from its log: the last error it printed (as `vigil` prints
/// them: `Error: …` and its causes, without a backtrace), or else the last `n` lines.
pub fn log_tail(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = match lines.iter().rposition(|l| l.starts_with("Error: ")) {
        Some(i) => i,
        None => lines.len().saturating_sub(n),
    };
    lines[from..]
        .iter()
        .take_while(|l| !l.starts_with("Stack backtrace:"))
        .filter(|l| !l.trim().is_empty())
        .take(n.max(8))
        .map(|l| l.to_string())
        .collect()
}

/// Asks a process to stop (SIGTERM on Unix).
pub fn terminate(child: &mut Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            return;
        }
    }
    let _ = child.kill();
}

impl Running {
    /// The first process that has stopped on its own, with how it ended; it is no longer
    /// listed.
    pub fn exited(&mut self) -> Option<(String, std::process::ExitStatus)> {
        let stopped =
            self.children.iter_mut().find_map(|(name, c)| c.try_wait().ok().flatten().map(|s| (name.clone(), s)))?;
        self.children.retain(|(name, _)| *name != stopped.0);
        Some(stopped)
    }

    /// Stops every node cleanly; kills those that do not stop within `grace`.
    pub fn stop(&mut self, grace: Duration) {
        for (_, c) in &mut self.children {
            terminate(c);
        }
        let deadline = Instant::now() + grace;
        for (name, c) in &mut self.children {
            loop {
                match c.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        eprintln!("{name} did not stop in time; killing it");
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        self.children.clear();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// How long a devnet may take to answer before `report_ready` gives up waiting.
pub const READY_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(120);

/// Where the time to a serving devnet is counted from: `VIGIL_STARTED_AT_MS` (Unix ms,
/// set by `cargo xtask demo` when it starts, builds included) or now.
#[derive(Debug, Clone, Copy)]
pub struct StartClock {
    at_ms: u128,
    by_xtask: bool,
}

impl StartClock {
    pub fn from_env() -> Self {
        let given = std::env::var("VIGIL_STARTED_AT_MS").ok().and_then(|v| v.parse::<u128>().ok());
        Self { at_ms: given.unwrap_or_else(unix_ms), by_xtask: given.is_some() }
    }

    fn elapsed_s(&self) -> f64 {
        unix_ms().saturating_sub(self.at_ms) as f64 / 1000.0
    }
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

/// Waits until the gateway at `url` (`https://host:port`) accepts connections on
/// loopback, then prints the time it took: the first URL a user can open.
pub async fn report_ready(url: String, started: StartClock) {
    let Some(port) = url.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()) else {
        return;
    };
    let deadline = tokio::time::Instant::now() + READY_WAIT_MAX;
    while tokio::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            let since = if started.by_xtask { "after `cargo xtask demo` started" } else { "after start" };
            println!("serving: {url}/ answers, {:.1} s {since}", started.elapsed_s());
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    eprintln!("the gateway at {url} did not answer within {} s: see gateway/gateway.log", READY_WAIT_MAX.as_secs());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_gateway_of_a_devnet_lists_the_others_for_its_wallet() {
        let dir = tempfile::tempdir().unwrap();
        let opts = DevnetOptions {
            nodes: 4,
            dir: dir.path().to_path_buf(),
            byzantine: 0,
            hosts: None,
            base_port: 41000,
            mode: ConsensusMode::Fast,
            chain_id: "vigil-devnet".into(),
            accounts: vec![],
            static_dir: None,
            gateways: 2,
            centers: DEVNET_CENTERS,
            center_threshold: DEVNET_CENTER_THRESHOLD,
        };
        let net = write(&opts).unwrap();
        let urls: Vec<&str> = net.gateways().map(|g| g.url.as_str()).collect();
        assert_eq!(urls, ["https://localhost:41200", "https://localhost:41202"]);
        for (i, g) in net.gateways().enumerate() {
            let cfg = GatewayConfig::load(&g.config).unwrap();
            let other = urls[1 - i];
            assert_eq!(cfg.wallet_gateways.iter().map(|o| o.as_str()).collect::<Vec<_>>(), [other], "{}", g.name);
            assert_eq!(cfg.cors_origins, [other], "{}", g.name);
            assert!(cfg.tls_cert.unwrap().exists(), "one certificate for both");
            assert_eq!(cfg.faucet.is_some(), i == 0, "one faucet key, one sender");
        }
        assert_eq!(net.centers.len(), DEVNET_CENTERS);
        for c in &net.centers {
            let cfg = AuthCenterConfig::load(&c.config).unwrap();
            assert_eq!(cfg.gateways, urls, "a center reaches the chain through every gateway");
            assert!(cfg.key_file.exists() && cfg.ca_cert.exists());
        }
        let genesis = vigil_server::read_genesis(&net.genesis).unwrap();
        assert_eq!(genesis.authcenters.map(|s| (s.centers.len(), s.threshold)), Some((5, 3)));
        assert!(write(&DevnetOptions { gateways: DEVNET_GATEWAYS_MAX + 1, ..opts.clone() }).is_err());
        assert!(write(&DevnetOptions { gateways: 0, ..opts }).is_err());
    }

    #[test]
    fn a_stopped_process_is_explained_by_its_last_error_without_the_backtrace() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("node.log");
        let text = "INFO node starting\nError: an old error\n\nINFO node starting\nError: this database was written by another version of Vigil\n\nCaused by:\n    schema 1\n\nStack backtrace:\n   0: std::backtrace\n";
        std::fs::write(&log, text).unwrap();
        assert_eq!(
            log_tail(&log, 5),
            vec!["Error: this database was written by another version of Vigil", "Caused by:", "    schema 1"]
        );
        std::fs::write(&log, "one\ntwo\nthree\n").unwrap();
        assert_eq!(log_tail(&log, 2), vec!["two", "three"], "no error line: the last lines");
        assert!(log_tail(&dir.path().join("missing.log"), 5).is_empty());
    }
}
