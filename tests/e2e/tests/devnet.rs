//! A real 4-node devnet (processes on 127.0.0.1): signed transfers, signed receipts from
//! every node, certificates and proofs verified with vigil-protocol, a node killed with
//! SIGKILL mid-load and restarted, and bad input refused without changing anything.

use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_e2e::TestNet;
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::{
    Address, Amount, CertifiedHeader, ChainId, ConsensusMode, Justification, Nonce, Payload, ProposalSlot, SecretKey,
    SignedTransaction, StableCheckpoint, StateKey, StateProof, Transaction, Transfer, TxHash, ValidatorSet,
};

fn transfer(chain: &ChainId, key: &SecretKey, nonce: u64, to: Address, amount: u64) -> SignedTransaction {
    Transaction {
        chain_id: chain.clone(),
        sender: key.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(1),
        payload: Payload::Transfer(Transfer { to, amount: Amount(amount) }),
    }
    .sign(key)
}

async fn post_bcs(net: &TestNet, node: usize, body: Vec<u8>, wait: bool) -> anyhow::Result<(u16, Value)> {
    let r = net
        .http
        .post(net.url(node, &format!("/v1/tx?wait={wait}&timeout_ms=15000")))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn validators(net: &TestNet) -> anyhow::Result<ValidatorSet> {
    let (_, v) = net.get(0, "/v1/validators").await?;
    Ok(from_bytes(&hex::decode(v["validators_bcs"].as_str().unwrap_or(""))?)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_commits_signs_receipts_survives_sigkill_and_refuses_bad_input() -> anyhow::Result<()> {
    let mut net = TestNet::start(4, 0, ConsensusMode::Fast).await?;
    let faucet = net.devnet.faucet()?;
    let faucet_address = Address::from_public_key(&faucet.public_key());
    let chain = ChainId::new("vigil-e2e")?;
    let set = validators(&net).await?;
    assert_eq!(set.len(), 4);
    let alice = Address([0xa1; 20]);

    // Load: transfers to every node in turn; node 3 is killed with SIGKILL mid-load.
    let total = 40u64;
    let mut hashes: Vec<TxHash> = Vec::new();
    for nonce in 0..total {
        if nonce == 15 {
            // Everything sent so far is on node 3's disk before it dies.
            net.signed_receipt(3, &hashes[14], Duration::from_secs(10)).await?;
            let (_, child) = &mut net.running.children[3];
            child.kill()?; // SIGKILL
            child.wait()?;
        }
        let node = if nonce >= 15 { (nonce % 3) as usize } else { (nonce % 4) as usize };
        let tx = transfer(&chain, &faucet, nonce, alice, 10);
        let (status, body) = post_bcs(&net, node, to_bytes(&tx), true).await?;
        assert_eq!(status, 200, "tx {nonce} via node {node}: {body}");
        assert_eq!(body["status"], "committed");
        hashes.push(tx.hash());
    }

    // Restart node 3 from its disk; it catches up by block sync. Issue 14: with room for
    // 4 transaction positions in memory, what it committed before the kill is found in
    // its index table, as is most of what it catches up on.
    let node3 = net.devnet.nodes[3].clone();
    let mut cfg = vigil_node::config::NodeConfig::load(&node3.config)?;
    cfg.storage.tx_index_memory_max = 4;
    cfg.save(&node3.config)?;
    net.running.children[3].1 = net.devnet.spawn_node(&vigil_e2e::vigil_bin()?, &node3)?;
    let target = net.height(0).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while net.height(3).await.unwrap_or(0) < target {
        assert!(Instant::now() < deadline, "node 3 did not catch up to height {target}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for hash in &hashes[..15] {
        let (status, body) = net.get(3, &format!("/v1/tx/{hash}")).await?;
        assert_eq!((status, body["tx_hash"].as_str()), (200, Some(hash.to_string().as_str())), "{body}");
    }
    // It read its state back from redb instead of re-executing its blocks.
    let log = std::fs::read_to_string(net.devnet.dir.join("node-3/node.log"))?;
    let starts: Vec<&str> = log.lines().filter(|l| l.contains("node starting")).collect();
    assert_eq!(starts.len(), 2, "{log}");
    assert!(starts[0].contains("rebuilt from genesis") && starts[1].contains("read from disk"), "{starts:?}");
    assert!(log.contains("tx index: moved the oldest positions"), "node 3 kept only 4 positions in memory: {log}");

    // Every committed transaction has a valid signed receipt from every node, and all agree.
    for hash in &hashes {
        let mut entries = Vec::new();
        for i in 0..4 {
            let receipt = net.signed_receipt(i, hash, Duration::from_secs(5)).await?;
            let signer = set.get(&receipt.receipt.node).expect("receipt from a validator");
            receipt.verify(&signer.consensus_key).expect("receipt signature verifies");
            assert_eq!(receipt.receipt.node, net.devnet.nodes[i].id);
            entries.push((receipt.receipt.height, receipt.receipt.entry));
        }
        assert!(entries.windows(2).all(|w| w[0] == w[1]), "nodes disagree on {hash}: {entries:?}");
    }

    // Same certified block at the same height everywhere; certificate verifies.
    let h = net.height(3).await?.min(net.height(0).await?);
    let mut block_hashes = Vec::new();
    let mut justified = 0;
    for i in 0..4 {
        let (_, b) = net.get(i, &format!("/v1/blocks/{h}")).await?;
        let ch: CertifiedHeader = from_bytes(&hex::decode(b["certified_header_bcs"].as_str().unwrap_or(""))?)?;
        ch.verify(&set).expect("certificate verifies against the validator set");
        // A Fast block is served with the justification of its certified proposal
        // (by every node that saw that proposal), which holds for it: what fork
        // forensics walks.
        if let (ConsensusMode::Fast, Some(hex_justification)) = (ch.header.mode, b["justification_bcs"].as_str()) {
            justified += 1;
            let justification: Justification = from_bytes(&hex::decode(hex_justification)?)?;
            let slot = ProposalSlot {
                chain_id: &ch.header.chain_id,
                height: ch.header.height,
                view: ch.cert.data.view,
                parent_hash: ch.header.parent_hash,
                set: &set,
            };
            justification.check(&slot, &ch.header.hash()).expect("the stored justification holds for the block");
        }
        block_hashes.push(ch.header.hash());
    }
    assert!(block_hashes.windows(2).all(|w| w[0] == w[1]), "state roots differ: {block_hashes:?}");
    assert!(justified > 0, "no node serves the justification of Fast block {h}");

    // Alice's balance, proven against a certified state root.
    let (_, acct) = net.get(1, &format!("/v1/accounts/{alice}")).await?;
    assert_eq!(acct["balance"], total * 10);
    let ch: CertifiedHeader = from_bytes(&hex::decode(acct["certified_header_bcs"].as_str().unwrap_or(""))?)?;
    ch.verify(&set)?;
    let proof: StateProof = from_bytes(&hex::decode(acct["proof_bcs"].as_str().unwrap_or(""))?)?;
    let value = hex::decode(acct["value_bcs"].as_str().unwrap_or(""))?;
    proof.verify(&ch.header.state_root, &StateKey::Account(alice), Some(&value)).expect("balance proof verifies");

    // Bad input: each gets its typed error and changes nothing.
    let (_, before) = net.get(0, &format!("/v1/accounts/{faucet_address}")).await?;
    let next = total;
    let (s, b) = post_bcs(&net, 0, vec![0xde, 0xad, 0xbe, 0xef], false).await?;
    assert_eq!((s, error_code(&b)), (400, "MALFORMED"));
    let mut forged = transfer(&chain, &faucet, next, alice, 1);
    forged.signature = transfer(&chain, &faucet, next + 1, alice, 1).signature;
    let (s, b) = post_bcs(&net, 0, to_bytes(&forged), false).await?;
    assert_eq!((s, error_code(&b)), (400, "BAD_SIGNATURE"));
    let replay = transfer(&chain, &faucet, 0, alice, 10);
    let (s, b) = post_bcs(&net, 0, to_bytes(&replay), false).await?;
    assert_eq!((s, error_code(&b)), (409, "ALREADY_COMMITTED"));
    let other_chain = transfer(&ChainId::new("another-chain")?, &faucet, next, alice, 1);
    let (s, b) = post_bcs(&net, 0, to_bytes(&other_chain), false).await?;
    assert_eq!((s, error_code(&b)), (400, "WRONG_CHAIN"));
    let stale = transfer(&chain, &faucet, 3, alice, 7);
    let (s, b) = post_bcs(&net, 0, to_bytes(&stale), false).await?;
    assert_eq!((s, error_code(&b)), (400, "STALE_NONCE"));
    let too_much = transfer(&chain, &faucet, next, alice, u64::MAX / 2);
    let (s, b) = post_bcs(&net, 0, to_bytes(&too_much), false).await?;
    assert_eq!((s, error_code(&b)), (400, "INSUFFICIENT_BALANCE"));
    let (s, b) = post_bcs(&net, 0, vec![0u8; 300_000], false).await?;
    assert_eq!((s, error_code(&b)), (413, "BODY_TOO_LARGE"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, after) = net.get(0, &format!("/v1/accounts/{faucet_address}")).await?;
    assert_eq!(before["balance"], after["balance"]);
    assert_eq!(before["nonce"], after["nonce"]);
    assert_eq!(after["nonce"], total);

    // Operators' endpoints. Issue 14: the node's metrics are on its loopback admin
    // listener only; its public API answers 404 there and does not list them.
    let r = net.http.get(net.url(0, "/metrics")).send().await?;
    assert_eq!(r.status(), 404);
    assert!(!r.text().await?.contains("vigil_height"));
    let metrics = net.metrics(0).await?;
    assert!(metrics.contains("vigil_height ") && metrics.contains("vigil_commit_latency_ms_bucket"), "{metrics}");
    assert!(net.metric(0, "vigil_txs_committed_total").await? >= total as f64, "{metrics}");
    let (s, api) = net.get(0, "/v1/openapi.json").await?;
    assert_eq!(s, 200);
    assert!(api["paths"]["/v1/tx"].is_object());
    assert!(api["paths"].get("/metrics").is_none(), "{}", api["paths"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byzantine_node_signs_a_receipt_that_contradicts_the_others() -> anyhow::Result<()> {
    let net = TestNet::start(4, 1, ConsensusMode::Fast).await?;
    let (_, status) = net.get(3, "/v1/status").await?;
    assert_eq!(status["fault_injection"], true, "the last node runs with fault injection");
    let faucet = net.devnet.faucet()?;
    let chain = ChainId::new("vigil-e2e")?;
    let set = validators(&net).await?;
    let tx = transfer(&chain, &faucet, 0, Address([7; 20]), 5);
    let (s, body) = post_bcs(&net, 0, to_bytes(&tx), true).await?;
    assert_eq!(s, 200, "{body}");
    let mut receipts = Vec::new();
    for i in 0..4 {
        let r = net.signed_receipt(i, &tx.hash(), Duration::from_secs(10)).await?;
        r.verify(&set.get(&r.receipt.node).expect("validator").consensus_key).expect("validly signed, even when false");
        receipts.push(r);
    }
    assert!(receipts[..3].windows(2).all(|w| w[0].receipt.entry == w[1].receipt.entry), "honest nodes agree");
    assert_ne!(
        receipts[3].receipt.entry.result_hash, receipts[0].receipt.entry.result_hash,
        "the liar's result differs"
    );
    assert_eq!(receipts[3].receipt.entry.tx_hash, receipts[0].receipt.entry.tx_hash);
    Ok(())
}

/// Under load, what a node says is committed can be read from it at once: the block at
/// the height its status names, and a proven account state whose certified header is
/// the one the state was proven at (a wallet polls exactly this way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_height_a_node_names_can_be_read_from_it_under_load() -> anyhow::Result<()> {
    let net = TestNet::start(4, 0, ConsensusMode::Fast).await?;
    let faucet = net.devnet.faucet()?;
    let chain = ChainId::new("vigil-e2e")?;
    let set = validators(&net).await?;
    let alice = Address([0xa2; 20]);
    let done = std::sync::atomic::AtomicBool::new(false);

    let load = async {
        for nonce in 0..300 {
            let tx = transfer(&chain, &faucet, nonce, alice, 1);
            let (status, body) = post_bcs(&net, 0, to_bytes(&tx), false).await?;
            anyhow::ensure!(status == 200 || status == 202, "tx {nonce}: {status} {body}");
        }
        // The last of them committed.
        let last = transfer(&chain, &faucet, 299, alice, 1).hash();
        net.signed_receipt(1, &last, Duration::from_secs(30)).await?;
        done.store(true, std::sync::atomic::Ordering::Release);
        Ok::<_, anyhow::Error>(())
    };
    let poll = async {
        let (mut reads, mut heights) = (0u32, std::collections::BTreeSet::new());
        while !done.load(std::sync::atomic::Ordering::Acquire) {
            let (_, status) = net.get(1, "/v1/status").await?;
            let h = status["height"].as_u64().unwrap_or(0);
            if h > 0 {
                let (code, block) = net.get(1, &format!("/v1/blocks/{h}")).await?;
                anyhow::ensure!(code == 200, "status named height {h}, its block is {code}: {block}");
                let (code, block) = net.get(1, "/v1/blocks/latest").await?;
                anyhow::ensure!(code == 200, "latest block: {code}: {block}");
            }
            let (_, acct) = net.get(1, &format!("/v1/accounts/{alice}")).await?;
            if let Some(hex_header) = acct["certified_header_bcs"].as_str() {
                let ch: CertifiedHeader = from_bytes(&hex::decode(hex_header)?)?;
                ch.verify(&set)?;
                anyhow::ensure!(
                    Some(ch.header.height.0) == acct["height"].as_u64(),
                    "header of another height: {acct}"
                );
                let proof: StateProof = from_bytes(&hex::decode(acct["proof_bcs"].as_str().unwrap_or(""))?)?;
                let value = acct["value_bcs"].as_str().map(hex::decode).transpose()?;
                proof.verify(&ch.header.state_root, &StateKey::Account(alice), value.as_deref())?;
                heights.insert(ch.header.height.0);
            } else {
                anyhow::ensure!(acct["height"] == 0, "a proven read at a committed height without its header: {acct}");
            }
            reads += 1;
        }
        Ok::<_, anyhow::Error>((reads, heights.len()))
    };
    let (loaded, polled) = tokio::join!(load, poll);
    loaded?;
    let (reads, heights) = polled?;
    assert!(reads >= 20 && heights >= 3, "the reads ran alongside the load: {reads} reads over {heights} heights");
    Ok(())
}

/// Issue 17's first step on a real devnet: every 64 blocks (the default interval; an
/// idle devnet makes an empty block every 250 ms) the validators sign the digest of the
/// committed data and each node gathers a stable checkpoint: the same digest at every
/// node, of the block each serves at that height, signed by a quorum of the set it names
/// (the devnet's, checked here with vigil-protocol as a light client would).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_gathers_the_same_stable_checkpoint() -> anyhow::Result<()> {
    let net = TestNet::start(4, 0, ConsensusMode::Fast).await?;
    let chain = ChainId::new("vigil-e2e")?;
    let set = validators(&net).await?;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut digests = Vec::new();
    for i in 0..4 {
        let answer = loop {
            let (status, v) = net.get(i, "/v1/checkpoints/latest").await?;
            if status == 200 {
                break v;
            }
            assert_eq!((status, error_code(&v)), (404, "NOT_FOUND"), "{v}");
            assert!(Instant::now() < deadline, "node {i} gathered no stable checkpoint in 90 s");
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let stable: StableCheckpoint = from_bytes(&hex::decode(answer["checkpoint_bcs"].as_str().unwrap_or(""))?)?;
        let signers: ValidatorSet = from_bytes(&hex::decode(answer["validators_bcs"].as_str().unwrap_or(""))?)?;
        assert_eq!(signers, set, "no validator was jailed: the devnet's set signs");
        stable.verify(&chain, &set).expect("a quorum of the devnet's validators signed it");
        let height = stable.digest.height;
        assert_eq!(height.0 % 64, 0);
        let (_, block) = net.get(i, &format!("/v1/blocks/{height}")).await?;
        assert_eq!(block["hash"].as_str(), Some(stable.digest.block_hash.to_string().as_str()));
        assert_eq!(answer["digest_hash"].as_str(), Some(stable.digest.hash().to_string().as_str()));
        digests.push(stable.digest);
    }
    // Nodes may have gathered different heights by now; at one height they agree.
    let first = digests.iter().map(|d| d.height).min().unwrap_or_default();
    let at_first: Vec<_> = digests.iter().filter(|d| d.height == first).collect();
    assert!(at_first.windows(2).all(|w| w[0] == w[1]), "{at_first:?}");
    // Tampered, it no longer verifies.
    let mut forged: StableCheckpoint = {
        let (_, v) = net.get(0, "/v1/checkpoints/latest").await?;
        from_bytes(&hex::decode(v["checkpoint_bcs"].as_str().unwrap_or(""))?)?
    };
    forged.digest.state_root = vigil_protocol::Hash32([0; 32]);
    assert!(forged.verify(&chain, &set).is_err());
    // By the hash a user pins: served while the node keeps it; a malformed or unknown
    // hash is a typed error.
    let pinned = digests[0].hash();
    let (status, v) = net.get(0, &format!("/v1/checkpoints/{pinned}")).await?;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["digest_hash"].as_str(), Some(pinned.to_string().as_str()));
    let (status, v) = net.get(0, "/v1/checkpoints/abc").await?;
    assert_eq!((status, error_code(&v)), (400, "MALFORMED"), "{v}");
    let (status, v) = net.get(0, &format!("/v1/checkpoints/{}", vigil_protocol::Hash32([7; 32]))).await?;
    assert_eq!((status, error_code(&v)), (404, "NOT_FOUND"), "{v}");
    Ok(())
}

/// `POST /v1/txs`: a batch is verified at once and each transaction answered in order;
/// a forged one, one for another chain and one too many refuse only themselves; a batch
/// sent again is answered from the chain (`ALREADY_COMMITTED`, the receipts still
/// signed); malformed batches are refused whole and change nothing (a body over the
/// limit is `tests/router.rs`'s: over a socket the node may close before it is sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_transactions_is_verified_at_once_and_each_answered_in_order() -> anyhow::Result<()> {
    let keys: Vec<SecretKey> = (0..12).map(|i| vigil_e2e::seeded_key(0x3b, i)).collect();
    let funded = keys.iter().map(|k| (Address::from_public_key(&k.public_key()), Amount(1_000))).collect();
    let net = TestNet::start_with(4, 0, ConsensusMode::Fast, funded).await?;
    let chain = ChainId::new("vigil-e2e")?;
    let node_key = validators(&net).await?.get(&net.devnet.nodes[0].id).map(|v| v.consensus_key).unwrap();
    let to = Address([0x77; 20]);
    let mut txs: Vec<SignedTransaction> = keys.iter().map(|k| transfer(&chain, k, 0, to, 5)).collect();
    txs[3].signature = txs[4].signature;
    txs[7] = transfer(&ChainId::new("elsewhere")?, &keys[7], 0, to, 5);
    txs[9] = transfer(&chain, &keys[9], 0, to, 5_000);
    let post = |body: Vec<u8>, media: &'static str| {
        let request = net.http.post(net.url(0, "/v1/txs?wait=true&timeout_ms=15000"));
        async move {
            let r = request.header("content-type", media).body(body).send().await?;
            Ok::<_, anyhow::Error>((r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null)))
        }
    };
    let bcs = "application/octet-stream";
    let refused = [(3, "BAD_SIGNATURE"), (7, "WRONG_CHAIN"), (9, "INSUFFICIENT_BALANCE")];

    for (round, again) in [(1, false), (2, true)] {
        let (status, answer) = post(to_bytes(&txs), bcs).await?;
        assert_eq!(status, 200, "round {round}: {answer}");
        let results = answer["results"].as_array().expect("results");
        assert_eq!(results.len(), txs.len());
        for (i, (tx, result)) in txs.iter().zip(results).enumerate() {
            assert_eq!(result["tx_hash"].as_str(), Some(tx.hash().to_string().as_str()), "in the order sent");
            if let Some((_, code)) = refused.iter().find(|(j, _)| *j == i) {
                assert_eq!(error_code(result), *code, "round {round}, tx {i}: {result}");
                assert!(result["status"].is_null() && result["receipt_bcs"].is_null(), "{result}");
                continue;
            }
            assert_eq!(result["status"], "committed", "round {round}, tx {i}: {result}");
            assert_eq!(error_code(result), if again { "ALREADY_COMMITTED" } else { "" }, "{result}");
            let receipt: vigil_protocol::SignedReceipt =
                from_bytes(&hex::decode(result["receipt_bcs"].as_str().unwrap_or(""))?)?;
            assert_eq!(receipt.receipt.entry.tx_hash, tx.hash());
            receipt.verify(&node_key).expect("the node's signature on each receipt");
        }
    }
    // The refused ones were never committed anywhere.
    for (i, _) in refused {
        assert_eq!(net.get(1, &format!("/v1/tx/{}", txs[i].hash())).await?.0, 404);
    }

    let height = net.get(0, "/v1/status").await?.1["height"].clone();
    let one_too_many: Vec<SignedTransaction> = (0..257).map(|n| transfer(&chain, &keys[0], 1 + n, to, 1)).collect();
    for (body, media, status, code) in [
        (to_bytes(&Vec::<SignedTransaction>::new()), bcs, 400, "MALFORMED"),
        (to_bytes(&one_too_many), bcs, 400, "MALFORMED"),
        (vec![0xff; 100], bcs, 400, "MALFORMED"),
        (serde_json::to_vec(&txs[..2])?, "application/json", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ] {
        let (got, answer) = post(body, media).await?;
        assert_eq!((got, error_code(&answer)), (status, code), "{answer}");
    }
    // None of those admitted anything: nonce 1 of keys[0] is still free.
    let next = transfer(&chain, &keys[0], 1, to, 1);
    let (status, body) = post_bcs(&net, 0, to_bytes(&next), true).await?;
    assert_eq!(status, 200, "{body} (height before the bad batches: {height})");
    Ok(())
}
