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
//!
//! Routes by module: [`tx`] (submit a transaction, a committed one's receipt),
//! [`chain`] (certified blocks, receipt proofs, the validator set and its changes,
//! status), here any state entry with its proof, and each capability's own routes
//! ([`crate::capability::routes`]).

pub mod batch;
pub mod chain;
pub mod tx;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use vigil_protocol::encoding::{from_bytes_limited, to_bytes};
use vigil_protocol::limits::TRANSACTION_SIZE_MAX_BYTES;
use vigil_protocol::{ConsensusMode, StateKey};

use crate::metrics::Gauges;
use crate::service::Shared;
use vigil_api::{
    ErrorCode, Hex, ProvenEntry, ProvenState, ProvenStates, StatesRequest, STATES_WAIT_MAX_MS, STATE_KEYS_MAX,
};
use vigil_core::consensus::Rejection;
use vigil_server::http::error_response;

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
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
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
    /// The code and message, as an answer carries them inside a larger one.
    pub(crate) fn detail(self) -> vigil_api::ErrorDetail {
        vigil_api::ErrorDetail { code: self.code, message: self.message }
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
            Rejection::InvalidCheckpoint(_) => ErrorCode::InvalidCheckpoint,
            Rejection::StaleCheckpoint => ErrorCode::StaleCheckpoint,
            Rejection::InvalidDkgPackage(_) => ErrorCode::InvalidDkgPackage,
            Rejection::InvalidCenterChange(_) => ErrorCode::InvalidCenterChange,
            Rejection::InvalidSignatureShare { .. } => ErrorCode::InvalidSignatureShare,
            Rejection::InvalidSigning(_) => ErrorCode::InvalidSigning,
            Rejection::InvalidCertRequest(_) => ErrorCode::InvalidCertRequest,
            Rejection::NoProofOfPossession => ErrorCode::NoProofOfPossession,
            Rejection::NotACenter => ErrorCode::NotACenter,
            Rejection::DuplicateVerdict { .. } => ErrorCode::DuplicateVerdict,
            Rejection::InvalidVerdict(_) => ErrorCode::InvalidVerdict,
            Rejection::InvalidCertAction(_) => ErrorCode::InvalidCertAction,
            Rejection::UnknownTable(_) => ErrorCode::UnknownTable,
            Rejection::InvalidTable(_) => ErrorCode::InvalidTable,
            Rejection::InvalidRow(_) => ErrorCode::InvalidRow,
            Rejection::DuplicateKey => ErrorCode::DuplicateKey,
            Rejection::MissingRow => ErrorCode::MissingRow,
            Rejection::NotTheWriter => ErrorCode::NotTheWriter,
            Rejection::BadRowSignature => ErrorCode::BadRowSignature,
            Rejection::WriteRefused(_) => ErrorCode::WriteRefused,
            Rejection::NoConnection(_) => ErrorCode::NoConnection,
            Rejection::ConnectionExists(_) => ErrorCode::ConnectionExists,
            Rejection::InvalidConnection(_) => ErrorCode::InvalidConnection,
            Rejection::BadHeader(_) => ErrorCode::BadHeader,
            Rejection::ClientFrozen(_) => ErrorCode::ClientFrozen,
            Rejection::ClientExpired(_) => ErrorCode::ClientExpired,
            Rejection::InvalidPacket(_) => ErrorCode::InvalidPacket,
            Rejection::BadPacketProof(_) => ErrorCode::BadPacketProof,
            Rejection::UnknownProofHeight { .. } => ErrorCode::UnknownProofHeight,
            Rejection::PacketAlreadyReceived => ErrorCode::PacketAlreadyReceived,
            Rejection::PacketNotPending => ErrorCode::PacketNotPending,
            Rejection::PacketTimedOut(_) => ErrorCode::PacketTimedOut,
            Rejection::UnknownTarget(_) => ErrorCode::UnknownTarget,
            Rejection::InvalidTarget(_) => ErrorCode::InvalidTarget,
            Rejection::InvalidTrade(_) => ErrorCode::InvalidTrade,
            Rejection::InvalidAudit(_) => ErrorCode::InvalidAudit,
            Rejection::ClaimsMismatch(_) => ErrorCode::ClaimsMismatch,
            Rejection::UnknownAudit(_) => ErrorCode::UnknownAudit,
            Rejection::NotACounterparty => ErrorCode::NotACounterparty,
            Rejection::DuplicateNotice => ErrorCode::DuplicateNotice,
            Rejection::WrongPeriod(_) => ErrorCode::WrongPeriod,
            Rejection::AuditClosed(_) => ErrorCode::AuditClosed,
        };
        Self::new(code, r.to_string())
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The public routes: this module's, [`tx`]'s, [`chain`]'s and every capability's.
pub fn router(shared: Arc<Shared>) -> Router {
    let own = Router::new()
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/state/{key}", get(get_state))
        .route("/v1/states", post(post_states))
        .route("/healthz", get(|| async { "ok" }));
    Router::new()
        .merge(body_limit(own.merge(tx::routes()).merge(chain::routes()), API_BODY_MAX_BYTES))
        .merge(body_limit(batch::routes(), batch::TX_BATCH_BODY_MAX_BYTES))
        .merge(crate::capability::routes())
        .fallback(vigil_server::http::no_route)
        .method_not_allowed_fallback(vigil_server::http::wrong_method)
        .with_state(shared)
}

/// `routes` with their bodies limited to `max` bytes as they stream (413 before any
/// handler runs).
pub(crate) fn body_limit(routes: Router<Arc<Shared>>, max: usize) -> Router<Arc<Shared>> {
    routes
        .layer(axum::middleware::from_fn_with_state(max, vigil_server::http::limit_body))
        .layer(DefaultBodyLimit::max(max))
}

/// The operator's routes, `/metrics` (Prometheus) and `/healthz`, for the loopback
/// admin listener only.
pub fn admin_router(shared: Arc<Shared>) -> Router {
    Router::new().route("/metrics", get(metrics)).route("/healthz", get(|| async { "ok" })).with_state(shared)
}

/// Largest request body: room for JSON's hex encoding of the largest BCS transaction.
pub(crate) const API_BODY_MAX_BYTES: usize = TRANSACTION_SIZE_MAX_BYTES * 3;

/// A state key's [`ProvenState`] at the committed height: what a light client needs to
/// check it against a certified header. `read` takes what else the caller wants from the
/// same ledger view.
pub(crate) fn proven_state<R>(
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

/// Several state entries (keys as BCS hex, at most [`STATE_KEYS_MAX`]), each with its
/// proof against the certified header of the one height they are all read at.
async fn post_states(
    State(shared): State<Arc<Shared>>,
    body: Result<Json<StatesRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<ProvenStates>> {
    let bad = |why: String| ApiError::new(ErrorCode::BadStateKey, why);
    let Json(request) = body.map_err(|e| ApiError::new(ErrorCode::Malformed, e.body_text()))?;
    if request.keys_bcs.len() > STATE_KEYS_MAX {
        return Err(bad(format!("at most {STATE_KEYS_MAX} keys a request; {} asked", request.keys_bcs.len())));
    }
    let keys = request
        .keys_bcs
        .iter()
        .map(|k| from_bytes_limited::<StateKey>(&k.0, 1024).map_err(|e| bad(e.to_string())))
        .collect::<ApiResult<Vec<_>>>()?;
    if let Some(after) = request.after {
        shared.published_above(after, std::time::Duration::from_millis(STATES_WAIT_MAX_MS)).await;
    }
    Ok(Json(prove_states(&shared, &keys)?))
}

/// `keys` each with its proof, and the certified header, from one published view: one
/// durable height.
pub(crate) fn prove_states(shared: &Shared, keys: &[StateKey]) -> ApiResult<ProvenStates> {
    prove_in(&shared.view(), keys)
}

/// `keys` each with its proof, and the certified header, from `view`.
pub(crate) fn prove_in(view: &vigil_core::consensus::NodeView, keys: &[StateKey]) -> ApiResult<ProvenStates> {
    let ledger = &view.ledger;
    let mut entries = Vec::with_capacity(keys.len());
    for key in keys {
        let (value, proof) = ledger.prove(key).map_err(ApiError::internal)?;
        entries.push(ProvenEntry {
            state_key_bcs: to_bytes(key).into(),
            value_bcs: value.map(Hex),
            proof_bcs: to_bytes(&proof).into(),
        });
    }
    Ok(ProvenStates {
        height: ledger.height(),
        entries,
        certified_header_bcs: view.header.as_ref().map(|h| to_bytes(h).into()),
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
            database_bytes: shared.store.file_bytes(),
            snapshot_bytes: shared.snapshots.stored_bytes(),
            pruned_below: shared.store.pruned_below().0,
        }
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], shared.metrics.render(&gauges))
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

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
