//! Equivocation detector: remembers the first vote each validator cast for each slot
//! (height, view, kind) and turns a second, different one into [`FaultEvidence`].
//! Votes must be signature-checked before they are observed.

use std::collections::BTreeMap;

use vigil_protocol::evidence::SignedStatement;
use vigil_protocol::{FaultEvidence, Height, NodeId, View, Vote, VoteKind};

/// Slots remembered per validator and height are bounded by views seen; old heights are pruned.
#[derive(Debug, Default, Clone)]
pub struct Detector {
    seen: BTreeMap<(Height, NodeId, View, VoteKind), Vote>,
}

impl Detector {
    /// Records `vote`; returns evidence if the voter already signed something else for
    /// the same slot.
    pub fn observe(&mut self, vote: &Vote) -> Option<FaultEvidence> {
        let d = &vote.data;
        let key = (d.height, vote.voter, d.view, d.kind);
        match self.seen.get(&key) {
            None => {
                self.seen.insert(key, vote.clone());
                None
            }
            Some(first) if first.data == vote.data => None,
            Some(first) => Some(FaultEvidence::Equivocation {
                first: SignedStatement::Vote(first.clone()),
                second: SignedStatement::Vote(vote.clone()),
            }),
        }
    }

    /// Votes remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Forgets votes below `height`.
    pub fn prune_below(&mut self, height: Height) {
        self.seen = self.seen.split_off(&(height, NodeId::default(), View(0), VoteKind::Ack));
    }
}
