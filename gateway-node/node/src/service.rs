//! The node process: wires the sans-io consensus [`Node`] to the real world — redb
//! storage, the Noise transport, timers, and the HTTP API.
//!
//! One OS thread owns the consensus state machine outright and carries out its outputs
//! in order (persist before send, commit durably before answering clients). Everything
//! else — peer links, timers, HTTP — runs on tokio and talks to that thread through one
//! bounded channel; the API reads the [`NodeView`] the thread publishes after each
//! durable commit, never the state machine itself.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::sync::{mpsc, oneshot, watch};
use vigil_protocol::{
    ChainId, CheckpointDigest, Genesis, Height, NodeId, ServedChunk, Signature, SignedReceipt, SignedTransaction,
    TxHash,
};

use crate::config::NodeConfig;
use crate::metrics::Metrics;
use crate::net::{Network, NetworkConfig, PeerAddress};
use crate::storage::{StorageError, Store, TxRecord};
use crate::verified::{Checked, VerifiedTxs};
use vigil_core::carry::{carry_out, Env, Stop};
use vigil_core::consensus::{
    self, CheckpointJob, Commit, Input, Message, Node, NodeView, Notice, Ready, Rejection, Reply, SafetyState, Settled,
    Timer, Verified,
};
use vigil_core::execution::Ledger;
use vigil_server::keys::{load_node_keys, NodeKeys};
use vigil_server::{now_ms, read_genesis, shutdown_signal};

/// Events queued for the consensus thread.
pub const EVENTS_MAX: usize = 16_384;

#[allow(clippy::large_enum_variant)] // see `consensus::Message`
pub enum Event {
    /// A peer's message, with the signatures in it the network task checked.
    Peer(NodeId, Message, Verified),
    Timer(Timer),
    /// A client's transaction, its signature already verified.
    Submit(Box<SignedTransaction>, oneshot::Sender<Result<(), Rejection>>),
    /// A checkpoint digest computed off the consensus thread.
    CheckpointComputed(Box<CheckpointDigest>),
    /// The snapshot of a recovering node's checkpoint could not be restored.
    RestoreFailed,
    /// A recovering node's state, rebuilt from its checkpoint's snapshot and stored.
    Restored(Box<Ledger>),
    Shutdown,
}

/// State shared by the consensus thread and the API.
pub struct Shared {
    pub name: String,
    /// The committed state after the last durable write, published by the consensus
    /// thread (which alone holds the [`Node`]).
    view: ArcSwap<NodeView>,
    pub store: Store,
    pub keys: NodeKeys,
    pub genesis: Genesis,
    pub network: Network,
    pub events: mpsc::Sender<Event>,
    pub metrics: Metrics,
    /// Fault injection (tests and demos only): sign receipts with a wrong result hash.
    pub byzantine_receipts: bool,
    /// This node's signed statements over the receipts of the blocks asked about last.
    signed_blocks: crate::receipts::SignedBlocks,
    /// Fault injection (tests only): serve snapshot chunks with a byte flipped.
    corrupt_snapshot_chunks: bool,
    /// Transactions whose signatures this node has checked: by the network task and
    /// the API threads, which tell the consensus thread, and by the core, which tells
    /// them back ([`Ready::verified`]).
    pub verified: Arc<VerifiedTxs>,
    /// Vault fragments: this node's own ciphertext database.
    pub vault: Arc<dyn crate::capability::vault::FragmentStore>,
    /// The records of the audit targets this node holds: its own database.
    pub records: crate::capability::audit::RecordStore,
    /// Vault requests already served (each is served once).
    pub vault_seen: crate::capability::vault::SeenRequests,
    /// The checkpoint snapshots this node serves.
    pub snapshots: crate::recovery::Snapshots,
    /// Pruning after each stable checkpoint, and the settings it follows.
    pruner: crate::pruning::Pruner,
    storage: crate::config::StorageConfig,
    /// When a pruned peer's sync answer was last logged.
    sync_gap_logged_ms: AtomicU64,
    /// Vault shards rebuilt from the other stores, and served to them.
    pub shard_repair: crate::capability::vault::repair::ShardRepair,
    /// Where snapshot chunks go while this node restores its own state.
    restore_inbox: Mutex<Option<mpsc::Sender<(NodeId, ServedChunk)>>>,
    /// The highest height whose block is on disk. The ledger runs ahead of it for the
    /// moment between executing a block and writing it; what the API says is committed
    /// (status, `latest`) goes by this, so every height it names can be fetched.
    durable: AtomicU64,
    waiters: Mutex<HashMap<TxHash, Vec<oneshot::Sender<()>>>>,
    /// The height of the view last published (what long polls of the state wait on).
    published: watch::Sender<u64>,
}

impl Shared {
    pub fn chain_id(&self) -> &ChainId {
        &self.genesis.chain_id
    }

    /// The highest committed height whose block and certificate are on disk.
    pub fn durable_height(&self) -> Height {
        Height(self.durable.load(Ordering::Acquire))
    }

    /// The committed state as last published: one height's ledger, header and status,
    /// consistent with each other however long the caller holds it.
    pub fn view(&self) -> Arc<NodeView> {
        self.view.load_full()
    }

    /// Routes the snapshot chunks peers send to a restore in progress (`None`: none).
    pub fn set_restore_inbox(&self, inbox: Option<mpsc::Sender<(NodeId, ServedChunk)>>) {
        *self.restore_inbox.lock().unwrap_or_else(|p| p.into_inner()) = inbox;
    }

    /// A peer's snapshot request is answered from the snapshots held; a chunk a peer
    /// sent goes to the restore in progress; vault shards likewise between stores. None
    /// is the consensus thread's business.
    fn side_message(self: &Arc<Self>, from: NodeId, message: Message) {
        match message {
            Message::ShardRequest(request) => {
                tokio::spawn(crate::capability::vault::repair::serve(self.clone(), from, request));
            }
            Message::Shards(shards) => self.shard_repair.deliver(from, *shards),
            Message::SnapshotRequest { height, index } => {
                if let Some(mut chunk) = self.snapshots.serve(height, index) {
                    if self.corrupt_snapshot_chunks {
                        tracing::warn!(%height, index, "FAULT INJECTION: serving a snapshot chunk with a byte flipped");
                        if let Some(byte) = chunk.chunk.entries.first_mut().and_then(|(_, v)| v.first_mut()) {
                            *byte ^= 1;
                        }
                    }
                    self.network.send(&from, &Message::SnapshotChunk(Box::new(chunk)));
                }
            }
            Message::SnapshotChunk(chunk) => {
                let inbox = self.restore_inbox.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(inbox) = inbox {
                    let _ = inbox.try_send((from, *chunk));
                }
            }
            _ => {}
        }
    }

    fn publish(&self, view: NodeView) {
        let height = view.ledger.height().0;
        self.view.store(Arc::new(view));
        self.published.send_replace(height);
    }

    /// Waits (at most `limit`) until a view above `height` is published.
    pub async fn published_above(&self, height: u64, limit: std::time::Duration) {
        let mut rx = self.published.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|h| *h > height)).await;
    }

    /// Registers interest in a transaction's commit before it is submitted.
    pub fn wait_for(&self, hash: TxHash) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().unwrap_or_else(|p| p.into_inner()).entry(hash).or_default().push(tx);
        rx
    }

    /// Drops waiters for `hash` that nobody listens to any more (rejected or timed out),
    /// so failed submissions leave nothing behind.
    pub fn forget_closed_waiters(&self, hash: &TxHash) {
        let mut w = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = w.get_mut(hash) {
            list.retain(|s| !s.is_closed());
            if list.is_empty() {
                w.remove(hash);
            }
        }
    }

    fn notify(&self, hashes: impl Iterator<Item = TxHash>) {
        let mut w = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        for h in hashes {
            for tx in w.remove(&h).unwrap_or_default() {
                let _ = tx.send(());
            }
        }
    }

    /// This node's signed receipt for a committed transaction (`None` if pruned since
    /// the record was read): a path into its block's statement, signed once.
    pub fn signed_receipt(&self, record: &TxRecord) -> Result<Option<SignedReceipt>, StorageError> {
        let signer = crate::receipts::Signer {
            chain_id: self.chain_id(),
            node: self.keys.id(),
            key: &self.keys.consensus,
            byzantine: self.byzantine_receipts,
        };
        self.signed_blocks.receipt(&self.store, &signer, record)
    }
}

/// Opens the database, restores the node, links to its peers and starts the consensus
/// thread; the API is not served yet.
pub async fn start(cfg: &NodeConfig) -> anyhow::Result<Started> {
    let keys = load_node_keys(&cfg.key_file)?;
    let genesis = read_genesis(&cfg.genesis_file)?;
    let me = keys.id();
    let Some(info) = genesis.validators.get(&me) else {
        bail!("this node's key ({}) is not a validator in {}", me, cfg.genesis_file.display());
    };
    if info.encryption_key != keys.encryption_public() {
        bail!("the HPKE key in {} differs from the one published in genesis", cfg.key_file.display());
    }
    if info.p2p_key != keys.p2p_public() {
        bail!("the p2p (Noise) key in {} differs from the one published in genesis", cfg.key_file.display());
    }
    if cfg.testing.corrupt_snapshot_chunks {
        tracing::warn!("FAULT INJECTION ENABLED: this node will serve corrupted snapshot chunks (tests only)");
    }
    if cfg.testing.byzantine_receipts {
        tracing::warn!("FAULT INJECTION ENABLED: this node will sign wrong receipts (tests and demos only)");
    }
    let (store, stored, recover) = open_store(cfg)?;
    let fragments_were_there = crate::capability::vault::index_exists(&cfg.data_dir);
    let vault = crate::capability::vault::open(&cfg.data_dir, &cfg.vault).context("opening the vault store")?;
    let snapshots = crate::recovery::Snapshots::open(&cfg.data_dir)?;
    let records = crate::capability::audit::RecordStore::open(&cfg.data_dir).context("opening the records database")?;
    let mut ccfg = consensus::Config::new(keys.consensus.clone());
    ccfg.timeouts = cfg.consensus.timeouts();
    ccfg.block_txs_max = cfg.consensus.block_txs_max;
    let verified = Arc::new(VerifiedTxs::default());
    let node = restore_node(cfg, ccfg, &genesis, (&store, stored, recover), &snapshots)?;

    let (events_tx, mut events_rx) = mpsc::channel::<Event>(EVENTS_MAX);
    let (inbound_tx, mut inbound_rx) = mpsc::channel::<(NodeId, Message)>(EVENTS_MAX);
    let mut peers = Vec::new();
    for p in &cfg.peers {
        let id: NodeId = p.id.parse().with_context(|| format!("peer id `{}` is not 64 hex digits", p.id))?;
        peers.push(PeerAddress { id, address: p.address.clone() });
    }
    let network = Network::start(
        NetworkConfig {
            me,
            secret: keys.p2p.to_bytes(),
            listen: cfg.p2p_listen,
            peers,
            keys: genesis.validators.validators().iter().map(|v| (v.id, v.p2p_key)).collect(),
            // The chain id and the genesis hash: two networks that share a chain id (a
            // reset devnet, a fork of a test network) cannot link up either.
            prologue: format!("vigil/v1/p2p/{}/{}", genesis.chain_id, genesis.hash()).into_bytes(),
        },
        inbound_tx,
    )
    .await
    .with_context(|| format!("binding the p2p listener {}", cfg.p2p_listen))?;
    let (side_tx, mut side_rx) = mpsc::channel::<(NodeId, Message)>(EVENTS_MAX);
    {
        let events = events_tx.clone();
        let verified = verified.clone();
        tokio::spawn(async move {
            while let Some((from, m)) = inbound_rx.recv().await {
                // Transaction signatures are checked here, in parallel with the consensus
                // thread, each once: gossip that carries only transactions seen before
                // (often inside a proposal that came first) has nothing left to pool.
                let event = match m {
                    Message::Transactions(txs) => {
                        let checked = verified.check(&txs);
                        let fresh: Vec<SignedTransaction> = txs
                            .into_iter()
                            .zip(checked)
                            .filter(|(_, c)| *c == Checked::Valid)
                            .map(|(t, _)| t)
                            .collect();
                        if fresh.is_empty() {
                            continue;
                        }
                        let checked = Verified::all(&fresh);
                        Event::Peer(from, Message::Transactions(fresh), checked)
                    }
                    Message::Proposal(p) => {
                        let checked = verified.check(&p.block.txs);
                        let vouched = VerifiedTxs::vouch(&p.block.txs, &checked);
                        Event::Peer(from, Message::Proposal(p), vouched)
                    }
                    m @ (Message::SnapshotRequest { .. }
                    | Message::SnapshotChunk(_)
                    | Message::ShardRequest(_)
                    | Message::Shards(_)) => {
                        let _ = side_tx.try_send((from, m));
                        continue;
                    }
                    other => Event::Peer(from, other, Verified::none()),
                };
                if events.send(event).await.is_err() {
                    return;
                }
            }
        });
    }

    let durable = AtomicU64::new(node.ledger().height().0);
    let shared = Arc::new(Shared {
        name: cfg.name.clone(),
        view: ArcSwap::from_pointee(node.view()),
        store,
        keys,
        genesis,
        network,
        events: events_tx.clone(),
        metrics: Metrics::default(),
        byzantine_receipts: cfg.testing.byzantine_receipts,
        signed_blocks: Default::default(),
        corrupt_snapshot_chunks: cfg.testing.corrupt_snapshot_chunks,
        vault,
        records,
        vault_seen: Default::default(),
        snapshots,
        pruner: Default::default(),
        storage: cfg.storage.clone(),
        shard_repair: Default::default(),
        restore_inbox: Mutex::new(None),
        sync_gap_logged_ms: AtomicU64::new(0),
        verified,
        durable,
        waiters: Mutex::new(HashMap::new()),
        published: watch::channel(node.ledger().height().0).0,
    });

    {
        let shared = shared.clone();
        tokio::spawn(async move {
            while let Some((from, m)) = side_rx.recv().await {
                shared.side_message(from, m);
            }
        });
    }
    if crate::capability::vault::repair::needed(recover, fragments_were_there, shared.view().ledger.height()) {
        tokio::spawn(crate::capability::vault::repair::run(shared.clone()));
    }

    let runtime = tokio::runtime::Handle::current();
    let consensus_shared = shared.clone();
    let consensus_thread = std::thread::Builder::new()
        .name("consensus".into())
        .spawn(move || consensus_loop(node, &consensus_shared, &runtime, &mut events_rx))?;
    Ok(Started { shared, consensus_thread })
}

/// The database and what it holds. A corrupted one (a record failing its checksum, or
/// redb's own) is moved aside and the node recovers from its peers: a damaged data
/// directory is never run on, nor thrown away.
fn open_store(cfg: &NodeConfig) -> anyhow::Result<(Store, crate::storage::Stored, bool)> {
    let path = cfg.data_dir.join("vigil.redb");
    let max = cfg.storage.tx_index_memory_max;
    let open = || -> Result<_, crate::storage::StorageError> {
        let store = Store::open(&path, max)?;
        let stored = store.load(consensus::recent::BLOCKS_IN_MEMORY_MAX)?;
        Ok((store, stored))
    };
    match open() {
        Ok((store, stored)) => Ok((store, stored, cfg.recover)),
        Err(e) if e.is_corruption() => {
            let aside = crate::storage::aside_path(&path, "corrupt", now_ms());
            tracing::error!(
                error = %e,
                moved_to = %aside.display(),
                "the database is corrupt: moved aside; recovering the state from the peers' stable checkpoint"
            );
            std::fs::rename(&path, &aside).with_context(|| format!("moving {} aside", path.display()))?;
            let (store, stored) = open().context("opening a new database")?;
            Ok((store, stored, true))
        }
        Err(e) => Err(e).context("reading the database"),
    }
}

/// The consensus node as the data directory has it: restarted from its database (with
/// its set changes and its stored stable checkpoint), at genesis on a new one, or —
/// `--recover` on an empty one — recovering from its peers.
fn restore_node(
    cfg: &NodeConfig,
    ccfg: consensus::Config,
    genesis: &Genesis,
    (store, stored, recover): (&Store, crate::storage::Stored, bool),
    snapshots: &crate::recovery::Snapshots,
) -> anyhow::Result<Node> {
    let resumed = stored.blocks.last().map_or(0, |cb| cb.block.header.height.0);
    let had_state = stored.state.is_some();
    if recover && !had_state && stored.blocks.is_empty() {
        tracing::info!(name = %cfg.name, "node starting with no data: recovering from its peers' stable checkpoint");
        let nonce = rand_core09::RngCore::next_u64(&mut vigil_server::os_rng());
        return Ok(Node::recovering(ccfg, genesis, nonce)?);
    }
    if recover {
        tracing::warn!("--recover ignored: the data directory holds a chain");
    }
    let ledger = match stored.state {
        Some((meta, tree)) => Some(Ledger::restore(genesis, meta, tree).context("restoring the stored state")?),
        None => None,
    };
    let node =
        Node::restore(ccfg, genesis, stored.blocks, stored.safety, ledger).context("restoring from the database")?;
    if !had_state {
        let (meta, records) = node.ledger().snapshot();
        store.write_state(&meta, records).context("writing the state to the database")?;
    }
    let ledger = node.ledger();
    let set_changes = store.set_changes(ledger.set_history()).context("reading the validator-set changes")?;
    let checkpoint = snapshots.load_stored(&genesis.chain_id, |h| Some(ledger.validators_at(h).clone()));
    let state = if had_state { "read from disk" } else { "rebuilt from genesis" };
    let at = checkpoint.as_ref().map(|c| c.digest.height.0);
    tracing::info!(name = %cfg.name, height = resumed, state, stable_checkpoint = ?at, "node starting");
    let node = node.with_set_changes(set_changes);
    Ok(match checkpoint {
        Some(c) => node.with_checkpoint(c),
        None => node,
    })
}

/// A node whose consensus thread and peer links run: what [`start`] returns, for the
/// caller to serve its API (see [`run`]) and to stop.
pub struct Started {
    pub shared: Arc<Shared>,
    consensus_thread: std::thread::JoinHandle<()>,
}

impl Started {
    /// Stops the consensus thread after the events already queued, and waits for it.
    pub async fn stop(self) {
        let _ = self.shared.events.send(Event::Shutdown).await;
        let thread = self.consensus_thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// The public API: the `/v1/` routes and the sealed ends of the gateway's modes, which
/// serve those routes in process.
pub fn public_routes(shared: &Arc<Shared>) -> anyhow::Result<axum::Router> {
    let api = crate::api::router(shared.clone());
    let sealed = crate::sealed::routes(shared.keys.encryption_seed(), api.clone(), shared.metrics.sealed.clone())
        .context("deriving the sealed-request key")?;
    Ok(api.merge(sealed))
}

/// Runs a node until SIGINT or SIGTERM: [`start`], then its API and admin listeners.
pub async fn run(cfg: NodeConfig) -> anyhow::Result<()> {
    let started = start(&cfg).await?;
    let shared = started.shared.clone();

    let listener = tokio::net::TcpListener::bind(cfg.api_listen)
        .await
        .with_context(|| format!("binding the API listener {}", cfg.api_listen))?;
    tracing::info!(api = %cfg.api_listen, p2p = %cfg.p2p_listen, "listening");
    if let Some(addr) = cfg.admin_listen {
        let admin =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding the admin listener {addr}"))?;
        tracing::info!(admin = %addr, "admin listener (metrics)");
        let routes = crate::api::admin_router(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(admin, routes).with_graceful_shutdown(shutdown_signal()).await {
                tracing::warn!(error = %e, "admin listener stopped");
            }
        });
    }
    let app = public_routes(&shared)?;
    // Outermost (sealed requests are served by `api` in process, inside it, and have no
    // line of their own in the access log: their paths are what the client sealed): a
    // client over its limits costs nothing past this point but its access-log line.
    let limits = vigil_server::limits::ClientLimits::new(cfg.api_limits.settings(), &cfg.api_limits.unlimited);
    let app = vigil_server::limits::outermost(app, limits.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(LIMITS_RETAIN_INTERVAL);
        loop {
            tick.tick().await;
            limits.retain_recent();
        }
    });
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    // TCP_NODELAY: the gateway's pooled connections carry one small request and answer
    // after another.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    tracing::info!("shutting down");
    started.stop().await;
    Ok(())
}

/// How often the API's rate limiter forgets clients whose buckets are full again.
const LIMITS_RETAIN_INTERVAL: Duration = Duration::from_secs(10);

/// Least time between two log lines about a peer that pruned the blocks this node needs.
const SYNC_GAP_LOG_INTERVAL_MS: u64 = 60_000;

/// Most events handled before their outputs are carried out.
const EVENTS_PER_BATCH_MAX: usize = 256;

/// The consensus thread: steps the state machine it owns for each event and carries out
/// what it decided, until shutdown — or until the node must stop, which ends the process.
fn consensus_loop(
    mut node: Node,
    shared: &Arc<Shared>,
    runtime: &tokio::runtime::Handle,
    events: &mut mpsc::Receiver<Event>,
) {
    let mut clients = Clients::default();
    let first = node.step(now_ms(), Input::Start);
    NodeEnv::new(shared, runtime, &mut clients, &node).carry_out(first);
    while let Some(first) = events.blocking_recv() {
        // Take whatever else is already queued, so that transactions admitted together
        // are gossiped in one message.
        let mut ready = Ready::default();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(event) = next.take() {
            let Some(input) = clients.input(event) else { return };
            ready.merge(node.step(now_ms(), input));
            taken += 1;
            if taken < EVENTS_PER_BATCH_MAX {
                next = events.try_recv().ok();
            }
        }
        ready.coalesce_gossip();
        NodeEnv::new(shared, runtime, &mut clients, &node).carry_out(ready);
    }
}

/// The exit status of a node stopped by [`vigil_core::consensus::Output::Fatal`] (EX_SOFTWARE).
pub const EXIT_FATAL: i32 = 70;
/// The exit status of a node that could not write to its database.
pub const EXIT_WRITE_FAILED: i32 = 2;

/// Clients' submissions in the core, by ticket.
#[derive(Default)]
struct Clients {
    waiting: BTreeMap<u64, oneshot::Sender<Result<(), Rejection>>>,
    next_ticket: u64,
}

impl Clients {
    /// The core's input for an event; `None` means shut down.
    fn input(&mut self, event: Event) -> Option<Input> {
        Some(match event {
            Event::Shutdown => return None,
            Event::Peer(from, message, verified) => Input::Message { from, message, verified },
            Event::Timer(t) => Input::Timeout(t),
            Event::CheckpointComputed(digest) => Input::CheckpointComputed(digest),
            Event::RestoreFailed => Input::RestoreFailed,
            Event::Restored(ledger) => Input::Restored(ledger),
            Event::Submit(tx, reply) => {
                let ticket = self.next_ticket;
                self.next_ticket += 1;
                self.waiting.insert(ticket, reply);
                Input::Submit { ticket, tx, verified: true }
            }
        })
    }
}

/// The node process's world for [`carry_out`]: redb, the Noise links, tokio timers, the
/// clients waiting for an answer, and the view the API reads.
struct NodeEnv<'a> {
    shared: &'a Arc<Shared>,
    runtime: &'a tokio::runtime::Handle,
    clients: &'a mut Clients,
    /// The node after the step being carried out: its view is published once the step's
    /// write is durable (or at once, if it writes nothing).
    node: &'a Node,
}

impl<'a> NodeEnv<'a> {
    fn new(
        shared: &'a Arc<Shared>,
        runtime: &'a tokio::runtime::Handle,
        clients: &'a mut Clients,
        node: &'a Node,
    ) -> Self {
        Self { shared, runtime, clients, node }
    }

    /// Carries out a step's decisions; a node that must stop, stops here.
    fn carry_out(&mut self, ready: Ready) {
        let wrote = !ready.commits.is_empty();
        match carry_out(self, ready) {
            // The status (mempool, view) moved even without a commit.
            Ok(()) if !wrote => self.shared.publish(self.node.view()),
            Ok(()) => {}
            Err(stop @ Stop::Fatal(_)) => {
                tracing::error!(%stop, "the node stops");
                std::process::exit(EXIT_FATAL);
            }
            Err(stop @ Stop::WriteFailed(_)) => {
                tracing::error!(%stop, "the node stops");
                std::process::exit(EXIT_WRITE_FAILED);
            }
        }
    }
}

impl Env for NodeEnv<'_> {
    type WriteError = crate::storage::StorageError;

    fn send(&mut self, to: &NodeId, message: &Message) {
        self.shared.network.send(to, message);
    }

    fn broadcast(&mut self, message: &Message) {
        self.shared.network.broadcast(message);
    }

    fn send_stored(&mut self, to: &NodeId, from: Height, max: usize) {
        match self.shared.store.blocks(from, max) {
            Ok(blocks) if !blocks.is_empty() => self.shared.network.send(to, &Message::SyncResponse(blocks)),
            Ok(_) => {}
            // A peer's sync is retried; this node's own writes are what must not fail.
            Err(e) => tracing::warn!(error = %e, peer = %to.short(), "cannot read blocks to sync a peer"),
        }
    }

    fn set_timer(&mut self, timer: Timer, after_ms: u64) {
        let events = self.shared.events.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            let _ = events.send(Event::Timer(timer)).await;
        });
    }

    fn write(&mut self, commits: &[Commit], safety: Option<&SafetyState>) -> Result<(), Self::WriteError> {
        let blocks: Vec<_> = commits.iter().map(|c| (&*c.committed, c.receipts.as_slice(), &*c.state)).collect();
        self.shared.store.write(&blocks, safety)
    }

    /// The blocks are on disk: the API may name them, links follow the set in force
    /// (a validator jailed by these blocks loses its links), waiting clients are told.
    fn committed(&mut self, commits: Vec<Commit>) {
        let shared = self.shared;
        // First the view, so that a client told its transaction committed reads it.
        shared.publish(self.node.view());
        if let Some(last) = commits.last() {
            shared.durable.fetch_max(last.committed.block.header.height.0, Ordering::Release);
        }
        let changed = |c: &Commit| {
            c.committed.block.header.next_validator_set_hash != c.committed.block.header.validator_set_hash
        };
        if commits.iter().any(changed) {
            let set = self.node.ledger().validators();
            shared.network.set_allowed(set.validators().iter().map(|v| (v.id, v.p2p_key)).collect());
        }
        for c in commits {
            let header = &c.committed.block.header;
            shared.metrics.observe_commit(now_ms().saturating_sub(header.time_ms), c.committed.block.txs.len());
            tracing::debug!(height = %header.height, txs = c.committed.block.txs.len(), mode = %header.mode, "committed");
            shared.notify(c.receipts.iter().map(|r| r.tx_hash));
        }
    }

    fn reply(&mut self, reply: Reply) {
        if let Some(waiting) = self.clients.waiting.remove(&reply.ticket) {
            let _ = waiting.send(reply.result);
        }
    }

    fn verified(&mut self, signatures: Vec<(TxHash, Signature)>) {
        self.shared.verified.insert(signatures);
    }

    fn notice(&mut self, notice: Notice) {
        match notice {
            Notice::SyncGap { peer, needed, first } => {
                // At most once a minute: every sync answer of a pruned peer says it.
                let now = now_ms();
                let last = self.shared.sync_gap_logged_ms.load(Ordering::Relaxed);
                if now.saturating_sub(last) < SYNC_GAP_LOG_INTERVAL_MS {
                    return;
                }
                self.shared.sync_gap_logged_ms.store(now, Ordering::Relaxed);
                tracing::warn!(
                    peer = %peer.short(),
                    %needed,
                    %first,
                    "a peer no longer holds the blocks this node needs (it pruned them); once a quorum of peers says \
                     so, this node restarts itself to recover from their stable checkpoint"
                );
            }
            Notice::FellBehind { needed, first } => {
                crate::recovery::behind::restart_recovering(self.shared, needed, first)
            }
            Notice::EvidenceSubmitted { offender } => {
                tracing::warn!(offender = %offender, "proved a validator faulty; evidence submitted");
            }
            Notice::ForkProven { height, theirs, offenders } => {
                self.shared.metrics.forks_proven.fetch_add(1, Ordering::Relaxed);
                let names: Vec<String> = offenders.iter().map(ToString::to_string).collect();
                if names.is_empty() {
                    tracing::error!(
                        %height,
                        theirs = %theirs,
                        "another certified block conflicts with the one committed here: the chain forked; the \
                         blocks received do not show who caused it yet (a copy with its justification may)"
                    );
                } else {
                    tracing::error!(
                        %height,
                        theirs = %theirs,
                        offenders = ?names,
                        "another certified block conflicts with the one committed here: the chain forked; evidence \
                         submitted against the validators named, Fast mode stopped until it commits"
                    );
                }
            }
            Notice::Checkpoint(Settled::Stable { checkpoint, diverging, mine_differs }) => {
                let d = &checkpoint.digest;
                tracing::info!(height = %d.height, digest = %d.hash(), chunks = d.chunk_count, "stable checkpoint");
                for signer in &diverging {
                    tracing::warn!(height = %d.height, %signer, "a validator signed another checkpoint digest");
                }
                if mine_differs {
                    tracing::error!(
                        height = %d.height,
                        "this node's checkpoint digest differs from the one a quorum signed: its state is not the \
                         chain's; stop it and recover its data directory"
                    );
                }
                // Kept on disk (off this thread), to serve after a restart; then what
                // it makes unneeded is pruned.
                let shared = self.shared.clone();
                let set_firsts: Vec<Height> = self.node.ledger().set_history().iter().map(|(h, _)| *h).collect();
                self.runtime.spawn_blocking(move || {
                    if let Err(e) = shared.snapshots.store_stable(&checkpoint) {
                        tracing::warn!(error = %format!("{e:#}"), "could not store the stable checkpoint's snapshot");
                    }
                    shared.pruner.after_checkpoint(&shared, &shared.storage, &checkpoint, &set_firsts);
                });
                // A checkpoint can settle in a step that commits nothing.
                self.shared.publish(self.node.view());
            }
        }
    }

    fn restore(&mut self, job: consensus::RestoreJob) {
        self.runtime.spawn(crate::recovery::download::run(self.shared.clone(), job));
    }

    fn compute_checkpoint(&mut self, job: CheckpointJob) {
        let shared = self.shared.clone();
        // Cutting the snapshot into chunks takes a while on a large state: not here.
        self.runtime.spawn_blocking(move || {
            let started = std::time::Instant::now();
            let snapshot = job.compute_snapshot();
            let digest = snapshot.digest.clone();
            shared.snapshots.hold(snapshot);
            let events = &shared.events;
            tracing::debug!(height = %digest.height, chunks = digest.chunk_count, ms = started.elapsed().as_millis() as u64, "checkpoint digest computed");
            let _ = events.blocking_send(Event::CheckpointComputed(Box::new(digest)));
        });
    }
}
