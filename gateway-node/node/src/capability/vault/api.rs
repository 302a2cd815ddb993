//! The vault's node API: `POST /v1/vault/store` and `POST /v1/vault/fetch`, each a BCS
//! request signed by the key registered on chain for its user id and address.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use vigil_protocol::encoding::{from_bytes_limited, to_bytes};
use vigil_protocol::vault::REQUEST_WINDOW_MS;
use vigil_protocol::{
    FetchRequest, FragmentRef, PublicKey, RequestBinding, StateKey, StoreRequest, UserRecord, VaultConfig,
};

use super::{FragmentStoreError, Replay, ShardKey};
use crate::api::{ApiError, ApiResult};
use crate::openapi::error_doc;
use crate::service::Shared;
use serde_json::{json, Value};
use vigil_api::ErrorCode;

/// Largest store request (shards of up to 1 MiB in all, plus their envelope).
pub const VAULT_BODY_MAX_BYTES: usize = 1024 * 1024 + 4096;
/// Shard bytes one request may carry or ask for.
const SHARD_BYTES_PER_REQUEST: u64 = 1024 * 1024;

pub fn routes() -> Router<Arc<Shared>> {
    crate::api::body_limit(
        Router::new().route("/v1/vault/store", post(store)).route("/v1/vault/fetch", post(fetch)),
        VAULT_BODY_MAX_BYTES,
    )
}

fn bad(code: ErrorCode, why: impl Into<String>) -> ApiError {
    ApiError::new(code, why)
}

/// A request is for this chain and this node, made within the window of this node's
/// clock, and not seen before.
fn check_binding(shared: &Shared, b: &RequestBinding, signer: &PublicKey) -> ApiResult<()> {
    if b.chain_id != shared.genesis.chain_id {
        return Err(bad(ErrorCode::WrongChain, format!("the request is for chain `{}`", b.chain_id)));
    }
    if b.node != shared.keys.id() {
        return Err(ApiError::new(
            ErrorCode::WrongNode,
            format!("the request is signed for node {}, this is {}", b.node, shared.keys.id()),
        ));
    }
    let now = vigil_server::now_ms();
    if now.abs_diff(b.issued_ms) > REQUEST_WINDOW_MS {
        return Err(ApiError::new(
            ErrorCode::StaleRequest,
            "the request's time is more than 10 minutes from this node's clock; check the device clock",
        ));
    }
    match shared.vault_seen.admit(b.issued_ms, signer.to_bytes(), b.nonce, now) {
        Ok(()) => Ok(()),
        Err(Replay::Seen) => Err(ApiError::new(
            ErrorCode::ReplayedRequest,
            "this request was already served; sign a new one (a fresh nonce)",
        )),
        Err(Replay::Full) => Err(ApiError::new(ErrorCode::Busy, "too many vault requests; retry later")),
    }
}

/// The chain's vault configuration, once `at` names a user id registered to
/// `at.owner` with `signer`'s key.
/// Also returns the node the chain's assignment rule names for `at`'s shard index
/// (read under the same lock).
fn authenticate(
    shared: &Shared,
    at: &FragmentRef,
    signer: &PublicKey,
) -> ApiResult<(VaultConfig, Option<vigil_protocol::NodeId>)> {
    let view = shared.view();
    let ledger = &view.ledger;
    let Some(user) = ledger.state::<UserRecord>(&StateKey::User(at.user_id.clone())) else {
        return Err(ApiError::new(
            ErrorCode::UnknownUser,
            format!("user id `{}` is not registered; register it with a RegisterUser transaction", at.user_id),
        ));
    };
    if user.account != at.owner || user.key != *signer {
        return Err(ApiError::new(
            ErrorCode::WrongUser,
            format!("user id `{}` is registered to another account or key", at.user_id),
        ));
    }
    let cfg = ledger.state::<VaultConfig>(&StateKey::VaultConfig).unwrap_or_default();
    if at.index >= cfg.fragments {
        return Err(bad(
            ErrorCode::BadFragment,
            format!("fragment index {} is not below n = {}", at.index, cfg.fragments),
        ));
    }
    let assigned =
        cfg.stores(&at.object_id, ledger.validators()).ok().and_then(|s| s.get(usize::from(at.index)).copied());
    Ok((cfg, assigned))
}

/// Shards of `shard_bytes` one request may carry or ask for (also between stores).
pub(super) fn most_per_request(shard_bytes: u32) -> u32 {
    (SHARD_BYTES_PER_REQUEST / u64::from(shard_bytes.max(1))).max(1) as u32
}

fn store_error(e: FragmentStoreError) -> ApiError {
    match e {
        FragmentStoreError::Quota { .. } => ApiError::new(ErrorCode::QuotaExceeded, e.to_string()),
        FragmentStoreError::Unavailable(_) | FragmentStoreError::Objects(_) => {
            tracing::warn!(error = %e, "vault: fragment store");
            ApiError::new(
                ErrorCode::StoreUnavailable,
                "this node's fragment store is unavailable: nothing was stored; try again later or another node",
            )
        }
        e => ApiError::internal(e),
    }
}

async fn store(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult<Json<vigil_api::VaultStored>> {
    let req: StoreRequest =
        from_bytes_limited(&body, VAULT_BODY_MAX_BYTES).map_err(|e| bad(ErrorCode::Malformed, e.to_string()))?;
    req.verify().map_err(|_| bad(ErrorCode::BadSignature, "the store request's signature does not verify"))?;
    let (cfg, assigned) = authenticate(&shared, &req.at, &req.signer)?;
    // Only the node the chain's assignment rule names for this shard index stores it.
    if assigned != Some(shared.keys.id()) {
        return Err(ApiError::new(
            ErrorCode::WrongStore,
            format!("shard {} of this object is not assigned to this node", req.at.index),
        ));
    }
    check_binding(&shared, &req.binding, &req.signer)?;
    let count = req.shards.len() as u64;
    let most = u64::from(most_per_request(cfg.shard_bytes));
    if count == 0 || count > most {
        return Err(bad(ErrorCode::BadFragment, format!("send 1 to {most} shards per request")));
    }
    if req.shards.iter().any(|s| s.len() != cfg.shard_bytes as usize) {
        return Err(bad(ErrorCode::BadFragment, format!("every shard must be {} bytes", cfg.shard_bytes)));
    }
    let last = u64::from(req.at.first_stripe) + count;
    if last > cfg.stripes(cfg.object_bytes_max) {
        return Err(bad(ErrorCode::BadFragment, "stripe beyond the largest object the chain allows"));
    }
    let first =
        ShardKey { owner: req.at.owner, object_id: req.at.object_id, index: req.at.index, stripe: req.at.first_stripe };
    shared.vault.put(first, &req.shards, cfg.quota_bytes_per_account).await.map_err(store_error)?;
    let hashes: Vec<_> = req.shards.iter().map(|s| vigil_protocol::vault::fragment_hash(s)).collect();
    Ok(Json(vigil_api::VaultStored { stored: count, hashes }))
}

async fn fetch(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let req: FetchRequest = from_bytes_limited(&body, 4096).map_err(|e| bad(ErrorCode::Malformed, e.to_string()))?;
    req.verify().map_err(|_| bad(ErrorCode::BadSignature, "the fetch request's signature does not verify"))?;
    let (cfg, _) = authenticate(&shared, &req.at, &req.signer)?;
    check_binding(&shared, &req.binding, &req.signer)?;
    let count = req.count.clamp(1, most_per_request(cfg.shard_bytes));
    let first =
        ShardKey { owner: req.at.owner, object_id: req.at.object_id, index: req.at.index, stripe: req.at.first_stripe };
    let shards = shared.vault.get(first, count).await.map_err(store_error)?;
    if shards.is_empty() {
        return Err(ApiError::new(ErrorCode::NotFound, "this node holds no such fragment"));
    }
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], to_bytes(&shards)).into_response())
}

/// This module's routes in the OpenAPI document (`crate::openapi`).
pub fn openapi_paths() -> Value {
    json!({
        "/v1/vault/store": { "post": {
                "summary": "Store shards of a vault object (a BCS StoreRequest signed by the key registered on chain for its user)",
                "requestBody": { "content": { "application/octet-stream": {} } },
                "responses": { "200": { "description": "Stored" }, "400": error_doc("BAD_FRAGMENT, BAD_SIGNATURE or WRONG_CHAIN"), "403": error_doc("QUOTA_EXCEEDED"), "503": error_doc("BUSY or STORE_UNAVAILABLE") }
            }},
        "/v1/vault/fetch": { "post": {
                "summary": "Fetch shards of a vault object (a BCS FetchRequest signed by the key registered on chain for its user)",
                "requestBody": { "content": { "application/octet-stream": {} } },
                "responses": { "200": { "description": "The shards, BCS" }, "400": error_doc("BAD_FRAGMENT, BAD_SIGNATURE or WRONG_CHAIN"), "404": error_doc("NOT_FOUND"), "503": error_doc("BUSY or STORE_UNAVAILABLE") }
            }}
    })
}
