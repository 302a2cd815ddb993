//! `vigil`: the operator's binary — run a node, run a local devnet, make keys.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use vigil::devnet::{self, DevnetOptions};
use vigil_node::config::NodeConfig;
use vigil_protocol::ConsensusMode;
use vigil_server::keys;

mod walkthrough;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "vigil", version, about = "Vigil consortium chain: node, devnet and key tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Fast,
    Bft,
}

#[derive(Clone, Copy, ValueEnum)]
enum KeyKind {
    Node,
    Account,
}

#[derive(Clone, Copy, ValueEnum)]
enum CertActionArg {
    Freeze,
    Unfreeze,
    Revoke,
}

#[derive(Subcommand)]
enum CenterAction {
    /// This center's vote to freeze, unfreeze or revoke a certificate (t votes apply it).
    Vote {
        /// The certificate's serial (32 hex digits).
        #[arg(long)]
        serial: String,
        #[arg(long, value_enum)]
        action: CertActionArg,
        /// Why (recorded on chain with the change).
        #[arg(long)]
        reason: String,
    },
    /// Verify a certificate (PEM or DER) against the chain: its signature by the centers'
    /// key, its record with proofs, its state.
    Verify { file: PathBuf },
    /// This center's vote to replace the center set by the one in FILE (JSON, shaped as
    /// the genesis's `authcenters`); with t votes the centers reshare the group key to it.
    ChangeSet { file: PathBuf },
}

#[derive(Subcommand)]
enum Command {
    /// Run a full node.
    Node {
        /// Node configuration (TOML). Env overrides: VIGIL_API_LISTEN, VIGIL_P2P_LISTEN, VIGIL_DATA_DIR.
        #[arg(long)]
        config: PathBuf,
        /// The data directory was lost: restore the state from the peers' latest stable
        /// checkpoint (this validator signs nothing until the heights it may have signed
        /// at are over). Ignored when the data directory holds a chain.
        #[arg(long)]
        recover: bool,
    },
    /// Run a forwarding gateway: TLS for clients, requests sealed (HPKE) to the named node.
    Gateway {
        /// Gateway configuration (TOML). Env overrides: VIGIL_GATEWAY_LISTEN, VIGIL_GATEWAY_STATIC_DIR.
        #[arg(long)]
        config: PathBuf,
    },
    /// Write keys, genesis and configs for a whole network, then run every node and a
    /// gateway as their own processes until Ctrl-C.
    Devnet {
        #[arg(long, default_value_t = 4)]
        nodes: usize,
        /// Where the network lives; an existing network there is resumed.
        #[arg(long, default_value = ".vigil/devnet")]
        dir: PathBuf,
        /// Make the last K nodes sign wrong receipts (fault injection, for demos and tests).
        #[arg(long, default_value_t = 0)]
        byzantine: usize,
        /// Consensus mode at genesis.
        #[arg(long, value_enum, default_value = "fast")]
        mode: Mode,
        /// First port: node i listens on base+i (p2p), base+100+i (API) and 127.0.0.1:base+210+i
        /// (admin: metrics); the gateway on base+200 and 127.0.0.1:base+201 (admin).
        #[arg(long, default_value_t = 7700)]
        base_port: u16,
        /// Only write the files (for a deployment on several machines).
        #[arg(long)]
        write_only: bool,
        /// Comma-separated host of each node, for configs used on several machines.
        #[arg(long, value_delimiter = ',')]
        hosts: Option<Vec<String>>,
        /// Delete an existing network in --dir first.
        #[arg(long)]
        reset: bool,
        /// Serve the web wallet from this directory on the gateway's origin.
        #[arg(long)]
        www: Option<PathBuf>,
        /// Run this many gateways (ports base+200, base+202, …), each listing the others
        /// as gateways its wallet may use; one stopping leaves the devnet running.
        #[arg(long, default_value_t = 1)]
        gateways: usize,
        /// Fund an account at genesis: ADDRESS:AMOUNT (repeatable; new networks only).
        #[arg(long, value_name = "ADDRESS:AMOUNT")]
        fund: Vec<String>,
        /// Authentication centers to run (0: none; new networks only).
        #[arg(long, default_value_t = devnet::DEVNET_CENTERS)]
        centers: usize,
        /// How many of the centers a certificate needs (new networks only).
        #[arg(long, default_value_t = devnet::DEVNET_CENTER_THRESHOLD)]
        center_threshold: u16,
        /// Run two chains (in <dir>/chain-a and <dir>/chain-b, the second 300 ports above
        /// the first), a connection each way opened by each chain's validators, and a
        /// relayer between them (<dir>/relayer).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
        chains: u8,
        /// With --chains 2: start no relayer (run `vigil relayer --config
        /// <dir>/relayer/relayer.toml` yourself, e.g. to stop and restart it).
        #[arg(long)]
        no_relayer: bool,
    },
    /// Run a relayer between two chains: it carries cross-chain packets, their
    /// acknowledgements and timeouts, each with the proof the other chain checks.
    Relayer {
        /// Relayer configuration (TOML): the two chains' genesis, gateways, CA and the
        /// relayer's account key on each.
        #[arg(long)]
        config: PathBuf,
    },
    /// Run an auditor: a counterparty of audits that checks each pending audit's claim
    /// about its account against its own confirmed trades and the target's rows, and
    /// sends its notice (confirmed, or refused naming the claim).
    Auditor {
        /// Auditor configuration (TOML): the chain's genesis, gateways and CA, the
        /// auditor's account key, the targets it trades with.
        #[arg(long)]
        config: PathBuf,
    },
    /// Run an authentication center: its part of the centers' key generation and threshold
    /// signing and its verdicts on certificate requests, following the chain through the
    /// gateways (every read proven). With a subcommand: one action of its operator.
    Authcenter {
        /// Center configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        #[command(subcommand)]
        action: Option<CenterAction>,
    },
    /// Make a node key (Ed25519 + X25519) or an account key, written with owner-only permissions.
    Keygen {
        #[arg(long, value_enum, default_value = "account")]
        kind: KeyKind,
        /// Where to write the key file (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the node API's OpenAPI 3.1 document (what `GET /v1/openapi.json` serves).
    Openapi,
    /// Walk through one round of the protocol with real keys, certificates and proofs.
    Walkthrough {
        /// Validators in the example set (4 to 100).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(4..=100))]
        validators: u8,
    },
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).init();
}

/// Turns transparent huge pages off for this process (and what it starts). mimalloc asks
/// for them on its arenas; each first touch of a huge page then zeroes 2 MiB, and on a
/// fragmented host the kernel compacts memory first, on the faulting thread. In a 4-node
/// devnet under load (`bench devnet`) that stalled the consensus threads: the Fast p99
/// was 310–360 ms with them and 135–155 ms without, and Fast throughput rose by a tenth.
/// An older kernel without the flag keeps them; nothing else depends on it.
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
}

fn main() -> anyhow::Result<()> {
    without_huge_pages();
    match Cli::parse().command {
        Command::Node { config, recover } => {
            init_logs();
            let mut cfg = NodeConfig::load(&config)?;
            cfg.recover = recover;
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(vigil_node::service::run(cfg))
        }
        Command::Gateway { config } => {
            init_logs();
            let cfg = vigil_gateway::config::GatewayConfig::load(&config)?;
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(vigil_gateway::run(cfg))
        }
        Command::Authcenter { config, action } => {
            let cfg = vigil_authcenter::config::AuthCenterConfig::load(&config)?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            match action {
                None => {
                    init_logs();
                    rt.block_on(vigil_authcenter::process::run(cfg))
                }
                Some(CenterAction::Vote { serial, action, reason }) => {
                    use vigil_protocol::authcenter::{CertAction, CertActionVote};
                    let serial = vigil_protocol::authcenter::issuance::parse_serial(&serial)
                        .context("--serial: a certificate's serial is 32 hex digits")?;
                    let action = match action {
                        CertActionArg::Freeze => CertAction::Freeze,
                        CertActionArg::Unfreeze => CertAction::Unfreeze,
                        CertActionArg::Revoke => CertAction::Revoke,
                    };
                    let vote = CertActionVote { serial, action, reason };
                    let account = rt.block_on(vigil_authcenter::process::vote(&cfg, vote))?;
                    println!("vote committed; certificate {} is {:?}", hex::encode(serial), account.kind);
                    Ok(())
                }
                Some(CenterAction::Verify { file }) => {
                    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                    let report = rt.block_on(vigil_authcenter::process::verify(&cfg, &bytes))?;
                    println!("{}", serde_json::to_string_pretty(&report)?);
                    Ok(())
                }
                Some(CenterAction::ChangeSet { file }) => {
                    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                    let proposed: vigil_protocol::authcenter::AuthCenterSet = serde_json::from_slice(&bytes)
                        .with_context(|| format!("{} is not a center set (JSON)", file.display()))?;
                    match rt.block_on(vigil_authcenter::process::vote_set(&cfg, proposed))? {
                        Some(change) => println!(
                            "vote committed; the change of the center set is open (attempt {}, dealers {:?})",
                            change.attempt, change.dealers
                        ),
                        None => println!("vote committed; the change opens once t centers voted for it"),
                    }
                    Ok(())
                }
            }
        }
        Command::Auditor { config } => {
            init_logs();
            let cfg = vigil::auditor::AuditorConfig::load(&config)?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(vigil::auditor::run(&cfg))
        }
        Command::Relayer { config } => {
            init_logs();
            let cfg = vigil_relayer::config::RelayerConfig::load(&config)?;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(vigil_relayer::process::run(&cfg))
        }
        Command::Devnet {
            nodes,
            dir,
            byzantine,
            mode,
            base_port,
            write_only,
            hosts,
            reset,
            www,
            gateways,
            fund,
            centers,
            center_threshold,
            chains,
            no_relayer,
        } => {
            if no_relayer && chains != 2 {
                anyhow::bail!("--no-relayer goes with --chains 2: a single chain has no relayer");
            }
            let mut accounts = Vec::new();
            for f in &fund {
                let (address, amount) =
                    f.split_once(':').with_context(|| format!("--fund `{f}`: write ADDRESS:AMOUNT"))?;
                let address = vigil_protocol::Address::parse(address)
                    .with_context(|| format!("--fund `{f}`: not a vigil1… address"))?;
                let amount: u64 =
                    amount.parse().with_context(|| format!("--fund `{f}`: AMOUNT must be a whole number"))?;
                accounts.push((address, vigil_protocol::Amount(amount)));
            }
            if reset && dir.exists() {
                std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
            }
            let mode = match mode {
                Mode::Fast => ConsensusMode::Fast,
                Mode::Bft => ConsensusMode::Bft,
            };
            let opts = DevnetOptions {
                nodes,
                dir,
                byzantine,
                hosts,
                base_port,
                mode,
                chain_id: "vigil-devnet".into(),
                accounts,
                static_dir: www,
                gateways,
                centers,
                center_threshold,
            };
            if chains == 2 {
                return run_two_chains(&opts, write_only, !no_relayer);
            }
            let net = devnet::write(&opts)?;
            print_devnet(&net, center_threshold, opts.static_dir.is_some());
            if write_only {
                println!("configs written; start each node with `vigil node --config <dir>/node-i/node.toml` and the gateway with `vigil gateway --config <dir>/gateway/gateway.toml`");
                return Ok(());
            }
            let exe = std::env::current_exe()?;
            let started = devnet::StartClock::from_env();
            let running = net.start(&exe)?;
            println!("running; logs in <dir>/node-i/node.log and <dir>/gateway/gateway.log. Ctrl-C stops everything.");
            let ready = devnet::report_ready(net.gateway.url.clone(), started);
            supervise(running, &|name| net.is_gateway(name), &|name| net.log_path(name), ready)
        }
        Command::Keygen { kind, out } => match kind {
            KeyKind::Node => {
                let k = keys::NodeKeys::generate();
                keys::save_node_keys(&out, &k)?;
                println!("node key written to {}", out.display());
                println!("  node id         {}", k.id());
                println!("  consensus key   {}", k.consensus.public_key());
                println!("  encryption key  {}  (HPKE, sealed requests)", k.encryption_public());
                println!("  p2p key         {}  (Noise, links between nodes)", k.p2p_public());
                Ok(())
            }
            KeyKind::Account => {
                let k = vigil_protocol::SecretKey::generate();
                keys::save_account_key(&out, &k)?;
                let (pk, address) = keys::account_public(&k);
                println!("account key written to {}", out.display());
                println!("  address     {address}");
                println!("  public key  {pk}");
                Ok(())
            }
        },
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&vigil_node::openapi::document())?);
            Ok(())
        }
        Command::Walkthrough { validators } => walkthrough::run(usize::from(validators)),
    }
}

/// What `vigil devnet` prints of one network.
fn print_devnet(net: &devnet::Devnet, center_threshold: u16, serves_wallet: bool) {
    println!(
        "devnet in {} (genesis {}, faucet key {})",
        net.dir.display(),
        net.genesis.display(),
        net.faucet_key.display()
    );
    for n in &net.nodes {
        let lie = if n.byzantine { "  ⚠ signs wrong receipts (fault injection)" } else { "" };
        println!(
            "  {}  id {}  api {}  p2p {}  metrics {}/metrics{lie}",
            n.name,
            n.id.short(),
            n.api_url,
            n.p2p,
            n.admin_url
        );
    }
    let g = &net.gateway;
    println!("  gateway  {}  (TLS by a local CA: trust {} —", g.url, g.ca_cert.display());
    println!("           e.g. `curl --cacert {} {}/v1/nodes`)", g.ca_cert.display(), g.url);
    println!("           metrics  {}/metrics  (admin listener, loopback only)", g.admin_url);
    for g in &net.other_gateways {
        println!("  {}  {}  (same CA; metrics {}/metrics)", g.name, g.url, g.admin_url);
    }
    if !net.centers.is_empty() {
        println!(
            "  {} authentication centers (any {} sign): {}  (logs center-i/authcenter.log)",
            net.centers.len(),
            center_threshold,
            net.centers.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    println!("  faucet   POST {}/v1/faucet {{\"address\": \"vigil1…\"}} gives {} units", g.url, devnet::FAUCET_GIFT);
    if serves_wallet {
        println!();
        println!("  web wallet → open {}/ in a browser", g.url);
        println!(
            "  (the certificate is from this devnet's local CA: accept it once, or trust {})",
            g.ca_cert.display()
        );
        println!();
    }
}

/// `vigil devnet --chains 2`: both networks and the relayer started, then each chain's
/// connection to the other opened (tried again until both chains serve).
fn run_two_chains(opts: &DevnetOptions, write_only: bool, relayer: bool) -> anyhow::Result<()> {
    let base_b = opts
        .base_port
        .checked_add(vigil::twochains::CHAIN_B_PORT_OFFSET)
        .context("--base-port is too high for a second chain 300 ports above")?;
    let two = vigil::twochains::TwoChains::write(opts, base_b)?;
    for net in [&two.a, &two.b] {
        print_devnet(net, opts.center_threshold, opts.static_dir.is_some());
    }
    println!("relayer  {}  (log relayer/relayer.log)", two.relayer.display());
    if write_only {
        println!("configs written; start the nodes and gateways of each chain, then `vigil relayer --config <dir>/relayer/relayer.toml`");
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let started = devnet::StartClock::from_env();
    let running = if relayer { two.start(&exe)? } else { two.start_chains(&exe)? };
    println!("running; logs in <dir>/chain-*/node-i/node.log, <dir>/chain-*/gateway/gateway.log and <dir>/relayer/relayer.log. Ctrl-C stops everything.");
    if !relayer {
        println!("no relayer started: run `vigil relayer --config {}`", two.relayer.display());
    }
    // The devnet's chains run in Fast mode unless told otherwise: their connections act
    // on Fast-mode headers then (a connection's own setting; Bft-only is the default).
    let settings = vigil_protocol::crosschain::ConnectionSettings {
        fast_final: opts.mode == ConsensusMode::Fast,
        ..Default::default()
    };
    let url = two.a.gateway.url.clone();
    let nets = two.clone();
    let background = async move {
        devnet::report_ready(url, started).await;
        let deadline = tokio::time::Instant::now() + devnet::READY_WAIT_MAX;
        loop {
            match two.open_connections(settings).await {
                Ok(()) => {
                    println!("connections open both ways; the relayer carries transfers between the chains");
                    return;
                }
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!("opening the connections: {e:#}; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => {
                    eprintln!("the connections could not be opened: {e:#}");
                    return;
                }
            }
        }
    };
    supervise(running, &|name| nets.is_gateway(name), &|name| nets.log_path(name), background)
}

/// Runs until Ctrl-C or until a process stops on its own (a gateway while another of
/// its network still serves excepted), `background` alongside; then stops everything.
fn supervise(
    mut running: devnet::Running,
    is_gateway: &dyn Fn(&str) -> bool,
    log_path: &dyn Fn(&str) -> PathBuf,
    background: impl std::future::Future<Output = ()> + 'static,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let stopped = rt.block_on(async {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                tokio::task::spawn_local(background);
                let ctrl_c = tokio::signal::ctrl_c();
                tokio::pin!(ctrl_c);
                let mut tick = tokio::time::interval(Duration::from_millis(500));
                loop {
                    tokio::select! {
                        _ = &mut ctrl_c => return None,
                        _ = tick.tick() => {
                            if let Some((name, status)) = running.exited() {
                                let gateway_left = running.children.iter().any(|(n, _)| is_gateway(n));
                                if is_gateway(&name) && gateway_left {
                                    // What several gateways are for: wallets go on through the others.
                                    eprintln!("{name} stopped ({status}); the other gateways still serve");
                                    continue;
                                }
                                return Some((name, status));
                            }
                        }
                    }
                }
            })
            .await
    });
    println!("stopping…");
    running.stop(Duration::from_secs(10));
    if let Some((name, status)) = stopped {
        let log = log_path(&name);
        eprintln!("{name} stopped on its own ({status}); the end of {}:", log.display());
        for line in devnet::log_tail(&log, 5) {
            eprintln!("  {line}");
        }
        anyhow::bail!("{name} stopped, so the devnet was stopped; fix what its log says (an old devnet directory: start with --reset)");
    }
    Ok(())
}
