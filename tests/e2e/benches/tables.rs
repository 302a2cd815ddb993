//! `cargo xtask bench tables`: signed rows on a real devnet of 4 release `vigil` nodes,
//! measured against the same devnet's transfers, and their proofs checked in the npm
//! package's WebAssembly against an account proof in the same run.
//!
//! - A warm-up of transfers from other accounts first, so neither measured load pays for
//!   a cold devnet.
//! - Rows: one table of 6 columns (a `Listed` policy of the writer accounts), each
//!   writer inserting its rows with its nonces in order, many in flight: rows per second
//!   submit to commit (target: ≥ 0.5 of the transfer rate).
//! - Transfers: the same number of accounts, the same number of transactions each.
//! - Verification in wasm (`tests/bench/tables.mjs`): one row with its proof and its
//!   signature, an account with its proof (target: a row ≤ 2× an account), a page of 100
//!   rows with its range proof and every signature (target: ≤ 30× one row).

use std::sync::Arc;

use anyhow::Context;
use vigil_e2e::load::{signed_transfers, submit_all};
use vigil_e2e::TestNet;
use vigil_protocol::tables::{
    Column, ColumnType, CreateTable, KeyRange, RowBody, RowOp, TableSchema, Value, WritePolicy,
};
use vigil_protocol::{Address, Amount, ChainId, Nonce, Payload, SecretKey, SignedTransaction, Transaction};

const NODES: usize = 4;
/// Writer accounts (a listed policy names at most 64), and as many transfer senders.
const ACCOUNTS: usize = 64;
/// Rows (and transfers) per account; `VIGIL_BENCH_PER_ACCOUNT` sets another (a longer
/// run to profile).
const PER_ACCOUNT: u64 = 100;
/// Transfers per account of a third group of accounts, before anything is measured: the
/// devnet's links, caches and files warmed up for both measured loads alike.
const WARM_UP_PER_ACCOUNT: u64 = 10;
const IN_FLIGHT_MAX: usize = 256;
const TABLE: &str = "bench_orders";

fn schema(writers: &[SecretKey]) -> TableSchema {
    let col = |name: &str, ty| Column { name: name.into(), ty, nullable: false, max_len: None, min: None, max: None };
    TableSchema {
        name: TABLE.into(),
        columns: vec![
            col("id", ColumnType::U64),
            Column { max_len: Some(32), ..col("sku", ColumnType::String) },
            Column { min: Some(0), max: Some(1_000_000), ..col("qty", ColumnType::I64) },
            Column { min: Some(0), ..col("price", ColumnType::Decimal { scale: 2 }) },
            col("at", ColumnType::Timestamp),
            col("buyer", ColumnType::Address),
        ],
        primary_key: vec![0],
        policy: WritePolicy::Listed(writers.iter().map(|k| Address::from_public_key(&k.public_key())).collect()),
    }
}

fn tx(chain: &ChainId, key: &SecretKey, nonce: u64, payload: Payload) -> SignedTransaction {
    let fee = vigil_core::capability::fee_min(&payload);
    Transaction { chain_id: chain.clone(), sender: key.public_key(), nonce: Nonce(nonce), fee: Amount(fee), payload }
        .sign(key)
}

/// Every writer's rows, nonces in order, writers interleaved, each to a node in turn.
fn signed_rows(chain: &ChainId, writers: &[SecretKey], per_account: u64) -> Vec<(usize, SignedTransaction)> {
    let mut work = Vec::new();
    for n in 0..per_account {
        for (w, key) in writers.iter().enumerate() {
            let id = n * writers.len() as u64 + w as u64;
            let values = vec![
                Value::U64(id),
                Value::String(format!("sku-{id:08}")),
                Value::I64((id % 1000) as i64),
                Value::Decimal(i128::from(id) * 25),
                Value::Timestamp(1_700_000_000_000 + id),
                Value::Address(Address([(id % 251) as u8; 20])),
            ];
            let body = RowBody { chain: chain.clone(), table: TABLE.into(), op: RowOp::Insert, values };
            work.push((w % NODES, tx(chain, key, n, Payload::WriteRow(Box::new(body.sign(key))))));
        }
    }
    work
}

/// The wasm rates from `tests/bench/tables.mjs` on `fixture`.
fn wasm_rates(fixture: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let package = std::env::var("VIGIL_NPM_DIR").context("VIGIL_NPM_DIR (cargo xtask bench tables sets it)")?;
    let dir = std::env::var("VIGIL_BENCH_JS").context("VIGIL_BENCH_JS (cargo xtask bench tables sets it)")?;
    let out = std::process::Command::new("node")
        .current_dir(dir)
        .args(["tables.mjs", "--package", &package, "--fixture"])
        .arg(fixture)
        .output()?;
    anyhow::ensure!(out.status.success(), "tables.mjs: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout)?;
    let line = text.lines().rev().find(|l| l.starts_with('{')).context("no JSON line from tables.mjs")?;
    Ok(serde_json::from_str(line)?)
}

async fn run() -> anyhow::Result<()> {
    let owner = vigil_e2e::seeded_key(0x7a, 0);
    let writers: Vec<SecretKey> = (0..ACCOUNTS).map(|i| vigil_e2e::seeded_key(0x7b, i)).collect();
    let senders: Vec<SecretKey> = (0..ACCOUNTS).map(|i| vigil_e2e::seeded_key(0x7c, i)).collect();
    let warmers: Vec<SecretKey> = (0..ACCOUNTS).map(|i| vigil_e2e::seeded_key(0x7d, i)).collect();
    let funded = std::iter::once(&owner)
        .chain(&writers)
        .chain(&senders)
        .chain(&warmers)
        .map(|k| (Address::from_public_key(&k.public_key()), Amount(1_000_000)))
        .collect();
    let net = Arc::new(TestNet::start_with(NODES, 0, vigil_protocol::ConsensusMode::Fast, funded).await?);
    let genesis_json = std::fs::read_to_string(&net.devnet.genesis)?;
    let chain = ChainId::new("vigil-e2e")?;
    let create = tx(&chain, &owner, 0, Payload::CreateTable(Box::new(CreateTable { schema: schema(&writers) })));
    let made = submit_all(net.clone(), vec![(0, create)], 1).await?;
    anyhow::ensure!(made.failed == 0, "the table was not created");
    let per_account = vigil_e2e::env_or("VIGIL_BENCH_PER_ACCOUNT", PER_ACCOUNT);
    let total = ACCOUNTS as u64 * per_account;
    println!("{NODES}-node devnet: {total} signed rows into one 6-column table from {ACCOUNTS} writers, then {total} transfers from {ACCOUNTS} senders");
    let warm =
        submit_all(net.clone(), signed_transfers(&chain, &warmers, WARM_UP_PER_ACCOUNT, NODES), IN_FLIGHT_MAX).await?;
    anyhow::ensure!(warm.failed == 0, "{} warm-up transfers were not committed", warm.failed);

    let rows = submit_all(net.clone(), signed_rows(&chain, &writers, per_account), IN_FLIGHT_MAX).await?;
    anyhow::ensure!(rows.failed == 0, "{} rows were not committed", rows.failed);
    let transfers =
        submit_all(net.clone(), signed_transfers(&chain, &senders, per_account, NODES), IN_FLIGHT_MAX).await?;
    anyhow::ensure!(transfers.failed == 0, "{} transfers were not committed", transfers.failed);
    println!(
        "rows: {:.0}/s (p50 {:.0} ms, p99 {:.0} ms); transfers: {:.0}/s (p50 {:.0} ms, p99 {:.0} ms) → rows at {:.2} of transfers",
        rows.tx_s,
        rows.p50_ms,
        rows.p99_ms,
        transfers.tx_s,
        transfers.p50_ms,
        transfers.p99_ms,
        rows.tx_s / transfers.tx_s
    );

    // What the wallet checks, fetched once from node 0 at one height: one row, a page
    // of 100, an account.
    let key = hex::encode(1234u64.to_be_bytes());
    let row: serde_json::Value =
        net.http.get(net.url(0, &format!("/v1/tables/{TABLE}/rows/{key}"))).send().await?.json().await?;
    let request = vigil_api::ScanRequest::new(
        &KeyRange { from: std::ops::Bound::Included(1000u64.to_be_bytes().to_vec()), to: std::ops::Bound::Unbounded },
        100,
    );
    let page: serde_json::Value =
        net.http.post(net.url(0, &format!("/v1/tables/{TABLE}/scan"))).json(&request).send().await?.json().await?;
    let address = Address::from_public_key(&senders[0].public_key());
    let account: serde_json::Value =
        net.http.get(net.url(0, &format!("/v1/accounts/{address}"))).send().await?.json().await?;
    // The devnet stops before the wasm side runs: its nodes' work would weigh on
    // whichever check ran while they worked.
    let fixture = std::env::temp_dir().join(format!("vigil-bench-tables-{}.json", std::process::id()));
    let fixture_json = serde_json::json!({
        "genesisJson": genesis_json, "table": TABLE, "rowKey": key, "row": row,
        "scanRequest": request, "page": page, "address": address.to_string(), "account": account,
    });
    std::fs::write(&fixture, serde_json::to_vec(&fixture_json)?)?;
    drop(Arc::try_unwrap(net).map_err(|_| anyhow::anyhow!("the devnet is still in use"))?);
    let v = wasm_rates(&fixture);
    std::fs::remove_file(&fixture)?;
    let v = v?;
    let get = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).with_context(|| format!("tables.mjs: no {k}"));
    let (row_us, account_us, range_ms) = (get("row_verify_us")?, get("account_verify_us")?, get("range100_verify_ms")?);
    println!(
        "verification in wasm: a row {row_us:.0} µs, an account {account_us:.0} µs → {:.2}×; a page of 100 rows {range_ms:.2} ms → {:.1}× a row",
        row_us / account_us,
        range_ms * 1000.0 / row_us
    );
    println!(
        "bench tables: insert_rows_s={:.0} transfer_tx_s={:.0} row_verify_us={row_us:.0} account_verify_us={account_us:.0} range100_verify_ms={range_ms:.2} rows_vs_transfers={:.2} row_vs_account={:.2} range100_vs_row={:.1}",
        rows.tx_s,
        transfers.tx_s,
        rows.tx_s / transfers.tx_s,
        row_us / account_us,
        range_ms * 1000.0 / row_us
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run())
}
