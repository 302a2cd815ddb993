//! `vigil authcenter --config authcenter.toml`: a center as a process. It follows its
//! chain through the gateways with the wallet core's light client (every entry it reads
//! is proven against a certified header; nothing a gateway or a node says is taken on
//! trust), takes a [`Center::step`] on each new height, and sends what the step returns
//! as transactions signed by its identity key.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use vigil_api::ErrorCode;
use vigil_protocol::authcenter::share::ShareKey;
use vigil_protocol::authcenter::{
    AuthCenterSet, CenterChange, CenterChangeMessage, CenterSetVote, CertAccount, CertActionVote, CertAuthority,
    DkgMessage, GroupKey, SigningMessage,
};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::{
    AccountState, Address, Amount, Height, Nonce, Payload, SecretKey, SignedTransaction, StateKey, Transaction,
};
use vigil_server::keys::{load_node_keys, NodeKeys};
use vigil_wallet::detector::Verdict;
use vigil_wallet::native::{session_through, Native};
use vigil_wallet::session::certs::CertificateReport;
use vigil_wallet::session::{Session, WalletError};

use crate::config::AuthCenterConfig;
use crate::follow::{FollowError, ProvenView};
use crate::{Center, CenterError, ChainView, Issuer, PolicyCheck, SecretStore};

/// Views read again within one step when the step asked for entries the view did not
/// hold (each round adds what was asked for).
pub const STEP_READS_MAX: usize = 8;
/// A step is taken again on the same height after this long: a message lost on its way
/// (a gateway down, a node that dropped it) is sent again.
pub const RESEND_AFTER: Duration = Duration::from_secs(3);
/// Heights the account's nonce may stay while messages are in flight before they are
/// all sent again from it.
pub const NONCE_STUCK_HEIGHTS: u64 = 3;
/// The validator set is followed (certified changes) this often.
pub const SYNC_EVERY: Duration = Duration::from_secs(30);

/// What the center has seen happen, for its log: each line once.
#[derive(Default, PartialEq, Eq, Clone, Copy)]
struct Milestones {
    group_key: bool,
    root: bool,
}

pub struct Process {
    name: String,
    /// Fault injection: shares are never sent.
    withhold_shares: bool,
    key: SecretKey,
    session: Session<Native>,
    center: Center,
    /// What the last step asked for: read first on the next.
    keys: BTreeSet<StateKey>,
    last_step: Option<(Height, Instant)>,
    last_sync: Instant,
    seen: Milestones,
    /// Messages sent and not yet taken by the chain (by their BCS bytes): the nonce each
    /// went with and when. A step that makes one again does not send it again until
    /// [`RESEND_AFTER`].
    in_flight: BTreeMap<Vec<u8>, (u64, Instant)>,
    /// The nonce the next new message goes with.
    next_nonce: u64,
    /// A message was refused: start over from the chain's nonce at the next send.
    restart_nonces: bool,
    /// The account's nonce on chain and the height it was first seen at: a nonce that
    /// stays while messages are in flight means one of them will never be taken (made
    /// void before its block: a share for a session restarted meanwhile), and every
    /// message after it waits on it.
    nonce_seen: (u64, Height),
}

impl Process {
    /// Loads the key, the genesis and the secrets, and reads the chain's center set.
    pub async fn open(cfg: &AuthCenterConfig) -> anyhow::Result<Process> {
        let (keys, mut session) = session(cfg).await?;
        let genesis_chain = session.chain_id().clone();
        let store = SecretStore::open(&cfg.secrets_file)?;
        let view =
            ProvenView::read(&mut session, &BTreeSet::from([StateKey::AuthCenters, StateKey::CenterChange])).await?;
        let center = Center::new(&keys.consensus.public_key(), &view, store)?;
        // The claims are sealed to the X25519 key the chain names for this center.
        let claims_key = ShareKey::from_seed(keys.encryption_seed());
        let (set, index) = Center::named(center.identity(), &view)?;
        let named = set.centers.get(usize::from(index)).map(|c| c.encryption_key);
        anyhow::ensure!(
            named == Some(claims_key.public_key()),
            "{}'s encryption key is not the one the chain names for this center: the claims sealed to it would not open",
            cfg.key_file.display()
        );
        let policy = cfg.policy.clone();
        let center = center.with_issuer(Issuer {
            claims_key,
            check: Box::new(PolicyCheck { policy, clock: Box::new(|| vigil_server::now_ms() / 1000) }),
        });
        tracing::info!(center = %cfg.name, index, chain = %genesis_chain, "authentication center following the chain");
        Ok(Process {
            name: cfg.name.clone(),
            withhold_shares: cfg.testing.withhold_shares,
            key: keys.consensus,
            session,
            center,
            keys: BTreeSet::new(),
            last_step: None,
            last_sync: Instant::now(),
            seen: Milestones::default(),
            in_flight: BTreeMap::new(),
            next_nonce: 0,
            restart_nonces: false,
            nonce_seen: (0, Height(0)),
        })
    }

    fn address(&self) -> Address {
        Address::from_public_key(&self.key.public_key())
    }

    /// One poll: read the chain — a long poll for the height after the last step's —,
    /// step if it moved (or a resend is due), send. Whether it stepped.
    pub async fn tick(&mut self) -> anyhow::Result<bool> {
        if self.last_sync.elapsed() >= SYNC_EVERY {
            self.session.sync().await?;
            self.last_sync = Instant::now();
        }
        let mut keys = self.keys.clone();
        keys.extend([StateKey::AuthCenters, StateKey::Account(self.address())]);
        // Wait for the next height, unless a resend is due now.
        let mut after = self.last_step.filter(|(_, at)| at.elapsed() < RESEND_AFTER).map(|(h, _)| h);
        for _ in 0..STEP_READS_MAX {
            let started = Instant::now();
            let view = match ProvenView::read_after(&mut self.session, &keys, after.take()).await {
                Ok(view) => {
                    let ms = started.elapsed().as_millis();
                    tracing::debug!(center = %self.name, height = view.height().0, keys = keys.len(), ms, "read the chain");
                    view
                }
                // A header signed by a set this client does not follow yet (a validator
                // jailed, a set change): follow the certified changes, read again next poll.
                Err(e @ FollowError::Wallet(WalletError::Light(_))) => {
                    self.session.sync().await?;
                    self.last_sync = Instant::now();
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            };
            if let Some((height, at)) = self.last_step {
                if view.height() <= height && at.elapsed() < RESEND_AFTER {
                    return Ok(false);
                }
            }
            let mut rng = ChaCha20Rng::from_seed(os_seed());
            let out = self.center.step(&view, &mut rng)?;
            let missed = view.missed();
            if !missed.is_empty() {
                keys.extend(missed);
                continue;
            }
            self.keys = view.asked();
            self.last_step = Some((view.height(), Instant::now()));
            self.log_milestones(&view);
            self.send(&view, out).await?;
            return Ok(true);
        }
        anyhow::bail!("a step kept asking for entries not yet read ({} keys); will try again", keys.len())
    }

    /// Sends what a step made that is not on its way already: a new message to one node
    /// (the nodes gossip it), numbered after those in flight. When one is not taken
    /// within [`RESEND_AFTER`] (or was refused), everything still to do goes again, to
    /// every node, numbered from the chain's nonce.
    async fn send(&mut self, view: &ProvenView, out: Vec<Payload>) -> anyhow::Result<()> {
        let account = view
            .entry(&StateKey::Account(self.address()))
            .flatten()
            .and_then(|b| from_bytes::<AccountState>(b).ok())
            .unwrap_or_default();
        let chain_nonce = account.nonce.0;
        if self.nonce_seen.0 != chain_nonce {
            self.nonce_seen = (chain_nonce, view.height());
        }
        self.in_flight.retain(|_, (nonce, _)| *nonce >= chain_nonce);
        let stuck = view.height().0.saturating_sub(self.nonce_seen.1 .0) >= NONCE_STUCK_HEIGHTS;
        let stale = (stuck && !self.in_flight.is_empty())
            || self.in_flight.values().any(|(_, at)| at.elapsed() >= RESEND_AFTER);
        let again = stale || self.restart_nonces || self.next_nonce < chain_nonce;
        if again {
            self.in_flight.clear();
            self.next_nonce = chain_nonce;
            self.restart_nonces = false;
        }
        let withheld = |p: &Payload| matches!(p, Payload::Signing(m) if matches!(**m, SigningMessage::Share(_)));
        let mut txs: Vec<(String, SignedTransaction)> = Vec::new();
        for payload in out.into_iter().filter(|p| !(self.withhold_shares && withheld(p))) {
            let bytes = to_bytes(&payload);
            if self.in_flight.contains_key(&bytes) {
                continue;
            }
            let nonce = self.next_nonce;
            self.next_nonce += 1;
            self.in_flight.insert(bytes, (nonce, Instant::now()));
            let what = describe(&payload);
            let tx = Transaction {
                chain_id: view.chain_id(),
                sender: self.key.public_key(),
                nonce: Nonce(nonce),
                fee: Amount(0),
                payload,
            };
            txs.push((what, tx.sign(&self.key)));
        }
        // All at once: the nodes order a sender's transactions by nonce.
        let session = &self.session;
        let all = session.nodes();
        let to = |tx: &SignedTransaction| -> Vec<vigil_protocol::NodeId> {
            match all.len() {
                0 => Vec::new(),
                n if !again => vec![all[(tx.tx.nonce.0 % n as u64) as usize]],
                _ => all.clone(),
            }
        };
        let targets: Vec<Vec<vigil_protocol::NodeId>> = txs.iter().map(|(_, tx)| to(tx)).collect();
        let sends = txs.iter().zip(&targets).map(|((_, tx), nodes)| session.broadcast_to(tx, nodes));
        let sent = futures::future::join_all(sends).await;
        for ((what, _), result) in txs.iter().zip(sent) {
            match result {
                Ok(nodes) => {
                    tracing::info!(center = %self.name, height = view.height().0, nodes = nodes.len(), "sent {what}")
                }
                // Pending or committed already: on its way. A nonce already used means the
                // view was behind the node (what it made again is likely on chain): the
                // next view tells, and numbers what is still to do from its nonce.
                Err(WalletError::Node { code, .. })
                    if [ErrorCode::Duplicate, ErrorCode::AlreadyCommitted, ErrorCode::StaleNonce]
                        .contains(&ErrorCode::from_wire(&code)) => {}
                Err(e) => {
                    tracing::warn!(center = %self.name, height = view.height().0, "{what} not taken: {e}");
                    self.restart_nonces = true;
                }
            }
        }
        Ok(())
    }

    fn log_milestones(&mut self, view: &ProvenView) {
        let now = Milestones {
            group_key: self.seen.group_key || view.get::<GroupKey>(&StateKey::GroupKey).is_some(),
            root: self.seen.root
                || view.get::<CertAuthority>(&StateKey::CertAuthority).is_some_and(|a| a.root.is_some()),
        };
        if now.group_key && !self.seen.group_key {
            tracing::info!(center = %self.name, height = view.height().0, "the centers' group key is ready");
        }
        if now.root && !self.seen.root {
            tracing::info!(center = %self.name, height = view.height().0, "the consortium's root certificate is signed");
        }
        self.seen = now;
    }
}

/// The center's keys, and a wallet session on its chain through its gateways (its light
/// client from the genesis, following the validator set).
async fn session(cfg: &AuthCenterConfig) -> anyhow::Result<(NodeKeys, Session<Native>)> {
    let keys = load_node_keys(&cfg.key_file)
        .with_context(|| format!("reading the center's key {}", cfg.key_file.display()))?;
    let genesis = vigil_server::read_genesis(&cfg.genesis_file)?;
    let ca = std::fs::read(&cfg.ca_cert).with_context(|| format!("reading {}", cfg.ca_cert.display()))?;
    let session = session_through(&genesis, cfg.gateways.clone(), &ca, cfg.local_address)
        .await
        .context("following the validator set through the gateways")?;
    Ok((keys, session))
}

/// `vigil authcenter vote`: this center's vote to freeze, unfreeze or revoke a
/// certificate, sent and committed; the certificate's account afterwards (its type
/// changes once t centers voted).
pub async fn vote(cfg: &AuthCenterConfig, vote: CertActionVote) -> anyhow::Result<CertAccount> {
    let serial = vote.serial;
    let mut session = committed(cfg, Payload::CertAction(vote)).await?;
    let (values, _) = session.proven_many(&[StateKey::Certificate(serial)]).await?;
    let account = values[0].as_deref().context("no certificate has that serial")?;
    Ok(from_bytes(account)?)
}

/// `vigil authcenter change-set FILE`: this center's vote to replace the set in force by
/// `proposed`, sent and committed; the change it opened, if it was the t-th.
pub async fn vote_set(cfg: &AuthCenterConfig, proposed: AuthCenterSet) -> anyhow::Result<Option<CenterChange>> {
    let (_, mut session) = session(cfg).await?;
    let (values, _) = session.proven_many(&[StateKey::AuthCenters]).await?;
    let set: AuthCenterSet = from_bytes(values[0].as_deref().context("this chain names no centers")?)?;
    let vote = CenterSetVote { current: set.hash(), proposed: proposed.clone() };
    let mut session = committed(cfg, Payload::CenterChange(Box::new(CenterChangeMessage::Vote(vote)))).await?;
    let (values, _) = session.proven_many(&[StateKey::CenterChange]).await?;
    let change: Option<CenterChange> = values[0].as_deref().map(from_bytes).transpose()?;
    Ok(change.filter(|c| c.proposed == proposed && c.from == set.hash()))
}

/// Sends `payload` signed by the center's key and waits until a node committed it.
async fn committed(cfg: &AuthCenterConfig, payload: Payload) -> anyhow::Result<Session<Native>> {
    let (keys, mut session) = session(cfg).await?;
    let tx = session.sign(&keys.consensus, payload, 0).await?;
    let report = session.submit_everywhere(&keys.consensus, &tx).await?;
    if !report.nodes.iter().any(|n| n.verdict == Verdict::Agrees) {
        let why = report.nodes.iter().find_map(|n| match &n.verdict {
            Verdict::Silent(why) | Verdict::BadSignature(why) => Some(why.clone()),
            _ => None,
        });
        anyhow::bail!("the vote was not committed: {}", why.unwrap_or_else(|| "no node answered".into()));
    }
    Ok(session)
}

/// `vigil authcenter verify FILE`: a certificate (PEM or DER) verified against the chain
/// as the wallet verifies it.
pub async fn verify(cfg: &AuthCenterConfig, cert: &[u8]) -> anyhow::Result<CertificateReport> {
    let (_, mut session) = session(cfg).await?;
    Ok(session.verify_certificate(cert).await?)
}

/// What a message is, for the log (never its secret parts).
fn describe(payload: &Payload) -> String {
    match payload {
        Payload::Dkg(m) => match m.as_ref() {
            DkgMessage::Round1(p) => format!("key generation round 1 (attempt {})", p.attempt),
            DkgMessage::Round2(p) => format!("key generation round 2 (attempt {})", p.attempt),
            DkgMessage::Complaint(c) => format!("a complaint against center {}", c.accused),
            DkgMessage::Confirm(_) => "its confirmation of the group key".to_string(),
        },
        Payload::Signing(m) => match m.as_ref() {
            SigningMessage::Commitments(c) => {
                format!("{} nonce commitments from #{}", c.commitments.len(), c.first_seq)
            }
            SigningMessage::Share(s) => format!("its signature share for session {}", s.session),
            SigningMessage::Restart(id) => format!("a restart of session {id}"),
        },
        Payload::CertAction(v) => format!("its vote to {:?} certificate {}", v.action, hex::encode(v.serial)),
        Payload::CenterChange(m) => match m.as_ref() {
            CenterChangeMessage::Vote(_) => "its vote for a new center set".to_string(),
            CenterChangeMessage::Ready(r) => {
                format!("its ready key for the change of the center set (attempt {})", r.attempt)
            }
            CenterChangeMessage::Deal(d) => {
                format!("its sharing for the change of the center set (attempt {})", d.attempt)
            }
            CenterChangeMessage::Complaint(c) => format!("a complaint against dealer {}", c.dealer),
            CenterChangeMessage::Confirm(_) => "its confirmation of its new share of the group key".to_string(),
            CenterChangeMessage::Timeout(t) => format!("a timeout of the change's attempt {}", t.attempt),
        },
        Payload::CertVerdict(v) => match &v.verdict {
            vigil_protocol::authcenter::Verdict::Approve => {
                format!("its approval of certificate request {}", v.request)
            }
            vigil_protocol::authcenter::Verdict::Reject(why) => {
                format!("its rejection of certificate request {} ({why})", v.request)
            }
        },
        _ => "a transaction".to_string(),
    }
}

fn os_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    rand_core09::RngCore::fill_bytes(&mut vigil_server::os_rng(), &mut seed);
    seed
}

/// Runs the center until Ctrl-C or SIGTERM: a long poll for each next height (`poll_ms`
/// apart at least when nothing new came); a poll that fails (a gateway down, the chain
/// between heights) is logged and the next one tries again.
pub async fn run(cfg: AuthCenterConfig) -> anyhow::Result<()> {
    let poll = Duration::from_millis(cfg.poll_ms);
    let mut process = loop {
        match Process::open(&cfg).await {
            Ok(p) => break p,
            Err(e) if matches!(e.downcast_ref::<CenterError>(), Some(CenterError::NotACenter)) => {
                tracing::info!(center = %cfg.name, "not a center of this chain (yet): waiting for a change of the center set that names it");
                tokio::select! {
                    _ = vigil_server::shutdown_signal() => return Ok(()),
                    _ = tokio::time::sleep(RESEND_AFTER) => {}
                }
            }
            Err(e)
                if e.downcast_ref::<FollowError>().is_some()
                    || e.downcast_ref::<vigil_wallet::session::WalletError>().is_some() =>
            {
                tracing::warn!(center = %cfg.name, "the chain cannot be read yet: {e:#}");
                tokio::select! {
                    _ = vigil_server::shutdown_signal() => return Ok(()),
                    _ = tokio::time::sleep(RESEND_AFTER) => {}
                }
            }
            Err(e) => return Err(e),
        }
    };
    let stop = vigil_server::shutdown_signal();
    tokio::pin!(stop);
    loop {
        // The long poll paces the loop; `poll_ms` is the least time between two reads
        // that found nothing new (or failed).
        let started = Instant::now();
        let pause = match process.tick().await {
            Ok(true) => Duration::ZERO,
            Ok(false) => poll.saturating_sub(started.elapsed()),
            Err(e) => {
                tracing::warn!(center = %cfg.name, "{e:#}");
                poll
            }
        };
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(pause) => {}
        }
    }
    tracing::info!(center = %cfg.name, "stopped");
    Ok(())
}
