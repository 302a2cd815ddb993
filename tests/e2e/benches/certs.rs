//! `cargo xtask bench certs`: certificates on a real devnet — 4 release `vigil` nodes and
//! 5 authentication center processes (any 3 sign) — measured against the same devnet's
//! transfers, and their verification against two anchors in the same run.
//!
//! - Issuance: requests (claims sealed to each center, signed by the applicant) sent at
//!   once by many applicants; the time from a request's submission to its certificate
//!   on chain, certificates per second, and how many blocks after its third approval
//!   each was issued (target: 2 at most).
//! - Transfers per second on the same devnet, for the ratio (target: issuance ≥ 0.01).
//! - Verification: the npm package verifying one certificate with its proofs (signature
//!   against the group key, record, quorum certificate) in WebAssembly under Node,
//!   against @peculiar/x509 checking the signature alone (target: wasm ≥ JS) and
//!   `openssl verify` (a process per check).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use vigil_e2e::load::{percentile, signed_transfers, submit_all};
use vigil_e2e::TestNet;
use vigil_protocol::authcenter::claims::seal_claims;
use vigil_protocol::authcenter::issuance::{Claim, RequestFields, CERT_REQUEST_FEE_MIN};
use vigil_protocol::authcenter::share::Rng06;
use vigil_protocol::authcenter::{AuthCenterSet, CertAccount, CertRequest, IdentityClaims, Subject};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::{Address, Amount, ChainId, Nonce, Payload, SecretKey, SignedTransaction, StateKey, Transaction};

const NODES: usize = 4;
const CENTERS: usize = 5;
const THRESHOLD: u16 = 3;
/// Applicants, one request each, sent at once (throughput).
const REQUESTS: usize = 120;
/// Applicants whose requests are sent one after another, each once the one before is
/// issued (latency, in milliseconds and in blocks after the third approval).
const ONE_BY_ONE: usize = 10;
const TRANSFER_ACCOUNTS: usize = 128;
const TRANSFERS_PER_ACCOUNT: u64 = 20;
const IN_FLIGHT_MAX: usize = 256;
/// How long issuance may take in all before the bench gives up.
const ISSUE_WAIT: Duration = Duration::from_secs(60);

/// Sealed requests, one per applicant, for the devnet's centers.
fn requests(chain: &ChainId, set: &AuthCenterSet, applicants: &[SecretKey]) -> anyhow::Result<Vec<SignedTransaction>> {
    let now_s = vigil_server::now_ms() / 1000;
    let mut rng = rand_core::OsRng;
    applicants
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let claims = IdentityClaims {
                claims: vec![Claim { name: "email".into(), value: format!("applicant-{i}@bench.example") }],
            };
            let sealed = (0u16..)
                .zip(&set.centers)
                .map(|(c, info)| seal_claims(&info.encryption_key, c, &claims, &mut Rng06(&mut rng)))
                .collect::<Result<Vec<_>, _>>()?;
            let fields = RequestFields {
                requester: Address::from_public_key(&k.public_key()),
                subject: Subject { common_name: format!("applicant-{i}"), organization: Some("Bench".into()) },
                not_before_s: now_s,
                not_after_s: now_s + 86_400,
                claims_digest: claims.digest(),
                sealed_claims: sealed,
            };
            let request = CertRequest::sign(chain, fields, k);
            Ok(Transaction {
                chain_id: chain.clone(),
                sender: k.public_key(),
                nonce: Nonce(0),
                fee: Amount(CERT_REQUEST_FEE_MIN),
                payload: Payload::CertRequest(Box::new(request)),
            }
            .sign(k))
        })
        .collect()
}

/// State entries read from node 0, in batches of the most a request carries (values only: the bench trusts
/// its own devnet; the wallet's verification is measured on its own below).
async fn states(net: &TestNet, keys: &[StateKey]) -> anyhow::Result<Vec<Option<Vec<u8>>>> {
    let mut out = Vec::with_capacity(keys.len());
    for batch in keys.chunks(vigil_api::STATE_KEYS_MAX) {
        let body = vigil_api::StatesRequest {
            keys_bcs: batch.iter().map(|k| vigil_api::Hex(to_bytes(k))).collect(),
            after: None,
        };
        let answer: vigil_api::ProvenStates =
            net.http.post(net.url(0, "/v1/states")).json(&body).send().await?.error_for_status()?.json().await?;
        out.extend(answer.entries.into_iter().map(|e| e.value_bcs.map(|v| v.0)));
    }
    Ok(out)
}

struct Issuance {
    per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Blocks from each certificate's third approval to its issue: the largest.
    blocks_after_approval_max: u64,
    blocks_after_approval_p50: f64,
    serials: Vec<[u8; 16]>,
}

/// Every applicant's request sent at once; each certificate timed from the start to the
/// first poll that finds it on chain (polled every 50 ms).
async fn issue(net: Arc<TestNet>, work: Vec<SignedTransaction>, applicants: &[SecretKey]) -> anyhow::Result<Issuance> {
    let start = Instant::now();
    let mut sending_checked = false;
    let mut sending = tokio::spawn(submit_all(
        net.clone(),
        work.into_iter().enumerate().map(|(i, t)| (i % NODES, t)).collect(),
        IN_FLIGHT_MAX,
    ));
    let mut waiting: BTreeMap<usize, StateKey> =
        applicants.iter().enumerate().map(|(i, k)| (i, StateKey::CertificatesOf(k.public_key()))).collect();
    let mut latencies = Vec::new();
    let mut serials = Vec::new();
    while !waiting.is_empty() {
        if start.elapsed() >= ISSUE_WAIT {
            let path = net.devnet.log_path("center-0");
            let log = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("{}: {e}", path.display()));
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            anyhow::bail!(
                "{} certificates not issued within {ISSUE_WAIT:?}; center-0's log ends:\n{}",
                waiting.len(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if sending.is_finished() && !sending_checked {
            sending_checked = true;
            let sent = (&mut sending).await??;
            anyhow::ensure!(sent.failed == 0, "{} requests were not committed", sent.failed);
        }
        let keys: Vec<StateKey> = waiting.values().cloned().collect();
        let ids: Vec<usize> = waiting.keys().copied().collect();
        for (id, value) in ids.into_iter().zip(states(&net, &keys).await?) {
            if let Some(bytes) = value {
                let mine: Vec<[u8; 16]> = from_bytes(&bytes)?;
                serials.extend(mine);
                latencies.push(start.elapsed().as_secs_f64() * 1000.0);
                waiting.remove(&id);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if !sending_checked {
        let sent = sending.await??;
        anyhow::ensure!(sent.failed == 0, "{} requests were not committed", sent.failed);
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let accounts = states(&net, &serials.iter().map(|s| StateKey::Certificate(*s)).collect::<Vec<_>>()).await?;
    let mut blocks: Vec<f64> = Vec::new();
    for bytes in accounts.into_iter().flatten() {
        let account: CertAccount = from_bytes(&bytes)?;
        blocks.push(account.record.issued.0.saturating_sub(account.record.approved.0) as f64);
    }
    blocks.sort_by(|a, b| a.total_cmp(b));
    Ok(Issuance {
        per_s: latencies.len() as f64 / secs,
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
        blocks_after_approval_max: blocks.last().copied().unwrap_or(0.0) as u64,
        blocks_after_approval_p50: percentile(&blocks, 0.5),
        serials,
    })
}

async fn root_pem(net: &TestNet) -> anyhow::Result<String> {
    let started = Instant::now();
    loop {
        let r = net.http.get(net.url(0, "/v1/certs/root.pem")).send().await?;
        if r.status() == 200 {
            return Ok(r.text().await?);
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(120), "the centers did not sign the root");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `openssl verify -CAfile root cert`, one process per check, for about a second.
fn openssl_rate(root: &std::path::Path, cert: &std::path::Path) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(1) || n < 5 {
        let out = std::process::Command::new("openssl").arg("verify").arg("-CAfile").arg(root).arg(cert).output()?;
        anyhow::ensure!(out.status.success(), "openssl verify: {}", String::from_utf8_lossy(&out.stdout));
        n += 1;
    }
    Ok(f64::from(n) / start.elapsed().as_secs_f64())
}

/// The wasm and @peculiar/x509 rates from `tests/bench/certs.mjs` on `fixture`.
fn js_rates(fixture: &std::path::Path) -> anyhow::Result<(f64, f64)> {
    let package = std::env::var("VIGIL_NPM_DIR")
        .context("VIGIL_NPM_DIR: the built npm package (cargo xtask bench certs sets it)")?;
    let dir =
        std::env::var("VIGIL_BENCH_JS").context("VIGIL_BENCH_JS: tests/bench (cargo xtask bench certs sets it)")?;
    let out = std::process::Command::new("node")
        .current_dir(dir)
        .arg("certs.mjs")
        .arg("--package")
        .arg(package)
        .arg("--fixture")
        .arg(fixture)
        .output()?;
    anyhow::ensure!(out.status.success(), "certs.mjs: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout)?;
    let line = text.lines().rev().find(|l| l.starts_with('{')).context("no JSON line from certs.mjs")?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    let get = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).with_context(|| format!("certs.mjs: no {k}"));
    Ok((get("wasm_verify_per_s")?, get("js_x509_verify_per_s")?))
}

async fn run() -> anyhow::Result<()> {
    let applicants: Vec<SecretKey> = (0..REQUESTS).map(|i| vigil_e2e::seeded_key(0xce, i)).collect();
    let singles: Vec<SecretKey> = (0..ONE_BY_ONE).map(|i| vigil_e2e::seeded_key(0xcf, i)).collect();
    let senders: Vec<SecretKey> = (0..TRANSFER_ACCOUNTS).map(|i| vigil_e2e::seeded_key(0x5b, i)).collect();
    let funded = applicants
        .iter()
        .chain(&singles)
        .chain(&senders)
        .map(|k| (Address::from_public_key(&k.public_key()), Amount(1_000_000)))
        .collect();
    let net = Arc::new(TestNet::start_with_centers_funding(NODES, (CENTERS, THRESHOLD), funded).await?);
    let root = root_pem(&net).await?;
    let genesis_json = std::fs::read_to_string(&net.devnet.genesis)?;
    let genesis: vigil_protocol::Genesis = serde_json::from_str(&genesis_json)?;
    let set = genesis.authcenters.clone().context("the devnet names its centers")?;
    let chain = genesis.chain_id.clone();
    println!(
        "{NODES}-node devnet, {CENTERS} authentication centers (any {THRESHOLD} sign): {REQUESTS} certificate requests at once, then {} transfers",
        TRANSFER_ACCOUNTS as u64 * TRANSFERS_PER_ACCOUNT
    );
    let (mut single_ms, mut single_blocks) = (Vec::new(), Vec::new());
    for (tx, key) in requests(&chain, &set, &singles)?.into_iter().zip(&singles) {
        let one = issue(net.clone(), vec![tx], std::slice::from_ref(key)).await?;
        single_ms.push(one.p50_ms);
        single_blocks.push(one.blocks_after_approval_max as f64);
    }
    single_ms.sort_by(|a, b| a.total_cmp(b));
    single_blocks.sort_by(|a, b| a.total_cmp(b));
    let single_blocks_max = single_blocks.last().copied().unwrap_or(0.0) as u64;
    println!(
        "one at a time ({ONE_BY_ONE}): request → certificate p50 {:.0} ms, max {:.0} ms; blocks after the third approval: p50 {:.0}, max {single_blocks_max}",
        percentile(&single_ms, 0.5),
        single_ms.last().copied().unwrap_or(0.0),
        percentile(&single_blocks, 0.5)
    );
    let issued = issue(net.clone(), requests(&chain, &set, &applicants)?, &applicants).await?;
    let transfers =
        submit_all(net.clone(), signed_transfers(&chain, &senders, TRANSFERS_PER_ACCOUNT, NODES), IN_FLIGHT_MAX)
            .await?;
    println!(
        "{REQUESTS} at once: {:.1} certificates/s, request → certificate p50 {:.0} ms, p99 {:.0} ms; blocks after the third approval: p50 {:.0}, max {}",
        issued.per_s, issued.p50_ms, issued.p99_ms, issued.blocks_after_approval_p50, issued.blocks_after_approval_max
    );
    println!(
        "transfers: {:.0} tx/s (p50 {:.0} ms), issuance {:.3} of it",
        transfers.tx_s,
        transfers.p50_ms,
        issued.per_s / transfers.tx_s
    );

    let serial = issued.serials.first().copied().context("a certificate")?;
    let answer: serde_json::Value =
        net.http.get(net.url(0, &format!("/v1/certs/{}", hex::encode(serial)))).send().await?.json().await?;
    let cert_pem = answer["certificates_pem"][0].as_str().context("the certificate's PEM")?.to_string();
    let dir = net.devnet.dir.join("bench-certs");
    std::fs::create_dir_all(&dir)?;
    let (root_path, cert_path, fixture) = (dir.join("root.pem"), dir.join("cert.pem"), dir.join("fixture.json"));
    std::fs::write(&root_path, &root)?;
    std::fs::write(&cert_path, &cert_pem)?;
    let fixture_json =
        serde_json::json!({ "genesisJson": genesis_json, "rootPem": root, "certPem": cert_pem, "answer": answer });
    std::fs::write(&fixture, serde_json::to_vec(&fixture_json)?)?;
    let (wasm, js) = js_rates(&fixture)?;
    let openssl = openssl_rate(&root_path, &cert_path)?;
    println!("verification: wasm (certificate + proofs + quorum certificate) {wasm:.0}/s; @peculiar/x509 (signature only) {js:.0}/s → {:.2}×; openssl verify (a process each) {openssl:.0}/s", wasm / js);
    println!(
        "bench certs: issued_per_s={:.1} transfer_tx_s={:.0} issue_p50_ms={:.0} issue_p99_ms={:.0} single_issue_p50_ms={:.0} blocks_after_approval_max={single_blocks_max} burst_blocks_after_approval_max={} wasm_verify_per_s={wasm:.0} js_x509_verify_per_s={js:.0} openssl_verify_per_s={openssl:.0} issuance_ratio={:.3} wasm_vs_js={:.2}",
        issued.per_s,
        transfers.tx_s,
        issued.p50_ms,
        issued.p99_ms,
        percentile(&single_ms, 0.5),
        issued.blocks_after_approval_max,
        issued.per_s / transfers.tx_s,
        wasm / js
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run())
}
