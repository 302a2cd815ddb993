//! The wallet's JS-facing API, run in a real headless Chromium (`wasm-bindgen-test`):
//! key generation and import, the keystore (round trip and wrong password), signing,
//! quorum-certificate and header verification, and state proofs, on the golden vectors
//! that native code produced (`protocol/tests/vectors/v1.json`).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Promise, Uint8Array};
use serde_json::Value;
use vigil_protocol::encoding::from_bytes;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{
    CertifiedHeader, EncryptionKey, P2pKey, QuorumCert, SecretKey, SignedTransaction, ValidatorInfo, ValidatorSet,
    VoteData, VoteKind,
};
use vigil_wallet::js::{
    transaction_hash, use_verifier_workers, verify_vote_batch, JsTrustedSet, VigilClient, Wallet,
    PARALLEL_MIN_SIGNATURES,
};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const VECTORS: &str = include_str!("../../protocol/tests/vectors/v1.json");
const ABANDON_ART: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
    abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art";

fn v(key: &str) -> Vec<u8> {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    hex::decode(vectors[key].as_str().unwrap()).unwrap()
}

fn code(e: JsValue) -> String {
    js_sys::Reflect::get(&e, &"code".into()).unwrap().as_string().unwrap()
}

fn client() -> VigilClient {
    let header: CertifiedHeader = from_bytes(&v("certified_header_hex")).unwrap();
    let options = serde_json::json!({
        "gateways": ["https://gateway.invalid"],
        "chainId": header.header.chain_id.as_str(),
        "genesisValidatorsHex": hex::encode(v("validator_set_hex")),
        "pinnedHash": hex::encode(v("validator_set_hash_hex")),
    });
    VigilClient::new(js_sys::JSON::parse(&options.to_string()).unwrap()).unwrap()
}

#[wasm_bindgen_test]
fn options_that_are_not_an_object_and_numbers_js_would_round_are_refused() {
    for bad in [JsValue::UNDEFINED, JsValue::NULL, JsValue::from_str("https://gateway.invalid")] {
        assert_eq!(code(VigilClient::new(bad).err().unwrap()), "BAD_OPTIONS");
    }
    use vigil_wallet::js::unsafe_integer;
    assert_eq!(unsafe_integer(r#"{"balance":9007199254740991,"nonce":3}"#), None);
    assert_eq!(unsafe_integer(r#"{"balance":9007199254740992}"#), Some("9007199254740992"));
    assert_eq!(unsafe_integer(r#"{"note":"18446744073709551615 \" 99999999999999999","h":[1,-2]}"#), None);
    assert_eq!(unsafe_integer(r#"[18446744073709551615]"#), Some("18446744073709551615"));
}

#[wasm_bindgen_test]
fn keys_are_generated_and_imported_in_the_browser() {
    let w = Wallet::generate();
    assert_eq!(w.phrase().split(' ').count(), 24);
    let back = Wallet::from_phrase(&w.phrase()).unwrap();
    assert_eq!(back.address(2).unwrap(), w.address(2).unwrap());
    // The same derivation as natively and as other Ed25519 wallets (see keys.rs).
    let fixed = Wallet::from_phrase(ABANDON_ART).unwrap();
    assert!(fixed.address(0).unwrap().starts_with("vigil1"));
    assert_eq!(code(Wallet::from_phrase("abandon art").err().unwrap()), "WORD_COUNT");
    let bad = format!("{}abandon", "abandon ".repeat(23));
    assert_eq!(code(Wallet::from_phrase(&bad).err().unwrap()), "BAD_CHECKSUM");
}

#[wasm_bindgen_test]
fn the_keystore_round_trips_and_refuses_a_wrong_password() {
    let w = Wallet::generate();
    let keystore = w.seal("correct horse battery staple", Some(1024), Some(1)).unwrap();
    assert!(!keystore.contains(&w.phrase()));
    let back = Wallet::unlock(&keystore, "correct horse battery staple").unwrap();
    assert_eq!(back.phrase(), w.phrase());
    assert_eq!(code(Wallet::unlock(&keystore, "correct horse battery stapler").err().unwrap()), "WRONG_PASSWORD");
    assert_eq!(code(w.seal("short", None, None).err().unwrap()), "WEAK_PASSWORD");
}

#[wasm_bindgen_test]
fn transfers_are_signed_in_the_browser_and_verify() {
    let w = Wallet::from_phrase(ABANDON_ART).unwrap();
    let to = Wallet::generate().address(0).unwrap();
    let big = |n: u64| js_sys::BigInt::from(n);
    let bytes = w.sign_transfer(0, "vigil-test", big(7), &to, big(1000), big(1)).unwrap();
    let tx: SignedTransaction = from_bytes(&bytes).unwrap();
    tx.verify().unwrap();
    assert_eq!(tx.tx.nonce.0, 7);
    assert_eq!(tx.tx.sender_address().to_string(), w.address(0).unwrap());
    // Its id, as apps show it before sending: the decoded transaction's; a changed byte
    // or another signer's signature gets none.
    assert_eq!(transaction_hash(&bytes).unwrap(), tx.hash().to_string());
    let mut changed = bytes.clone();
    changed[bytes.len() / 2] ^= 1;
    assert_eq!(code(transaction_hash(&changed).err().unwrap()), "BAD_SIGNATURE");
    let other = Wallet::generate().sign_transfer(0, "vigil-test", big(7), &to, big(1000), big(1)).unwrap();
    let mut spliced = bytes[..bytes.len() - 64].to_vec();
    spliced.extend_from_slice(&other[other.len() - 64..]);
    assert_eq!(code(transaction_hash(&spliced).err().unwrap()), "BAD_SIGNATURE");
    assert_eq!(code(transaction_hash(&bytes[..40]).err().unwrap()), "DECODE");
    // A JS number, a negative bigint and one past 2^64 - 1 are refused, never rounded or wrapped.
    let number: js_sys::BigInt = wasm_bindgen::JsValue::from_f64(1.0).unchecked_into();
    let negative = js_sys::BigInt::from(-1i64);
    let past = js_sys::BigInt::from(u128::from(u64::MAX) + 1);
    for amount in [number, negative, past] {
        assert_eq!(code(w.sign_transfer(0, "vigil-test", big(0), &to, amount, big(1)).err().unwrap()), "BAD_AMOUNT");
    }
    assert_eq!(
        code(w.sign_transfer(0, "vigil-test", big(0), "vigil1nope", big(1), big(1)).err().unwrap()),
        "BAD_ADDRESS"
    );
}

async fn verify_qc(set: &JsTrustedSet, qc: &[u8]) -> Result<usize, JsValue> {
    JsFuture::from(set.verify_quorum_cert(qc)).await.map(|n| n.as_f64().unwrap() as usize)
}

#[wasm_bindgen_test]
async fn certificates_and_headers_are_verified_and_forgeries_refused() {
    let set =
        JsTrustedSet::from_bytes(&v("validator_set_hex"), Some(hex::encode(v("validator_set_hash_hex")))).unwrap();
    let header: CertifiedHeader = from_bytes(&v("certified_header_hex")).unwrap();
    let qc = vigil_protocol::encoding::to_bytes(&header.cert);
    assert_eq!(verify_qc(&set, &qc).await.unwrap(), header.cert.signatures.len());
    let mut forged = header.cert.clone();
    forged.signatures[0] = forged.signatures[1];
    assert_eq!(
        code(verify_qc(&set, &vigil_protocol::encoding::to_bytes(&forged)).await.unwrap_err()),
        "BAD_CERTIFICATE"
    );
    let c = client();
    c.verify_header(&v("certified_header_hex")).unwrap();
    assert_eq!(code(c.verify_header(&v("bad_certified_header_hex")).err().unwrap()), "BAD_CERTIFICATE");
    assert_eq!(
        code(JsTrustedSet::from_bytes(&v("validator_set_hex"), Some("00".repeat(32))).err().unwrap()),
        "UNTRUSTED_SET"
    );
}

#[wasm_bindgen_test]
fn state_proofs_are_verified_and_a_wrong_proof_refused() {
    // The proof check itself, in wasm; the account-proof API around it is covered by the
    // npm tests against a live devnet.
    let root: vigil_protocol::Hash32 = hex::encode(v("state_root_hex")).parse().unwrap();
    let key: vigil_protocol::StateKey = from_bytes(&v("present_key_hex")).unwrap();
    let proof: vigil_protocol::StateProof = from_bytes(&v("present_proof_hex")).unwrap();
    proof.verify(&root, &key, Some(&v("present_value_hex"))).unwrap();
    assert!(proof.verify(&root, &key, Some(b"other")).is_err());
    let absent: vigil_protocol::StateKey = from_bytes(&v("absent_key_hex")).unwrap();
    let absent_proof: vigil_protocol::StateProof = from_bytes(&v("absent_proof_hex")).unwrap();
    absent_proof.verify(&root, &absent, None).unwrap();
    assert!(absent_proof.verify(&root, &key, None).is_err());
}

/// A table's page of rows, as a node answers a scan (`tests/vectors/scan.json`, made by
/// native code): verified complete in the browser; the same page with a row removed, a
/// row added, two rows swapped or a row altered is refused.
#[wasm_bindgen_test]
fn a_scan_page_verifies_in_the_browser_and_a_tampered_page_is_refused() {
    let fixture: Value = serde_json::from_str(include_str!("vectors/scan.json")).unwrap();
    let options = serde_json::json!({
        "gateways": ["https://gateway.invalid"],
        "chainId": fixture["chain_id"],
        "genesisValidatorsHex": fixture["validator_set_hex"],
        "pinnedHash": fixture["validator_set_hash_hex"],
    });
    let c = VigilClient::new(js_sys::JSON::parse(&options.to_string()).unwrap()).unwrap();
    let table = fixture["table"].as_str().unwrap();
    let request = fixture["request"].to_string();
    let answer = &fixture["answer"];
    let page = c.verify_scan_proof(table, &request, &answer.to_string()).unwrap();
    let ids = js_sys::Reflect::get(&page, &"rows".into()).unwrap();
    let ids: js_sys::Array = ids.dyn_into().unwrap();
    let ids: Vec<f64> = ids
        .iter()
        .map(|r| {
            let values = js_sys::Reflect::get(&r, &"values".into()).unwrap();
            js_sys::Reflect::get(&values, &"id".into()).unwrap().as_f64().unwrap()
        })
        .collect();
    assert_eq!(ids, vec![2.0, 4.0, 5.0, 7.0], "rows from id 2 on, 4 of them, in key order");
    let tamper = |f: &dyn Fn(&mut Vec<Value>)| {
        let mut a = answer.clone();
        let rows = a["rows_bcs"].as_array_mut().unwrap();
        f(rows);
        code(c.verify_scan_proof(table, &request, &a.to_string()).err().unwrap())
    };
    assert_eq!(tamper(&|r| drop(r.remove(1))), "BAD_PROOF", "a row removed");
    assert_eq!(tamper(&|r| r.insert(1, r[0].clone())), "BAD_PROOF", "a row added");
    assert_eq!(tamper(&|r| r.swap(0, 1)), "BAD_PROOF", "two rows swapped");
    let altered = |r: &mut Vec<Value>| {
        let hex = r[2].as_str().unwrap().to_string();
        // The last byte is the height that wrote the row: the row's hash changes.
        r[2] = Value::String(format!("{}{}", &hex[..hex.len() - 2], if hex.ends_with("00") { "01" } else { "00" }));
    };
    assert_eq!(tamper(&altered), "BAD_PROOF", "a row altered");
}

/// A 20-validator set and a certificate all of them signed: large enough to be split.
fn large_certificate() -> (JsTrustedSet, QuorumCert) {
    let keys: Vec<SecretKey> = (1..=20u8).map(|i| SecretKey::from_seed([i; 32])).collect();
    let infos = keys.iter().map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey([0; 32]), P2pKey([1; 32])));
    let set = ValidatorSet::new(infos.collect()).unwrap();
    let header: CertifiedHeader = from_bytes(&v("certified_header_hex")).unwrap();
    let data = VoteData { kind: VoteKind::Precommit, ..header.cert.data };
    // The set orders its validators by id, not as given.
    let key_of = |v: &ValidatorInfo| keys.iter().find(|k| k.public_key() == v.consensus_key).unwrap();
    let votes: Vec<_> = set.validators().iter().map(|v| data.sign(v.id, key_of(v))).collect();
    let qc = QuorumCert::from_votes(data, &votes, &set).unwrap();
    (JsTrustedSet::from_bytes(&to_bytes(&set), None).unwrap(), qc)
}

/// Installs `answer` as the verifier workers: it gets the batches posted to them.
fn workers(answer: impl Fn(Array) -> JsValue + 'static) {
    let f = Closure::<dyn Fn(Array) -> JsValue>::new(answer);
    use_verifier_workers(f.into_js_value().unchecked_into(), 1);
}

#[wasm_bindgen_test]
async fn a_large_certificate_is_split_with_the_workers_and_their_answer_counts() {
    let (set, qc) = large_certificate();
    assert!(qc.signatures.len() >= PARALLEL_MIN_SIGNATURES);
    let good = to_bytes(&qc);
    let mut forged = qc.clone();
    let last = forged.signatures.len() - 1;
    forged.signatures[last] = forged.signatures[0];
    let forged = to_bytes(&forged);
    let posted = std::rc::Rc::new(std::cell::Cell::new(0));

    // Workers that verify what they get (as the package's do): the second half went to them.
    let seen = posted.clone();
    workers(move |batches| {
        seen.set(seen.get() + batches.length());
        let ok = batches.iter().all(|b| verify_vote_batch(&b.unchecked_into::<Uint8Array>().to_vec()));
        Promise::resolve(&JsValue::from_bool(ok)).into()
    });
    assert_eq!(verify_qc(&set, &good).await.unwrap(), 20);
    assert_eq!(posted.get(), 1, "one batch went to the one worker");
    assert_eq!(
        code(verify_qc(&set, &forged).await.unwrap_err()),
        "BAD_CERTIFICATE",
        "the forgery is in the workers' half"
    );

    // Workers that fail (not say no): this thread verifies their share, so a forgery
    // still fails and a good certificate still passes.
    workers(|_| Promise::reject(&JsValue::from_str("worker died")).into());
    assert_eq!(verify_qc(&set, &good).await.unwrap(), 20);
    assert_eq!(code(verify_qc(&set, &forged).await.unwrap_err()), "BAD_CERTIFICATE");
    workers(|_| JsValue::from(7));
    assert_eq!(code(verify_qc(&set, &forged).await.unwrap_err()), "BAD_CERTIFICATE");

    // Workers that say no to a good certificate's batch are believed: it fails.
    workers(|_| Promise::resolve(&JsValue::FALSE).into());
    assert_eq!(code(verify_qc(&set, &good).await.unwrap_err()), "BAD_CERTIFICATE");

    // Garbage handed to a worker is refused, not a panic.
    assert!(!verify_vote_batch(&[1, 2, 3]));
    use_verifier_workers(js_sys::Function::new_no_args(""), 0);
    assert_eq!(verify_qc(&set, &good).await.unwrap(), 20);
}
