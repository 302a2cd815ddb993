//! HTTP helpers shared by the node API and the gateway: the error body both answer
//! with, the codes of the conditions both refuse, a request body read under a limit
//! as it streams, and the access log.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use vigil_protocol::link::LinkRefusal;

/// Most bytes of an oversized body read and thrown away (never kept) before the 413 is
/// sent, so that a client still sending sees the answer instead of a reset connection.
pub const OVERSIZED_DRAIN_MAX_BYTES: usize = 1024 * 1024;
/// Longest time spent throwing an oversized body away.
pub const OVERSIZED_DRAIN_MAX: Duration = Duration::from_secs(2);

pub use vigil_api::{ErrorBody, ErrorCode, ErrorDetail};

/// The HTTP status of `code`.
pub fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The [`ErrorBody`] with `code`'s status, and `Retry-After` (whole seconds, at least 1)
/// when given.
pub fn error_response(code: ErrorCode, message: &str, retry_after: Option<Duration>) -> Response {
    let mut r = (status_of(code), Json(ErrorBody::new(code, message))).into_response();
    if let Some(after) = retry_after {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

/// The answer to a path no route serves (a router's `fallback`).
pub async fn no_route() -> Response {
    error_response(ErrorCode::NotFound, "no such route; GET /v1/openapi.json lists the node's routes", None)
}

/// The answer to a route asked with a method it does not take (a router's
/// `method_not_allowed_fallback`).
pub async fn wrong_method() -> Response {
    error_response(ErrorCode::MethodNotAllowed, "this route takes another method (see its `Allow` header)", None)
}

/// The forwarding link's refusals (`vigil_protocol::link`) as the API's codes: the node
/// answers with these, and the gateway reads them back to know what to do.
pub fn link_refusal_code(why: LinkRefusal) -> ErrorCode {
    match why {
        LinkRefusal::UnknownSession => ErrorCode::UnknownSession,
        LinkRefusal::Replayed => ErrorCode::Replayed,
        LinkRefusal::CannotOpen => ErrorCode::CannotOpen,
        LinkRefusal::BadOpening => ErrorCode::BadOpening,
    }
}

/// The link refusal a node's error code stands for, if it is one.
pub fn link_refusal(code: ErrorCode) -> Option<LinkRefusal> {
    LinkRefusal::ALL.into_iter().find(|why| link_refusal_code(*why) == code)
}

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyRefusal {
    /// Over the limit: announced by `Content-Length` (`announced`), or found so as it
    /// streamed (chunked, or a `Content-Length` that lied).
    #[error("the request body is over the limit of {limit} bytes{}", announced.map(|n| format!(" ({n} bytes announced)")).unwrap_or_default())]
    TooLarge { limit: usize, announced: Option<u64> },
    #[error("the request body could not be read: {0}")]
    Broken(String),
}

impl BodyRefusal {
    pub fn status(&self) -> StatusCode {
        status_of(self.code())
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge { .. } => ErrorCode::BodyTooLarge,
            Self::Broken(_) => ErrorCode::BadBody,
        }
    }
}

impl IntoResponse for BodyRefusal {
    fn into_response(self) -> Response {
        error_response(self.code(), &self.to_string(), None)
    }
}

/// Reads the body of `request` as it streams, keeping at most `limit` bytes: a body
/// announced over the limit is refused before a byte is kept, one that grows over it
/// (whatever `Content-Length` said, chunked or not) as soon as it does. What was kept is
/// dropped and the rest thrown away as it arrives, bounded by
/// [`OVERSIZED_DRAIN_MAX_BYTES`] and [`OVERSIZED_DRAIN_MAX`]. A body within the limit
/// comes back in the request, whole, for the handler to take.
pub async fn read_limited(request: Request, limit: usize) -> Result<Request, BodyRefusal> {
    let announced =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let (parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    if announced.is_some_and(|n| n > limit as u64) {
        drain(stream).await;
        return Err(BodyRefusal::TooLarge { limit, announced });
    }
    let mut kept: Vec<u8> = Vec::new();
    while let Some(frame) = stream.next().await {
        let data: Bytes = frame.map_err(|e| BodyRefusal::Broken(e.to_string()))?;
        if kept.len() + data.len() > limit {
            drop(kept);
            drop(data);
            drain(stream).await;
            return Err(BodyRefusal::TooLarge { limit, announced });
        }
        kept.extend_from_slice(&data);
    }
    Ok(Request::from_parts(parts, Body::from(kept)))
}

/// Middleware: the body read under `limit` ([`read_limited`]); refused with the typed
/// 413 (or 400 for a broken body) before any handler runs.
pub async fn limit_body(
    axum::extract::State(limit): axum::extract::State<usize>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    match read_limited(request, limit).await {
        Ok(request) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}

/// One line per request at target `vigil::access` — client address, method, path,
/// status, milliseconds. Never content: no body, query or header is read. Written by
/// the outermost middleware ([`crate::limits::outermost`]), so that a refused request
/// (429) has its line too.
pub struct AccessLine {
    started: Instant,
    method: axum::http::Method,
    path: String,
    client: Option<std::net::IpAddr>,
}

impl AccessLine {
    /// The line's start, or nothing when the access log is off (e.g. `RUST_LOG=warn`):
    /// then nothing is copied per request.
    pub fn start(request: &Request) -> Option<Self> {
        if !tracing::enabled!(target: "vigil::access", tracing::Level::INFO) {
            return None;
        }
        Some(Self {
            started: Instant::now(),
            method: request.method().clone(),
            path: request.uri().path().to_string(),
            client: request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()),
        })
    }

    pub fn finish(self, response: &Response) {
        tracing::info!(
            target: "vigil::access",
            client = %self.client.map_or_else(|| "-".to_string(), |ip| ip.to_string()),
            method = %self.method,
            path = self.path,
            status = response.status().as_u16(),
            ms = self.started.elapsed().as_millis() as u64,
            "request"
        );
    }
}

/// Reads and discards what is left of a body, frame by frame, within the drain bounds.
async fn drain(mut stream: axum::body::BodyDataStream) {
    let discard = async {
        let mut seen = 0usize;
        while let Some(Ok(data)) = stream.next().await {
            seen = seen.saturating_add(data.len());
            if seen > OVERSIZED_DRAIN_MAX_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(OVERSIZED_DRAIN_MAX, discard).await;
}

/// What `tracing` writes on this thread while a capture lives, for tests that read the
/// log (a `#[tokio::test]` runs its tasks on its own thread). One global subscriber
/// writes each thread's events to that thread's capture, if any: scoped subscribers
/// (`set_default`) race with other test threads over `tracing`'s per-callsite cache
/// and can miss events. Behind the `test-log` feature: for other crates' tests.
#[cfg(any(test, feature = "test-log"))]
pub mod captured_log {
    use std::cell::RefCell;
    use std::sync::{Arc, Mutex, Once};

    thread_local! {
        static CAPTURE: RefCell<Option<Arc<Mutex<Vec<u8>>>>> = const { RefCell::new(None) };
    }

    pub struct CapturedLog(Arc<Mutex<Vec<u8>>>);

    /// Ends the capture on drop.
    pub struct Capturing;

    impl Drop for Capturing {
        fn drop(&mut self) {
            CAPTURE.with(|c| c.borrow_mut().take());
        }
    }

    /// Appends to the current thread's capture; drops what no capture asked for.
    struct ThreadWriter;

    impl std::io::Write for ThreadWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            CAPTURE.with(|c| {
                if let Some(log) = &*c.borrow() {
                    log.lock().unwrap().extend_from_slice(buf);
                }
            });
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl CapturedLog {
        /// Captures this thread's log (info and up) until the guard drops.
        pub fn start() -> (Self, Capturing) {
            static INSTALL: Once = Once::new();
            INSTALL.call_once(|| {
                let subscriber = tracing_subscriber::fmt().with_writer(|| ThreadWriter).with_ansi(false).finish();
                tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in tests");
            });
            // A callsite first hit on another thread while the subscriber was installed
            // may have cached "never"; ask again.
            tracing::callsite::rebuild_interest_cache();
            let log = Arc::new(Mutex::new(Vec::new()));
            CAPTURE.with(|c| *c.borrow_mut() = Some(log.clone()));
            (Self(log), Capturing)
        }

        /// The access-log lines written so far.
        pub fn access_lines(&self) -> Vec<String> {
            self.text().lines().filter(|l| l.contains("vigil::access")).map(String::from).collect()
        }

        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_link_refusal_has_its_own_code_and_reads_back() {
        let codes: std::collections::BTreeSet<ErrorCode> =
            LinkRefusal::ALL.into_iter().map(link_refusal_code).collect();
        assert_eq!(codes.len(), LinkRefusal::ALL.len());
        for why in LinkRefusal::ALL {
            assert_eq!(link_refusal(link_refusal_code(why)), Some(why));
        }
        assert_eq!(link_refusal(ErrorCode::NotFound), None);
        // A gateway replaces its session on this one: it must be what the node says.
        assert_eq!(link_refusal_code(LinkRefusal::UnknownSession).as_str(), "UNKNOWN_SESSION");
    }

    fn request(body: Body, content_length: Option<usize>) -> Request {
        let mut b = Request::builder().method("POST").uri("/x");
        if let Some(n) = content_length {
            b = b.header(header::CONTENT_LENGTH, n);
        }
        b.body(body).unwrap()
    }

    /// A body that never ends: a limited read must stop by itself.
    fn endless() -> Body {
        Body::from_stream(futures::stream::repeat_with(|| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 4096]))))
    }

    #[tokio::test]
    async fn a_body_within_the_limit_comes_back_whole() {
        let r = read_limited(request(Body::from(vec![1u8; 100]), Some(100)), 100).await.unwrap();
        assert_eq!(axum::body::to_bytes(r.into_body(), 1000).await.unwrap().as_ref(), &[1u8; 100][..]);
    }

    #[tokio::test]
    async fn an_endless_body_without_length_is_refused_without_being_kept() {
        let started = std::time::Instant::now();
        let refused = read_limited(request(endless(), None), 10_000).await.unwrap_err();
        assert_eq!(refused, BodyRefusal::TooLarge { limit: 10_000, announced: None });
        assert!(started.elapsed() <= OVERSIZED_DRAIN_MAX + Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_body_longer_than_its_content_length_is_refused() {
        // The announced length is within the limit; what streams in is not.
        let refused = read_limited(request(endless(), Some(10)), 10_000).await.unwrap_err();
        assert_eq!(refused.code(), ErrorCode::BodyTooLarge);
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn an_announced_oversize_is_refused_before_reading() {
        let refused = read_limited(request(endless(), Some(1 << 30)), 10_000).await.unwrap_err();
        assert_eq!(refused, BodyRefusal::TooLarge { limit: 10_000, announced: Some(1 << 30) });
    }
}
