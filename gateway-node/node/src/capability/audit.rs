//! Audits at the node (SPEC C6, patent 7): the records of the target objects this node
//! holds, kept in its own database (`records.redb`), never on chain. A target's owner
//! uploads runs of signed records (`POST /v1/audit/records`): the node keeps them only
//! for a target registered on chain with this node as holder, in order, each signed by
//! the target's owner. Anyone reads them back (`GET /v1/audit/records/{target}/
//! {dimension}?from=&count=`), and checks them against the digests an audit put on chain.
//! Audits themselves, trades and notices are transactions (`POST /v1/tx`), their state
//! read through `/v1/states`.

use std::path::Path as FsPath;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::{json, Value};
use vigil_api::{ErrorCode, Hex, RecordsAnswer, RecordsStored};
use vigil_protocol::audit::{Dimension, RecordUpload, SignedRecord, Target, TargetId};
use vigil_protocol::encoding::{from_bytes_limited, to_bytes};
use vigil_protocol::limits::{RECORDS_PER_READ_MAX, RECORDS_PER_UPLOAD_MAX};
use vigil_protocol::StateKey;

use crate::api::{ApiError, ApiResult};
use crate::openapi::error_doc;
use crate::service::Shared;

/// The records' database in the node's data directory.
pub const RECORDS_FILE: &str = "records.redb";
/// Largest upload: the most records a run carries, each with its memo and signature.
pub const RECORDS_BODY_MAX_BYTES: usize = RECORDS_PER_UPLOAD_MAX * 512 + 1024;

/// (target, dimension, seq) → BCS `SignedRecord`.
const RECORDS: TableDefinition<([u8; 32], u8, u64), &[u8]> = TableDefinition::new("audit_records");
/// (target, dimension) → how many records are kept.
const COUNTS: TableDefinition<([u8; 32], u8), u64> = TableDefinition::new("audit_record_counts");

/// Why a run of records is not kept.
#[derive(Debug, thiserror::Error)]
pub enum RecordStoreError {
    #[error(transparent)]
    Record(#[from] vigil_protocol::audit::RecordError),
    #[error("the records database: {0}")]
    Database(String),
}

fn db_error<E: std::fmt::Display>(e: E) -> RecordStoreError {
    RecordStoreError::Database(e.to_string())
}

/// The records this node keeps, in its own redb file.
pub struct RecordStore {
    db: redb::Database,
}

impl RecordStore {
    pub fn open(data_dir: &FsPath) -> Result<RecordStore, RecordStoreError> {
        let db = redb::Database::create(data_dir.join(RECORDS_FILE)).map_err(db_error)?;
        let w = db.begin_write().map_err(db_error)?;
        w.open_table(RECORDS).map_err(db_error)?;
        w.open_table(COUNTS).map_err(db_error)?;
        w.commit().map_err(db_error)?;
        Ok(RecordStore { db })
    }

    /// How many records of `target`'s `dimension` are kept.
    pub fn count(&self, target: &TargetId, dimension: Dimension) -> Result<u64, RecordStoreError> {
        let r = self.db.begin_read().map_err(db_error)?;
        let counts = r.open_table(COUNTS).map_err(db_error)?;
        Ok(counts.get((target.0 .0, dimension.index() as u8)).map_err(db_error)?.map_or(0, |v| v.value()))
    }

    /// Appends `records` (checked: one target and dimension, well formed, signed by
    /// `owner`, following on from those kept) in one write; the count kept after.
    pub fn append(&self, records: &[SignedRecord], owner: &vigil_protocol::PublicKey) -> Result<u64, RecordStoreError> {
        let Some(first) = records.first() else { return Ok(0) };
        let (target, dimension) = (first.record.target, first.record.dimension);
        for r in records {
            r.record.check()?;
        }
        SignedRecord::verify_all(records, owner)?;
        let key = (target.0 .0, dimension.index() as u8);
        // One write transaction at a time (redb): the count read is the count written after.
        let w = self.db.begin_write().map_err(db_error)?;
        let total = {
            let mut counts = w.open_table(COUNTS).map_err(db_error)?;
            let kept = counts.get(key).map_err(db_error)?.map_or(0, |v| v.value());
            vigil_protocol::audit::DataDigest::of(kept, records)?;
            let mut table = w.open_table(RECORDS).map_err(db_error)?;
            for r in records {
                table.insert((key.0, key.1, r.record.seq), to_bytes(r).as_slice()).map_err(db_error)?;
            }
            let total = kept + records.len() as u64;
            counts.insert(key, total).map_err(db_error)?;
            total
        };
        w.commit().map_err(db_error)?;
        Ok(total)
    }

    /// Up to `count` records of `target`'s `dimension` from `from`.
    pub fn read(
        &self,
        target: &TargetId,
        dimension: Dimension,
        from: u64,
        count: u64,
    ) -> Result<Vec<SignedRecord>, RecordStoreError> {
        let r = self.db.begin_read().map_err(db_error)?;
        let table = r.open_table(RECORDS).map_err(db_error)?;
        let (t, d) = (target.0 .0, dimension.index() as u8);
        let end = from.saturating_add(count);
        let mut out = Vec::new();
        for entry in table.range((t, d, from)..(t, d, end)).map_err(db_error)? {
            let (_, v) = entry.map_err(db_error)?;
            out.push(vigil_protocol::encoding::from_bytes(v.value()).map_err(db_error)?);
        }
        Ok(out)
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    crate::api::body_limit(
        Router::new()
            .route("/v1/audit/records", post(upload))
            .route("/v1/audit/records/{target}/{dimension}", get(read_records)),
        RECORDS_BODY_MAX_BYTES,
    )
}

fn bad_record(why: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRecord, why)
}

fn store_error(e: RecordStoreError) -> ApiError {
    match e {
        RecordStoreError::Record(e) => bad_record(e.to_string()),
        e @ RecordStoreError::Database(_) => {
            tracing::warn!(error = %e, "audit: records database");
            ApiError::new(
                ErrorCode::StoreUnavailable,
                "this node's records database is unavailable: nothing was kept; try again later",
            )
        }
    }
}

/// The target `id`, registered on chain with this node as its holder.
fn held_target(shared: &Shared, id: &TargetId) -> ApiResult<Target> {
    let target: Target = shared
        .view()
        .ledger
        .state(&StateKey::Target(*id))
        .ok_or_else(|| ApiError::new(ErrorCode::UnknownTarget, format!("no target object has id {id}")))?;
    if target.holder != shared.keys.id() {
        return Err(ApiError::new(
            ErrorCode::NotTheHolder,
            format!("node {} keeps this target's records, not this node", target.holder),
        ));
    }
    Ok(target)
}

async fn upload(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult<Json<RecordsStored>> {
    let upload: RecordUpload = from_bytes_limited(&body, RECORDS_BODY_MAX_BYTES)
        .map_err(|e| ApiError::new(ErrorCode::BadBody, format!("not a BCS RecordUpload: {e}")))?;
    if upload.records.is_empty() || upload.records.len() > RECORDS_PER_UPLOAD_MAX {
        return Err(bad_record(format!("send 1 to {RECORDS_PER_UPLOAD_MAX} records at a time")));
    }
    let first = &upload.records[0].record;
    let target = held_target(&shared, &first.target)?;
    let stored = tokio::task::block_in_place(|| shared.records.append(&upload.records, &target.owner_key));
    let n = upload.records.len() as u64;
    let counter =
        if stored.is_ok() { &shared.metrics.audit_records_kept } else { &shared.metrics.audit_records_refused };
    counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    Ok(Json(RecordsStored { stored: stored.map_err(store_error)? }))
}

/// `?from=&count=` of a read.
#[derive(serde::Deserialize)]
struct Range {
    #[serde(default)]
    from: u64,
    count: Option<u64>,
}

async fn read_records(
    State(shared): State<Arc<Shared>>,
    Path((target, dimension)): Path<(String, String)>,
    Query(range): Query<Range>,
) -> ApiResult<Json<RecordsAnswer>> {
    let id: TargetId =
        target.parse().map_err(|_| ApiError::new(ErrorCode::UnknownTarget, "a target id is 64 hex digits"))?;
    let dimension = match dimension.as_str() {
        "first" => Dimension::First,
        "second" => Dimension::Second,
        other => return Err(bad_record(format!("the dimension is `first` or `second`, not `{other}`"))),
    };
    held_target(&shared, &id)?;
    let count = range.count.unwrap_or(RECORDS_PER_READ_MAX as u64).min(RECORDS_PER_READ_MAX as u64);
    let store = &shared.records;
    let (records, total) = tokio::task::block_in_place(|| {
        Ok::<_, RecordStoreError>((store.read(&id, dimension, range.from, count)?, store.count(&id, dimension)?))
    })
    .map_err(store_error)?;
    Ok(Json(RecordsAnswer { from: range.from, records_bcs: Hex(to_bytes(&records)), total }))
}

/// This module's routes in the OpenAPI document (`crate::openapi`).
pub fn openapi_paths() -> Value {
    json!({
        "/v1/audit/records": { "post": {
            "summary": "Keep a run of a target object's records (this node must be its holder; each signed by its owner, following on from those kept)",
            "requestBody": { "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary", "description": "BCS RecordUpload" } } } },
            "responses": {
                "200": { "description": "`stored`: how many records of the dimension this node keeps now" },
                "400": error_doc("BAD_RECORD"), "404": error_doc("UNKNOWN_TARGET"), "409": error_doc("NOT_THE_HOLDER"),
                "503": error_doc("STORE_UNAVAILABLE")
            }
        }},
        "/v1/audit/records/{target}/{dimension}": { "get": {
            "summary": "A run of a target object's records as this node keeps them (unproven: check each signature, and the run against the digest an audit holds)",
            "parameters": [
                { "name": "target", "in": "path", "required": true, "schema": { "type": "string", "description": "64 hex digits" } },
                { "name": "dimension", "in": "path", "required": true, "schema": { "type": "string", "enum": ["first", "second"] } },
                { "name": "from", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0 } },
                { "name": "count", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0, "maximum": RECORDS_PER_READ_MAX } }
            ],
            "responses": {
                "200": { "description": "`records_bcs` (BCS Vec<SignedRecord>), `from`, `total` kept" },
                "400": error_doc("BAD_RECORD"), "404": error_doc("UNKNOWN_TARGET"), "409": error_doc("NOT_THE_HOLDER")
            }
        }}
    })
}
