//! `cargo xtask bench crosschain`: cross-chain transfers end to end on two devnets of 4
//! release `vigil` nodes each, their gateways and the relayer (`vigil devnet --chains 2`),
//! against transfers within one chain in the same run.
//!
//! - A warm-up of local transfers on chain A first.
//! - Local: `ACCOUNTS` senders × `PER_ACCOUNT` transfers on chain A, submit to commit:
//!   `local_tx_s`.
//! - Cross: as many transfers from A to B, submitted the same way; a watcher reads A's
//!   channel and commitments (proven, through A's gateway) every few milliseconds: a
//!   packet's escrow is when its sequence appears, its end when its commitment is gone
//!   (credited on B, acknowledged on A). `xfer_s` = transfers / (first submit → last
//!   acknowledgement); p50/p99 of escrow → acknowledgement.
//! - Blocks: for each packet, A's blocks from escrow to acknowledgement and B's blocks
//!   from the escrow to the receipt (the receipt names its height), under the load and
//!   for 20 transfers sent one after another once it is over (target: ≤ 3 each).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use vigil_e2e::load::{percentile, signed_transfers, submit_to};
use vigil_e2e::twonet::TwoNet;
use vigil_protocol::crosschain::{Channel, CrossAsset, CrossTransfer, PacketReceipt, PacketTimeout};
use vigil_protocol::{Address, Amount, ChainId, Height, Nonce, Payload, SecretKey, StateKey, Transaction};

const NODES: usize = 4;
const ACCOUNTS: usize = 32;
/// Transfers per account of each load; `VIGIL_BENCH_PER_ACCOUNT` sets another.
const PER_ACCOUNT: u64 = 50;
const WARM_UP_PER_ACCOUNT: u64 = 10;
const IN_FLIGHT_MAX: usize = 256;
/// Transfers sent one after another on an idle pair of chains, for the blocks each takes.
const IDLE_SAMPLE: usize = 20;
/// How long the cross load may take to settle.
const SETTLE_MAX: Duration = Duration::from_secs(300);

fn cross_transfers(
    chain: &ChainId,
    to: &ChainId,
    keys: &[SecretKey],
    per_account: u64,
) -> Vec<(usize, vigil_protocol::SignedTransaction)> {
    let mut work = Vec::new();
    for nonce in 0..per_account {
        for (i, k) in keys.iter().enumerate() {
            let payload = Payload::CrossTransfer(Box::new(CrossTransfer {
                to_chain: to.clone(),
                to: Address([(i % 250) as u8; 20]),
                asset: CrossAsset::Native,
                amount: Amount(1),
                relayer_fee: Amount(1),
                timeout: PacketTimeout { height: Height(0), source_height: Height(1_000_000) },
            }));
            let tx = Transaction {
                chain_id: chain.clone(),
                sender: k.public_key(),
                nonce: Nonce(nonce),
                fee: Amount(1),
                payload,
            };
            work.push((i % NODES, tx.sign(k)));
        }
    }
    work
}

/// When and at which heights (A's, B's) each packet was first seen escrowed, and when
/// and at which A height it was first seen settled.
#[derive(Default)]
struct Watch {
    escrowed: BTreeMap<u64, (Instant, Height, Height)>,
    settled: BTreeMap<u64, (Instant, Height)>,
}

async fn watch(net: &TwoNet, total: u64) -> anyhow::Result<Watch> {
    let (mut a, mut b) = (net.session(0).await?, net.session(1).await?);
    let b_id = b.chain_id().clone();
    let mut w = Watch::default();
    let mut low = 1u64;
    let deadline = Instant::now() + SETTLE_MAX;
    while (w.settled.len() as u64) < total {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} of {total} transfers settled in {SETTLE_MAX:?}",
            w.settled.len()
        );
        let head = a.proofs_after(&[StateKey::Channel(b_id.clone())], None).await?;
        let next = head.value::<Channel>(0)?.context("no channel")?.next_sequence;
        let b_height = b.proofs_after(&[StateKey::Consensus], None).await?.height();
        let now = Instant::now();
        for s in low..next {
            w.escrowed.entry(s).or_insert((now, head.height(), b_height));
        }
        let mut from = low;
        while from < next {
            let count = (next - from).min(vigil_api::STATE_KEYS_MAX as u64) as usize;
            let (packets, proven) = a.sent_packets(&b_id, from, count).await?;
            let now = Instant::now();
            for (i, p) in packets.iter().enumerate() {
                if p.is_none() {
                    w.settled.entry(from + i as u64).or_insert((now, proven.height()));
                }
            }
            from += count as u64;
        }
        while w.settled.contains_key(&low) {
            low += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(w)
}

/// Blocks of each chain one transfer takes on its own (no other load): `count` transfers
/// one after the other from `sender`; for each, A's blocks from the height its escrow was
/// first read at to the first height its commitment is read gone, and B's from its height
/// when the escrow was read to its receipt's height. Sorted.
async fn idle_blocks(net: &TwoNet, sender: &SecretKey, count: usize) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let (mut a, mut b) = (net.session(0).await?, net.session(1).await?);
    let b_id = b.chain_id().clone();
    let (mut a_blocks, mut b_blocks) = (Vec::new(), Vec::new());
    for _ in 0..count {
        let transfer = CrossTransfer {
            to_chain: b_id.clone(),
            to: Address([7; 20]),
            asset: CrossAsset::Native,
            amount: Amount(1),
            relayer_fee: Amount(1),
            timeout: PacketTimeout { height: Height(0), source_height: Height(1_000_000) },
        };
        let packet = a.cross_transfer(sender, transfer, 1).await?.packet.context("a transfer not committed")?;
        let escrowed = a.proofs_after(&[packet.commitment_key()], None).await?.height();
        let b_then = b.proofs_after(&[StateKey::Consensus], None).await?.height();
        let deadline = Instant::now() + Duration::from_secs(30);
        let acked = loop {
            let read = a.proofs_after(&[packet.commitment_key()], None).await?;
            if read.values[0].is_none() {
                break read.height();
            }
            anyhow::ensure!(Instant::now() < deadline, "packet {} not settled in 30 s", packet.sequence);
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let receipt: PacketReceipt =
            b.proofs_after(&[packet.receipt_key()], None).await?.value(0)?.context("settled without a receipt")?;
        a_blocks.push(acked.0.saturating_sub(escrowed.0) as f64);
        b_blocks.push(receipt.height.0.saturating_sub(b_then.0) as f64);
    }
    a_blocks.sort_by(|x, y| x.total_cmp(y));
    b_blocks.sort_by(|x, y| x.total_cmp(y));
    Ok((a_blocks, b_blocks))
}

async fn run() -> anyhow::Result<()> {
    let senders: Vec<SecretKey> = (0..ACCOUNTS).map(|i| vigil_e2e::seeded_key(0x8a, i)).collect();
    let cross: Vec<SecretKey> = (0..ACCOUNTS).map(|i| vigil_e2e::seeded_key(0x8b, i)).collect();
    let warmers: Vec<SecretKey> = (0..ACCOUNTS).map(|i| vigil_e2e::seeded_key(0x8c, i)).collect();
    let lone = vigil_e2e::seeded_key(0x8d, 0);
    let funded = senders
        .iter()
        .chain(&cross)
        .chain(&warmers)
        .chain(std::iter::once(&lone))
        .map(|k| (Address::from_public_key(&k.public_key()), Amount(1_000_000)))
        .collect();
    let net = TwoNet::start_loaded(funded, true).await?;
    let (a_id, b_id) = (net.session(0).await?.chain_id().clone(), net.session(1).await?.chain_id().clone());
    let urls = Arc::new(net.two.a.nodes.iter().map(|n| n.api_url.clone()).collect::<Vec<_>>());
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let per_account = vigil_e2e::env_or("VIGIL_BENCH_PER_ACCOUNT", PER_ACCOUNT);
    let total = ACCOUNTS as u64 * per_account;
    println!("two {NODES}-node devnets and a relayer: {total} transfers within chain A, then {total} transfers from A to B, {ACCOUNTS} senders each");
    let warm = submit_to(
        http.clone(),
        urls.clone(),
        signed_transfers(&a_id, &warmers, WARM_UP_PER_ACCOUNT, NODES),
        IN_FLIGHT_MAX,
    )
    .await?;
    anyhow::ensure!(warm.failed == 0, "{} warm-up transfers were not committed", warm.failed);
    let local =
        submit_to(http.clone(), urls.clone(), signed_transfers(&a_id, &senders, per_account, NODES), IN_FLIGHT_MAX)
            .await?;
    anyhow::ensure!(local.failed == 0, "{} local transfers were not committed", local.failed);

    let started = Instant::now();
    let load = submit_to(http, urls, cross_transfers(&a_id, &b_id, &cross, per_account), IN_FLIGHT_MAX);
    let (sent, watched) = tokio::join!(load, watch(&net, total));
    let (sent, w) = (sent?, watched?);
    anyhow::ensure!(sent.failed == 0, "{} cross-chain transfers were not committed", sent.failed);
    let last = w.settled.values().map(|(at, _)| *at).max().context("nothing settled")?;
    let xfer_s = total as f64 / (last - started).as_secs_f64();

    let mut b = net.session(1).await?;
    let mut latencies = Vec::new();
    let (mut a_blocks, mut b_blocks) = (Vec::new(), Vec::new());
    let seqs: Vec<u64> = w.settled.keys().copied().collect();
    for chunk in seqs.chunks(vigil_api::STATE_KEYS_MAX) {
        let keys: Vec<StateKey> = chunk.iter().map(|s| StateKey::PacketReceipt(a_id.clone(), *s)).collect();
        let proven = b.proofs_after(&keys, None).await?;
        for (i, s) in chunk.iter().enumerate() {
            let receipt: PacketReceipt = proven.value(i)?.context("a settled packet without its receipt")?;
            let ((t0, a0, b0), (t1, a1)) = (w.escrowed[s], w.settled[s]);
            latencies.push((t1 - t0).as_secs_f64() * 1000.0);
            a_blocks.push(a1.0.saturating_sub(a0.0) as f64);
            b_blocks.push(receipt.height.0.saturating_sub(b0.0) as f64);
        }
    }
    for v in [&mut latencies, &mut a_blocks, &mut b_blocks] {
        v.sort_by(|x, y| x.total_cmp(y));
    }
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    let (a_med, b_med) = (percentile(&a_blocks, 0.5), percentile(&b_blocks, 0.5));
    let (a_idle, b_idle) = idle_blocks(&net, &lone, IDLE_SAMPLE).await?;
    let (a_idle_med, b_idle_med) = (percentile(&a_idle, 0.5), percentile(&b_idle, 0.5));
    let (a_idle_max, b_idle_max) = (a_idle.last().copied().unwrap_or(0.0), b_idle.last().copied().unwrap_or(0.0));
    println!(
        "one transfer on its own ({IDLE_SAMPLE} one after another): blocks of A median {a_idle_med} (max {a_idle_max}), of B median {b_idle_med} (max {b_idle_max})"
    );
    println!(
        "local: {:.0} transfers/s (p50 {:.0} ms); cross: {xfer_s:.0} transfers/s end to end → {:.2} of local; escrow → acknowledged p50 {p50:.0} ms, p99 {p99:.0} ms; under that load, blocks (median): {a_med} of A, {b_med} of B",
        local.tx_s,
        local.p50_ms,
        xfer_s / local.tx_s
    );
    println!(
        "bench crosschain: xfer_s={xfer_s:.0} p50_ms={p50:.0} p99_ms={p99:.0} local_tx_s={:.0} xfer_vs_local={:.2} a_blocks={a_idle_med} b_blocks={b_idle_med} a_blocks_max={a_idle_max} b_blocks_max={b_idle_max} a_blocks_loaded={a_med} b_blocks_loaded={b_med}",
        local.tx_s,
        xfer_s / local.tx_s
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run())
}
