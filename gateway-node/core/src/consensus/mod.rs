//! Consensus: a sans-io state machine in the style of raft-rs.
//!
//! The caller feeds [`Input`]s to [`Node::step`] together with the current time, and
//! carries out the returned [`Output`]s **in order**: send and broadcast messages, set
//! timers, persist the safety state, commit blocks. Nothing in here touches sockets,
//! clocks, threads or randomness, which is what lets the simulator (`vigil-sim`) run
//! the very same code under a seeded, faulty virtual network.
//!
//! Two modes, chosen per height by the committed state ([`Ledger::mode`]):
//! - **Fast** ([`fast`]): a stable leader (Multi-Paxos / Viewstamped-Replication
//!   shape). The leader proposes, followers re-execute and broadcast a signed `Ack`; a
//!   majority of acks is the block's certificate. A follower that suspects the leader
//!   moves to the next view and promises the new leader what it acked; the new leader
//!   re-proposes the highest-view acked block it hears of. Crash-fault tolerant.
//! - **Bft** ([`bft`]): Tendermint (Buchman, Kwon, Milosevic 2018), with the paper's line
//!   numbers in comments. 2f+1 `Precommit`s form the block's certificate.
//!
//! The switch: every vote a node sees goes through the [`detector::Detector`]; two
//! conflicting votes by one validator become [`FaultEvidence`], which the node submits
//! as a transaction. Once a block carrying it commits, execution jails the offender and
//! the next height runs in Bft mode.
//!
//! Safety state ([`SafetyState`]) is emitted as [`Output::Persist`] **before** any
//! message that depends on it: a node that restarts never signs two different votes for
//! one slot and never forgets what it acknowledged.

mod behind;
pub mod bft;
mod checkpoints;
pub mod detector;
pub mod fast;
pub mod fork;
pub mod mempool;
pub mod published;
pub mod ready;
pub mod recent;
pub mod recovery;
pub mod verified;

pub use checkpoints::{CheckpointJob, Settled};
pub use published::NodeView;
pub use ready::{Commit, Notice, Outgoing, Ready, Reply};
pub use recovery::{RecoveryAnswer, RecoveryRequest, RestoreJob, RECOVERY_SET_CHANGES_MAX};
pub use verified::Verified;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use vigil_protocol::evidence::SignedStatement;
use vigil_protocol::{
    Address, Amount, Backing, Block, BlockHash, CertifiedHeader, CheckpointDigest, CheckpointVote, ConsensusMode,
    FaultEvidence, Genesis, Height, Justification, NodeId, Nonce, Payload, Promise, QuorumCert, ReceiptEntry, Round,
    SecretKey, SetChange, Signature, SignedTransaction, Transaction, TxHash, ValidatorSet, View, Vote, VoteData,
    VoteKind,
};

use crate::execution::{BlockInvalid, Execution, Ledger, LedgerError, StateCommit};
use detector::Detector;
use mempool::Mempool;

/// Most committed blocks sent in one sync response.
pub const SYNC_BATCH_BLOCKS_MAX: usize = 32;
/// Most messages for the next height held until this node gets there.
pub const FUTURE_MESSAGES_MAX: usize = 1_024;
/// Most transactions pending in the mempool.
pub const MEMPOOL_TXS_MAX: usize = 50_000;
/// A vote for no block (Tendermint's `nil`).
pub const NIL: BlockHash = vigil_protocol::Hash32([0; 32]);

/// Timing, in milliseconds of the caller's clock. Defaults suit a LAN devnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// How long a proposer collects transactions before proposing.
    pub propose_delay_ms: u64,
    /// Fast mode: how long followers wait for a commit before changing view.
    pub fast_view_ms: u64,
    /// Bft mode: Tendermint's timeoutPropose, timeoutPrevote/Precommit (round 0).
    pub bft_propose_ms: u64,
    pub bft_vote_ms: u64,
    /// Bft mode: added per round, so rounds lengthen until the network keeps up.
    pub bft_round_increment_ms: u64,
    /// Retry interval for block sync requests.
    pub sync_retry_ms: u64,
    /// With an empty mempool a proposer waits this long after the last commit before
    /// proposing an empty block (0: never wait). Must stay below the view/propose
    /// timeouts, or followers would suspect an idle leader.
    pub empty_block_interval_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            propose_delay_ms: 20,
            fast_view_ms: 600,
            bft_propose_ms: 400,
            bft_vote_ms: 200,
            bft_round_increment_ms: 100,
            sync_retry_ms: 300,
            empty_block_interval_ms: 250,
        }
    }
}

/// A node's consensus configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub key: SecretKey,
    pub timeouts: Timeouts,
    pub block_txs_max: usize,
    /// Committed blocks kept in memory; older ones are read from the caller's storage.
    pub blocks_in_memory: usize,
}

impl Config {
    pub fn new(key: SecretKey) -> Self {
        Self {
            key,
            timeouts: Timeouts::default(),
            block_txs_max: 2_000,
            blocks_in_memory: recent::BLOCKS_IN_MEMORY_MAX,
        }
    }
}

/// A timer the caller must fire as [`Input::Timeout`] after the requested delay.
/// Stale timers (for an old height or view) are ignored, so callers never cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timer {
    pub kind: TimerKind,
    pub height: Height,
    pub view: View,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TimerKind {
    /// The proposer's batching delay is over: propose now.
    Propose,
    /// Fast mode: no commit at this height and view in time: change view.
    FastView,
    /// Fast mode, beyond the bound: the leader's wait for promises that may resolve an
    /// equivocation is over (see [`fast::PICK_WAIT_DIVISOR`]).
    FastPick,
    /// Bft mode: Tendermint's three timeouts, and a round timer that always fires.
    BftPropose,
    BftPrevote,
    BftPrecommit,
    BftRound,
    /// Retry block sync.
    Sync,
    /// A recovering node asks again (see [`recovery`]).
    Recovery,
}

/// A committed block with its certificate: what sync sends and storage keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedBlock {
    pub block: Block,
    pub cert: QuorumCert,
    /// Fast mode: the justification of the proposal the certificate is for (as checked
    /// by this node), kept so that a conflicting certified block can be traced to the
    /// validators that caused the fork ([`vigil_protocol::forensics`]). `None` for Bft
    /// blocks, and for a Fast block whose certified proposal this node never saw.
    pub justification: Option<Justification>,
}

impl CommittedBlock {
    /// Its header with the certificate that commits it: what a light client verifies.
    pub fn certified_header(&self) -> CertifiedHeader {
        CertifiedHeader { header: self.block.header.clone(), cert: self.cert.clone() }
    }
}

/// A block proposed for `(height, view)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub view: View,
    pub block: Block,
    /// Bft: the round of the proof-of-lock the proposer re-proposes (Tendermint's `vr`).
    pub valid_round: Option<Round>,
    /// Fast: the leader's own signed `Ack` of the block. A leader that signs two
    /// different proposals for one view has signed two conflicting votes.
    pub leader_ack: Option<Vote>,
    /// Bft: the 2f+1 prevotes of `valid_round` for this block (the proof of lock), so
    /// that peers who missed them can still accept the re-proposal.
    pub pol: Vec<Vote>,
    /// Fast: why the leader may propose this block in this view (checked by every
    /// follower before it acks or moves to the view).
    pub justification: Option<Justification>,
}

/// Fast mode: a signed promise to the leader of a view to ack nothing of a lower view,
/// with the block of the highest-view ack it claims and that ack's backing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewChange {
    pub promise: Promise,
    pub acked: Option<(Backing, Block)>,
}

/// Node-to-node messages (BCS on the wire; peers are authenticated by the transport).
// Votes, the most frequent message, are the largest variant; boxing them would add an
// allocation per vote to save bytes in short-lived queues.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    Proposal(Box<Proposal>),
    /// A vote; Fast-mode acks carry the leader's ack they answer, so that anyone who
    /// holds a different one can prove the leader equivocated.
    Vote {
        vote: Vote,
        leader_ack: Option<Vote>,
    },
    ViewChange(Box<ViewChange>),
    Transactions(Vec<SignedTransaction>),
    SyncRequest {
        from_height: Height,
    },
    SyncResponse(Vec<CommittedBlock>),
    /// A validator's signed digest at a checkpoint height.
    Checkpoint(Box<CheckpointVote>),
    /// A node that lost its data asks how to recover (see [`recovery`]).
    RecoveryRequest(RecoveryRequest),
    /// The answer: the recovery indication.
    RecoveryAnswer(Box<RecoveryAnswer>),
    /// A restoring node asks a peer for one chunk of a checkpoint's snapshot (served by
    /// the node process, never by the core).
    SnapshotRequest {
        height: Height,
        index: u32,
    },
    /// The chunk, with its proof under the checkpoint's chunk root.
    SnapshotChunk(Box<vigil_protocol::ServedChunk>),
    /// A store that lost vault shards asks another store of the object for its own
    /// (served by the node process, never by the core).
    ShardRequest(vigil_protocol::vault::PeerShardRequest),
    /// The answer: the shards that store holds.
    Shards(Box<vigil_protocol::vault::PeerShards>),
}

impl Message {
    /// The consensus height a message is about, if any.
    /// The votes a message carries (a proposal's leader ack, a vote and its leader ack).
    fn signed_votes(&self) -> Vec<Vote> {
        match self {
            Message::Proposal(p) => p.leader_ack.iter().cloned().collect(),
            Message::Vote { vote, leader_ack } => {
                leader_ack.iter().cloned().chain(std::iter::once(vote.clone())).collect()
            }
            _ => Vec::new(),
        }
    }

    fn height(&self) -> Option<Height> {
        match self {
            Message::Proposal(p) => Some(p.block.header.height),
            Message::Vote { vote, .. } => Some(vote.data.height),
            Message::ViewChange(vc) => Some(vc.promise.data.height),
            _ => None,
        }
    }
}

/// What the caller feeds the state machine.
#[allow(clippy::large_enum_variant)] // see `Message`
#[derive(Debug, Clone)]
pub enum Input {
    /// Start (or resume after a restart).
    Start,
    /// A peer's message; `verified`: transactions in it whose signatures the caller
    /// checked already ([`Verified::none`] if it checked none).
    Message {
        from: NodeId,
        message: Message,
        verified: Verified,
    },
    Timeout(Timer),
    /// A client's transaction (size-checked by the caller), answered in
    /// [`Ready::replies`] under `ticket`; `verified`: the caller checked its signature.
    Submit {
        ticket: u64,
        tx: Box<SignedTransaction>,
        verified: bool,
    },
    /// The digest of a [`CheckpointJob`] this node asked for ([`Output::ComputeCheckpoint`]).
    CheckpointComputed(Box<CheckpointDigest>),
    /// A recovering node's state, rebuilt by the caller from the snapshot of the
    /// checkpoint of a [`RestoreJob`] ([`Output::Restore`]) and checked against it.
    Restored(Box<Ledger>),
    /// The caller could not restore the [`RestoreJob`]'s checkpoint: ask again.
    RestoreFailed,
}

/// What the caller must do, in order.
#[derive(Debug, Clone)]
pub enum Output {
    Send {
        to: NodeId,
        message: Message,
    },
    Broadcast(Message),
    /// Send `to` a [`Message::SyncResponse`] of up to `max` committed blocks from
    /// `from_height` on, read from storage: they are older than the blocks kept in memory.
    SendStored {
        to: NodeId,
        from_height: Height,
        max: usize,
    },
    SetTimer {
        timer: Timer,
        after_ms: u64,
    },
    /// Write durably before carrying out any later output.
    Persist(Box<SafetyState>),
    /// A block is committed (the ledger already applied it): store it durably, then
    /// answer clients waiting for these receipts.
    Commit {
        committed: Box<CommittedBlock>,
        receipts: Vec<ReceiptEntry>,
        /// The state version and ledger metadata after the block, stored with it.
        state: Box<StateCommit>,
    },
    /// This node proved a validator faulty and submitted the evidence.
    EvidenceSubmitted {
        offender: NodeId,
    },
    /// Another node holds a certified block at `height` that conflicts with the one this
    /// node committed: the chain forked (possible only beyond Fast mode's bound).
    /// `offenders` are the validators the two blocks' statements prove faulty, whose
    /// evidence this node submits (if it is a validator); Fast mode stays stopped here
    /// until that evidence commits. Empty if these two blocks do not carry the proof
    /// (e.g. the higher-view one came without its justification).
    ForkProven {
        height: Height,
        theirs: BlockHash,
        offenders: Vec<NodeId>,
    },
    /// A checkpoint height is committed: compute its digest off the consensus thread
    /// (once the commit is durable) and hand it back as [`Input::CheckpointComputed`].
    ComputeCheckpoint(Box<CheckpointJob>),
    /// A checkpoint height settled (see [`Settled`]).
    CheckpointSettled(Settled),
    /// A peer answered a sync request with blocks that start above the height this node
    /// needs (it pruned the ones between): if every peer does, this node fell behind
    /// their retention window and must be restored from a checkpoint.
    SyncGap {
        peer: NodeId,
        needed: Height,
        first: Height,
    },
    /// Peers holding a Bft quorum with this node (more than the fault tolerance without
    /// it) pruned the height it needs: it cannot catch up by sync and
    /// must be restored from a stable checkpoint (the caller restarts it recovering).
    FellBehind {
        needed: Height,
        first: Height,
    },
    /// A recovering node chose the checkpoint to restore: fetch its snapshot, rebuild
    /// and check the state, hand it back as [`Input::Restored`].
    Restore(Box<RestoreJob>),
    /// A state that must not happen did (a block checked at this height failed to
    /// commit): the node must stop, loudly, rather than carry on or stall. Nothing after
    /// it in this batch is to be carried out, and the node takes no more input.
    Fatal(String),
}

/// What a node must remember across a crash to stay safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyState {
    /// The height in progress (committed + 1).
    pub height: Height,
    /// Every vote signed at `height`; a node never signs a different one for the same slot.
    pub signed: Vec<Vote>,
    /// Fast: the view promised (never ack below it).
    pub fast_view: View,
    /// Fast: the highest-view block acked at `height`, with the backing of that ack.
    pub fast_acked: Option<fast::Acked>,
    /// Bft: round, and Tendermint's locked and valid values (with their rounds).
    pub bft_round: Round,
    pub bft_locked: Option<(Round, Block)>,
    pub bft_valid: Option<(Round, Block)>,
    /// The prevotes that made `bft_valid` valid (its proof of lock).
    pub bft_valid_pol: Vec<Vote>,
    /// A node restored from a snapshot signs nothing at heights up to this one: it may
    /// have signed at them before it lost its data (see [`recovery`]). 0 otherwise.
    pub abstain_through: Height,
}

/// How far ahead of its account's next nonce a client may queue transactions.
pub use vigil_protocol::limits::NONCE_AHEAD_MAX;

/// Why a client's transaction was not accepted (reaches the client as a typed error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("transaction is for chain `{found}`, this network is `{expected}`")]
    WrongChain { expected: vigil_protocol::ChainId, found: vigil_protocol::ChainId },
    #[error("signature does not verify for the sender's key")]
    BadSignature,
    #[error("nonce {found} is already used; the account's next nonce is {expected}")]
    StaleNonce { expected: u64, found: u64 },
    #[error("nonce {found} is too far ahead; the account's next nonce is {expected}")]
    FutureNonce { expected: u64, found: u64 },
    #[error("balance {balance} cannot pay {needed} (amount plus fee)")]
    InsufficientBalance { balance: u64, needed: u64 },
    #[error("this transaction is already pending")]
    Duplicate,
    #[error("the mempool is full; retry later")]
    MempoolFull,
    #[error("fee {found} is below the minimum {min} for this transaction")]
    FeeTooLow { min: u64, found: u64 },
    #[error("the evidence proves nothing: {0}")]
    InvalidEvidence(String),
    #[error("the accused validator is no longer in the set (already jailed)")]
    OffenderNotInSet,
    #[error("the checkpoint does not verify: {0}")]
    InvalidCheckpoint(String),
    #[error("the checkpoint is no newer than the one recorded on chain")]
    StaleCheckpoint,
    #[error("the key generation package is refused: {0}")]
    InvalidDkgPackage(String),
    #[error("the change of the center set is refused: {0}")]
    InvalidCenterChange(String),
    #[error("center {center}'s signature share does not verify")]
    InvalidSignatureShare { center: u16 },
    #[error("the signing message is refused: {0}")]
    InvalidSigning(String),
    #[error("the certificate request is refused: {0}")]
    InvalidCertRequest(String),
    #[error("the applicant key's signature over the request does not verify (no proof of possession)")]
    NoProofOfPossession,
    #[error("the sender is not an authentication center of this chain")]
    NotACenter,
    #[error("center {center} gave its verdict on this request already")]
    DuplicateVerdict { center: u16 },
    #[error("the verdict is refused: {0}")]
    InvalidVerdict(String),
    #[error("the vote on the certificate is refused: {0}")]
    InvalidCertAction(String),
    #[error("no table is named `{0}`")]
    UnknownTable(String),
    #[error("the table is refused: {0}")]
    InvalidTable(String),
    #[error("the row is refused: {0}")]
    InvalidRow(String),
    #[error("the table holds a row with this key already; update it instead")]
    DuplicateKey,
    #[error("the table holds no row with this key")]
    MissingRow,
    #[error("the row's writer is not the transaction's sender: a row is signed by the account that submits it")]
    NotTheWriter,
    #[error("the row's signature does not verify for its writer")]
    BadRowSignature,
    #[error("the table's write policy refuses this writer: {0}")]
    WriteRefused(String),
    #[error("this chain has no connection to chain `{0}`")]
    NoConnection(vigil_protocol::ChainId),
    #[error("this chain has a connection to chain `{0}` open already")]
    ConnectionExists(vigil_protocol::ChainId),
    #[error("the connection is refused: {0}")]
    InvalidConnection(String),
    #[error("{0}")]
    BadHeader(String),
    #[error("{0}")]
    ClientFrozen(String),
    #[error("{0}")]
    ClientExpired(String),
    #[error("the packet is refused: {0}")]
    InvalidPacket(String),
    #[error("{0}")]
    BadPacketProof(String),
    #[error("this chain keeps no header of chain `{chain}` at height {height}: carry the certified header with the proof, or update the client first")]
    UnknownProofHeight { chain: vigil_protocol::ChainId, height: vigil_protocol::Height },
    #[error("the packet was received already")]
    PacketAlreadyReceived,
    #[error("the packet is settled already: acknowledged or timed out")]
    PacketNotPending,
    #[error("the packet timed out: {0}")]
    PacketTimedOut(String),
    #[error("no target object has id {0}")]
    UnknownTarget(String),
    #[error("the target is refused: {0}")]
    InvalidTarget(String),
    #[error("the trade is refused: {0}")]
    InvalidTrade(String),
    #[error("the audit is refused: {0}")]
    InvalidAudit(String),
    #[error("the claims do not match: {0}")]
    ClaimsMismatch(String),
    #[error("{0}")]
    UnknownAudit(String),
    #[error("the sender never traded with the target in the audit's period: only its counterparties send notices")]
    NotACounterparty,
    #[error("this counterparty sent its notice about the audit already")]
    DuplicateNotice,
    #[error("the notice is about another period: {0}")]
    WrongPeriod(String),
    #[error("{0}")]
    AuditClosed(String),
}

/// What a transaction takes from its sender's balance at most: its amount and its fee.
pub fn spend(tx: &Transaction) -> u64 {
    crate::capability::spend(&tx.payload).saturating_add(tx.fee.0)
}

/// Why a restart from persisted data failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("persisted block {0} is invalid: {1}")]
    Block(Height, BlockInvalid),
    #[error("the stored state is at height {state} but the stored blocks end at {blocks}")]
    StateBehindBlocks { state: Height, blocks: Height },
    #[error("the stored state at height {0} does not match the stored block there")]
    StateMismatch(Height),
}

/// One voter's vote slot at the height in progress: (voter, view or round, kind).
type VoteSlot = (NodeId, View, VoteKind);

/// Status for APIs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub height: Height,
    pub mode: ConsensusMode,
    pub view: View,
    pub mempool_len: usize,
    /// Recovering its state from its peers (nothing restored yet).
    pub recovering: bool,
    /// Restored from its peers: it signs nothing up to this height (0 when never
    /// restored). Past it, the node has caught up with what its peers reported.
    pub abstain_through: Height,
}

/// One validator's (or observer's) consensus state machine.
pub struct Node {
    cfg: Config,
    me: NodeId,
    ledger: Ledger,
    /// The most recent committed blocks ([`recent::BLOCKS_IN_MEMORY_MAX`]).
    committed: recent::RecentBlocks,
    mempool: Mempool,
    detector: Detector,
    reported: BTreeSet<NodeId>,
    safety: SafetyState,
    /// Blocks seen for the height in progress, with the result of checking them.
    candidates: BTreeMap<BlockHash, (Block, Result<Execution, BlockInvalid>)>,
    future: Vec<(NodeId, Message)>,
    /// Signed votes for heights beyond the next, kept (unverified) until this node
    /// commits that height, to be checked against its certificate.
    early_votes: Vec<Vote>,
    sync_pending: bool,
    sync_served: BTreeMap<NodeId, Height>,
    /// Peers that pruned the height in progress ([`behind`]), and the height this node
    /// last reported it fell behind at.
    sync_gaps: BTreeMap<NodeId, Height>,
    fell_behind_at: Option<Height>,
    /// Votes verified at this height, by slot (relayed copies skip verification): at
    /// most [`bft::VOTES_PER_VALIDATOR_ROUND_MAX`] per voter and slot, so a validator
    /// signing ever new blocks for one round is not remembered without bound.
    seen_votes: BTreeMap<VoteSlot, Vec<(BlockHash, [u8; 64])>>,
    fast: fast::FastState,
    bft: bft::BftState,
    fork: fork::ForkState,
    genesis_hash: BlockHash,
    now_ms: u64,
    last_commit_ms: u64,
    out: Vec<Output>,
    /// The caller's checked signatures, for the step in progress.
    checked: Verified,
    /// Signatures this step checked itself, and its answers to clients.
    verified_now: Vec<(TxHash, Signature)>,
    replies: Vec<Reply>,
    /// Set by [`Output::Fatal`]: the node takes no more input.
    halted: bool,
    /// Checkpoint digests and votes gathered, the latest stable checkpoint.
    checkpoints: checkpoints::Checkpoints,
    /// Set while the node recovers from lost data (see [`recovery`]).
    recovery: Option<recovery::Recovery>,
    /// Certified validator-set changes from genesis, what a recovering peer follows.
    set_changes: Vec<SetChange>,
}

impl Node {
    /// A node at genesis.
    pub fn new(cfg: Config, genesis: &Genesis) -> Result<Self, RestoreError> {
        Self::restore(cfg, genesis, Vec::new(), None, None)
    }

    /// A node rebuilt from what it persisted: committed blocks, the ledger stored with
    /// them (without one, the blocks are re-executed from genesis), and the safety
    /// state of the height it was working on.
    pub fn restore(
        cfg: Config,
        genesis: &Genesis,
        blocks: Vec<CommittedBlock>,
        safety: Option<SafetyState>,
        stored: Option<Ledger>,
    ) -> Result<Self, RestoreError> {
        let ledger = Self::ledger_for(genesis, &blocks, stored)?;
        let me = NodeId::from_public_key(&cfg.key.public_key());
        let height = ledger.height().next();
        let last_view = blocks.last().map(|cb| cb.cert.data.view).unwrap_or(View(0));
        let safety = match safety {
            Some(s) if s.height == height => s,
            Some(s) => SafetyState {
                fast_view: s.fast_view.max(last_view),
                abstain_through: s.abstain_through,
                ..SafetyState::fresh(height, last_view)
            },
            None => SafetyState::fresh(height, last_view),
        };
        let mut node = Self {
            me,
            mempool: Mempool::new(MEMPOOL_TXS_MAX),
            detector: Detector::default(),
            reported: BTreeSet::new(),
            candidates: BTreeMap::new(),
            future: Vec::new(),
            early_votes: Vec::new(),
            sync_pending: false,
            sync_served: BTreeMap::new(),
            sync_gaps: BTreeMap::new(),
            fell_behind_at: None,
            seen_votes: BTreeMap::new(),
            fast: fast::FastState::default(),
            bft: bft::BftState::default(),
            fork: fork::ForkState::default(),
            checkpoints: checkpoints::Checkpoints::new(genesis.checkpoints),
            recovery: None,
            set_changes: Vec::new(),
            genesis_hash: genesis.hash(),
            now_ms: 0,
            last_commit_ms: 0,
            out: Vec::new(),
            checked: Verified::none(),
            verified_now: Vec::new(),
            replies: Vec::new(),
            halted: false,
            committed: recent::RecentBlocks::new(blocks, cfg.blocks_in_memory),
            safety,
            ledger,
            cfg,
        };
        if let Some(a) = &node.safety.fast_acked {
            // The proposal this node acked was justified: kept with the block if it commits.
            node.fast.remember_justification(a.view, a.block.header.hash(), a.backing.justification.clone());
        }
        let acked = node.safety.fast_acked.clone().map(|a| a.block);
        let bft = [node.safety.bft_locked.clone(), node.safety.bft_valid.clone()].into_iter().flatten().map(|(_, b)| b);
        for block in acked.into_iter().chain(bft) {
            node.add_candidate(block);
        }
        Ok(node)
    }

    /// The ledger a restored node starts from: the stored one if it is the state after
    /// the last stored block, else the blocks (then from height 1) re-executed from
    /// genesis.
    fn ledger_for(
        genesis: &Genesis,
        blocks: &[CommittedBlock],
        stored: Option<Ledger>,
    ) -> Result<Ledger, RestoreError> {
        Ok(match stored {
            Some(ledger) => {
                let (blocks_end, hash, root) = match blocks.last() {
                    Some(cb) => (cb.block.header.height, cb.block.header.hash(), Some(cb.block.header.state_root)),
                    // Restored from a checkpoint, with no block stored since: the state
                    // is the checkpoint's, as stored.
                    None if ledger.height() > Height(0) => (ledger.height(), ledger.last_hash(), None),
                    None => (Height(0), genesis.hash(), None),
                };
                if ledger.height() != blocks_end {
                    return Err(RestoreError::StateBehindBlocks { state: ledger.height(), blocks: blocks_end });
                }
                if ledger.last_hash() != hash || root.is_some_and(|r| ledger.state_root().ok() != Some(r)) {
                    return Err(RestoreError::StateMismatch(ledger.height()));
                }
                ledger
            }
            None => {
                if blocks.first().is_some_and(|cb| cb.block.header.height != Height(1)) {
                    return Err(RestoreError::StateBehindBlocks {
                        state: Height(0),
                        blocks: Height(blocks.len() as u64),
                    });
                }
                let mut ledger = Ledger::genesis(genesis)?;
                for cb in blocks {
                    let exec =
                        ledger.check_block(&cb.block).map_err(|e| RestoreError::Block(cb.block.header.height, e))?;
                    ledger.commit(&cb.block, exec)?;
                }
                ledger
            }
        })
    }

    pub fn id(&self) -> NodeId {
        self.me
    }
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
    /// The most recent committed blocks, oldest first (older ones are on disk only).
    pub fn recent_blocks(&self) -> impl Iterator<Item = &CommittedBlock> {
        self.committed.iter()
    }

    /// The certified validator-set changes this node knows of, oldest first: what it
    /// gives a recovering peer (and a light client) to follow from the genesis set.
    pub fn set_changes(&self) -> &[SetChange] {
        &self.set_changes
    }

    /// The newest committed block, if any.
    pub fn last_committed(&self) -> Option<&CommittedBlock> {
        self.committed.last()
    }
    pub fn status(&self) -> Status {
        Status {
            height: self.ledger.height(),
            mode: self.ledger.mode(),
            view: match self.ledger.mode() {
                ConsensusMode::Fast => self.safety.fast_view,
                ConsensusMode::Bft => self.bft.round.slot(),
            },
            mempool_len: self.mempool.len(),
            recovering: self.is_recovering(),
            abstain_through: self.safety.abstain_through,
        }
    }

    /// One line about where this node stands, for traces and logs.
    pub fn describe(&self) -> String {
        let short = |b: &Block| b.header.hash().to_string()[..8].to_string();
        format!(
            "height {} mode {} view {} round {} locked {:?} valid {:?} fast-acked {:?} mempool {}",
            self.ledger.height(),
            self.ledger.mode(),
            self.safety.fast_view,
            self.bft.round,
            self.safety.bft_locked.as_ref().map(|(r, b)| (r.0, short(b))),
            self.safety.bft_valid.as_ref().map(|(r, b)| (r.0, short(b))),
            self.safety.fast_acked.as_ref().map(|a| (a.view.0, short(&a.block))),
            self.mempool.len(),
        )
    }

    /// Feeds one input — the only way in — and returns what the caller must do.
    pub fn step(&mut self, now_ms: u64, input: Input) -> Ready {
        let outputs = self.step_outputs(now_ms, input);
        let mut ready = Ready::from_outputs(outputs);
        if ready.fatal.is_none() {
            ready.replies = std::mem::take(&mut self.replies);
            ready.verified = std::mem::take(&mut self.verified_now);
        }
        ready
    }

    /// [`step`](Self::step)'s decisions in the order they were taken.
    pub(crate) fn step_outputs(&mut self, now_ms: u64, input: Input) -> Vec<Output> {
        self.replies.clear();
        self.verified_now.clear();
        if self.halted {
            return Vec::new();
        }
        self.now_ms = now_ms;
        if self.recovery.is_some() {
            self.recovery_step(input);
            return std::mem::take(&mut self.out);
        }
        match input {
            Input::Start => self.enter_height(),
            Input::Message { from, message, verified } => {
                self.checked = verified;
                self.on_message(from, message);
                self.checked = Verified::none();
            }
            Input::Timeout(timer) => self.on_timeout(timer),
            Input::Submit { ticket, tx, verified } => {
                let result = self.submit(*tx, verified);
                self.replies.push(Reply { ticket, result });
            }
            Input::CheckpointComputed(digest) => self.on_checkpoint_computed(*digest),
            // Only for a recovering node.
            Input::Restored(_) | Input::RestoreFailed => {}
        }
        std::mem::take(&mut self.out)
    }

    fn height(&self) -> Height {
        self.ledger.height().next()
    }

    /// An impossible state: the outputs of this batch are dropped (none may follow it),
    /// [`Output::Fatal`] is the only one left, and the node takes no more input.
    fn fatal(&mut self, reason: String) {
        self.halted = true;
        self.out.clear();
        self.out.push(Output::Fatal(reason));
    }

    /// Whether an impossible state stopped this node ([`Output::Fatal`]).
    pub fn is_halted(&self) -> bool {
        self.halted
    }

    fn set(&self) -> &ValidatorSet {
        self.ledger.validators()
    }

    fn is_validator(&self) -> bool {
        self.set().get(&self.me).is_some()
    }

    fn timer(&mut self, kind: TimerKind, view: View, after_ms: u64) {
        let timer = Timer { kind, height: self.height(), view };
        self.out.push(Output::SetTimer { timer, after_ms });
    }

    fn persist(&mut self) {
        if let Err(why) = self.safety.check(self.height(), self.me) {
            return self.fatal(format!("refusing to persist: {why}"));
        }
        self.out.push(Output::Persist(Box::new(self.safety.clone())));
    }

    /// Signs a vote unless that would contradict one already signed for the slot.
    /// Persists before returning, so the caller may send the vote right away.
    fn sign_vote(&mut self, kind: VoteKind, view: View, block_hash: BlockHash) -> Option<Vote> {
        if !self.is_validator() || !self.may_sign() {
            return None;
        }
        let data = VoteData { chain_id: self.ledger.chain_id().clone(), height: self.height(), view, block_hash, kind };
        if let Some(prev) = self.safety.signed.iter().find(|v| v.data.view == view && v.data.kind == kind) {
            return (prev.data == data).then(|| prev.clone());
        }
        let vote = data.sign(self.me, &self.cfg.key);
        self.safety.signed.push(vote.clone());
        self.persist();
        Some(vote)
    }

    /// Starts the height in progress (after genesis, a commit, or a restart).
    fn enter_height(&mut self) {
        let height = self.height();
        self.detector.prune_below(Height(height.0.saturating_sub(1)));
        match self.ledger.mode() {
            ConsensusMode::Fast => self.fast_enter_height(),
            ConsensusMode::Bft => self.bft_enter_height(),
        }
        let future = std::mem::take(&mut self.future);
        for (from, message) in future {
            if message.height() == Some(height) {
                self.on_message(from, message);
            }
        }
        // Votes that arrived early: those for this height go to the detector like any
        // other; those for heights committed meanwhile (by sync) meet their certificate.
        let early = std::mem::take(&mut self.early_votes);
        for vote in early {
            match vote.data.height.cmp(&height) {
                std::cmp::Ordering::Equal => {
                    self.check_vote(&vote);
                }
                std::cmp::Ordering::Less => self.check_against_certificate(&vote),
                std::cmp::Ordering::Greater => self.early_votes.push(vote),
            }
        }
    }

    fn on_timeout(&mut self, timer: Timer) {
        if timer.kind == TimerKind::Sync {
            self.sync_pending = false;
            return;
        }
        if timer.height != self.height() {
            return;
        }
        match (self.ledger.mode(), timer.kind) {
            (ConsensusMode::Fast, TimerKind::Propose) => self.fast_propose(timer.view),
            (ConsensusMode::Fast, TimerKind::FastView) => self.fast_view_timeout(timer.view),
            (ConsensusMode::Fast, TimerKind::FastPick) => self.fast_pick_timeout(timer.view),
            (ConsensusMode::Bft, _) => self.bft_timeout(timer),
            _ => {}
        }
    }

    /// A message for a height below the one this node decides: its votes checked against
    /// the certificate committed there, and the peer served the blocks it lacks.
    fn on_message_from_behind(&mut self, from: NodeId, h: Height, message: &Message) {
        for vote in message.signed_votes() {
            self.check_against_certificate(&vote);
        }
        // A vote for the height just committed here is most often a quorum's last member
        // arriving late: it holds the block and commits it from the same votes. Pushing
        // the block to it sent every block again: in Bft from each node to each other, in
        // Fast to each follower (in Bft under load, a tenth of the devnet's throughput). A
        // peer further behind, or proposing or changing views at that height, is served;
        // a late one that did miss the commit asks on its own when this node's next
        // height reaches it (`request_sync` in `on_message`).
        let late_vote = h == self.ledger.height() && matches!(message, Message::Vote { .. });
        if !late_vote {
            self.serve_lagging_peer(from, h);
        }
    }

    fn on_message(&mut self, from: NodeId, message: Message) {
        if let Message::Proposal(p) = &message {
            self.check_parent(from, &p.block.header);
        }
        if let Some(h) = message.height() {
            let mine = self.height();
            if h > mine {
                self.request_sync(from);
                if h == mine.next() && self.future.len() < FUTURE_MESSAGES_MAX {
                    self.future.push((from, message));
                } else if self.early_votes.len() < FUTURE_MESSAGES_MAX {
                    self.early_votes.extend(message.signed_votes());
                }
                return;
            }
            if h < mine {
                self.on_message_from_behind(from, h, &message);
                return;
            }
        }
        match message {
            Message::Transactions(txs) => {
                self.admit(txs);
            }
            Message::SyncRequest { from_height } => self.serve_sync(from, from_height),
            Message::Checkpoint(vote) => self.on_checkpoint_vote(*vote),
            Message::RecoveryRequest(request) => self.on_recovery_request(from, request),
            // Answered and read by the node process (snapshot chunks and vault shards are
            // no consensus matter); a recovering node's answers are read in `recovery`.
            Message::RecoveryAnswer(_)
            | Message::SnapshotRequest { .. }
            | Message::SnapshotChunk(_)
            | Message::ShardRequest(_)
            | Message::Shards(_) => {}
            Message::SyncResponse(blocks) => self.apply_sync(from, blocks),
            Message::Proposal(p) => match self.ledger.mode() {
                ConsensusMode::Fast => self.fast_on_proposal(from, *p),
                ConsensusMode::Bft => self.bft_on_proposal(from, *p),
            },
            Message::Vote { vote, leader_ack } => {
                // Bft votes are relayed once by each node that gets them from their voter
                // (gossip): a vote lost on one link arrives by another, and a validator
                // that sends different votes to different peers is seen doing so.
                let relay = self.ledger.mode() == ConsensusMode::Bft && from == vote.voter && from != self.me;
                for v in leader_ack.into_iter().chain(std::iter::once(vote)) {
                    if !self.vote_in_window(&v) {
                        continue;
                    }
                    let slot = (v.voter, v.data.view, v.data.kind);
                    let id = (v.data.block_hash, v.signature.to_bytes());
                    let seen = self.seen_votes.get(&slot);
                    if seen.is_some_and(|s| s.contains(&id) || s.len() >= bft::VOTES_PER_VALIDATOR_ROUND_MAX) {
                        continue;
                    }
                    // Remembered only once verified: a forged copy cannot fill a voter's slot.
                    if self.check_vote(&v) {
                        self.seen_votes.entry(slot).or_default().push(id);
                        if relay {
                            self.out.push(Output::Broadcast(Message::Vote { vote: v.clone(), leader_ack: None }));
                        }
                        match self.ledger.mode() {
                            ConsensusMode::Fast => self.fast_on_ack(v),
                            ConsensusMode::Bft => self.bft_on_vote(v),
                        }
                    }
                }
            }
            Message::ViewChange(vc) => {
                if self.ledger.mode() == ConsensusMode::Fast {
                    self.fast_on_view_change(from, *vc);
                }
            }
        }
    }

    /// Verifies a vote for the height in progress and feeds it to the detector. Votes
    /// for views or rounds far from this node's are dropped unread, so what a node
    /// remembers per height is bounded whatever a validator sends.
    fn check_vote(&mut self, vote: &Vote) -> bool {
        if vote.data.height != self.height() || &vote.data.chain_id != self.ledger.chain_id() {
            return false;
        }
        if !self.vote_in_window(vote) {
            return false;
        }
        if vote.verify(self.set()).is_err() {
            return false;
        }
        if let Some(evidence) = self.detector.observe(vote) {
            self.submit_evidence(evidence);
        }
        true
    }

    /// Whether a vote's view (Fast) or round (Bft) is near enough to this node's.
    fn vote_in_window(&self, vote: &Vote) -> bool {
        match self.ledger.mode() {
            ConsensusMode::Fast => self.fast_in_window(vote.data.view),
            ConsensusMode::Bft => self.bft_in_window(Round::of_slot(vote.data.view)),
        }
    }

    /// How many votes, promises, blocks and messages this node holds for the height in
    /// progress (the mempool aside): bounded whatever its peers send, which the
    /// simulator checks under a Byzantine validator that floods far views and rounds.
    pub fn retained(&self) -> usize {
        self.detector.len()
            + self.seen_votes.values().map(Vec::len).sum::<usize>()
            + self.candidates.len()
            + self.future.len()
            + self.early_votes.len()
            + self.fast.retained()
            + self.bft.retained()
    }

    /// Adds a block to the candidates of the height in progress, checking it once.
    fn add_candidate(&mut self, block: Block) -> BlockHash {
        let hash = block.header.hash();
        if !self.candidates.contains_key(&hash) {
            let (mempool, verified) = (&self.mempool, &self.checked);
            let known = |t: &SignedTransaction, h: &TxHash| mempool.holds(t, h) || verified.contains(t, h);
            let checked = self.ledger.check_block_skipping(&block, known);
            if let Ok(exec) = &checked {
                let hashes = exec.entries.iter().map(|e| e.tx_hash);
                let fresh = hashes.zip(&block.txs).filter(|(h, t)| !known(t, h));
                let fresh: Vec<(TxHash, Signature)> = fresh.map(|(h, t)| (h, t.signature)).collect();
                self.verified_now.extend(fresh);
            }
            self.candidates.insert(hash, (block, checked));
        }
        hash
    }

    fn candidate_is_valid(&self, hash: &BlockHash) -> bool {
        matches!(self.candidates.get(hash), Some((_, Ok(_))))
    }

    /// Builds a new block from the mempool on the committed state.
    fn build_block(&mut self, view: View) -> Option<Block> {
        let ledger = &self.ledger;
        let ready = self.mempool.peek_ready(self.cfg.block_txs_max, |a| ledger.account(a).nonce.0);
        let (exec, txs, left_out) = self.ledger.execute_admissible(ready).ok()?;
        // What may not be in a block now (an unpaid fee, evidence already acted on) is
        // dropped: kept, it would hold back its sender's later nonces for ever.
        self.mempool.remove_committed(left_out.iter());
        let header = self.ledger.build_header(&exec, view, self.me, self.now_ms);
        let block = Block { header, txs };
        self.candidates.insert(block.header.hash(), (block.clone(), Ok(exec)));
        Some(block)
    }

    /// Commits a candidate with its certificate and moves to the next height.
    fn commit(&mut self, hash: BlockHash, cert: QuorumCert) {
        let Some((block, Ok(exec))) = self.candidates.remove(&hash) else {
            return;
        };
        debug_assert!(CertifiedHeader { header: block.header.clone(), cert: cert.clone() }.verify(self.set()).is_ok());
        let receipts = exec.entries.clone();
        let before = self.ledger.height();
        if block.header.height != before.next() {
            return self.fatal(format!("block {} offered for commit at height {}", block.header.height, before.next()));
        }
        let state = match self.ledger.commit(&block, exec) {
            Ok(state) => state,
            Err(e) => return self.fatal(format!("block {} checked, then failed to commit: {e}", block.header.height)),
        };
        // A commit advances the height by exactly one.
        if self.ledger.height() != before.next() {
            return self.fatal(format!("a commit at height {before} left the ledger at {}", self.ledger.height()));
        }
        let justification = match cert.data.kind {
            VoteKind::Ack => self.fast.take_justification(cert.data.view, &hash),
            _ => None,
        };
        self.after_commit(CommittedBlock { block, cert, justification }, receipts, state);
    }

    /// Whether a proposer with nothing to propose should wait a little longer; if so,
    /// re-arms its proposal timer.
    fn hold_empty_proposal(&mut self, view: View) -> bool {
        let interval = self.cfg.timeouts.empty_block_interval_ms;
        // Only transactions a block can take count: a sender's transactions waiting on a
        // nonce not yet received make no block (else a gap in one sender's nonces would
        // have the leader propose empty blocks back to back).
        let ledger = &self.ledger;
        let ready = !self.mempool.is_empty() && !self.mempool.peek_ready(1, |a| ledger.account(a).nonce.0).is_empty();
        if ready || self.now_ms >= self.last_commit_ms.saturating_add(interval) {
            return false;
        }
        let delay = self.cfg.timeouts.propose_delay_ms.max(1);
        self.timer(TimerKind::Propose, view, delay);
        true
    }

    fn after_commit(&mut self, committed: CommittedBlock, receipts: Vec<ReceiptEntry>, state: StateCommit) {
        self.last_commit_ms = self.now_ms;
        // The receipts carry each transaction's id, in block order.
        self.mempool.remove_committed(receipts.iter().map(|r| &r.tx_hash));
        let ledger = &self.ledger;
        self.mempool.prune_stale(|a| ledger.account(a).nonce.0);
        let cert_view = committed.cert.data.view;
        let (height, block_hash) = (committed.block.header.height, committed.block.header.hash());
        let state_root = committed.block.header.state_root;
        self.note_set_change(&committed);
        self.committed.push(committed.clone());
        self.out.push(Output::Commit { committed: Box::new(committed), receipts, state: Box::new(state) });
        self.checkpoint_committed(height, block_hash, state_root);
        self.candidates.clear();
        self.seen_votes.clear();
        let fast_view = self.safety.fast_view.max(cert_view);
        let abstain_through = self.safety.abstain_through;
        self.safety = SafetyState { fast_view, abstain_through, ..SafetyState::fresh(self.height(), fast_view) };
        self.persist();
        self.fast.reset_height();
        self.fork.after_commit();
        self.bft = bft::BftState::default();
        self.enter_height();
    }

    /// A client's transaction: checked against the committed state with a typed answer,
    /// then pooled and gossiped. `verified`: the caller checked its signature (the node
    /// process does it on its API threads, off the consensus thread).
    fn submit(&mut self, tx: SignedTransaction, verified: bool) -> Result<(), Rejection> {
        if !verified {
            tx.verify().map_err(|e| match e {
                vigil_protocol::TransactionError::BadRowSignature => Rejection::BadRowSignature,
                _ => Rejection::BadSignature,
            })?;
            self.verified_now.push((tx.hash(), tx.signature));
        }
        let chain = self.ledger.chain_id();
        if &tx.tx.chain_id != chain {
            return Err(Rejection::WrongChain { expected: chain.clone(), found: tx.tx.chain_id.clone() });
        }
        if self.mempool.contains(&tx.hash()) {
            return Err(Rejection::Duplicate);
        }
        let sender = tx.tx.sender_address();
        let account = self.ledger.account(&sender);
        let expected = account.nonce.0;
        let found = tx.tx.nonce.0;
        if found < expected {
            return Err(Rejection::StaleNonce { expected, found });
        }
        let pending = self.mempool.pending_from(&sender) as u64;
        if found > expected + pending + NONCE_AHEAD_MAX {
            return Err(Rejection::FutureNonce { expected, found });
        }
        self.admissible(&tx, account.balance.0)?;
        let priority = crate::capability::priority(&tx.tx.payload);
        self.mempool.insert(tx.clone(), priority).map_err(|e| match e {
            mempool::MempoolError::Duplicate => Rejection::Duplicate,
            mempool::MempoolError::Full(_) => Rejection::MempoolFull,
        })?;
        self.out.push(Output::Broadcast(Message::Transactions(vec![tx])));
        Ok(())
    }

    /// What admission checks beyond nonces: the fee, what the sender can pay counting
    /// what its pending transactions already spend, and the payload's capability's own
    /// rules (evidence must prove a fault of a validator still in the set: invalid or
    /// repeated evidence is never pooled, which is what lets valid evidence be free).
    fn admissible(&self, tx: &SignedTransaction, balance: u64) -> Result<(), Rejection> {
        let min = crate::capability::fee_min(&tx.tx.payload);
        if tx.tx.fee.0 < min {
            return Err(Rejection::FeeTooLow { min, found: tx.tx.fee.0 });
        }
        let needed = spend(&tx.tx).saturating_add(self.mempool.pending_spend(&tx.tx.sender_address()));
        if balance < needed {
            return Err(Rejection::InsufficientBalance { balance, needed });
        }
        crate::capability::admit(&tx.tx.payload, &self.ledger, &tx.tx.sender)?;
        Ok(())
    }

    /// Admits gossiped transactions to the mempool; returns those newly accepted. The
    /// signatures the caller did not check are batch-verified here; only if the batch
    /// fails is each checked alone.
    fn admit(&mut self, txs: Vec<SignedTransaction>) -> Vec<SignedTransaction> {
        let ledger = &self.ledger;
        let fresh: Vec<SignedTransaction> = txs
            .into_iter()
            .filter(|t| {
                let account = ledger.account(&t.tx.sender_address());
                &t.tx.chain_id == ledger.chain_id()
                    && t.tx.nonce >= account.nonce
                    && !self.mempool.contains(&t.hash())
                    && self.admissible(t, account.balance.0).is_ok()
            })
            .collect();
        let hashes: Vec<TxHash> = fresh.iter().map(SignedTransaction::hash).collect();
        let known: Vec<bool> = fresh.iter().zip(&hashes).map(|(t, h)| self.checked.contains(t, h)).collect();
        let unchecked: Vec<&SignedTransaction> =
            fresh.iter().zip(&known).filter(|(_, k)| !**k).map(|(t, _)| t).collect();
        let batch_ok = crate::execution::verify_transactions(&unchecked);
        let mut accepted = Vec::new();
        for ((tx, hash), known) in fresh.into_iter().zip(hashes).zip(known) {
            if !known {
                if !batch_ok && tx.verify().is_err() {
                    continue;
                }
                self.verified_now.push((hash, tx.signature));
            }
            let priority = crate::capability::priority(&tx.tx.payload);
            if self.mempool.insert(tx.clone(), priority).is_ok() {
                accepted.push(tx);
            }
        }
        accepted
    }

    /// A vote for a committed height that contradicts the vote its voter put in that
    /// height's certificate (same view and kind, another block) proves an equivocation,
    /// however late it arrives: a lie seen only after this node moved on is still caught.
    fn check_against_certificate(&mut self, vote: &Vote) {
        let h = vote.data.height;
        // Within the window of blocks in memory: a lie about an older height is not
        // looked for (its certificate is on disk only).
        let Some(cb) = self.committed.get(h) else { return };
        let cert = &cb.cert;
        let d = &vote.data;
        if d.view != cert.data.view || d.kind != cert.data.kind || d.block_hash == cert.data.block_hash {
            return;
        }
        let set = self.ledger.validators_at(h);
        let certified =
            vigil_protocol::forensics::certificate_votes(cert, set).into_iter().find(|v| v.voter == vote.voter);
        let Some(certified) = certified else { return };
        if vote.verify(set).is_err() {
            return;
        }
        self.submit_evidence(FaultEvidence::Equivocation {
            first: SignedStatement::Vote(certified),
            second: SignedStatement::Vote(vote.clone()),
        });
    }

    /// Turns proven misbehaviour into a transaction from this node's account.
    fn submit_evidence(&mut self, evidence: FaultEvidence) {
        let offender = evidence.accused();
        if !self.is_validator() || self.reported.contains(&offender) || self.set().get(&offender).is_none() {
            return;
        }
        let judged_by = self.ledger.validators_at(evidence.height());
        if evidence.verify(self.ledger.chain_id(), judged_by).is_err() {
            return;
        }
        self.reported.insert(offender);
        if self.submit_own(Payload::FaultEvidence(Box::new(evidence))) {
            self.out.push(Output::EvidenceSubmitted { offender });
        }
    }

    /// Submits a free transaction from this validator's own account (evidence, a
    /// checkpoint to record): pooled first and gossiped; `false` if the pool refused it.
    fn submit_own(&mut self, payload: Payload) -> bool {
        let account = Address::from_public_key(&self.cfg.key.public_key());
        // After this node's own transactions still pending, if any.
        let nonce = self.ledger.account(&account).nonce.0 + self.mempool.pending_from(&account) as u64;
        let tx = Transaction {
            chain_id: self.ledger.chain_id().clone(),
            sender: self.cfg.key.public_key(),
            nonce: Nonce(nonce),
            fee: Amount(0),
            payload,
        }
        .sign(&self.cfg.key);
        let pooled = self.mempool.insert(tx.clone(), true).is_ok();
        if pooled {
            self.out.push(Output::Broadcast(Message::Transactions(vec![tx])));
        }
        pooled
    }

    fn request_sync(&mut self, from: NodeId) {
        if self.sync_pending {
            return;
        }
        self.sync_pending = true;
        let from_height = self.height();
        self.out.push(Output::Send { to: from, message: Message::SyncRequest { from_height } });
        let retry = self.cfg.timeouts.sync_retry_ms;
        self.timer(TimerKind::Sync, View(0), retry);
    }

    fn serve_sync(&mut self, to: NodeId, from_height: Height) {
        let from = from_height.max(Height(1));
        if from > self.ledger.height() {
            return;
        }
        if self.committed.below(from) {
            self.out.push(Output::SendStored { to, from_height: from, max: SYNC_BATCH_BLOCKS_MAX });
            return;
        }
        let blocks = self.committed.range(from, SYNC_BATCH_BLOCKS_MAX);
        self.out.push(Output::Send { to, message: Message::SyncResponse(blocks) });
    }

    /// A peer is still working on a height this node committed: send it the blocks.
    fn serve_lagging_peer(&mut self, peer: NodeId, height: Height) {
        if self.sync_served.get(&peer) == Some(&height) {
            return;
        }
        self.sync_served.insert(peer, height);
        self.serve_sync(peer, height);
    }

    fn apply_sync(&mut self, from: NodeId, blocks: Vec<CommittedBlock>) {
        let next = self.height();
        if let Some(first) = blocks.iter().map(|cb| cb.block.header.height).filter(|h| *h >= next).min() {
            if first > next {
                // The peer no longer holds the height this node needs: it pruned it.
                self.on_sync_gap(from, next, first);
            }
        }
        let mut applied = false;
        let full = blocks.len() >= SYNC_BATCH_BLOCKS_MAX;
        // No more than this node asks for: a peer cannot make it check more certificates.
        for mut cb in blocks.into_iter().take(SYNC_BATCH_BLOCKS_MAX) {
            match cb.block.header.height.cmp(&self.height()) {
                std::cmp::Ordering::Less => {
                    self.check_for_fork(from, &cb);
                    continue;
                }
                std::cmp::Ordering::Greater => continue,
                std::cmp::Ordering::Equal => {}
            }
            if cb.block.header.parent_hash != self.ledger.last_hash() {
                // Certified on another parent: if the certificate holds, the fork is lower.
                self.check_parent(from, &cb.block.header);
                return;
            }
            let certified = cb.certified_header();
            if certified.verify(self.set()).is_err() {
                return;
            }
            let Ok(exec) = self.ledger.check_block(&cb.block) else {
                return;
            };
            // Keep the sender's justification only if it holds (it is only ever read
            // for forensics, which trusts nothing, but it is stored and served).
            if cb.justification.is_some() && !self.justification_holds(&cb) {
                cb.justification = None;
            }
            let receipts = exec.entries.clone();
            let state = match self.ledger.commit(&cb.block, exec) {
                Ok(state) => state,
                Err(e) => {
                    let height = cb.block.header.height;
                    return self.fatal(format!("synced block {height} checked, then failed to commit: {e}"));
                }
            };
            applied = true;
            self.after_commit(cb, receipts, state);
        }
        if applied {
            self.sync_pending = false;
            if full {
                self.request_sync(from);
            }
        }
    }
}

/// The highest view (or round) above `ours` that validators holding f+1 power have
/// reached, by what each was last seen at: at least one honest validator is there, so
/// joining it is safe and one Byzantine validator alone moves nobody.
fn skip_target<'a, V: Copy + Ord + 'a>(
    set: &ValidatorSet,
    reached: impl Iterator<Item = (&'a NodeId, &'a V)>,
    ours: V,
) -> Option<V> {
    let needed = set.fault_tolerance_power() + 1;
    let mut views: Vec<(V, u64)> =
        reached.filter(|(_, v)| **v > ours).filter_map(|(id, v)| set.get(id).map(|info| (*v, info.power))).collect();
    views.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
    let mut power = 0u64;
    for (v, p) in views {
        power = power.saturating_add(p);
        if power >= needed {
            return Some(v);
        }
    }
    None
}

impl SafetyState {
    pub(crate) fn fresh(height: Height, fast_view: View) -> Self {
        Self {
            height,
            signed: Vec::new(),
            fast_view,
            fast_acked: None,
            bft_round: Round(0),
            bft_locked: None,
            bft_valid: None,
            bft_valid_pol: Vec::new(),
            abstain_through: Height(0),
        }
    }

    /// What must hold of a safety state before it is made durable: it is the state of
    /// `height` (the height in progress), its votes are `me`'s at that height, and no
    /// slot (view or round, and kind) holds two of them — a second, different vote for
    /// one slot is equivocation, which an honest node never signs.
    pub(crate) fn check(&self, height: Height, me: NodeId) -> Result<(), String> {
        if self.height != height {
            return Err(format!("safety state of height {} while height {height} is in progress", self.height));
        }
        let mut slots = BTreeSet::new();
        for v in &self.signed {
            if v.data.height != height || v.voter != me {
                return Err(format!("safety state holds a vote at height {} by {}", v.data.height, v.voter.short()));
            }
            if !slots.insert((v.data.view, v.data.kind)) {
                return Err(format!("two votes signed for one slot (view {}, {:?})", v.data.view, v.data.kind));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
