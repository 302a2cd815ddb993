//! Tables at the node: every read comes with what proves it against one certified header.
//!
//! - `GET /v1/tables`: the tables' names (`TableNames`).
//! - `GET /v1/tables/{name}`: the table's record — owner, schema versions — and ordered
//!   root (`Table`, `TableRoot`).
//! - `GET /v1/tables/{name}/rows/{key}`: one row by its encoded primary key (hex), present
//!   or proven absent (`Table`, `Row`: no entry, or a delete as the key's latest write).
//! - `GET /v1/tables/{name}/rows/{key}/history?before=n`: a key's versions, deletes
//!   included, the newest
//!   [`HISTORY_PAGE_MAX`](vigil_protocol::tables::record::HISTORY_PAGE_MAX) below `n` (`Table`, `Row` — the latest
//!   write and the count —, the `RowVersion`s of the page before the latest).
//! - `POST /v1/tables/{name}/scan`: a page of rows in key order with its range proof
//!   ([`ScanAnswer`]): the rows, the table's schema and root, and a proof that no row of
//!   the range the page covers was left out.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_api::{ErrorCode, HistoryQuery, ProvenStates, ScanAnswer, ScanRequest};
use vigil_core::consensus::NodeView;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::tables::ordered::ORDERED_KEY_LEN_MAX;
use vigil_protocol::tables::record::history_page;
use vigil_protocol::tables::{RowEntry, TableRecord, SCAN_LIMIT_MAX};
use vigil_protocol::StateKey;

use crate::api::{prove_in, prove_states, ApiError, ApiResult};
use crate::openapi::error_doc;
use crate::service::Shared;

pub fn routes() -> Router<Arc<Shared>> {
    let routes = Router::new()
        .route("/v1/tables", get(names))
        .route("/v1/tables/{name}", get(table))
        .route("/v1/tables/{name}/rows/{key}", get(row))
        .route("/v1/tables/{name}/rows/{key}/history", get(history))
        .route("/v1/tables/{name}/scan", post(scan));
    crate::api::body_limit(routes, crate::api::API_BODY_MAX_BYTES)
}

/// The table, or `UNKNOWN_TABLE`.
fn table_in(view: &NodeView, name: &str) -> ApiResult<TableRecord> {
    view.ledger.state(&StateKey::Table(name.to_owned())).ok_or_else(|| {
        ApiError::new(ErrorCode::UnknownTable, format!("no table is named `{name}`; GET /v1/tables lists them"))
    })
}

fn parse_key(key: &str) -> ApiResult<Vec<u8>> {
    hex::decode(key).ok().filter(|k| !k.is_empty() && k.len() <= ORDERED_KEY_LEN_MAX).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Malformed,
            format!("a row's key is its primary key's encoding in hex, 1 to {ORDERED_KEY_LEN_MAX} bytes"),
        )
    })
}

async fn names(State(shared): State<Arc<Shared>>) -> ApiResult<Json<ProvenStates>> {
    Ok(Json(prove_states(&shared, &[StateKey::TableNames])?))
}

async fn table(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> ApiResult<Json<ProvenStates>> {
    let view = shared.view();
    table_in(&view, &name)?;
    Ok(Json(prove_in(&view, &[StateKey::Table(name.clone()), StateKey::TableRoot(name)])?))
}

async fn row(
    State(shared): State<Arc<Shared>>,
    Path((name, key)): Path<(String, String)>,
) -> ApiResult<Json<ProvenStates>> {
    let key = parse_key(&key)?;
    let view = shared.view();
    table_in(&view, &name)?;
    Ok(Json(prove_in(&view, &[StateKey::Table(name.clone()), StateKey::Row(name, key)])?))
}

async fn history(
    State(shared): State<Arc<Shared>>,
    Path((name, key)): Path<(String, String)>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<ProvenStates>> {
    let key = parse_key(&key)?;
    let view = shared.view();
    table_in(&view, &name)?;
    let versions = view.ledger.state::<RowEntry>(&StateKey::Row(name.clone(), key.clone())).map_or(0, |e| e.versions);
    let mut keys = vec![StateKey::Table(name.clone()), StateKey::Row(name.clone(), key.clone())];
    keys.extend(history_page(versions, q.before).map(|n| StateKey::RowVersion(name.clone(), key.clone(), n)));
    Ok(Json(prove_in(&view, &keys)?))
}

async fn scan(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    body: Result<Json<ScanRequest>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<ScanAnswer>> {
    let Json(request) = body.map_err(|e| ApiError::new(ErrorCode::Malformed, e.body_text()))?;
    let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
    if limit == 0 || limit > SCAN_LIMIT_MAX {
        return Err(ApiError::new(ErrorCode::Malformed, format!("a page holds 1 to {SCAN_LIMIT_MAX} rows")));
    }
    let view = shared.view();
    table_in(&view, &name)?;
    let map = view.ledger.table_map(&name).ok_or_else(|| ApiError::internal("a table without its ordered map"))?;
    let (rows, _, proof) = map.scan(&request.range(), limit);
    let rows_bcs = rows
        .iter()
        .map(|(key, _)| {
            view.ledger
                .state::<RowEntry>(&StateKey::Row(name.clone(), key.clone()))
                .map(|e| to_bytes(&e.latest).into())
                .ok_or_else(|| ApiError::internal("a row of the ordered map is not in the state"))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let proven = prove_in(&view, &[StateKey::Table(name.clone()), StateKey::TableRoot(name)])?;
    Ok(Json(ScanAnswer { proven, rows_bcs, proof_bcs: to_bytes(&proof).into() }))
}

/// This module's routes in the OpenAPI document (`crate::openapi`).
pub fn openapi_paths() -> Value {
    let name = json!({ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } });
    let key = json!({ "name": "key", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^([0-9a-f]{2})+$" } });
    json!({
        "/v1/tables": { "get": {
            "summary": "Every table's name, proven (TableNames) against one certified header",
            "responses": { "200": { "description": "`entries` as POST /v1/states: TableNames" } }
        }},
        "/v1/tables/{name}": { "get": {
            "summary": "A table's record (owner, every schema version, deposit) and ordered root, proven",
            "parameters": [name],
            "responses": {
                "200": { "description": "as POST /v1/states: Table(name), TableRoot(name)" },
                "404": error_doc("UNKNOWN_TABLE")
            }
        }},
        "/v1/tables/{name}/rows/{key}": { "get": {
            "summary": "One row by its primary key (its order-preserving encoding, hex), present with its writer's signature or proven absent",
            "parameters": [name, key],
            "responses": {
                "200": { "description": "as POST /v1/states: Table(name), Row(name, key)" },
                "400": error_doc("MALFORMED (not a key)"),
                "404": error_doc("UNKNOWN_TABLE")
            }
        }},
        "/v1/tables/{name}/rows/{key}/history": { "get": {
            "summary": "A key's versions (inserts, updates, deletes, each signed, with the height that wrote it), the newest 64 below `before`",
            "parameters": [name, key, { "name": "before", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0 } }],
            "responses": {
                "200": { "description": "as POST /v1/states: Table(name), Row(name, key) (the latest write and the count), RowVersion(name, key, n) for each earlier version of the page" },
                "400": error_doc("MALFORMED (not a key)"),
                "404": error_doc("UNKNOWN_TABLE")
            }
        }},
        "/v1/tables/{name}/scan": { "post": {
            "summary": "A page of rows in key order with a proof that no row of its range was left out (the table's ordered root proven against one certified header, the range proof against that root)",
            "parameters": [name],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object",
                "required": ["limit"],
                "properties": {
                    "from": { "description": "{\"included\": hex} or {\"excluded\": hex}; absent: from the first row" },
                    "to": { "description": "{\"included\": hex} or {\"excluded\": hex}; absent: to the last row" },
                    "limit": { "type": "integer", "minimum": 1, "maximum": 256 }
                } } } } },
            "responses": {
                "200": { "description": "`rows_bcs` (BCS StoredRow each, key order), `proof_bcs` (BCS RangeProof), `proven` (Table(name), TableRoot(name))" },
                "400": error_doc("MALFORMED (a limit outside 1..=256, a bound that is not hex)"),
                "404": error_doc("UNKNOWN_TABLE")
            }
        }}
    })
}
