//! `vigil devnet --chains 2`: two devnets (`chain-a/`, `chain-b/` of the directory, the
//! second 300 ports above the first), a relayer funded on both (`relayer/`), and a
//! connection each way, opened as governance opens one: a proposal every validator of
//! the chain signs (the devnet holds their keys), sent by the faucet.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;
use vigil_protocol::crosschain::{ClientState, ConnectionProposal, ConnectionSettings, OpenConnection};
use vigil_protocol::{Address, Amount, Height, NodeId, Payload, SecretKey, Signature, StateKey};
use vigil_relayer::config::{ChainEndpoint, RelayerConfig};
use vigil_server::keys::{load_account_key, load_node_keys, save_account_key};
use vigil_wallet::detector::Verdict;
use vigil_wallet::native::session_through;

use crate::devnet::{self, Devnet, DevnetOptions, Running};

/// The second chain's base port, above the first's.
pub const CHAIN_B_PORT_OFFSET: u16 = 300;
/// What the relayer's account holds at each chain's genesis (its fees).
pub const RELAYER_BALANCE: u64 = 1_000_000_000;
/// The loopback address the devnet's relayer's requests leave from, which both chains'
/// gateways exempt from their per-client limits (it carries every transfer).
pub const RELAYER_ADDRESS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 2, 1);
/// Heights of the chain an approval of a connection stays usable for.
pub const APPROVAL_VALID_HEIGHTS: u64 = 10_000;

/// Two devnets and their relayer.
#[derive(Debug, Clone)]
pub struct TwoChains {
    pub dir: PathBuf,
    pub a: Devnet,
    pub b: Devnet,
    /// `relayer/relayer.toml`.
    pub relayer: PathBuf,
}

impl TwoChains {
    /// Writes (or reuses) both networks and the relayer's key and config. `opts` is the
    /// first chain's; the second is the same shape, without centers or faults, at
    /// `base_port_b`. Chain ids: `<chain_id>-a` and `<chain_id>-b`.
    pub fn write(opts: &DevnetOptions, base_port_b: u16) -> anyhow::Result<TwoChains> {
        let relayer_dir = opts.dir.join("relayer");
        std::fs::create_dir_all(&relayer_dir).with_context(|| format!("creating {}", relayer_dir.display()))?;
        let key_path = relayer_dir.join("relayer.key");
        let key = if key_path.exists() {
            load_account_key(&key_path)?
        } else {
            let key = SecretKey::generate();
            save_account_key(&key_path, &key)?;
            key
        };
        let mut accounts = opts.accounts.clone();
        accounts.push((Address::from_public_key(&key.public_key()), Amount(RELAYER_BALANCE)));
        let a = devnet::write(&DevnetOptions {
            dir: opts.dir.join("chain-a"),
            chain_id: format!("{}-a", opts.chain_id),
            accounts: accounts.clone(),
            ..opts.clone()
        })?;
        share_tls(&a, &opts.dir.join("chain-b"))?;
        let b = devnet::write(&DevnetOptions {
            dir: opts.dir.join("chain-b"),
            chain_id: format!("{}-b", opts.chain_id),
            accounts,
            base_port: base_port_b,
            byzantine: 0,
            centers: 0,
            ..opts.clone()
        })?;
        let local = opts.hosts.is_none();
        for net in [&a, &b] {
            if local {
                exempt(net, RELAYER_ADDRESS.into())?;
            }
        }
        follow_each_other(&a, &b)?;
        let endpoint = |net: &Devnet| -> anyhow::Result<ChainEndpoint> {
            Ok(ChainEndpoint {
                genesis_file: std::path::absolute(&net.genesis)?,
                gateways: net.gateways().map(|g| g.url.clone()).collect(),
                ca_cert: std::path::absolute(&net.gateway.ca_cert)?,
                key_file: PathBuf::from("relayer.key"),
                local_address: local.then_some(RELAYER_ADDRESS.into()),
            })
        };
        let relayer = relayer_dir.join("relayer.toml");
        let cfg = RelayerConfig {
            name: "relayer".into(),
            chains: vec![endpoint(&a)?, endpoint(&b)?],
            poll_ms: vigil_relayer::config::POLL_MS_DEFAULT,
        };
        cfg.save(&relayer).with_context(|| format!("writing {}", relayer.display()))?;
        Ok(TwoChains { dir: opts.dir.clone(), a, b, relayer })
    }

    /// Starts both networks and the relayer (which waits for the connections). Each
    /// process is named by its chain: `chain-a/node-0`, `chain-b/gateway`, `relayer`.
    pub fn start(&self, exe: &Path) -> anyhow::Result<Running> {
        let mut running = self.start_chains(exe)?;
        running.children.push(("relayer".into(), self.spawn_relayer(exe, &self.relayer)?));
        Ok(running)
    }

    /// Starts both networks, without a relayer (`vigil devnet --chains 2 --no-relayer`:
    /// one is run by hand with `vigil relayer --config <dir>/relayer/relayer.toml`).
    pub fn start_chains(&self, exe: &Path) -> anyhow::Result<Running> {
        let mut children = Vec::new();
        for (chain, net) in [("chain-a", &self.a), ("chain-b", &self.b)] {
            let mut running = net.start(exe)?;
            children.extend(running.children.drain(..).map(|(name, child)| (format!("{chain}/{name}"), child)));
        }
        Ok(Running { children })
    }

    /// The network of a process named as [`TwoChains::start`] names it, and its name there.
    fn split<'a>(&self, name: &'a str) -> Option<(&Devnet, &'a str)> {
        match name.split_once('/') {
            Some(("chain-a", rest)) => Some((&self.a, rest)),
            Some(("chain-b", rest)) => Some((&self.b, rest)),
            _ => None,
        }
    }

    /// Whether the process `name` is one of the gateways.
    pub fn is_gateway(&self, name: &str) -> bool {
        self.split(name).is_some_and(|(net, name)| net.is_gateway(name))
    }

    /// Where the process `name` logs.
    pub fn log_path(&self, name: &str) -> PathBuf {
        match self.split(name) {
            Some((net, name)) => net.log_path(name),
            None => self.relayer.with_file_name("relayer.log"),
        }
    }

    /// Starts a relayer with `config`, logging to `relayer.log` beside it.
    pub fn spawn_relayer(&self, exe: &Path, config: &Path) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(config.with_file_name("relayer.log"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("relayer").arg("--config").arg(config);
        cmd.stdout(Stdio::from(log.try_clone()?)).stderr(Stdio::from(log));
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        cmd.spawn().with_context(|| format!("starting the relayer ({})", exe.display()))
    }

    /// Opens each chain's connection to the other (those open already are kept).
    pub async fn open_connections(&self, settings: ConnectionSettings) -> anyhow::Result<()> {
        open_connection(&self.a, &self.b, settings).await?;
        open_connection(&self.b, &self.a, settings).await
    }
}

/// Exempts requests from `address` from the per-client limits of `net`'s gateways.
pub fn exempt(net: &Devnet, address: std::net::IpAddr) -> anyhow::Result<()> {
    for g in net.gateways() {
        let mut cfg = vigil_gateway::config::GatewayConfig::load(&g.config)?;
        if !cfg.limits.unlimited.contains(&address) {
            cfg.limits.unlimited.push(address);
            cfg.save(&g.config).with_context(|| format!("writing {}", g.config.display()))?;
        }
    }
    Ok(())
}

/// Gives the second chain's gateways the first's TLS files (written before the second
/// chain is): one local CA and one `localhost` certificate for the whole devnet, so a
/// browser or a client trusts both chains' gateways at once.
fn share_tls(a: &Devnet, b_dir: &Path) -> anyhow::Result<()> {
    let from = a.gateway.ca_cert.parent().context("the first chain's TLS directory")?;
    let to = b_dir.join("gateway").join("tls");
    if to.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))
            .with_context(|| format!("copying {} to {}", entry.path().display(), to.display()))?;
    }
    Ok(())
}

/// The web wallet each chain's gateways serve may follow the other chain (transfers
/// across): each gateway lists the other chain's gateways as `other_chains` (its CSP
/// lets the page reach them), and allows the other chain's gateways' origins to call it.
pub fn follow_each_other(a: &Devnet, b: &Devnet) -> anyhow::Result<()> {
    for (this, other) in [(a, b), (b, a)] {
        for g in this.gateways() {
            let mut cfg = vigil_gateway::config::GatewayConfig::load(&g.config)?;
            for o in other.gateways() {
                let origin: vigil_protocol::wallet_config::GatewayOrigin = o.url.parse()?;
                if !cfg.other_chains.contains(&origin) {
                    cfg.other_chains.push(origin);
                }
                if !cfg.cors_origins.contains(&o.url) {
                    cfg.cors_origins.push(o.url.clone());
                }
            }
            cfg.save(&g.config).with_context(|| format!("writing {}", g.config.display()))?;
        }
    }
    Ok(())
}

/// `this` opens its connection to `other`, trusting `other`'s genesis set from height
/// 1: every validator of `this` approves; the faucet sends it.
pub async fn open_connection(this: &Devnet, other: &Devnet, settings: ConnectionSettings) -> anyhow::Result<()> {
    let genesis = vigil_server::read_genesis(&this.genesis)?;
    let other_genesis = vigil_server::read_genesis(&other.genesis)?;
    let ca = std::fs::read(&this.gateway.ca_cert)?;
    let gateways = this.gateways().map(|g| g.url.clone()).collect();
    let mut session = session_through(&genesis, gateways, &ca, None).await?;
    let keys = [StateKey::Connection(other_genesis.chain_id.clone()), StateKey::Consensus];
    let proven = session.proofs_after(&keys, None).await?;
    let existing: Option<ClientState> = proven.value(0)?;
    if existing.as_ref().is_some_and(|c| c.usable(proven.height().next()).is_ok()) {
        return Ok(());
    }
    let set = session.current_set().clone();
    let proposal = ConnectionProposal {
        chain_id: genesis.chain_id.clone(),
        counterparty: other_genesis.chain_id.clone(),
        root_set: other_genesis.validators.clone(),
        root_from: Height(1),
        settings,
        approving_set: set.hash(),
        opening: existing.map_or(0, |c| c.openings),
        valid_through: Height(proven.height().0 + APPROVAL_VALID_HEIGHTS),
    };
    let approvals: Vec<(NodeId, Signature)> = this
        .nodes
        .iter()
        .map(|n| {
            let key = load_node_keys(&n.config.with_file_name("node.key"))?;
            Ok((key.id(), proposal.sign(&key.consensus)))
        })
        .collect::<anyhow::Result<_>>()?;
    let open = OpenConnection::new(proposal, &approvals, &set)?;
    let faucet = this.faucet()?;
    let tx = session.sign(&faucet, Payload::OpenConnection(Box::new(open)), vigil_protocol::limits::FEE_MIN).await?;
    let report = session.submit_everywhere(&faucet, &tx).await?;
    anyhow::ensure!(
        report.nodes.iter().any(|n| n.verdict == Verdict::Agrees),
        "the connection from {} to {} was not committed: {:?}",
        genesis.chain_id,
        other_genesis.chain_id,
        report.nodes.iter().map(|n| &n.verdict).collect::<Vec<_>>()
    );
    Ok(())
}
