//! Runs in a real headless Chromium (`wasm-bindgen-test`): the browser build must sign
//! exactly as native code does and verify what native code produced.
#![cfg(target_arch = "wasm32")]

mod common;

use common::{Vectors, VECTORS_JSON};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn vectors() -> Vectors {
    serde_json::from_str(VECTORS_JSON).unwrap()
}

fn bytes(hex_str: &str) -> Vec<u8> {
    hex::decode(hex_str).unwrap()
}

#[wasm_bindgen_test]
fn signing_in_wasm_matches_native_bytes() {
    let v = vectors();
    let seed: [u8; 32] = bytes(&v.account_seed_hex).try_into().unwrap();
    let key = SecretKey::from_seed(seed);
    let tx: Transaction = from_bytes(&bytes(&v.tx_body_hex)).unwrap();
    assert_eq!(tx.sender, key.public_key());
    assert_eq!(tx.sender_address().to_string(), v.account_address);
    let signed = tx.sign(&key);
    assert_eq!(hex::encode(to_bytes(&signed)), v.signed_tx_hex);
    assert_eq!(signed.hash().to_string(), v.tx_hash_hex);
}

#[wasm_bindgen_test]
fn natively_signed_transaction_verifies_in_wasm() {
    let v = vectors();
    let signed: SignedTransaction = from_bytes(&bytes(&v.signed_tx_hex)).unwrap();
    signed.verify().unwrap();
    let mut tampered = signed.clone();
    tampered.tx.nonce = Nonce(tampered.tx.nonce.0 + 1);
    assert_eq!(tampered.verify(), Err(TransactionError::BadSignature));
}

#[wasm_bindgen_test]
fn four_validator_quorum_cert_verifies_in_wasm() {
    let v = vectors();
    let set: ValidatorSet = from_bytes(&bytes(&v.validator_set_hex)).unwrap();
    assert_eq!(set.len(), 4);
    assert_eq!(set.hash().to_string(), v.validator_set_hash_hex);
    let certified: CertifiedHeader = from_bytes(&bytes(&v.certified_header_hex)).unwrap();
    certified.verify(&set).unwrap();
    assert_eq!(certified.cert.signer_ids(&set).count(), 3);
    let bad: CertifiedHeader = from_bytes(&bytes(&v.bad_certified_header_hex)).unwrap();
    assert_eq!(bad.verify(&set), Err(BlockError::Certificate(QcError::BadSignature)));
}

#[wasm_bindgen_test]
fn state_proofs_verify_in_wasm() {
    let v = vectors();
    let root: Hash32 = v.state_root_hex.parse().unwrap();
    let present: StateKey = from_bytes(&bytes(&v.present_key_hex)).unwrap();
    let proof: StateProof = from_bytes(&bytes(&v.present_proof_hex)).unwrap();
    proof.verify(&root, &present, Some(&bytes(&v.present_value_hex))).unwrap();
    assert!(proof.verify(&root, &present, Some(&[0xff])).is_err());
    let absent: StateKey = from_bytes(&bytes(&v.absent_key_hex)).unwrap();
    let proof: StateProof = from_bytes(&bytes(&v.absent_proof_hex)).unwrap();
    proof.verify(&root, &absent, None).unwrap();
    assert!(proof.verify(&root, &absent, Some(&[1])).is_err());
}

#[wasm_bindgen_test]
fn fresh_keys_from_the_browser_rng_sign_and_verify() {
    let a = SecretKey::generate();
    let b = SecretKey::generate();
    assert_ne!(a.public_key(), b.public_key());
    let sig = a.sign(Domain::TransactionSignature, b"hello");
    a.public_key().verify(Domain::TransactionSignature, b"hello", &sig).unwrap();
    assert!(b.public_key().verify(Domain::TransactionSignature, b"hello", &sig).is_err());
}

#[wasm_bindgen_test]
fn malformed_bytes_give_errors_in_wasm() {
    assert!(from_bytes::<CertifiedHeader>(&[0xff; 40]).is_err());
    assert!(from_bytes::<SignedTransaction>(&[]).is_err());
}
