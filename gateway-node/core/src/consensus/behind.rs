//! A node that fell behind its peers' retention window: they pruned the blocks it needs
//! next, so it cannot catch up by sync; it must be restored from a stable checkpoint
//! ([`super::recovery`]). Each peer that answers a sync request with blocks starting
//! above the height needed says so ([`Output::SyncGap`]); once the peers that said it
//! for the height in progress hold more than the set's fault tolerance (so at least one
//! honest peer really pruned it) and, with this node, a Bft quorum (so no quorum is left
//! that could still serve the blocks), the node reports [`Output::FellBehind`], once per
//! height. A Byzantine minority alone can never send a node into recovery.

use vigil_protocol::{ConsensusMode, Height, NodeId};

use super::Output;

impl super::Node {
    /// A peer answered a sync request for `needed` with blocks from `first` on.
    pub(super) fn on_sync_gap(&mut self, from: NodeId, needed: Height, first: Height) {
        self.out.push(Output::SyncGap { peer: from, needed, first });
        if from == self.me || needed != self.height() || self.fell_behind_at == Some(needed) {
            return;
        }
        self.sync_gaps.retain(|_, at| *at == needed);
        self.sync_gaps.insert(from, needed);
        let set = self.ledger.validators();
        let power = |id: &NodeId| set.get(id).map_or(0, |v| v.power);
        let said = self.sync_gaps.keys().map(power).fold(0, u64::saturating_add);
        let own = power(&self.me);
        if said > set.fault_tolerance_power() && said.saturating_add(own) >= set.quorum_power(ConsensusMode::Bft) {
            self.fell_behind_at = Some(needed);
            self.out.push(Output::FellBehind { needed, first });
        }
    }
}
