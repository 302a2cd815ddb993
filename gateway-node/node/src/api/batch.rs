//! `POST /v1/txs`: many signed transactions in one request, for clients and load
//! generators that send many (an exchange's withdrawals, a bench). The body is BCS of a
//! list of [`SignedTransaction`]s; their signatures are batch-verified at once (one by
//! one only when the batch fails, to name the bad ones; none seen before is checked
//! again); each is then admitted exactly
//! as `POST /v1/tx` admits it, and the answer gives each one's outcome in the order
//! sent: with `wait` (the default), this node's signed receipt for each committed within
//! the wait. One refused transaction refuses nothing else. A batch costs its client
//! network's rate limit a token per transaction.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use futures::future::join_all;
use serde_json::{json, Value};
use vigil_api::{ErrorCode, ErrorDetail, TxBatchAnswer, TxOutcome, TxState};
use vigil_protocol::encoding::{from_bytes_limited, to_bytes};
use vigil_protocol::limits::TRANSACTION_SIZE_MAX_BYTES;
use vigil_protocol::{SignedTransaction, TransactionError, TxHash};

use super::tx::{admit_and_wait, body_error, is_bcs, receipt_json, refused_signature, too_large, WaitQuery};
use super::{ApiError, ApiResult};
use crate::openapi::error_doc;
use crate::service::Shared;
use crate::verified::Checked;
use vigil_server::limits::ClientCharge;

/// Most transactions in one batch.
pub const TX_BATCH_MAX: usize = 256;
/// Largest batch body (BCS): room for many small transfers, or a few large ones.
pub const TX_BATCH_BODY_MAX_BYTES: usize = 1024 * 1024;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/v1/txs", post(submit_batch))
}

async fn submit_batch(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<WaitQuery>,
    charge: Option<Extension<ClientCharge>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match batch(shared, q, charge, headers, body).await {
        Ok(answer) => answer.into_response(),
        Err(refused) => refused,
    }
}

async fn batch(
    shared: Arc<Shared>,
    q: WaitQuery,
    charge: Option<Extension<ClientCharge>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<TxBatchAnswer>, Response> {
    let refuse = |e: ApiError| e.into_response();
    let body = body.map_err(body_error).map_err(refuse)?;
    if !is_bcs(&headers) {
        return Err(refuse(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send a batch as application/octet-stream: the BCS of a list of signed transactions",
        )));
    }
    let txs: Vec<SignedTransaction> = from_bytes_limited(&body, TX_BATCH_BODY_MAX_BYTES).map_err(|e| {
        refuse(ApiError::new(ErrorCode::Malformed, format!("not a BCS list of signed transactions: {e}")))
    })?;
    if txs.is_empty() || txs.len() > TX_BATCH_MAX {
        return Err(refuse(ApiError::new(
            ErrorCode::Malformed,
            format!("a batch holds 1 to {TX_BATCH_MAX} transactions, not {}", txs.len()),
        )));
    }
    // A batch costs its client network a token per transaction (the request took one),
    // as that many `POST /v1/tx` would: the signatures checked are as many.
    if let Some(Extension(charge)) = charge {
        let more = u32::try_from(txs.len() - 1).unwrap_or(u32::MAX);
        charge.charge(more).map_err(IntoResponse::into_response)?;
    }
    let checks = check(&shared, &txs);
    let outcomes = txs.into_iter().zip(checks).map(|(tx, checked)| {
        let shared = &shared;
        let q = &q;
        async move {
            let hash = tx.hash();
            match checked {
                Ok(()) => one(shared, tx, hash, q).await,
                Err(e) => refused(hash, e),
            }
        }
    });
    Ok(Json(TxBatchAnswer { results: join_all(outcomes).await }))
}

/// Each transaction's size and signatures, through the node's table of checked
/// signatures ([`crate::verified::VerifiedTxs::check`]: those seen before are not
/// checked again, the rest in one batch, one by one only if it fails). A refused one is
/// verified alone once more, for the code that says why.
fn check(shared: &Shared, txs: &[SignedTransaction]) -> Vec<ApiResult<()>> {
    let checked = shared.verified.check(txs);
    txs.iter()
        .zip(checked)
        .map(|(tx, checked)| match to_bytes(tx).len() {
            size if size > TRANSACTION_SIZE_MAX_BYTES => Err(too_large(size)),
            _ if checked != Checked::Invalid => Ok(()),
            _ => Err(refused_signature(shared, tx.verify().err().unwrap_or(TransactionError::BadSignature))),
        })
        .collect()
}

/// Admits one checked transaction and waits as asked; its outcome.
async fn one(shared: &Shared, tx: SignedTransaction, hash: TxHash, q: &WaitQuery) -> TxOutcome {
    match receipt_json(shared, &hash) {
        Ok(Some(done)) => {
            let message = format!("transaction {hash} is already committed");
            let error = ErrorDetail { code: ErrorCode::AlreadyCommitted, message };
            return TxOutcome { error: Some(error), ..committed(hash, done.answer.receipt_bcs) };
        }
        Ok(None) => {}
        Err(e) => return refused(hash, e),
    }
    let waiter = shared.wait_for(hash);
    let outcome = admit_and_wait(shared, tx, hash, waiter, q).await;
    shared.forget_closed_waiters(&hash);
    match outcome {
        Err(e) => refused(hash, e),
        Ok(committed_now) if q.wait || committed_now => match receipt_json(shared, &hash) {
            Ok(Some(done)) => committed(hash, done.answer.receipt_bcs),
            Ok(None) => pending(hash),
            Err(e) => refused(hash, e),
        },
        Ok(_) => pending(hash),
    }
}

fn committed(tx_hash: TxHash, receipt_bcs: vigil_api::Hex) -> TxOutcome {
    TxOutcome { tx_hash, status: Some(TxState::Committed), receipt_bcs: Some(receipt_bcs), error: None }
}

fn pending(tx_hash: TxHash) -> TxOutcome {
    TxOutcome { tx_hash, status: Some(TxState::Pending), receipt_bcs: None, error: None }
}

fn refused(tx_hash: TxHash, e: ApiError) -> TxOutcome {
    TxOutcome { tx_hash, status: None, receipt_bcs: None, error: Some(e.detail()) }
}

/// This module's routes in the OpenAPI document (`crate::openapi`).
pub fn openapi_paths() -> Value {
    json!({
        "/v1/txs": { "post": {
            "summary": "Submit up to 256 signed transactions at once (signatures batch-verified); by default wait for their commits and return each one's outcome, in order, with this node's signed receipt for each committed",
            "parameters": [
                { "name": "wait", "in": "query", "schema": { "type": "boolean", "default": true } },
                { "name": "timeout_ms", "in": "query", "schema": { "type": "integer", "default": 10000, "maximum": 30000 } }
            ],
            "requestBody": { "required": true, "content": {
                "application/octet-stream": { "schema": { "type": "string", "format": "binary", "description": "BCS-encoded list of SignedTransaction (1 to 256, at most 1 MiB)" } }
            }},
            "responses": {
                "200": { "description": "Each transaction's outcome in the order sent: `status` committed (with `receipt_bcs`) or pending; no status and an `error` (the code POST /v1/tx would answer) if it was refused", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TxBatchAnswer" } } } },
                "400": error_doc("MALFORMED (not a BCS list of signed transactions, or not 1 to 256 of them)"),
                "413": error_doc("BODY_TOO_LARGE"),
                "415": error_doc("UNSUPPORTED_MEDIA_TYPE (a batch is BCS only)"),
                "429": error_doc("RATE_LIMITED (with Retry-After; a batch costs a token per transaction) or TOO_MANY_IN_FLIGHT, per client network")
            }
        }}
    })
}
