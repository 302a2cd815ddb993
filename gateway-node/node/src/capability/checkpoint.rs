//! Checkpoints at the node: `GET /v1/checkpoints/latest`, the newest stable checkpoint
//! this node gathered (the digest, the quorum's signatures and the set that signed it),
//! from the published view. The digests themselves are computed off the consensus
//! thread (`service::NodeEnv::compute_checkpoint`).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_api::{CheckpointAnswer, CheckpointProof, ErrorCode};
use vigil_protocol::encoding::to_bytes;

use crate::api::{ApiError, ApiResult};
use crate::openapi::error_doc;
use crate::service::Shared;

pub fn routes() -> Router<Arc<Shared>> {
    crate::api::body_limit(Router::new().route("/v1/checkpoints/latest", get(latest)), crate::api::API_BODY_MAX_BYTES)
}

async fn latest(State(shared): State<Arc<Shared>>) -> ApiResult<Json<CheckpointAnswer>> {
    let view = shared.view();
    let checkpoint = view.checkpoint.as_ref().ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound, "no stable checkpoint yet: validators make one every few blocks")
    })?;
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
        }}
    })
}
