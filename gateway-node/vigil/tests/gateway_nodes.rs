//! The gateway against in-process nodes (each a real HTTP server with the node's real
//! sealed endpoint and forwarding link in front of a small API), over real loopback
//! sockets, and the gateway's own refusals in process (`oneshot`). Here, in the `vigil`
//! crate, because it is where the node and the gateway meet.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
use std::time::Duration;
use vigil_protocol::sealed::{self, PlainRequest, REQUEST_MEDIA_TYPE, RESPONSE_MEDIA_TYPE};
use vigil_protocol::wallet_config::{GatewayOrigin, WalletConfig};
use vigil_protocol::{Genesis, NodeId};

use vigil_protocol::{ChainId, ConsensusMode, EncryptionKey, P2pKey, SecretKey, ValidatorInfo, ValidatorSet};

use vigil_gateway::config::{GatewayConfig, LimitsConfig, NodeEntry};
use vigil_gateway::*;

struct Fixture {
    gateway: String,
    /// The admin listener (`/metrics`).
    admin: String,
    /// Requests to `/v1/hold` on any node wait for a permit here.
    gate: Arc<tokio::sync::Semaphore>,
    /// Requests to `/v1/hold` that reached a node.
    held: Arc<AtomicU64>,
    ids: Vec<NodeId>,
    keys: Vec<EncryptionKey>,
    /// The live nodes' addresses and what stops each.
    nodes: Vec<(SocketAddr, Stop)>,
    http: reqwest::Client,
    _static: Option<tempfile::TempDir>,
}

/// An address nothing listens on.
fn dead_address() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

async fn start_node(
    seed: u8,
    name: &'static str,
    gate: Arc<tokio::sync::Semaphore>,
    held: Arc<AtomicU64>,
) -> (SocketAddr, EncryptionKey, Stop) {
    start_node_on("127.0.0.1:0".parse().unwrap(), seed, name, gate, held).await
}

/// Stops an in-process node when sent to (or dropped).
type Stop = tokio::sync::oneshot::Sender<()>;

async fn start_node_on(
    at: SocketAddr,
    seed: u8,
    name: &'static str,
    gate: Arc<tokio::sync::Semaphore>,
    held: Arc<AtomicU64>,
) -> (SocketAddr, EncryptionKey, Stop) {
    let config = sealed::server_config(&[seed; 32]).unwrap();
    let key = EncryptionKey(config.encode().unwrap()[3..35].try_into().unwrap());
    let hold = move || async move {
        held.fetch_add(1, Ordering::SeqCst);
        gate.acquire().await.unwrap().forget();
        "released"
    };
    let api = Router::new()
        .route("/v1/status", get(move || async move { Json(json!({ "name": name })) }))
        .route("/v1/hold", get(hold))
        .route("/v1/echo", post(|body: Bytes| async move { body }))
        // What a Byzantine node could answer to reach the wallet's origin.
        .route("/v1/page", get(|| async { axum::response::Html("<script src=\"/v1/node/x/v1/app.js\"></script>") }))
        .route(
            "/v1/app.js",
            get(|| async { ([(axum::http::header::CONTENT_TYPE, "text/javascript")], "steal(localStorage)") }),
        );
    let app = vigil_node::sealed::routes(&[seed; 32], api, Default::default()).unwrap();
    let listener = tokio::net::TcpListener::bind(at).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    (addr, key, stop)
}

/// Two live nodes and one that is down, behind a plain-HTTP loopback gateway.
/// A genesis of `infos` and a gateway configuration (plain HTTP on loopback) that routes
/// validator i to `addrs[i]`.
fn gateway_setup(
    infos: Vec<ValidatorInfo>,
    addrs: &[SocketAddr],
    limits: LimitsConfig,
    static_dir: Option<std::path::PathBuf>,
    wallet: WalletConfig,
) -> (Vec<NodeId>, Genesis, GatewayConfig) {
    let ids: Vec<NodeId> = infos.iter().map(|v| v.id).collect();
    let genesis = Genesis {
        chain_id: ChainId::new("vigil-test").unwrap(),
        validators: ValidatorSet::new(infos).unwrap(),
        accounts: vec![],
        mode: ConsensusMode::Fast,
        time_ms: 0,
        vault: Default::default(),
        checkpoints: Default::default(),
        authcenters: None,
        audit: Default::default(),
    };
    let cfg = GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        genesis_file: "unused".into(),
        tls_cert: None,
        tls_key: None,
        plain_http_on_loopback: true,
        static_dir,
        admin_listen: None,
        cors_origins: vec!["https://wallet.example".into()],
        wallet_gateways: wallet.gateways,
        other_chains: wallet.other_chains,
        limits,
        faucet: None,
        nodes: addrs
            .iter()
            .zip(&ids)
            .map(|(addr, id)| NodeEntry { id: id.to_string(), url: format!("http://{addr}") })
            .collect(),
    };
    (ids, genesis, cfg)
}

async fn fixture(limits: LimitsConfig, with_static: bool) -> Fixture {
    fixture_with(limits, with_static, WalletConfig::default()).await
}

/// [`fixture`], its served wallet allowed to use `wallet`'s gateways and other chains.
async fn fixture_with(limits: LimitsConfig, with_static: bool, wallet: WalletConfig) -> Fixture {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let held = Arc::new(AtomicU64::new(0));
    let (a, ka, stop_a) = start_node(1, "node-0", gate.clone(), held.clone()).await;
    let (b, kb, stop_b) = start_node(2, "node-1", gate.clone(), held.clone()).await;
    let down = dead_address();
    let kd = EncryptionKey(sealed::server_config(&[3; 32]).unwrap().encode().unwrap()[3..35].try_into().unwrap());
    let consensus: Vec<SecretKey> = (1..=3u8).map(|i| SecretKey::from_seed([i; 32])).collect();
    let infos: Vec<ValidatorInfo> = consensus
        .iter()
        .zip([ka, kb, kd])
        .enumerate()
        .map(|(i, (k, e))| ValidatorInfo::new(format!("node-{i}"), k.public_key(), e, P2pKey([0x80 | i as u8; 32])))
        .collect();
    let static_dir = with_static.then(|| {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("index.html"), "<!doctype html><title>wallet</title>").unwrap();
        std::fs::write(d.path().join("app.wasm"), b"\0asm").unwrap();
        std::fs::write(d.path().join("app.wasm.gz"), b"gzipped wasm").unwrap();
        d
    });
    let static_path = static_dir.as_ref().map(|d| d.path().to_path_buf());
    let (ids, genesis, cfg) = gateway_setup(infos, &[a, b, down], limits, static_path, wallet);
    let (router, admin) = routers(&cfg, &genesis).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        async move { axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await },
    );
    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_addr = admin_listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(admin_listener, admin).await });
    Fixture {
        gateway: format!("http://{addr}"),
        admin: format!("http://{admin_addr}"),
        gate,
        held,
        ids,
        keys: vec![ka, kb, kd],
        nodes: vec![(a, stop_a), (b, stop_b)],
        http: reqwest::Client::new(),
        _static: static_dir,
    }
}

impl Fixture {
    async fn forward(&self, body: Value) -> (u16, Value, HeaderMap) {
        let r = self.http.post(format!("{}/v1/forward", self.gateway)).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.json().await.unwrap_or(Value::Null), headers)
    }
}

fn status_request() -> Value {
    json!({ "method": "GET", "path": "/v1/status" })
}

#[tokio::test]
async fn a_forwarded_request_reaches_the_named_node_and_only_it() {
    let f = fixture(LimitsConfig::default(), false).await;
    for (i, name) in ["node-0", "node-1"].iter().enumerate() {
        let (status, body, _) = f.forward(json!({ "target": f.ids[i].to_string(), "request": status_request() })).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], 200);
        assert_eq!(body["json"]["name"], *name);
        assert_eq!(body["node"], f.ids[i].to_string());
    }
    let echo = B64.encode([7u8; 300]);
    let (_, body, _) = f
        .forward(json!({ "target": f.ids[1].to_string(), "request": { "method": "POST", "path": "/v1/echo", "content_type": "application/octet-stream", "body_base64": echo } }))
        .await;
    assert_eq!(body["body_base64"], echo);
}

#[tokio::test]
async fn a_restarted_node_gets_a_new_link_session_and_the_request_is_served() {
    let mut f = fixture(LimitsConfig::default(), false).await;
    let to_node_0 = json!({ "target": f.ids[0].to_string(), "request": status_request() });
    for _ in 0..3 {
        let (status, body, _) = f.forward(to_node_0.clone()).await;
        assert_eq!((status, &body["json"]["name"]), (200, &json!("node-0")), "{body}");
    }
    let metrics = f.http.get(format!("{}/metrics", f.admin)).send().await.unwrap().text().await.unwrap();
    let sessions = |n: u64| format!("vigil_gateway_link_sessions_total{{node=\"{}\"}} {n}", f.ids[0]);
    assert!(metrics.contains(&sessions(1)), "one session carries all three: {metrics}");
    // The node restarts on the same address: it has forgotten the session, refuses it
    // as unknown, and the gateway opens another and sends the request again.
    let (addr, stop) = f.nodes.remove(0);
    stop.send(()).unwrap();
    let restarted = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if tokio::net::TcpListener::bind(addr).await.is_ok() {
            break start_node_on(addr, 1, "node-0", f.gate.clone(), f.held.clone()).await;
        }
    };
    f.nodes.insert(0, (restarted.0, restarted.2));
    let (status, body, _) = f.forward(to_node_0).await;
    assert_eq!((status, &body["json"]["name"]), (200, &json!("node-0")), "{body}");
    let metrics = f.http.get(format!("{}/metrics", f.admin)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(&sessions(2)), "{metrics}");
}

#[tokio::test]
async fn fan_out_returns_each_answer_or_error_separately() {
    let f = fixture(LimitsConfig { node_timeout_ms: 2_000, ..LimitsConfig::default() }, false).await;
    let (status, body, _) = f.forward(json!({ "targets": "all", "request": status_request() })).await;
    assert_eq!(status, 200, "{body}");
    let answers = body["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 3);
    let by_node = |id: &NodeId| answers.iter().find(|a| a["node"] == id.to_string()).unwrap().clone();
    assert_eq!(by_node(&f.ids[0])["json"]["name"], "node-0");
    assert_eq!(by_node(&f.ids[1])["json"]["name"], "node-1");
    let down = by_node(&f.ids[2]);
    assert_eq!(down["status"], 503, "{down}");
    assert_eq!(down["error"]["code"], "NODE_UNAVAILABLE");
}

#[tokio::test]
async fn unknown_ids_malformed_requests_and_big_bodies_get_typed_errors() {
    let f = fixture(LimitsConfig { body_max_bytes: 2_000, ..LimitsConfig::default() }, false).await;
    let stranger = NodeId::from_public_key(&SecretKey::from_seed([50; 32]).public_key());
    let (status, body, _) = f.forward(json!({ "target": stranger.to_string(), "request": status_request() })).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("UNKNOWN_NODE")));
    let (status, body, _) = f.forward(json!({ "target": "nope", "request": status_request() })).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("MALFORMED")));
    let (status, body, _) =
        f.forward(json!({ "target": f.ids[0].to_string(), "request": { "path": "http://evil.example/" } })).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("MALFORMED")));
    let big = json!({ "target": f.ids[0].to_string(), "request": { "method": "POST", "path": "/v1/echo", "body_base64": B64.encode([0u8; 4_000]) } });
    let (status, body, _) = f.forward(big).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("BODY_TOO_LARGE")));
    let r = f.http.get(format!("{}/v1/nowhere", f.gateway)).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after() {
    let f = fixture(LimitsConfig { rate_per_second: 1, rate_burst: 3, ..LimitsConfig::default() }, false).await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..5 {
        let (status, body, headers) =
            f.forward(json!({ "target": f.ids[0].to_string(), "request": status_request() })).await;
        if status == 429 {
            assert_eq!(body["error"]["code"], "RATE_LIMITED");
            retry_after = headers.get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    assert_eq!(retry_after.as_deref(), Some("1"));
}

#[tokio::test]
async fn a_down_node_opens_its_circuit_while_others_are_served() {
    let f =
        fixture(LimitsConfig { breaker_failures: 2, breaker_open_ms: 60_000, ..LimitsConfig::default() }, false).await;
    let down = json!({ "target": f.ids[2].to_string(), "request": status_request() });
    for _ in 0..2 {
        let (status, body, _) = f.forward(down.clone()).await;
        assert_eq!((status, body["error"]["code"].as_str()), (503, Some("NODE_UNAVAILABLE")), "{body}");
    }
    // Open: refused at once, with a time to come back.
    let (status, _, headers) = f.forward(down).await;
    assert_eq!(status, 503);
    assert!(headers.contains_key("retry-after"));
    let (status, _, _) = f.forward(json!({ "target": f.ids[0].to_string(), "request": status_request() })).await;
    assert_eq!(status, 200, "the other nodes are still served");
    let nodes: Value = f.http.get(format!("{}/v1/nodes", f.gateway)).send().await.unwrap().json().await.unwrap();
    let view = nodes["nodes"].as_array().unwrap();
    assert_eq!(view.iter().filter(|n| n["healthy"] == false).count(), 1);
    let metrics = f.http.get(format!("{}/metrics", f.admin)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(&format!("vigil_gateway_errors_total{{node=\"{}\"}} 2", f.ids[2])), "{metrics}");
    assert!(metrics.contains(&format!("vigil_gateway_requests_total{{node=\"{}\"}} 1", f.ids[0])));
}

#[tokio::test]
async fn the_relay_carries_client_sealed_bytes_it_cannot_read() {
    let f = fixture(LimitsConfig::default(), false).await;
    let keys_url = format!("{}/v1/relay/{}/ohttp-keys", f.gateway, f.ids[1]);
    let keys = f.http.get(keys_url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(keys.as_ref(), sealed::key_config_list(&f.keys[1]).as_slice());
    let secret = b"only node-1 may read this".to_vec();
    let (bytes, opener) =
        sealed::seal(&f.keys[1], &PlainRequest::new("POST", "/v1/echo", None, secret.clone())).unwrap();
    assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_slice()));
    let r = f
        .http
        .post(format!("{}/v1/relay/{}", f.gateway, f.ids[1]))
        .header("content-type", REQUEST_MEDIA_TYPE)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], RESPONSE_MEDIA_TYPE);
    assert_eq!(opener.open(&r.bytes().await.unwrap()).unwrap().body, secret);
    // Relayed to another node, the same bytes do not open there.
    let r = f
        .http
        .post(format!("{}/v1/relay/{}", f.gateway, f.ids[0]))
        .header("content-type", REQUEST_MEDIA_TYPE)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "CANNOT_OPEN");
}

#[tokio::test]
async fn the_wallet_page_is_served_with_its_security_headers() {
    let f = fixture(LimitsConfig::default(), true).await;
    for path in ["/", "/index.html", "/send"] {
        let r = f.http.get(format!("{}{path}", f.gateway)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-security-policy"], content_security_policy(&WalletConfig::default()));
        assert!(content_security_policy(&WalletConfig::default()).contains("; connect-src 'self'; "));
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
        assert_eq!(r.headers()["cache-control"], "no-cache", "{path}");
        assert!(r.text().await.unwrap().contains("<title>wallet</title>"));
    }
    let r = f.http.get(format!("{}/app.wasm", f.gateway)).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/wasm");
    assert!(r.headers().get("cache-control").is_none());
    assert!(r.headers().get("content-encoding").is_none());
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"\0asm");
    // The pre-compressed copy goes to a browser that accepts gzip.
    let r = f.http.get(format!("{}/app.wasm", f.gateway)).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/wasm");
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"gzipped wasm");
    let r = f
        .http
        .request(Method::OPTIONS, format!("{}/v1/forward", f.gateway))
        .header("origin", "https://wallet.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "https://wallet.example");
    // An API answer is data: it gets the policy that lets nothing load from it or frame
    // it, not the page's; the other headers as a page.
    for path in ["/v1/nodes", "/v1/no-such-endpoint"] {
        let r = f.http.get(format!("{}{path}", f.gateway)).send().await.unwrap();
        assert_eq!(r.headers()["content-security-policy"], API_CSP, "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
        assert!(r.headers().get("cache-control").is_none(), "{path}");
    }
}

async fn metrics(f: &Fixture) -> String {
    f.http.get(format!("{}/metrics", f.admin)).send().await.unwrap().text().await.unwrap()
}

fn requests_to(metrics: &str, id: &NodeId) -> u64 {
    let prefix = format!("vigil_gateway_requests_total{{node=\"{id}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.parse().ok()).unwrap()
}

/// Finding 9: oversized bodies are thrown away as they stream, whatever the framing: a
/// chunked body that never ends is answered 413 while the client is still sending.
#[tokio::test]
async fn an_endless_chunked_body_gets_413_while_it_is_still_being_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = fixture(LimitsConfig { body_max_bytes: 2_000, ..LimitsConfig::default() }, false).await;
    let stream = tokio::net::TcpStream::connect(f.gateway.trim_start_matches("http://")).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let sent = Arc::new(AtomicU64::new(0));
    let sending = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let head = "POST /v1/forward HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
            write.write_all(head.as_bytes()).await?;
            let chunk = format!("{:x}\r\n{}\r\n", 1024, "x".repeat(1024));
            loop {
                write.write_all(chunk.as_bytes()).await?;
                sent.fetch_add(1024, Ordering::Relaxed);
            }
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        })
    };
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read_answer = async {
        while !String::from_utf8_lossy(&answer).contains("BODY_TOO_LARGE") {
            let n = read.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed without an answer: {}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read_answer).await.expect("a 413 arrives while the body never ends");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    // The answer came while the client was still sending (or once the gateway closed
    // the connection on it): the body was never read to its end.
    assert!(sent.load(Ordering::Relaxed) > 2_000);
    assert!(!sending.is_finished() || sending.await.unwrap().is_err());
    assert!(metrics(&f).await.contains("vigil_gateway_too_large_total 1"));
}

/// Finding 9: on 9bb76d5 the oversize check ran before the rate limit, so a flood of
/// oversized requests was never throttled.
#[tokio::test]
async fn a_flood_of_oversized_requests_is_rate_limited() {
    let f = fixture(
        LimitsConfig { body_max_bytes: 2_000, rate_per_second: 1, rate_burst: 3, ..LimitsConfig::default() },
        false,
    )
    .await;
    let (log, _guard) = vigil_server::http::captured_log::CapturedLog::start();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = f.http.post(format!("{}/v1/forward", f.gateway)).body(vec![b'x'; 10_000]).send().await.unwrap();
        statuses.push(r.status().as_u16());
        let body: Value = r.json().await.unwrap();
        let code = if statuses.len() <= 3 { "BODY_TOO_LARGE" } else { "RATE_LIMITED" };
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    assert_eq!(statuses, [413, 413, 413, 429, 429]);
    // Issue 14: the refused requests are in the access log too, one line each.
    let logged: Vec<bool> = log.access_lines().iter().map(|l| l.contains("status=429")).collect();
    assert_eq!(logged, [false, false, false, true, true], "{}", log.text());
    let m = metrics(&f).await;
    assert!(m.contains("vigil_gateway_too_large_total 3") && m.contains("vigil_gateway_rate_limited_total 2"), "{m}");
}

/// Finding 9: on 9bb76d5 a fan-out to every node cost one token, like a request to one.
#[tokio::test]
async fn a_fan_out_costs_one_token_per_target() {
    let f = fixture(
        LimitsConfig { rate_per_second: 1, rate_burst: 5, node_timeout_ms: 2_000, ..LimitsConfig::default() },
        false,
    )
    .await;
    let (status, body, _) = f.forward(json!({ "targets": "all", "request": status_request() })).await;
    assert_eq!(status, 200, "{body}");
    // 2 tokens left: another fan-out to all 3 nodes pays 1 on the way in, lacks the other
    // 2, and reaches no node.
    let (status, body, headers) = f.forward(json!({ "targets": "all", "request": status_request() })).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("RATE_LIMITED")), "{body}");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(requests_to(&metrics(&f).await, &f.ids[0]), 1, "the refused fan-out forwarded nothing");
    // The one token left still pays for a request to one node; then none is left.
    let one = json!({ "target": f.ids[0].to_string(), "request": status_request() });
    assert_eq!(f.forward(one.clone()).await.0, 200);
    assert_eq!(f.forward(one).await.0, 429);
    assert_eq!(requests_to(&metrics(&f).await, &f.ids[0]), 2);
}

/// Finding 9: forwards in flight are capped per client network, and freed when they end.
#[tokio::test]
async fn forwards_in_flight_are_capped_per_client_and_freed_when_they_end() {
    let f = Arc::new(fixture(LimitsConfig { in_flight_per_client_max: 2, ..LimitsConfig::default() }, false).await);
    let hold = json!({ "target": f.ids[0].to_string(), "request": { "method": "GET", "path": "/v1/hold" } });
    let held: Vec<_> = (0..2)
        .map(|_| {
            let (f, hold) = (f.clone(), hold.clone());
            tokio::spawn(async move { f.forward(hold).await })
        })
        .collect();
    let both_held = async {
        while f.held.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), both_held).await.unwrap();
    let status = json!({ "target": f.ids[1].to_string(), "request": status_request() });
    let (code, body, headers) = f.forward(status.clone()).await;
    assert_eq!((code, body["error"]["code"].as_str()), (429, Some("TOO_MANY_IN_FLIGHT")), "{body}");
    assert!(headers.contains_key("retry-after"));
    // A fan-out to 2 nodes would need 2 slots more: refused too, and reaches nobody.
    let fan = json!({ "targets": [f.ids[0].to_string(), f.ids[1].to_string()], "request": status_request() });
    assert_eq!(f.forward(fan.clone()).await.0, 429);
    f.gate.add_permits(2);
    for h in held {
        let (code, body, _) = h.await.unwrap();
        assert_eq!((code, body["status"].as_u64()), (200, Some(200)), "{body}");
    }
    assert_eq!(f.forward(status).await.0, 200, "the slots are free again");
    assert_eq!(f.forward(fan).await.0, 200);
    assert!(metrics(&f).await.contains("vigil_gateway_in_flight_refused_total 2"));
}

/// Finding 9: on 9bb76d5 `/metrics` was served to anyone on the public listener.
#[tokio::test]
async fn metrics_are_served_on_the_admin_listener_only() {
    let f = fixture(LimitsConfig::default(), false).await;
    let (status, _, _) = f.forward(json!({ "target": f.ids[0].to_string(), "request": status_request() })).await;
    assert_eq!(status, 200);
    let r = f.http.get(format!("{}/metrics", f.gateway)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(!r.text().await.unwrap().contains("vigil_gateway"));
    let m = metrics(&f).await;
    assert_eq!(requests_to(&m, &f.ids[0]), 1, "{m}");
}

/// Issue 14, finding 8: the web wallet may use the other gateways a deployment trusts,
/// and the other chains' gateways it lists (issue 20), and no other origin: the CSP's
/// `connect-src` is `'self'` and exactly those, and the same lists are served to the
/// wallet.
#[tokio::test]
async fn the_csp_lets_the_wallet_connect_to_the_configured_gateways_and_nothing_else() {
    let others: Vec<GatewayOrigin> =
        ["https://b.example:8443", "http://127.0.0.1:9000"].iter().map(|o| o.parse().unwrap()).collect();
    let other_chain: GatewayOrigin = "https://chain-b.example".parse().unwrap();
    let wallet = WalletConfig { gateways: others.clone(), other_chains: vec![other_chain.clone()] };
    let f = fixture_with(LimitsConfig::default(), true, wallet.clone()).await;
    let r = f.http.get(format!("{}/", f.gateway)).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    let connect: Vec<&str> = directives.iter().filter(|d| d.starts_with("connect-src")).copied().collect();
    assert_eq!(connect, ["connect-src 'self' https://b.example:8443 http://127.0.0.1:9000 https://chain-b.example"]);
    assert!(directives.contains(&"default-src 'self'"), "{csp}");
    assert_eq!(directives.iter().filter(|d| d.contains("b.example")).count(), 1, "{csp}");

    let r = f.http.get(format!("{}/v1/wallet-config", f.gateway)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let served: WalletConfig = r.json().await.unwrap();
    assert_eq!(served, wallet);

    // Without any configured, the page connects to its own origin only.
    let f = fixture(LimitsConfig::default(), true).await;
    let r = f.http.get(format!("{}/", f.gateway)).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("; connect-src 'self'; "), "{csp}");
    let served: WalletConfig =
        f.http.get(format!("{}/v1/wallet-config", f.gateway)).send().await.unwrap().json().await.unwrap();
    assert!(served.gateways.is_empty());
}

#[tokio::test]
async fn a_node_api_is_served_through_its_passthrough_as_the_node_answered() {
    let f = fixture(LimitsConfig { node_timeout_ms: 2_000, ..LimitsConfig::default() }, false).await;
    let via = |i: usize, path: &str| format!("{}/v1/node/{}{path}", f.gateway, f.ids[i]);
    for (i, name) in ["node-0", "node-1"].iter().enumerate() {
        let r = f.http.get(via(i, "/v1/status")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["vigil-node"], f.ids[i].to_string().as_str(), "names who answered");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["name"], *name, "reached the named node and only it");
    }
    let r = f
        .http
        .post(via(1, "/v1/echo?x=1"))
        .header("content-type", "application/octet-stream")
        .body(vec![9u8; 300])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &[9u8; 300][..]);
    // The node's own refusal passes through with its status; the gateway's own errors
    // carry no Vigil-Node header.
    let r = f.http.get(via(0, "/v1/nowhere")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers().contains_key("vigil-node")), (404, true));
    // A node's page or script is served on the wallet's origin as data only: neither
    // type passes, and the policy lets nothing in it run (sandboxed if opened).
    for path in ["/v1/page", "/v1/app.js"] {
        let r = f.http.get(via(0, path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "application/octet-stream", "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(r.headers()["content-security-policy"], API_CSP, "{path}");
        assert!(API_CSP.contains("default-src 'none'") && API_CSP.ends_with("; sandbox"));
    }
    let r = f.http.get(via(2, "/v1/status")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers().contains_key("vigil-node")), (503, false));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NODE_UNAVAILABLE");
    let r = f.http.get(format!("{}/v1/node/{}/metrics", f.gateway, f.ids[0])).send().await.unwrap();
    assert_eq!(r.status(), 400, "only node API paths");
    let r = f.http.get(format!("{}/v1/node/nope/v1/status", f.gateway)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let stranger = NodeId::from_public_key(&SecretKey::from_seed([51; 32]).public_key());
    let r = f.http.get(format!("{}/v1/node/{stranger}/v1/status", f.gateway)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = f.http.delete(via(0, "/v1/status")).send().await.unwrap();
    assert_eq!(r.status(), 405);
}

// In process (`oneshot`, no socket): each refusal the gateway makes itself comes in the one
// error document, with its code and that code's HTTP status.

mod oneshot {
    use axum::body::{to_bytes, Body};
    use axum::extract::ConnectInfo;
    use axum::http::{header, Request};
    use tower::ServiceExt;
    use vigil_api::{ErrorBody, ErrorCode};

    use super::*;

    const BODY_MAX: usize = 2_000;

    /// A gateway in process in front of two validators that listen nowhere (their ids, then
    /// its public router): what a node would answer never enters.
    fn oneshot_gateway(limits: LimitsConfig) -> (Vec<NodeId>, Router) {
        let infos: Vec<ValidatorInfo> = (1..=2u8)
            .map(|i| {
                let k = SecretKey::from_seed([i; 32]);
                ValidatorInfo::new(format!("node-{i}"), k.public_key(), EncryptionKey([i; 32]), P2pKey([0x80 | i; 32]))
            })
            .collect();
        let (ids, genesis, cfg) =
            gateway_setup(infos, &[dead_address(), dead_address()], limits, None, WalletConfig::default());
        (ids, routers(&cfg, &genesis).unwrap().0)
    }

    fn client(request: Request<Body>) -> Request<Body> {
        let mut request = request;
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
        request
    }

    fn forward(body: serde_json::Value) -> Request<Body> {
        client(
            Request::post("/v1/forward")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
    }

    /// The request is refused with `code`, at `code`'s status, in the one error document.
    async fn refused(app: &Router, what: &str, request: Request<Body>, code: ErrorCode) {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let error: ErrorBody = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{what}: not an error document ({e}): {}", String::from_utf8_lossy(&body)));
        assert_eq!((error.error.code, status), (code, code.status()), "{what}: {}", error.error.message);
    }

    #[tokio::test]
    async fn every_refusal_of_the_gateway_has_its_code_and_that_codes_status() {
        let limits = LimitsConfig { body_max_bytes: BODY_MAX, breaker_failures: 100, ..LimitsConfig::default() };
        let (ids, app) = oneshot_gateway(limits);
        let app = &app;
        let stranger = NodeId::from_public_key(&SecretKey::from_seed([50; 32]).public_key());
        let status = json!({ "method": "GET", "path": "/v1/status" });
        let get = |path: &str| client(Request::get(path).body(Body::empty()).unwrap());

        refused(app, "no such endpoint", get("/v1/nowhere"), ErrorCode::NotFound).await;
        let delete = client(Request::delete("/v1/forward").body(Body::empty()).unwrap());
        refused(app, "wrong method", delete, ErrorCode::MethodNotAllowed).await;
        refused(app, "forward that is not JSON", forward(json!("nope")), ErrorCode::Malformed).await;
        refused(
            app,
            "target that is no node id",
            forward(json!({ "target": "nope", "request": status })),
            ErrorCode::Malformed,
        )
        .await;
        let off_site = json!({ "target": ids[0].to_string(), "request": { "path": "http://evil.example/" } });
        refused(app, "a path that leaves the node", forward(off_site), ErrorCode::Malformed).await;
        refused(
            app,
            "a node not in the set",
            forward(json!({ "target": stranger.to_string(), "request": status })),
            ErrorCode::UnknownNode,
        )
        .await;
        refused(
            app,
            "relay to a node not in the set",
            get(&format!("/v1/relay/{stranger}/ohttp-keys")),
            ErrorCode::UnknownNode,
        )
        .await;
        let big = json!({ "target": ids[0].to_string(), "request": { "method": "POST", "path": "/v1/tx", "body_base64": "A".repeat(2 * BODY_MAX) } });
        refused(app, "a body over the limit", forward(big), ErrorCode::BodyTooLarge).await;
        refused(app, "a faucet on a gateway without one", get("/v1/faucet"), ErrorCode::NoFaucet).await;
        refused(
            app,
            "a node that does not answer",
            forward(json!({ "target": ids[0].to_string(), "request": status })),
            ErrorCode::NodeUnavailable,
        )
        .await;
    }

    #[tokio::test]
    async fn a_client_over_its_rate_is_refused_with_rate_limited() {
        let (_, app) = oneshot_gateway(LimitsConfig { rate_per_second: 1, rate_burst: 1, ..LimitsConfig::default() });
        let get = || client(Request::get("/v1/nodes").body(Body::empty()).unwrap());
        let first = app.clone().oneshot(get()).await.unwrap();
        assert_eq!(first.status(), 200);
        refused(&app, "the second request within the second", get(), ErrorCode::RateLimited).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_one_node_at_once_share_link_exchanges_and_one_that_waits_holds_back_none() {
    let unlimited = LimitsConfig { unlimited: vec!["127.0.0.1".parse().unwrap()], ..LimitsConfig::default() };
    let f = fixture(unlimited, false).await;
    let node = |path: &str| format!("{}/v1/node/{}{path}", f.gateway, f.ids[0]);
    // One request the node holds until the test lets it go.
    let held = tokio::spawn(f.http.get(node("/v1/hold")).send());
    while f.held.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Many at once: each gets its own answer while the held one still waits.
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..200 {
        burst.spawn(f.http.get(node("/v1/status")).send());
    }
    while let Some(answer) = burst.join_next().await {
        let answer = answer.unwrap().unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.json::<Value>().await.unwrap()["name"], "node-0");
    }
    assert!(!held.is_finished(), "the held request is still held");
    f.gate.add_permits(1);
    assert_eq!(held.await.unwrap().unwrap().text().await.unwrap(), "released");
    // Fewer exchanges than requests: some went together.
    let metrics = f.http.get(format!("{}/metrics", f.admin)).send().await.unwrap().text().await.unwrap();
    let count = |name: &str| -> u64 {
        let line = metrics.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (exchanges, batches) = (count("vigil_gateway_link_exchanges_total"), count("vigil_gateway_link_batches_total"));
    assert!(batches >= 1, "{metrics}");
    assert!(exchanges < 201, "201 requests in {exchanges} exchanges");
}
