use std::cell::RefCell;

use serde_json::json;
use vigil_protocol::{EncryptionKey, P2pKey, ValidatorInfo, ValidatorSet};

use super::*;
use crate::client::tests::{answer, block_on, client, forwarded, ok, Script};
use crate::client::{ClientConfig, HttpRequest, HttpResponse, TransportError};
use crate::light::tests::{certify, fixture, header};
use crate::light::CrossCheck;
use crate::light::STATE_LAG_MAX_BLOCKS;
use vigil_api::BlockProof;
use vigil_protocol::Hash32;
use vigil_protocol::{AccountState, Amount, Height, Nonce, StateKey, StateTree};

pub(crate) fn session(script: &Script) -> Session<&Script> {
    let keys: Vec<SecretKey> = (1..=4).map(|i| SecretKey::from_seed([i; 32])).collect();
    let set = ValidatorSet::new(
        keys.iter()
            .map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey([0; 32]), P2pKey([0xff; 32])))
            .collect(),
    )
    .unwrap();
    let light = LightClient::new(ChainId::new("vigil-test").unwrap(), &to_bytes(&set), &set.hash()).unwrap();
    Session::new(client(script), light)
}

/// The node the gateway was asked to forward each request to.
fn targets(script: &Script) -> Vec<String> {
    let requests = script.requests.borrow();
    requests
        .iter()
        .map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["target"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_node_proven_false_or_not_routed_is_read_from_last() {
    let script = Script::default();
    let mut s = session(&script);
    let nodes = s.nodes();
    script.answers.borrow_mut().extend([ok(200, answer()), ok(200, answer())]);
    block_on(s.read("/v1/status")).unwrap();
    assert_eq!(targets(&script), [nodes[0].to_string()], "in set order while no node is suspect");

    script.requests.borrow_mut().clear();
    s.proven_false.push(nodes[0]);
    block_on(s.read("/v1/status")).unwrap();
    assert_eq!(targets(&script), [nodes[1].to_string()], "the liar, jailed soon, is not asked first");
    assert_eq!(s.read_order().last(), Some(&nodes[0]), "but it is still asked if nobody else answers");
    assert_eq!(s.nodes(), nodes, "and its receipts are still cross-checked until the set drops it");

    // A node no gateway routes to any more (jailed, seen by another wallet) costs
    // one refused request per gateway, not one per read.
    script.requests.borrow_mut().clear();
    let unknown = json!({ "error": { "code": "UNKNOWN_NODE", "message": "not a validator" } });
    script.answers.borrow_mut().extend([
        ok(404, unknown.clone()),
        ok(404, unknown),
        ok(200, answer()),
        ok(200, answer()),
    ]);
    block_on(s.read("/v1/status")).unwrap();
    block_on(s.read("/v1/status")).unwrap();
    let asked = [&nodes[1], &nodes[1], &nodes[2], &nodes[2]].map(ToString::to_string);
    assert_eq!(targets(&script), asked);
    assert_eq!(s.read_order()[2..], [nodes[0], nodes[1]]);

    // None at all when the gateways' node lists are read first; a node back in the
    // lists is asked in its turn again.
    for gateway in [0, 1] {
        s.gateway_routes(gateway, &[nodes[0], nodes[1], nodes[3]]);
    }
    assert_eq!(s.read_order(), [nodes[1], nodes[3], nodes[0], nodes[2]]);
    for gateway in [0, 1] {
        s.gateway_routes(gateway, &nodes);
    }
    assert_eq!(s.read_order(), [nodes[1], nodes[2], nodes[3], nodes[0]]);

    // A node one gateway does not route to keeps its turn: it is asked through the
    // other gateway first.
    s.gateway_routes(0, &[nodes[0], nodes[1], nodes[3]]);
    assert_eq!(s.read_order(), [nodes[1], nodes[2], nodes[3], nodes[0]]);
    script.requests.borrow_mut().clear();
    script.answers.borrow_mut().push_back(ok(200, answer()));
    block_on(s.read_from(&nodes[2], "/v1/status")).unwrap();
    let urls: Vec<String> = script.requests.borrow().iter().map(|r| r.url.clone()).collect();
    assert_eq!(urls, ["https://b.example/v1/forward"]);
}

/// Finding 5 of the soundness review: on 35b51aa any older certified state was
/// accepted after a newer header, and nothing looked for a newer one, so a node (or a
/// gateway choosing it) could show an old balance and have the wallet sign with an
/// old nonce. Now a second node proves its newest height; state too far behind it is
/// read again from that node, and a second node's unproven claim changes nothing.
#[test]
fn an_old_state_is_caught_by_a_second_nodes_certified_height() {
    let (set, keys, _) = fixture();
    let alice = Address([0xa1; 20]);
    let account = |balance, nonce| to_bytes(&AccountState { balance: Amount(balance), nonce: Nonce(nonce) });
    let mut tree = StateTree::new();
    let old_root = tree.apply(0, [(StateKey::Account(alice), Some(account(900, 1)))]).unwrap();
    let (_, old_proof) = tree.get_with_proof(&StateKey::Account(alice), 0).unwrap();
    let new_root = tree.apply(1, [(StateKey::Account(alice), Some(account(100, 7)))]).unwrap();
    let (_, new_proof) = tree.get_with_proof(&StateKey::Account(alice), 1).unwrap();
    let certified =
        |height: u64, root| vigil_api::Hex(to_bytes(&certify(&set, &keys, header(&set, height, root, &set), 3)));
    let state = |height, root, value: Vec<u8>, proof: &vigil_protocol::StateProof| {
        serde_json::to_value(ProvenState {
            height: Height(height),
            state_key_bcs: to_bytes(&StateKey::Account(alice)).into(),
            value_bcs: Some(value.into()),
            proof_bcs: to_bytes(proof).into(),
            certified_header_bcs: Some(certified(height, root)),
        })
        .unwrap()
    };
    let old = 10;
    let new = old + STATE_LAG_MAX_BLOCKS + 1;

    let script = Script::default();
    let mut s = session(&script);
    let nodes = s.nodes();
    script.answers.borrow_mut().extend([
        // The first node serves an old state, honestly certified at its height.
        forwarded(&nodes[0], 200, &state(old, old_root, account(900, 1), &old_proof)),
        // A second node claims a height it cannot prove (no such block): ignored.
        forwarded(&nodes[1], 200, &json!({ "height": 1_000_000 })),
        forwarded(&nodes[1], 404, &json!({ "error": { "code": "NOT_FOUND", "message": "no block" } })),
        // A third proves a newer height with its certified header.
        forwarded(&nodes[2], 200, &json!({ "height": new })),
        forwarded(
            &nodes[2],
            200,
            &serde_json::to_value(BlockProof {
                tx_hashes: vec![],
                certified_header_bcs: certified(new, new_root),
                justification_bcs: None,
            })
            .unwrap(),
        ),
        // The wallet reads the account again from it.
        forwarded(&nodes[2], 200, &state(new, new_root, account(100, 7), &new_proof)),
    ]);
    let a = block_on(s.account(&alice)).unwrap();
    assert_eq!((a.balance, a.nonce), (100, 7), "the current balance and nonce, not the old ones");
    assert_eq!(a.verification.height, Some(Height(new)));
    assert_eq!(a.verification.cross_check, Some(CrossCheck { node: nodes[2], height: Height(new) }));
    assert_eq!(targets(&script), [0, 1, 1, 2, 2, 2].map(|i| nodes[i].to_string()));
    assert!(script.answers.borrow().is_empty());

    // With no second node able to prove anything, the state is shown as it is, and
    // its verification says it was not cross-checked.
    let script = Script::default();
    let mut s = session(&script);
    script.answers.borrow_mut().extend([forwarded(&nodes[0], 200, &state(old, old_root, account(900, 1), &old_proof))]);
    let a = block_on(s.account(&alice)).unwrap();
    assert_eq!((a.balance, a.verification.cross_check), (900, None));
}

/// Finding 8 of the soundness review: on 35b51aa every transfer, evidence and vault
/// request went through `/v1/forward`, where the gateway reads it (and could drop a
/// liar's receipt or the evidence against it). Now the wallet seals each to the
/// node's own published key and the gateway relays bytes it cannot read; a node the
/// gateway does not route to is not sent anything.
#[test]
fn submissions_are_sealed_to_each_node_and_relayed() {
    let keys: Vec<SecretKey> = (1..=4).map(|i| SecretKey::from_seed([i; 32])).collect();
    let mut hpke = [0u8; 32];
    hpke[0] = 9; // X25519's base point: a valid public key
    let set = ValidatorSet::new(
        keys.iter().map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey(hpke), P2pKey([0xff; 32]))).collect(),
    )
    .unwrap();
    let light = LightClient::new(ChainId::new("vigil-test").unwrap(), &to_bytes(&set), &set.hash()).unwrap();
    let script = Script::default();
    let mut s = Session::new(client(&script), light);
    let nodes = s.nodes();
    for gateway in [0, 1] {
        s.gateway_routes(gateway, &nodes[..3]);
    }
    let tx = vigil_protocol::Transaction {
        chain_id: ChainId::new("vigil-test").unwrap(),
        sender: keys[0].public_key(),
        nonce: Nonce(0),
        fee: Amount(1),
        payload: Payload::Transfer(vigil_protocol::Transfer { to: Address([7; 20]), amount: Amount(5) }),
    }
    .sign(&keys[0]);
    let down = json!({ "error": { "code": "NODE_UNAVAILABLE", "message": "down" } });
    // Each routed node is down, through one gateway and then the other.
    script.answers.borrow_mut().extend((0..6).map(|_| ok(503, down.clone())));
    let report = block_on(s.submit_everywhere(&keys[0], &tx)).unwrap();
    assert_eq!(report.nodes.len(), 4, "every node has a verdict, the unrouted one too");
    let requests = script.requests.borrow();
    let relayed: Vec<_> = requests.iter().filter(|r| r.url.contains("/v1/relay/")).collect();
    assert_eq!(
        relayed.len(),
        6,
        "one sealed request per routed node and gateway: {:?}",
        requests.iter().map(|r| &r.url).collect::<Vec<_>>()
    );
    let tx_bytes = to_bytes(&tx);
    for (pair, node) in relayed.chunks(2).zip(&nodes) {
        assert_eq!(pair[0].url, format!("https://a.example/v1/relay/{node}"));
        assert_eq!(pair[1].url, format!("https://b.example/v1/relay/{node}"));
        assert_ne!(pair[0].body, pair[1].body, "sealed afresh for each route");
        for r in pair {
            assert_eq!(r.content_type, Some(vigil_protocol::sealed::REQUEST_MEDIA_TYPE));
            assert!(!r.body.windows(tx_bytes.len()).any(|w| w == tx_bytes), "the gateway never sees the transaction");
        }
    }
    assert!(!requests.iter().any(|r| r.url.ends_with(&format!("/v1/relay/{}", nodes[3]))));
    assert!(requests.iter().all(|r| r.url.contains("/v1/relay/")), "nothing of the submission is forwarded");
}

/// Four nodes behind two gateways, `https://a.example` and `https://b.example/`,
/// answering for real: each relayed request is opened with its node's HPKE key and
/// answered with that node's signed receipt for the transaction inside, sealed back
/// (the nodes do not judge what they are sent). A copy of a transaction a node has
/// committed already is answered as nodes do: 409 `ALREADY_COMMITTED`, with the
/// receipt. Through gateway A, the nodes in `silent_via_a` time out: the request
/// reaches them, their answer is lost.
struct Network {
    nodes: Vec<(NodeId, SecretKey, ohttp::Server)>,
    set: ValidatorSet,
    silent_via_a: Vec<NodeId>,
    committed: RefCell<Vec<(NodeId, TxHash)>>,
    requests: RefCell<Vec<HttpRequest>>,
}

impl Network {
    fn new() -> Self {
        let mut nodes = Vec::new();
        let mut infos = Vec::new();
        for i in 1..=4u8 {
            let key = SecretKey::from_seed([i; 32]);
            let config = vigil_protocol::sealed::server_config(&[i + 100; 32]).unwrap();
            let hpke = EncryptionKey(config.encode().unwrap()[3..35].try_into().unwrap());
            infos.push(ValidatorInfo::new("v", key.public_key(), hpke, P2pKey([0xff; 32])));
            nodes.push((NodeId::from_public_key(&key.public_key()), key, ohttp::Server::new(config).unwrap()));
        }
        let set = ValidatorSet::new(infos).unwrap();
        Self { nodes, set, silent_via_a: Vec::new(), committed: RefCell::default(), requests: RefCell::default() }
    }

    fn session(&self) -> Session<&Network> {
        let light =
            LightClient::new(ChainId::new("vigil-test").unwrap(), &to_bytes(&self.set), &self.set.hash()).unwrap();
        let cfg = ClientConfig {
            gateways: vec!["https://a.example".into(), "https://b.example/".into()],
            ..ClientConfig::default()
        };
        Session::new(GatewayClient::new(cfg, self), light)
    }

    /// The gateways each node was sent something through, in order.
    fn routes(&self, node: &NodeId) -> Vec<String> {
        let relay = format!("/v1/relay/{node}");
        let requests = self.requests.borrow();
        requests.iter().filter_map(|r| r.url.strip_suffix(&relay)).map(str::to_string).collect()
    }
}

impl Platform for &Network {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
    fn fill_random(&self, out: &mut [u8]) {
        out.fill(0xa5);
    }
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.requests.borrow_mut().push(request.clone());
        let (gateway, node) = request.url.split_once("/v1/relay/").expect("only relayed requests");
        let node: NodeId = node.parse().unwrap();
        let (_, key, server) = self.nodes.iter().find(|(id, _, _)| *id == node).unwrap();
        let (plain, responder) = server.decapsulate(&request.body).unwrap();
        let inner = PlainRequest::from_bhttp(&plain).unwrap();
        assert!(inner.path.starts_with("/v1/tx?wait=true"));
        let tx: SignedTransaction = vigil_protocol::encoding::from_bytes(&inner.body).unwrap();
        let again = self.committed.borrow().contains(&(node, tx.hash()));
        self.committed.borrow_mut().push((node, tx.hash()));
        if gateway == "https://a.example" && self.silent_via_a.contains(&node) {
            return ok(504, json!({ "error": { "code": "NODE_TIMEOUT", "message": "did not answer" } }));
        }
        let receipt = vigil_protocol::Receipt {
            chain_id: ChainId::new("vigil-test").unwrap(),
            height: Height(1),
            block_hash: Hash32([7; 32]),
            tx_index: 0,
            entry: vigil_protocol::ReceiptEntry {
                tx_hash: tx.hash(),
                status: vigil_protocol::TxStatus::Success,
                result_hash: Hash32([5; 32]),
            },
            node,
        }
        .sign(key);
        let error = again
            .then(|| vigil_api::ErrorDetail { code: ErrorCode::AlreadyCommitted, message: "already committed".into() });
        let body =
            serde_json::to_value(ReceiptAnswer { tx_hash: tx.hash(), receipt_bcs: to_bytes(&receipt).into(), error })
                .unwrap();
        let answer = PlainResponse {
            status: if again { 409 } else { 200 },
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        };
        let sealed = responder.encapsulate(&answer.to_bhttp().unwrap()).unwrap();
        Ok(HttpResponse { status: 200, retry_after_s: None, body: sealed })
    }
    async fn sleep(&self, _ms: u64) {}
}

fn transfer(key: &SecretKey, nonce: u64) -> SignedTransaction {
    vigil_protocol::Transaction {
        chain_id: ChainId::new("vigil-test").unwrap(),
        sender: key.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(1),
        payload: Payload::Transfer(vigil_protocol::Transfer { to: Address([7; 20]), amount: Amount(5) }),
    }
    .sign(key)
}

/// Issue 14, finding 8: a gateway through which a node stays silent is routed
/// around, and the session remembers the route that worked. The copy through the
/// first gateway reached the node (only its answer was lost), so the second copy is
/// answered `ALREADY_COMMITTED` with the node's receipt: a receipt all the same.
#[test]
fn a_node_silent_through_one_gateway_gives_its_receipt_through_the_next() {
    let mut network = Network::new();
    let silent = network.nodes[0].0;
    network.silent_via_a.push(silent);
    let mut s = network.session();
    let key = SecretKey::from_seed([9; 32]);
    let report = block_on(s.submit_everywhere(&key, &transfer(&key, 0))).unwrap();
    let verdicts: Vec<_> = report.nodes.iter().map(|r| (r.node, r.verdict.clone())).collect();
    let all_agree: Vec<_> = s.nodes().into_iter().map(|id| (id, Verdict::Agrees)).collect();
    assert_eq!(verdicts, all_agree, "the silent node's receipt came through the other gateway");
    assert_eq!(network.routes(&silent), ["https://a.example", "https://b.example"]);
    for (other, _, _) in &network.nodes[1..] {
        assert_eq!(network.routes(other), ["https://a.example"]);
    }

    // The next transfer goes to that node through the gateway that worked.
    network.requests.borrow_mut().clear();
    let report = block_on(s.submit_everywhere(&key, &transfer(&key, 1))).unwrap();
    assert!(report.nodes.iter().all(|r| r.verdict == Verdict::Agrees));
    assert_eq!(network.routes(&silent), ["https://b.example"]);
}

/// Issue 14, finding 8: evidence goes out by more than one route — to every other
/// node, through every gateway, each copy sealed on its own.
#[test]
fn evidence_is_sent_through_every_gateway_to_every_other_node() {
    let mut network = Network::new();
    let silent = network.nodes[0].0;
    network.silent_via_a.push(silent);
    let s = network.session();
    let offender = network.nodes[3].0;
    let key = SecretKey::from_seed([9; 32]);
    let tx = transfer(&key, 0);
    let delivery = block_on(s.deliver(&tx, &offender)).unwrap();
    assert!(delivery.committed, "{}", delivery.detail);
    assert_eq!(delivery.evidence_height, Some(Height(1)));
    for (node, _, _) in &network.nodes[..3] {
        assert_eq!(network.routes(node), ["https://a.example", "https://b.example"], "node {node}");
    }
    assert!(network.routes(&offender).is_empty(), "the offender is not asked to commit evidence against itself");
    let requests = network.requests.borrow();
    let bodies: std::collections::BTreeSet<&Vec<u8>> = requests.iter().map(|r| &r.body).collect();
    assert_eq!(bodies.len(), requests.len(), "no two routes carry the same bytes");
}
