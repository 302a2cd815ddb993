//! Two devnets, their connections and a relayer, for the cross-chain tests and bench:
//! `vigil devnet --chains 2` as real processes on free loopback ports.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use vigil::devnet::{DevnetOptions, Running};
use vigil::twochains::TwoChains;
use vigil_protocol::crosschain::ConnectionSettings;
use vigil_protocol::{Address, Amount, ConsensusMode};
use vigil_relayer::config::RelayerConfig;
use vigil_wallet::native::{session_through, Native};
use vigil_wallet::session::Session;

use crate::{free_base_port, vigil_bin, TempDir};

pub struct TwoNet {
    pub two: TwoChains,
    pub running: Running,
    _dir: TempDir,
}

impl TwoNet {
    /// Two 4-validator Fast-mode chains whose genesis both fund `accounts`, their
    /// gateways, a relayer, and a connection each way (acting on Fast headers).
    pub async fn start(accounts: Vec<(Address, Amount)>) -> anyhow::Result<TwoNet> {
        Self::start_loaded(accounts, false).await
    }

    /// [`TwoNet::start`]; with `load`, the gateways do not limit this machine's own
    /// address (a test or bench sending as many clients at once).
    pub async fn start_loaded(accounts: Vec<(Address, Amount)>, load: bool) -> anyhow::Result<TwoNet> {
        static NEXT_DIR: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT_DIR.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("vigil-e2e2-{}-{}-{n}", std::process::id(), vigil_server::now_ms()));
        let opts = DevnetOptions {
            nodes: 4,
            dir: dir.clone(),
            byzantine: 0,
            hosts: None,
            base_port: free_base_port(4),
            mode: ConsensusMode::Fast,
            chain_id: "vigil-e2e".into(),
            accounts,
            static_dir: None,
            gateways: 1,
            centers: 0,
            center_threshold: vigil::devnet::DEVNET_CENTER_THRESHOLD,
        };
        let two = TwoChains::write(&opts, free_base_port(4))?;
        if load {
            for net in [&two.a, &two.b] {
                vigil::twochains::exempt(net, std::net::Ipv4Addr::LOCALHOST.into())?;
            }
        }
        let running = two.start(&vigil_bin()?)?;
        let net = TwoNet { two, running, _dir: TempDir(dir) };
        let settings = ConnectionSettings { fast_final: true, ..ConnectionSettings::default() };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match net.two.open_connections(settings).await {
                Ok(()) => return Ok(net),
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(500)).await,
                Err(e) => bail!("the connections did not open: {e:#}"),
            }
        }
    }

    /// A wallet session on chain `i` (0: A, 1: B) through its gateway.
    pub async fn session(&self, i: usize) -> anyhow::Result<Session<Native>> {
        let net = if i == 0 { &self.two.a } else { &self.two.b };
        let genesis = vigil_server::read_genesis(&net.genesis)?;
        let ca = std::fs::read(&net.gateway.ca_cert)?;
        Ok(session_through(&genesis, vec![net.gateway.url.clone()], &ca, None).await?)
    }

    /// Kills the process `name` (`relayer`, `chain-b/node-0`…) at once, as a crash would.
    pub fn kill(&mut self, name: &str) -> anyhow::Result<()> {
        let at =
            self.running.children.iter().position(|(n, _)| n == name).with_context(|| format!("no process {name}"))?;
        let (_, mut child) = self.running.children.remove(at);
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// Starts a relayer with the devnet's config (`relayer`: the devnet's own, restarted)
    /// or, for another name, a copy of it with `key` (a second relayer racing the first;
    /// the key must be funded on both chains).
    pub fn start_relayer(&mut self, name: &str, key: Option<&vigil_protocol::SecretKey>) -> anyhow::Result<()> {
        let config = self.relayer_config(name, key)?;
        let child: Child = self.two.spawn_relayer(&vigil_bin()?, &config)?;
        self.running.children.push((name.to_string(), child));
        Ok(())
    }

    /// A relayer config like the devnet's, in its own directory (its own log).
    fn relayer_config(&self, name: &str, key: Option<&vigil_protocol::SecretKey>) -> anyhow::Result<PathBuf> {
        if name == "relayer" {
            return Ok(self.two.relayer.clone());
        }
        let dir = self.two.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        let key_file = dir.join("relayer.key");
        match key {
            Some(key) if !key_file.exists() => vigil_server::keys::save_account_key(&key_file, key)?,
            Some(_) => {}
            None => {
                std::fs::copy(self.two.relayer.with_file_name("relayer.key"), &key_file)?;
            }
        }
        let mut cfg = RelayerConfig::load(&self.two.relayer)?;
        cfg.name = name.to_string();
        for chain in &mut cfg.chains {
            chain.key_file = key_file.clone();
        }
        let path = dir.join("relayer.toml");
        cfg.save(&path)?;
        Ok(path)
    }

    /// Stops every process of chain `i` (its nodes and gateway), as a chain going down.
    pub fn stop_chain(&mut self, i: usize) -> Vec<String> {
        let prefix = if i == 0 { "chain-a/" } else { "chain-b/" };
        let mut stopped = Vec::new();
        self.running.children.retain_mut(|(name, child)| {
            if name.starts_with(prefix) {
                vigil::devnet::terminate(child);
                let _ = child.wait();
                stopped.push(name.clone());
                false
            } else {
                true
            }
        });
        stopped
    }

    /// Starts chain `i`'s nodes and gateway again on their data.
    pub fn restart_chain(&mut self, i: usize) -> anyhow::Result<()> {
        let (prefix, net) = if i == 0 { ("chain-a", &self.two.a) } else { ("chain-b", &self.two.b) };
        let mut running = net.start(&vigil_bin()?)?;
        let children: Vec<_> = running.children.drain(..).map(|(n, c)| (format!("{prefix}/{n}"), c)).collect();
        self.running.children.extend(children);
        Ok(())
    }
}
