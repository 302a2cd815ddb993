//! A bounded, cheap trace of what happened, formatted only when a seed fails.

use std::collections::VecDeque;
use std::fmt;

use vigil_protocol::{BlockHash, ConsensusMode, Height, NodeId, View, VoteKind};

use vigil_core::consensus::{Message, Timer};

/// Events kept for the failure report.
const TRACE_EVENTS_MAX: usize = 6000;

#[derive(Debug, Clone)]
pub enum TraceEvent {
    Deliver { to: usize, from: usize, what: MessageSummary },
    Timer { node: usize, timer: Timer },
    ClientTx { node: usize, client: usize },
    Crash(usize),
    Restart(usize),
    Wipe(usize),
    Commit { node: usize, height: Height, hash: BlockHash, mode: ConsensusMode },
    Evidence { node: usize, offender: Option<usize> },
    ForkProven { node: usize, height: Height, offenders: Vec<Option<usize>> },
    Violation(String),
    State { node: usize, line: String },
}

#[derive(Debug, Clone)]
pub enum MessageSummary {
    Proposal { height: Height, view: View, hash: BlockHash },
    Vote { height: Height, view: View, kind: VoteKind, hash: BlockHash, voter: NodeId },
    ViewChange { height: Height, view: View, acked: bool },
    Transactions(usize),
    SyncRequest(Height),
    SyncResponse(usize),
    Checkpoint { height: Height, signer: NodeId },
    Recovery,
}

impl TraceEvent {
    pub(super) fn deliver(to: usize, from: usize, m: &Message) -> Self {
        let what = match m {
            Message::Proposal(p) => {
                MessageSummary::Proposal { height: p.block.header.height, view: p.view, hash: p.block.header.hash() }
            }
            Message::Vote { vote, .. } => MessageSummary::Vote {
                height: vote.data.height,
                view: vote.data.view,
                kind: vote.data.kind,
                hash: vote.data.block_hash,
                voter: vote.voter,
            },
            Message::ViewChange(vc) => {
                let d = &vc.promise.data;
                MessageSummary::ViewChange { height: d.height, view: d.view, acked: d.acked.is_some() }
            }
            Message::Transactions(t) => MessageSummary::Transactions(t.len()),
            Message::SyncRequest { from_height } => MessageSummary::SyncRequest(*from_height),
            Message::SyncResponse(b) => MessageSummary::SyncResponse(b.len()),
            Message::Checkpoint(v) => MessageSummary::Checkpoint { height: v.digest.height, signer: v.signer },
            Message::RecoveryRequest(_)
            | Message::RecoveryAnswer(_)
            | Message::SnapshotRequest { .. }
            | Message::SnapshotChunk(_)
            | Message::ShardRequest(_)
            | Message::Shards(_) => MessageSummary::Recovery,
        };
        TraceEvent::Deliver { to, from, what }
    }
}

fn short(h: &BlockHash) -> String {
    h.to_string()[..8].to_string()
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceEvent::Deliver { to, from, what } => {
                write!(f, "n{from} → n{to}  ")?;
                match what {
                    MessageSummary::Proposal { height, view, hash } => {
                        write!(f, "proposal h={height} v={view} block {}", short(hash))
                    }
                    MessageSummary::Vote { height, view, kind, hash, voter } => {
                        write!(f, "{kind:?} h={height} v={view} block {} by {}", short(hash), voter.short())
                    }
                    MessageSummary::ViewChange { height, view, acked } => {
                        write!(f, "view-change h={height} to v={view} (acked: {acked})")
                    }
                    MessageSummary::Transactions(n) => write!(f, "{n} transaction(s)"),
                    MessageSummary::SyncRequest(h) => write!(f, "sync request from h={h}"),
                    MessageSummary::SyncResponse(n) => write!(f, "sync response with {n} block(s)"),
                    MessageSummary::Checkpoint { height, signer } => {
                        write!(f, "checkpoint vote h{height} by {signer}")
                    }
                    MessageSummary::Recovery => write!(f, "recovery request or answer"),
                }
            }
            TraceEvent::Timer { node, timer } => {
                write!(f, "n{node} timer {:?} h={} v={}", timer.kind, timer.height, timer.view)
            }
            TraceEvent::ClientTx { node, client } => {
                write!(f, "client {client} → n{node} transfer")
            }
            TraceEvent::Crash(n) => write!(f, "n{n} CRASHES"),
            TraceEvent::Restart(n) => write!(f, "n{n} restarts from disk"),
            TraceEvent::Wipe(n) => write!(f, "n{n} LOSES ITS WHOLE DISK"),
            TraceEvent::Commit { node, height, hash, mode } => {
                write!(f, "n{node} COMMITS h={height} block {} ({mode})", short(hash))
            }
            TraceEvent::Evidence { node, offender } => {
                write!(f, "n{node} submits evidence against n{offender:?}")
            }
            TraceEvent::ForkProven { node, height, offenders } => {
                write!(f, "n{node} PROVES A FORK at h={height}, caused by {offenders:?}")
            }
            TraceEvent::Violation(v) => write!(f, "VIOLATION: {v}"),
            TraceEvent::State { node, line } => write!(f, "n{node} at the end: {line}"),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Trace {
    events: VecDeque<(u64, TraceEvent)>,
}

impl Trace {
    pub(super) fn push(&mut self, at_ms: u64, e: TraceEvent) {
        if self.events.len() == TRACE_EVENTS_MAX {
            self.events.pop_front();
        }
        self.events.push_back((at_ms, e));
    }

    pub(super) fn into_events(self) -> Vec<(u64, TraceEvent)> {
        self.events.into_iter().collect()
    }
}
