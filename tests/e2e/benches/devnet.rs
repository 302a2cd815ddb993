//! `cargo xtask bench devnet`: a bounded load generator against a real 4-node devnet
//! (release `vigil` processes on 127.0.0.1), in Fast and in Bft mode, with one signed
//! transfer per request (`POST /v1/tx`) and then in batches (`POST /v1/txs`). Every
//! request waits (`wait=true`), so a transfer's latency is submit-to-commit as a client
//! sees it (in a batch, the batch's). Anchor, same run: Ed25519 verifications per second on all cores,
//! divided by the number of nodes (every node verifies every transaction), measured just
//! before and just after each load: each load's ratio is against the mean of its two, so
//! a host that slows down or speeds up within the run moves both sides of that ratio.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_api::NodeStatus;
use vigil_e2e::load::{signed_transfers, submit_all, submit_batches, Outcome};
use vigil_e2e::TestNet;
use vigil_protocol::crypto::verify_batch;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{
    Address, Amount, ChainId, ConsensusMode, Domain, Nonce, Payload, SecretKey, SignedTransaction, Transaction,
    Transfer,
};

/// The load generator shares the cores with the nodes: a lean allocator leaves them
/// more of them (glibc's malloc was 4% of the machine in the one-per-request way).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NODES: usize = 4;
/// Clients, each with its own account, sending their transfers in nonce order. 2048 in
/// flight saturate the devnet on 2 cores. With 512, blocks held about 330 transactions
/// and the devnet sat waiting on its pipeline: batched tx/s rose with each doubling to
/// 2048 (Fast 0.20 → 0.29 of the limit, blocks of about 900), and 4096 added under a
/// tenth at 1.75× the latency.
const ACCOUNTS: usize = 256;
const TXS_PER_ACCOUNT: u64 = 80;
const IN_FLIGHT_MAX: usize = 2048;
/// Transactions per request when they go in batches (`POST /v1/txs`): the most a batch
/// may hold (the node's `TX_BATCH_MAX`), four nonces of each of a node's 64 accounts. A
/// node checks a batch's signatures together, and 256 at once cost each about two thirds
/// of what 64 at once do.
const BATCH: usize = 256;
/// Pause after a devnet stops, before the anchor is measured again.
const SETTLE: Duration = Duration::from_millis(300);

/// `VIGIL_BENCH_TXS_PER_ACCOUNT` lengthens a run (e.g. to attach a profiler).
fn txs_per_account() -> u64 {
    vigil_e2e::env_or("VIGIL_BENCH_TXS_PER_ACCOUNT", TXS_PER_ACCOUNT)
}

/// `VIGIL_BENCH_BATCH` changes how many transactions go in one batched request.
fn batch() -> usize {
    vigil_e2e::env_or("VIGIL_BENCH_BATCH", BATCH as u64) as usize
}

/// `VIGIL_BENCH_IN_FLIGHT` changes how many transactions are in flight at once.
fn in_flight() -> usize {
    vigil_e2e::env_or("VIGIL_BENCH_IN_FLIGHT", IN_FLIGHT_MAX as u64) as usize
}

fn account(i: usize) -> SecretKey {
    vigil_e2e::seeded_key(0x5a, i)
}

/// One load on a fresh devnet in `mode`: one transaction per request, or `batched`.
/// With its outcome, node 0's status after it: blocks committed, and its view (a Fast
/// view past 0 is a view change, a leader the others gave up waiting for).
async fn load(mode: ConsensusMode, batched: bool, keys: &[SecretKey]) -> anyhow::Result<(Outcome, NodeStatus)> {
    let funded = keys.iter().map(|k| (Address::from_public_key(&k.public_key()), Amount(1_000_000))).collect();
    let net = Arc::new(TestNet::start_with(NODES, 0, mode, funded).await?);
    let work = signed_transfers(&ChainId::new("vigil-e2e")?, keys, txs_per_account(), NODES);
    let outcome = if batched {
        submit_batches(net.clone(), work, batch(), in_flight()).await?
    } else {
        submit_all(net.clone(), work, in_flight()).await?
    };
    let url = format!("{}/v1/status", net.devnet.nodes[0].api_url);
    let status: NodeStatus = net.http.get(url).send().await?.error_for_status()?.json().await?;
    Ok((outcome, status))
}

/// Ed25519 batch verifications per second on all cores.
fn verify_rate_all_cores(keys: &[SecretKey]) -> f64 {
    let chain = ChainId::new("vigil-e2e").expect("id");
    let txs: Vec<SignedTransaction> = (0..512)
        .map(|i| {
            let k = &keys[i % keys.len()];
            Transaction {
                chain_id: chain.clone(),
                sender: k.public_key(),
                nonce: Nonce(i as u64),
                fee: Amount(1),
                payload: Payload::Transfer(Transfer { to: Address([1; 20]), amount: Amount(1) }),
            }
            .sign(k)
        })
        .collect();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let per_thread: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let bodies: Vec<Vec<u8>> = txs.iter().map(|t| to_bytes(&t.tx)).collect();
                    let msgs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
                    let sigs: Vec<_> = txs.iter().map(|t| t.signature).collect();
                    let pks: Vec<_> = txs.iter().map(|t| t.tx.sender).collect();
                    let start = Instant::now();
                    let mut n = 0usize;
                    while start.elapsed() < Duration::from_millis(800) {
                        verify_batch(Domain::TransactionSignature, &msgs, &sigs, &pks).expect("valid");
                        n += txs.len();
                    }
                    n as f64 / start.elapsed().as_secs_f64()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).collect()
    });
    per_thread.iter().sum()
}

fn main() -> anyhow::Result<()> {
    let keys: Vec<SecretKey> = (0..ACCOUNTS).map(account).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    println!(
        "{NODES}-node devnet, {} signed transfers per run, {} in flight, wait=true: one per request (POST /v1/tx), then in batches of {} (POST /v1/txs)",
        ACCOUNTS as u64 * txs_per_account(),
        in_flight(),
        batch()
    );
    println!(
        "limit: Ed25519 batch verifications per second on all cores, over {NODES} nodes, before and after each load"
    );
    println!(
        "{:>6} {:>8} | {:>9} {:>9} {:>9} {:>7} | {:>9} {:>9} | {:>7} {:>5}",
        "mode", "requests", "tx/s", "p50 ms", "p99 ms", "failed", "limit", "of limit", "blocks", "view"
    );
    // `VIGIL_BENCH_WAY=single` (or `batches`) runs that way only, for a profiler to
    // attach; the figures line then needs all four, so it is not printed.
    let only = std::env::var("VIGIL_BENCH_WAY").ok();
    let ways: Vec<bool> = match only.as_deref() {
        None => vec![false, true],
        Some("single") => vec![false],
        Some("batches") => vec![true],
        Some(other) => anyhow::bail!("VIGIL_BENCH_WAY is `single` or `batches`, not `{other}`"),
    };
    let mut results = Vec::new();
    // The anchor measured after one load is the one before the next: nothing runs between.
    let mut before = verify_rate_all_cores(&keys);
    for batched in ways {
        for mode in [ConsensusMode::Fast, ConsensusMode::Bft] {
            let (o, status) = rt.block_on(load(mode, batched, &keys))?;
            std::thread::sleep(SETTLE);
            let after = verify_rate_all_cores(&keys);
            let limit = (before + after) / 2.0 / NODES as f64;
            before = after;
            println!(
                "{:>6} {:>8} | {:>9.0} {:>9.1} {:>9.1} {:>7} | {:>9.0} {:>9.2} | {:>7} {:>5}",
                mode.to_string(),
                if batched { "batches" } else { "single" },
                o.tx_s,
                o.p50_ms,
                o.p99_ms,
                o.failed,
                limit,
                o.tx_s / limit,
                status.height.0,
                status.view.0
            );
            results.push((o, limit));
        }
    }
    if only.is_some() {
        return Ok(());
    }
    let limit = results.iter().map(|(_, l)| l).sum::<f64>() / results.len() as f64;
    let of = |(o, l): &(Outcome, f64)| o.tx_s / l;
    let [fast, bft, fast_batch, bft_batch] = [&results[0], &results[1], &results[2], &results[3]];
    println!(
        "targets (issue 22): ≥ 0.3 of the limit in both modes; batched {:.2} / {:.2}, single {:.2} / {:.2}",
        of(fast_batch),
        of(bft_batch),
        of(fast),
        of(bft)
    );
    println!(
        "bench devnet: fast_tx_s={:.0} bft_tx_s={:.0} fast_batch_tx_s={:.0} bft_batch_tx_s={:.0} limit_tx_s={limit:.0} fast_of_limit={:.2} bft_of_limit={:.2} fast_batch_of_limit={:.2} bft_batch_of_limit={:.2} fast_p50_ms={:.1} bft_p50_ms={:.1} fast_batch_p50_ms={:.1} bft_batch_p50_ms={:.1}",
        fast.0.tx_s,
        bft.0.tx_s,
        fast_batch.0.tx_s,
        bft_batch.0.tx_s,
        of(fast),
        of(bft),
        of(fast_batch),
        of(bft_batch),
        fast.0.p50_ms,
        bft.0.p50_ms,
        fast_batch.0.p50_ms,
        bft_batch.0.p50_ms
    );
    Ok(())
}
