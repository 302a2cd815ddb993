//! What the caller tells a step about signatures it checked already: the node's
//! network task and API threads check transactions in parallel with the consensus
//! thread (and keep a cache of what they checked), so the core need not check them
//! again. Keyed by the transaction's id *and* its signature: the id covers only the
//! signed body, so a copy with another signature is checked here.

use std::collections::BTreeMap;

use vigil_protocol::{Signature, SignedTransaction, TxHash};

/// Transactions whose signatures the caller verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified(BTreeMap<TxHash, Signature>);

impl Verified {
    /// Nothing checked: the core checks every signature itself.
    pub fn none() -> Self {
        Self::default()
    }

    /// Every one of `txs` (the caller checked them all).
    pub fn all(txs: &[SignedTransaction]) -> Self {
        Self(txs.iter().map(|t| (t.hash(), t.signature)).collect())
    }

    pub fn insert(&mut self, hash: TxHash, signature: Signature) {
        self.0.insert(hash, signature);
    }

    /// Whether this transaction (with its id) is one the caller checked.
    pub fn contains(&self, tx: &SignedTransaction, hash: &TxHash) -> bool {
        self.0.get(hash) == Some(&tx.signature)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
