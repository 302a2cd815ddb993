//! Each capability's part of the node, one module each: its API routes, their place in
//! the OpenAPI document, and whatever the node keeps for it beside the chain.
//!
//! | module | routes | keeps |
//! |---|---|---|
//! | [`transfer`] | `GET /v1/accounts/{address}` (proven balance and nonce) | |
//! | [`certs`] | `GET /v1/certs/root.pem` (the consortium's root), `GET /v1/certs/{serial}`, `GET /v1/certs/by-key/{key}` (certificates with their proofs) | |
//! | [`tables`] | `GET /v1/tables`, `GET /v1/tables/{name}`, `GET /v1/tables/{name}/rows/{key}` (and `/history`), `POST /v1/tables/{name}/scan` (a page with its range proof) | (each table's ordered map is the ledger's, in its published view) |
//! | [`checkpoint`] | `GET /v1/checkpoints/latest` | (the stable checkpoint is the consensus thread's, in its published view) |
//! | [`vault`] | `POST /v1/vault/store`, `POST /v1/vault/fetch` | the fragment store (redb or an object store), replay guard |
//! | [`audit`] | `POST /v1/audit/records`, `GET /v1/audit/records/{target}/{dimension}` | the records of the targets it holds (`records.redb`) |
//!
//! Fault evidence has no route of its own: it is submitted through `POST /v1/tx` like
//! every transaction, and its effect (the jailed validator, the Bft mode, the certified
//! set change) is read at `/v1/validators` (`crate::api::chain`).
//!
//! A new capability is a module here and one line in [`routes`] and [`openapi_paths`].

use std::sync::Arc;

use axum::Router;
use serde_json::Value;

use crate::service::Shared;

pub mod audit;
pub mod certs;
pub mod checkpoint;
pub mod tables;
pub mod transfer;
pub mod vault;

/// Every capability's routes (each with its own body limit).
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .merge(transfer::routes())
        .merge(checkpoint::routes())
        .merge(certs::routes())
        .merge(tables::routes())
        .merge(vault::api::routes())
        .merge(audit::routes())
}

/// Every capability's routes in the OpenAPI document.
pub fn openapi_paths() -> Value {
    crate::openapi::merge_paths([
        transfer::openapi_paths(),
        checkpoint::openapi_paths(),
        certs::openapi_paths(),
        tables::openapi_paths(),
        vault::api::openapi_paths(),
        audit::openapi_paths(),
    ])
}
