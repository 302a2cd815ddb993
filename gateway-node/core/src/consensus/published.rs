//! What a node shows the world after a durable commit ([`NodeView`]): its committed ledger
//! frozen at that height, the certified header a light client checks it against, and the
//! consensus status. The shell publishes one after each write; API threads read it and
//! never touch the [`Node`], which the consensus thread owns outright.

use vigil_protocol::{CertifiedHeader, StableCheckpoint};

use super::{Node, Status};
use crate::execution::LedgerView;

/// A node's committed state at one height, read-only and cheap to take.
#[derive(Debug, Clone)]
pub struct NodeView {
    /// The committed ledger (state, validators, mode) at [`LedgerView::height`].
    pub ledger: LedgerView,
    /// The header of that height with its certificate (`None` at genesis).
    pub header: Option<CertifiedHeader>,
    pub status: Status,
    /// The newest stable checkpoint this node gathered.
    pub checkpoint: Option<StableCheckpoint>,
    /// The newest ones it keeps, oldest first (the last is `checkpoint`).
    pub checkpoints: std::sync::Arc<Vec<StableCheckpoint>>,
}

impl Node {
    /// The committed state now, frozen (see [`NodeView`]).
    pub fn view(&self) -> NodeView {
        let ledger = self.ledger.view();
        let header = self
            .last_committed()
            .filter(|cb| cb.block.header.height == ledger.height())
            .map(super::CommittedBlock::certified_header);
        NodeView {
            ledger,
            header,
            status: self.status(),
            checkpoint: self.stable_checkpoint().cloned(),
            checkpoints: self.checkpoints.recent(),
        }
    }
}
