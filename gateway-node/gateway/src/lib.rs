//! The forwarding gateway (`vigil gateway`): clients reach it over TLS by its domain
//! name and name the node they want; it seals each request to that node's published
//! X25519 key and forwards it, or relays requests the client sealed itself.
//!
//! Two modes, both ending at the node's `/v1/sealed` endpoint (Oblivious HTTP):
//! - **Forwarding** (`POST /v1/forward`): the client sends the request in the clear
//!   over TLS; the gateway seals it with HPKE to each target node, forwards it over
//!   pooled connections, opens each sealed answer and returns it. The gateway sees the
//!   content; nodes' signatures inside answers (receipts) pass through untouched, so the
//!   client still checks every answer against the validator set itself.
//! - **Oblivious relay** (`POST /v1/relay/{node}`): the client seals the request to the
//!   node itself (key configuration at `GET /v1/relay/{node}/ohttp-keys`, built from
//!   the followed validator set); the gateway routes bytes it cannot read, and learns
//!   only which node is asked, when, and how much. Standard OHTTP clients work here.
//!
//! Only validators of the set followed from genesis are reachable (see [`registry`]).
//! Operator features: per-client rate limit and in-flight cap, outermost (429 with
//! `Retry-After`; a fan-out costs one token and one in-flight slot per target), a
//! body-size limit enforced as the body streams (413), per-node timeouts, health checks
//! and circuit breaking (503 for that node only), CORS, `/healthz`, `/metrics` on a
//! separate loopback admin listener only, access logs without content, and optional
//! static serving of the web wallet with the security headers a wallet page needs.

pub mod batch;
pub mod certs;
pub mod config;
pub mod faucet;
pub mod link;
pub mod passthrough;
pub mod registry;
pub mod tls;
pub mod upstream;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Extension;
use axum::{Json, Router};
use axum_server::accept::NoDelayAcceptor;
use base64::Engine as _;
use tower_http::cors::{AllowOrigin, CorsLayer};
use vigil_api::{
    ErrorCode, ErrorDetail, FanOutAnswer, FaucetInfo, FaucetRequest, ForwardRequest, Funded, NodeAnswer, NodesAnswer,
    Targets,
};
use vigil_protocol::link::{LinkRefusal, PendingSession};
use vigil_protocol::sealed::{self, PlainRequest, PlainResponse, REQUEST_MEDIA_TYPE, RESPONSE_MEDIA_TYPE};
use vigil_protocol::wallet_config::WalletConfig;
use vigil_protocol::{Genesis, NodeId};

use config::GatewayConfig;
use registry::{Registry, Target, Unavailable};
pub use vigil_server::limits::client_network;
use vigil_server::limits::{ClientLimits, ClientNetwork};
use vigil_server::metrics::Histogram;

/// Content-Security-Policy of served pages: only this origin, wasm allowed to compile,
/// and connections to this origin and the other gateways the deployment trusts
/// and the other chains' gateways it may follow (`wallet_config.origins()`, checked
/// origins: nothing in them can end the directive). Built once at start-up.
pub fn content_security_policy(wallet_config: &WalletConfig) -> String {
    let mut connect = String::from("'self'");
    for origin in wallet_config.origins() {
        connect.push(' ');
        connect.push_str(origin.as_str());
    }
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A gateway error as clients see it: a status and a typed, stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl GatewayError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None }
    }

    pub fn status(&self) -> StatusCode {
        vigil_server::http::status_of(self.code)
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        vigil_server::http::error_response(self.code, &self.message, self.retry_after)
    }
}

impl From<vigil_server::limits::Refusal> for GatewayError {
    fn from(r: vigil_server::limits::Refusal) -> Self {
        Self { retry_after: Some(r.retry_after()), ..Self::new(r.code(), r.message()) }
    }
}

fn unavailable(id: &NodeId, why: Unavailable) -> GatewayError {
    match why {
        Unavailable::Unknown => GatewayError::new(
            ErrorCode::UnknownNode,
            format!("node {id} is not a validator reachable through this gateway; GET /v1/nodes lists them"),
        ),
        Unavailable::CircuitOpen(after) => GatewayError {
            retry_after: Some(after),
            ..GatewayError::new(
                ErrorCode::NodeUnavailable,
                format!("node {id} is not answering; the gateway retries it shortly, other nodes are served"),
            )
        },
    }
}

/// Per-node request counters and latencies.
#[derive(Default)]
struct NodeMetrics {
    requests: AtomicU64,
    /// Link sessions opened (the node confirmed its key).
    sessions: AtomicU64,
    errors: AtomicU64,
    latency: Histogram,
}

#[derive(Default)]
struct GatewayMetrics {
    nodes: BTreeMap<NodeId, NodeMetrics>,
    too_large: AtomicU64,
    bad_requests: AtomicU64,
}

impl GatewayMetrics {
    fn render(&self, limits: &ClientLimits, link: &batch::Counts) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(s, "# HELP vigil_gateway_requests_total Requests forwarded or relayed, per target node.");
        let _ = writeln!(s, "# TYPE vigil_gateway_requests_total counter");
        for (id, m) in &self.nodes {
            let _ = writeln!(s, "vigil_gateway_requests_total{{node=\"{id}\"}} {}", load(&m.requests));
        }
        let _ = writeln!(
            s,
            "# HELP vigil_gateway_link_sessions_total Link sessions opened with a node (it confirmed its registered key)."
        );
        let _ = writeln!(s, "# TYPE vigil_gateway_link_sessions_total counter");
        for (id, m) in &self.nodes {
            let _ = writeln!(s, "vigil_gateway_link_sessions_total{{node=\"{id}\"}} {}", load(&m.sessions));
        }
        let _ = writeln!(
            s,
            "# HELP vigil_gateway_errors_total Requests that got no answer from the node, per target node."
        );
        let _ = writeln!(s, "# TYPE vigil_gateway_errors_total counter");
        for (id, m) in &self.nodes {
            let _ = writeln!(s, "vigil_gateway_errors_total{{node=\"{id}\"}} {}", load(&m.errors));
        }
        let _ = writeln!(s, "# HELP vigil_gateway_latency_ms Time to the node's answer, per target node.");
        let _ = writeln!(s, "# TYPE vigil_gateway_latency_ms histogram");
        for (id, m) in &self.nodes {
            m.latency.render(&mut s, "vigil_gateway_latency_ms", &format!("node=\"{id}\""));
        }
        for (name, help, v) in [
            (
                "vigil_gateway_rate_limited_total",
                "Requests refused by the per-client rate limit.",
                &limits.rate_limited,
            ),
            (
                "vigil_gateway_in_flight_refused_total",
                "Requests refused by the per-client cap on requests in flight.",
                &limits.in_flight_refused,
            ),
            ("vigil_gateway_too_large_total", "Requests refused for their body size.", &self.too_large),
            ("vigil_gateway_bad_requests_total", "Malformed requests.", &self.bad_requests),
            (
                "vigil_gateway_link_exchanges_total",
                "HTTP exchanges with nodes that carried link requests: batches, and requests sent alone.",
                &link.exchanges,
            ),
            (
                "vigil_gateway_link_batches_total",
                "Of those exchanges, batches (a lone request to a node that takes batches is a batch of one).",
                &link.batches,
            ),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", load(v));
        }
        s
    }
}

struct Gateway {
    registry: Registry,
    links: link::Links,
    /// The hop to nodes for forwarded and relayed requests.
    upstream: upstream::Upstream,
    /// Link requests to each node, gathered into batches under load.
    batcher: batch::Batcher,
    /// Everything else (health checks, set changes, the faucet).
    http: reqwest::Client,
    limits: Arc<ClientLimits>,
    metrics: GatewayMetrics,
    node_timeout: Duration,
    body_max_bytes: usize,
    faucet: Option<faucet::Faucet>,
}

/// What came back from one node.
type NodeResult = Result<PlainResponse, GatewayError>;

impl Gateway {
    /// POSTs sealed bytes to a node's `/v1/sealed`; records health and metrics.
    async fn post_sealed(&self, target: &Target, sealed: Vec<u8>) -> Result<(StatusCode, Bytes), GatewayError> {
        self.post_node(target, Hop::Sealed, sealed).await
    }

    /// POSTs `body` to a node; records health and metrics (a request's, or an opening's).
    async fn post_node(&self, target: &Target, hop: Hop, body: Vec<u8>) -> Result<(StatusCode, Bytes), GatewayError> {
        let started = Instant::now();
        let metrics = self.metrics.nodes.get(&target.id);
        if let Some(m) = metrics {
            if !matches!(hop, Hop::LinkOpen) {
                m.requests.fetch_add(1, Ordering::Relaxed);
            }
        }
        let answer = match hop {
            // Alone or in a batch, to `/v1/link/request(s)` (see `batch.rs`).
            Hop::LinkRequest => self.batcher.post(&target.url, body).await,
            Hop::Sealed | Hop::LinkOpen => {
                let (path, media) = match hop {
                    Hop::LinkOpen => ("/v1/link", vigil_protocol::link::OPEN_MEDIA_TYPE),
                    _ => ("/v1/sealed", REQUEST_MEDIA_TYPE),
                };
                match upstream::uri(&target.url, path) {
                    Ok(uri) => self.upstream.post(uri, media, body, self.node_timeout).await,
                    Err(e) => Err(e),
                }
            }
        };
        let elapsed = started.elapsed();
        match answer {
            Ok((status, body)) if !status.is_server_error() => {
                self.registry.record(&target.id, Ok(()));
                if let Some(m) = metrics {
                    m.latency.observe(elapsed.as_millis() as u64);
                }
                Ok((status, body))
            }
            other => {
                let (code, what) = match &other {
                    Ok((s, _)) => (ErrorCode::NodeError, format!("answered {s}")),
                    Err(upstream::HopError::Timeout) => {
                        (ErrorCode::NodeTimeout, format!("did not answer within {} ms", self.node_timeout.as_millis()))
                    }
                    Err(upstream::HopError::TooLarge) => {
                        (ErrorCode::NodeError, format!("answered more than {} bytes", upstream::ANSWER_MAX_BYTES))
                    }
                    Err(upstream::HopError::Unreachable) => {
                        (ErrorCode::NodeUnavailable, "cannot be reached".to_string())
                    }
                };
                self.registry.record(&target.id, Err(what.clone()));
                if let Some(m) = metrics {
                    m.errors.fetch_add(1, Ordering::Relaxed);
                }
                tracing::warn!(node = %target.id.short(), error = %what, "node request failed");
                Err(GatewayError::new(code, format!("node {} {what}", target.id)))
            }
        }
    }

    /// The node's link session: the current one, or one opened now (one opening at a
    /// time per node).
    async fn session(&self, target: &Target) -> Result<Arc<link::Current>, GatewayError> {
        if let Some(current) = self.links.get(&target.id, &target.key) {
            return Ok(current);
        }
        let lock = self.links.opening_lock(&target.id);
        let _one_at_a_time = lock.lock().await;
        if let Some(current) = self.links.get(&target.id, &target.key) {
            return Ok(current);
        }
        let id = target.id;
        let (pending, opening) = PendingSession::new(&target.key, &mut vigil_server::os_rng())
            .map_err(|e| GatewayError::new(ErrorCode::NodeKeyInvalid, format!("node {id}: {e}")))?;
        let (status, body) = self.post_node(target, Hop::LinkOpen, opening).await?;
        if status != StatusCode::OK {
            return Err(refused_by(&id, status, &body));
        }
        let session = pending.confirm(&body).map_err(|e| {
            tracing::warn!(node = %id.short(), "node did not confirm a link session with its registered key");
            GatewayError::new(ErrorCode::NodeNotConfirmed, format!("node {id}: {e}"))
        })?;
        if let Some(m) = self.metrics.nodes.get(&id) {
            m.sessions.fetch_add(1, Ordering::Relaxed);
        }
        Ok(self.links.insert(id, target.key, session))
    }

    /// Seals `request` to node `id` over its link session, forwards it, opens the answer.
    /// A session the node does not know is replaced and the request sent once more; so
    /// is a request whose counter arrived too late for the node's window. Neither was
    /// served: the node refuses both before it opens anything.
    async fn forward_one(&self, id: NodeId, request: &PlainRequest) -> NodeResult {
        let target = self.registry.target(&id).map_err(|e| unavailable(&id, e))?;
        let plain = request
            .to_bhttp()
            .map_err(|e| GatewayError::new(ErrorCode::Malformed, format!("the request cannot be carried: {e}")))?;
        let mut last = None;
        for _attempt in 0..FORWARD_ATTEMPTS {
            let current = self.session(&target).await?;
            let (bytes, counter) = match current.session.seal(&plain) {
                Ok(sealed) => sealed,
                // Other requests used its last counters since it was taken: the next one.
                Err(vigil_protocol::link::LinkError::Exhausted) => {
                    self.links.forget(&id, &current);
                    continue;
                }
                Err(e) => return Err(GatewayError::new(ErrorCode::CannotSeal, e.to_string())),
            };
            let (status, body) = self.post_node(&target, Hop::LinkRequest, bytes).await?;
            if status == StatusCode::OK {
                let answer = current.session.open_answer(counter, &body).map_err(|e| e.to_string());
                return answer
                    .and_then(|plain| PlainResponse::from_bhttp(&plain).map_err(|e| e.to_string()))
                    .map_err(|e| GatewayError::new(ErrorCode::CannotOpenAnswer, format!("answer of node {id}: {e}")));
            }
            match node_refusal(&body) {
                Some(LinkRefusal::UnknownSession) => self.links.forget(&id, &current),
                Some(LinkRefusal::Replayed) => {}
                _ => return Err(refused_by(&id, status, &body)),
            }
            last = Some(refused_by(&id, status, &body));
        }
        Err(last.unwrap_or_else(|| GatewayError::new(ErrorCode::NodeRefused, format!("node {id}"))))
    }
}

/// What a POST to a node carries.
#[derive(Debug, Clone, Copy)]
enum Hop {
    /// A request the client sealed (relay): `/v1/sealed`.
    Sealed,
    /// A link session's opening: `/v1/link`.
    LinkOpen,
    /// A request sealed over a link session: `/v1/link/request`.
    LinkRequest,
}

/// How many times one request is sent over the link (a replaced session, once).
const FORWARD_ATTEMPTS: usize = 2;

/// The link refusal in a node's answer, if it is one.
fn node_refusal(body: &[u8]) -> Option<LinkRefusal> {
    serde_json::from_slice::<vigil_server::http::ErrorBody>(body)
        .ok()
        .and_then(|b| vigil_server::http::link_refusal(b.error.code))
}

fn refused_by(id: &NodeId, status: StatusCode, body: &[u8]) -> GatewayError {
    let detail =
        serde_json::from_slice::<vigil_server::http::ErrorBody>(body).map(|b| b.error.message).unwrap_or_default();
    GatewayError::new(ErrorCode::NodeRefused, format!("node {id} refused the sealed request ({status}): {detail}"))
}

/// Runs a gateway until SIGINT/SIGTERM.
pub async fn run(cfg: GatewayConfig) -> anyhow::Result<()> {
    let genesis: Genesis = vigil_server::read_genesis(&cfg.genesis_file)?;
    let (app, admin, gateway) = app(&cfg, &genesis)?;
    tokio::spawn(health_loop(gateway, cfg.limits.health_interval_ms));
    if let Some(addr) = cfg.admin_listen {
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding the admin listener {addr}"))?;
        tracing::info!(admin = %addr, "gateway admin listener (metrics)");
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, admin).with_graceful_shutdown(vigil_server::shutdown_signal()).await {
                tracing::warn!(error = %e, "admin listener stopped");
            }
        });
    }
    let make = app.into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    {
        let handle = handle.clone();
        tokio::spawn(async move {
            vigil_server::shutdown_signal().await;
            handle.graceful_shutdown(Some(Duration::from_secs(5)));
        });
    }
    match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = tls::server_config(cert, key).await?;
            tracing::info!(listen = %cfg.listen, "gateway listening (https)");
            // TCP_NODELAY as nginx sets it: an answer written in two TLS records must not
            // wait for the client's delayed ACK of the first.
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls).acceptor(NoDelayAcceptor::new());
            axum_server::bind(cfg.listen).acceptor(acceptor).handle(handle).serve(make).await?;
        }
        _ => {
            tracing::warn!(listen = %cfg.listen, "gateway listening on plain http (loopback only)");
            axum_server::bind(cfg.listen).acceptor(NoDelayAcceptor::new()).handle(handle).serve(make).await?;
        }
    }
    tracing::info!("gateway stopped");
    Ok(())
}

/// The gateway's public routes and its admin routes (`/metrics`, `/healthz`: for the
/// loopback admin listener only), without health checks running: for tests that run
/// the gateway in process.
pub fn routers(cfg: &GatewayConfig, genesis: &Genesis) -> anyhow::Result<(Router, Router)> {
    app(cfg, genesis).map(|(public, admin, _)| (public, admin))
}

/// The gateway's public routes, its admin routes (`/metrics`, `/healthz`: for the
/// loopback admin listener only) and its state (without health checks running).
fn app(cfg: &GatewayConfig, genesis: &Genesis) -> anyhow::Result<(Router, Router, Arc<Gateway>)> {
    let registry = Registry::new(genesis, &cfg.nodes, cfg.limits.clone())?;
    let limits = ClientLimits::new(
        vigil_server::limits::Settings {
            rate_per_second: cfg.limits.rate_per_second,
            rate_burst: cfg.limits.rate_burst,
            in_flight_max: cfg.limits.in_flight_per_client_max,
        },
        &cfg.limits.unlimited,
    );
    let metrics = GatewayMetrics {
        nodes: registry.configured().iter().map(|(id, _)| (*id, NodeMetrics::default())).collect(),
        ..GatewayMetrics::default()
    };
    let upstream = upstream::Upstream::default();
    let gateway = Arc::new(Gateway {
        registry,
        links: link::Links::default(),
        batcher: batch::Batcher::new(upstream.clone(), Duration::from_millis(cfg.limits.node_timeout_ms)),
        upstream,
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(8)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .context("building the HTTP client")?,
        limits: limits.clone(),
        metrics,
        node_timeout: Duration::from_millis(cfg.limits.node_timeout_ms),
        body_max_bytes: cfg.limits.body_max_bytes,
        faucet: match &cfg.faucet {
            Some(f) => Some(faucet::Faucet::new(f, genesis.chain_id.clone()).context("starting the faucet")?),
            None => None,
        },
    });

    // The genesis this gateway follows the validator set from, for a web wallet on this
    // origin to pin on first use (an app shipped elsewhere pins its own copy).
    let genesis_json = Json(serde_json::to_value(genesis).context("encoding the genesis")?);
    // The other gateways the served wallet may use: the same list as its CSP allows.
    let wallet_config = WalletConfig { gateways: cfg.wallet_gateways.clone(), other_chains: cfg.other_chains.clone() };
    let csp = HeaderValue::from_str(&content_security_policy(&wallet_config))
        .context("the Content-Security-Policy header")?;
    let api = Router::new()
        .route("/v1/forward", post(forward))
        .route("/v1/node/{node}/{*path}", get(passthrough::passthrough).post(passthrough::passthrough))
        .route("/v1/relay/{node}", post(relay))
        .route("/v1/relay/{node}/ohttp-keys", get(relay_keys))
        .route("/v1/nodes", get(nodes))
        .route(certs::ROOT_PEM_PATH, get(certs::root_pem))
        .route("/v1/faucet", get(faucet_info).post(faucet_fund))
        .route("/v1/genesis", get(move || std::future::ready(genesis_json.clone())))
        .route("/v1/wallet-config", get(move || std::future::ready(Json(wallet_config.clone()))))
        .route("/v1/{*rest}", any(|| async { GatewayError::new(ErrorCode::NotFound, "no such gateway endpoint") }))
        .method_not_allowed_fallback(vigil_server::http::wrong_method)
        .layer(middleware::from_fn_with_state(gateway.clone(), limit_body))
        .layer(DefaultBodyLimit::max(cfg.limits.body_max_bytes));
    // `/metrics` is not here: it is served on the admin listener only.
    let mut router = Router::new().merge(api).route("/healthz", get(|| async { "ok" })).with_state(gateway.clone());
    if let Some(dir) = &cfg.static_dir {
        let index = dir.join("index.html");
        // `cargo xtask build-web` writes `.gz` beside each file; sent when accepted.
        let serve = tower_http::services::ServeDir::new(dir)
            .precompressed_gzip()
            .fallback(tower_http::services::ServeFile::new(index).precompressed_gzip());
        router = router.fallback_service(serve);
    }
    let headers = ResponseHeaders { csp, hsts: cfg.tls_cert.is_some() };
    let router = router.layer(cors(&cfg.cors_origins)).layer(middleware::from_fn_with_state(headers, security_headers));
    // Outermost: a client over its limits costs nothing past this point (but its line in
    // the access log).
    let router = vigil_server::limits::outermost(router, limits);
    let admin = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(gateway.clone());
    Ok((router, admin, gateway))
}

fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER, passthrough::NODE_HEADER]);
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        layer.allow_origin(AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok())))
    }
}

/// The security headers of every answer, fixed at start-up.
#[derive(Clone)]
struct ResponseHeaders {
    csp: HeaderValue,
    /// Over TLS only: a browser that has seen this origin never talks to it in clear.
    hsts: bool,
}

/// Content-Security-Policy of every answer under `/v1/` (data, never a page), whatever
/// its content type: nothing loads or runs in it, nothing frames it, and opened as a
/// document it is sandboxed (an origin of its own, not the wallet's). A node's answer
/// comes through the passthrough on this origin, the web wallet's: under the page's
/// policy (`script-src 'self'`), a Byzantine node's HTML page and its script, both
/// served on this origin, would run as the wallet. The page's policy is also a quarter
/// of a kilobyte every API answer would carry for nothing.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// Headers a wallet page needs; `index.html` (any HTML) is never cached. One
/// middleware for all of them: each layer costs every request.
async fn security_headers(State(set): State<ResponseHeaders>, request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/v1/");
    let mut r = next.run(request).await;
    let h = r.headers_mut();
    let html = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    h.insert(header::CONTENT_SECURITY_POLICY, if api { HeaderValue::from_static(API_CSP) } else { set.csp });
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if set.hsts {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    if html {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    r
}

/// How long a browser keeps to HTTPS for this origin once it has seen it (one year).
const HSTS: &str = "max-age=31536000";

/// The body is read as it streams, at most the limit kept: over it, 413 without
/// reaching a handler (see [`vigil_server::http::read_limited`]).
async fn limit_body(State(gw): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    match vigil_server::http::read_limited(request, gw.body_max_bytes).await {
        Ok(request) => next.run(request).await,
        Err(refused) => {
            if refused.status() == StatusCode::PAYLOAD_TOO_LARGE {
                gw.metrics.too_large.fetch_add(1, Ordering::Relaxed);
            }
            refused.into_response()
        }
    }
}

fn body_or_error(gw: &Gateway, body: Result<Bytes, BytesRejection>) -> Result<Bytes, GatewayError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            gw.metrics.too_large.fetch_add(1, Ordering::Relaxed);
            GatewayError::new(ErrorCode::BodyTooLarge, format!("the request body is too large: {e}"))
        } else {
            GatewayError::new(ErrorCode::BadBody, e.body_text())
        }
    })
}

fn bad_request(gw: &Gateway, message: impl Into<String>) -> GatewayError {
    gw.metrics.bad_requests.fetch_add(1, Ordering::Relaxed);
    GatewayError::new(ErrorCode::Malformed, message)
}

fn parse_id(gw: &Gateway, s: &str) -> Result<NodeId, GatewayError> {
    s.parse().map_err(|_| bad_request(gw, format!("node id `{s}` is not 64 hex digits")))
}

/// The JSON a node answered, embedded in the forward answer as the node wrote it.
type Embedded<'a> = &'a serde_json::value::RawValue;

/// `node`'s answer (or the gateway's error about it) as a forward response carries it.
fn node_answer<'a>(node: NodeId, name: Option<&str>, result: &'a NodeResult) -> NodeAnswer<Embedded<'a>> {
    let name = name.map(str::to_string);
    match result {
        Ok(r) => {
            let content_type = r.header("content-type");
            let json = content_type
                .filter(|c| c.starts_with("application/json"))
                .and_then(|_| serde_json::from_slice::<Embedded>(&r.body).ok());
            NodeAnswer {
                node,
                name,
                status: r.status,
                content_type: content_type.map(str::to_string),
                body_base64: Some(B64.encode(&r.body)),
                json,
                error: None,
            }
        }
        Err(e) => NodeAnswer {
            node,
            name,
            status: e.code.status(),
            content_type: None,
            body_base64: None,
            json: None,
            error: Some(ErrorDetail { code: e.code, message: e.message.clone() }),
        },
    }
}

/// `POST /v1/forward`: `{"target": id | "targets": [ids] | "all", "request": {…}}`.
async fn forward(
    State(gw): State<Arc<Gateway>>,
    Extension(ClientNetwork(client)): Extension<ClientNetwork>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, GatewayError> {
    let body = body_or_error(&gw, body)?;
    let req: ForwardRequest =
        serde_json::from_slice(&body).map_err(|e| bad_request(&gw, format!("not a forward request: {e}")))?;
    let inner = &req.request;
    if !matches!(inner.method.as_str(), "GET" | "POST") {
        return Err(bad_request(&gw, format!("method {} is not forwarded; use GET or POST", inner.method)));
    }
    if !inner.path.starts_with("/v1/") {
        return Err(bad_request(&gw, "request.path must be a node API path starting with /v1/"));
    }
    let content = match &inner.body_base64 {
        Some(b) => B64.decode(b).map_err(|_| bad_request(&gw, "request.body_base64 is not base64"))?,
        None => Vec::new(),
    };
    let plain = PlainRequest::new(&inner.method, &inner.path, inner.content_type.as_deref(), content);
    let snapshot = gw.registry.snapshot();
    let name = |id: &NodeId| snapshot.targets.get(id).map(|t| t.name.as_str());
    match (&req.target, &req.targets) {
        (Some(one), None) => {
            let id = parse_id(&gw, one)?;
            let answer = Ok(gw.forward_one(id, &plain).await?);
            Ok(Json(node_answer(id, name(&id), &answer)).into_response())
        }
        (None, Some(targets)) => {
            let ids: Vec<NodeId> = match targets {
                Targets::All(a) if a == "all" => snapshot.targets.keys().copied().collect(),
                Targets::All(other) => {
                    return Err(bad_request(&gw, format!("targets is a list of ids or \"all\", not `{other}`")))
                }
                Targets::List(list) => {
                    let mut ids = Vec::new();
                    for s in list {
                        let id = parse_id(&gw, s)?;
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                    ids
                }
            };
            if ids.is_empty() {
                return Err(bad_request(&gw, "no target nodes"));
            }
            // One token and one in-flight slot per target: the request itself paid for
            // the first on the way in. Nothing is forwarded unless all are covered.
            let extra = u32::try_from(ids.len() - 1).unwrap_or(u32::MAX);
            gw.limits.charge(client, extra)?;
            let _in_flight = gw.limits.enter(client, extra)?;
            let results = futures::future::join_all(ids.iter().map(|id| gw.forward_one(*id, &plain))).await;
            let answers = ids.iter().zip(&results).map(|(id, r)| node_answer(*id, name(id), r)).collect();
            Ok(Json(FanOutAnswer { answers }).into_response())
        }
        _ => Err(bad_request(&gw, "give exactly one of `target` (one node id) or `targets` (ids or \"all\")")),
    }
}

/// `POST /v1/relay/{node}`: bytes sealed by the client, relayed unread.
async fn relay(
    State(gw): State<Arc<Gateway>>,
    Path(node): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, GatewayError> {
    let body = body_or_error(&gw, body)?;
    let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !media.starts_with(REQUEST_MEDIA_TYPE) {
        return Err(GatewayError::new(
            ErrorCode::UnsupportedMediaType,
            format!("relay carries {REQUEST_MEDIA_TYPE} only"),
        ));
    }
    let id = parse_id(&gw, &node)?;
    let target = gw.registry.target(&id).map_err(|e| unavailable(&id, e))?;
    let (status, answer) = gw.post_sealed(&target, body.to_vec()).await?;
    let content_type = if status == StatusCode::OK { RESPONSE_MEDIA_TYPE } else { "application/json" };
    Ok((status, [(header::CONTENT_TYPE, content_type)], Body::from(answer)).into_response())
}

/// `GET /v1/relay/{node}/ohttp-keys`: the node's key configuration, built from the
/// validator set this gateway followed (clients that trust a set can check the key).
async fn relay_keys(State(gw): State<Arc<Gateway>>, Path(node): Path<String>) -> Result<Response, GatewayError> {
    let id = parse_id(&gw, &node)?;
    let target =
        gw.registry.snapshot().targets.get(&id).cloned().ok_or_else(|| unavailable(&id, Unavailable::Unknown))?;
    Ok(([(header::CONTENT_TYPE, sealed::KEYS_MEDIA_TYPE)], sealed::key_config_list(&target.key)).into_response())
}

/// `GET /v1/nodes`: the reachable nodes, their keys and health.
async fn nodes(State(gw): State<Arc<Gateway>>) -> Json<NodesAnswer> {
    let snapshot = gw.registry.snapshot();
    Json(NodesAnswer {
        validator_set_hash: snapshot.set.hash(),
        set_changes_followed: snapshot.changes as u64,
        nodes: gw.registry.view(),
    })
}

fn no_faucet() -> GatewayError {
    GatewayError::new(ErrorCode::NoFaucet, "this gateway has no faucet (only test networks do)")
}

async fn faucet_info(State(gw): State<Arc<Gateway>>) -> Result<Json<FaucetInfo>, GatewayError> {
    gw.faucet.as_ref().map(|f| Json(f.describe())).ok_or_else(no_faucet)
}

async fn faucet_fund(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Result<Json<FaucetRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Funded>, GatewayError> {
    let faucet = gw.faucet.as_ref().ok_or_else(no_faucet)?;
    let Json(req) = body.map_err(|e| GatewayError::new(ErrorCode::Malformed, e.body_text()))?;
    let nodes: Vec<String> = gw.registry.configured().iter().map(|(_, url)| url.clone()).collect();
    faucet.fund(&gw.http, &nodes, &req.address, client.ip()).await.map(Json)
}

async fn metrics_text(State(gw): State<Arc<Gateway>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], gw.metrics.render(&gw.limits, gw.batcher.counts()))
        .into_response()
}

/// Health checks and registry refreshes, until the process ends.
async fn health_loop(gw: Arc<Gateway>, interval_ms: u64) {
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms.max(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let checks = gw.registry.configured().iter().map(|(id, url)| {
            let gw = gw.clone();
            let (id, url) = (*id, url.clone());
            async move {
                let r = gw.http.get(format!("{url}/v1/validators")).timeout(Duration::from_secs(2)).send().await;
                let body = match r {
                    Ok(r) if r.status().is_success() => {
                        r.json::<vigil_api::ValidatorsProof>().await.map_err(|e| format!("health check: {e}"))
                    }
                    Ok(r) => Err(format!("health check answered {}", r.status())),
                    Err(e) => Err(format!("health check failed: {}", if e.is_timeout() { "timeout" } else { "unreachable" })),
                };
                match body {
                    Ok(proof) => {
                        gw.registry.record(&id, Ok(()));
                        if let Err(e) = gw.registry.offer_changes(&proof.changes_bcs.0) {
                            tracing::warn!(node = %id.short(), error = %e, "refused set changes that do not extend the chain followed");
                        }
                    }
                    Err(e) => gw.registry.record(&id, Err(e)),
                }
            }
        });
        futures::future::join_all(checks).await;
        gw.limits.retain_recent();
    }
}
