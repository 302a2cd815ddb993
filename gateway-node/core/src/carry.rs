//! Carrying out a [`Ready`]: the one piece of code that decides in what order a node's
//! decisions reach the world, run by the node process (redb, Noise links, tokio
//! timers) and by the simulator (a simulated disk and network) alike, each through its
//! [`Env`]. Messages that may leave now, then one durable write, then the messages
//! that depended on it; a write that fails, or a state that must not happen, stops the
//! node before anything after it leaves.

use vigil_protocol::{Height, NodeId, Signature, TxHash};

use crate::consensus::ready::{Commit, Notice, Outgoing, Ready, Reply};
use crate::consensus::{CheckpointJob, Message, RestoreJob, SafetyState, Timer};

/// The world a node's decisions are carried out in.
pub trait Env {
    /// Why a write did not become durable.
    type WriteError: core::fmt::Display;

    fn send(&mut self, to: &NodeId, message: &Message);
    fn broadcast(&mut self, message: &Message);
    /// Sends `to` up to `max` committed blocks from `from` on, read from storage, as a
    /// [`Message::SyncResponse`].
    fn send_stored(&mut self, to: &NodeId, from: Height, max: usize);
    fn set_timer(&mut self, timer: Timer, after_ms: u64);
    /// Writes the committed blocks and the newest safety state in one durable
    /// transaction. An error stops the node: nothing after it is carried out.
    fn write(&mut self, commits: &[Commit], safety: Option<&SafetyState>) -> Result<(), Self::WriteError>;
    /// After the write: the blocks are durable (clients waiting for them are told).
    fn committed(&mut self, commits: Vec<Commit>);
    fn reply(&mut self, reply: Reply);
    /// Signatures the core checked, for the cache that spares checking them again.
    fn verified(&mut self, signatures: Vec<(TxHash, Signature)>);
    fn notice(&mut self, notice: Notice);
    /// After the write: computes a checkpoint's digest (off the consensus thread, if it
    /// has others) and hands it back as [`crate::consensus::Input::CheckpointComputed`].
    fn compute_checkpoint(&mut self, job: CheckpointJob);
    /// A recovering node's checkpoint: fetch its snapshot, rebuild and check the state,
    /// and hand the ledger back as [`crate::consensus::Input::Restored`] (or
    /// [`crate::consensus::Input::RestoreFailed`]).
    fn restore(&mut self, job: RestoreJob);
}

/// Why a node stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop<W> {
    /// The core reached a state that must not happen ([`crate::consensus::Output::Fatal`]).
    Fatal(String),
    /// A write did not become durable: a node that cannot persist must not vote.
    WriteFailed(W),
}

impl<W: core::fmt::Display> core::fmt::Display for Stop<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Stop::Fatal(reason) => write!(f, "consensus reached a state that must not happen: {reason}"),
            Stop::WriteFailed(e) => write!(f, "cannot persist a committed block or the safety state: {e}"),
        }
    }
}

fn send<E: Env>(env: &mut E, messages: &[Outgoing]) {
    for m in messages {
        match m {
            Outgoing::To(to, message) => env.send(to, message),
            Outgoing::All(message) => env.broadcast(message),
            Outgoing::Stored { to, from_height, max } => env.send_stored(to, *from_height, *max),
        }
    }
}

/// Carries out `ready` in order; `Err` when the node must stop (nothing after the
/// cause was carried out).
pub fn carry_out<E: Env>(env: &mut E, ready: Ready) -> Result<(), Stop<E::WriteError>> {
    let Ready {
        fatal,
        messages,
        commits,
        persist,
        persisted_messages,
        timers,
        replies,
        verified,
        notices,
        checkpoints,
        restores,
    } = ready;
    if let Some(reason) = fatal {
        return Err(Stop::Fatal(reason));
    }
    if !verified.is_empty() {
        env.verified(verified);
    }
    send(env, &messages);
    if !commits.is_empty() || persist.is_some() {
        env.write(&commits, persist.as_deref()).map_err(Stop::WriteFailed)?;
    }
    send(env, &persisted_messages);
    for (timer, after_ms) in timers {
        env.set_timer(timer, after_ms);
    }
    if !commits.is_empty() {
        env.committed(commits);
    }
    for reply in replies {
        env.reply(reply);
    }
    for notice in notices {
        env.notice(notice);
    }
    for job in checkpoints {
        env.compute_checkpoint(job);
    }
    for job in restores {
        env.restore(job);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{Output, TimerKind};
    use vigil_protocol::View;

    /// Records what was carried out, in order; fails the write when told to.
    #[derive(Default)]
    struct Recorder {
        log: Vec<String>,
        fail_write: bool,
    }

    impl Env for Recorder {
        type WriteError = &'static str;
        fn send(&mut self, to: &NodeId, _: &Message) {
            self.log.push(format!("send {}", to.short()));
        }
        fn broadcast(&mut self, message: &Message) {
            self.log.push(format!("broadcast {}", matches!(message, Message::Transactions(_))));
        }
        fn send_stored(&mut self, to: &NodeId, from: Height, _: usize) {
            self.log.push(format!("stored {} {from}", to.short()));
        }
        fn set_timer(&mut self, _: Timer, after_ms: u64) {
            self.log.push(format!("timer {after_ms}"));
        }
        fn write(&mut self, commits: &[Commit], safety: Option<&SafetyState>) -> Result<(), &'static str> {
            if self.fail_write {
                return Err("disk full");
            }
            self.log.push(format!("write {} {}", commits.len(), safety.map_or(0, |s| s.height.0)));
            Ok(())
        }
        fn committed(&mut self, commits: Vec<Commit>) {
            self.log.push(format!("committed {}", commits.len()));
        }
        fn reply(&mut self, reply: Reply) {
            self.log.push(format!("reply {}", reply.ticket));
        }
        fn verified(&mut self, signatures: Vec<(TxHash, Signature)>) {
            self.log.push(format!("verified {}", signatures.len()));
        }
        fn notice(&mut self, _: Notice) {
            self.log.push("notice".into());
        }
        fn compute_checkpoint(&mut self, job: CheckpointJob) {
            self.log.push(format!("checkpoint {}", job.height));
        }
        fn restore(&mut self, job: RestoreJob) {
            self.log.push(format!("restore {}", job.checkpoint.digest.height));
        }
    }

    fn safety(height: u64) -> Box<SafetyState> {
        Box::new(SafetyState::fresh(Height(height), View(0)))
    }

    fn peer() -> NodeId {
        NodeId::from_public_key(&vigil_protocol::SecretKey::from_seed([5; 32]).public_key())
    }

    fn timer() -> Timer {
        Timer { kind: TimerKind::Sync, height: Height(1), view: View(0) }
    }

    #[test]
    fn a_message_asked_for_after_a_write_leaves_only_after_it() {
        let ready = Ready::from_outputs(vec![
            Output::Send { to: peer(), message: Message::SyncRequest { from_height: Height(1) } },
            Output::Persist(safety(1)),
            Output::Broadcast(Message::Transactions(vec![])),
            Output::Persist(safety(2)),
            Output::SetTimer { timer: timer(), after_ms: 5 },
        ]);
        let mut env = Recorder::default();
        carry_out(&mut env, ready).unwrap();
        let want = [format!("send {}", peer().short()), "write 0 2".into(), "broadcast true".into(), "timer 5".into()];
        assert_eq!(env.log, want, "the newest safety state is written once, before the broadcast");
    }

    #[test]
    fn a_failed_write_or_a_fatal_state_stops_before_anything_after_it() {
        let ready = Ready::from_outputs(vec![
            Output::Persist(safety(1)),
            Output::Broadcast(Message::Transactions(vec![])),
            Output::SetTimer { timer: timer(), after_ms: 5 },
        ]);
        let mut env = Recorder { fail_write: true, ..Recorder::default() };
        assert_eq!(carry_out(&mut env, ready), Err(Stop::WriteFailed("disk full")));
        assert!(env.log.is_empty(), "nothing left: {:?}", env.log);

        let fatal = Ready::from_outputs(vec![
            Output::Broadcast(Message::Transactions(vec![])),
            Output::Fatal("a checked block failed to commit".into()),
        ]);
        let mut env = Recorder::default();
        assert!(matches!(carry_out(&mut env, fatal), Err(Stop::Fatal(_))));
        assert!(env.log.is_empty(), "{:?}", env.log);
    }

    #[test]
    fn a_later_step_merged_in_sends_nothing_before_the_earlier_write() {
        let mut ready = Ready::from_outputs(vec![Output::Persist(safety(1))]);
        ready.merge(Ready::from_outputs(vec![
            Output::Send { to: peer(), message: Message::SyncRequest { from_height: Height(1) } },
            Output::Persist(safety(2)),
        ]));
        let mut env = Recorder::default();
        carry_out(&mut env, ready).unwrap();
        assert_eq!(env.log, ["write 0 2".to_string(), format!("send {}", peer().short())]);
    }
}
