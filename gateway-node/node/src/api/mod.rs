//! The public HTTP API (axum). Handlers are thin; errors map once to a status and a
//! stable code (`{"error": {"code": "STALE_NONCE", "message": "…"}}`). JSON is for
//! humans; every signed or certified object also comes as BCS hex (`*_bcs`), the exact
//! bytes a light client verifies. Transactions are accepted as JSON or as BCS
//! (`Content-Type: application/octet-stream`).
//!
//! The node's server (`service::run`) puts the per-client limits outermost, with the
//! shared access log around them (`limits::outermost`). `/metrics` is not public:
//! [`admin_router`] serves it, on the node's loopback `admin_listen` only (the public
//! listener answers 404 there).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::sync::oneshot;
use vigil_protocol::encoding::{from_bytes_limited, to_bytes};
use vigil_protocol::limits::TRANSACTION_SIZE_MAX_BYTES;
use vigil_protocol::{Address, CertifiedHeader, ConsensusMode, Height, SetChange, SignedTransaction, StateKey, TxHash};

use crate::metrics::Gauges;
use crate::service::{Event, Shared};
use vigil_api::{
    AccountAnswer, BlockAnswer, BlockProof, ErrorCode, ErrorDetail, Hex, NodeStatus, ProvenState, ReceiptAnswer,
    ReceiptProof, ReceiptProofAnswer, TxAnswer, TxPending, TxState, ValidatorsAnswer, ValidatorsProof,
};
use vigil_core::consensus::Rejection;
use vigil_server::http::error_response;

/// Longest a client may ask to wait for a commit.
pub const WAIT_MAX_MS: u64 = 30_000;

/// What a client is told of a fault of the node: the details are in the node's log.
pub const INTERNAL_MESSAGE: &str = "internal error; the node's operator finds the details in its log";

/// One error type for the whole API: a code (which fixes the status) and a message.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
    fn not_found(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, what)
    }
    /// A fault of the node: logged here, opaque to the client.
    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error answered with 500");
        Self::new(ErrorCode::Internal, INTERNAL_MESSAGE)
    }
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.code, &self.message, None)
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        let code = match &r {
            Rejection::WrongChain { .. } => ErrorCode::WrongChain,
            Rejection::BadSignature => ErrorCode::BadSignature,
            Rejection::StaleNonce { .. } => ErrorCode::StaleNonce,
            Rejection::FutureNonce { .. } => ErrorCode::FutureNonce,
            Rejection::InsufficientBalance { .. } => ErrorCode::InsufficientBalance,
            Rejection::Duplicate => ErrorCode::Duplicate,
            Rejection::MempoolFull => ErrorCode::MempoolFull,
            Rejection::FeeTooLow { .. } => ErrorCode::FeeTooLow,
            Rejection::InvalidEvidence(_) => ErrorCode::InvalidEvidence,
            Rejection::OffenderNotInSet => ErrorCode::OffenderNotInSet,
        };
        Self::new(code, r.to_string())
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/tx", post(submit_tx))
        .route("/v1/tx/{hash}", get(get_tx))
        .route("/v1/blocks/{height}", get(get_block))
        .route("/v1/blocks/{height}/receipts/{index}", get(get_receipt_proof))
        .route("/v1/accounts/{address}", get(get_account))
        .route("/v1/validators", get(get_validators))
        .route("/v1/status", get(get_status))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/state/{key}", get(get_state))
        .route("/healthz", get(|| async { "ok" }))
        .layer(axum::middleware::from_fn_with_state(API_BODY_MAX_BYTES, vigil_server::http::limit_body))
        .layer(DefaultBodyLimit::max(API_BODY_MAX_BYTES))
        .merge(crate::vault::api::router())
        .fallback(vigil_server::http::no_route)
        .method_not_allowed_fallback(vigil_server::http::wrong_method)
        .with_state(shared)
}

/// The operator's routes, `/metrics` (Prometheus) and `/healthz`, for the loopback
/// admin listener only.
pub fn admin_router(shared: Arc<Shared>) -> Router {
    Router::new().route("/metrics", get(metrics)).route("/healthz", get(|| async { "ok" })).with_state(shared)
}

/// Largest request body: room for JSON's hex encoding of the largest BCS transaction.
const API_BODY_MAX_BYTES: usize = TRANSACTION_SIZE_MAX_BYTES * 3;

#[derive(Deserialize)]
struct WaitQuery {
    #[serde(default = "yes")]
    wait: bool,
    #[serde(default = "default_wait_ms")]
    timeout_ms: u64,
}

fn yes() -> bool {
    true
}
fn default_wait_ms() -> u64 {
    10_000
}

fn decode_tx(headers: &HeaderMap, body: &[u8]) -> ApiResult<SignedTransaction> {
    let is_bcs = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"));
    if is_bcs {
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

fn too_large(size: usize) -> ApiError {
    ApiError::new(
        ErrorCode::TxTooLarge,
        format!("transaction of {size} bytes exceeds the limit of {TRANSACTION_SIZE_MAX_BYTES} bytes"),
    )
}

/// This node's signed receipt, if the transaction is committed.
fn receipt_json(shared: &Shared, hash: &TxHash) -> ApiResult<Option<TxAnswer>> {
    let Some(record) = shared.store.tx(hash).map_err(ApiError::internal)? else { return Ok(None) };
    let signed = shared.sign_receipt(&record);
    let answer = ReceiptAnswer { tx_hash: *hash, receipt_bcs: to_bytes(&signed).into(), error: None };
    Ok(Some(TxAnswer { status: TxState::Committed, receipt: signed, answer }))
}

async fn submit_tx(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<WaitQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) => {
            ApiError::new(ErrorCode::BodyTooLarge, "request body exceeds the size limit")
        }
        other => ApiError::new(ErrorCode::Malformed, other.to_string()),
    })?;
    let tx = decode_tx(&headers, &body)?;
    let hash = tx.hash();
    if let Some(receipt) = already_committed(&shared, &hash)? {
        return Ok(receipt);
    }
    let committed = shared.wait_for(hash);
    let outcome = submit_and_wait(&shared, tx, hash, committed, &q).await;
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
/// its own (see [`submit_and_wait`]).
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

/// Hands the transaction to the consensus thread; with `wait`, waits for its commit.
/// Returns whether it committed within the wait. Consumes `committed`, so that the
/// caller can clean up the waiter afterwards.
async fn submit_and_wait(
    shared: &Shared,
    tx: SignedTransaction,
    hash: TxHash,
    committed: oneshot::Receiver<()>,
    q: &WaitQuery,
) -> ApiResult<bool> {
    // The signature is checked here, on the API's threads, not on the consensus thread.
    if tx.verify().is_err() {
        shared.metrics.txs_rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(Rejection::BadSignature.into());
    }
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

async fn get_block(State(shared): State<Arc<Shared>>, Path(height): Path<String>) -> ApiResult<Json<BlockAnswer>> {
    let height = if height == "latest" {
        shared.durable_height()
    } else {
        Height(height.parse().map_err(|_| ApiError::new(ErrorCode::Malformed, "height must be a number or `latest`"))?)
    };
    let cb = shared
        .store
        .block(height)
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no committed block at height {height}")))?;
    let certified = cb.certified_header();
    // Fast blocks carry why the certified proposal could hold this block, so that anyone
    // holding a conflicting certified block can trace the fork to its validators
    // (`vigil_protocol::forensics`).
    let proof = BlockProof {
        tx_hashes: cb.block.txs.iter().map(|t| t.hash()).collect(),
        certified_header_bcs: to_bytes(&certified).into(),
        justification_bcs: cb.justification.as_ref().map(|j| to_bytes(j).into()),
    };
    Ok(Json(BlockAnswer { height, hash: cb.block.header.hash(), header: cb.block.header, cert: cb.cert, proof }))
}

/// The receipt entry a block certifies at `index`, with its Merkle proof against the
/// header's receipts root: what a client needs to prove that a node's signed receipt
/// contradicts the certified block.
async fn get_receipt_proof(
    State(shared): State<Arc<Shared>>,
    Path((height, index)): Path<(u64, usize)>,
) -> ApiResult<Json<ReceiptProofAnswer>> {
    let cb = shared
        .store
        .block(Height(height))
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no committed block at height {height}")))?;
    if index >= cb.block.txs.len() {
        return Err(ApiError::not_found(format!("block {height} holds {} transactions", cb.block.txs.len())));
    }
    let mut entries = Vec::with_capacity(cb.block.txs.len());
    for tx in &cb.block.txs {
        let record = shared
            .store
            .tx(&tx.hash())
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal(format!("receipt of committed tx {} is not stored", tx.hash())))?;
        entries.push(record.entry);
    }
    let proof = vigil_protocol::Block::receipt_proof(&entries, index)
        .ok_or_else(|| ApiError::internal("cannot build the receipt proof"))?;
    let certified = CertifiedHeader { header: cb.block.header, cert: cb.cert };
    let entry = entries.swap_remove(index);
    let proof = ReceiptProof {
        height: Height(height),
        index: index as u64,
        entry_bcs: to_bytes(&entry).into(),
        proof_bcs: to_bytes(&proof).into(),
        certified_header_bcs: to_bytes(&certified).into(),
    };
    Ok(Json(ReceiptProofAnswer { entry, proof }))
}

/// A state key's [`ProvenState`] at the committed height: what a light client needs to
/// check it against a certified header. `read` takes what else the caller wants from the
/// same ledger view.
fn proven_state<R>(
    shared: &Shared,
    key: &StateKey,
    read: impl FnOnce(&vigil_core::execution::LedgerView) -> R,
) -> ApiResult<(ProvenState, R)> {
    // The proof and the header it is checked against come from the same published view:
    // one durable height's state and its certified header.
    let view = shared.view();
    let ledger = &view.ledger;
    let (value, proof) = ledger.prove(key).map_err(ApiError::internal)?;
    let (height, header, extra) = (ledger.height(), view.header.clone(), read(ledger));
    let proven = ProvenState {
        height,
        state_key_bcs: to_bytes(key).into(),
        value_bcs: value.map(Hex),
        proof_bcs: to_bytes(&proof).into(),
        certified_header_bcs: header.map(|h| to_bytes(&h).into()),
    };
    Ok((proven, extra))
}

/// Any state entry (key as BCS hex) with its proof.
async fn get_state(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult<Json<ProvenState>> {
    let bad = |why: String| ApiError::new(ErrorCode::BadStateKey, why);
    let bytes = hex::decode(&key).map_err(|_| bad("the state key must be BCS in hex".into()))?;
    let key: StateKey = from_bytes_limited(&bytes, 1024).map_err(|e| bad(e.to_string()))?;
    let (proven, ()) = proven_state(&shared, &key, |_| ())?;
    Ok(Json(proven))
}

async fn get_account(State(shared): State<Arc<Shared>>, Path(address): Path<String>) -> ApiResult<Json<AccountAnswer>> {
    let address = Address::parse(&address).map_err(|e| ApiError::new(ErrorCode::BadAddress, e.to_string()))?;
    let (proven, account) = proven_state(&shared, &StateKey::Account(address), |l| l.account(&address))?;
    Ok(Json(AccountAnswer { address, balance: account.balance, nonce: account.nonce, proven }))
}

async fn get_validators(State(shared): State<Arc<Shared>>) -> ApiResult<Json<ValidatorsAnswer>> {
    let view = shared.view();
    let ledger = &view.ledger;
    let (height, state, history) = (ledger.height(), ledger.consensus_state().clone(), ledger.set_history().to_vec());
    // Each later set took effect at `from`; block `from - 1` committed it, certified by
    // the set before: the chain of changes a light client follows from genesis.
    let mut changes = Vec::new();
    for (from, next) in history.into_iter().skip(1) {
        let at = Height(from.0.saturating_sub(1));
        let cb = shared
            .store
            .block(at)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal(format!("block {at} that changed the set is not stored")))?;
        changes.push(SetChange { certified: CertifiedHeader { header: cb.block.header, cert: cb.cert }, next });
    }
    let proof = ValidatorsProof {
        height,
        validators_bcs: to_bytes(&state.validators).into(),
        changes_bcs: to_bytes(&changes).into(),
    };
    Ok(Json(ValidatorsAnswer {
        hash: state.validators.hash(),
        mode: state.mode,
        validators: state.validators,
        jailed: state.jailed,
        genesis_validator_set_hash: shared.genesis.validators.hash(),
        proof,
    }))
}

async fn get_status(State(shared): State<Arc<Shared>>) -> Json<NodeStatus> {
    let view = shared.view();
    let status = &view.status;
    let ledger = &view.ledger;
    Json(NodeStatus {
        name: shared.name.clone(),
        node_id: shared.keys.id(),
        chain_id: shared.chain_id().clone(),
        height: shared.durable_height(),
        mode: status.mode,
        view: status.view,
        mempool_txs: status.mempool_len as u64,
        jailed: ledger.consensus_state().jailed.clone(),
        peers_connected: shared.network.connected_peers(),
        fault_injection: shared.byzantine_receipts,
    })
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let gauges = {
        let view = shared.view();
        let status = &view.status;
        Gauges {
            height: shared.durable_height().0,
            bft_mode: status.mode == ConsensusMode::Bft,
            mempool_txs: status.mempool_len,
            peers_connected: shared.network.connected_peers().len(),
            dropped_frames: shared.network.dropped_frames.load(std::sync::atomic::Ordering::Relaxed),
            jailed: view.ledger.consensus_state().jailed.len(),
        }
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], shared.metrics.render(&gauges))
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(e: ApiError) -> (StatusCode, vigil_api::ErrorBody) {
        let response = e.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// A fault of the node tells the client nothing of it: the text (a path, a database
    /// error) goes to the node's log only.
    #[tokio::test]
    async fn a_500_is_opaque() {
        let (status, body) = body_of(ApiError::internal("redb: /var/lib/vigil/vigil.redb: I/O error")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body.error.code, ErrorCode::Internal);
        assert_eq!(body.error.message, INTERNAL_MESSAGE);
        assert!(!body.error.message.contains("redb"));
    }

    /// A rejected transaction's code fixes the status, as `vigil_api` lists it.
    #[tokio::test]
    async fn a_rejection_answers_its_code_with_its_status() {
        let (status, body) = body_of(Rejection::Duplicate.into()).await;
        assert_eq!((status, body.error.code), (StatusCode::CONFLICT, ErrorCode::Duplicate));
        let (status, body) = body_of(Rejection::MempoolFull.into()).await;
        assert_eq!((status, body.error.code), (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::MempoolFull));
    }
}
