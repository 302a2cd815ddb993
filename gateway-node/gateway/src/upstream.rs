//! The hop from the gateway to its nodes: a pooled HTTP/1.1 keep-alive client (hyper's),
//! one POST per sealed request, the answer read whole up to a bound.
//!
//! Every forwarded request crosses it, so it is hyper's client without a wrapper (no
//! WHATWG URL parsing per request), `TCP_NODELAY` on, and a node's answer is read only
//! up to [`ANSWER_MAX_BYTES`] (a node that sends more gets the request counted as
//! failed, not the gateway's memory). Nodes are reached over plain HTTP: on loopback or
//! a private network, the content sealed to the node either way.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Idle keep-alive connections kept per node. Below the requests in flight to one node,
/// every request past it would open (and close) a connection of its own.
pub const POOL_IDLE_MAX: usize = 256;
/// How long the client waits for a connection to a node.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// An idle pooled connection is closed after this long.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest answer read from a node: a sealed answer of the largest plaintext the
/// link carries, and room for its framing.
pub const ANSWER_MAX_BYTES: usize = vigil_protocol::sealed::SEALED_REQUEST_MAX_BYTES;

/// Why a node gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HopError {
    Timeout,
    /// Not reachable, or the connection broke.
    Unreachable,
    /// The answer is longer than [`ANSWER_MAX_BYTES`].
    TooLarge,
}

/// The pooled client.
#[derive(Clone)]
pub struct Upstream {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Upstream {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_keepalive(Some(POOL_IDLE_TIMEOUT));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(POOL_IDLE_MAX)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        Self { client }
    }
}

impl Upstream {
    /// POSTs `body` as `media` to `uri`; the status and the whole answer, within `timeout`.
    pub async fn post(
        &self,
        uri: Uri,
        media: &'static str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), HopError> {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, media)
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| HopError::Unreachable)?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|_| HopError::Unreachable)?;
            let status = response.status();
            let answer = Limited::new(response.into_body(), ANSWER_MAX_BYTES).collect().await.map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    HopError::TooLarge
                } else {
                    HopError::Unreachable
                }
            })?;
            let answer = answer.to_bytes();
            Ok((status, answer))
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| HopError::Timeout)?
    }

    /// POSTs `body` as `media` to `uri`; the status and the answer's body as it streams
    /// (the caller bounds what it reads), within `timeout` for the status.
    pub async fn post_streaming(
        &self,
        uri: Uri,
        media: &'static str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<(StatusCode, hyper::body::Incoming), HopError> {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, media)
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| HopError::Unreachable)?;
        let response = tokio::time::timeout(timeout, self.client.request(request))
            .await
            .map_err(|_| HopError::Timeout)?
            .map_err(|_| HopError::Unreachable)?;
        Ok((response.status(), response.into_body()))
    }
}

/// `base` (a node's configured URL, e.g. `http://127.0.0.1:7001`) joined with `path`.
pub fn uri(base: &str, path: &str) -> Result<Uri, HopError> {
    let mut s = String::with_capacity(base.len() + path.len());
    s.push_str(base.trim_end_matches('/'));
    s.push_str(path);
    s.parse().map_err(|_| HopError::Unreachable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;

    async fn node_answering(size: usize) -> String {
        let app = axum::Router::new().route("/v1/link/request", post(move || async move { vec![7u8; size] }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn an_answer_is_read_whole_up_to_its_bound_and_no_further() {
        let upstream = Upstream::default();
        let timeout = Duration::from_secs(10);
        let fits = node_answering(ANSWER_MAX_BYTES).await;
        let (status, body) =
            upstream.post(uri(&fits, "/v1/link/request").unwrap(), "x/y", vec![1], timeout).await.unwrap();
        assert_eq!((status, body.len()), (StatusCode::OK, ANSWER_MAX_BYTES));
        let over = node_answering(ANSWER_MAX_BYTES + 1).await;
        let refused = upstream.post(uri(&over, "/v1/link/request").unwrap(), "x/y", vec![1], timeout).await;
        assert_eq!(refused.unwrap_err(), HopError::TooLarge);
        let nobody = format!("http://{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());
        let refused = upstream.post(uri(&nobody, "/v1/link/request").unwrap(), "x/y", vec![1], timeout).await;
        assert_eq!(refused.unwrap_err(), HopError::Unreachable);
    }
}
