//! `vigil relayer --config relayer.toml`: both chains followed through their gateways by
//! the wallet core's light clients (every entry read is proven against a certified
//! header, checked by the same `HeaderVerifier` the chains run), and, each round, each
//! direction planned ([`crate::plan`]) and sent ([`crate::outbox`]).

use std::time::{Duration, Instant};

use anyhow::Context;
use vigil_api::STATE_KEYS_MAX;
use vigil_protocol::crosschain::{Channel, ClientState};
use vigil_protocol::{AccountState, Address, ChainId, Height, SecretKey, SetChange, StateKey};
use vigil_server::keys::load_account_key;
use vigil_wallet::native::{session_through, Native};
use vigil_wallet::session::{Session, WalletError};

use crate::config::{ChainEndpoint, RelayerConfig};
use crate::outbox::{raced, Outbox};
use crate::plan::{plan, Destination, SourceView, Step};

/// Packets planned in one round of one direction (the rest wait for the next round).
pub const PACKETS_PER_ROUND_MAX: usize = 512;
/// How often each chain's set changes are read again (they change rarely: a validator
/// jailed, a set replaced).
pub const SET_CHANGES_EVERY: Duration = Duration::from_secs(10);

/// One chain as the relayer reaches it.
pub struct Side {
    pub chain: ChainId,
    session: Session<Native>,
    key: SecretKey,
    outbox: Outbox,
    set_changes: Vec<SetChange>,
    set_changes_read: Option<Instant>,
}

impl Side {
    async fn open(endpoint: &ChainEndpoint) -> anyhow::Result<Side> {
        let key = load_account_key(&endpoint.key_file)
            .with_context(|| format!("reading the relayer's key {}", endpoint.key_file.display()))?;
        let genesis = vigil_server::read_genesis(&endpoint.genesis_file)?;
        let ca = std::fs::read(&endpoint.ca_cert).with_context(|| format!("reading {}", endpoint.ca_cert.display()))?;
        let session = session_through(&genesis, endpoint.gateways.clone(), &ca, endpoint.local_address)
            .await
            .with_context(|| format!("following {}'s validator set", genesis.chain_id))?;
        Ok(Side {
            chain: genesis.chain_id,
            session,
            key,
            outbox: Outbox::default(),
            set_changes: Vec::new(),
            set_changes_read: None,
        })
    }

    fn address(&self) -> Address {
        Address::from_public_key(&self.key.public_key())
    }

    /// The chain's set changes, read again every [`SET_CHANGES_EVERY`]; the light client
    /// follows them too.
    async fn set_changes(&mut self) -> Result<Vec<SetChange>, WalletError> {
        if self.set_changes_read.is_none_or(|at| at.elapsed() >= SET_CHANGES_EVERY) {
            self.set_changes = self.session.set_changes().await?;
            self.session.sync().await?;
            self.set_changes_read = Some(Instant::now());
        }
        Ok(self.set_changes.clone())
    }
}

/// What one round carried in one direction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Carried {
    pub received: usize,
    pub acknowledged: usize,
    pub timed_out: usize,
    pub updates: usize,
    pub refused: usize,
}

pub struct Relayer {
    name: String,
    sides: [Side; 2],
    /// Per direction, the lowest sequence that may still be outstanding (a cache: the
    /// chains are read from 1 again after a restart).
    low: [u64; 2],
}

impl Relayer {
    pub async fn open(cfg: &RelayerConfig) -> anyhow::Result<Relayer> {
        let (a, b) = (Side::open(&cfg.chains[0]).await?, Side::open(&cfg.chains[1]).await?);
        anyhow::ensure!(a.chain != b.chain, "both chains of the config are `{}`", a.chain);
        tracing::info!(relayer = %cfg.name, a = %a.chain, b = %b.chain, "relaying between two chains");
        Ok(Relayer { name: cfg.name.clone(), sides: [a, b], low: [1, 1] })
    }

    /// One round: each direction read, planned and sent.
    pub async fn tick(&mut self) -> [anyhow::Result<Carried>; 2] {
        let first = self.direction(0).await;
        let second = self.direction(1).await;
        [first, second]
    }

    async fn direction(&mut self, from: usize) -> anyhow::Result<Carried> {
        let [a, b] = &mut self.sides;
        let (src, dst) = if from == 0 { (a, b) } else { (b, a) };
        let read = read_source(src, &dst.chain, &mut self.low[from]).await?;
        let Some((source, src_at)) = read else { return Ok(Carried::default()) };
        let (dests, client, dst_at) = read_destination(dst, &src.chain, &source).await?;
        let plan = plan(&source, &dests, client.as_ref(), dst_at.1);
        let mut carried = Carried::default();
        for (side, at, items) in [(&mut *dst, dst_at, plan.to_destination), (&mut *src, src_at, plan.to_source)] {
            let sent = side.outbox.send(&side.session, &side.key, &side.chain, at, items).await;
            for step in &sent.taken {
                match step {
                    Step::Update => carried.updates += 1,
                    Step::Receive(_) => carried.received += 1,
                    Step::Acknowledge(_) => carried.acknowledged += 1,
                    Step::Timeout(_) => carried.timed_out += 1,
                }
                tracing::info!(relayer = %self.name, chain = %side.chain, ?step, "carried");
            }
            for (step, code) in &sent.refused {
                if raced(code) {
                    tracing::info!(relayer = %self.name, chain = %side.chain, ?step, code, "refused (another relayer first, or no longer due)");
                } else {
                    tracing::warn!(relayer = %self.name, chain = %side.chain, ?step, code, "refused: sent again next round; if it repeats, check this relayer's account and version");
                }
            }
            carried.refused += sent.refused.len();
        }
        Ok(carried)
    }
}

/// The source's packets to `to` still outstanding, from `low` on (which moves past
/// the settled ones at the front), each proven; its relayer nonce and height. `None`:
/// no channel to `to` yet.
async fn read_source(
    src: &mut Side,
    to: &ChainId,
    low: &mut u64,
) -> anyhow::Result<Option<(SourceView, (u64, Height))>> {
    let me = src.address();
    let head = src.session.proofs_after(&[StateKey::Channel(to.clone()), StateKey::Account(me)], None).await?;
    let Some(channel) = head.value::<Channel>(0)? else { return Ok(None) };
    let nonce = head.value::<AccountState>(1)?.unwrap_or_default().nonce.0;
    let (mut header, mut packets, mut leading) = (head.header.clone(), Vec::new(), true);
    let mut next = (*low).max(1);
    while next < channel.next_sequence && packets.len() < PACKETS_PER_ROUND_MAX {
        let count = (channel.next_sequence - next).min(STATE_KEYS_MAX as u64) as usize;
        let (found, proven) = src.session.sent_packets(to, next, count).await?;
        if proven.height() > header.header.height {
            header = proven.header.clone();
        }
        for (i, packet) in found.into_iter().enumerate() {
            match (packet, proven.proof_at(i)) {
                (Some(packet), Some(proof)) => {
                    leading = false;
                    packets.push((packet, proof));
                }
                _ if leading => *low = next + i as u64 + 1,
                _ => {}
            }
        }
        next += count as u64;
    }
    let set_changes = src.set_changes().await?;
    let source = SourceView { chain: src.chain.clone(), header, packets, set_changes };
    Ok(Some((source, (nonce, head.height()))))
}

/// The destination's side of each packet (its receipt or its absence, with its client
/// of the source, proven together), its client as newest read, and its relayer nonce
/// and height.
async fn read_destination(
    dst: &mut Side,
    from: &ChainId,
    source: &SourceView,
) -> anyhow::Result<(Vec<Destination>, Option<ClientState>, (u64, Height))> {
    let fixed = [StateKey::Connection(from.clone()), StateKey::Account(dst.address())];
    let mut dests = Vec::with_capacity(source.packets.len());
    let (mut client, mut at) = (None, (0, Height(0)));
    let chunks: Vec<&[_]> = if source.packets.is_empty() {
        vec![&[]]
    } else {
        source.packets.chunks(STATE_KEYS_MAX - fixed.len()).collect()
    };
    for chunk in chunks {
        let mut keys = fixed.to_vec();
        keys.extend(chunk.iter().map(|(p, _)| p.receipt_key()));
        let proven = dst.session.proofs_after(&keys, None).await?;
        let proven_client = proven.value::<ClientState>(0)?;
        let client_proof = proven.proofs.first().cloned();
        if proven.height() >= at.1 {
            let nonce = proven.value::<AccountState>(1)?.unwrap_or_default().nonce.0;
            (client, at) = (proven_client.clone(), (nonce, proven.height()));
        }
        for i in 0..chunk.len() {
            let proof = proven.proof_at(fixed.len() + i).context("an entry without its proof")?;
            dests.push(Destination {
                receipt: proven.value(fixed.len() + i)?,
                proof,
                client: proven_client.clone().zip(client_proof.clone()),
            });
        }
    }
    Ok((dests, client, at))
}

/// Runs the relayer until the process is stopped: a round every `poll_ms`, a round's
/// errors (a chain unreachable, a header its light client must follow first) logged and
/// the next round tried.
pub async fn run(cfg: &RelayerConfig) -> anyhow::Result<()> {
    let mut relayer = loop {
        match Relayer::open(cfg).await {
            Ok(r) => break r,
            Err(e) => {
                tracing::warn!(relayer = %cfg.name, "cannot reach both chains yet: {e:#}; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let poll = Duration::from_millis(cfg.poll_ms);
    loop {
        for (from, result) in relayer.tick().await.into_iter().enumerate() {
            if let Err(e) = result {
                let [a, b] = &relayer.sides;
                let (src, dst) = if from == 0 { (a, b) } else { (b, a) };
                tracing::warn!(relayer = %cfg.name, from = %src.chain, to = %dst.chain, "round failed: {e:#}");
            }
        }
        tokio::time::sleep(poll).await;
    }
}
