//! Generates the shared test vectors natively and checks the committed copy is current
//! (golden file). The wasm test in `wasm.rs` verifies the same bytes in a browser.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{Vectors, VECTORS_JSON};
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::*;

fn seed(i: u8) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[0] = i;
    s[31] = 0x5a;
    s
}

fn generate() -> Vectors {
    let chain = ChainId::new("vigil-vectors").unwrap();
    let account = SecretKey::from_seed(seed(100));
    let to = Address::from_public_key(&SecretKey::from_seed(seed(101)).public_key());
    let tx = Transaction {
        chain_id: chain.clone(),
        sender: account.public_key(),
        nonce: Nonce(7),
        fee: Amount(2),
        payload: Payload::Transfer(Transfer { to, amount: Amount(1_000) }),
    };
    let signed = tx.clone().sign(&account);

    let keys: Vec<SecretKey> = (1..=4).map(|i| SecretKey::from_seed(seed(i))).collect();
    let set = ValidatorSet::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                ValidatorInfo::new(
                    format!("org-{i}"),
                    k.public_key(),
                    EncryptionKey([i as u8 + 1; 32]),
                    P2pKey([i as u8 + 0x81; 32]),
                )
            })
            .collect(),
    )
    .unwrap();

    let mut state = StateTree::new();
    let present_key = StateKey::Account(signed.tx.sender_address());
    let present_value = vec![1, 2, 3, 4];
    let state_root = state
        .apply(0, [(present_key.clone(), Some(present_value.clone())), (StateKey::Account(to), Some(vec![9]))])
        .unwrap();
    let (_, present_proof) = state.get_with_proof(&present_key, 0).unwrap();
    let absent_key = StateKey::Account(Address([0xab; 20]));
    let (_, absent_proof) = state.get_with_proof(&absent_key, 0).unwrap();

    let header = BlockHeader {
        chain_id: chain.clone(),
        height: Height(12),
        view: View(1),
        parent_hash: Hash32([0x11; 32]),
        tx_root: Block::tx_root(std::slice::from_ref(&signed)),
        receipts_root: Block::receipts_root(&[]),
        state_root,
        validator_set_hash: set.hash(),
        next_validator_set_hash: set.hash(),
        mode: ConsensusMode::Bft,
        proposer: set.validators()[0].id,
        time_ms: 1_790_000_000_000,
    };
    let data = VoteData {
        chain_id: chain,
        height: header.height,
        view: header.view,
        block_hash: header.hash(),
        kind: VoteKind::Precommit,
    };
    let key_of = |id: NodeId| keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == id).unwrap();
    let votes: Vec<Vote> = set.validators()[..3].iter().map(|v| data.sign(v.id, key_of(v.id))).collect();
    let cert = QuorumCert::from_votes(data.clone(), &votes, &set).unwrap();
    let certified = CertifiedHeader { header, cert };
    let mut bad = certified.clone();
    let other = VoteData { block_hash: Hash32([0x22; 32]), ..data.clone() };
    bad.cert.signatures[1] = other.sign(set.validators()[1].id, key_of(set.validators()[1].id)).signature;

    let (large_set, large_qc, large_forged_qc) = large_certificate(&data);

    Vectors {
        account_seed_hex: hex::encode(seed(100)),
        account_address: signed.tx.sender_address().to_string(),
        tx_body_hex: hex::encode(to_bytes(&tx)),
        tx_hash_hex: signed.hash().to_string(),
        signed_tx_hex: hex::encode(to_bytes(&signed)),
        validator_set_hex: hex::encode(to_bytes(&set)),
        validator_set_hash_hex: set.hash().to_string(),
        certified_header_hex: hex::encode(to_bytes(&certified)),
        bad_certified_header_hex: hex::encode(to_bytes(&bad)),
        state_root_hex: state_root.to_string(),
        present_key_hex: hex::encode(to_bytes(&present_key)),
        present_value_hex: hex::encode(&present_value),
        present_proof_hex: hex::encode(to_bytes(&present_proof)),
        absent_key_hex: hex::encode(to_bytes(&absent_key)),
        absent_proof_hex: hex::encode(to_bytes(&absent_proof)),
        large_set_hex: hex::encode(to_bytes(&large_set)),
        large_qc_hex: hex::encode(to_bytes(&large_qc)),
        large_forged_qc_hex: hex::encode(to_bytes(&large_forged_qc)),
    }
}

/// A 32-validator set, a certificate of `data` all of them signed, and that certificate
/// with its last signature made on other data.
fn large_certificate(data: &VoteData) -> (ValidatorSet, QuorumCert, QuorumCert) {
    const VALIDATORS: u8 = 32;
    let keys: Vec<SecretKey> = (1..=VALIDATORS).map(|i| SecretKey::from_seed(seed(0x80 + i))).collect();
    let infos = keys.iter().enumerate().map(|(i, k)| {
        ValidatorInfo::new(
            format!("org-{i}"),
            k.public_key(),
            EncryptionKey([i as u8 + 1; 32]),
            P2pKey([i as u8 + 0x81; 32]),
        )
    });
    let set = ValidatorSet::new(infos.collect()).unwrap();
    let key_of = |id: NodeId| keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == id).unwrap();
    let votes: Vec<Vote> = set.validators().iter().map(|v| data.sign(v.id, key_of(v.id))).collect();
    let qc = QuorumCert::from_votes(data.clone(), &votes, &set).unwrap();
    let mut forged = qc.clone();
    let last = set.validators()[set.len() - 1].id;
    let other = VoteData { block_hash: Hash32([0x33; 32]), ..data.clone() };
    *forged.signatures.last_mut().unwrap() = other.sign(last, key_of(last)).signature;
    (set, qc, forged)
}

#[test]
fn committed_vectors_match_what_native_code_produces() {
    let fresh = generate();
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/v1.json");
        std::fs::write(path, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
        return;
    }
    let committed: Vectors = serde_json::from_str(VECTORS_JSON).unwrap();
    assert_eq!(committed, fresh, "protocol encoding changed: rerun with UPDATE_VECTORS=1 if that is intended");
}

#[test]
fn committed_vectors_verify_natively() {
    let v: Vectors = serde_json::from_str(VECTORS_JSON).unwrap();
    let set: ValidatorSet = encoding::from_bytes(&hex::decode(&v.validator_set_hex).unwrap()).unwrap();
    let ch: CertifiedHeader = encoding::from_bytes(&hex::decode(&v.certified_header_hex).unwrap()).unwrap();
    ch.verify(&set).unwrap();
    let bad: CertifiedHeader = encoding::from_bytes(&hex::decode(&v.bad_certified_header_hex).unwrap()).unwrap();
    assert!(bad.verify(&set).is_err());
    let tx: SignedTransaction = encoding::from_bytes(&hex::decode(&v.signed_tx_hex).unwrap()).unwrap();
    tx.verify().unwrap();
    let large: ValidatorSet = encoding::from_bytes(&hex::decode(&v.large_set_hex).unwrap()).unwrap();
    let qc: QuorumCert = encoding::from_bytes(&hex::decode(&v.large_qc_hex).unwrap()).unwrap();
    qc.verify(&large).unwrap();
    assert_eq!(qc.signatures.len(), 32);
    let forged: QuorumCert = encoding::from_bytes(&hex::decode(&v.large_forged_qc_hex).unwrap()).unwrap();
    assert_eq!(forged.verify(&large), Err(QcError::BadSignature));
}
