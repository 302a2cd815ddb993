//! The pending-transaction pool that proposers draw from: deduplicated by hash, FIFO,
//! bounded. Fault evidence jumps the queue, since it changes who may vote.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use vigil_protocol::{Address, SignedTransaction, TxHash};

#[derive(Debug, Clone)]
pub struct Mempool {
    txs: BTreeMap<TxHash, (SignedTransaction, Address)>,
    /// Pending nonces of each sender.
    by_sender: BTreeMap<Address, BTreeMap<u64, TxHash>>,
    order: VecDeque<TxHash>,
    capacity: usize,
}

/// Why a transaction was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    #[error("this transaction, or another with the same sender and nonce, is already pending")]
    Duplicate,
    #[error("mempool is full ({0} transactions); retry later")]
    Full(usize),
}

impl Mempool {
    pub fn new(capacity: usize) -> Self {
        Self { txs: BTreeMap::new(), by_sender: BTreeMap::new(), order: VecDeque::new(), capacity }
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

    /// Whether this very transaction (same id and signature) is pending: its signature
    /// was verified on admission.
    pub fn holds(&self, tx: &SignedTransaction, hash: &TxHash) -> bool {
        self.txs.get(hash).is_some_and(|(t, _)| t.signature == tx.signature)
    }

    /// Adds at the back (or the front, for evidence).
    pub fn insert(&mut self, tx: SignedTransaction, priority: bool) -> Result<(), MempoolError> {
        let hash = tx.hash();
        let sender = tx.tx.sender_address();
        let nonce = tx.tx.nonce.0;
        if self.txs.contains_key(&hash) || self.by_sender.get(&sender).is_some_and(|n| n.contains_key(&nonce)) {
            return Err(MempoolError::Duplicate);
        }
        if self.txs.len() >= self.capacity {
            return Err(MempoolError::Full(self.capacity));
        }
        self.txs.insert(hash, (tx, sender));
        self.by_sender.entry(sender).or_default().insert(nonce, hash);
        if priority {
            self.order.push_front(hash);
        } else {
            self.order.push_back(hash);
        }
        Ok(())
    }

    /// Up to `n` transactions a block can execute: for each sender (in order of its
    /// oldest pending transaction) the run of consecutive nonces starting at the
    /// account's next nonce, so one account's transactions never fail on ordering.
    pub fn peek_ready(&self, n: usize, next_nonce: impl Fn(&Address) -> u64) -> Vec<SignedTransaction> {
        let mut out = Vec::new();
        let mut done: BTreeSet<Address> = BTreeSet::new();
        for hash in &self.order {
            if out.len() >= n {
                break;
            }
            let Some((_, sender)) = self.txs.get(hash) else { continue };
            if !done.insert(*sender) {
                continue;
            }
            let Some(nonces) = self.by_sender.get(sender) else { continue };
            let mut next = next_nonce(sender);
            while out.len() < n {
                let Some((tx, _)) = nonces.get(&next).and_then(|h| self.txs.get(h)) else { break };
                out.push(tx.clone());
                next += 1;
            }
        }
        out
    }

    /// What `sender`'s pending transactions spend at most (amounts and fees).
    pub fn pending_spend(&self, sender: &Address) -> u64 {
        self.by_sender.get(sender).map_or(0, |nonces| {
            nonces
                .values()
                .filter_map(|h| self.txs.get(h))
                .fold(0u64, |sum, (tx, _)| sum.saturating_add(super::spend(&tx.tx)))
        })
    }

    /// Pending transactions from `sender`.
    pub fn pending_from(&self, sender: &Address) -> usize {
        self.by_sender.get(sender).map_or(0, BTreeMap::len)
    }

    fn forget(&mut self, hashes: Vec<TxHash>) {
        if hashes.is_empty() {
            return;
        }
        for h in &hashes {
            if let Some((tx, sender)) = self.txs.remove(h) {
                if let Some(nonces) = self.by_sender.get_mut(&sender) {
                    nonces.remove(&tx.tx.nonce.0);
                    if nonces.is_empty() {
                        self.by_sender.remove(&sender);
                    }
                }
            }
        }
        let txs = &self.txs;
        self.order.retain(|h| txs.contains_key(h));
    }

    /// Drops transactions whose nonce the account has already used.
    pub fn prune_stale(&mut self, next_nonce: impl Fn(&Address) -> u64) {
        let stale: Vec<TxHash> = self
            .by_sender
            .iter()
            .flat_map(|(sender, nonces)| {
                let next = next_nonce(sender);
                nonces.range(..next).map(|(_, h)| *h).collect::<Vec<_>>()
            })
            .collect();
        self.forget(stale);
    }

    /// Forgets transactions that were committed.
    pub fn remove_committed<'a>(&mut self, hashes: impl IntoIterator<Item = &'a TxHash>) {
        let present: Vec<TxHash> = hashes.into_iter().filter(|h| self.txs.contains_key(h)).copied().collect();
        self.forget(present);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_protocol::{Amount, ChainId, Nonce, Payload, SecretKey, Transaction, Transfer};

    fn tx(key: &SecretKey, nonce: u64) -> SignedTransaction {
        Transaction {
            chain_id: ChainId::new("vigil-test").unwrap(),
            sender: key.public_key(),
            nonce: Nonce(nonce),
            fee: Amount(1),
            payload: Payload::Transfer(Transfer { to: Address([0; 20]), amount: Amount(1) }),
        }
        .sign(key)
    }

    #[test]
    fn proposals_take_each_senders_nonces_in_order_and_skip_gaps() {
        let (a, b) = (SecretKey::from_seed([1; 32]), SecretKey::from_seed([2; 32]));
        let mut m = Mempool::new(100);
        for t in [tx(&a, 2), tx(&b, 0), tx(&a, 0), tx(&a, 1), tx(&b, 2)] {
            m.insert(t, false).unwrap();
        }
        let picked: Vec<(Address, u64)> =
            m.peek_ready(10, |_| 0).iter().map(|t| (t.tx.sender_address(), t.tx.nonce.0)).collect();
        let (aa, ba) = (Address::from_public_key(&a.public_key()), Address::from_public_key(&b.public_key()));
        assert_eq!(picked, vec![(aa, 0), (aa, 1), (aa, 2), (ba, 0)], "b's nonce 2 waits for nonce 1");
    }

    #[test]
    fn duplicates_and_overflow_are_refused() {
        let a = SecretKey::from_seed([1; 32]);
        let mut m = Mempool::new(1);
        m.insert(tx(&a, 0), false).unwrap();
        assert_eq!(m.insert(tx(&a, 0), false), Err(MempoolError::Duplicate));
        assert_eq!(m.insert(tx(&a, 1), false), Err(MempoolError::Full(1)));
    }

    #[test]
    fn a_pooled_body_under_another_signature_is_not_the_pooled_transaction() {
        let (a, b) = (SecretKey::from_seed([1; 32]), SecretKey::from_seed([2; 32]));
        let mut m = Mempool::new(10);
        let t = tx(&a, 0);
        m.insert(t.clone(), false).unwrap();
        assert!(m.holds(&t, &t.hash()));
        // Same id (the id covers the body only), a signature by someone else: a block
        // carrying it must have it checked, not waved through as already verified.
        let mut forged = t.clone();
        forged.signature = tx(&b, 0).signature;
        assert_eq!(forged.hash(), t.hash());
        assert!(!m.holds(&forged, &forged.hash()));
    }

    #[test]
    fn used_nonces_are_pruned() {
        let a = SecretKey::from_seed([1; 32]);
        let mut m = Mempool::new(10);
        m.insert(tx(&a, 0), false).unwrap();
        m.insert(tx(&a, 1), false).unwrap();
        m.prune_stale(|_| 1);
        assert_eq!(m.len(), 1);
    }
}
