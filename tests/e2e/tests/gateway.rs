//! The forwarding gateway against a real devnet: `vigil devnet` processes, the gateway
//! process over real TLS (certificate from the devnet's local CA), requests sealed with
//! HPKE to the named node, fan-out with signed receipts verified with vigil-protocol.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use vigil_e2e::TestNet;
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::sealed::{self, PlainRequest};
use vigil_protocol::{
    Address, Amount, ChainId, ConsensusMode, Nonce, Payload, SignedReceipt, Transaction, Transfer, ValidatorSet,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

async fn forward(client: &reqwest::Client, net: &TestNet, body: Value) -> anyhow::Result<(u16, Value)> {
    let r = client
        .post(format!("{}/v1/forward", net.devnet.gateway.url))
        .json(&body)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("forward failed: {e:?}"))?;
    Ok((r.status().as_u16(), r.json().await.unwrap_or(Value::Null)))
}

async fn relay(
    client: &reqwest::Client,
    net: &TestNet,
    node: &str,
    bytes: Vec<u8>,
) -> anyhow::Result<reqwest::Response> {
    Ok(client
        .post(format!("{}/v1/relay/{node}", net.devnet.gateway.url))
        .header("content-type", sealed::REQUEST_MEDIA_TYPE)
        .body(bytes)
        .send()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_seals_requests_to_the_named_node_fans_out_and_refuses_what_it_must() -> anyhow::Result<()> {
    let mut net = TestNet::start(4, 0, ConsensusMode::Fast).await?;
    let client = net.gateway_client()?;
    net.wait_for_gateway(&client, Duration::from_secs(30)).await?;
    let (_, v) = net.get(0, "/v1/validators").await?;
    let set: ValidatorSet = from_bytes(&hex::decode(v["validators_bcs"].as_str().unwrap_or(""))?)?;
    let id = |i: usize| net.devnet.nodes[i].id.to_string();
    let opened = "vigil_sealed_requests_total{outcome=\"opened\"}";
    let refused = "vigil_sealed_requests_total{outcome=\"refused\"}";

    // A forwarded request reaches the named node, and only that node opens anything.
    let (status, body) =
        forward(&client, &net, json!({ "target": id(2), "request": { "method": "GET", "path": "/v1/status" } }))
            .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["json"]["name"], "node-2");
    assert_eq!(body["json"]["node_id"], id(2));
    for i in 0..4 {
        assert_eq!(net.metric(i, opened).await?, if i == 2 { 1.0 } else { 0.0 }, "node {i}");
    }

    // Oblivious relay: sealed here to node 1's key from the validator set; node 1 opens
    // it, and the same bytes changed in transit are refused by the node.
    let key = set.get(&net.devnet.nodes[1].id).expect("validator").encryption_key;
    let keys = client.get(format!("{}/v1/relay/{}/ohttp-keys", net.devnet.gateway.url, id(1))).send().await?;
    assert_eq!(keys.bytes().await?.as_ref(), sealed::key_config_list(&key).as_slice());
    let (bytes, opener) = sealed::seal(&key, &PlainRequest::new("GET", "/v1/status", None, vec![]))?;
    let r = relay(&client, &net, &id(1), bytes.clone()).await?;
    assert_eq!(r.status(), 200);
    let answer = opener.open(&r.bytes().await?)?;
    assert_eq!(serde_json::from_slice::<Value>(&answer.body)?["name"], "node-1");
    let mut tampered = bytes;
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    let r = relay(&client, &net, &id(1), tampered).await?;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await?["error"]["code"], "CANNOT_OPEN");
    assert_eq!(net.metric(1, refused).await?, 1.0);
    assert_eq!(net.metric(1, opened).await?, 1.0, "the tampered request reached nothing");

    // Unknown node id, oversized body.
    let stranger = "ab".repeat(32);
    let (status, body) =
        forward(&client, &net, json!({ "target": stranger, "request": { "path": "/v1/status" } })).await?;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("UNKNOWN_NODE")), "{body}");
    // Over the gateway's 1 MiB body limit by less than the socket buffers hold. The
    // gateway answers 413 after reading at most `OVERSIZED_DRAIN_MAX_BYTES` and closes;
    // the 2.7 MB this test used to send was at times still being written then, and the
    // client saw a broken pipe instead of the answer.
    let big = json!({ "target": id(0), "request": { "method": "POST", "path": "/v1/tx", "body_base64": B64.encode(vec![0u8; 800 << 10]) } });
    let (status, body) = forward(&client, &net, big).await?;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("BODY_TOO_LARGE")));

    // Fan-out: one signed transfer to all 4 nodes; 4 signed receipts that verify and agree.
    let faucet = net.devnet.faucet()?;
    let tx = Transaction {
        chain_id: ChainId::new("vigil-e2e")?,
        sender: faucet.public_key(),
        nonce: Nonce(0),
        fee: Amount(1),
        payload: Payload::Transfer(Transfer { to: Address([0xc3; 20]), amount: Amount(25) }),
    }
    .sign(&faucet);
    let request = json!({ "method": "POST", "path": "/v1/tx?wait=true&timeout_ms=10000",
        "content_type": "application/octet-stream", "body_base64": B64.encode(to_bytes(&tx)) });
    let (status, body) = forward(&client, &net, json!({ "targets": "all", "request": request })).await?;
    assert_eq!(status, 200, "{body}");
    let answers = body["answers"].as_array().expect("answers");
    assert_eq!(answers.len(), 4);
    let mut entries = Vec::new();
    for a in answers {
        let receipt_hex = a["json"]["receipt_bcs"].as_str().unwrap_or_else(|| panic!("no receipt in {a}"));
        let receipt: SignedReceipt = from_bytes(&hex::decode(receipt_hex)?)?;
        assert_eq!(receipt.receipt.node.to_string(), a["node"].as_str().unwrap_or(""), "signed by the node asked");
        receipt.verify(&set.get(&receipt.receipt.node).expect("validator").consensus_key).expect("receipt verifies");
        assert_eq!(receipt.receipt.entry.tx_hash, tx.hash());
        entries.push(receipt.receipt.entry);
    }
    assert!(entries.windows(2).all(|w| w[0] == w[1]), "nodes agree: {entries:?}");

    // The genesis the gateway follows, for a web wallet on its origin to pin.
    let gw = &net.devnet.gateway.url;
    let answer = client.get(format!("{gw}/v1/genesis")).send().await?;
    // Over TLS, browsers are told to keep to HTTPS for this origin.
    assert_eq!(answer.headers()["strict-transport-security"], "max-age=31536000");
    let genesis: Value = answer.json().await?;
    let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(&net.devnet.genesis)?)?;
    assert_eq!(genesis, on_disk);

    // The devnet's faucet: a bad address is refused; a good one is funded (committed,
    // proven by the node's balance), once per cooldown.
    let faucet_url = format!("{gw}/v1/faucet");
    let r = client.post(&faucet_url).json(&json!({ "address": "vigil1nope" })).send().await?;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await?["error"]["code"], "BAD_ADDRESS");
    let newcomer = Address([0x5e; 20]);
    let r = client.post(&faucet_url).json(&json!({ "address": newcomer })).send().await?;
    assert_eq!(r.status(), 200);
    let gift = r.json::<Value>().await?;
    let funded_at = gift["height"].as_u64().unwrap_or_default();
    assert!(funded_at > 0, "{gift}");
    // The faucet's node committed it at that height; node 1 may be a block behind.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while net.height(1).await? < funded_at {
        assert!(std::time::Instant::now() < deadline, "node 1 did not reach height {funded_at}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, account) = net.get(1, &format!("/v1/accounts/{newcomer}")).await?;
    assert_eq!(account["balance"], gift["amount"]);
    let r = client.post(&faucet_url).json(&json!({ "address": newcomer })).send().await?;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.json::<Value>().await?["error"]["code"], "FAUCET_COOLDOWN");
    // Nor does the same client get funds for another address of its own right away.
    let r = client.post(&faucet_url).json(&json!({ "address": Address([0x5f; 20]) })).send().await?;
    assert_eq!(r.status(), 429);
    assert_eq!(r.json::<Value>().await?["error"]["code"], "FAUCET_COOLDOWN");

    // A stopped node gets its own 503; the others are still served.
    vigil::devnet::terminate(&mut net.running.children[3].1);
    net.running.children[3].1.wait()?;
    let (status, body) =
        forward(&client, &net, json!({ "target": id(3), "request": { "path": "/v1/status" } })).await?;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("NODE_UNAVAILABLE")), "{body}");
    let (status, body) =
        forward(&client, &net, json!({ "targets": "all", "request": { "path": "/v1/status" } })).await?;
    assert_eq!(status, 200);
    let served = body["answers"].as_array().map_or(0, |a| a.iter().filter(|x| x["status"] == 200).count());
    assert_eq!(served, 3, "{body}");

    // Finding 9: the public listener does not serve the gateway's metrics.
    let r = client.get(format!("{}/metrics", net.devnet.gateway.url)).send().await?;
    assert_eq!(r.status(), 404);

    // Rate limit: a client that keeps going gets 429 with Retry-After (bounded loop).
    let mut limited = None;
    for _ in 0..400 {
        let r = client.get(format!("{}/v1/nodes", net.devnet.gateway.url)).send().await?;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("rate limit reached within 400 requests");
    let retry: u64 = r.headers()["retry-after"].to_str()?.parse()?;
    assert!((1..=60).contains(&retry));
    assert_eq!(r.json::<Value>().await?["error"]["code"], "RATE_LIMITED");

    // Finding 9: the gateway's metrics are not public; they are on its admin listener.
    let metrics = net.http.get(format!("{}/metrics", net.devnet.gateway.admin_url)).send().await?.text().await?;
    assert!(metrics.contains(&format!("vigil_gateway_requests_total{{node=\"{}\"}}", id(0))), "{metrics}");
    assert!(!metrics.contains("vigil_gateway_rate_limited_total 0"), "{metrics}");
    assert!(metrics.contains("# TYPE vigil_gateway_link_exchanges_total counter"), "{metrics}");
    assert!(
        !metrics.contains("vigil_gateway_link_exchanges_total 0\n"),
        "forwarded requests crossed the link: {metrics}"
    );

    // Finding 9: a node's own API limits each client network too (the devnet lists
    // loopback's 127.0.0.1, its gateway, as unlimited; 127.0.0.2 is another client).
    let stranger = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build()?;
    let mut limited = None;
    for _ in 0..400 {
        let r = stranger.get(net.url(0, "/v1/status")).send().await?;
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), 200);
    }
    let r = limited.expect("the node's rate limit reached within 400 requests");
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.json::<Value>().await?["error"]["code"], "RATE_LIMITED");
    // Issue 14: the refusal is in the node's access log (client, method, path, status).
    let log = std::fs::read_to_string(net.devnet.log_path(&net.devnet.nodes[0].name))?;
    let refused = log.lines().find(|l| l.contains("status=429")).expect("a 429 line in node-0's access log");
    for part in ["client=127.0.0.2", "method=GET", "/v1/status", "ms="] {
        assert!(refused.contains(part), "{part} is not in {refused}");
    }
    let r = net.http.get(net.url(0, "/v1/status")).send().await?;
    assert_eq!(r.status(), 200, "the gateway's address is not limited");
    Ok(())
}
