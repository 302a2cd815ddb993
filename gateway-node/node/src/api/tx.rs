//! Transactions: `POST /v1/tx` (JSON or BCS; waits for the commit and answers this
//! node's signed receipt) and `GET /v1/tx/{hash}` (a committed transaction's receipt).
//! Every payload kind is submitted here; what it does is its capability's.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use vigil_api::{ErrorCode, ErrorDetail, ReceiptAnswer, TxAnswer, TxPending, TxState};
use vigil_core::consensus::Rejection;
use vigil_protocol::encoding::{from_bytes_limited, to_bytes};
use vigil_protocol::limits::TRANSACTION_SIZE_MAX_BYTES;
use vigil_protocol::{SignedTransaction, TransactionError, TxHash};

use super::{ApiError, ApiResult};
use crate::openapi::error_doc;
use crate::service::{Event, Shared};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/v1/tx", post(submit_tx)).route("/v1/tx/{hash}", get(get_tx))
}

/// Longest a client may ask to wait for a commit.
pub const WAIT_MAX_MS: u64 = 30_000;

#[derive(Deserialize)]
pub(super) struct WaitQuery {
    #[serde(default = "yes")]
    pub wait: bool,
    #[serde(default = "default_wait_ms")]
    pub timeout_ms: u64,
}

fn yes() -> bool {
    true
}

fn default_wait_ms() -> u64 {
    10_000
}

/// A body the API could not read.
pub(super) fn body_error(e: BytesRejection) -> ApiError {
    match e {
        BytesRejection::FailedToBufferBody(_) => {
            ApiError::new(ErrorCode::BodyTooLarge, "request body exceeds the size limit")
        }
        other => ApiError::new(ErrorCode::Malformed, other.to_string()),
    }
}

/// Whether the body is BCS (`application/octet-stream`) rather than JSON.
pub(super) fn is_bcs(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"))
}

fn decode_tx(headers: &HeaderMap, body: &[u8]) -> ApiResult<SignedTransaction> {
    if is_bcs(headers) {
        if body.len() > TRANSACTION_SIZE_MAX_BYTES {
            return Err(too_large(body.len()));
        }
        from_bytes_limited(body, TRANSACTION_SIZE_MAX_BYTES)
            .map_err(|e| ApiError::new(ErrorCode::Malformed, format!("not a BCS signed transaction: {e}")))
    } else {
        let tx: SignedTransaction = serde_json::from_slice(body)
            .map_err(|e| ApiError::new(ErrorCode::Malformed, format!("not a JSON signed transaction: {e}")))?;
        let size = to_bytes(&tx).len();
        if size > TRANSACTION_SIZE_MAX_BYTES {
            return Err(too_large(size));
        }
        Ok(tx)
    }
}

pub(super) fn too_large(size: usize) -> ApiError {
    ApiError::new(
        ErrorCode::TxTooLarge,
        format!("transaction of {size} bytes exceeds the limit of {TRANSACTION_SIZE_MAX_BYTES} bytes"),
    )
}

/// This node's signed receipt, if the transaction is committed.
pub(super) fn receipt_json(shared: &Shared, hash: &TxHash) -> ApiResult<Option<TxAnswer>> {
    let Some(record) = shared.store.tx(hash).map_err(ApiError::internal)? else { return Ok(None) };
    let Some(signed) = shared.signed_receipt(&record).map_err(ApiError::internal)? else { return Ok(None) };
    let answer = ReceiptAnswer { tx_hash: *hash, receipt_bcs: to_bytes(&signed).into(), error: None };
    Ok(Some(TxAnswer { status: TxState::Committed, receipt: signed, answer }))
}

async fn submit_tx(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<WaitQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(body_error)?;
    let tx = decode_tx(&headers, &body)?;
    let hash = tx.hash();
    if let Some(receipt) = already_committed(&shared, &hash)? {
        return Ok(receipt);
    }
    // The signature is checked here, on the API's threads, not on the consensus thread.
    if let Err(e) = tx.verify() {
        return Err(refused_signature(&shared, e));
    }
    let committed = shared.wait_for(hash);
    let outcome = admit_and_wait(&shared, tx, hash, committed, &q).await;
    shared.forget_closed_waiters(&hash);
    let committed_now = outcome?;
    if q.wait || committed_now {
        // Also covers a commit that landed between the check above and the wait.
        if let Some(receipt) = receipt_json(&shared, &hash)? {
            return Ok((StatusCode::OK, Json(receipt)).into_response());
        }
    }
    Ok((StatusCode::ACCEPTED, Json(TxPending { tx_hash: hash, status: TxState::Pending })).into_response())
}

/// How long a submission refused for a used nonce waits for that nonce's commit to be
/// its own (see [`admit_and_wait`]).
const STALE_NONCE_GRACE: Duration = Duration::from_millis(500);

/// A replay changes nothing; the answer still carries this node's signed receipt, so a
/// client that submitted through several nodes gets one from each.
fn already_committed(shared: &Shared, hash: &TxHash) -> ApiResult<Option<Response>> {
    let Some(mut receipt) = receipt_json(shared, hash)? else {
        return Ok(None);
    };
    receipt.answer.error = Some(ErrorDetail {
        code: ErrorCode::AlreadyCommitted,
        message: format!("transaction {hash} is already committed"),
    });
    Ok(Some((StatusCode::CONFLICT, Json(receipt)).into_response()))
}

/// The refusal of a transaction whose signature (or its row's) does not verify, counted.
pub(super) fn refused_signature(shared: &Shared, e: TransactionError) -> ApiError {
    shared.metrics.txs_rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match e {
        TransactionError::BadRowSignature => Rejection::BadRowSignature,
        _ => Rejection::BadSignature,
    }
    .into()
}

/// Hands a transaction whose signatures were checked to the consensus thread; with
/// `wait`, waits for its commit. Returns whether it committed within the wait. Consumes
/// `committed`, so that the caller can clean up the waiter afterwards.
pub(super) async fn admit_and_wait(
    shared: &Shared,
    tx: SignedTransaction,
    hash: TxHash,
    committed: oneshot::Receiver<()>,
    q: &WaitQuery,
) -> ApiResult<bool> {
    // A wallet sends to several nodes: the copy that peers gossip here is not checked again.
    shared.verified.insert([(hash, tx.signature)]);
    let (reply_tx, reply_rx) = oneshot::channel();
    shared
        .events
        .try_send(Event::Submit(Box::new(tx), reply_tx))
        .map_err(|_| ApiError::new(ErrorCode::Busy, "the node is overloaded; retry later"))?;
    let admitted = reply_rx.await.map_err(|_| ApiError::internal("the node is shutting down"))?;
    match admitted {
        Ok(()) => {}
        // Its nonce may be used by this very transaction, committed (through another
        // node) in the batch whose outputs the consensus thread is still carrying out:
        // its waiter fires once that commit is durable.
        Err(r @ Rejection::StaleNonce { .. }) => {
            if tokio::time::timeout(STALE_NONCE_GRACE, committed).await.is_ok() {
                return Ok(true);
            }
            shared.metrics.txs_rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(r.into());
        }
        // Already pending here (gossiped from a peer, or sent before): waiting for it is
        // what the client asked, and submitting it again is harmless.
        Err(Rejection::Duplicate) if q.wait => {}
        Err(r) => {
            shared.metrics.txs_rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(r.into());
        }
    }
    if !q.wait {
        return Ok(false);
    }
    let wait = Duration::from_millis(q.timeout_ms.min(WAIT_MAX_MS));
    Ok(tokio::time::timeout(wait, committed).await.is_ok())
}

async fn get_tx(State(shared): State<Arc<Shared>>, Path(hash): Path<String>) -> ApiResult<Json<TxAnswer>> {
    let hash: TxHash =
        hash.parse().map_err(|_| ApiError::new(ErrorCode::Malformed, "transaction hash must be 64 hex digits"))?;
    receipt_json(&shared, &hash)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("transaction {hash} is not committed (yet)")))
}

/// This module's routes in the OpenAPI document (`crate::openapi`).
pub fn openapi_paths() -> Value {
    json!({
        "/v1/tx": { "post": {
                "summary": "Submit a signed transaction; by default wait for its commit and return this node's signed receipt",
                "parameters": [
                    { "name": "wait", "in": "query", "schema": { "type": "boolean", "default": true } },
                    { "name": "timeout_ms", "in": "query", "schema": { "type": "integer", "default": 10000, "maximum": 30000 } }
                ],
                "requestBody": { "required": true, "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/SignedTransaction" } },
                    "application/octet-stream": { "schema": { "type": "string", "format": "binary", "description": "BCS-encoded SignedTransaction" } }
                }},
                "responses": {
                    "200": { "description": "Committed", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ReceiptResponse" } } } },
                    "202": { "description": "Accepted, not committed within the wait" },
                    "400": error_doc("MALFORMED, WRONG_CHAIN, BAD_SIGNATURE, STALE_NONCE, FUTURE_NONCE, INSUFFICIENT_BALANCE (counting the sender's pending transactions), FEE_TOO_LOW or INVALID_EVIDENCE"),
                    "409": error_doc("DUPLICATE (already pending, without wait), ALREADY_COMMITTED (the body also carries this node's signed receipt) or OFFENDER_NOT_IN_SET (evidence against a validator already jailed)"),
                    "413": error_doc("BODY_TOO_LARGE (the request body) or TX_TOO_LARGE (the transaction's BCS encoding)"),
                    "429": error_doc("RATE_LIMITED (with Retry-After) or TOO_MANY_IN_FLIGHT, per client network"),
                    "503": error_doc("MEMPOOL_FULL or BUSY")
                }
            }},
        "/v1/tx/{hash}": { "get": {
                "summary": "This node's signed receipt for a committed transaction",
                "parameters": [{ "name": "hash", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9a-f]{64}$" } }],
                "responses": { "200": { "description": "Receipt", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ReceiptResponse" } } } }, "404": error_doc("NOT_FOUND") }
            }}
    })
}
