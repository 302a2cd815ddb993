//! Checkpoints at the node: `GET /v1/checkpoints/latest`, the newest stable checkpoint
//! this node gathered (the digest, the quorum's signatures and the set that signed it),
//! from the published view. The digests themselves are computed off the consensus
//! thread (`service::NodeEnv::compute_checkpoint`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_api::{CheckpointAnswer, CheckpointProof, ErrorCode};
use vigil_core::consensus::NodeView;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{Hash32, StableCheckpoint};

use crate::api::{ApiError, ApiResult};
use crate::openapi::error_doc;
use crate::service::Shared;

pub fn routes() -> Router<Arc<Shared>> {
    let routes =
        Router::new().route("/v1/checkpoints/latest", get(latest)).route("/v1/checkpoints/{hash}", get(by_hash));
    crate::api::body_limit(routes, crate::api::API_BODY_MAX_BYTES)
}

async fn latest(State(shared): State<Arc<Shared>>) -> ApiResult<Json<CheckpointAnswer>> {
    let view = shared.view();
    let checkpoint = view.checkpoint.as_ref().ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound, "no stable checkpoint yet: validators make one every few blocks")
    })?;
    answer(&view, checkpoint)
}

/// One of the newest stable checkpoints, by its digest's hash (what a user pins).
async fn by_hash(State(shared): State<Arc<Shared>>, Path(hash): Path<String>) -> ApiResult<Json<CheckpointAnswer>> {
    let hash: Hash32 =
        hash.parse().map_err(|_| ApiError::new(ErrorCode::Malformed, "a checkpoint's digest hash is 64 hex digits"))?;
    let view = shared.view();
    let checkpoint = view.checkpoints.iter().rev().find(|c| c.digest.hash() == hash).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            "this node keeps no stable checkpoint of that digest (it keeps the newest ones only): pin a newer one",
        )
    })?;
    answer(&view, checkpoint)
}

fn answer(view: &NodeView, checkpoint: &StableCheckpoint) -> ApiResult<Json<CheckpointAnswer>> {
    let height = checkpoint.digest.height;
    let set = view.ledger.set_history().iter().rev().find(|(from, _)| *from <= height.next()).map(|(_, set)| set);
    let set = set.ok_or_else(|| ApiError::internal(format!("no validator set for height {}", height.next())))?;
    Ok(Json(CheckpointAnswer {
        height,
        digest_hash: checkpoint.digest.hash(),
        digest: checkpoint.digest.clone(),
        signers: checkpoint.signer_ids(set).collect(),
        proof: CheckpointProof { checkpoint_bcs: to_bytes(checkpoint).into(), validators_bcs: to_bytes(set).into() },
    }))
}

/// This module's routes in the OpenAPI document (`crate::openapi`).
pub fn openapi_paths() -> Value {
    json!({
        "/v1/checkpoints/latest": { "get": {
            "summary": "The newest stable checkpoint this node gathered: the digest of the chain's data at a checkpoint height (block hash, state root, the root of the state snapshot's chunks, the next height's validator set and mode), signed by a quorum of that set",
            "responses": {
                "200": { "description": "`height`, `digest_hash`, `digest`, `signers`, `checkpoint_bcs` (BCS StableCheckpoint), `validators_bcs` (BCS ValidatorSet that signed it)" },
                "404": error_doc("NOT_FOUND (no stable checkpoint yet)")
            }
        }},
        "/v1/checkpoints/{hash}": { "get": {
            "summary": "One of the newest stable checkpoints this node keeps, by the hash of its digest (what a user pins to start a light client from it)",
            "parameters": [{ "name": "hash", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9a-f]{64}$" } }],
            "responses": {
                "200": { "description": "as /v1/checkpoints/latest" },
                "400": error_doc("MALFORMED (not 64 hex digits)"),
                "404": error_doc("NOT_FOUND (not among the checkpoints this node keeps)")
            }
        }}
    })
}
