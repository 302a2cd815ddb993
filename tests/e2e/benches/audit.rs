//! `cargo xtask bench audit`: audits end to end on a devnet of 4 release `vigil` nodes
//! and its gateway, and a counterparty's check of a period of 10,000 records against the
//! signature check of those records alone, in the same run.
//!
//! - Audits: `SUPPLIERS` suppliers at once, each with three buyers of its own, each running
//!   `AUDITS_PER_SUPPLIER` audits one after another: a trade with each buyer recorded and
//!   confirmed, the period's rows uploaded to the supplier's node, the audit submitted,
//!   each buyer's check and notice, until the audit reads agreed. `audits_s` = audits /
//!   wall time; `agreed_after_blocks`: the most blocks any audit took from the block of
//!   its last confirmation to its agreement (target: ≤ 2).
//! - Check: one supplier's period of `RECORDS` shipment rows across the three buyers. A
//!   buyer's whole check (the audit and its trades proven, the rows read from the node,
//!   their digest and every signature checked, the claim compared): `check_10k_ms`; the
//!   batch signature check of the same rows alone: `sigs_10k_ms` (target: the check ≤
//!   1.5 × the signatures). Medians of `RUNS`.

use std::time::{Duration, Instant};

use vigil_e2e::load::percentile;
use vigil_e2e::{Native, TestNet};
use vigil_protocol::audit::*;
use vigil_protocol::{Address, Amount, ConsensusMode, Height, NodeId, SecretKey, StateKey};
use vigil_wallet::session::audit::claims_of;
use vigil_wallet::session::Session;

const SUPPLIERS: usize = 4;
const AUDITS_PER_SUPPLIER: usize = 5;
const BUYERS: usize = 3;
const RECORDS: u64 = 10_000;
const RUNS: usize = 5;
const AGREE_WAIT_MAX: Duration = Duration::from_secs(60);

fn supplier(i: usize) -> SecretKey {
    SecretKey::from_seed([0x30 + i as u8; 32])
}

/// Buyer `b` of supplier `s` (each supplier's own: a key signs from one session at a time).
fn buyer(s: usize, b: usize) -> SecretKey {
    SecretKey::from_seed([0x60 + (s * BUYERS + b) as u8; 32])
}

fn addr(k: &SecretKey) -> Address {
    Address::from_public_key(&k.public_key())
}

/// A trade of `target` with each buyer (quantity and amount from `figures`), each
/// confirmed; the trades as proven.
async fn trade_with_all(
    s: &mut Session<Native>,
    buyers: &mut [Session<Native>],
    (supplier, key): (usize, &SecretKey),
    target: TargetId,
    figures: &[(u64, u64)],
) -> anyhow::Result<Vec<Trade>> {
    let mut trades = Vec::new();
    for (b, (&(quantity, amount), session)) in figures.iter().zip(buyers.iter_mut()).enumerate() {
        let number = s.target(&target).await?.0.map(|t| t.trades).unwrap_or_default();
        let trade = RecordTrade {
            target,
            counterparty: addr(&buyer(supplier, b)),
            quantity,
            amount,
            reference: format!("po-{number}"),
        };
        s.record_trade(key, trade).await?;
        session.confirm_trade(&buyer(supplier, b), target, number).await?;
        // Read back by the buyer's session, which reads at least its own confirmation's height.
        let (trade, _) = session.proven::<Trade>(&StateKey::Trade(target, number)).await?;
        trades.push(trade.ok_or_else(|| anyhow::anyhow!("trade {number} not proven"))?);
    }
    Ok(trades)
}

/// Rows for `trades` (`per_trade[i]` rows for trade i, each of quantity 1 and amount 2),
/// uploaded to `holder` from place `from`, and the audit of the period through the
/// newest height submitted; its number and what was submitted.
async fn audit_period(
    s: &mut Session<Native>,
    key: &SecretKey,
    holder: &NodeId,
    target: TargetId,
    trades: &[Trade],
    per_trade: &[u64],
) -> anyhow::Result<(u64, SubmitAudit)> {
    let t = s.target(&target).await?.0.ok_or_else(|| anyhow::anyhow!("no target"))?;
    let from = s.records_kept(holder, &target, Dimension::Second).await?;
    let mut rows = Vec::new();
    for (trade, &n) in trades.iter().zip(per_trade) {
        for _ in 0..n {
            let seq = from + rows.len() as u64;
            let r = Record {
                target,
                dimension: Dimension::Second,
                seq,
                at: trade.recorded_at,
                counterparty: Some(trade.counterparty),
                quantity: 1,
                amount: 2,
                memo: String::new(),
            };
            rows.push(r.sign(key));
        }
    }
    s.upload_records(holder, &rows).await?;
    // The period ends where every trade is confirmed (read from a node at or past them).
    let confirmed = trades.iter().filter_map(|t| t.confirmed_at).max().unwrap_or_default();
    let to = s.proofs_after(&[StateKey::Consensus], confirmed.0.checked_sub(1).map(Height)).await?.height();
    let empty = DataDigest::of(0, &[])?;
    let audit = SubmitAudit {
        target,
        period: AuditPeriod { from: t.next_from, to },
        data: [empty, DataDigest::of(from, &rows)?],
        claims: claims_of(trades, &rows, to),
        deadline: Height(to.0 + 1_000),
    };
    s.submit_audit(key, audit.clone()).await?;
    Ok((t.audits, audit))
}

/// One supplier's audits, one after another; for each, the blocks from its last
/// confirmation to its agreement.
async fn supplier_audits(net_sessions: Vec<Session<Native>>, i: usize, holder: NodeId) -> anyhow::Result<Vec<u64>> {
    let mut sessions = net_sessions;
    let mut buyers = sessions.split_off(1);
    let s = &mut sessions[0];
    let key = supplier(i);
    let (target, _) =
        s.register_target(&key, &format!("supplier-{i}"), holder, ["production".into(), "shipments".into()]).await?;
    let mut blocks = Vec::new();
    for _ in 0..AUDITS_PER_SUPPLIER {
        let trades = trade_with_all(s, &mut buyers, (i, &key), target, &[(1, 2), (2, 4), (3, 6)]).await?;
        let (n, audit) = audit_period(s, &key, &holder, target, &trades, &[1, 2, 3]).await?;
        for (b, session) in buyers.iter_mut().enumerate() {
            let check = session.check_audit(&addr(&buyer(i, b)), &target, n).await?;
            anyhow::ensure!(check.notice == Notice::Confirm, "buyer {b} refused: {:?}", check.notice);
            session.send_notice(&buyer(i, b), target, n, audit.period, check.notice).await?;
        }
        let deadline = Instant::now() + AGREE_WAIT_MAX;
        loop {
            let view = s.audit(&target, n).await?;
            if let AuditStatus::Agreed { at } = view.status {
                let last = view.record.confirmations.iter().map(|(_, h)| *h).max().unwrap_or(at);
                blocks.push(at.0.saturating_sub(last.0));
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "audit {n} of supplier {i} still {:?}", view.status);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(blocks)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
}

async fn run() -> anyhow::Result<()> {
    let mut accounts: Vec<(Address, Amount)> =
        (0..=SUPPLIERS).map(|i| (addr(&supplier(i)), Amount(1_000_000_000))).collect();
    accounts
        .extend((0..=SUPPLIERS).flat_map(|s| (0..BUYERS).map(move |b| (addr(&buyer(s, b)), Amount(1_000_000_000)))));
    let net = TestNet::start_with(4, 0, ConsensusMode::Fast, accounts).await?;
    let http = net.gateway_client()?;
    net.wait_for_gateway(&http, Duration::from_secs(30)).await?;
    let holder = net.devnet.nodes[0].id;
    let sessions = |n: usize| (0..n).map(|_| net.wallet_session(&http)).collect::<anyhow::Result<Vec<_>>>();

    // Audits end to end, SUPPLIERS at once.
    let started = Instant::now();
    // Sessions are not Send: the suppliers run concurrently on this task.
    let mut runs = Vec::new();
    for i in 0..SUPPLIERS {
        runs.push(supplier_audits(sessions(1 + BUYERS)?, i, holder));
    }
    let blocks: Vec<u64> = futures::future::try_join_all(runs).await?.into_iter().flatten().collect();
    let wall = started.elapsed().as_secs_f64();
    let audits = (SUPPLIERS * AUDITS_PER_SUPPLIER) as f64;
    let audits_s = audits / wall;
    let agreed_after = blocks.iter().copied().max().unwrap_or_default();
    println!("audits: {audits} in {wall:.1} s ({audits_s:.2}/s); agreed at most {agreed_after} blocks after the last confirmation");

    // A period of RECORDS rows across the three buyers, checked by buyer 0.
    let mut all = sessions(1 + BUYERS)?;
    let mut buyers = all.split_off(1);
    let s = &mut all[0];
    let key = supplier(SUPPLIERS);
    let (target, _) = s.register_target(&key, "big", holder, ["production".into(), "shipments".into()]).await?;
    let per = [RECORDS / 3, RECORDS / 3, RECORDS - 2 * (RECORDS / 3)];
    let figures: Vec<(u64, u64)> = per.iter().map(|&n| (n, 2 * n)).collect();
    let trades = trade_with_all(s, &mut buyers, (SUPPLIERS, &key), target, &figures).await?;
    let (n, audit) = audit_period(s, &key, &holder, target, &trades, &per).await?;
    let me = addr(&buyer(SUPPLIERS, 0));
    let owner = supplier(SUPPLIERS).public_key();
    let rows = buyers[0].read_records(&holder, &target, Dimension::Second, audit.data[1].from_seq, RECORDS).await?;
    anyhow::ensure!(rows.len() as u64 == RECORDS, "read {} rows", rows.len());
    let (mut checks, mut sigs) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t = Instant::now();
        let check = buyers[0].check_audit(&me, &target, n).await?;
        checks.push(t.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(check.notice == Notice::Confirm && check.records_checked == RECORDS, "{check:?}");
        let t = Instant::now();
        SignedRecord::verify_all(&rows, &owner)?;
        sigs.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (check_ms, sigs_ms) = (median(checks), median(sigs));
    println!("check of {RECORDS} records: {check_ms:.0} ms (read from the node, digest, signatures, claim); signatures alone: {sigs_ms:.0} ms; ratio {:.2} (target ≤ 1.5)", check_ms / sigs_ms);
    println!(
        "bench audit: audits_s={audits_s:.2} check_10k_ms={check_ms:.0} sigs_10k_ms={sigs_ms:.0} check_vs_sigs={:.2} agreed_after_blocks={agreed_after}",
        check_ms / sigs_ms
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(run())
}
