//! The vault at the nodes of a real devnet: a user id registered on chain, shards
//! stored and fetched with requests signed by its key, everyone else refused, quotas and
//! sizes enforced, the manifest committed and proven.

use std::time::Duration;

use serde_json::Value;
use vigil_e2e::TestNet;
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::{
    Address, Amount, ChainId, ConsensusMode, FetchRequest, FragmentRef, Hash32, Nonce, Payload, SecretKey, StateKey,
    StoreRequest, Transaction, TxStatus, UserId, VaultConfig, VaultManifest,
};

async fn submit(net: &TestNet, key: &SecretKey, nonce: u64, payload: Payload) -> anyhow::Result<TxStatus> {
    let tx = Transaction {
        chain_id: ChainId::new("vigil-e2e")?,
        sender: key.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(1),
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

    let at = FragmentRef { user_id: user.clone(), owner: a, object_id: Hash32([7; 32]), index: 1, first_stripe: 0 };
    let shard = |b: u8| vec![b; cfg.shard_bytes as usize];
    // Alice stores two shards; they come back byte for byte.
    let (status, body) =
        post(&net, 2, "/v1/vault/store", to_bytes(&StoreRequest::sign(at.clone(), vec![shard(1), shard(2)], &alice)))
            .await?;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let now = vigil_node::service::now_ms();
    let (status, body) =
        post(&net, 2, "/v1/vault/fetch", to_bytes(&FetchRequest::sign(at.clone(), 8, now, &alice))).await?;
    assert_eq!(status, 200);
    assert_eq!(from_bytes::<Vec<Vec<u8>>>(&body)?, vec![shard(1), shard(2)]);
    // Another node holds nothing of it.
    let (status, body) =
        post(&net, 1, "/v1/vault/fetch", to_bytes(&FetchRequest::sign(at.clone(), 1, now, &alice))).await?;
    assert_eq!((status, code(&body).as_str()), (404, "NOT_FOUND"));

    // Mallory, signing as Alice's user id or for Alice's address: refused, nothing stored.
    let (status, body) =
        post(&net, 2, "/v1/vault/store", to_bytes(&StoreRequest::sign(at.clone(), vec![shard(9)], &mallory))).await?;
    assert_eq!((status, code(&body).as_str()), (403, "WRONG_USER"));
    let (status, body) =
        post(&net, 2, "/v1/vault/fetch", to_bytes(&FetchRequest::sign(at.clone(), 1, now, &mallory))).await?;
    assert_eq!((status, code(&body).as_str()), (403, "WRONG_USER"));
    let ghost = FragmentRef { user_id: UserId::new("nobody")?, owner: m, ..at.clone() };
    let (status, body) =
        post(&net, 2, "/v1/vault/store", to_bytes(&StoreRequest::sign(ghost, vec![shard(9)], &mallory))).await?;
    assert_eq!((status, code(&body).as_str()), (403, "UNKNOWN_USER"));
    // A request whose bytes changed in transit, a stale fetch, a wrong shard size, garbage.
    let mut tampered = StoreRequest::sign(at.clone(), vec![shard(3)], &alice);
    tampered.shards[0][5] ^= 1;
    let (status, body) = post(&net, 2, "/v1/vault/store", to_bytes(&tampered)).await?;
    assert_eq!((status, code(&body).as_str()), (400, "BAD_SIGNATURE"));
    let old = FetchRequest::sign(at.clone(), 1, now - 3_600_000, &alice);
    let (status, body) = post(&net, 2, "/v1/vault/fetch", to_bytes(&old)).await?;
    assert_eq!((status, code(&body).as_str()), (401, "STALE_REQUEST"));
    let (status, body) =
        post(&net, 2, "/v1/vault/store", to_bytes(&StoreRequest::sign(at.clone(), vec![vec![1; 10]], &alice))).await?;
    assert_eq!((status, code(&body).as_str()), (400, "BAD_FRAGMENT"));
    let (status, body) = post(&net, 2, "/v1/vault/store", vec![0xff; 100]).await?;
    assert_eq!((status, code(&body).as_str()), (400, "MALFORMED"));
    let (_, body) = post(&net, 2, "/v1/vault/fetch", to_bytes(&FetchRequest::sign(at.clone(), 8, now, &alice))).await?;
    assert_eq!(from_bytes::<Vec<Vec<u8>>>(&body)?, vec![shard(1), shard(2)], "refused requests changed nothing");

    // The manifest goes on chain and is proven by the generic state endpoint.
    let (_, v) = net.get(0, "/v1/validators").await?;
    let set: vigil_protocol::ValidatorSet = from_bytes(&hex::decode(v["validators_bcs"].as_str().unwrap_or(""))?)?;
    let len = 2 * cfg.stripe_bytes();
    let manifest = VaultManifest {
        object_id: at.object_id,
        owner: a,
        user_id: user,
        threshold: cfg.threshold,
        fragments: cfg.fragments,
        shard_bytes: cfg.shard_bytes,
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
