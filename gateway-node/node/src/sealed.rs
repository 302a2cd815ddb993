//! The node's end of the gateway link (Oblivious HTTP, RFC 9458).
//!
//! `GET /v1/ohttp-keys` publishes the node's key configuration (`application/ohttp-keys`;
//! its key is the validator set's `encryption_key`, never the node's p2p key). `POST /v1/sealed` takes a
//! `message/ohttp-req` sealed to that key, by the gateway (forwarding mode) or by the
//! client itself (oblivious mode, the gateway relaying bytes it cannot read), opens it,
//! serves the Binary HTTP request inside with the node's own public API, in process, and
//! seals the answer back as `message/ohttp-res`. Node signatures in answers (receipts)
//! are the API's own and pass through untouched.
//!
//! A message that does not open (another key, or altered on the way) gets a typed 400
//! and reaches nothing. Nothing here logs request or answer content.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::metrics::SealedCounters;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceExt;
use vigil_api::ErrorCode;
use vigil_protocol::sealed::{
    PlainRequest, PlainResponse, KEYS_MEDIA_TYPE, REQUEST_MEDIA_TYPE, RESPONSE_MEDIA_TYPE, SEALED_BODY_MAX_BYTES,
};

pub use vigil_protocol::sealed::SEALED_REQUEST_MAX_BYTES;

struct Sealed {
    server: ohttp::Server,
    keys: Vec<u8>,
    api: Router,
    counters: Arc<SealedCounters>,
}

/// The sealed endpoints (per-request OHTTP, and the gateway's forwarding link), serving
/// requests with `api` (the node's public routes). Both answer to the key derived from
/// the node's `encryption_seed`, the one its validator entry publishes.
pub fn routes(encryption_seed: &[u8; 32], api: Router, counters: Arc<SealedCounters>) -> anyhow::Result<Router> {
    let config = vigil_protocol::sealed::server_config(encryption_seed)?;
    let keys = ohttp::KeyConfig::encode_list(&[&config])?;
    let server = ohttp::Server::new(config)?;
    let link = Arc::new(crate::link::Link {
        sessions: crate::link::LinkSessions::new(vigil_protocol::link::LinkKey::from_seed(encryption_seed)),
        api: api.clone(),
        counters: counters.clone(),
    });
    let state = Arc::new(Sealed { server, keys, api, counters });
    let link_routes = Router::new()
        .route("/v1/link", post(crate::link::open))
        .route("/v1/link/request", post(crate::link::request))
        .route("/v1/link/requests", post(crate::link::requests))
        .with_state(link);
    Ok(Router::new()
        .route("/v1/ohttp-keys", get(ohttp_keys))
        .route("/v1/sealed", post(sealed))
        .with_state(state)
        .merge(link_routes)
        .layer(axum::middleware::from_fn_with_state(SEALED_REQUEST_MAX_BYTES, vigil_server::http::limit_body))
        .layer(axum::extract::DefaultBodyLimit::max(SEALED_REQUEST_MAX_BYTES)))
}

async fn ohttp_keys(State(s): State<Arc<Sealed>>) -> Response {
    ([(header::CONTENT_TYPE, KEYS_MEDIA_TYPE), (header::CACHE_CONTROL, "max-age=3600")], s.keys.clone()).into_response()
}

pub(crate) fn refuse(code: ErrorCode, message: String) -> Response {
    vigil_server::http::error_response(code, &message, None)
}

/// Whether the request's content type is `media`.
pub(crate) fn media_is(headers: &HeaderMap, media: &str) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with(media))
}

async fn sealed(State(s): State<Arc<Sealed>>, headers: HeaderMap, body: Bytes) -> Response {
    if !media_is(&headers, REQUEST_MEDIA_TYPE) {
        return refuse(ErrorCode::UnsupportedMediaType, format!("send the sealed request as {REQUEST_MEDIA_TYPE}"));
    }
    let Ok((plain, responder)) = s.server.decapsulate(&body) else {
        s.counters.refused.fetch_add(1, Ordering::Relaxed);
        return refuse(
            ErrorCode::CannotOpen,
            "the sealed request does not open with this node's key: sealed to another key, or altered in transit"
                .into(),
        );
    };
    s.counters.opened.fetch_add(1, Ordering::Relaxed);
    let answer = match PlainRequest::from_bhttp(&plain) {
        Ok(request) => serve(&s.api, request).await,
        Err(e) => plain_error(ErrorCode::BadInnerRequest, &e.to_string()),
    };
    let sealed = answer.to_bhttp().and_then(|bytes| {
        responder.encapsulate(&bytes).map_err(|e| vigil_protocol::sealed::SealError::Seal(e.to_string()))
    });
    match sealed {
        Ok(bytes) => ([(header::CONTENT_TYPE, RESPONSE_MEDIA_TYPE)], bytes).into_response(),
        Err(e) => refuse(ErrorCode::CannotSealAnswer, e.to_string()),
    }
}

pub(crate) fn plain_error(code: ErrorCode, message: &str) -> PlainResponse {
    PlainResponse {
        status: code.status(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::to_vec(&vigil_server::http::ErrorBody::new(code, message)).unwrap_or_default(),
    }
}

/// Serves one opened request with the public API. Only the API's own routes are
/// reachable: a sealed request cannot ask for another sealed request.
pub(crate) async fn serve(api: &Router, request: PlainRequest) -> PlainResponse {
    let method = match request.method.as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        other => return plain_error(ErrorCode::MethodNotAllowed, &format!("{other} is not served sealed")),
    };
    if !request.path.starts_with("/v1/")
        || request.path.starts_with("/v1/sealed")
        || request.path.starts_with("/v1/link")
    {
        return plain_error(ErrorCode::NotFound, "sealed requests reach the node's /v1/ API only");
    }
    let mut builder = Request::builder().method(method).uri(request.path.as_str());
    for name in ["content-type", "accept"] {
        if let Some(v) = request.header(name) {
            builder = builder.header(name, v);
        }
    }
    let Ok(http_request) = builder.body(Body::from(request.body)) else {
        return plain_error(ErrorCode::BadInnerRequest, "the request line or a header is not valid HTTP");
    };
    let response = match api.clone().oneshot(http_request).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    let status = response.status().as_u16();
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    match axum::body::to_bytes(response.into_body(), SEALED_BODY_MAX_BYTES).await {
        Ok(body) => PlainResponse {
            status,
            headers: content_type.map(|c| vec![("content-type".to_string(), c)]).unwrap_or_default(),
            body: body.to_vec(),
        },
        Err(_) => plain_error(ErrorCode::AnswerTooLarge, "the answer is larger than a sealed message carries"),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Json;
    use serde_json::json;
    use vigil_protocol::sealed::{key_config, seal};
    use vigil_protocol::EncryptionKey;

    use super::*;

    fn node() -> (Router, EncryptionKey) {
        let config = vigil_protocol::sealed::server_config(&[3; 32]).unwrap();
        let key = EncryptionKey(config.encode().unwrap()[3..35].try_into().unwrap());
        assert_eq!(config.encode().unwrap(), key_config(&key));
        let api = Router::new()
            .route("/v1/status", get(|| async { Json(json!({ "height": 7 })) }))
            .route("/v1/echo", post(|body: Bytes| async move { body }));
        (routes(&[3; 32], api, Arc::default()).unwrap(), key)
    }

    async fn post_sealed(router: &Router, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
        let r = router
            .clone()
            .oneshot(
                Request::post("/v1/sealed")
                    .header(header::CONTENT_TYPE, REQUEST_MEDIA_TYPE)
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        (r.status(), axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap().to_vec())
    }

    #[tokio::test]
    async fn a_sealed_request_is_served_by_the_api_and_answered_sealed() {
        let (router, key) = node();
        let (bytes, opener) = seal(&key, &PlainRequest::new("GET", "/v1/status", None, vec![])).unwrap();
        let (status, sealed_answer) = post_sealed(&router, bytes).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!String::from_utf8_lossy(&sealed_answer).contains("height"), "the answer travels sealed");
        let answer = opener.open(&sealed_answer).unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&answer.body).unwrap()["height"], 7);

        let (bytes, opener) = seal(&key, &PlainRequest::new("POST", "/v1/echo", None, vec![5; 1000])).unwrap();
        let answer = opener.open(&post_sealed(&router, bytes).await.1).unwrap();
        assert_eq!(answer.body, vec![5; 1000]);
    }

    #[tokio::test]
    async fn tampered_or_foreign_requests_are_refused_and_reach_nothing() {
        let (router, key) = node();
        let (mut bytes, _) = seal(&key, &PlainRequest::new("POST", "/v1/echo", None, vec![1; 10])).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x80;
        let (status, body) = post_sealed(&router, bytes).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(String::from_utf8_lossy(&body).contains("CANNOT_OPEN"));
        let (bytes, _) = seal(&EncryptionKey([9; 32]), &PlainRequest::new("GET", "/v1/status", None, vec![])).unwrap();
        assert_eq!(post_sealed(&router, bytes).await.0, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn requests_sealed_to_the_nodes_p2p_key_do_not_open() {
        let keys = vigil_server::keys::NodeKeys::generate();
        let api = Router::new().route("/v1/status", get(|| async { Json(json!({ "height": 7 })) }));
        let router = routes(keys.encryption_seed(), api, Arc::default()).unwrap();
        let request = PlainRequest::new("GET", "/v1/status", None, vec![]);
        // The node's Noise key is published beside its HPKE key; it opens nothing here.
        let (bytes, _) = seal(&EncryptionKey(keys.p2p_public().0), &request).unwrap();
        let (status, body) = post_sealed(&router, bytes).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(String::from_utf8_lossy(&body).contains("CANNOT_OPEN"));
        let (bytes, opener) = seal(&keys.encryption_public(), &request).unwrap();
        let (status, answer) = post_sealed(&router, bytes).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(opener.open(&answer).unwrap().status, 200);
    }

    #[tokio::test]
    async fn only_the_public_api_is_reachable_inside() {
        let (router, key) = node();
        for path in ["/v1/sealed", "/metrics", "http://elsewhere.example/v1/status"] {
            let (bytes, opener) = seal(&key, &PlainRequest::new("GET", path, None, vec![])).unwrap();
            let answer = opener.open(&post_sealed(&router, bytes).await.1).unwrap();
            assert_eq!(answer.status, 404, "{path}");
        }
        let (bytes, opener) = seal(&key, &PlainRequest::new("DELETE", "/v1/status", None, vec![])).unwrap();
        assert_eq!(opener.open(&post_sealed(&router, bytes).await.1).unwrap().status, 405);
    }

    #[tokio::test]
    async fn the_key_configuration_is_published() {
        let (router, key) = node();
        let r = router.oneshot(Request::get("/v1/ohttp-keys").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(r.headers()[header::CONTENT_TYPE], KEYS_MEDIA_TYPE);
        let body = axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap();
        assert_eq!(body.as_ref(), vigil_protocol::sealed::key_config_list(&key).as_slice());
    }
}
