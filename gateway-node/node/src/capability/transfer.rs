//! Transfers at the node: `GET /v1/accounts/{address}`, an account's balance and nonce
//! with their proof against the certified header of the same height (transfers
//! themselves are submitted through `POST /v1/tx`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_api::{AccountAnswer, ErrorCode};
use vigil_protocol::{Address, StateKey};

use crate::api::{proven_state, ApiError, ApiResult};
use crate::openapi::error_doc;
use crate::service::Shared;

pub fn routes() -> Router<Arc<Shared>> {
    crate::api::body_limit(
        Router::new().route("/v1/accounts/{address}", get(get_account)),
        crate::api::API_BODY_MAX_BYTES,
    )
}

async fn get_account(State(shared): State<Arc<Shared>>, Path(address): Path<String>) -> ApiResult<Json<AccountAnswer>> {
    let address = Address::parse(&address).map_err(|e| ApiError::new(ErrorCode::BadAddress, e.to_string()))?;
    let (proven, account) = proven_state(&shared, &StateKey::Account(address), |l| l.account(&address))?;
    Ok(Json(AccountAnswer { address, balance: account.balance, nonce: account.nonce, proven }))
}

/// This module's routes in the OpenAPI document (`crate::openapi`).
pub fn openapi_paths() -> Value {
    json!({
        "/v1/accounts/{address}": { "get": {
                "summary": "Balance and nonce with a Merkle proof against the certified header of the same height",
                "parameters": [{ "name": "address", "in": "path", "required": true, "schema": { "type": "string", "description": "bech32m, vigil1…" } }],
                "responses": { "200": { "description": "Account state, `proof_bcs` (StateProof), `certified_header_bcs`" }, "400": error_doc("BAD_ADDRESS") }
            }}
    })
}
