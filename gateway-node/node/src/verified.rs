//! The transactions whose signatures this node has already checked, so that each
//! signature is checked once per node however the transaction arrives: from a client,
//! in a peer's gossip, or inside a proposed block (which often comes first). The node's
//! network task and API threads check here, in parallel with the consensus thread, and
//! tell the core what they checked ([`vigil_core::consensus::Verified`]); the core
//! hands back what it checked itself ([`vigil_core::consensus::Ready::verified`]).
//!
//! Keyed by the transaction's id *and* its signature: the id covers only the signed
//! body, so a block carrying a known body with another signature is checked again.
//! Bounded: the oldest entries make room for new ones, since a transaction is only
//! seen again within seconds of the first time.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use vigil_core::consensus::Verified;
use vigil_protocol::{Signature, SignedTransaction, TxHash};

/// Entries kept: at 5,000 tx/s, the last ~13 s of transactions.
pub const VERIFIED_TXS_MAX: usize = 1 << 16;

#[derive(Debug)]
pub struct VerifiedTxs {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    signatures: HashMap<TxHash, Signature>,
    order: VecDeque<TxHash>,
    capacity: usize,
}

impl Default for VerifiedTxs {
    fn default() -> Self {
        Self::new(VERIFIED_TXS_MAX)
    }
}

impl VerifiedTxs {
    pub fn new(capacity: usize) -> Self {
        // Sized for the bound at once: a map that grows under load rehashes into fresh
        // memory at each doubling (page faults and zeroed pages on every node).
        let capacity = capacity.max(1);
        let inner = Inner {
            signatures: HashMap::with_capacity(capacity + 1),
            order: VecDeque::with_capacity(capacity + 1),
            capacity,
        };
        Self { inner: Mutex::new(inner) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().signatures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this transaction's signature (with its id) was checked before.
    pub fn contains(&self, tx: &SignedTransaction, hash: &TxHash) -> bool {
        self.lock().signatures.get(hash) == Some(&tx.signature)
    }

    /// For each transaction (with its id), whether its signature was checked before.
    pub fn known(&self, txs: &[SignedTransaction], hashes: &[TxHash]) -> Vec<bool> {
        let inner = self.lock();
        txs.iter().zip(hashes).map(|(tx, h)| inner.signatures.get(h) == Some(&tx.signature)).collect()
    }

    /// Records transactions whose signatures verified.
    pub fn insert(&self, txs: impl IntoIterator<Item = (TxHash, Signature)>) {
        let mut inner = self.lock();
        for (hash, signature) in txs {
            if inner.signatures.insert(hash, signature).is_none() {
                inner.order.push_back(hash);
            }
            while inner.order.len() > inner.capacity {
                if let Some(old) = inner.order.pop_front() {
                    inner.signatures.remove(&old);
                }
            }
        }
    }

    /// Checks the signatures not checked before (one batch; one by one only if the batch
    /// fails) and records the valid ones. Returns, for each transaction, whether it was
    /// already known, and whether its signature is valid.
    pub fn check(&self, txs: &[SignedTransaction]) -> Vec<Checked> {
        let hashes: Vec<TxHash> = txs.iter().map(SignedTransaction::hash).collect();
        let known = self.known(txs, &hashes);
        let fresh: Vec<&SignedTransaction> = txs.iter().zip(&known).filter(|(_, k)| !**k).map(|(t, _)| t).collect();
        let all_valid = vigil_core::execution::verify_transactions(&fresh);
        let checked: Vec<Checked> = txs
            .iter()
            .zip(&known)
            .map(|(tx, known)| match known {
                true => Checked::Known,
                false if all_valid || tx.verify().is_ok() => Checked::Valid,
                false => Checked::Invalid,
            })
            .collect();
        self.insert(
            hashes
                .iter()
                .zip(txs)
                .zip(&checked)
                .filter(|(_, c)| **c == Checked::Valid)
                .map(|((h, t), _)| (*h, t.signature)),
        );
        checked
    }

    /// What [`check`](Self::check) found valid or known, for the core: the
    /// transactions it need not check again.
    pub fn vouch(txs: &[SignedTransaction], checked: &[Checked]) -> Verified {
        let mut verified = Verified::default();
        for (tx, c) in txs.iter().zip(checked) {
            if *c != Checked::Invalid {
                verified.insert(tx.hash(), tx.signature);
            }
        }
        verified
    }
}

/// What [`VerifiedTxs::check`] found for one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Its signature was checked before.
    Known,
    /// Checked now: valid.
    Valid,
    /// Checked now: invalid.
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_protocol::{Address, Amount, ChainId, Nonce, Payload, SecretKey, Transaction, Transfer};

    fn tx(nonce: u64) -> SignedTransaction {
        let key = SecretKey::from_seed([7; 32]);
        Transaction {
            chain_id: ChainId::new("vigil-test").unwrap(),
            sender: key.public_key(),
            nonce: Nonce(nonce),
            fee: Amount(1),
            payload: Payload::Transfer(Transfer { to: Address([0; 20]), amount: Amount(1) }),
        }
        .sign(&key)
    }

    #[test]
    fn a_signature_is_checked_once_and_a_forged_one_every_time() {
        let cache = VerifiedTxs::new(16);
        let (a, b) = (tx(0), tx(1));
        assert_eq!(cache.check(&[a.clone(), b.clone()]), vec![Checked::Valid, Checked::Valid]);
        assert_eq!(cache.check(std::slice::from_ref(&a)), vec![Checked::Known]);
        // The same body with another signature is not the transaction that was checked.
        let mut forged = b.clone();
        forged.signature = a.signature;
        assert_eq!(cache.check(&[forged.clone(), a]), vec![Checked::Invalid, Checked::Known]);
        assert!(!cache.contains(&forged, &forged.hash()));
        assert!(cache.contains(&b, &b.hash()), "the forgery did not replace the valid entry");
    }

    #[test]
    fn the_oldest_entries_make_room() {
        let cache = VerifiedTxs::new(2);
        let txs: Vec<SignedTransaction> = (0..3).map(tx).collect();
        cache.check(&txs);
        assert_eq!(cache.len(), 2);
        let hashes: Vec<TxHash> = txs.iter().map(SignedTransaction::hash).collect();
        assert_eq!(cache.known(&txs, &hashes), vec![false, true, true]);
    }
}
