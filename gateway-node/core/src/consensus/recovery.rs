//! Recovery of a node that lost its data (patent 8's flow). The node starts with
//! nothing but the genesis and its key, signs nothing, and broadcasts a
//! [`RecoveryRequest`] with a fresh nonce; every peer answers with a
//! [`RecoveryAnswer`] (the "recovery indication"): the height it is working on, its Fast
//! view, its latest stable checkpoint and the certified validator-set changes that lead
//! to that checkpoint's set. Once the peers that answered hold a quorum of the set in
//! force (the Bft quorum, counting this node's own power as absent), the newest
//! checkpoint that verifies — signatures checked against the set reached from the
//! genesis set through certified changes — is handed to the caller ([`RestoreJob`]),
//! which downloads its snapshot in chunks from the peers that hold it, rebuilds the state
//! and checks its root, and hands back the ledger ([`super::Input::Restored`]).
//!
//! A restored validator has forgotten what it signed before it lost its data. It signs
//! nothing up to and including the height after the highest one a peer reported working
//! on ([`SafetyState::abstain_through`]), and never promises or acks below the highest
//! Fast view reported: the quorum of answers meets every quorum that let this node sign
//! at a height, so no height or view it may have signed at is signed again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vigil_protocol::{
    follow_set_changes, CertifiedHeader, ConsensusMode, Genesis, Height, NodeId, SetChange, StableCheckpoint,
    ValidatorSet, View,
};

use super::{CommittedBlock, Message, Output, SafetyState, TimerKind};
use crate::execution::Ledger;

/// Most certified set changes one answer may carry (each jails a validator: far more
/// than any set can lose).
pub const RECOVERY_SET_CHANGES_MAX: usize = 256;

/// Peers that should hold the checkpoint a node restores (it takes an older one that
/// this many hold over a newer one fewer do).
pub const RESTORE_PEERS_PREFERRED: usize = 2;

/// A node that lost its data asks its peers how to recover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryRequest {
    /// Fresh for each recovery, so an answer to an earlier one is not taken for a new one.
    pub nonce: u64,
}

/// A peer's answer to a [`RecoveryRequest`] (the recovery indication).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryAnswer {
    pub nonce: u64,
    /// The height the peer is working on.
    pub height: Height,
    /// The highest Fast view the peer knows of.
    pub fast_view: View,
    /// Its latest stable checkpoint, if any.
    pub checkpoint: Option<StableCheckpoint>,
    /// Certified set changes from the genesis set up to the checkpoint's height.
    pub set_changes: Vec<SetChange>,
}

/// What the caller does for a recovering node: fetch the checkpoint's snapshot (from
/// `peers`, which hold it), rebuild the state, check it against the checkpoint, and hand
/// back [`super::Input::Restored`] — or [`super::Input::RestoreFailed`] if no peer served
/// it whole.
#[derive(Debug, Clone)]
pub struct RestoreJob {
    pub checkpoint: StableCheckpoint,
    /// The set that signed it (verified).
    pub set: ValidatorSet,
    pub peers: Vec<NodeId>,
    /// The certified set changes that lead to `set` (to store with the state: a
    /// restarted node gives them to recovering peers in turn).
    pub set_changes: Vec<SetChange>,
    /// The safety state the node holds once restored (the height after the checkpoint,
    /// the abstention bound, the Fast view floor): stored with the rebuilt state in one
    /// write, so a crash right after it cannot bring the node back without the bound.
    pub safety: SafetyState,
}

/// Where a recovering node is.
#[derive(Debug, Clone)]
pub(super) struct Recovery {
    nonce: u64,
    answers: BTreeMap<NodeId, RecoveryAnswer>,
    /// The restore handed to the caller, waiting for its result.
    restoring: Option<Chosen>,
    /// Enough peers answered: the wait for the others is armed, or over.
    grace_armed: bool,
    grace_over: bool,
}

/// The recovery timer's "view" for the wait for the last answers (0: ask again).
const GRACE_TIMER: View = View(1);
/// How long the last answers are waited for, in sync retry intervals (a peer's link
/// back to a node that was down may be in its reconnect backoff).
const GRACE_SYNC_RETRIES: u64 = 5;

/// A checkpoint chosen from the answers (none: genesis), and what the answers bound.
#[derive(Debug, Clone)]
struct Chosen {
    checkpoint: Option<StableCheckpoint>,
    set_changes: Vec<SetChange>,
    abstain_through: Height,
    fast_view: View,
}

impl Chosen {
    /// The safety state of a node that joins at `height` with these bounds.
    fn safety(&self, height: Height) -> SafetyState {
        SafetyState { abstain_through: self.abstain_through, ..SafetyState::fresh(height, self.fast_view) }
    }
}

impl Recovery {
    pub(super) fn new(nonce: u64) -> Self {
        Self { nonce, answers: BTreeMap::new(), restoring: None, grace_armed: false, grace_over: false }
    }
}

impl super::Node {
    /// A node that lost its data: it recovers from its peers before it does anything
    /// else (`nonce`: fresh randomness from the caller).
    pub fn recovering(cfg: super::Config, genesis: &Genesis, nonce: u64) -> Result<Self, super::RestoreError> {
        let mut node = Self::new(cfg, genesis)?;
        node.recovery = Some(Recovery::new(nonce));
        Ok(node)
    }

    /// Whether this node is still recovering (it takes part in nothing yet).
    pub fn is_recovering(&self) -> bool {
        self.recovery.is_some()
    }

    /// The certified set changes this node knows of, oldest first (given by the caller
    /// from its storage on a restart; extended at each commit that changes the set).
    pub fn with_set_changes(mut self, changes: Vec<SetChange>) -> Self {
        self.set_changes = changes;
        self
    }

    /// After committing `committed`: remember it if it changed the set.
    pub(super) fn note_set_change(&mut self, committed: &CommittedBlock) {
        let h = &committed.block.header;
        if h.next_validator_set_hash != h.validator_set_hash {
            let certified = CertifiedHeader { header: h.clone(), cert: committed.cert.clone() };
            self.set_changes.push(SetChange { certified, next: self.ledger.validators().clone() });
        }
    }

    /// A recovering node's step: ask, gather answers, restore.
    pub(super) fn recovery_step(&mut self, input: super::Input) {
        match input {
            super::Input::Start => self.ask_for_recovery(),
            // View 1: the wait for the last answers is over; view 0: ask again.
            super::Input::Timeout(t) if t.kind == TimerKind::Recovery && t.view == GRACE_TIMER => {
                if let Some(r) = self.recovery.as_mut() {
                    r.grace_over = true;
                }
                self.try_restore();
            }
            super::Input::Timeout(t) if t.kind == TimerKind::Recovery => self.ask_for_recovery(),
            super::Input::Message { from, message: Message::RecoveryAnswer(answer), .. } => {
                self.on_recovery_answer(from, *answer)
            }
            super::Input::Restored(ledger) => self.on_restored(*ledger),
            super::Input::RestoreFailed => {
                if let Some(r) = self.recovery.as_mut() {
                    r.restoring = None;
                    r.answers.clear();
                    (r.grace_armed, r.grace_over) = (false, false);
                }
                self.ask_for_recovery();
            }
            // Anything else waits until the node has recovered: it signs nothing.
            _ => {}
        }
    }

    fn ask_for_recovery(&mut self) {
        let Some(r) = &self.recovery else { return };
        if r.restoring.is_some() {
            return;
        }
        let nonce = r.nonce;
        self.out.push(Output::Broadcast(Message::RecoveryRequest(RecoveryRequest { nonce })));
        let retry = self.cfg.timeouts.sync_retry_ms.saturating_mul(2);
        self.timer(TimerKind::Recovery, View(0), retry);
    }

    /// A peer asks how to recover: this node's indication (nothing while it recovers).
    pub(super) fn on_recovery_request(&mut self, from: NodeId, request: RecoveryRequest) {
        if self.recovery.is_some() || from == self.me {
            return;
        }
        let checkpoint = self.checkpoints.latest().cloned();
        let through = checkpoint.as_ref().map_or(Height(0), |c| c.digest.height);
        let set_changes: Vec<SetChange> = self
            .set_changes
            .iter()
            .filter(|c| c.certified.header.height <= through)
            .take(RECOVERY_SET_CHANGES_MAX)
            .cloned()
            .collect();
        let answer = RecoveryAnswer {
            nonce: request.nonce,
            height: self.height(),
            fast_view: self.safety.fast_view,
            checkpoint,
            set_changes,
        };
        self.out.push(Output::Send { to: from, message: Message::RecoveryAnswer(Box::new(answer)) });
    }

    fn on_recovery_answer(&mut self, from: NodeId, answer: RecoveryAnswer) {
        let Some(r) = self.recovery.as_mut() else { return };
        if answer.nonce != r.nonce || r.restoring.is_some() || answer.set_changes.len() > RECOVERY_SET_CHANGES_MAX {
            return;
        }
        r.answers.insert(from, answer);
        self.try_restore();
    }

    /// The newest checkpoint among the answers that verifies, once the answerers hold a
    /// quorum of its set without this node. If none of a quorum of the genesis set has a
    /// checkpoint yet, the node starts from genesis (and replays the blocks from peers).
    fn try_restore(&mut self) {
        let Some(r) = self.recovery.as_ref().filter(|r| r.restoring.is_none()) else { return };
        let genesis_set = self.ledger.validators_at(Height(1)).clone();
        let chain = self.ledger.chain_id().clone();
        let mut candidates: Vec<&RecoveryAnswer> = r.answers.values().filter(|a| a.checkpoint.is_some()).collect();
        candidates.sort_by_key(|a| std::cmp::Reverse(a.checkpoint.as_ref().map(|c| c.digest.height)));
        let verified: Vec<_> = candidates
            .into_iter()
            .filter_map(|a| {
                let checkpoint = a.checkpoint.as_ref()?;
                let changes_ok = a.set_changes.iter().all(|c| c.certified.header.height <= checkpoint.digest.height);
                let set = follow_set_changes(&genesis_set, &a.set_changes).ok().filter(|_| changes_ok)?;
                checkpoint.verify(&chain, &set).ok()?;
                Some((checkpoint.clone(), set, a.set_changes.clone()))
            })
            .collect();
        // The newest that several peers hold (the download survives one that serves
        // bad chunks); else the newest. Peers hold one digest with other quorums of
        // signatures: they are counted by digest.
        let holders = |c: &StableCheckpoint| -> Vec<NodeId> {
            let digest = &c.digest;
            let holds = |a: &RecoveryAnswer| a.checkpoint.as_ref().is_some_and(|h| h.digest == *digest);
            r.answers.iter().filter(|(_, a)| holds(a)).map(|(id, _)| *id).collect()
        };
        let verified =
            verified.iter().find(|(c, _, _)| holders(c).len() >= RESTORE_PEERS_PREFERRED).or(verified.first()).cloned();
        let none_yet = r.answers.values().all(|a| a.checkpoint.is_none());
        let set = match &verified {
            Some((_, set, _)) => set,
            None if none_yet => &genesis_set,
            None => return,
        };
        if !self.enough_indications(set) {
            return;
        }
        // Enough answered; the others get a moment more (more peers serve the snapshot,
        // and every answer can only raise the abstention bound), unless all are in.
        let everyone = set.validators().iter().all(|v| v.id == self.me || r.answers.contains_key(&v.id));
        if !everyone && !r.grace_over {
            if !r.grace_armed {
                if let Some(r) = self.recovery.as_mut() {
                    r.grace_armed = true;
                }
                let wait = self.cfg.timeouts.sync_retry_ms.saturating_mul(GRACE_SYNC_RETRIES);
                self.timer(TimerKind::Recovery, GRACE_TIMER, wait);
            }
            return;
        }
        let highest = r.answers.values().map(|a| a.height).max().unwrap_or(Height(0));
        let fast_view = r.answers.values().map(|a| a.fast_view).max().unwrap_or(View(0));
        let abstain_through = highest.next();
        let Some((checkpoint, set, set_changes)) = verified else {
            // No checkpoint anywhere yet: from genesis, which this node holds.
            return self.join(Chosen { checkpoint: None, set_changes: Vec::new(), abstain_through, fast_view });
        };
        let peers = holders(&checkpoint);
        let chosen = Chosen {
            checkpoint: Some(checkpoint.clone()),
            set_changes: set_changes.clone(),
            abstain_through,
            fast_view,
        };
        let safety = chosen.safety(checkpoint.digest.height.next());
        if let Some(r) = self.recovery.as_mut() {
            r.restoring = Some(chosen);
        }
        self.out.push(Output::Restore(Box::new(RestoreJob { checkpoint, set, peers, set_changes, safety })));
    }

    /// Whether the peers that answered, without this node, hold a Bft quorum of `set`
    /// (this node's own power counted as if it had answered: it may be the one that
    /// is missing from every quorum).
    fn enough_indications(&self, set: &ValidatorSet) -> bool {
        let Some(r) = &self.recovery else { return false };
        let answered = r.answers.keys().filter(|id| **id != self.me).filter_map(|id| set.get(id)).map(|v| v.power);
        let answered_power = answered.fold(0u64, u64::saturating_add);
        let own = set.get(&self.me).map_or(0, |v| v.power);
        answered_power > 0 && answered_power.saturating_add(own) >= set.quorum_power(ConsensusMode::Bft)
    }

    /// The caller rebuilt the state at the checkpoint: the node joins from the next
    /// height, signing nothing through the bound the answers set.
    fn on_restored(&mut self, ledger: Ledger) {
        let Some(chosen) = self.recovery.as_mut().and_then(|r| r.restoring.take()) else { return };
        // The ledger must be the chosen checkpoint's state.
        let at_checkpoint = chosen.checkpoint.as_ref().is_some_and(|c| {
            c.digest.height == ledger.height()
                && c.digest.block_hash == ledger.last_hash()
                && ledger.state_root().ok() == Some(c.digest.state_root)
        });
        if !at_checkpoint {
            self.recovery_step(super::Input::RestoreFailed);
            return;
        }
        self.ledger = ledger;
        self.join(chosen);
    }

    /// Leaves recovery at the ledger's height (the chosen checkpoint's, or genesis).
    fn join(&mut self, chosen: Chosen) {
        self.recovery = None;
        self.safety = chosen.safety(self.height());
        self.set_changes = chosen.set_changes;
        if let Some(checkpoint) = chosen.checkpoint {
            self.checkpoints.restored(checkpoint);
        }
        self.persist();
        self.enter_height();
    }

    /// Whether this node may sign at the height in progress (a restored validator waits
    /// out the heights it may have signed at before it lost its data).
    pub(super) fn may_sign(&self) -> bool {
        self.height() > self.safety.abstain_through
    }
}
