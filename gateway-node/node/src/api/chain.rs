//! The chain itself: certified blocks (`/v1/blocks/{height}`), the receipt a block
//! certifies at a position with its proof (`/v1/blocks/{height}/receipts/{index}`), the
//! validator set with every certified change since genesis (`/v1/validators`), and this
//! node's status (`/v1/status`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_api::{
    BlockAnswer, BlockProof, ErrorCode, NodeStatus, ReceiptProof, ReceiptProofAnswer, ValidatorsAnswer, ValidatorsProof,
};
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{CertifiedHeader, Height};

use super::{ApiError, ApiResult};
use crate::openapi::error_doc;
use crate::service::Shared;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/blocks/{height}", get(get_block))
        .route("/v1/blocks/{height}/receipts/{index}", get(get_receipt_proof))
        .route("/v1/validators", get(get_validators))
        .route("/v1/status", get(get_status))
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

async fn get_validators(State(shared): State<Arc<Shared>>) -> ApiResult<Json<ValidatorsAnswer>> {
    let view = shared.view();
    let ledger = &view.ledger;
    let (height, state) = (ledger.height(), ledger.consensus_state().clone());
    // Each later set took effect at `from`; block `from - 1` committed it, certified by
    // the set before: the chain of changes a light client follows from genesis.
    let changes = shared.store.set_changes(ledger.set_history()).map_err(ApiError::internal)?;
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
        recovering: status.recovering,
        abstains_through: status.abstain_through,
    })
}

/// This module's routes in the OpenAPI document (`crate::openapi`).
pub fn openapi_paths() -> Value {
    json!({
        "/v1/blocks/{height}": { "get": {
                "summary": "A committed block's header with its quorum certificate",
                "parameters": [{ "name": "height", "in": "path", "required": true, "schema": { "type": "string", "description": "a number or `latest`" } }],
                "responses": { "200": { "description": "Certified header (`certified_header_bcs` is a BCS CertifiedHeader; `justification_bcs`, for a Fast block, the BCS Justification of its certified proposal, else null)" }, "404": error_doc("NOT_FOUND") }
            }},
        "/v1/blocks/{height}/receipts/{index}": { "get": { "summary": "The receipt entry the block certifies at this position, with its Merkle proof against the header's receipts root (for ReceiptContradictsBlock evidence)", "parameters": [{ "name": "height", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 0 } }, { "name": "index", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 0 } }], "responses": { "200": { "description": "entry, entry_bcs, proof_bcs, certified_header_bcs" }, "404": { "description": "No such block or position" } } } },
        "/v1/validators": { "get": { "summary": "Active validator set (Ed25519 consensus and X25519 encryption keys), mode, jailed validators, and `changes_bcs`: every set change since genesis as BCS Vec<SetChange> (the certified header that committed it and the new set), for light clients to follow", "responses": { "200": { "description": "Validator set" } } } },
        "/v1/status": { "get": { "summary": "Height (the last committed block on this node's disk: `/v1/blocks/{height}` serves it), mode, view, mempool, jailed validators, connected peers; whether it is recovering from its peers, and the height it abstains through once restored", "responses": { "200": { "description": "Status" } } } }
    })
}
