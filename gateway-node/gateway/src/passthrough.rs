//! `GET|POST /v1/node/{node}/{*path}`: one node's API through the gateway as if it were
//! the node's own, for clients that read one node at a time (`curl`, `fetch`, a proxy in
//! front): the request is sealed to that node over its forwarding link exactly as
//! `/v1/forward` seals it, and the node's answer comes back as the node gave it — its
//! status, its content type (one a node's API answers in, see [`api_content_type`]),
//! its body — with `Vigil-Node: <id>` naming who answered. An answer without that
//! header is the gateway's own (`{"error": …}`: the node unknown, down, or not
//! answering). No JSON envelope, no base64: the same request and answer
//! shapes as a plain reverse proxy's.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use vigil_protocol::sealed::PlainRequest;

use super::{bad_request, body_or_error, parse_id, Gateway, GatewayError};

/// The header naming the node whose answer a response is.
pub const NODE_HEADER: HeaderName = HeaderName::from_static("vigil-node");

/// The content types a node's API answers in, passed through as the node gave them.
pub const API_CONTENT_TYPES: [&str; 3] = ["application/json", "application/octet-stream", "text/plain"];

/// The content type a node's answer goes out with: its own when it is one of
/// [`API_CONTENT_TYPES`] (parameters kept), else `application/octet-stream`. The
/// answer is served on the web wallet's origin, and a browser must never take it for
/// a page, a script or an image (`nosniff` holds it to the type given here).
pub fn api_content_type(node_gave: &str) -> HeaderValue {
    let essence = node_gave.split(';').next().unwrap_or("").trim();
    let allowed = API_CONTENT_TYPES.iter().any(|t| essence.eq_ignore_ascii_case(t));
    allowed
        .then(|| HeaderValue::from_str(node_gave).ok())
        .flatten()
        .unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

pub(super) async fn passthrough(
    State(gw): State<Arc<Gateway>>,
    Path((node, rest)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, GatewayError> {
    let body = body_or_error(&gw, body)?;
    // Routed for GET and POST only (anything else is axum's 405).
    debug_assert!(method == Method::GET || method == Method::POST);
    let mut path = String::with_capacity(rest.len() + 1 + uri.query().map_or(0, |q| q.len() + 1));
    path.push('/');
    path.push_str(&rest);
    if let Some(query) = uri.query() {
        path.push('?');
        path.push_str(query);
    }
    if !path.starts_with("/v1/") {
        return Err(bad_request(&gw, "the path after /v1/node/{id} must be a node API path starting with /v1/"));
    }
    let id = parse_id(&gw, &node)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let request = PlainRequest::new(method.as_str(), &path, content_type, body.to_vec());
    let answer = gw.forward_one(id, &request).await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = answer.header("content-type").map(api_content_type);
    let mut response = (status, answer.body).into_response();
    if let Some(c) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, c);
    }
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert(NODE_HEADER, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_answer_keeps_an_api_content_type_and_nothing_else() {
        for kept in [
            "application/json",
            "application/json; charset=utf-8",
            "application/octet-stream",
            "TEXT/PLAIN; version=0.0.4",
        ] {
            assert_eq!(api_content_type(kept), kept);
        }
        for replaced in [
            "text/html",
            "text/html; charset=utf-8",
            "text/javascript",
            "image/svg+xml",
            "application/jsonx",
            "",
            "a\u{7f}b",
        ] {
            assert_eq!(api_content_type(replaced), "application/octet-stream", "{replaced:?}");
        }
    }
}
