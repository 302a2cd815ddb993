//! `vigil auditor --config auditor.toml`: a counterparty of audits (SPEC C6) as a
//! process. It follows its chain through the gateways (every read proven), watches the
//! targets it trades with, and answers each pending audit with a claim about its account:
//! the claim checked against its own confirmed trades and the target's rows (the wallet
//! core's `check_audit`), then its notice sent — confirmed, or refused naming the claim.
//! It keeps nothing: restarted, it reads the audits again, and one it answered already is
//! passed over (the audit holds its notice).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use vigil_protocol::audit::{AuditStatus, Notice, TargetId};
use vigil_protocol::{Address, SecretKey};
use vigil_relayer::config::ChainEndpoint;
use vigil_server::config::{read_toml, resolve, ConfigError};
use vigil_server::keys::load_account_key;
use vigil_wallet::native::{session_through, Native};
use vigil_wallet::session::Session;

/// How often the auditor reads the targets it watches, by default.
pub const POLL_MS_DEFAULT: u64 = 1_000;
/// The least poll interval a config may ask for.
pub const POLL_MS_MIN: u64 = 100;
/// Most targets one auditor watches.
pub const TARGETS_MAX: usize = 64;

/// `auditor.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditorConfig {
    /// The auditor's name in logs.
    pub name: String,
    /// The chain, and the auditor's account key on it (the counterparty's).
    pub chain: ChainEndpoint,
    /// The target objects it trades with (ids, 64 hex digits).
    pub targets: Vec<TargetId>,
    #[serde(default = "poll_ms_default")]
    pub poll_ms: u64,
}

fn poll_ms_default() -> u64 {
    POLL_MS_DEFAULT
}

impl AuditorConfig {
    /// Reads the file and resolves relative paths against its directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let (mut cfg, base): (Self, PathBuf) = read_toml(path)?;
        for p in [&mut cfg.chain.genesis_file, &mut cfg.chain.ca_cert, &mut cfg.chain.key_file] {
            resolve(&base, p);
        }
        cfg.check().map_err(|reason| ConfigError::Parse { path: shown, reason })?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), String> {
        if self.chain.gateways.is_empty() {
            return Err("`chain.gateways` lists no gateway: name at least one (https://host:port)".into());
        }
        if self.targets.is_empty() || self.targets.len() > TARGETS_MAX {
            return Err(format!("`targets` lists {}; name 1 to {TARGETS_MAX} target ids", self.targets.len()));
        }
        if self.poll_ms < POLL_MS_MIN {
            return Err(format!("`poll_ms` is {}; the least is {POLL_MS_MIN}", self.poll_ms));
        }
        Ok(())
    }

    /// Writes the config as TOML (what [`AuditorConfig::load`] reads).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = toml::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }
}

/// Answers every pending audit of `target` with a claim about `me` it has not answered
/// (`settled` holds the audits it needs not read again).
async fn answer(
    session: &mut Session<Native>,
    key: &SecretKey,
    target: TargetId,
    settled: &mut BTreeSet<(TargetId, u64)>,
) -> anyhow::Result<()> {
    let me = Address::from_public_key(&key.public_key());
    let audits = session.target(&target).await?.0.map_or(0, |t| t.audits);
    for n in 0..audits {
        if settled.contains(&(target, n)) {
            continue;
        }
        let view = session.audit(&target, n).await?;
        let record = &view.record;
        if view.status != AuditStatus::Pending || record.claim_of(&me).is_none() || record.noted(&me) {
            settled.insert((target, n));
            continue;
        }
        let check = session.note_audit(key, target, n).await?;
        match &check.notice {
            Notice::Confirm => tracing::info!(%target, audit = n, records = check.records_checked, "audit confirmed"),
            Notice::Refuse { claim, reason } => tracing::warn!(%target, audit = n, claim, %reason, "audit refused"),
        }
        settled.insert((target, n));
    }
    Ok(())
}

/// Runs until stopped: every `poll_ms`, each target's pending audits answered.
pub async fn run(cfg: &AuditorConfig) -> anyhow::Result<()> {
    let key = load_account_key(&cfg.chain.key_file)
        .with_context(|| format!("reading the auditor's key {}", cfg.chain.key_file.display()))?;
    let genesis = vigil_server::read_genesis(&cfg.chain.genesis_file)?;
    let ca = std::fs::read(&cfg.chain.ca_cert).with_context(|| format!("reading {}", cfg.chain.ca_cert.display()))?;
    let mut session = session_through(&genesis, cfg.chain.gateways.clone(), &ca, cfg.chain.local_address)
        .await
        .with_context(|| format!("following {}'s validator set", genesis.chain_id))?;
    tracing::info!(name = %cfg.name, account = %Address::from_public_key(&key.public_key()), targets = cfg.targets.len(), "auditor watching");
    let mut settled = BTreeSet::new();
    loop {
        for target in &cfg.targets {
            if let Err(e) = answer(&mut session, &key, *target, &mut settled).await {
                tracing::warn!(%target, "reading or answering its audits: {e:#}; trying again");
            }
        }
        tokio::time::sleep(Duration::from_millis(cfg.poll_ms)).await;
    }
}
