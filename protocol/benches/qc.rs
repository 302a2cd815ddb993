//! Native side of `cargo xtask bench protocol`: builds full-participation quorum
//! certificates for 4, 16, 31, 64 and 100 validators, measures native verification, and
//! writes the fixtures the JS harness (`tests/bench/protocol.mjs`) verifies in wasm and
//! with libsodium.js, @noble/curves and WebCrypto — the same signatures, same run.
//!
//! Beside ours (the ZIP-215 rule, `zip215.rs`), the same signatures are checked with
//! ed25519-dalek's cofactorless `verify_strict` and its batch: the rule this one
//! replaced, the anchor of its cost.
//!
//! usage: cargo bench -p vigil-protocol --bench qc -- --fixtures FILE [--min-ms MS]

use std::time::{Duration, Instant};

use vigil_protocol::encoding::to_bytes;
use vigil_protocol::*;

const SIZES: [usize; 5] = [4, 16, 31, 64, 100];

fn set_and_keys(n: usize) -> (ValidatorSet, Vec<SecretKey>) {
    let keys: Vec<SecretKey> = (0..n)
        .map(|i| {
            let mut seed = [0x42u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            SecretKey::from_seed(seed)
        })
        .collect();
    let infos = keys
        .iter()
        .enumerate()
        .map(|(i, k)| ValidatorInfo::new(format!("v{i}"), k.public_key(), EncryptionKey([0; 32]), P2pKey([0xff; 32])))
        .collect();
    (ValidatorSet::new(infos).expect("valid set"), keys)
}

/// Runs `f` repeatedly for at least `min`, returning calls per second.
fn rate(min: Duration, mut f: impl FnMut()) -> f64 {
    f(); // warm up
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < min {
        f();
        calls += 1;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let fixtures_path = arg("--fixtures").unwrap_or_else(|| "target/bench/protocol-fixtures.json".into());
    let min = Duration::from_millis(arg("--min-ms").and_then(|s| s.parse().ok()).unwrap_or(1000));
    let chain = ChainId::new("vigil-bench").expect("valid chain id");

    let mut fixtures = Vec::new();
    let mut results = Vec::new();
    for n in SIZES {
        let (set, keys) = set_and_keys(n);
        let data = VoteData {
            chain_id: chain.clone(),
            height: Height(1),
            view: View(0),
            block_hash: Hash32([7; 32]),
            kind: VoteKind::Precommit,
        };
        let votes: Vec<Vote> = set
            .validators()
            .iter()
            .map(|v| {
                let key = keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == v.id).expect("key");
                data.sign(v.id, key)
            })
            .collect();
        let qc = QuorumCert::from_votes(data.clone(), &votes, &set).expect("quorum");
        qc.verify(&set).expect("valid certificate");

        let batch_qc_s = rate(min, || qc.verify(&set).expect("verifies"));
        let message = data.signing_bytes();
        let one_by_one_qc_s = rate(min, || {
            for (v, sig) in set.validators().iter().zip(&qc.signatures) {
                v.consensus_key.verify(Domain::VoteSignature, &message, sig).expect("verifies");
            }
        });
        let framed_message = Domain::VoteSignature.framed(&message);
        let dalek_keys: Vec<_> = set
            .validators()
            .iter()
            .map(|v| ed25519_dalek::VerifyingKey::from_bytes(v.consensus_key.as_bytes()).expect("key"))
            .collect();
        let dalek_sigs: Vec<_> =
            qc.signatures.iter().map(|s| ed25519_dalek::Signature::from_bytes(&s.to_bytes())).collect();
        let dalek_batch_qc_s = rate(min, || {
            let messages = vec![framed_message.as_slice(); n];
            ed25519_dalek::verify_batch(&messages, &dalek_sigs, &dalek_keys).expect("verifies")
        });
        let dalek_strict_qc_s = rate(min, || {
            for (k, sig) in dalek_keys.iter().zip(&dalek_sigs) {
                k.verify_strict(&framed_message, sig).expect("verifies");
            }
        });
        results.push(serde_json::json!({
            "validators": n,
            "native_batch_sig_s": batch_qc_s * n as f64,
            "native_single_sig_s": one_by_one_qc_s * n as f64,
            "dalek_batch_sig_s": dalek_batch_qc_s * n as f64,
            "dalek_strict_sig_s": dalek_strict_qc_s * n as f64,
        }));

        let framed = hex::encode(Domain::VoteSignature.framed(&message));
        let signatures: Vec<_> = set
            .validators()
            .iter()
            .zip(&qc.signatures)
            .map(|(v, s)| serde_json::json!({ "pk": v.consensus_key.to_string(), "sig": hex::encode(s.to_bytes()) }))
            .collect();
        fixtures.push(serde_json::json!({
            "validators": n,
            "set_hex": hex::encode(to_bytes(&set)),
            "qc_hex": hex::encode(to_bytes(&qc)),
            "message_hex": framed,
            "signatures": signatures,
        }));
    }
    if let Some(dir) = std::path::Path::new(&fixtures_path).parent() {
        std::fs::create_dir_all(dir).expect("create fixtures dir");
    }
    std::fs::write(&fixtures_path, serde_json::to_string(&fixtures).expect("json")).expect("write fixtures");
    println!("{}", serde_json::json!({ "native": results }));
}
