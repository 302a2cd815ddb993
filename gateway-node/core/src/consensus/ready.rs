//! What one step asks of its caller: [`Ready`], in raft-rs's shape. The messages that
//! may leave at once; what to write durably, in one transaction; the messages that may
//! leave only after that write; timers; answers to clients; and what to tell the
//! operator. [`crate::carry::carry_out`] carries it out in that order, in the node and in
//! the simulator alike.

use vigil_protocol::{NodeId, ReceiptEntry, Signature, TxHash};

use super::{CheckpointJob, CommittedBlock, Message, Output, Rejection, RestoreJob, SafetyState, Settled, Timer};
use crate::execution::StateCommit;

/// A message for one peer, or for all of them.
#[derive(Debug, Clone)]
pub enum Outgoing {
    To(NodeId, Message),
    All(Message),
    /// Committed blocks older than those in memory, read by the caller from its storage
    /// and sent as a [`Message::SyncResponse`] (see [`Output::SendStored`]).
    Stored {
        to: NodeId,
        from_height: vigil_protocol::Height,
        max: usize,
    },
}

/// A committed block (the ledger already applied it), to be stored durably with its
/// receipts and the state version after it.
#[derive(Debug, Clone)]
pub struct Commit {
    pub committed: Box<CommittedBlock>,
    pub receipts: Vec<ReceiptEntry>,
    pub state: Box<StateCommit>,
}

/// What the operator is told (nothing is to be done about it but to log it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// This node proved a validator faulty and submitted the evidence.
    EvidenceSubmitted { offender: NodeId },
    /// Another certified block conflicts with one committed here (see
    /// [`Output::ForkProven`]).
    ForkProven { height: vigil_protocol::Height, theirs: vigil_protocol::BlockHash, offenders: Vec<NodeId> },
    /// A checkpoint height settled (see [`Settled`]).
    Checkpoint(Settled),
    /// A peer no longer holds the blocks this node needs (see [`Output::SyncGap`]).
    SyncGap { peer: NodeId, needed: vigil_protocol::Height, first: vigil_protocol::Height },
    /// Its peers pruned the blocks this node needs (see [`Output::FellBehind`]).
    FellBehind { needed: vigil_protocol::Height, first: vigil_protocol::Height },
}

/// The answer to one [`super::Input::Submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub ticket: u64,
    pub result: Result<(), Rejection>,
}

/// What the caller must do after a step, in this order.
#[derive(Debug, Clone, Default)]
pub struct Ready {
    /// An impossible state: nothing else here is to be carried out, the node stops.
    pub fatal: Option<String>,
    /// Messages that may leave now: they promise nothing the disk must remember first.
    pub messages: Vec<Outgoing>,
    /// Written durably in one transaction, before anything below.
    pub commits: Vec<Commit>,
    pub persist: Option<Box<SafetyState>>,
    /// Messages that may leave only once the write above is durable.
    pub persisted_messages: Vec<Outgoing>,
    pub timers: Vec<(Timer, u64)>,
    pub replies: Vec<Reply>,
    /// Transactions whose signatures the core checked itself, for the caller's cache
    /// (which tells later steps, through [`super::Verified`], what it checked).
    pub verified: Vec<(TxHash, Signature)>,
    pub notices: Vec<Notice>,
    /// Checkpoint digests to compute once the write is durable, off the consensus
    /// thread ([`Output::ComputeCheckpoint`]).
    pub checkpoints: Vec<CheckpointJob>,
    /// A recovering node's checkpoint to restore ([`Output::Restore`]).
    pub restores: Vec<RestoreJob>,
}

impl Ready {
    /// Sorts a step's outputs: a message goes before the write if no write was asked
    /// for before it, after the write otherwise ("persist before send" kept exactly; a
    /// send moved later never breaks it). The newest safety state supersedes older
    /// ones of the same step.
    pub fn from_outputs(outputs: Vec<Output>) -> Self {
        let mut ready = Ready::default();
        for out in outputs {
            let write_asked = ready.must_write();
            let mut send = |m: Outgoing| match write_asked {
                true => ready.persisted_messages.push(m),
                false => ready.messages.push(m),
            };
            match out {
                Output::Send { to, message } => send(Outgoing::To(to, message)),
                Output::Broadcast(message) => send(Outgoing::All(message)),
                Output::SendStored { to, from_height, max } => send(Outgoing::Stored { to, from_height, max }),
                Output::SetTimer { timer, after_ms } => ready.timers.push((timer, after_ms)),
                Output::Persist(safety) => ready.persist = Some(safety),
                Output::Commit { committed, receipts, state } => {
                    ready.commits.push(Commit { committed, receipts, state })
                }
                Output::EvidenceSubmitted { offender } => ready.notices.push(Notice::EvidenceSubmitted { offender }),
                Output::ForkProven { height, theirs, offenders } => {
                    ready.notices.push(Notice::ForkProven { height, theirs, offenders })
                }
                Output::ComputeCheckpoint(job) => ready.checkpoints.push(*job),
                Output::CheckpointSettled(settled) => ready.notices.push(Notice::Checkpoint(settled)),
                Output::Restore(job) => ready.restores.push(*job),
                Output::SyncGap { peer, needed, first } => ready.notices.push(Notice::SyncGap { peer, needed, first }),
                Output::FellBehind { needed, first } => ready.notices.push(Notice::FellBehind { needed, first }),
                Output::Fatal(reason) => return Ready { fatal: Some(reason), ..Ready::default() },
            }
        }
        ready
    }

    /// Whether there is anything to write before the later messages may leave.
    pub fn must_write(&self) -> bool {
        !self.commits.is_empty() || self.persist.is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.fatal.is_none()
            && self.messages.is_empty()
            && !self.must_write()
            && self.persisted_messages.is_empty()
            && self.timers.is_empty()
            && self.replies.is_empty()
            && self.verified.is_empty()
            && self.notices.is_empty()
            && self.checkpoints.is_empty()
            && self.restores.is_empty()
    }

    /// Appends the next step's `later`, to be carried out as one: its writes join this
    /// one's (its safety state is the newer), and if this one writes, none of `later`'s
    /// messages leaves before that write.
    pub fn merge(&mut self, later: Ready) {
        if self.fatal.is_some() {
            return;
        }
        if later.fatal.is_some() {
            *self = later;
            return;
        }
        if self.must_write() {
            self.persisted_messages.extend(later.messages);
        } else {
            self.messages.extend(later.messages);
        }
        self.commits.extend(later.commits);
        if later.persist.is_some() {
            self.persist = later.persist;
        }
        self.persisted_messages.extend(later.persisted_messages);
        self.timers.extend(later.timers);
        self.replies.extend(later.replies);
        self.verified.extend(later.verified);
        self.notices.extend(later.notices);
        self.checkpoints.extend(later.checkpoints);
        self.restores.extend(later.restores);
    }

    /// Merges transaction broadcasts into one, sent last (so that transactions admitted
    /// together travel in one message). Moving a send later never breaks "persist
    /// before send".
    pub fn coalesce_gossip(&mut self) {
        let mut txs = Vec::new();
        let mut take = |list: &mut Vec<Outgoing>| {
            list.retain_mut(|m| match m {
                Outgoing::All(Message::Transactions(t)) => {
                    txs.append(t);
                    false
                }
                _ => true,
            })
        };
        take(&mut self.messages);
        take(&mut self.persisted_messages);
        if txs.is_empty() {
            return;
        }
        let gossip = Outgoing::All(Message::Transactions(txs));
        match self.must_write() {
            false => self.messages.push(gossip),
            true => self.persisted_messages.push(gossip),
        }
    }

    /// Every message, in the order they leave (tests and benches).
    pub fn all_messages(&self) -> impl Iterator<Item = &Outgoing> {
        self.messages.iter().chain(&self.persisted_messages)
    }
}
