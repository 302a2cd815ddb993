//! The pending-transaction pool that proposers draw from: deduplicated by hash, FIFO,
//! bounded. Fault evidence jumps the queue, since it changes who may vote.

use std::collections::{BTreeMap, VecDeque};

use vigil_protocol::{SignedTransaction, TxHash};

#[derive(Debug, Clone)]
pub struct Mempool {
    txs: BTreeMap<TxHash, SignedTransaction>,
    order: VecDeque<TxHash>,
    capacity: usize,
}

/// Why a transaction was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    #[error("transaction is already pending")]
    Duplicate,
    #[error("mempool is full ({0} transactions); retry later")]
    Full(usize),
}

impl Mempool {
    pub fn new(capacity: usize) -> Self {
        Self { txs: BTreeMap::new(), order: VecDeque::new(), capacity }
    }

    pub fn len(&self) -> usize {
        self.txs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    pub fn contains(&self, hash: &TxHash) -> bool {
        self.txs.contains_key(hash)
    }

    /// Adds at the back (or the front, for evidence).
    pub fn insert(&mut self, tx: SignedTransaction, priority: bool) -> Result<(), MempoolError> {
        let hash = tx.hash();
        if self.txs.contains_key(&hash) {
            return Err(MempoolError::Duplicate);
        }
        if self.txs.len() >= self.capacity {
            return Err(MempoolError::Full(self.capacity));
        }
        self.txs.insert(hash, tx);
        if priority {
            self.order.push_front(hash);
        } else {
            self.order.push_back(hash);
        }
        Ok(())
    }

    /// The first `n` pending transactions, oldest first (evidence first of all).
    pub fn peek(&self, n: usize) -> Vec<SignedTransaction> {
        self.order.iter().filter_map(|h| self.txs.get(h)).take(n).cloned().collect()
    }

    /// Forgets transactions that were committed.
    pub fn remove_committed<'a>(&mut self, hashes: impl IntoIterator<Item = &'a TxHash>) {
        let mut removed = false;
        for h in hashes {
            removed |= self.txs.remove(h).is_some();
        }
        if removed {
            let txs = &self.txs;
            self.order.retain(|h| txs.contains_key(h));
        }
    }
}
