//! A bounded load generator for the benches: signed transactions submitted to a devnet's
//! nodes with `wait=true` (latency is submit-to-commit as a client sees it), at most a
//! given number in flight: one per request (`POST /v1/tx`), or in batches (`POST
//! /v1/txs`, each transaction's latency its batch's).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{Address, Amount, ChainId, Nonce, Payload, SecretKey, SignedTransaction, Transaction, Transfer};

use crate::TestNet;

/// What a load run measured.
pub struct Outcome {
    pub tx_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub failed: usize,
}

impl Outcome {
    /// The figures of a run of `secs` seconds: the latencies of the transactions that
    /// committed, and how many did not.
    fn of(mut latencies: Vec<f64>, failed: usize, secs: f64) -> Self {
        latencies.sort_by(f64::total_cmp);
        Outcome {
            tx_s: latencies.len() as f64 / secs,
            p50_ms: percentile(&latencies, 0.5),
            p99_ms: percentile(&latencies, 0.99),
            failed,
        }
    }
}

/// The `p` quantile of `sorted` (0 when empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `per_account` transfers from each of `keys` (nonces from 0, accounts interleaved),
/// each with the node it goes to (round robin over `nodes`).
pub fn signed_transfers(
    chain: &ChainId,
    keys: &[SecretKey],
    per_account: u64,
    nodes: usize,
) -> Vec<(usize, SignedTransaction)> {
    let mut work = Vec::with_capacity(keys.len() * per_account as usize);
    for nonce in 0..per_account {
        for (i, k) in keys.iter().enumerate() {
            let tx = Transaction {
                chain_id: chain.clone(),
                sender: k.public_key(),
                nonce: Nonce(nonce),
                fee: Amount(1),
                payload: Payload::Transfer(Transfer { to: Address([(i % 250) as u8; 20]), amount: Amount(1) }),
            };
            work.push((i % nodes, tx.sign(k)));
        }
    }
    work
}

/// Submits every transaction of `work` to its node with `wait=true`, at most `in_flight`
/// at once; a transaction counts when its node answered 200 (committed).
pub async fn submit_all(
    net: Arc<TestNet>,
    work: Vec<(usize, SignedTransaction)>,
    in_flight: usize,
) -> anyhow::Result<Outcome> {
    let urls = net.devnet.nodes.iter().map(|n| n.api_url.clone()).collect();
    submit_to(net.http.clone(), Arc::new(urls), work, in_flight).await
}

/// [`submit_all`] to the nodes whose API base URLs are `urls` (work names a node by its
/// index there).
pub async fn submit_to(
    http: reqwest::Client,
    urls: Arc<Vec<String>>,
    work: Vec<(usize, SignedTransaction)>,
    in_flight: usize,
) -> anyhow::Result<Outcome> {
    let total = work.len();
    let permits = Arc::new(Semaphore::new(in_flight));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for (node, tx) in work {
        let permit = permits.clone().acquire_owned().await?;
        let (http, urls) = (http.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let sent = Instant::now();
            let url = format!("{}/v1/tx?wait=true&timeout_ms=30000", urls[node % urls.len()]);
            let r = http.post(url).header("content-type", "application/octet-stream").body(to_bytes(&tx)).send().await;
            let ok = matches!(&r, Ok(resp) if resp.status().as_u16() == 200);
            (ok, sent.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failed = 0;
    for t in tasks {
        let (ok, ms) = t.await?;
        if ok {
            latencies.push(ms);
        } else {
            failed += 1;
        }
    }
    Ok(Outcome::of(latencies, failed, start.elapsed().as_secs_f64()))
}

/// [`submit_all`] in batches of at most `batch` transactions per request (`POST
/// /v1/txs`, each batch to one node, in the order of `work`), at most `in_flight`
/// transactions at once; a transaction counts when its node answered it committed, and
/// its latency is its batch's.
pub async fn submit_batches(
    net: Arc<TestNet>,
    work: Vec<(usize, SignedTransaction)>,
    batch: usize,
    in_flight: usize,
) -> anyhow::Result<Outcome> {
    let nodes = net.devnet.nodes.len();
    let urls: Arc<Vec<String>> = Arc::new(net.devnet.nodes.iter().map(|n| n.api_url.clone()).collect());
    // Each node's transactions in the order of `work`, cut into batches that go out in
    // turn, so that no batch runs far ahead of the nonces before it.
    let mut per_node: Vec<Vec<SignedTransaction>> = vec![Vec::new(); nodes];
    for (node, tx) in work {
        per_node[node % nodes].push(tx);
    }
    let mut chunks: Vec<_> = per_node.iter().map(|txs| txs.chunks(batch.max(1))).collect();
    let mut batches = Vec::new();
    loop {
        let before = batches.len();
        for (node, c) in chunks.iter_mut().enumerate() {
            if let Some(txs) = c.next() {
                batches.push((node, txs.to_vec()));
            }
        }
        if batches.len() == before {
            break;
        }
    }
    let total: usize = batches.iter().map(|(_, b)| b.len()).sum();
    let permits = Arc::new(Semaphore::new(in_flight.max(batch)));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(batches.len());
    for (node, txs) in batches {
        let permit = permits.clone().acquire_many_owned(txs.len() as u32).await?;
        let (http, urls) = (net.http.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let sent = Instant::now();
            let url = format!("{}/v1/txs?wait=true&timeout_ms=30000", urls[node]);
            let r = http.post(url).header("content-type", "application/octet-stream").body(to_bytes(&txs)).send().await;
            let answer = match r {
                Ok(resp) if resp.status().as_u16() == 200 => resp.json::<vigil_api::TxBatchAnswer>().await.ok(),
                _ => None,
            };
            let committed = answer
                .map_or(0, |a| a.results.iter().filter(|o| o.status == Some(vigil_api::TxState::Committed)).count());
            (committed, txs.len(), sent.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failed = 0;
    for t in tasks {
        let (committed, sent, ms) = t.await?;
        latencies.extend(std::iter::repeat_n(ms, committed));
        failed += sent - committed;
    }
    Ok(Outcome::of(latencies, failed, start.elapsed().as_secs_f64()))
}
