//! The committed ledger at one height, frozen ([`LedgerView`]): what the node's API threads
//! read and prove from while the consensus thread goes on executing. Taking one costs
//! O(1) in the size of the state (the state tree is a persistent map).

use vigil_protocol::{
    Address, BlockHash, ChainId, ConsensusMode, Height, StateKey, StateProof, StateSnapshot, ValidatorSet,
};

use super::{AccountState, ConsensusState, Ledger, LedgerError, LedgerMeta};

/// A [`Ledger`]'s committed state at one height, read-only.
#[derive(Debug, Clone)]
pub struct LedgerView {
    chain_id: ChainId,
    meta: LedgerMeta,
    consensus: ConsensusState,
    state: StateSnapshot,
    tables: super::TableMaps,
}

impl Ledger {
    /// The committed state as it is now, frozen.
    pub fn view(&self) -> LedgerView {
        LedgerView {
            chain_id: self.chain_id.clone(),
            meta: self.meta.clone(),
            consensus: self.consensus.clone(),
            state: self.tree.snapshot(),
            tables: self.tables.clone(),
        }
    }
}

super::committed_reads!(LedgerView);

impl LedgerView {
    /// An account (all zero if it never received anything).
    pub fn account(&self, address: &Address) -> AccountState {
        self.state::<AccountState>(&StateKey::Account(*address)).unwrap_or_default()
    }

    /// Every live state entry, `(key hash, value)` in ascending key order: a scan of the
    /// whole state, for the node to run off the consensus thread.
    pub fn entries(&self) -> impl Iterator<Item = (vigil_protocol::Hash32, Vec<u8>)> + '_ {
        self.state.entries()
    }

    /// A typed state entry, if present and readable.
    pub fn state<T: serde::de::DeserializeOwned>(&self, key: &StateKey) -> Option<T> {
        self.state.get(key).and_then(|b| vigil_protocol::encoding::from_bytes(&b).ok())
    }

    /// A table's ordered map (`None`: no such table): what a scan is proven from.
    pub fn table_map(&self, table: &str) -> Option<&vigil_protocol::tables::ordered::OrderedMap> {
        self.tables.get(table)
    }

    /// A state entry with its proof against this height's state root.
    pub fn prove(&self, key: &StateKey) -> Result<(Option<Vec<u8>>, StateProof), LedgerError> {
        Ok(self.state.get_with_proof(key)?)
    }
}
