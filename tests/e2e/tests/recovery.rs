//! Issue 17 on a real devnet: a validator whose data directory is wiped under load comes
//! back with `vigil node --recover`, restores the state of its peers' latest stable
//! checkpoint from their snapshots (one peer serves corrupted chunks: caught at the chunk,
//! the others serve the rest), catches up, commits the same blocks as the others and
//! votes again, and the vault shards it held are rebuilt from the other stores; then a byte flipped in another validator's database is caught on read and
//! repaired the same way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_e2e::TestNet;
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::vault::fragment_hash;
use vigil_protocol::{
    Address, Amount, CertifiedHeader, ChainId, ConsensusMode, FetchRequest, FragmentRef, NodeId, Nonce, Payload,
    RequestBinding, SecretKey, SignedTransaction, StableCheckpoint, Transaction, Transfer, UserId, ValidatorSet,
    VaultManifest,
};
use vigil_wallet::keys::WalletSeed;
use zeroize::Zeroizing;

/// Blocks between checkpoints on this test's chain (the default is 64).
const INTERVAL: u64 = 64;
/// Accounts in the genesis, and the chain's snapshot chunk size, so the snapshot has
/// several chunks (each peer serves some).
const GENESIS_ACCOUNTS: u32 = 6_000;
const CHUNK_BYTES: u32 = 64 * 1024;

fn transfer(chain: &ChainId, key: &SecretKey, nonce: u64, to: Address) -> SignedTransaction {
    Transaction {
        chain_id: chain.clone(),
        sender: key.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(1),
        payload: Payload::Transfer(Transfer { to, amount: Amount(3) }),
    }
    .sign(key)
}

/// `tx` to node `node`, waiting for its commit.
async fn submit(net: &TestNet, node: usize, tx: &SignedTransaction) -> anyhow::Result<reqwest::Response> {
    let url = net.url(node, "/v1/tx?wait=true");
    let sent = net.http.post(url).header("content-type", "application/octet-stream").body(to_bytes(tx));
    Ok(sent.send().await?)
}

fn set_checkpoint_interval(genesis: &std::path::Path) -> anyhow::Result<()> {
    let mut g: Value = serde_json::from_slice(&std::fs::read(genesis)?)?;
    g["checkpoints"] = serde_json::json!({ "interval": INTERVAL, "chunk_bytes": CHUNK_BYTES });
    std::fs::write(genesis, serde_json::to_vec_pretty(&g)?)?;
    Ok(())
}

async fn stable_checkpoint(net: &TestNet, node: usize) -> anyhow::Result<Option<StableCheckpoint>> {
    let (status, v) = net.get(node, "/v1/checkpoints/latest").await?;
    if status != 200 {
        return Ok(None);
    }
    Ok(Some(from_bytes(&hex::decode(v["checkpoint_bcs"].as_str().unwrap_or(""))?)?))
}

async fn certified(net: &TestNet, node: usize, height: u64) -> anyhow::Result<CertifiedHeader> {
    let (status, b) = net.get(node, &format!("/v1/blocks/{height}")).await?;
    anyhow::ensure!(status == 200, "node {node} has no block {height}: {b}");
    Ok(from_bytes(&hex::decode(b["certified_header_bcs"].as_str().unwrap_or(""))?)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_validator_restores_from_its_peers_snapshot_under_load_and_votes_again() -> anyhow::Result<()> {
    let accounts = (0..GENESIS_ACCOUNTS)
        .map(|i| {
            let mut a = [0x5a; 20];
            a[..4].copy_from_slice(&i.to_be_bytes());
            (Address(a), Amount(1))
        })
        .collect();
    let seed = WalletSeed::from_entropy(Zeroizing::new([31; 32]));
    let owner = seed.account(0)?;
    let mut accounts: Vec<(Address, Amount)> = accounts;
    accounts.push((owner.address(), Amount(100_000)));
    accounts.sort();
    let mut net =
        TestNet::start_configured(4, 0, ConsensusMode::Fast, accounts, |d| set_checkpoint_interval(&d.genesis)).await?;
    let chain = ChainId::new("vigil-e2e")?;
    let exe = vigil_e2e::vigil_bin()?;

    // Node 1 serves corrupted snapshot chunks from now on.
    {
        let (_, child) = &mut net.running.children[1];
        child.kill()?;
        child.wait()?;
        let mut node1 = net.devnet.nodes[1].clone();
        let mut cfg = vigil_node::config::NodeConfig::load(&node1.config)?;
        cfg.testing.corrupt_snapshot_chunks = true;
        cfg.save(&node1.config)?;
        node1.byzantine = true; // lets its process inject the fault
        net.running.children[1].1 = net.devnet.spawn_node(&exe, &node1)?;
    }
    // The upload below stores a shard at every node: node 1 answers again first (the
    // gateway still counts it healthy while it restarts, its circuit closed).
    net.wait_until_connected(Duration::from_secs(60)).await?;

    // A vault object node 3 keeps a shard of, uploaded before it is wiped.
    let node3 = net.devnet.nodes[3].clone();
    let user = UserId::new("erin@vigil")?;
    let manifest = upload_an_object_stored_at(&net, &seed, &user, &node3.id).await?;
    let shard3 = manifest.stores.iter().position(|s| *s == node3.id).expect("node 3 is a store") as u8;

    // Load through nodes 0 to 2 until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (http, urls) = (net.http.clone(), (0..3).map(|i| net.url(i, "/v1/tx?wait=true")).collect::<Vec<_>>());
        let (faucet, chain, stop) = (net.devnet.faucet()?, chain.clone(), stop.clone());
        tokio::spawn(async move {
            let mut committed = 0u64;
            let mut nonce = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let tx = transfer(&chain, &faucet, nonce, Address([0xa1; 20]));
                let url = &urls[(nonce % 3) as usize];
                let sent = http.post(url).header("content-type", "application/octet-stream").body(to_bytes(&tx));
                match sent.send().await {
                    Ok(r) if r.status().is_success() => {
                        committed += 1;
                        nonce += 1;
                    }
                    // Refused (e.g. a stale nonce after a timeout): resync the nonce.
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            committed
        })
    };

    // Nodes 0 to 2 hold one stable checkpoint (node 3's peers all serve its snapshot);
    // right after a new one, node 3 loses its whole data directory.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = None;
    loop {
        let mut heights = Vec::new();
        for i in 0..3 {
            heights.push(stable_checkpoint(&net, i).await.ok().flatten().map(|c| c.digest.height));
        }
        let agreed = heights.iter().all(|h| h.is_some() && *h == heights[0]);
        if agreed && seen.is_some_and(|s| Some(s) != heights[0]) {
            break;
        }
        if agreed && seen.is_none() {
            seen = heights[0];
        }
        assert!(Instant::now() < deadline, "nodes 0 to 2 agreed on no new stable checkpoint in 90 s: {heights:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    {
        let (_, child) = &mut net.running.children[3];
        child.kill()?;
        child.wait()?;
    }
    let data = node3.config.parent().expect("node dir").join("data");
    std::fs::remove_dir_all(&data)?;
    let wiped_at = net.height(0).await?;
    net.running.children[3].1 = net.devnet.spawn_node_with(&exe, &node3, &["--recover"])?;

    // It says it is recovering, then how far it abstains.
    let deadline = Instant::now() + Duration::from_secs(120);
    let abstains_through = loop {
        if let Ok((200, s)) = net.get(3, "/v1/status").await {
            let through = s["abstains_through"].as_u64().unwrap_or(0);
            if s["recovering"] == false && through > 0 {
                assert!(through > wiped_at, "it abstains through the heights its peers reached: {s}");
                break through;
            }
        }
        assert!(Instant::now() < deadline, "node 3 did not restore");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // It restores, catches up and commits past the heights it abstains at.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (h0, h3) = (net.height(0).await?, net.height(3).await.unwrap_or(0));
        if h3 > abstains_through.max(wiped_at + 8) && h3 + 2 >= h0 {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(net.devnet.dir.join("node-3/node.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().filter(|l| !l.contains("request client")).collect();
            panic!("node 3 did not catch up: at {h3}, node 0 at {h0}; its log:\n{}", tail.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let committed = load.await?;
    assert!(committed > 20, "only {committed} transfers committed under load");

    // The same chain: node 3's blocks are node 0's (it commits a block only if its own
    // execution gives the header's state root), and the same proven balance.
    let top = net.height(3).await?.min(net.height(0).await?);
    let set: ValidatorSet = {
        let (_, v) = net.get(0, "/v1/validators").await?;
        from_bytes(&hex::decode(v["validators_bcs"].as_str().unwrap_or(""))?)?
    };
    let ours = certified(&net, 3, top).await?;
    let theirs = certified(&net, 0, top).await?;
    assert_eq!(ours.header.hash(), theirs.header.hash());
    assert_eq!(ours.header.state_root, theirs.header.state_root);
    ours.verify(&set).expect("node 3 serves a certified block");
    let settle = Instant::now() + Duration::from_secs(20);
    loop {
        let (s0, b0) = net.get(0, &format!("/v1/accounts/{}", Address([0xa1; 20]))).await?;
        let (s3, b3) = net.get(3, &format!("/v1/accounts/{}", Address([0xa1; 20]))).await?;
        if s0 == 200 && s3 == 200 && b0["height"] == b3["height"] {
            assert_eq!(b0["balance"], b3["balance"], "{b0} {b3}");
            break;
        }
        assert!(Instant::now() < settle, "no common height to compare balances: {b0} {b3}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // It votes again: its signature is in certificates after its restore. A certificate
    // holds the first quorum of votes, and on a loaded machine the restored node may be
    // the slowest for a while: every height from its catching up on is looked at, once.
    let index = set.index_of(&node3.id).expect("node 3 is a validator");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut next = top.max(wiped_at + 1);
    let mut signed = false;
    while !signed {
        let newest = net.height(0).await?;
        while next <= newest && !signed {
            signed = certified(&net, 0, next).await?.cert.signers.indices().any(|i| i == index);
            next += 1;
        }
        assert!(Instant::now() < deadline, "node 3 signed no certificate from height {top} to {newest}");
        if !signed {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    // Its vault shards, lost with its data directory, are rebuilt from the other stores:
    // node 3 serves each again, and each is the one the manifest lists.
    let stripes = manifest.stripes() as u32;
    let deadline = Instant::now() + Duration::from_secs(60);
    while net.metric(3, "vigil_vault_shards_repaired_total").await.unwrap_or(0.0) < f64::from(stripes) {
        assert!(Instant::now() < deadline, "node 3 did not rebuild its {stripes} shards");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(net.metric(3, "vigil_vault_shards_missing").await?, 0.0);
    let shards = fetch_shards(&net, 3, &owner.key, &user, &manifest, shard3).await?;
    assert_eq!(shards.len(), stripes as usize, "node 3 serves every stripe of its shard");
    for (stripe, shard) in shards.iter().enumerate() {
        assert_eq!(Some(fragment_hash(shard)), manifest.fragment_hash(stripe as u32, shard3), "stripe {stripe}");
    }

    // What its log tells: the restore, the bad peer caught at its chunk, the progress.
    let log = std::fs::read_to_string(net.devnet.dir.join("node-3/node.log"))?;
    for line in log.lines().filter(|l| l.contains("snapshot") || l.contains("restor") || l.contains("chunk")) {
        eprintln!("node 3: {line}");
    }
    assert!(log.contains("recovering from its peers' stable checkpoint"), "{log}");
    assert!(log.contains("restoring the state of stable checkpoint"), "{log}");
    let bad = log.lines().find(|l| l.contains("served a chunk the checkpoint does not sign")).unwrap_or_default();
    assert!(bad.contains(&net.devnet.nodes[1].id.short()), "node 1 is named at its bad chunk: {log}");
    assert!(log.contains("snapshot downloaded") && log.contains("mb_s="), "{log}");
    assert!(log.contains("state rebuilt and checked against the checkpoint"), "{log}");
    assert!(log.contains("vault: shard repair done"), "{log}");
    // A byte flipped in node 2's database (in the newest state version, read on start):
    // caught by its checksum on read; the database is moved aside and the node recovers
    // from its peers (node 3, restored, serves the snapshot it restored) without a flag.
    let node2 = net.devnet.nodes[2].clone();
    {
        let (_, child) = &mut net.running.children[2];
        child.kill()?;
        child.wait()?;
    }
    let data2 = node2.config.parent().expect("node dir").join("data");
    flip_a_byte_of_the_newest_state(&data2.join("vigil.redb"))?;
    let flipped_at = net.height(0).await?;
    net.running.children[2].1 = net.devnet.spawn_node(&exe, &node2)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while net.height(2).await.unwrap_or(0) < flipped_at + 4 {
        assert!(Instant::now() < deadline, "node 2 did not recover from its corrupted database");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let log = std::fs::read_to_string(net.devnet.dir.join("node-2/node.log"))?;
    assert!(log.contains("fails its checksum") && log.contains("moved aside"), "{log}");
    assert!(log.contains("state rebuilt and checked against the checkpoint"), "{log}");
    assert!(has_file_starting(&data2, "vigil.redb.corrupt-")?, "the corrupted database is kept aside for the operator");
    // Node 2 commits node 0's blocks, and nobody was jailed: the restored validators
    // signed nothing twice.
    same_chain_nobody_jailed(&net, 2).await
}

fn has_file_starting(dir: &std::path::Path, prefix: &str) -> anyhow::Result<bool> {
    Ok(std::fs::read_dir(dir)?.filter_map(|e| e.ok()).any(|e| e.file_name().to_string_lossy().starts_with(prefix)))
}

/// Node `i`'s newest block is node 0's, and no validator is jailed.
async fn same_chain_nobody_jailed(net: &TestNet, i: usize) -> anyhow::Result<()> {
    let top = net.height(i).await?.min(net.height(0).await?);
    assert_eq!(certified(net, i, top).await?.header.hash(), certified(net, 0, top).await?.header.hash());
    let (_, v) = net.get(0, "/v1/validators").await?;
    assert_eq!(v["jailed"], serde_json::json!([]), "{v}");
    Ok(())
}

/// Uploads objects through the wallet until one has a shard at `store` (each object's
/// stores are n of the validators, chosen by its id); returns its manifest.
async fn upload_an_object_stored_at(
    net: &TestNet,
    seed: &WalletSeed,
    user: &UserId,
    store: &NodeId,
) -> anyhow::Result<VaultManifest> {
    let http = net.gateway_client()?;
    net.wait_for_gateway(&http, Duration::from_secs(30)).await?;
    let mut wallet = net.wallet_session(&http)?;
    let owner = seed.account(0)?.address();
    // Three stripes of 2 × 128 KiB, not compressible.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let plain: Vec<u8> = (0..600 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    for attempt in 0..8 {
        let label = format!("object {attempt}");
        let report = wallet.vault_upload(seed, 0, user, &label, &plain, &mut |_, _, _| {}).await?;
        let listed = wallet.vault_list(&owner).await?;
        let m = listed.into_iter().find(|m| m.object_id == report.object_id).expect("the upload is listed");
        if m.stores.contains(store) {
            return Ok(m);
        }
    }
    anyhow::bail!("no object of 8 was stored at {store}")
}

/// Store `node`'s shard `index` of every stripe of `m`, fetched as its owner.
async fn fetch_shards(
    net: &TestNet,
    node: usize,
    owner: &SecretKey,
    user: &UserId,
    m: &VaultManifest,
    index: u8,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let at = FragmentRef { user_id: user.clone(), owner: m.owner, object_id: m.object_id, index, first_stripe: 0 };
    let binding = RequestBinding {
        chain_id: ChainId::new("vigil-e2e")?,
        node: net.devnet.nodes[node].id,
        issued_ms: vigil_server::now_ms(),
        nonce: vigil_wallet::vault::new_nonce(&mut rand_core::OsRng),
    };
    let request = FetchRequest::sign(at, m.stripes() as u32, binding, owner);
    let answer = net.http.post(net.url(node, "/v1/vault/fetch")).body(to_bytes(&request)).send().await?;
    anyhow::ensure!(answer.status() == 200, "node {node} answered {} to a fetch", answer.status());
    Ok(from_bytes(&answer.bytes().await?)?)
}

/// Flips one byte in the middle of the newest state version the node stored (through
/// redb, so only the record is damaged, as a bad sector under it would leave it).
fn flip_a_byte_of_the_newest_state(path: &std::path::Path) -> anyhow::Result<()> {
    use redb::{ReadableTable, TableDefinition};
    const STATE: TableDefinition<u64, &[u8]> = TableDefinition::new("state_log");
    let db = redb::Database::create(path)?;
    let txn = db.begin_write()?;
    {
        let mut table = txn.open_table(STATE)?;
        let (key, mut value) = {
            let (k, v) = table.last()?.ok_or_else(|| anyhow::anyhow!("no state stored"))?;
            (k.value(), v.value().to_vec())
        };
        let middle = value.len() / 2;
        value[middle] ^= 0x40;
        table.insert(key, value.as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// Pruning on a real devnet: node 0 keeps 8 blocks below each stable checkpoint and
/// compacts at once; node 1 is an archive node. After load, node 0's database file
/// shrank when it pruned (measured on disk), it no longer serves old blocks but still
/// proves current state against a certified header; node 1 still serves everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pruned_node_returns_its_disk_space_and_still_proves_current_state() -> anyhow::Result<()> {
    let configure = |d: &vigil::devnet::Devnet| -> anyhow::Result<()> {
        set_checkpoint_interval(&d.genesis)?;
        for (i, archive) in [(0, false), (1, true)] {
            let mut cfg = vigil_node::config::NodeConfig::load(&d.nodes[i].config)?;
            (cfg.storage.archive, cfg.storage.retention_blocks, cfg.storage.compact_interval_s) = (archive, 8, 0);
            cfg.save(&d.nodes[i].config)?;
        }
        Ok(())
    };
    let net = TestNet::start_configured(4, 0, ConsensusMode::Fast, Vec::new(), configure).await?;
    let chain = ChainId::new("vigil-e2e")?;
    let faucet = net.devnet.faucet()?;
    let alice = Address([0xa1; 20]);
    // Two checkpoints' worth of blocks full of transfers.
    let mut nonce = 0;
    while net.height(0).await? < 2 * INTERVAL + 8 {
        let r = submit(&net, (nonce % 4) as usize, &transfer(&chain, &faucet, nonce, alice)).await?;
        anyhow::ensure!(r.status().is_success(), "transfer {nonce}: {}", r.text().await?);
        nonce += 1;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let pruned_line = loop {
        let log = std::fs::read_to_string(net.devnet.dir.join("node-0/node.log"))?;
        if let Some(line) = log.lines().find(|l| l.contains(" pruned ") && l.contains("compacted=true")) {
            break line.to_string();
        }
        assert!(Instant::now() < deadline, "node 0 did not prune: {log}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let mb = |key: &str| -> f64 {
        let at = pruned_line.find(key).map(|i| i + key.len()).unwrap_or(0);
        pruned_line[at..].split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
    };
    eprintln!("node 0: {pruned_line}");
    let (before, after) = (mb("db_mb_before="), mb("db_mb_after="));
    assert!(after < before, "the database file shrank when it pruned: {pruned_line}");
    assert!(net.metric(0, "vigil_pruned_below_height").await? > 1.0);
    assert!(net.metric(0, "vigil_disk_bytes{part=\"database\"}").await? > 0.0);
    assert_eq!(net.metric(1, "vigil_pruned_below_height").await?, 0.0, "the archive node prunes nothing");

    // Old blocks: gone from node 0, kept by the archive node.
    let (status, _) = net.get(0, "/v1/blocks/2").await?;
    assert_eq!(status, 404);
    let (status, _) = net.get(1, "/v1/blocks/2").await?;
    assert_eq!(status, 200);
    // Current state: still proven by node 0, against a certified header.
    let set: ValidatorSet = {
        let (_, v) = net.get(0, "/v1/validators").await?;
        from_bytes(&hex::decode(v["validators_bcs"].as_str().unwrap_or(""))?)?
    };
    let (_, acct) = net.get(0, &format!("/v1/accounts/{alice}")).await?;
    let ch: CertifiedHeader = from_bytes(&hex::decode(acct["certified_header_bcs"].as_str().unwrap_or(""))?)?;
    ch.verify(&set)?;
    let proof: vigil_protocol::StateProof = from_bytes(&hex::decode(acct["proof_bcs"].as_str().unwrap_or(""))?)?;
    let value = hex::decode(acct["value_bcs"].as_str().unwrap_or(""))?;
    proof.verify(&ch.header.state_root, &vigil_protocol::StateKey::Account(alice), Some(&value))?;
    assert_eq!(acct["balance"], serde_json::json!(3 * nonce), "{acct}");

    // The latest stable checkpoint is recorded on chain: proven against a certified
    // header like any state, and its signatures those of the set.
    let key = vigil_protocol::StateKey::Checkpoint;
    let (_, state) = net.get(0, &format!("/v1/state/{}", hex::encode(to_bytes(&key)))).await?;
    let ch: CertifiedHeader = from_bytes(&hex::decode(state["certified_header_bcs"].as_str().unwrap_or(""))?)?;
    ch.verify(&set)?;
    let value = hex::decode(state["value_bcs"].as_str().unwrap_or(""))?;
    let proof: vigil_protocol::StateProof = from_bytes(&hex::decode(state["proof_bcs"].as_str().unwrap_or(""))?)?;
    proof.verify(&ch.header.state_root, &key, Some(&value))?;
    let recorded: StableCheckpoint = from_bytes(&value)?;
    recorded.verify(&chain, &set)?;
    assert!(recorded.digest.height.0 >= INTERVAL, "{recorded:?}");
    Ok(())
}

/// A validator that was down while every peer pruned the blocks it needs (retention 8
/// blocks below each stable checkpoint) cannot catch up by sync: started as usual, it
/// sees its peers' gap, moves its database aside, restarts itself recovering, restores
/// their checkpoint and commits the same blocks again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_behind_every_peers_retention_window_falls_back_to_recovery() -> anyhow::Result<()> {
    let configure = |d: &vigil::devnet::Devnet| -> anyhow::Result<()> {
        set_checkpoint_interval(&d.genesis)?;
        for n in &d.nodes {
            let mut cfg = vigil_node::config::NodeConfig::load(&n.config)?;
            (cfg.storage.archive, cfg.storage.retention_blocks) = (false, 8);
            cfg.save(&n.config)?;
        }
        Ok(())
    };
    let mut net = TestNet::start_configured(4, 0, ConsensusMode::Fast, Vec::new(), configure).await?;
    let node3 = net.devnet.nodes[3].clone();
    vigil::devnet::terminate(&mut net.running.children[3].1);
    net.running.children[3].1.wait()?;
    let stopped_at = net.height(0).await?;

    // Nodes 0 to 2 go on past the blocks they keep in memory (served in sync whatever
    // they pruned) and two checkpoints more, each pruning below its latest.
    let chain = ChainId::new("vigil-e2e")?;
    let faucet = net.devnet.faucet()?;
    let mut nonce = 0;
    let beyond = stopped_at + vigil_core::consensus::recent::BLOCKS_IN_MEMORY_MAX as u64 + 2 * INTERVAL;
    while net.height(0).await? < beyond {
        let r = submit(&net, (nonce % 3) as usize, &transfer(&chain, &faucet, nonce, Address([0xa2; 20]))).await?;
        if r.status().is_success() {
            nonce += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..3 {
        while net.metric(i, "vigil_pruned_below_height").await? <= (beyond - 2 * INTERVAL) as f64 {
            assert!(Instant::now() < deadline, "node {i} did not prune past height {stopped_at}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    // Node 3 starts as usual, finds the gap, and recovers by itself.
    net.running.children[3].1 = net.devnet.spawn_node(&vigil_e2e::vigil_bin()?, &node3)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (h0, h3) = (net.height(0).await?, net.height(3).await.unwrap_or(0));
        if h3 > beyond && h3 + 2 >= h0 {
            break;
        }
        assert!(Instant::now() < deadline, "node 3 did not catch up: at {h3}, node 0 at {h0}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let log = std::fs::read_to_string(net.devnet.dir.join("node-3/node.log"))?;
    assert!(log.contains("fell behind its peers' retention window"), "{log}");
    assert!(log.contains("state rebuilt and checked against the checkpoint"), "{log}");
    let data = node3.config.parent().expect("node dir").join("data");
    assert!(has_file_starting(&data, "vigil.redb.behind-")?, "the old database is left for the operator");
    same_chain_nobody_jailed(&net, 3).await
}
