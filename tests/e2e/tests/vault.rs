//! The vault at the nodes of a real devnet: a user id registered on chain, shards
//! stored and fetched with requests signed by its key, everyone else refused, quotas and
//! sizes enforced, the manifest committed and proven.

use std::time::Duration;

use serde_json::Value;
use vigil_e2e::TestNet;
use vigil_node::capability::vault::{ShardKey, VaultStoreConfig};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::{
    Address, Amount, ChainId, ConsensusMode, FetchRequest, FragmentRef, Hash32, Nonce, Payload, RequestBinding,
    SecretKey, StateKey, StoreRequest, Transaction, TxStatus, UserId, VaultConfig, VaultManifest,
};
use vigil_wallet::keys::WalletSeed;
use vigil_wallet::session::vault::Phase;
use vigil_wallet::vault;
use zeroize::Zeroizing;

async fn submit(net: &TestNet, key: &SecretKey, nonce: u64, payload: Payload) -> anyhow::Result<TxStatus> {
    let tx = Transaction {
        chain_id: ChainId::new("vigil-e2e")?,
        sender: key.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(vigil_protocol::limits::FEE_MIN.max(match &payload {
            Payload::RegisterUser(_) => vigil_protocol::limits::REGISTER_USER_FEE_MIN,
            _ => 0,
        })),
        payload,
    }
    .sign(key);
    let r = net
        .http
        .post(net.url(0, "/v1/tx?wait=true&timeout_ms=10000"))
        .header("content-type", "application/octet-stream")
        .body(to_bytes(&tx))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "submit failed: {}", r.text().await?);
    Ok(net.signed_receipt(0, &tx.hash(), Duration::from_secs(10)).await?.receipt.entry.status)
}

async fn post(net: &TestNet, node: usize, path: &str, body: Vec<u8>) -> anyhow::Result<(u16, Vec<u8>)> {
    let r = net.http.post(net.url(node, path)).body(body).send().await?;
    Ok((r.status().as_u16(), r.bytes().await?.to_vec()))
}

fn code(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .map(|v| v["error"]["code"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_registered_user_stores_and_fetches_fragments() -> anyhow::Result<()> {
    let alice = SecretKey::from_seed([41; 32]);
    let mallory = SecretKey::from_seed([42; 32]);
    let a = Address::from_public_key(&alice.public_key());
    let m = Address::from_public_key(&mallory.public_key());
    let net = TestNet::start_with(4, 0, ConsensusMode::Fast, vec![(a, Amount(1000)), (m, Amount(1000))]).await?;
    let cfg = VaultConfig::default();
    let user = UserId::new("alice")?;
    assert_eq!(submit(&net, &alice, 0, Payload::RegisterUser(user.clone())).await?, TxStatus::Success);

    let object_id = Hash32([7; 32]);
    let at = FragmentRef { user_id: user.clone(), owner: a, object_id, index: 1, first_stripe: 0 };
    let shard = |b: u8| vec![b; cfg.shard_bytes as usize];
    // Shard 1 of this object goes to the store the chain's assignment rule names.
    let (_, v) = net.get(0, "/v1/validators").await?;
    let set: vigil_protocol::ValidatorSet = from_bytes(&hex::decode(v["validators_bcs"].as_str().unwrap_or(""))?)?;
    let stores = cfg.stores(&object_id, &set)?;
    let (store, other) = (node_of(&net, &stores[1]), node_of(&net, &stores[2]));
    let nonce = std::cell::Cell::new(0u64);
    let bound = |node: usize, issued_ms: u64| {
        nonce.set(nonce.get() + 1);
        RequestBinding {
            chain_id: ChainId::new("vigil-e2e").unwrap(),
            node: net.devnet.nodes[node].id,
            issued_ms,
            nonce: nonce.get(),
        }
    };
    let now = vigil_server::now_ms;
    let store_req = |shards, node, key| StoreRequest::sign(at.clone(), shards, bound(node, now()), key);
    let fetch_req = |count, node, key| FetchRequest::sign(at.clone(), count, bound(node, now()), key);
    // Alice stores two shards; they come back byte for byte.
    let first = store_req(vec![shard(1), shard(2)], store, &alice);
    let (status, body) = post(&net, store, "/v1/vault/store", to_bytes(&first)).await?;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, body) = post(&net, store, "/v1/vault/fetch", to_bytes(&fetch_req(8, store, &alice))).await?;
    assert_eq!(status, 200);
    assert_eq!(from_bytes::<Vec<Vec<u8>>>(&body)?, vec![shard(1), shard(2)]);
    // Another node holds nothing of it, and takes no shard it is not assigned.
    let (status, body) = post(&net, other, "/v1/vault/fetch", to_bytes(&fetch_req(1, other, &alice))).await?;
    assert_eq!((status, code(&body).as_str()), (404, "NOT_FOUND"));
    let (status, body) =
        post(&net, other, "/v1/vault/store", to_bytes(&store_req(vec![shard(4)], other, &alice))).await?;
    assert_eq!((status, code(&body).as_str()), (421, "WRONG_STORE"));

    // Finding 7 of the soundness review: on 35b51aa a store request signed nothing about
    // where or when, so anyone who saw one could send it again, for ever, to any node.
    let (status, body) = post(&net, store, "/v1/vault/store", to_bytes(&first)).await?;
    assert_eq!((status, code(&body).as_str()), (409, "REPLAYED_REQUEST"));
    let for_other = FetchRequest::sign(at.clone(), 1, bound(other, now()), &alice);
    let (status, body) = post(&net, store, "/v1/vault/fetch", to_bytes(&for_other)).await?;
    assert_eq!((status, code(&body).as_str()), (421, "WRONG_NODE"));

    // Mallory, signing as Alice's user id or for Alice's address: refused, nothing stored.
    let (status, body) =
        post(&net, store, "/v1/vault/store", to_bytes(&store_req(vec![shard(9)], store, &mallory))).await?;
    assert_eq!((status, code(&body).as_str()), (403, "WRONG_USER"));
    let (status, body) = post(&net, store, "/v1/vault/fetch", to_bytes(&fetch_req(1, store, &mallory))).await?;
    assert_eq!((status, code(&body).as_str()), (403, "WRONG_USER"));
    let ghost = FragmentRef { user_id: UserId::new("nobody")?, owner: m, ..at.clone() };
    let ghostly = StoreRequest::sign(ghost, vec![shard(9)], bound(store, now()), &mallory);
    let (status, body) = post(&net, store, "/v1/vault/store", to_bytes(&ghostly)).await?;
    assert_eq!((status, code(&body).as_str()), (403, "UNKNOWN_USER"));
    // A request whose bytes changed in transit, a stale fetch, a wrong shard size, garbage.
    let mut tampered = store_req(vec![shard(3)], store, &alice);
    tampered.shards[0][5] ^= 1;
    let (status, body) = post(&net, store, "/v1/vault/store", to_bytes(&tampered)).await?;
    assert_eq!((status, code(&body).as_str()), (400, "BAD_SIGNATURE"));
    let old = FetchRequest::sign(at.clone(), 1, bound(store, now() - 3_600_000), &alice);
    let (status, body) = post(&net, store, "/v1/vault/fetch", to_bytes(&old)).await?;
    assert_eq!((status, code(&body).as_str()), (401, "STALE_REQUEST"));
    let (status, body) =
        post(&net, store, "/v1/vault/store", to_bytes(&store_req(vec![vec![1; 10]], store, &alice))).await?;
    assert_eq!((status, code(&body).as_str()), (400, "BAD_FRAGMENT"));
    let (status, body) = post(&net, store, "/v1/vault/store", vec![0xff; 100]).await?;
    assert_eq!((status, code(&body).as_str()), (400, "MALFORMED"));
    let (_, body) = post(&net, store, "/v1/vault/fetch", to_bytes(&fetch_req(8, store, &alice))).await?;
    assert_eq!(from_bytes::<Vec<Vec<u8>>>(&body)?, vec![shard(1), shard(2)], "refused requests changed nothing");

    // The manifest goes on chain and is proven by the generic state endpoint.
    let len = 2 * cfg.stripe_bytes();
    let manifest = VaultManifest {
        object_id: at.object_id,
        owner: a,
        user_id: user,
        threshold: cfg.threshold,
        fragments: cfg.fragments,
        shard_bytes: cfg.shard_bytes,
        chunk_bytes: cfg.chunk_bytes,
        plaintext_len: len - 100,
        ciphertext_len: len,
        stores: cfg.stores(&at.object_id, &set)?,
        fragment_hashes: vec![Hash32([0; 32]); 2 * usize::from(cfg.fragments)],
        label: String::new(),
    };
    assert_eq!(submit(&net, &alice, 1, Payload::CommitManifest(Box::new(manifest.clone()))).await?, TxStatus::Success);
    let mut wrong = manifest.clone();
    wrong.object_id = Hash32([8; 32]);
    wrong.fragment_hashes.pop();
    assert_eq!(
        submit(&net, &alice, 2, Payload::CommitManifest(Box::new(wrong))).await?,
        TxStatus::Failed(vigil_protocol::FailureCode::BadManifest)
    );
    let key = StateKey::Manifest(manifest.object_id);
    let (status, v) = net.get(3, &format!("/v1/state/{}", hex::encode(to_bytes(&key)))).await?;
    assert_eq!(status, 200, "{v}");
    let header: vigil_protocol::CertifiedHeader =
        from_bytes(&hex::decode(v["certified_header_bcs"].as_str().unwrap_or(""))?)?;
    let value = hex::decode(v["value_bcs"].as_str().unwrap_or(""))?;
    let proof: vigil_protocol::StateProof = from_bytes(&hex::decode(v["proof_bcs"].as_str().unwrap_or(""))?)?;
    header.verify(&set)?;
    proof.verify(&header.header.state_root, &key, Some(&value))?;
    assert_eq!(from_bytes::<VaultManifest>(&value)?, manifest);
    let (status, v) = net.get(0, "/v1/state/zz").await?;
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("BAD_STATE_KEY")));
    Ok(())
}

/// A binding of a vault request to `node`, now, with a fresh nonce.
fn bind(node: &vigil_protocol::NodeId) -> RequestBinding {
    RequestBinding {
        chain_id: ChainId::new("vigil-e2e").unwrap_or_else(|e| unreachable!("{e}")),
        node: *node,
        issued_ms: vigil_server::now_ms(),
        nonce: vigil_wallet::vault::new_nonce(&mut rand_core::OsRng),
    }
}

fn node_of(net: &TestNet, id: &vigil_protocol::NodeId) -> usize {
    net.devnet.nodes.iter().position(|n| n.id == *id).expect("a devnet node")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_encrypts_splits_uploads_and_rebuilds_from_any_k_stores() -> anyhow::Result<()> {
    let seed = WalletSeed::from_entropy(Zeroizing::new([21; 32]));
    let me = seed.account(0)?;
    let mut net = TestNet::start_with(4, 0, ConsensusMode::Fast, vec![(me.address(), Amount(10_000))]).await?;
    let http = net.gateway_client()?;
    net.wait_for_gateway(&http, Duration::from_secs(30)).await?;
    let mut s = net.wallet_session(&http)?;
    let user = UserId::new("carol@vigil")?;
    let mut none = |_: Phase, _: u64, _: u64| {};

    // 0 B, 1 B and 10 MiB (not compressible, with a marker to look for at the nodes).
    let mut big = vec![0u8; 10 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in big.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let objects = [Vec::new(), vec![0x42], big];
    let mut ids = Vec::new();
    for plain in &objects {
        let mut phases = Vec::new();
        let report = s.vault_upload(&seed, 0, &user, "file", plain, &mut |p, d, t| phases.push((p, d, t))).await?;
        assert_eq!((report.k, report.n, report.plaintext_len), (2, 3, plain.len() as u64));
        assert!(phases.iter().any(|(p, d, t)| *p == Phase::Upload && d == t), "upload progress reaches the end");
        ids.push(report.object_id);
    }
    assert_eq!(s.vault_list(&me.address()).await?.iter().map(|m| m.object_id).collect::<Vec<_>>(), ids);
    for (id, plain) in ids.iter().zip(&objects) {
        let (got, report) = s.vault_download(&seed, 0, id, &mut none).await?;
        assert_eq!(got.as_slice(), plain.as_slice());
        assert_eq!(report.tampered_shards, 0);
    }

    // Another wallet cannot read it (the object belongs to another account; its key is not ours).
    let stranger = WalletSeed::from_entropy(Zeroizing::new([22; 32]));
    assert!(s.vault_download(&stranger, 0, &ids[2], &mut none).await.is_err());

    // A manifest whose hashes do not match what the stores hold: every shard refused.
    let cfg = s.vault_config().await?;
    let (_, v) = net.get(0, "/v1/validators").await?;
    let set: vigil_protocol::ValidatorSet = from_bytes(&hex::decode(v["validators_bcs"].as_str().unwrap_or(""))?)?;
    let bogus_id = Hash32([0x77; 32]);
    let key = vault::object_key(&seed, &bogus_id);
    let real = vault::split(
        &cfg,
        &vault::encrypt(&key, &bogus_id, cfg.chunk_bytes, b"real", &mut rand_core::OsRng, |_, _| {})?,
    )?;
    let other = vault::split(
        &cfg,
        &vault::encrypt(&key, &bogus_id, cfg.chunk_bytes, b"fake", &mut rand_core::OsRng, |_, _| {})?,
    )?;
    let stores = cfg.stores(&bogus_id, &set)?;
    for (i, node) in stores.iter().enumerate() {
        let at = FragmentRef {
            user_id: user.clone(),
            owner: me.address(),
            object_id: bogus_id,
            index: i as u8,
            first_stripe: 0,
        };
        let (status, _) = post(
            &net,
            node_of(&net, node),
            "/v1/vault/store",
            to_bytes(&StoreRequest::sign(at, vec![real[0][i].clone()], bind(node), &me.key)),
        )
        .await?;
        assert_eq!(status, 200);
    }
    let len = vault::ciphertext_len(4, cfg.chunk_bytes);
    let m = vault::manifest(&cfg, bogus_id, me.address(), user.clone(), stores, 4, len, &other, String::new());
    let tx = s.sign(&me.key, Payload::CommitManifest(Box::new(m)), 1).await?;
    s.submit_everywhere(&me.key, &tx).await?;
    let err = s.vault_download(&seed, 0, &bogus_id, &mut none).await.unwrap_err();
    assert_eq!(err.code(), "VAULT");
    // (Only the all-zero padding shard of this tiny object matches by chance.)
    assert!(err.to_string().contains("of the 2 shards needed are intact"), "{err}");

    // A tampered shard at one store is detected and another store's used instead.
    let manifest = s.vault_list(&me.address()).await?.into_iter().find(|m| m.object_id == ids[2]).expect("listed");
    let first = node_of(&net, &manifest.stores[0]);
    vigil::devnet::terminate(&mut net.running.children[first].1);
    net.running.children[first].1.wait()?;
    let data = net.devnet.nodes[first].config.parent().expect("node dir").join("data");
    {
        let store = vigil_node::capability::vault::open(&data, &VaultStoreConfig::default())?;
        let k = ShardKey { owner: me.address(), object_id: ids[2], index: 0, stripe: 3 };
        store.put(k, &[vec![0xee; cfg.shard_bytes as usize]], u64::MAX).await?;
    }
    let node = net.devnet.nodes[first].clone();
    net.running.children[first].1 = net.devnet.spawn_node(&vigil_e2e::vigil_bin()?, &node)?;
    net.wait_until_connected(Duration::from_secs(30)).await?;
    let (got, report) = s.vault_download(&seed, 0, &ids[2], &mut none).await?;
    assert_eq!(got.as_slice(), objects[2].as_slice());
    assert_eq!(report.tampered_shards, 1, "{report:?}");

    // n − k stores stopped: any k of the n still rebuild it.
    for id in &manifest.stores[..usize::from(manifest.fragments - manifest.threshold)] {
        let i = node_of(&net, id);
        vigil::devnet::terminate(&mut net.running.children[i].1);
        net.running.children[i].1.wait()?;
    }
    let (got, report) = s.vault_download(&seed, 0, &ids[2], &mut none).await?;
    assert_eq!(got.as_slice(), objects[2].as_slice());
    assert!(report.stores.iter().any(|u| u.problem.is_some()), "the stopped store is reported: {report:?}");

    // No node ever saw plaintext: look for 64-byte pieces of the 10 MiB object in every
    // node's ciphertext database.
    net.running.stop(Duration::from_secs(10));
    for n in &net.devnet.nodes {
        let store = vigil_node::capability::vault::open(
            &n.config.parent().expect("node dir").join("data"),
            &VaultStoreConfig::default(),
        )?;
        let stored = store.dump().await?;
        if manifest.stores.contains(&n.id) {
            assert!(stored.len() > 4 << 20, "{} holds its shards of the 10 MiB object", n.name);
        }
        for at in [0, 4096, 5 << 20, (10 << 20) - 64] {
            let piece = &objects[2][at..at + 64];
            assert!(!stored.windows(64).any(|w| w == piece), "{} holds plaintext", n.name);
        }
    }
    Ok(())
}

/// One node of the devnet keeps its shards in a real S3 server (`s3s-fs`), configured
/// in its node.toml as an operator would: the wallet's upload and download go through
/// it like through any node, and with the S3 server gone, that node answers with a typed
/// error and the wallet rebuilds from the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallet_round_trips_through_a_node_that_keeps_its_shards_on_s3() -> anyhow::Result<()> {
    const BUCKET: &str = "vigil-fragments";
    let mut s3 = vigil_e2e::S3Server::start(BUCKET).await?;
    let seed = WalletSeed::from_entropy(Zeroizing::new([23; 32]));
    let me = seed.account(0)?;
    let vault_on_s3 = VaultStoreConfig {
        object_store_url: Some(format!("s3://{BUCKET}/node-0")),
        object_store_options: [
            ("endpoint", s3.endpoint()),
            ("region", "us-east-1".into()),
            ("allow_http", "true".into()),
            ("access_key_id", s3.access_key.clone()),
            ("secret_access_key", s3.secret_key.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    };
    let net = TestNet::start_configured(4, 0, ConsensusMode::Fast, vec![(me.address(), Amount(10_000))], |d| {
        let path = &d.nodes[0].config;
        let mut cfg = vigil_node::config::NodeConfig::load(path)?;
        cfg.vault = vault_on_s3;
        cfg.save(path)?;
        Ok(())
    })
    .await?;
    let on_s3 = net.devnet.nodes[0].id;
    let http = net.gateway_client()?;
    net.wait_for_gateway(&http, Duration::from_secs(30)).await?;
    let mut s = net.wallet_session(&http)?;
    let user = UserId::new("dave@vigil")?;
    let mut none = |_: Phase, _: u64, _: u64| {};

    // Three of the four nodes store each object: upload until node 0 is one of them.
    let mut stored = None;
    for i in 0..8u8 {
        let plain: Vec<u8> = (0..200_000u32).map(|j| (j as u8) ^ i.wrapping_mul(31)).collect();
        let report = s.vault_upload(&seed, 0, &user, "file", &plain, &mut none).await?;
        let manifest =
            s.vault_list(&me.address()).await?.into_iter().find(|m| m.object_id == report.object_id).expect("listed");
        if let Some(index) = manifest.stores.iter().position(|n| *n == on_s3) {
            stored = Some((report.object_id, plain, index as u8));
            break;
        }
    }
    let (id, plain, index) = stored.expect("one of 8 objects is stored at node 0");
    assert!(s3.objects(BUCKET) > 0, "node 0's shards are objects at the S3 server");
    let (got, report) = s.vault_download(&seed, 0, &id, &mut none).await?;
    assert_eq!(got.as_slice(), plain.as_slice());
    assert_eq!(report.tampered_shards, 0);
    // Node 0 serves its shard from S3 to a signed fetch.
    let at = FragmentRef { user_id: user.clone(), owner: me.address(), object_id: id, index, first_stripe: 0 };
    let fetch = || to_bytes(&FetchRequest::sign(at.clone(), 1, bind(&on_s3), &me.key));
    let (status, _) = post(&net, 0, "/v1/vault/fetch", fetch()).await?;
    assert_eq!(status, 200);

    // The S3 server gone: node 0 says its store is unavailable; the others rebuild it.
    s3.kill();
    let (status, body) = post(&net, 0, "/v1/vault/fetch", fetch()).await?;
    assert_eq!((status, code(&body).as_str()), (503, "STORE_UNAVAILABLE"));
    let (got, _) = s.vault_download(&seed, 0, &id, &mut none).await?;
    assert_eq!(got.as_slice(), plain.as_slice());
    Ok(())
}
