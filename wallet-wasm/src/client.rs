//! The gateway client: how the wallet reaches nodes. Forwarding (`/v1/forward`, one
//! node or fan-out) and oblivious relay (`/v1/relay/{node}`, sealed here with HPKE to
//! the node's key from the trusted validator set), over a list of gateways with
//! failover, timeouts, retries with backoff on idempotent calls, and `Retry-After`.
//!
//! Failover is per node too: a node that stays silent through one gateway (the gateway
//! answers for it `NODE_UNAVAILABLE`, `NODE_TIMEOUT`, `NODE_ERROR`, or says it does not
//! route to it) is asked through the next, and the client remembers, for this session,
//! which gateways are down and through which a node was silent, so that later calls go
//! through one that worked first. A gateway that drops a node's traffic is routed around
//! as long as another gateway reaches it.
//!
//! The HTTP itself is a [`Platform`] (fetch in the browser and in Node; reqwest in
//! native tests), so this logic is the same everywhere and tested natively.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use vigil_api::{
    ErrorBody, ErrorCode, ErrorDetail, FanOutAnswer, ForwardRequest, InnerRequest, NodeAnswer as Forwarded, Targets,
};
use vigil_protocol::sealed::{self, Opener, PlainRequest, PlainResponse, REQUEST_MEDIA_TYPE};
use vigil_protocol::{EncryptionKey, NodeId};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One HTTP exchange, as simple as fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// `Retry-After` in seconds, if the server sent one.
    pub retry_after_s: Option<u64>,
    pub body: Vec<u8>,
}

/// Why an exchange produced no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("cannot reach {0}")]
    Unreachable(String),
}

pub use crate::platform::Platform;

/// Why a gateway call failed, with a stable code for JS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("{code}: {message}")]
    Gateway { status: u16, code: String, message: String },
    #[error("no gateway could be reached ({0})")]
    AllGatewaysDown(String),
    #[error("the answer could not be read: {0}")]
    BadAnswer(String),
    #[error("sealing failed: {0}")]
    Seal(#[from] sealed::SealError),
}

impl ClientError {
    /// The stable code (`UNKNOWN_NODE`, `RATE_LIMITED`, `NODE_UNAVAILABLE`, …).
    pub fn code(&self) -> &str {
        match self {
            ClientError::Gateway { code, .. } => code,
            ClientError::AllGatewaysDown(_) => "GATEWAYS_DOWN",
            ClientError::BadAnswer(_) => "BAD_ANSWER",
            ClientError::Seal(_) => "SEAL",
        }
    }
}

/// A node's answer through the gateway: its HTTP status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAnswer {
    pub node: NodeId,
    pub result: Result<PlainResponse, ClientError>,
}

impl NodeAnswer {
    /// The body read as `T`, if it is one.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.result.as_ref().ok().and_then(|r| serde_json::from_slice(&r.body).ok())
    }
}

/// Settings of a [`GatewayClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Gateway base URLs, tried in order (failover to the next when one is down).
    pub gateways: Vec<String>,
    pub timeout_ms: u64,
    /// Attempts for idempotent calls (reads), with exponential backoff between them.
    pub attempts: u32,
    pub backoff_ms: u64,
    /// Longest `Retry-After` honoured before giving up with `RATE_LIMITED`.
    pub retry_after_max_s: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self { gateways: vec![], timeout_ms: 20_000, attempts: 3, backoff_ms: 200, retry_after_max_s: 10 }
    }
}

pub struct GatewayClient<T: Platform> {
    cfg: ClientConfig,
    transport: T,
    routes: RefCell<Routes>,
}

/// What this session learned about routes, so that calls go through a gateway that
/// worked first. Gateways are indices into [`ClientConfig::gateways`]; nodes are those
/// the wallet calls (validators of the set it follows), so both are bounded.
#[derive(Debug, Default)]
struct Routes {
    /// Gateways that could not be reached, or failed themselves, at their last try.
    down: BTreeSet<usize>,
    /// For each node, the gateways through which it last stayed silent (timed out,
    /// unreachable, failing); an answer through one takes it off. Only the order of
    /// gateways follows it: a node down now may be back at the next call.
    silent: BTreeMap<NodeId, BTreeSet<usize>>,
    /// For each node, the gateways that say they do not route to it (`UNKNOWN_NODE`, or
    /// their node list); an answer through one, or its list, takes it off. A node no
    /// gateway routes to is not sent anything.
    unrouted: BTreeMap<NodeId, BTreeSet<usize>>,
}

/// Adds (`on`) or removes gateway `i` from `node`'s set in `map`, keeping no empty set.
fn mark(map: &mut BTreeMap<NodeId, BTreeSet<usize>>, node: &NodeId, i: usize, on: bool) {
    let through = map.entry(*node).or_default();
    if on {
        through.insert(i);
    } else {
        through.remove(&i);
    }
    if through.is_empty() {
        map.remove(node);
    }
}

/// How one gateway's answer to a call reads.
enum Reply {
    /// The gateway failed itself (unreachable, or 502/503/504 not about a node).
    GatewayFailed(String),
    /// The gateway is fine but the node gave no answer through it; `unrouted`: the
    /// gateway says it does not route to the node at all.
    NodeSilent {
        response: HttpResponse,
        unrouted: bool,
    },
    Answer(HttpResponse),
}

/// The error document (`vigil_api::ErrorBody`) of a body, if it is one.
pub fn error_of(body: &[u8]) -> Option<ErrorDetail> {
    serde_json::from_slice::<ErrorBody>(body).ok().map(|b| b.error)
}

/// The code of a body's error document, if it is one.
pub fn error_code_of(body: &[u8]) -> Option<ErrorCode> {
    error_of(body).map(|e| e.code)
}

/// The code and message of a body's error document, or the defaults if it is none.
pub fn error_fields(body: &[u8], default_code: &str, default_message: &str) -> (String, String) {
    match error_of(body) {
        Some(e) => (e.code.as_str().to_string(), e.message),
        None => (default_code.to_string(), default_message.to_string()),
    }
}

fn gateway_error(status: u16, body: &[u8]) -> ClientError {
    let (code, message) = error_fields(body, "GATEWAY_ERROR", "the gateway refused the request");
    ClientError::Gateway { status, code, message }
}

/// The embedded JSON copy of a node's body in a forward answer: skipped, the body is
/// read from `body_base64`.
type Skipped = serde::de::IgnoredAny;

/// One node's answer in a forward response: its response, or the gateway's error about it.
fn answer_of(a: Forwarded<Skipped>) -> NodeAnswer {
    let result = match (a.error, a.body_base64) {
        (Some(e), _) => {
            Err(ClientError::Gateway { status: a.status, code: e.code.as_str().to_string(), message: e.message })
        }
        (None, body) => B64
            .decode(body.unwrap_or_default())
            .map_err(|_| ClientError::BadAnswer("body_base64 is not base64".into()))
            .map(|body| {
                let headers = a.content_type.map(|c| vec![("content-type".to_string(), c)]).unwrap_or_default();
                PlainResponse { status: a.status, headers, body }
            }),
    };
    NodeAnswer { node: a.node, result }
}

fn inner_request(request: &PlainRequest) -> InnerRequest {
    InnerRequest {
        method: request.method.clone(),
        path: request.path.clone(),
        content_type: request.header("content-type").map(str::to_string),
        body_base64: (!request.body.is_empty()).then(|| B64.encode(&request.body)),
    }
}

impl<T: Platform> GatewayClient<T> {
    /// The platform this client runs on (its clock and generator too).
    pub fn platform(&self) -> &T {
        &self.transport
    }

    pub fn new(cfg: ClientConfig, transport: T) -> Self {
        Self { cfg, transport, routes: RefCell::default() }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// Waits on the platform's timer.
    pub async fn sleep(&self, ms: u64) {
        self.transport.sleep(ms).await;
    }

    /// The gateways to try for `node`, in order: those that answered for it (and are
    /// up) first, in configured order; then the rest, in configured order.
    fn order(&self, node: Option<&NodeId>) -> Vec<usize> {
        let routes = self.routes.borrow();
        let through = |map: &BTreeMap<NodeId, BTreeSet<usize>>, i: &usize| {
            node.and_then(|n| map.get(n)).is_some_and(|s| s.contains(i))
        };
        let failed = |i: &usize| routes.down.contains(i) || through(&routes.silent, i) || through(&routes.unrouted, i);
        let (mut order, last): (Vec<usize>, Vec<usize>) = (0..self.cfg.gateways.len()).partition(|i| !failed(i));
        order.extend(last);
        order
    }

    /// Whether some configured gateway may route to `node`: one that no gateway routes
    /// to (jailed, or down as their node lists say) is not worth a request until one
    /// routes it again.
    pub fn reachable(&self, node: &NodeId) -> bool {
        let routes = self.routes.borrow();
        let unrouted = routes.unrouted.get(node).map_or(0, BTreeSet::len);
        unrouted < self.cfg.gateways.len()
    }

    /// What gateway `gateway`'s node list (`GET /v1/nodes`) says: of `nodes`, it routes
    /// to `routed` (and finds them healthy). Only the order of calls, and whether a node
    /// no gateway routes to is sent anything, follow it.
    pub fn gateway_routes(&self, gateway: usize, nodes: &[NodeId], routed: &[NodeId]) {
        let mut routes = self.routes.borrow_mut();
        for node in nodes {
            mark(&mut routes.unrouted, node, gateway, !routed.contains(node));
        }
    }

    /// One exchange with gateway `i` (a `429` waited out once, for its bounded
    /// `Retry-After`), read as a [`Reply`] and remembered in the routes.
    async fn exchange(
        &self,
        i: usize,
        node: Option<&NodeId>,
        path: &str,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Result<Reply, ClientError> {
        let gateway = &self.cfg.gateways[i];
        let request = HttpRequest {
            method: "POST",
            url: format!("{}{path}", gateway.trim_end_matches('/')),
            content_type: Some(content_type),
            body,
            timeout_ms: self.cfg.timeout_ms,
        };
        let mut response = self.transport.send(request.clone()).await;
        if let Ok(r) = &response {
            if r.status == 429 {
                let wait = r.retry_after_s.unwrap_or(1);
                if wait > self.cfg.retry_after_max_s {
                    return Err(gateway_error(r.status, &r.body));
                }
                self.transport.sleep(wait * 1000).await;
                response = self.transport.send(request).await;
            }
        }
        let reply = match response {
            Err(e) => Reply::GatewayFailed(format!("{gateway}: {e}")),
            Ok(r) if matches!(r.status, 502..=504) && node_error_code(&r.body).is_none() => {
                Reply::GatewayFailed(format!("{gateway} answered {}", r.status))
            }
            Ok(r) if node.is_some() => match node_silence(&r) {
                Some(unrouted) => Reply::NodeSilent { response: r, unrouted },
                None => Reply::Answer(r),
            },
            Ok(r) => Reply::Answer(r),
        };
        let mut routes = self.routes.borrow_mut();
        if let Reply::GatewayFailed(_) = reply {
            routes.down.insert(i);
        } else {
            routes.down.remove(&i);
        }
        if let Some(node) = node {
            match &reply {
                Reply::NodeSilent { unrouted: true, .. } => mark(&mut routes.unrouted, node, i, true),
                Reply::NodeSilent { unrouted: false, .. } => mark(&mut routes.silent, node, i, true),
                Reply::Answer(_) => {
                    mark(&mut routes.silent, node, i, false);
                    mark(&mut routes.unrouted, node, i, false);
                }
                Reply::GatewayFailed(_) => {}
            }
        }
        Ok(reply)
    }

    /// Sends `path` to the gateways in turn, with the body `make` builds for each (a
    /// sealed request is sealed afresh per gateway, so two gateways never see the same
    /// bytes): a gateway that cannot be reached (or fails itself) passes the call to the
    /// next, and so does one through which `node` stays silent; `429` is waited out for
    /// its `Retry-After` (bounded); idempotent calls are retried with backoff while no
    /// gateway answers. When the node is silent through every gateway that answered,
    /// that answer is returned (the node is down, not the gateways).
    async fn call<O>(
        &self,
        node: Option<&NodeId>,
        path: &str,
        content_type: &'static str,
        idempotent: bool,
        make: impl Fn() -> Result<(Vec<u8>, O), ClientError>,
    ) -> Result<(HttpResponse, O), ClientError> {
        if self.cfg.gateways.is_empty() {
            return Err(ClientError::AllGatewaysDown("no gateway configured".into()));
        }
        let attempts = if idempotent { self.cfg.attempts.max(1) } else { 1 };
        let mut last = String::new();
        for attempt in 0..attempts {
            if attempt > 0 {
                self.transport.sleep(self.cfg.backoff_ms.saturating_mul(1 << (attempt - 1).min(6))).await;
            }
            let mut silent = None;
            for i in self.order(node) {
                let (body, opener) = make()?;
                match self.exchange(i, node, path, content_type, body).await? {
                    Reply::Answer(r) => return Ok((r, opener)),
                    Reply::NodeSilent { response, .. } => silent = Some((response, opener)),
                    Reply::GatewayFailed(why) => last = why,
                }
            }
            if let Some(answer) = silent {
                return Ok(answer);
            }
        }
        Err(ClientError::AllGatewaysDown(last))
    }

    /// POSTs a forward request and reads the gateway's answer as `A`. `node`: the one
    /// target (its gateway is preferred), if there is one.
    async fn post_forward<A: serde::de::DeserializeOwned>(
        &self,
        node: Option<&NodeId>,
        forward: &ForwardRequest,
    ) -> Result<A, ClientError> {
        let idempotent = forward.request.method == "GET";
        let bytes = serde_json::to_vec(forward).map_err(|e| ClientError::BadAnswer(e.to_string()))?;
        let (r, ()) =
            self.call(node, "/v1/forward", "application/json", idempotent, || Ok((bytes.clone(), ()))).await?;
        if r.status != 200 {
            return Err(gateway_error(r.status, &r.body));
        }
        serde_json::from_slice(&r.body).map_err(|e| ClientError::BadAnswer(e.to_string()))
    }

    /// Forwards `request` to one node (the gateway seals it to that node).
    pub async fn forward(&self, node: &NodeId, request: &PlainRequest) -> Result<PlainResponse, ClientError> {
        let forward = ForwardRequest { target: Some(node.to_string()), targets: None, request: inner_request(request) };
        answer_of(self.post_forward(Some(node), &forward).await?).result
    }

    /// Forwards `request` to several nodes at once; each node's answer or error.
    pub async fn fan_out(&self, nodes: &[NodeId], request: &PlainRequest) -> Result<Vec<NodeAnswer>, ClientError> {
        let targets = Targets::List(nodes.iter().map(ToString::to_string).collect());
        let forward = ForwardRequest { target: None, targets: Some(targets), request: inner_request(request) };
        let answer: FanOutAnswer<Skipped> = self.post_forward(None, &forward).await?;
        Ok(answer.answers.into_iter().map(answer_of).collect())
    }

    /// Oblivious mode: seals `request` here to `key` (the node's published key) and has
    /// the gateway relay bytes it cannot read.
    pub async fn relay(
        &self,
        node: &NodeId,
        key: &EncryptionKey,
        request: &PlainRequest,
    ) -> Result<PlainResponse, ClientError> {
        let (r, opener) = self
            .call(Some(node), &format!("/v1/relay/{node}"), REQUEST_MEDIA_TYPE, request.method == "GET", || {
                Ok(sealed::seal(key, request)?)
            })
            .await?;
        open_relayed(&r, opener)
    }

    /// [`relay`](Self::relay) through every configured gateway at once, each copy
    /// sealed on its own: what must arrive by more than one route (evidence). Each
    /// gateway's result, in configured order.
    pub async fn relay_everywhere(
        &self,
        node: &NodeId,
        key: &EncryptionKey,
        request: &PlainRequest,
    ) -> Vec<Result<PlainResponse, ClientError>> {
        let path = format!("/v1/relay/{node}");
        let sends = (0..self.cfg.gateways.len()).map(|i| {
            let path = &path;
            async move {
                let (bytes, opener) = sealed::seal(key, request)?;
                match self.exchange(i, Some(node), path, REQUEST_MEDIA_TYPE, bytes).await? {
                    Reply::Answer(r) | Reply::NodeSilent { response: r, .. } => open_relayed(&r, opener),
                    Reply::GatewayFailed(why) => Err(ClientError::AllGatewaysDown(why)),
                }
            }
        });
        futures_util::future::join_all(sends).await
    }

    /// How many gateways are configured.
    pub fn gateway_count(&self) -> usize {
        self.cfg.gateways.len()
    }
}

/// A relayed answer: the node's sealed answer opened, or the gateway's refusal.
fn open_relayed(r: &HttpResponse, opener: Opener) -> Result<PlainResponse, ClientError> {
    if r.status != 200 {
        return Err(gateway_error(r.status, &r.body));
    }
    opener.open(&r.body).map_err(ClientError::Seal)
}

/// The node error code of a gateway's error body, if it names one (the gateway is fine;
/// that node is not).
fn node_error_code(body: &[u8]) -> Option<ErrorCode> {
    error_code_of(body).filter(|c| {
        matches!(c, ErrorCode::NodeUnavailable | ErrorCode::NodeTimeout | ErrorCode::NodeError | ErrorCode::NodeRefused)
    })
}

/// Whether the gateway says the node gave no answer through it: `Some(false)` if the
/// node could not be reached, timed out or failed (`NODE_UNAVAILABLE`, `NODE_TIMEOUT`,
/// `NODE_ERROR`), `Some(true)` if the gateway does not route to it (`UNKNOWN_NODE`).
/// Another gateway may reach it. A node that answered, even with a refusal
/// (`NODE_REFUSED`), is not silent: `None`.
fn node_silence(r: &HttpResponse) -> Option<bool> {
    match (r.status, node_error_code(&r.body)) {
        (502..=504, Some(ErrorCode::NodeUnavailable | ErrorCode::NodeTimeout | ErrorCode::NodeError)) => Some(false),
        (404, _) if error_code_of(&r.body) == Some(ErrorCode::UnknownNode) => Some(true),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use serde_json::{json, Value};

    use super::*;

    /// A scripted transport: answers in order, records requests and sleeps.
    #[derive(Default)]
    pub(crate) struct Script {
        pub answers: RefCell<VecDeque<Result<HttpResponse, TransportError>>>,
        pub requests: RefCell<Vec<HttpRequest>>,
        pub slept: RefCell<Vec<u64>>,
    }

    impl Platform for &Script {
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
            self.requests.borrow_mut().push(request);
            self.answers.borrow_mut().pop_front().unwrap_or(Err(TransportError::Unreachable("script ended".into())))
        }
        async fn sleep(&self, ms: u64) {
            self.slept.borrow_mut().push(ms);
        }
        fn now_ms(&self) -> u64 {
            1_700_000_000_000
        }
        fn fill_random(&self, out: &mut [u8]) {
            out.fill(0x5a);
        }
    }

    pub(crate) fn ok(status: u16, body: Value) -> Result<HttpResponse, TransportError> {
        Ok(HttpResponse { status, retry_after_s: None, body: body.to_string().into_bytes() })
    }

    fn node() -> NodeId {
        NodeId::from_public_key(&vigil_protocol::SecretKey::from_seed([1; 32]).public_key())
    }

    /// The gateway's answer to a forward: `node` answered `status` with `body`.
    pub(crate) fn forwarded(node: &NodeId, status: u16, body: &Value) -> Result<HttpResponse, TransportError> {
        let inner = body.to_string();
        ok(
            200,
            json!({ "node": node.to_string(), "status": status, "content_type": "application/json", "body_base64": B64.encode(inner) }),
        )
    }

    pub(crate) fn answer() -> Value {
        json!({ "node": node().to_string(), "status": 200, "content_type": "application/json", "body_base64": B64.encode(b"{\"height\":3}") })
    }

    pub(crate) fn client(script: &Script) -> GatewayClient<&Script> {
        let cfg = ClientConfig {
            gateways: vec!["https://a.example".into(), "https://b.example/".into()],
            ..ClientConfig::default()
        };
        GatewayClient::new(cfg, script)
    }

    pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
        // The scripted transport never pends.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    fn urls(script: &Script) -> Vec<String> {
        script.requests.borrow().iter().map(|r| r.url.clone()).collect()
    }

    #[test]
    fn a_down_gateway_fails_over_to_the_next_and_is_asked_last_afterwards() {
        let script = Script::default();
        script.answers.borrow_mut().extend([
            Err(TransportError::Unreachable("a".into())),
            ok(200, answer()),
            ok(200, answer()),
        ]);
        let c = client(&script);
        let r = block_on(c.forward(&node(), &PlainRequest::new("GET", "/v1/status", None, vec![]))).unwrap();
        assert_eq!(r.body, b"{\"height\":3}");
        block_on(c.forward(&node(), &PlainRequest::new("GET", "/v1/status", None, vec![]))).unwrap();
        assert_eq!(
            urls(&script),
            ["https://a.example/v1/forward", "https://b.example/v1/forward", "https://b.example/v1/forward"]
        );
    }

    #[test]
    fn retry_after_is_honoured_and_a_node_silent_through_every_gateway_is_its_error() {
        let script = Script::default();
        let down = json!({ "error": { "code": "NODE_UNAVAILABLE", "message": "down" } });
        script.answers.borrow_mut().extend([
            Ok(HttpResponse { status: 429, retry_after_s: Some(2), body: b"{}".to_vec() }),
            ok(200, answer()),
            ok(503, down.clone()),
            ok(503, down),
        ]);
        let c = client(&script);
        block_on(c.forward(&node(), &PlainRequest::new("GET", "/v1/status", None, vec![]))).unwrap();
        assert_eq!(*script.slept.borrow(), [2000]);
        let e = block_on(c.forward(&node(), &PlainRequest::new("POST", "/v1/tx", None, vec![1]))).unwrap_err();
        assert_eq!(e.code(), "NODE_UNAVAILABLE", "the node is down, not the gateways");
        assert_eq!(urls(&script)[2..], ["https://a.example/v1/forward", "https://b.example/v1/forward"]);
        assert!(c.reachable(&node()), "a node down now is asked again at the next call");
        // One that no gateway routes to is not, until a gateway's list routes it again.
        for gateway in [0, 1] {
            c.gateway_routes(gateway, &[node()], &[]);
        }
        assert!(!c.reachable(&node()));
        c.gateway_routes(1, &[node()], &[node()]);
        assert!(c.reachable(&node()));
    }

    /// Issue 14, finding 8: a gateway through which a node stays silent is routed around.
    #[test]
    fn a_node_silent_through_one_gateway_is_asked_through_the_next_which_is_then_asked_first() {
        let script = Script::default();
        let other = NodeId::from_public_key(&vigil_protocol::SecretKey::from_seed([2; 32]).public_key());
        let timeout = json!({ "error": { "code": "NODE_TIMEOUT", "message": "slow" } });
        let unknown = json!({ "error": { "code": "UNKNOWN_NODE", "message": "not routed here" } });
        script.answers.borrow_mut().extend([
            ok(504, timeout),
            ok(200, answer()),
            ok(200, answer()),
            ok(404, unknown),
            ok(200, answer()),
        ]);
        let c = client(&script);
        let write = PlainRequest::new("POST", "/v1/tx", None, vec![1]);
        let r = block_on(c.forward(&node(), &write)).unwrap();
        assert_eq!(r.body, b"{\"height\":3}", "the answer through the second gateway");
        block_on(c.forward(&node(), &write)).unwrap();
        // Another node is not affected, but a gateway that says it does not route to a
        // validator is routed around like one through which it is silent.
        block_on(c.forward(&other, &write)).unwrap();
        let [a, b] = ["https://a.example/v1/forward", "https://b.example/v1/forward"];
        assert_eq!(urls(&script), [a, b, b, a, b]);
        assert!(script.answers.borrow().is_empty());
    }

    #[test]
    fn reads_are_retried_with_backoff_and_writes_are_not() {
        let script = Script::default();
        let c = client(&script);
        let e = block_on(c.forward(&node(), &PlainRequest::new("POST", "/v1/tx", None, vec![1]))).unwrap_err();
        assert_eq!(e.code(), "GATEWAYS_DOWN");
        assert_eq!(script.requests.borrow().len(), 2, "one try per gateway for a write");
        script.requests.borrow_mut().clear();
        let e = block_on(c.forward(&node(), &PlainRequest::new("GET", "/v1/status", None, vec![]))).unwrap_err();
        assert_eq!(e.code(), "GATEWAYS_DOWN");
        assert_eq!(script.requests.borrow().len(), 6);
        assert_eq!(*script.slept.borrow(), [200, 400]);
    }

    #[test]
    fn fan_out_keeps_each_nodes_answer_or_error() {
        let script = Script::default();
        let other = NodeId::from_public_key(&vigil_protocol::SecretKey::from_seed([2; 32]).public_key());
        script.answers.borrow_mut().push_back(ok(
            200,
            json!({ "answers": [answer(), { "node": other.to_string(), "status": 504, "error": { "code": "NODE_TIMEOUT", "message": "slow" } }] }),
        ));
        let c = client(&script);
        let answers =
            block_on(c.fan_out(&[node(), other], &PlainRequest::new("GET", "/v1/status", None, vec![]))).unwrap();
        assert_eq!(answers[0].parse::<Value>().unwrap()["height"], 3);
        assert_eq!(answers[1].result.as_ref().unwrap_err().code(), "NODE_TIMEOUT");
    }
}
