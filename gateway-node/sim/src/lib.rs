//! Deterministic simulation of a whole network running the real [`consensus::Node`]
//! code (TigerBeetle's VOPR idea): virtual time, a seeded RNG, and a network that
//! drops, delays, reorders, duplicates and partitions messages, crashes nodes and
//! restarts them from what they persisted, with Byzantine validators (one, or on 7
//! nodes sometimes two, which may collude).
//!
//! Invariants are checked after every event; a failing seed prints a readable trace,
//! and running the same seed again replays it exactly (no clock, no thread, no
//! hash-map order anywhere in the loop).

mod byzantine;
mod light;
mod recovery;
mod trace;

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vigil_protocol::{
    Address, Amount, BlockHash, CertifiedHeader, ChainId, ConsensusMode, EncryptionKey, Genesis, Height, NodeId, Nonce,
    P2pKey, Payload, SecretKey, SignedTransaction, StateTree, Transaction, Transfer, TxHash, ValidatorInfo,
    ValidatorSet,
};

pub use trace::TraceEvent;
use vigil_core::carry::{carry_out, Env, Stop};
use vigil_core::consensus::{
    self, Commit, CommittedBlock, Input, Message, Notice, Reply, SafetyState, Timeouts, Timer, Verified,
};
use vigil_core::execution::{Ledger, LedgerError, StateCommit};

/// Blocks between checkpoints in simulated chains (a run commits about a hundred).
const SIM_CHECKPOINT_INTERVAL: u64 = 8;

/// Checkpoint heights whose votes a node may hold at once: those in its window (above
/// the latest stable one, at most one interval above its committed height, at most two
/// below it).
const CHECKPOINT_HEIGHTS_HELD_MAX: usize = 4;

/// Virtual milliseconds a node's checkpoint digest takes to compute, off its consensus.
const CHECKPOINT_COMPUTE_MS: u64 = 5;

/// Virtual milliseconds during which faults may happen; then the network heals.
pub const FAULT_PHASE_MS: u64 = 3_000;
/// Healthy virtual time after the heal, within which every honest node must progress.
pub const HEALED_PHASE_MS: u64 = 8_000;
/// More healed time when a validator was wiped: it signs nothing until the heights it
/// may have signed at are over, so the others must commit those with one validator
/// less (in Bft, with their rounds out of step after the faults, that takes long).
pub const HEALED_PHASE_AFTER_WIPE_MS: u64 = 8_000;
/// Blocks every honest node must commit after the heal.
pub const PROGRESS_AFTER_HEAL_BLOCKS: u64 = 2;
/// Violations after which a run stops (the first ones and their trace tell the story).
pub const VIOLATIONS_MAX: usize = 20;
/// Virtual time within which a fork must be traced to its validators by some honest node.
pub const FORK_TRACE_MS: u64 = 3_000;
const CLIENTS: usize = 4;
/// Committed blocks each simulated node keeps in memory (the node's default is larger).
const SIM_BLOCKS_IN_MEMORY: usize = 8;
const CLIENT_TX_INTERVAL_MS: u64 = 150;

/// How the Byzantine validator misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Byzantine {
    /// Fast mode: as leader, sends half the followers a block with forged results.
    LyingLeader,
    /// Proposes two blocks and casts conflicting votes to different peers. On 7
    /// validators one equivocating Fast leader can fork the chain (two Fast quorums
    /// share one validator), and two equivocators collude: the one that is not leader
    /// acks each of the leader's blocks to the side that got it.
    Equivocator,
    /// Fast mode: acks only to one peer (a commit only that peer sees), then every
    /// promise claims an ack it never signed, of a block it made up.
    LyingPromises,
    /// Signs acks, votes and promises for the largest and far-future views and rounds.
    ViewFlood,
    /// Sends again messages it heard earlier.
    Replayer,
    /// As proposer, re-includes transactions that were already committed (or failed).
    TxReplayer,
}

/// Byzantine behaviours a seed may draw, by mode (and network size).
fn behaviours(mode: ConsensusMode) -> Vec<Byzantine> {
    use Byzantine::*;
    match mode {
        ConsensusMode::Fast => vec![LyingLeader, Equivocator, LyingPromises, ViewFlood, Replayer, TxReplayer],
        ConsensusMode::Bft => vec![Equivocator, ViewFlood, Replayer, TxReplayer],
    }
}

/// Byzantine validators a network of `nodes` may have: two only from 7 on (Bft
/// tolerates two of 7; Fast mode forks beyond one, and must then trace the fork).
pub fn byzantine_max(nodes: usize) -> usize {
    if nodes >= 7 {
        2
    } else {
        1
    }
}

/// Most items (votes, promises, blocks, queued messages) an honest node may hold for a
/// height under any adversary: far below what a flood of views would leave without the
/// consensus window.
pub const RETAINED_PER_VALIDATOR_MAX: usize = 16 * vigil_core::consensus::fast::VIEW_WINDOW_MAX as usize;
/// Transactions the adversarial client remembers to replay.
const HISTORY_MAX: usize = 256;
/// How often the adversarial client acts.
const ADVERSARY_TX_INTERVAL_MS: u64 = 120;

/// The randomly chosen scenario of one seed.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub seed: u64,
    pub nodes: usize,
    pub mode: ConsensusMode,
    /// The Byzantine validators (node index, behaviour): none, one, or two.
    pub byzantine: Vec<(usize, Byzantine)>,
    pub drop_p: f64,
    pub duplicate_p: f64,
    pub delay_max_ms: u64,
    pub long_delay_p: f64,
    pub partitions: Vec<(u64, u64, BTreeSet<usize>)>,
    pub crashes: Vec<(u64, u64, usize)>,
    /// Disk faults: from `at` on, the node's next write fails, or lands and the node
    /// crashes before sending what depended on it; it is back at `back`.
    pub write_faults: Vec<(u64, u64, usize, WriteFault)>,
    /// Wipes: at `at` the node loses its whole disk; at `back` it starts recovering.
    pub wipes: Vec<(u64, u64, usize)>,
}

/// A fault of a node's disk, armed until its next write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFault {
    /// The write does not become durable: the node stops.
    Fails,
    /// The write is durable, then the process dies before the messages that depended
    /// on it leave: what a restart must handle without signing anything twice.
    CrashAfter,
}

impl std::fmt::Display for WriteFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WriteFault::Fails => "the simulated disk refused the write",
            WriteFault::CrashAfter => "the node crashed right after the write",
        })
    }
}

/// Which faults a run actually exercised (counted across seeds by the CLI).
#[derive(Debug, Default, Clone, Copy)]
pub struct FaultCounts {
    pub dropped: u64,
    pub delayed_long: u64,
    pub duplicated: u64,
    pub partitioned: u64,
    pub crashes: u64,
    pub restarts: u64,
    /// Writes that failed, and writes after which the node crashed before sending.
    pub failed_writes: u64,
    pub crashes_after_write: u64,
    /// Sync answers a node read from its disk (blocks older than those in memory).
    pub served_from_disk: u64,
    pub lies: u64,
    pub equivocations: u64,
    pub mode_switches: u64,
    pub jailed: u64,
    pub promise_lies: u64,
    pub withheld_acks: u64,
    pub view_floods: u64,
    pub replays: u64,
    pub reinclusions: u64,
    /// The adversarial client: transactions replayed, free ones from unfunded accounts,
    /// and ones that fail (overspending) sent to different nodes at once.
    pub client_replays: u64,
    pub free_txs: u64,
    pub failing_txs: u64,
    /// Two Byzantine validators in one run.
    pub two_byzantine: u64,
    /// Heights at which honest nodes committed different blocks (possible only beyond
    /// Fast mode's bound), and those an honest node traced to their validators.
    pub forks: u64,
    pub forks_traced: u64,
    /// Headers forged with the keys of a retired set and offered to the light client.
    pub light_forged: u64,
    /// Headers the light client took from the malicious gateway; refused because a
    /// set no longer in force certified them, because their mode went back to Fast,
    /// or for another reason (a set not followed yet).
    pub light_accepted: u64,
    pub light_retired_set: u64,
    pub light_mode_regression: u64,
    pub light_refused: u64,
    /// Stable checkpoints settled at honest nodes.
    pub checkpoints_stable: u64,
    /// Validators that lost their disk, restored from a checkpoint's snapshot, and
    /// restores that found no peer to serve it.
    pub wipes: u64,
    pub restores: u64,
    pub restores_failed: u64,
    /// Answers to a recovering node a Byzantine validator lied in.
    pub recovery_lies: u64,
}

/// Result of one seed.
#[derive(Debug)]
pub struct Outcome {
    pub scenario: Scenario,
    pub violations: Vec<String>,
    pub blocks_committed: u64,
    pub faults: FaultCounts,
    /// The last events before the end (or the violation), with their virtual time.
    pub trace: Vec<(u64, TraceEvent)>,
}

#[allow(clippy::large_enum_variant)] // see `consensus::Message`
#[derive(Debug)]
enum Event {
    Deliver {
        to: usize,
        from: usize,
        message: Message,
    },
    Timer {
        node: usize,
        incarnation: u32,
        timer: Timer,
    },
    ClientTx {
        client: usize,
    },
    AdversaryTx,
    LightSync,
    Crash(usize),
    Restart(usize),
    Wipe(usize),
    /// The snapshot a recovering node asked for, fetched and rebuilt (or not).
    Restored {
        node: usize,
        incarnation: u32,
        ledger: Option<Box<Ledger>>,
    },
    ArmWriteFault(usize, WriteFault),
    /// A checkpoint digest the node asked for, computed (its "thread" took a while).
    CheckpointComputed {
        node: usize,
        incarnation: u32,
        digest: Box<vigil_protocol::CheckpointDigest>,
    },
}

struct Scheduled {
    at_ms: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at_ms, self.seq) == (o.at_ms, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        // BinaryHeap is a max-heap: earliest first, then insertion order.
        (o.at_ms, o.seq).cmp(&(self.at_ms, self.seq))
    }
}

/// What a node wrote to its (simulated) disk.
#[derive(Default, Clone)]
struct Disk {
    blocks: Vec<CommittedBlock>,
    safety: Option<SafetyState>,
    /// The state stored with each block, as the node's database keeps it.
    state: Vec<StateCommit>,
    /// Wiped and not restored yet: the node starts by recovering (what the node
    /// process learns from its operator).
    needs_recovery: bool,
    /// Restored from a checkpoint: the state there (the blocks above follow).
    base: Option<recovery::Base>,
}

impl Disk {
    /// The ledger as a real node reads it back: the state tree rebuilt from its stored
    /// records (genesis, then every committed version) and the last stored metadata.
    fn ledger(&self, genesis: &Genesis) -> Ledger {
        let (genesis_meta, mut records) = match &self.base {
            Some(base) => (base.meta.clone(), base.records.clone()),
            None => {
                Ledger::genesis(genesis).unwrap_or_else(|e| unreachable!("the sim's genesis is valid: {e}")).snapshot()
            }
        };
        for commit in &self.state {
            records.values.extend(commit.version.records().values);
        }
        let meta = self.state.last().map_or(genesis_meta, |c| c.meta.clone());
        StateTree::restore(meta.height.0, records.values)
            .map_err(LedgerError::from)
            .and_then(|tree| Ledger::restore(genesis, meta, tree))
            .unwrap_or_else(|e| unreachable!("a node reads back the state it stored: {e}"))
    }

    /// The certified set changes a node reads back from its disk: those of its base,
    /// then each later set with the stored block that committed it.
    fn set_changes(&self, ledger: &Ledger) -> Vec<vigil_protocol::SetChange> {
        let mut changes = self.base.as_ref().map(|b| b.set_changes.clone()).unwrap_or_default();
        for (from, next) in ledger.set_history().iter().skip(1 + changes.len()) {
            let at = Height(from.0.saturating_sub(1));
            let Some(cb) = self.blocks.iter().rev().find(|cb| cb.block.header.height == at) else {
                break;
            };
            changes.push(vigil_protocol::SetChange { certified: cb.certified_header(), next: next.clone() });
        }
        changes
    }
}

struct SimNode {
    key: SecretKey,
    id: NodeId,
    node: Option<consensus::Node>,
    disk: Disk,
    incarnation: u32,
    /// Committed tx hashes reported before the last crash.
    committed_txs: BTreeSet<TxHash>,
    /// What the next write does, if a fault is armed.
    write_fault: Option<WriteFault>,
    /// The snapshot chunks of its newest checkpoint heights, which it serves.
    snapshots: BTreeMap<Height, vigil_protocol::ChunkedSnapshot>,
}

struct Client {
    key: SecretKey,
    nonce: u64,
}

pub(crate) struct World {
    sc: Scenario,
    rng: ChaCha8Rng,
    now_ms: u64,
    seq: u64,
    queue: BinaryHeap<Scheduled>,
    nodes: Vec<SimNode>,
    clients: Vec<Client>,
    genesis: Genesis,
    chain: BTreeMap<Height, BlockHash>,
    violations: Vec<String>,
    faults: FaultCounts,
    trace: trace::Trace,
    /// The lying leaders that lied once the network had healed (a lie told during the
    /// partition may reach no honest node, so it need not be caught).
    lied_after_heal: BTreeSet<usize>,
    /// What the replaying Byzantine validator heard.
    replay: Vec<Message>,
    /// Transactions seen committed, for the adversaries that re-send them.
    history: Vec<SignedTransaction>,
    /// Where each honest node committed each transaction: one place only.
    positions: Vec<BTreeMap<TxHash, (Height, u32)>>,
    /// The lowest height at which honest nodes committed different blocks, and when.
    fork: Option<(Height, u64)>,
    /// Heights at which an honest node proved a fork and named its validators.
    forks_traced: BTreeSet<Height>,
    /// The Fast leader equivocations of the Byzantine coalition, for its other members.
    coalition: BTreeMap<(Height, vigil_protocol::View), byzantine::Equivocation>,
    /// The adversarial client's poor account (little balance) and its next nonce.
    poor: (SecretKey, u64),
    /// A wallet's light client, fed by a malicious gateway.
    light: light::LightFollower,
    /// Every vote slot honest validators signed, across crashes and wipes.
    signed: recovery::SignedSlots,
    /// The last client submission's ticket.
    tickets: u64,
}

impl Scenario {
    /// Draws a scenario from the seed: everything about a run follows from it.
    pub fn from_seed(seed: u64, nodes: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_5eed);
        let mode = if rng.gen_bool(0.65) { ConsensusMode::Fast } else { ConsensusMode::Bft };
        let kinds = behaviours(mode);
        let first = rng.gen_bool(0.6).then(|| {
            match kinds[rng.gen_range(0..kinds.len())] {
                // The view-0 leader lies, so the lie happens while faults are going on.
                Byzantine::LyingLeader => (0, Byzantine::LyingLeader),
                // On 7, the view-0 leader equivocates: where Fast mode can fork.
                kind => match rng.gen_range(0..nodes) {
                    _ if kind == Byzantine::Equivocator && mode == ConsensusMode::Fast && nodes >= 7 => (0, kind),
                    index => (index, kind),
                },
            }
        });
        let mut byzantine: Vec<(usize, Byzantine)> = first.into_iter().collect();
        let calm = rng.gen_bool(0.15);
        let drop_p = if calm { 0.0 } else { rng.gen_range(0.0..0.12) };
        let duplicate_p = if calm { 0.0 } else { rng.gen_range(0.0..0.05) };
        let mut partitions = Vec::new();
        for _ in 0..if calm { 0 } else { rng.gen_range(0..3) } {
            let start = rng.gen_range(0..FAULT_PHASE_MS);
            let end = (start + rng.gen_range(200..2_000)).min(FAULT_PHASE_MS);
            let side: BTreeSet<usize> = (0..nodes).filter(|_| rng.gen_bool(0.5)).collect();
            partitions.push((start, end, side));
        }
        let mut crashes = Vec::new();
        for _ in 0..if calm { 0 } else { rng.gen_range(0..3) } {
            let node = rng.gen_range(0..nodes);
            if byzantine.iter().any(|(b, _)| *b == node) {
                continue;
            }
            let at = rng.gen_range(0..FAULT_PHASE_MS);
            let back = (at + rng.gen_range(100..2_500)).min(FAULT_PHASE_MS);
            crashes.push((at, back, node));
        }
        // A second Byzantine validator (drawn last, so smaller networks' seeds keep
        // their scenarios): half the time the same behaviour as the first, colluding.
        if let Some((b, kind)) = byzantine.first().copied().filter(|_| byzantine_max(nodes) > 1 && rng.gen_bool(0.5)) {
            let second = if rng.gen_bool(0.5) { kind } else { kinds[rng.gen_range(0..kinds.len())] };
            let index = (b + rng.gen_range(1..nodes)) % nodes;
            byzantine.push((index, second));
            crashes.retain(|(_, _, node)| *node != index);
        }
        // Drawn after everything else, so that earlier draws keep their scenarios.
        let mut write_faults = Vec::new();
        for _ in 0..if calm { 0 } else { rng.gen_range(0..3) } {
            let node = rng.gen_range(0..nodes);
            let kind = if rng.gen_bool(0.5) { WriteFault::Fails } else { WriteFault::CrashAfter };
            let at = rng.gen_range(0..FAULT_PHASE_MS);
            let back = (at + rng.gen_range(100..2_500)).min(FAULT_PHASE_MS);
            if byzantine.iter().all(|(b, _)| *b != node) {
                write_faults.push((at, back, node, kind));
            }
        }
        // Drawn last of all, for the same reason.
        let wipes = recovery::draw_wipes(&mut rng, nodes, calm, &byzantine);
        Self {
            seed,
            nodes,
            mode,
            byzantine,
            drop_p,
            duplicate_p,
            delay_max_ms: rng.gen_range(5..80),
            long_delay_p: if calm { 0.0 } else { rng.gen_range(0.0..0.03) },
            partitions,
            crashes,
            write_faults,
            wipes,
        }
    }
}

fn seed_key(seed: u64, purpose: u8, index: usize) -> SecretKey {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8] = purpose;
    s[9..17].copy_from_slice(&(index as u64).to_le_bytes());
    SecretKey::from_seed(s)
}

/// Sim timeouts: short blocks of virtual time keep a seed cheap.
pub fn sim_timeouts() -> Timeouts {
    Timeouts {
        propose_delay_ms: 50,
        fast_view_ms: 500,
        bft_propose_ms: 300,
        bft_vote_ms: 150,
        bft_round_increment_ms: 50,
        sync_retry_ms: 200,
        empty_block_interval_ms: 0,
    }
}

/// Runs one seed to the end.
pub fn run(sc: Scenario) -> Outcome {
    let mut world = World::new(sc);
    world.run();
    world.finish()
}

impl World {
    fn new(sc: Scenario) -> Self {
        let keys: Vec<SecretKey> = (0..sc.nodes).map(|i| seed_key(sc.seed, 1, i)).collect();
        let validators = ValidatorSet::new(
            keys.iter()
                .enumerate()
                .map(|(i, k)| {
                    ValidatorInfo::new(
                        format!("node-{i}"),
                        k.public_key(),
                        EncryptionKey([i as u8; 32]),
                        P2pKey([0x80 | i as u8; 32]),
                    )
                })
                .collect(),
        )
        .unwrap_or_else(|e| unreachable!("simulated validator set is valid: {e}"));
        // Node i is the validator at index i of the canonical order, so "node 0" is the
        // view-0 leader.
        let mut nodes: Vec<SimNode> = validators
            .validators()
            .iter()
            .map(|v| {
                let key = keys
                    .iter()
                    .find(|k| NodeId::from_public_key(&k.public_key()) == v.id)
                    .cloned()
                    .unwrap_or_else(|| unreachable!("every validator has a key"));
                SimNode {
                    id: v.id,
                    key,
                    node: None,
                    disk: Disk::default(),
                    incarnation: 0,
                    committed_txs: BTreeSet::new(),
                    write_fault: None,
                    snapshots: BTreeMap::new(),
                }
            })
            .collect();
        let clients: Vec<Client> = (0..CLIENTS).map(|i| Client { key: seed_key(sc.seed, 2, i), nonce: 0 }).collect();
        let mut accounts: Vec<(Address, Amount)> =
            clients.iter().map(|c| (Address::from_public_key(&c.key.public_key()), Amount(1_000_000))).collect();
        let poor = seed_key(sc.seed, 3, 0);
        accounts.push((Address::from_public_key(&poor.public_key()), Amount(50)));
        accounts.sort();
        let genesis = Genesis {
            chain_id: ChainId::new("vigil-sim").unwrap_or_else(|e| unreachable!("{e}")),
            validators,
            accounts,
            mode: sc.mode,
            time_ms: 0,
            vault: Default::default(),
            // Small chunks, so a restore checks several.
            checkpoints: vigil_protocol::CheckpointConfig { interval: SIM_CHECKPOINT_INTERVAL, chunk_bytes: 256 },
            authcenters: None,
            audit: Default::default(),
        };
        for n in &mut nodes {
            n.node = Some(Self::boot(&genesis, n));
        }
        let rng = ChaCha8Rng::seed_from_u64(sc.seed);
        let sc_nodes = sc.nodes;
        let light = light::LightFollower::new(&genesis);
        let mut world = Self {
            sc,
            rng,
            now_ms: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            clients,
            genesis,
            chain: BTreeMap::new(),
            violations: Vec::new(),
            faults: FaultCounts::default(),
            trace: trace::Trace::default(),
            lied_after_heal: BTreeSet::new(),
            replay: Vec::new(),
            history: Vec::new(),
            positions: vec![BTreeMap::new(); sc_nodes],
            poor: (poor, 0),
            fork: None,
            forks_traced: BTreeSet::new(),
            coalition: BTreeMap::new(),
            light,
            tickets: 0,
            signed: recovery::SignedSlots::default(),
        };
        world.faults.two_byzantine = u64::from(world.sc.byzantine.len() > 1);
        for (at, back, node) in world.sc.crashes.clone() {
            world.schedule(at, Event::Crash(node));
            world.schedule(back, Event::Restart(node));
        }
        for (at, back, node, kind) in world.sc.write_faults.clone() {
            world.schedule(at, Event::ArmWriteFault(node, kind));
            world.schedule(back, Event::Restart(node));
        }
        for (at, back, node) in world.sc.wipes.clone() {
            world.schedule(at, Event::Wipe(node));
            world.schedule(back, Event::Restart(node));
        }
        for c in 0..CLIENTS {
            let at = world.rng.gen_range(0..CLIENT_TX_INTERVAL_MS * CLIENTS as u64);
            world.schedule(at, Event::ClientTx { client: c });
        }
        let at = world.rng.gen_range(0..ADVERSARY_TX_INTERVAL_MS);
        world.schedule(at, Event::AdversaryTx);
        let at = world.rng.gen_range(0..light::LIGHT_SYNC_INTERVAL_MS);
        world.schedule(at, Event::LightSync);
        for i in 0..world.nodes.len() {
            world.input(i, Input::Start);
        }
        world
    }

    fn boot(genesis: &Genesis, n: &SimNode) -> consensus::Node {
        let mut cfg = consensus::Config::new(n.key.clone());
        cfg.timeouts = sim_timeouts();
        // Small, so that nodes coming back after a crash are served from disk.
        cfg.blocks_in_memory = SIM_BLOCKS_IN_MEMORY;
        if n.disk.needs_recovery {
            let nonce = u64::from(n.incarnation) + 1;
            return consensus::Node::recovering(cfg, genesis, nonce)
                .unwrap_or_else(|e| unreachable!("the sim's genesis is valid: {e}"));
        }
        let ledger = n.disk.ledger(genesis);
        let set_changes = n.disk.set_changes(&ledger);
        consensus::Node::restore(cfg, genesis, n.disk.blocks.clone(), n.disk.safety.clone(), Some(ledger))
            .unwrap_or_else(|e| unreachable!("a node restores from its own disk: {e}"))
            .with_set_changes(set_changes)
    }

    fn schedule(&mut self, at_ms: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Scheduled { at_ms, seq: self.seq, event });
    }

    fn healed(&self) -> bool {
        self.now_ms >= FAULT_PHASE_MS
    }

    fn is_honest(&self, i: usize) -> bool {
        !self.sc.byzantine.iter().any(|(b, _)| *b == i)
    }

    /// Whether two Fast quorums can share only Byzantine validators here, so that a
    /// fork is possible (and must then be traced): 1 or 2 Byzantine of 7, never 1 of 4.
    fn fast_fork_possible(&self) -> bool {
        let set = &self.genesis.validators;
        let overlap = set.fast_overlap_power();
        let byzantine_power: u64 =
            self.sc.byzantine.iter().filter_map(|(b, _)| set.by_index(*b)).map(|v| v.power).sum();
        byzantine_power >= overlap
    }

    fn partitioned(&self, a: usize, b: usize) -> bool {
        self.sc
            .partitions
            .iter()
            .any(|(start, end, side)| (*start..*end).contains(&self.now_ms) && side.contains(&a) != side.contains(&b))
    }

    fn index_of(&self, id: &NodeId) -> Option<usize> {
        self.nodes.iter().position(|n| &n.id == id)
    }

    fn run(&mut self) {
        let wiped = if self.sc.wipes.is_empty() { 0 } else { HEALED_PHASE_AFTER_WIPE_MS };
        let end = FAULT_PHASE_MS + HEALED_PHASE_MS + wiped;
        let mut heal_height = None;
        while let Some(s) = self.queue.pop() {
            if s.at_ms > end || self.violations.len() >= VIOLATIONS_MAX {
                break;
            }
            if heal_height.is_none() && s.at_ms >= FAULT_PHASE_MS {
                heal_height = Some(self.max_honest_height());
                self.heal();
            }
            self.now_ms = s.at_ms;
            self.handle(s.event);
        }
        self.check_liveness(heal_height.unwrap_or(0));
    }

    /// At the heal: every crashed node comes back.
    fn heal(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].node.is_none() {
                self.schedule(FAULT_PHASE_MS, Event::Restart(i));
            }
        }
    }

    fn max_honest_height(&self) -> u64 {
        (0..self.nodes.len())
            .filter(|i| self.is_honest(*i))
            .filter_map(|i| self.nodes[i].node.as_ref().map(|n| n.ledger().height().0))
            .max()
            .unwrap_or(0)
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Deliver { to, from, message } => {
                if self.nodes[to].node.is_none() {
                    return;
                }
                self.trace.push(self.now_ms, TraceEvent::deliver(to, from, &message));
                if !self.is_honest(to) {
                    self.byzantine_heard(to, &message);
                }
                let from_id = self.nodes[from].id;
                self.input(to, Input::Message { from: from_id, message, verified: Verified::none() });
            }
            Event::Timer { node, incarnation, timer } if self.is_up(node, incarnation) => {
                self.trace.push(self.now_ms, TraceEvent::Timer { node, timer });
                self.input(node, Input::Timeout(timer));
            }
            Event::Timer { .. } => {}
            Event::ClientTx { client } => {
                let tx = self.client_tx(client);
                let node = self.rng.gen_range(0..self.nodes.len());
                self.trace.push(self.now_ms, TraceEvent::ClientTx { node, client });
                if self.nodes[node].node.is_some() {
                    self.submit(node, tx);
                } else {
                    // The client retries its next transaction elsewhere; this nonce is lost,
                    // so rewind it.
                    self.clients[client].nonce -= 1;
                }
                let next = self.now_ms + self.rng.gen_range(1..CLIENT_TX_INTERVAL_MS * CLIENTS as u64);
                self.schedule(next, Event::ClientTx { client });
            }
            Event::AdversaryTx => {
                self.adversary_tx();
                let next = self.now_ms + self.rng.gen_range(1..2 * ADVERSARY_TX_INTERVAL_MS);
                self.schedule(next, Event::AdversaryTx);
            }
            Event::LightSync => {
                self.light_sync();
                self.schedule(self.now_ms + light::LIGHT_SYNC_INTERVAL_MS, Event::LightSync);
            }
            Event::Crash(i) => {
                if self.nodes[i].node.take().is_some() {
                    self.faults.crashes += 1;
                    self.trace.push(self.now_ms, TraceEvent::Crash(i));
                }
            }
            Event::ArmWriteFault(i, kind) => self.nodes[i].write_fault = Some(kind),
            Event::Wipe(i) => self.wipe(i),
            Event::Restored { node, incarnation, ledger } => {
                if self.is_up(node, incarnation) {
                    self.restored(node, ledger);
                }
            }
            Event::CheckpointComputed { node, incarnation, digest } => {
                if self.is_up(node, incarnation) {
                    self.input(node, Input::CheckpointComputed(digest));
                }
            }
            Event::Restart(i) => self.restart(i),
        }
    }

    /// A crashed (or wiped) node comes back from what its disk holds.
    fn restart(&mut self, i: usize) {
        self.nodes[i].write_fault = None;
        if self.nodes[i].node.is_some() {
            return;
        }
        self.faults.restarts += 1;
        self.trace.push(self.now_ms, TraceEvent::Restart(i));
        let n = &self.nodes[i];
        let node = Self::boot(&self.genesis, n);
        // Durability: nothing reported committed before the crash is missing now,
        // and the node resumes at the height its disk holds.
        let restored: BTreeSet<TxHash> =
            n.disk.blocks.iter().flat_map(|cb| cb.block.txs.iter().map(|t| t.hash())).collect();
        let on_disk = n.disk.blocks.last().map(|cb| cb.block.header.height);
        if let Some(lost) = n.committed_txs.iter().find(|h| !restored.contains(h)) {
            self.violate(format!("node {i} lost committed transaction {lost} across a restart"));
        }
        if node.last_committed().map(|cb| cb.block.header.height) != on_disk {
            self.violate(format!("node {i} did not resume at the height on its disk ({on_disk:?})"));
        }
        self.nodes[i].incarnation += 1;
        self.nodes[i].node = Some(node);
        self.input(i, Input::Start);
    }

    fn client_tx(&mut self, client: usize) -> SignedTransaction {
        let c = &mut self.clients[client];
        let to = Address([client as u8; 20]);
        let tx = Transaction {
            chain_id: self.genesis.chain_id.clone(),
            sender: c.key.public_key(),
            nonce: Nonce(c.nonce),
            fee: Amount(1),
            payload: Payload::Transfer(Transfer { to, amount: Amount(1) }),
        }
        .sign(&c.key);
        c.nonce += 1;
        tx
    }

    /// Whether node `i` runs and is still the incarnation an event was meant for.
    fn is_up(&self, i: usize, incarnation: u32) -> bool {
        self.nodes[i].node.is_some() && self.nodes[i].incarnation == incarnation
    }

    fn input(&mut self, i: usize, input: Input) {
        let Some(node) = self.nodes[i].node.as_mut() else {
            return;
        };
        let ready = node.step(self.now_ms, input);
        let (retained, checkpoint_votes) = (node.retained(), node.checkpoint_votes_held());
        let recovered = !node.is_recovering();
        let bound = RETAINED_PER_VALIDATOR_MAX * self.nodes.len();
        let checkpoint_bound = CHECKPOINT_HEIGHTS_HELD_MAX * self.nodes.len();
        if self.is_honest(i) && retained > bound {
            self.violate(format!("node {i} holds {retained} votes and messages for one height (bound {bound})"));
        }
        if self.is_honest(i) && checkpoint_votes > checkpoint_bound {
            self.violate(format!("node {i} holds {checkpoint_votes} checkpoint votes (bound {checkpoint_bound})"));
        }
        let recovered = recovered && self.nodes[i].disk.needs_recovery;
        // The node process's own carry-out, over this simulated disk and network.
        let carried = carry_out(&mut SimEnv { world: self, node: i }, ready);
        if recovered && carried.is_ok() {
            // It joined (from genesis, with no checkpoint anywhere yet, or from the one
            // restored, whose base `restored` writes).
            self.nodes[i].disk.needs_recovery = false;
        }
        match carried {
            Ok(()) => {}
            Err(Stop::Fatal(reason)) => self.violate(format!("node {i} stopped on an impossible state: {reason}")),
            Err(Stop::WriteFailed(fault)) => {
                // The process is gone; its disk holds what the write left there.
                self.nodes[i].node = None;
                self.trace.push(self.now_ms, TraceEvent::Crash(i));
                match fault {
                    WriteFault::Fails => self.faults.failed_writes += 1,
                    WriteFault::CrashAfter => self.faults.crashes_after_write += 1,
                }
            }
        }
    }

    /// A client's transaction, through the node's one way in (signature unchecked).
    fn submit(&mut self, node: usize, tx: SignedTransaction) {
        self.tickets += 1;
        self.input(node, Input::Submit { ticket: self.tickets, tx: Box::new(tx), verified: false });
    }

    /// The adversarial client: replays a transaction already committed, sends a free
    /// one from an account that never had funds, or two transactions from a poor
    /// account to two nodes at once, which together overspend.
    fn adversary_tx(&mut self) {
        let node = self.rng.gen_range(0..self.nodes.len());
        let chain_id = self.genesis.chain_id.clone();
        let txs = match self.rng.gen_range(0..3) {
            0 if !self.history.is_empty() => {
                self.faults.client_replays += 1;
                vec![self.history[self.rng.gen_range(0..self.history.len())].clone()]
            }
            1 => {
                self.faults.free_txs += 1;
                let key = seed_key(self.sc.seed, 4, self.rng.gen_range(0..1_000));
                let tx = Transaction {
                    chain_id,
                    sender: key.public_key(),
                    nonce: Nonce(0),
                    fee: Amount(0),
                    payload: Payload::Transfer(Transfer { to: Address([9; 20]), amount: Amount(0) }),
                };
                vec![tx.sign(&key)]
            }
            _ => {
                self.faults.failing_txs += 1;
                let (key, nonce) = self.poor.clone();
                let spend = |n: u64| {
                    Transaction {
                        chain_id: chain_id.clone(),
                        sender: key.public_key(),
                        nonce: Nonce(n),
                        fee: Amount(1),
                        payload: Payload::Transfer(Transfer { to: Address([8; 20]), amount: Amount(30) }),
                    }
                    .sign(&key)
                };
                self.poor.1 += 2;
                let other = (node + 1) % self.nodes.len();
                self.submit(other, spend(nonce + 1));
                vec![spend(nonce)]
            }
        };
        for tx in txs {
            self.submit(node, tx);
        }
    }

    fn send(&mut self, from: usize, to: usize, message: Message) {
        if self.is_honest(from) {
            if let Err(twice) = self.signed.check(self.nodes[from].id, &message) {
                self.violate(twice);
            }
        }
        if !self.healed() {
            if self.partitioned(from, to) {
                self.faults.partitioned += 1;
                return;
            }
            if self.rng.gen_bool(self.sc.drop_p) {
                self.faults.dropped += 1;
                return;
            }
        }
        let mut delay = self.rng.gen_range(1..=self.sc.delay_max_ms);
        if !self.healed() && self.rng.gen_bool(self.sc.long_delay_p) {
            self.faults.delayed_long += 1;
            delay += self.rng.gen_range(200..1_000);
        }
        if !self.healed() && self.rng.gen_bool(self.sc.duplicate_p) {
            self.faults.duplicated += 1;
            let again = delay + self.rng.gen_range(1..=self.sc.delay_max_ms);
            self.schedule(self.now_ms + again, Event::Deliver { to, from, message: message.clone() });
        }
        self.schedule(self.now_ms + delay, Event::Deliver { to, from, message });
    }

    /// An honest node settled a stable checkpoint: while the chain has not forked at or
    /// below its height, it is of the chain's block there, this node computed the same,
    /// and it names no honest validator as diverging.
    fn on_checkpoint(
        &mut self,
        i: usize,
        digest: &vigil_protocol::CheckpointDigest,
        diverging: &[NodeId],
        mine_differs: bool,
    ) {
        if !self.is_honest(i) || self.fork.is_some_and(|(h, _)| h <= digest.height) {
            return;
        }
        self.faults.checkpoints_stable += 1;
        let height = digest.height;
        if self.chain.get(&height).is_some_and(|hash| *hash != digest.block_hash) {
            self.violate(format!("node {i} settled a checkpoint at height {height} of another block"));
        }
        if mine_differs {
            self.violate(format!("honest node {i} computed another digest than the stable one at height {height}"));
        }
        if let Some(j) = diverging.iter().filter_map(|d| self.index_of(d)).find(|j| self.is_honest(*j)) {
            self.violate(format!("node {i} named honest validator {j} as diverging at checkpoint {height}"));
        }
    }

    fn on_commit(&mut self, i: usize, cb: CommittedBlock) {
        let height = cb.block.header.height;
        let hash = cb.block.header.hash();
        self.trace.push(self.now_ms, TraceEvent::Commit { node: i, height, hash, mode: cb.block.header.mode });
        let Some(node) = self.nodes[i].node.as_ref() else {
            return;
        };
        let mode_before = cb.block.header.mode;
        let set = node.ledger().validators_at(height).clone();
        let mode_after = node.ledger().mode();
        let jailed = node.ledger().consensus_state().jailed.len();
        self.light.saw(cb.certified_header());
        if !self.is_honest(i) {
            return;
        }
        self.nodes[i].committed_txs.extend(cb.block.txs.iter().map(|t| t.hash()));
        self.record_positions(i, &cb);
        // No honest validator is ever jailed.
        if let Some(node) = self.nodes[i].node.as_ref() {
            let jailed: Vec<NodeId> = node.ledger().consensus_state().jailed.clone();
            for id in jailed {
                if let Some(j) = self.index_of(&id).filter(|j| self.is_honest(*j)) {
                    self.violate(format!("honest validator {j} was jailed (seen by node {i} at height {height})"));
                }
            }
        }
        // Agreement: one block per height across all honest nodes — unless Byzantine
        // validators fill the overlap of two Fast quorums, and then the fork must be
        // traced to them (checked at the end).
        match self.chain.get(&height) {
            Some(existing) if *existing != hash => {
                if mode_before == ConsensusMode::Fast && self.fast_fork_possible() {
                    if self.fork.is_none_or(|(h, _)| height < h) {
                        self.fork = Some((height, self.now_ms));
                    }
                } else {
                    self.violate(format!(
                        "fork at height {height}: node {i} committed {hash}, another honest node {existing}"
                    ));
                }
            }
            Some(_) => {}
            None => {
                self.chain.insert(height, hash);
                if mode_before == ConsensusMode::Fast && mode_after == ConsensusMode::Bft {
                    self.faults.mode_switches += 1;
                }
                self.faults.jailed = self.faults.jailed.max(jailed as u64);
            }
        }
        // Every committed block carries a valid certificate of its mode.
        if let Err(e) = (CertifiedHeader { header: cb.block.header.clone(), cert: cb.cert }).verify(&set) {
            self.violate(format!("node {i} committed block {height} with an invalid certificate: {e}"));
        }
    }

    /// Remembers where node `i` committed each transaction (one place only, or a replay
    /// got through), and keeps some for the adversaries to send again.
    fn record_positions(&mut self, i: usize, cb: &CommittedBlock) {
        let height = cb.block.header.height;
        for (index, tx) in cb.block.txs.iter().enumerate() {
            let hash = tx.hash();
            let at = (height, index as u32);
            match self.positions[i].insert(hash, at) {
                Some(before) if before != at => {
                    self.violate(format!("node {i} committed transaction {hash} twice: at {before:?} and at {at:?}"))
                }
                _ => {}
            }
            if self.history.len() < HISTORY_MAX {
                self.history.push(tx.clone());
            } else {
                let k = self.rng.gen_range(0..HISTORY_MAX);
                self.history[k] = tx.clone();
            }
        }
    }

    fn violate(&mut self, what: String) {
        self.trace.push(self.now_ms, TraceEvent::Violation(what.clone()));
        self.violations.push(format!("t={}ms {what}", self.now_ms));
    }

    fn check_liveness(&mut self, heal_height: u64) {
        self.light_check_chain();
        for i in 0..self.nodes.len() {
            let line = self.nodes[i].node.as_ref().map_or("crashed".to_string(), |n| n.describe());
            self.trace.push(self.now_ms, TraceEvent::State { node: i, line });
        }
        if let Some((height, at_ms)) = self.fork {
            // A fork beyond the bound: no liveness is owed, but the fork must be traced
            // to the validators that caused it (all Byzantine: checked as it happens),
            // unless it happened too close to the end for the two sides to meet.
            self.faults.forks += 1;
            if self.forks_traced.contains(&height) {
                self.faults.forks_traced += 1;
            } else if self.now_ms.saturating_sub(at_ms) >= FORK_TRACE_MS {
                self.violate(format!(
                    "fork at height {height} (t={at_ms}ms) was not traced to a Byzantine validator by any honest node"
                ));
            }
            return;
        }
        let target = heal_height + PROGRESS_AFTER_HEAL_BLOCKS;
        for i in 0..self.nodes.len() {
            if !self.is_honest(i) {
                continue;
            }
            let h = self.nodes[i].node.as_ref().map(|n| n.ledger().height().0).unwrap_or(0);
            if h < target {
                self.violate(format!(
                    "liveness: honest node {i} is at height {h}, expected at least {target} after the network healed"
                ));
            }
        }
        for (b, _) in self.sc.byzantine.clone().into_iter().filter(|(_, k)| *k == Byzantine::LyingLeader) {
            if self.lied_after_heal.contains(&b) {
                let liar = self.nodes[b].id;
                let honest: Vec<usize> = (0..self.nodes.len()).filter(|i| self.is_honest(*i)).collect();
                for i in honest {
                    let jailed = self.nodes[i].node.as_ref().is_some_and(|n| {
                        n.ledger().consensus_state().jailed.contains(&liar) && n.ledger().mode() == ConsensusMode::Bft
                    });
                    if !jailed {
                        self.violate(format!("node {i} did not both jail lying leader {b} and switch to Bft"));
                    }
                }
            }
        }
    }

    fn finish(self) -> Outcome {
        Outcome {
            blocks_committed: self.chain.len() as u64,
            scenario: self.sc,
            violations: self.violations,
            faults: self.faults,
            trace: self.trace.into_events(),
        }
    }
}

#[cfg(test)]
mod tests;

/// The simulated world as a node's [`Env`]: its disk (which a fault can fail, or crash
/// the node right after), the faulty network, virtual-time timers — and the checks
/// that nothing an honest node did is wrong.
struct SimEnv<'a> {
    world: &'a mut World,
    node: usize,
}

impl Env for SimEnv<'_> {
    type WriteError = WriteFault;

    fn send(&mut self, to: &NodeId, message: &Message) {
        let Some(to) = self.world.index_of(to) else { return };
        let mut message = message.clone();
        if let Message::RecoveryAnswer(answer) = &mut message {
            if !self.world.is_honest(self.node) {
                self.world.lie_in_recovery(answer);
            }
        }
        self.world.send(self.node, to, message);
    }

    fn broadcast(&mut self, message: &Message) {
        let (w, i) = (&mut *self.world, self.node);
        if !w.is_honest(i) {
            w.byzantine_broadcast(i, message.clone());
            return;
        }
        for to in (0..w.nodes.len()).filter(|to| *to != i) {
            w.send(i, to, message.clone());
        }
    }

    fn send_stored(&mut self, to: &NodeId, from: Height, max: usize) {
        let (w, i) = (&mut *self.world, self.node);
        let Some(to) = w.index_of(to) else { return };
        // A restored node's disk starts above its checkpoint.
        let blocks: Vec<CommittedBlock> =
            w.nodes[i].disk.blocks.iter().filter(|cb| cb.block.header.height >= from).take(max).cloned().collect();
        if !blocks.is_empty() {
            w.faults.served_from_disk += 1;
            w.send(i, to, Message::SyncResponse(blocks));
        }
    }

    fn set_timer(&mut self, timer: Timer, after_ms: u64) {
        let (w, i) = (&mut *self.world, self.node);
        let incarnation = w.nodes[i].incarnation;
        w.schedule(w.now_ms + after_ms, Event::Timer { node: i, incarnation, timer });
    }

    fn write(&mut self, commits: &[Commit], safety: Option<&SafetyState>) -> Result<(), WriteFault> {
        let n = &mut self.world.nodes[self.node];
        let fault = n.write_fault.take();
        if fault == Some(WriteFault::Fails) {
            return Err(WriteFault::Fails);
        }
        for c in commits {
            n.disk.blocks.push((*c.committed).clone());
            n.disk.state.push((*c.state).clone());
        }
        if let Some(s) = safety {
            n.disk.safety = Some(s.clone());
        }
        fault.map_or(Ok(()), Err)
    }

    fn committed(&mut self, commits: Vec<Commit>) {
        for c in commits {
            self.world.on_commit(self.node, *c.committed);
        }
    }

    fn reply(&mut self, _: Reply) {}

    fn verified(&mut self, _: Vec<(TxHash, vigil_protocol::Signature)>) {}

    fn compute_checkpoint(&mut self, job: consensus::CheckpointJob) {
        let (w, i) = (&mut *self.world, self.node);
        let incarnation = w.nodes[i].incarnation;
        let snapshot = job.compute_snapshot();
        let digest = Box::new(snapshot.digest.clone());
        w.keep_snapshot(i, snapshot);
        w.schedule(w.now_ms + CHECKPOINT_COMPUTE_MS, Event::CheckpointComputed { node: i, incarnation, digest });
    }

    fn restore(&mut self, job: consensus::RestoreJob) {
        self.world.restore(self.node, job);
    }

    fn notice(&mut self, notice: Notice) {
        let (w, i) = (&mut *self.world, self.node);
        match notice {
            Notice::Checkpoint(consensus::Settled::Stable { checkpoint, diverging, mine_differs }) => {
                w.on_checkpoint(i, &checkpoint.digest, &diverging, mine_differs);
            }
            // A restored peer holds no blocks below its checkpoint: others serve them.
            Notice::SyncGap { .. } | Notice::FellBehind { .. } => {}
            Notice::EvidenceSubmitted { offender } => {
                let accused = w.index_of(&offender);
                w.trace.push(w.now_ms, TraceEvent::Evidence { node: i, offender: accused });
                if let Some(j) = accused.filter(|j| w.is_honest(i) && w.is_honest(*j)) {
                    w.violate(format!("node {i} submitted evidence against honest validator {j}"));
                }
            }
            Notice::ForkProven { height, offenders, .. } => {
                let accused: Vec<Option<usize>> = offenders.iter().map(|o| w.index_of(o)).collect();
                w.trace.push(w.now_ms, TraceEvent::ForkProven { node: i, height, offenders: accused.clone() });
                if !w.is_honest(i) {
                    return;
                }
                if let Some(j) = accused.iter().flatten().find(|j| w.is_honest(**j)) {
                    w.violate(format!("node {i} traced the fork at height {height} to honest validator {j}"));
                } else if !accused.is_empty() {
                    w.forks_traced.insert(height);
                }
            }
        }
    }
}
