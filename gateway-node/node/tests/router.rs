//! The node's public routes in process (`oneshot`, no socket): a real node — its redb
//! database, its consensus thread committing alone as the only validator — answers each
//! bad request with its one typed error code and that code's HTTP status, and every
//! route the OpenAPI document names is one the router serves.

use std::path::Path;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;
use vigil_api::{ErrorBody, ErrorCode, TxAnswer};
use vigil_node::config::NodeConfig;
use vigil_node::service::{public_routes, start, Started};
use vigil_protocol::encoding::to_bytes as bcs;
use vigil_protocol::limits::TRANSACTION_SIZE_MAX_BYTES;
use vigil_protocol::{
    Address, Amount, ChainId, ConsensusMode, Genesis, Nonce, Payload, SecretKey, SignedTransaction, StateKey,
    Transaction, Transfer, ValidatorInfo, ValidatorSet,
};
use vigil_server::keys::{save_node_keys, NodeKeys};

const CHAIN: &str = "vigil-router-test";
const FUNDS: u64 = 1_000_000;

struct TestNode {
    started: Started,
    app: Router,
    rich: SecretKey,
    _dir: tempfile::TempDir,
}

/// A one-validator network in a temporary directory, its API not bound to any socket.
async fn node() -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let keys = NodeKeys::generate();
    let key_file = dir.path().join("node.key");
    save_node_keys(&key_file, &keys).unwrap();
    let rich = SecretKey::from_seed([7; 32]);
    let info = ValidatorInfo::new("v0", keys.consensus.public_key(), keys.encryption_public(), keys.p2p_public());
    let genesis = Genesis {
        chain_id: ChainId::new(CHAIN).unwrap(),
        validators: ValidatorSet::new(vec![info]).unwrap(),
        accounts: vec![(Address::from_public_key(&rich.public_key()), Amount(FUNDS))],
        mode: ConsensusMode::Fast,
        time_ms: vigil_server::now_ms(),
        vault: Default::default(),
        checkpoints: Default::default(),
        authcenters: None,
        audit: Default::default(),
    };
    let genesis_file = dir.path().join("genesis.json");
    std::fs::write(&genesis_file, serde_json::to_string(&genesis).unwrap()).unwrap();
    let cfg = config(dir.path(), key_file, genesis_file);
    let started = start(&cfg).await.expect("the node starts");
    let app = public_routes(&started.shared).unwrap();
    TestNode { started, app, rich, _dir: dir }
}

fn config(dir: &Path, key_file: std::path::PathBuf, genesis_file: std::path::PathBuf) -> NodeConfig {
    let text = format!(
        "name = \"router-test\"\ndata_dir = {:?}\nkey_file = {:?}\ngenesis_file = {:?}\np2p_listen = \
         \"127.0.0.1:0\"\napi_listen = \"127.0.0.1:0\"\n",
        dir.join("data"),
        key_file,
        genesis_file
    );
    toml::from_str(&text).unwrap()
}

fn transfer(from: &SecretKey, nonce: u64, amount: u64, fee: u64, chain: &str) -> SignedTransaction {
    Transaction {
        chain_id: ChainId::new(chain).unwrap(),
        sender: from.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(fee),
        payload: Payload::Transfer(Transfer { to: Address([9; 20]), amount: Amount(amount) }),
    }
    .sign(from)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn post_bcs(path: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(path).header(header::CONTENT_TYPE, "application/octet-stream").body(Body::from(body)).unwrap()
}

fn post_tx(tx: &SignedTransaction) -> Request<Body> {
    post_bcs("/v1/tx", bcs(tx))
}

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, body.to_vec())
}

/// The request is refused with `code`, at `code`'s status, in the one error document.
async fn refused(app: &Router, what: &str, request: Request<Body>, code: ErrorCode) {
    let (status, body) = call(app, request).await;
    let error: ErrorBody = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{what}: not an error document ({e}): {}", String::from_utf8_lossy(&body)));
    assert_eq!((error.error.code, status.as_u16()), (code, code.status()), "{what}: {}", error.error.message);
    assert!(!error.error.message.is_empty(), "{what}: the message says why");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_has_its_code_and_that_codes_status() {
    let n = node().await;
    let (app, rich) = (&n.app, &n.rich);
    let poor = SecretKey::from_seed([8; 32]);

    refused(app, "no such route", get("/v1/nothing"), ErrorCode::NotFound).await;
    refused(
        app,
        "wrong method",
        Request::delete("/v1/status").body(Body::empty()).unwrap(),
        ErrorCode::MethodNotAllowed,
    )
    .await;
    refused(app, "bad address", get("/v1/accounts/vigil1nope"), ErrorCode::BadAddress).await;
    refused(app, "state key not hex", get("/v1/state/zz"), ErrorCode::BadStateKey).await;
    refused(app, "state key not BCS", get("/v1/state/ffff"), ErrorCode::BadStateKey).await;
    let states = |body: String| {
        Request::post("/v1/states").header(header::CONTENT_TYPE, "application/json").body(Body::from(body)).unwrap()
    };
    refused(app, "states: a key not BCS", states(r#"{"keys_bcs":["ffff"]}"#.into()), ErrorCode::BadStateKey).await;
    refused(app, "states: no key list", states("{}".into()), ErrorCode::Malformed).await;
    let too_many = vec![format!("\"{}\"", hex::encode(bcs(&StateKey::Dkg))); vigil_api::STATE_KEYS_MAX + 1];
    let too_many = format!(r#"{{"keys_bcs":[{}]}}"#, too_many.join(","));
    refused(app, "states: more keys than a request carries", states(too_many), ErrorCode::BadStateKey).await;
    refused(app, "bad tx hash", get("/v1/tx/xyz"), ErrorCode::Malformed).await;
    refused(app, "bad height", get("/v1/blocks/abc"), ErrorCode::Malformed).await;
    refused(app, "height not reached", get("/v1/blocks/999999"), ErrorCode::NotFound).await;
    refused(app, "tx not BCS", post_bcs("/v1/tx", vec![1, 2, 3]), ErrorCode::Malformed).await;
    let json = Request::post("/v1/tx").header(header::CONTENT_TYPE, "application/json").body(Body::from("{")).unwrap();
    refused(app, "tx not JSON", json, ErrorCode::Malformed).await;
    refused(
        app,
        "tx over its limit",
        post_bcs("/v1/tx", vec![0; TRANSACTION_SIZE_MAX_BYTES + 1]),
        ErrorCode::TxTooLarge,
    )
    .await;
    refused(
        app,
        "body over the route's limit",
        post_bcs("/v1/tx", vec![0; 4 * TRANSACTION_SIZE_MAX_BYTES]),
        ErrorCode::BodyTooLarge,
    )
    .await;
    refused(app, "another chain", post_tx(&transfer(rich, 0, 1, 1, "other-chain")), ErrorCode::WrongChain).await;
    let mut forged = transfer(rich, 0, 1, 1, CHAIN);
    forged.tx.fee = Amount(2);
    refused(app, "signature of another body", post_tx(&forged), ErrorCode::BadSignature).await;
    refused(app, "fee below the minimum", post_tx(&transfer(rich, 0, 1, 0, CHAIN)), ErrorCode::FeeTooLow).await;
    refused(app, "nonce far ahead", post_tx(&transfer(rich, 1_000, 1, 1, CHAIN)), ErrorCode::FutureNonce).await;
    refused(app, "unfunded sender", post_tx(&transfer(&poor, 0, 1, 1, CHAIN)), ErrorCode::InsufficientBalance).await;
    refused(app, "more than the balance", post_tx(&transfer(rich, 0, FUNDS, 1, CHAIN)), ErrorCode::InsufficientBalance)
        .await;
    refused(app, "vault store not BCS", post_bcs("/v1/vault/store", vec![1]), ErrorCode::Malformed).await;
    refused(app, "vault fetch not BCS", post_bcs("/v1/vault/fetch", vec![1]), ErrorCode::Malformed).await;
    refused(
        app,
        "sealed request of another type",
        post_bcs("/v1/sealed", vec![0; 64]),
        ErrorCode::UnsupportedMediaType,
    )
    .await;
    let sealed = |path: &str, media: &str| {
        Request::post(path).header(header::CONTENT_TYPE, media).body(Body::from(vec![0u8; 64])).unwrap()
    };
    let ohttp = vigil_protocol::sealed::REQUEST_MEDIA_TYPE;
    refused(app, "sealed request that does not open", sealed("/v1/sealed", ohttp), ErrorCode::CannotOpen).await;
    let link = vigil_protocol::link::REQUEST_MEDIA_TYPE;
    refused(app, "link request of no session", sealed("/v1/link/request", link), ErrorCode::UnknownSession).await;

    // A transfer commits (the node's own receipt, signed for this chain); sent again it
    // is already committed, and another one with its nonce is stale.
    let tx = transfer(rich, 0, 5, 1, CHAIN);
    let (status, body) = call(app, post_tx(&tx)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let answer: TxAnswer = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer.answer.error, None);
    let (status, body) = call(app, post_tx(&tx)).await;
    let again: TxAnswer = serde_json::from_slice(&body).unwrap();
    assert_eq!(status.as_u16(), ErrorCode::AlreadyCommitted.status());
    assert_eq!(again.answer.error.map(|e| e.code), Some(ErrorCode::AlreadyCommitted));
    refused(app, "a used nonce", post_tx(&transfer(rich, 0, 6, 1, CHAIN)), ErrorCode::StaleNonce).await;

    // Two entries read together: one height, in the order asked, one present (the
    // sender's account) and one absent (no centers on this chain), each with its proof.
    let keys = [StateKey::Account(Address::from_public_key(&rich.public_key())), StateKey::AuthCenters];
    let body = serde_json::to_string(&vigil_api::StatesRequest {
        keys_bcs: keys.iter().map(|k| vigil_api::Hex(bcs(k))).collect(),
        after: None,
    })
    .unwrap();
    let (status, body) = call(app, states(body)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let proven: vigil_api::ProvenStates = serde_json::from_slice(&body).unwrap();
    assert_eq!(proven.entries.len(), 2);
    assert_eq!(proven.entries[0].state_key_bcs.0, bcs(&keys[0]));
    assert!(proven.entries[0].value_bcs.is_some() && proven.entries[1].value_bcs.is_none());
    let certified: vigil_protocol::CertifiedHeader =
        vigil_protocol::encoding::from_bytes(&proven.certified_header_bcs.unwrap().0).unwrap();
    assert_eq!(certified.header.height, proven.height);
    for (key, entry) in keys.iter().zip(&proven.entries) {
        let proof: vigil_protocol::StateProof = vigil_protocol::encoding::from_bytes(&entry.proof_bcs.0).unwrap();
        proof.verify(&certified.header.state_root, key, entry.value_bcs.as_ref().map(|v| v.0.as_slice())).unwrap();
    }
    n.started.stop().await;
}

fn signed(from: &SecretKey, nonce: u64, payload: Payload) -> SignedTransaction {
    let fee = vigil_core::capability::fee_min(&payload);
    Transaction {
        chain_id: ChainId::new(CHAIN).unwrap(),
        sender: from.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(fee),
        payload,
    }
    .sign(from)
}

fn post_json(path: &str, body: String) -> Request<Body> {
    Request::post(path).header(header::CONTENT_TYPE, "application/json").body(Body::from(body)).unwrap()
}

/// Table writes through `POST /v1/tx` with each refusal's code, and the table reads with
/// what proves them: a row present and one absent, a page proven complete, a key's history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_are_refused_with_their_codes_and_read_with_their_proofs() {
    use vigil_protocol::tables::*;
    let n = node().await;
    let (app, rich) = (&n.app, &n.rich);
    let col = |name: &str, ty| Column { name: name.into(), ty, nullable: false, max_len: None, min: None, max: None };
    let schema = TableSchema {
        name: "orders".into(),
        columns: vec![col("id", ColumnType::U64), Column { max_len: Some(4), ..col("item", ColumnType::String) }],
        primary_key: vec![0],
        policy: WritePolicy::Owner,
    };
    let write = |key: &SecretKey, op, values: Vec<Value>| {
        let body = RowBody { chain: ChainId::new(CHAIN).unwrap(), table: "orders".into(), op, values };
        Payload::WriteRow(Box::new(body.sign(key)))
    };
    let item = |id: u64, s: &str| vec![Value::U64(id), Value::String(s.into())];
    refused(
        app,
        "row of no table",
        post_tx(&signed(rich, 0, write(rich, RowOp::Insert, item(1, "a")))),
        ErrorCode::UnknownTable,
    )
    .await;
    refused(
        app,
        "scan of no table",
        post_json("/v1/tables/orders/scan", r#"{"limit":5}"#.into()),
        ErrorCode::UnknownTable,
    )
    .await;
    let mut keyless = schema.clone();
    keyless.primary_key.clear();
    let create = |s: TableSchema| Payload::CreateTable(Box::new(CreateTable { schema: s }));
    refused(app, "schema without a key", post_tx(&signed(rich, 0, create(keyless))), ErrorCode::InvalidTable).await;
    let mut nonce = 0;
    let mut commit = |payload: Payload| {
        nonce += 1;
        signed(rich, nonce - 1, payload)
    };
    for tx in [
        create(schema.clone()),
        write(rich, RowOp::Insert, item(2, "fig")),
        write(rich, RowOp::Insert, item(1, "kiwi")),
    ]
    .map(&mut commit)
    {
        let (status, body) = call(app, post_tx(&tx)).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
    let next = |p| signed(rich, 3, p);
    refused(
        app,
        "a value too long",
        post_tx(&next(write(rich, RowOp::Insert, item(3, "melon")))),
        ErrorCode::InvalidRow,
    )
    .await;
    refused(app, "a key taken", post_tx(&next(write(rich, RowOp::Insert, item(1, "x")))), ErrorCode::DuplicateKey)
        .await;
    refused(app, "no such row", post_tx(&next(write(rich, RowOp::Update, item(9, "x")))), ErrorCode::MissingRow).await;
    let other = SecretKey::from_seed([9; 32]);
    refused(app, "another's row", post_tx(&next(write(&other, RowOp::Insert, item(3, "x")))), ErrorCode::NotTheWriter)
        .await;
    let Payload::WriteRow(mut forged) = write(rich, RowOp::Insert, item(3, "x")) else { unreachable!() };
    forged.body.values[1] = Value::String("y".into());
    refused(app, "a forged row", post_tx(&next(Payload::WriteRow(forged))), ErrorCode::BadRowSignature).await;
    refused(
        app,
        "a page of 0 rows",
        post_json("/v1/tables/orders/scan", r#"{"limit":0}"#.into()),
        ErrorCode::Malformed,
    )
    .await;
    refused(app, "a key not hex", get("/v1/tables/orders/rows/zz"), ErrorCode::Malformed).await;

    let (status, body) = call(app, post_json("/v1/tables/orders/scan", r#"{"limit":5}"#.into())).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let page: vigil_api::ScanAnswer = serde_json::from_slice(&body).unwrap();
    let certified: vigil_protocol::CertifiedHeader =
        vigil_protocol::encoding::from_bytes(&page.proven.certified_header_bcs.unwrap().0).unwrap();
    let root_entry = &page.proven.entries[1];
    let proof: vigil_protocol::StateProof = vigil_protocol::encoding::from_bytes(&root_entry.proof_bcs.0).unwrap();
    let root_bytes = root_entry.value_bcs.as_ref().unwrap().0.clone();
    proof.verify(&certified.header.state_root, &StateKey::TableRoot("orders".into()), Some(&root_bytes)).unwrap();
    let root: TableRoot = vigil_protocol::encoding::from_bytes(&root_bytes).unwrap();
    let rows: Vec<(Vec<u8>, vigil_protocol::Hash32)> = page
        .rows_bcs
        .iter()
        .map(|r| {
            let stored: StoredRow = vigil_protocol::encoding::from_bytes(&r.0).unwrap();
            (key_of(&schema, &stored.row.body.values).unwrap(), stored.hash())
        })
        .collect();
    let range = KeyRange { from: std::ops::Bound::Unbounded, to: std::ops::Bound::Unbounded };
    let range_proof: RangeProof = vigil_protocol::encoding::from_bytes(&page.proof_bcs.0).unwrap();
    let checked = verify_page(&root.root, &range, 5, rows, &range_proof).unwrap();
    assert_eq!(checked.rows.iter().map(|(k, _)| k[7]).collect::<Vec<_>>(), vec![1, 2], "in key order, complete");

    let (status, body) = call(app, get(&format!("/v1/tables/orders/rows/{}", hex::encode(7u64.to_be_bytes())))).await;
    assert_eq!(status, StatusCode::OK);
    let absent: vigil_api::ProvenStates = serde_json::from_slice(&body).unwrap();
    assert!(absent.entries[0].value_bcs.is_some() && absent.entries[1].value_bcs.is_none(), "the table, no row 7");
    let (status, body) =
        call(app, get(&format!("/v1/tables/orders/rows/{}/history", hex::encode(1u64.to_be_bytes())))).await;
    assert_eq!(status, StatusCode::OK);
    let history: vigil_api::ProvenStates = serde_json::from_slice(&body).unwrap();
    assert_eq!(history.entries.len(), 2, "the table, and the key's entry: its one write is its latest");
    n.started.stop().await;
}

/// Every path and method the OpenAPI document names reaches a handler of the router (an
/// answer that is not the router's "no such route" or "wrong method").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_names_only_routes_the_router_serves() {
    let n = node().await;
    let doc = vigil_node::openapi::document();
    let paths = doc["paths"].as_object().expect("the document has paths");
    let key = hex::encode(bcs(&StateKey::Account(Address([1; 20]))));
    let address = Address::from_public_key(&n.rich.public_key()).to_string();
    let mut checked = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{height}", "0")
            .replace("{index}", "0")
            .replace("{hash}", &"ab".repeat(32))
            .replace("{address}", &address)
            .replace("{key}", &key)
            .replace("{name}", "orders");
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let request = Request::builder().method(method.clone()).uri(&concrete).body(Body::empty()).unwrap();
            let (status, body) = call(&n.app, request).await;
            let routed = match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(e) => {
                    e.error.code != ErrorCode::MethodNotAllowed && !(status == 404 && e.error.message.contains("route"))
                }
                Err(_) => true,
            };
            assert!(routed, "{method} {path}: {status} {}", String::from_utf8_lossy(&body));
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} operations checked");
    n.started.stop().await;
}

/// Every Rust source of the node, read from disk (so a new capability's module is read
/// without being named here).
fn node_sources() -> Vec<(std::path::PathBuf, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path, text));
            }
        }
    }
    files
}

/// The other way: every route the node's sources declare (`.route("…", method(…))`, test
/// code aside) is in the OpenAPI document with its methods — a route added without its
/// documentation fails here. The admin listener's `/metrics` is not public.
#[test]
fn every_route_the_node_declares_is_documented() {
    const NOT_PUBLIC: &[&str] = &["/metrics"];
    let doc = vigil_node::openapi::document();
    let mut declared = 0;
    for (_, source) in node_sources() {
        let source = source.as_str();
        let code = source.split("#[cfg(test)]").next().unwrap_or(source);
        for call in code.split(".route(\"").skip(1) {
            let (path, rest) = call.split_once('"').unwrap();
            // Each route is declared on one line: its methods are on that line.
            let args = rest.split(".route(").next().unwrap_or(rest).lines().next().unwrap_or("");
            if NOT_PUBLIC.contains(&path) {
                continue;
            }
            for method in ["get", "post", "put", "delete", "patch"] {
                if args.contains(&format!("{method}(")) {
                    assert!(
                        doc["paths"][path][method].is_object(),
                        "{} {path} is routed but not in the OpenAPI document",
                        method.to_uppercase()
                    );
                    declared += 1;
                }
            }
        }
    }
    assert!(declared >= 15, "only {declared} routes found in the sources");
}

/// A batch body over its limit is refused before anything reads it. A batch costs its
/// client network a token per transaction: with a burst of 100, a
/// batch of 150 is refused whole (and admits nothing), one of 99 passes, and then a
/// batch of 2 finds one token left and is refused. A client under its limit is charged
/// as if it had sent each transaction alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_charged_a_token_per_transaction() {
    let n = node().await;
    let settings = vigil_server::limits::Settings { rate_per_second: 1, rate_burst: 100, in_flight_max: 64 };
    let limits = vigil_server::limits::ClientLimits::new(settings, &[]);
    let app = vigil_server::limits::outermost(n.app.clone(), limits);
    let batch = |from: u64, count: u64| {
        let txs: Vec<SignedTransaction> = (from..from + count).map(|i| transfer(&n.rich, i, 1, 1, CHAIN)).collect();
        let mut r = post_bcs("/v1/txs?wait=false", bcs(&txs));
        r.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([192, 0, 2, 7], 4000))));
        r
    };
    let too_large = post_bcs("/v1/txs", vec![0; vigil_node::api::batch::TX_BATCH_BODY_MAX_BYTES + 1]);
    refused(&n.app, "a batch body over its limit", too_large, ErrorCode::BodyTooLarge).await;
    refused(&app, "150 transactions, 100 tokens", batch(0, 150), ErrorCode::RateLimited).await;
    let (status, body) = call(&app, batch(0, 99)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let answer: vigil_api::TxBatchAnswer = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer.results.len(), 99);
    assert!(answer.results.iter().all(|o| o.error.is_none()), "nonces 0 to 98, none used by the refused batch");
    refused(&app, "2 transactions, 1 token", batch(99, 2), ErrorCode::RateLimited).await;
}
