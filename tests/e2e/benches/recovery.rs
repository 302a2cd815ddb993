//! `cargo xtask bench recovery`: a real 4-node devnet (release `vigil` processes on
//! 127.0.0.1) whose state is built by 200,000 transfers to new accounts. Then, in the
//! same run: a validator's data directory is wiped and it rebuilds by replaying every
//! block from genesis (the anchor); another's is wiped and it restores from its peers'
//! snapshot (`--recover`), then replays only the blocks after the checkpoint. Both are
//! timed to the same height. Last, an archive node is switched to pruning and its
//! database file measured on disk before and after.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use vigil_e2e::TestNet;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{Address, Amount, ChainId, ConsensusMode, Nonce, Payload, SecretKey, Transaction, Transfer};

const SENDERS: usize = 400;
const TXS_PER_SENDER: u64 = 500;
const IN_FLIGHT_MAX: usize = 512;
/// Blocks kept below the checkpoint once node 0 prunes.
const RETENTION_BLOCKS: u64 = 64;

/// `VIGIL_BENCH_TXS_PER_SENDER` shortens or lengthens a run.
fn txs_per_sender() -> u64 {
    vigil_e2e::env_or("VIGIL_BENCH_TXS_PER_SENDER", TXS_PER_SENDER)
}

/// A new account for every transfer.
fn recipient(i: usize, nonce: u64) -> Address {
    let mut a = [0x7cu8; 20];
    a[..8].copy_from_slice(&(i as u64).to_le_bytes());
    a[8..16].copy_from_slice(&nonce.to_le_bytes());
    Address(a)
}

/// Builds the state: every sender's transfers, in nonce order, `IN_FLIGHT_MAX` at once.
async fn build_state(net: &Arc<TestNet>, keys: &[SecretKey]) -> anyhow::Result<(usize, f64)> {
    let chain = ChainId::new("vigil-e2e")?;
    let permits = Arc::new(Semaphore::new(IN_FLIGHT_MAX));
    let total = keys.len() as u64 * txs_per_sender();
    let start = Instant::now();
    let mut tasks = Vec::new();
    let mut sent = 0u64;
    for nonce in 0..txs_per_sender() {
        for (i, k) in keys.iter().enumerate() {
            let tx = Transaction {
                chain_id: chain.clone(),
                sender: k.public_key(),
                nonce: Nonce(nonce),
                fee: Amount(1),
                payload: Payload::Transfer(Transfer { to: recipient(i, nonce), amount: Amount(1) }),
            }
            .sign(k);
            let permit = permits.clone().acquire_owned().await?;
            let net = net.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = permit;
                let r = net
                    .http
                    .post(net.url(i % 4, "/v1/tx?wait=true&timeout_ms=60000"))
                    .header("content-type", "application/octet-stream")
                    .body(to_bytes(&tx))
                    .send()
                    .await;
                matches!(&r, Ok(resp) if resp.status().as_u16() == 200)
            }));
            sent += 1;
            if sent % (total / 10).max(1) == 0 {
                eprintln!("  {sent}/{total} transfers sent, {:.0} s", start.elapsed().as_secs_f64());
            }
        }
    }
    let mut failed = 0;
    for t in tasks {
        failed += usize::from(!t.await?);
    }
    Ok((failed, start.elapsed().as_secs_f64()))
}

/// Kills node `i` and removes its data directory.
fn wipe(net: &mut TestNet, i: usize) -> anyhow::Result<()> {
    let (_, child) = &mut net.running.children[i];
    child.kill()?;
    child.wait()?;
    let data = net.devnet.nodes[i].config.parent().map(|d| d.join("data"));
    std::fs::remove_dir_all(data.ok_or_else(|| anyhow::anyhow!("node dir"))?)?;
    Ok(())
}

/// Seconds until node `i` reaches `target`.
async fn until_height(net: &TestNet, i: usize, target: u64, started: Instant) -> anyhow::Result<f64> {
    let deadline = started + Duration::from_secs(1_800);
    while net.height(i).await.unwrap_or(0) < target {
        anyhow::ensure!(Instant::now() < deadline, "node {i} did not reach height {target}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(started.elapsed().as_secs_f64())
}

fn log_of(net: &TestNet, i: usize) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(net.devnet.dir.join(format!("node-{i}/node.log")))?)
}

/// The value after `key` in the last line of `log` that contains `marker`.
fn logged(log: &str, marker: &str, key: &str) -> Option<f64> {
    let line = log.lines().rev().find(|l| l.contains(marker))?;
    let at = line.find(key)? + key.len();
    line[at..].split_whitespace().next()?.trim_matches('"').parse().ok()
}

async fn database_mb(net: &TestNet, i: usize) -> anyhow::Result<f64> {
    Ok(net.metric(i, "vigil_disk_bytes{part=\"database\"}").await? / 1e6)
}

async fn run() -> anyhow::Result<()> {
    let keys: Vec<SecretKey> = (0..SENDERS).map(|i| vigil_e2e::seeded_key(0x6b, i)).collect();
    let funded = keys.iter().map(|k| (Address::from_public_key(&k.public_key()), Amount(10_000_000))).collect();
    // Archive nodes while the state is built: every block and version is on disk.
    let archive = |d: &vigil::devnet::Devnet| -> anyhow::Result<()> {
        for n in &d.nodes {
            let mut cfg = vigil_node::config::NodeConfig::load(&n.config)?;
            (cfg.storage.archive, cfg.storage.compact_interval_s) = (true, 0);
            cfg.save(&n.config)?;
        }
        Ok(())
    };
    let mut net = TestNet::start_configured(4, 0, ConsensusMode::Fast, funded, archive).await?;
    let total = SENDERS as u64 * txs_per_sender();
    println!("4-node devnet; state built by {total} transfers to new accounts");
    let shared = Arc::new(net);
    let (failed, build_s) = build_state(&shared, &keys).await?;
    net = Arc::try_unwrap(shared).map_err(|_| anyhow::anyhow!("load tasks still hold the devnet"))?;
    println!("  built in {build_s:.0} s ({:.0} tx/s), {failed} failed", (total as f64 - failed as f64) / build_s);
    // A stable checkpoint above the load, so the restore replays few blocks.
    let loaded = net.height(0).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, v) = net.get(1, "/v1/checkpoints/latest").await?;
        if status == 200 && v["height"].as_u64().unwrap_or(0) >= loaded {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "no stable checkpoint above height {loaded}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let disk_before = database_mb(&net, 0).await?;

    // The anchor: node 2 replays every block from genesis.
    let exe = vigil_e2e::vigil_bin()?;
    let target = net.height(0).await?;
    wipe(&mut net, 2)?;
    let started = Instant::now();
    let node2 = net.devnet.nodes[2].clone();
    net.running.children[2].1 = net.devnet.spawn_node(&exe, &node2)?;
    let replay_s = until_height(&net, 2, target, started).await?;
    println!("  replay from genesis to height {target}: {replay_s:.1} s");

    // Node 3 restores from its peers' snapshot, then replays the blocks after it.
    let target = net.height(0).await?;
    wipe(&mut net, 3)?;
    let started = Instant::now();
    let node3 = net.devnet.nodes[3].clone();
    net.running.children[3].1 = net.devnet.spawn_node_with(&exe, &node3, &["--recover"])?;
    let restore_s = until_height(&net, 3, target, started).await?;
    let log = log_of(&net, 3)?;
    let phases = ["node starting", "restoring the state", "snapshot downloaded", "state rebuilt"];
    for line in log.lines().filter(|l| phases.iter().any(|p| l.contains(p))) {
        eprintln!("  node 3: {}", line.chars().take(200).collect::<String>());
    }
    let snapshot_mb = logged(&log, "snapshot downloaded", "mb=").unwrap_or(f64::NAN);
    let snapshot_mb_s = logged(&log, "snapshot downloaded", "mb_s=").unwrap_or(f64::NAN);
    println!(
        "  restore from snapshot ({snapshot_mb:.1} MB at {snapshot_mb_s:.1} MB/s) to height {target}: {restore_s:.1} s"
    );

    // Node 0 stops being an archive node: it prunes at the next stable checkpoint.
    {
        let (_, child) = &mut net.running.children[0];
        child.kill()?;
        child.wait()?;
        let node0 = net.devnet.nodes[0].clone();
        let mut cfg = vigil_node::config::NodeConfig::load(&node0.config)?;
        (cfg.storage.archive, cfg.storage.retention_blocks) = (false, RETENTION_BLOCKS);
        cfg.save(&node0.config)?;
        net.running.children[0].1 = net.devnet.spawn_node(&exe, &node0)?;
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    while !log_of(&net, 0)?.lines().any(|l| l.contains(" pruned ") && l.contains("compacted=true")) {
        anyhow::ensure!(Instant::now() < deadline, "node 0 did not prune and compact");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let disk_after = database_mb(&net, 0).await?;
    let snapshots_mb = net.metric(0, "vigil_disk_bytes{part=\"snapshots\"}").await? / 1e6;
    let took = (disk_before - snapshots_mb).max(f64::MIN_POSITIVE);
    let freed_pct = 100.0 * (disk_before - disk_after) / took;

    println!("{:>26} | {:>10}", "", "");
    println!("{:>26} | {:>10.1}", "replay from genesis, s", replay_s);
    println!("{:>26} | {:>10.1}", "restore from snapshot, s", restore_s);
    println!("{:>26} | {:>10.1}", "restore faster, ×", replay_s / restore_s);
    println!("{:>26} | {:>10.1}", "snapshot MB/s", snapshot_mb_s);
    println!("{:>26} | {:>10.1}", "database before, MB", disk_before);
    println!("{:>26} | {:>10.1}", "database after pruning, MB", disk_after);
    println!("{:>26} | {:>10.1}", "whole state (snapshot), MB", snapshots_mb);
    println!("{:>26} | {:>10.0}", "freed of blocks, versions %", freed_pct);
    println!(
        "bench recovery: snapshot_mb_s={snapshot_mb_s:.1} restore_s={restore_s:.1} replay_s={replay_s:.1} \
         disk_before_mb={disk_before:.1} disk_after_mb={disk_after:.1} restore_speedup={:.1} freed_pct={freed_pct:.0}",
        replay_s / restore_s
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run())
}
