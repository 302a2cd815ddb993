//! Fixtures for this crate's unit tests.

use crate::block::{BlockHeader, CertifiedHeader};
use crate::crypto::{EncryptionKey, P2pKey, SecretKey};
use crate::hash::Hash32;
use crate::ids::{Amount, ChainId, Height, NodeId, Nonce, View};
use crate::transaction::{Payload, SignedTransaction, Transaction};
use crate::transfer::Transfer;
use crate::validator::{ConsensusMode, ValidatorInfo, ValidatorSet};
use crate::vote::{QuorumCert, VoteData, VoteKind};
use crate::Address;

pub fn chain() -> ChainId {
    ChainId::new("vigil-test").unwrap()
}

/// A set of `n` equal-power validators and their keys (in arbitrary order).
pub fn validators(n: usize) -> (ValidatorSet, Vec<SecretKey>) {
    let keys: Vec<SecretKey> = (0..n)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            SecretKey::from_seed(seed)
        })
        .collect();
    let infos = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            ValidatorInfo::new(
                format!("v{i}"),
                k.public_key(),
                EncryptionKey([i as u8; 32]),
                P2pKey([0x80 | i as u8; 32]),
            )
        })
        .collect();
    (ValidatorSet::new(infos).unwrap(), keys)
}

pub fn key_of(keys: &[SecretKey], id: NodeId) -> &SecretKey {
    keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == id).unwrap()
}

/// A certificate on `data` signed by the first `signers` validators of `set`.
pub fn quorum_cert(set: &ValidatorSet, keys: &[SecretKey], data: VoteData, signers: usize) -> QuorumCert {
    let votes: Vec<_> = set.validators()[..signers].iter().map(|v| data.sign(v.id, key_of(keys, v.id))).collect();
    QuorumCert::from_votes(data.clone(), &votes, set).unwrap_or_else(|_| {
        // Below quorum on purpose: build it by hand so tests can check verification.
        let mut signers_bitmap = crate::vote::SignerBitmap::empty(set.len());
        (0..signers).for_each(|i| signers_bitmap.set(i));
        QuorumCert { data, signers: signers_bitmap, signatures: votes.iter().map(|v| v.signature).collect() }
    })
}

pub fn certify(set: &ValidatorSet, keys: &[SecretKey], header: BlockHeader, signers: usize) -> CertifiedHeader {
    let kind = match header.mode {
        ConsensusMode::Fast => VoteKind::Ack,
        ConsensusMode::Bft => VoteKind::Precommit,
    };
    let data = VoteData {
        chain_id: header.chain_id.clone(),
        height: header.height,
        view: header.view,
        block_hash: header.hash(),
        kind,
    };
    let cert = quorum_cert(set, keys, data, signers);
    CertifiedHeader { header, cert }
}

pub fn certified_header(
    set: &ValidatorSet,
    keys: &[SecretKey],
    height: Height,
    mode: ConsensusMode,
    signers: usize,
) -> CertifiedHeader {
    let header = BlockHeader {
        chain_id: chain(),
        height,
        view: View(0),
        parent_hash: Hash32([1; 32]),
        tx_root: crate::block::Block::tx_root(&[]),
        receipts_root: crate::block::Block::receipts_root(&[]),
        state_root: Hash32([2; 32]),
        validator_set_hash: set.hash(),
        next_validator_set_hash: set.hash(),
        mode,
        proposer: set.validators()[0].id,
        time_ms: 1_700_000_000_000,
    };
    certify(set, keys, header, signers)
}

/// A transfer signed by account key `seed`, with nonce `nonce`.
pub fn transfer(seed: u8, nonce: u64) -> (SignedTransaction, SecretKey) {
    let key = SecretKey::from_seed([seed; 32]);
    let tx = Transaction {
        chain_id: chain(),
        sender: key.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(1),
        payload: Payload::Transfer(Transfer { to: Address([9; 20]), amount: Amount(100) }),
    };
    (tx.sign(&key), key)
}
