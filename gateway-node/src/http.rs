//! HTTP helpers shared by the node API and the gateway.

use std::time::Duration;

use axum::extract::Request;
use axum::http::header;

/// Most bytes of an oversized body read and discarded before answering 413.
const OVERSIZED_DRAIN_MAX_BYTES: usize = 16 * 1024 * 1024;

/// A request whose announced body is over `limit` is refused before anything reads it:
/// returns the announced length, after reading and discarding the rest of the body
/// (bounded in size and time, as nginx does), so that a client still sending sees the
/// 413 instead of a broken pipe. Other requests come back untouched.
pub async fn refuse_oversized(request: Request, limit: usize) -> Result<Request, u64> {
    let announced =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match announced {
        Some(len) if len > limit as u64 => {
            let drain = axum::body::to_bytes(request.into_body(), OVERSIZED_DRAIN_MAX_BYTES);
            let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
            Err(len)
        }
        _ => Ok(request),
    }
}
