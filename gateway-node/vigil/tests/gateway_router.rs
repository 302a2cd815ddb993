//! The gateway's public routes in process (`oneshot`, no socket): each refusal it makes
//! itself comes in the one error document, with its code and that code's HTTP status.
//! Its nodes listen nowhere, so what a node would answer never enters.

use std::net::SocketAddr;

use axum::body::{to_bytes, Body};
use axum::extract::ConnectInfo;
use axum::http::{header, Request};
use axum::Router;
use serde_json::json;
use tower::ServiceExt;
use vigil_api::{ErrorBody, ErrorCode};
use vigil_gateway::config::{GatewayConfig, LimitsConfig, NodeEntry};
use vigil_gateway::routers;
use vigil_protocol::{
    ChainId, ConsensusMode, EncryptionKey, Genesis, NodeId, P2pKey, SecretKey, ValidatorInfo, ValidatorSet,
};

const BODY_MAX: usize = 2_000;

/// A gateway in front of two nodes that listen nowhere (ids, then its router).
fn gateway(limits: LimitsConfig) -> (Vec<NodeId>, Router) {
    let infos: Vec<ValidatorInfo> = (1..=2u8)
        .map(|i| {
            let k = SecretKey::from_seed([i; 32]);
            ValidatorInfo::new(format!("node-{i}"), k.public_key(), EncryptionKey([i; 32]), P2pKey([0x80 | i; 32]))
        })
        .collect();
    let ids: Vec<NodeId> = infos.iter().map(|v| v.id).collect();
    let genesis = Genesis {
        chain_id: ChainId::new("vigil-test").unwrap(),
        validators: ValidatorSet::new(infos).unwrap(),
        accounts: vec![],
        mode: ConsensusMode::Fast,
        time_ms: 0,
        vault: Default::default(),
    };
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let cfg = GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        genesis_file: "unused".into(),
        tls_cert: None,
        tls_key: None,
        plain_http_on_loopback: true,
        static_dir: None,
        admin_listen: None,
        cors_origins: vec![],
        wallet_gateways: vec![],
        limits,
        faucet: None,
        nodes: ids.iter().map(|id| NodeEntry { id: id.to_string(), url: format!("http://{nowhere}") }).collect(),
    };
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
    let (ids, app) = gateway(limits);
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
    let (_, app) = gateway(LimitsConfig { rate_per_second: 1, rate_burst: 1, ..LimitsConfig::default() });
    let get = || client(Request::get("/v1/nodes").body(Body::empty()).unwrap());
    let first = app.clone().oneshot(get()).await.unwrap();
    assert_eq!(first.status(), 200);
    refused(&app, "the second request within the second", get(), ErrorCode::RateLimited).await;
}
