//! Tables in the JS API: a table created from a schema, rows written as plain objects
//! (checked against the proven schema before they are signed, with the schema's
//! messages), rows read back — one by key, a page of a range scan, a key's history —
//! each result saying how it was verified (height, method, completeness for a scan);
//! `verifyRowProof`, `verifyScanProof` and `verifyRowSignature` check an answer or a
//! row offline.

use js_sys::Promise;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use vigil_api::ScanRequest;
use vigil_protocol::tables::{RowOp, TableSchema, SCAN_LIMIT_MAX};
use vigil_protocol::Address;

use super::{busy, error, key_error, to_js, wallet_error, VigilClient, Wallet};
use crate::session::tables::{verify_row_answer, verify_row_signature, verify_scan_answer, ScanBounds};

/// The TypeScript of this part of the API (emitted into the package's declarations).
#[wasm_bindgen(typescript_custom_section)]
const TABLE_TYPES: &str = r#"
/** A column's type. */
export type ColumnType =
  | 'bool' | 'u64' | 'i64' | 'string' | 'bytes' | 'address' | 'timestamp'
  | { decimal: { scale: number } };

/** One column and its constraints (`max_len` for string and bytes, `min`/`max` for numbers; a decimal's in its units). */
export interface Column {
  name: string;
  ty: ColumnType;
  nullable?: boolean;
  max_len?: number | null;
  min?: number | null;
  max?: number | null;
}

/** Who may write a table's rows: its owner, listed accounts (and the owner), or any key with a valid certificate. */
export type WritePolicy = 'Owner' | { Listed: string[] } | 'CertificateHolder';

/** A table's schema: `primary_key` holds positions in `columns`, in key order. */
export interface TableSchema {
  name: string;
  columns: Column[];
  primary_key: number[];
  policy: WritePolicy;
}

/**
 * A row as an object of column name → value: bool; a whole number (or its decimal string beyond 2^53)
 * for u64, i64 and timestamp (ms); text; hex for bytes; `vigil1…` for an address; a decimal as text
 * such as "12.50". A nullable column may be null or left out.
 */
export type RowObject = Record<string, boolean | number | string | null>;

/** A table as the chain holds it, proven (`VigilClient.table`). */
export interface TableView {
  name: string;
  owner: string;
  schema: TableSchema;
  versions: number;
  rows: number;
  /** The ordered root (hex) a scan is proven against. */
  root: string;
  created: number;
  height: number | null;
  method: string;
}

/** A row as read back, its writer's signature checked. */
export interface RowView {
  /** The primary key's encoding (hex). */
  key: string;
  values: RowObject;
  op: 'insert' | 'update' | 'delete';
  writer: string;
  writerAddress: string;
  signature: string;
  /** The height whose block wrote it. */
  written: number;
}

/** `VigilClient.getRow`: the row, or null when proven absent. */
export interface RowReport { table: string; row: RowView | null; height: number | null; method: string }

/** `VigilClient.scanRows`: a page proven complete for its range; `next` is the cursor of the next page. */
export interface ScanReport {
  table: string;
  rows: RowView[];
  complete: boolean;
  next: string | null;
  height: number | null;
  method: string;
}

/** `VigilClient.scanRows`' options: keys as objects of the key's columns, or `after` a page's `next`. */
export interface ScanOptions { from?: RowObject; to?: RowObject; after?: string; limit?: number }

/** `VigilClient.rowHistory`: a key's versions, oldest first, deletes included. */
export interface HistoryReport {
  table: string;
  key: string;
  total: number;
  first: number;
  versions: RowView[];
  height: number | null;
  method: string;
}
"#;

/// `scanRows`' options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanOptions {
    #[serde(default)]
    from: Option<Map<String, Json>>,
    #[serde(default)]
    to: Option<Map<String, Json>>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// Rows a page asks for unless told.
const SCAN_LIMIT_DEFAULT: u32 = 50;

/// A JS value read as `T` through its JSON.
fn from_js<T: DeserializeOwned>(value: &JsValue, what: &str) -> Result<T, JsValue> {
    let text = js_sys::JSON::stringify(value).map(String::from).unwrap_or_default();
    serde_json::from_slice(text.as_bytes()).map_err(|e| error("BAD_OPTIONS", format!("{what}: {e}")))
}

fn object(value: &JsValue, what: &str) -> Result<Map<String, Json>, JsValue> {
    from_js(value, what)
}

#[wasm_bindgen]
impl VigilClient {
    /// Every table's name, proven: `{ names, height, method }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{ names: string[]; height: number | null; method: string }>")]
    pub fn tables(&self) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let (names, v) = s.tables().await.map_err(wallet_error)?;
            to_js(&serde_json::json!({ "names": names, "height": v.height, "method": v.method }))
        })
    }

    /// A table's owner, schema in force and root, proven.
    #[wasm_bindgen(unchecked_return_type = "Promise<TableView>")]
    pub fn table(&self, name: String) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            let mut s = shared.try_hold().ok_or_else(busy)?;
            to_js(&s.table(&name).await.map_err(wallet_error)?)
        })
    }

    /// Creates a table owned by `wallet`'s account `index` (which pays its deposit).
    #[wasm_bindgen(js_name = createTable, unchecked_return_type = "Promise<unknown>")]
    pub fn create_table(
        &self,
        wallet: &Wallet,
        index: u32,
        #[wasm_bindgen(unchecked_param_type = "TableSchema")] schema: JsValue,
    ) -> Promise {
        self.schema_change(wallet, index, schema, false)
    }

    /// A new version of a table's schema (nullable columns added at the end), by its owner.
    #[wasm_bindgen(js_name = alterTable, unchecked_return_type = "Promise<unknown>")]
    pub fn alter_table(
        &self,
        wallet: &Wallet,
        index: u32,
        #[wasm_bindgen(unchecked_param_type = "TableSchema")] schema: JsValue,
    ) -> Promise {
        self.schema_change(wallet, index, schema, true)
    }

    fn schema_change(&self, wallet: &Wallet, index: u32, schema: JsValue, alter: bool) -> Promise {
        let shared = self.session.clone();
        let account = wallet.0.account(index);
        future_to_promise(async move {
            let account = account.map_err(key_error)?;
            let schema: TableSchema = from_js(&schema, "the schema")?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let r = match alter {
                true => s.alter_table(&account.key, schema).await,
                false => s.create_table(&account.key, schema).await,
            };
            to_js(&r.map_err(wallet_error)?)
        })
    }

    fn write(&self, wallet: &Wallet, index: u32, table: String, op: RowOp, row: JsValue) -> Promise {
        let shared = self.session.clone();
        let account = wallet.0.account(index);
        future_to_promise(async move {
            let account = account.map_err(key_error)?;
            let row = object(&row, "the row")?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            to_js(&s.write_row(&account.key, &table, op, &row).await.map_err(wallet_error)?)
        })
    }

    /// Inserts a row (an object of column → value) signed by `wallet`'s account `index`;
    /// checked against the proven schema first (`INVALID_ROW` naming the column,
    /// `DUPLICATE_KEY`, `WRITE_REFUSED`).
    #[wasm_bindgen(js_name = insertRow, unchecked_return_type = "Promise<unknown>")]
    pub fn insert_row(
        &self,
        wallet: &Wallet,
        index: u32,
        table: String,
        #[wasm_bindgen(unchecked_param_type = "RowObject")] row: JsValue,
    ) -> Promise {
        self.write(wallet, index, table, RowOp::Insert, row)
    }

    /// Replaces the row with the same key (`MISSING_ROW` if there is none).
    #[wasm_bindgen(js_name = updateRow, unchecked_return_type = "Promise<unknown>")]
    pub fn update_row(
        &self,
        wallet: &Wallet,
        index: u32,
        table: String,
        #[wasm_bindgen(unchecked_param_type = "RowObject")] row: JsValue,
    ) -> Promise {
        self.write(wallet, index, table, RowOp::Update, row)
    }

    /// Deletes the row with this key (an object of the key's columns).
    #[wasm_bindgen(js_name = deleteRow, unchecked_return_type = "Promise<unknown>")]
    pub fn delete_row(
        &self,
        wallet: &Wallet,
        index: u32,
        table: String,
        #[wasm_bindgen(unchecked_param_type = "RowObject")] key: JsValue,
    ) -> Promise {
        self.write(wallet, index, table, RowOp::Delete, key)
    }

    /// A row by its key (an object of the key's columns): present, its signature
    /// checked, or proven absent (`row: null`).
    #[wasm_bindgen(js_name = getRow, unchecked_return_type = "Promise<RowReport>")]
    pub fn get_row(&self, table: String, #[wasm_bindgen(unchecked_param_type = "RowObject")] key: JsValue) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            let key = object(&key, "the key")?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            to_js(&s.get_row(&table, &key).await.map_err(wallet_error)?)
        })
    }

    /// A page of rows in key order, proven complete for its range (`{ from?, to?, after?,
    /// limit? }`; `after` is the previous page's `next`).
    #[wasm_bindgen(js_name = scanRows, unchecked_return_type = "Promise<ScanReport>")]
    pub fn scan_rows(
        &self,
        table: String,
        #[wasm_bindgen(unchecked_param_type = "ScanOptions | undefined")] options: JsValue,
    ) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            let o: ScanOptions = if options.is_undefined() || options.is_null() {
                ScanOptions { from: None, to: None, after: None, limit: None }
            } else {
                from_js(&options, "the scan's options")?
            };
            let limit = o.limit.unwrap_or(SCAN_LIMIT_DEFAULT);
            if limit == 0 || limit as usize > SCAN_LIMIT_MAX {
                return Err(error("BAD_OPTIONS", format!("limit is 1 to {SCAN_LIMIT_MAX}")));
            }
            let after = o
                .after
                .map(|a| hex::decode(a).map_err(|_| error("BAD_OPTIONS", "after: a page's `next`")))
                .transpose()?;
            let bounds = ScanBounds { from: o.from, to: o.to, after };
            let mut s = shared.try_hold().ok_or_else(busy)?;
            to_js(&s.scan_rows(&table, &bounds, limit).await.map_err(wallet_error)?)
        })
    }

    /// A key's versions (a row's `key`, hex), the newest 64 below `before`.
    #[wasm_bindgen(js_name = rowHistory, unchecked_return_type = "Promise<HistoryReport>")]
    pub fn row_history(&self, table: String, key_hex: String, before: Option<u32>) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            let key = hex::decode(&key_hex).map_err(|_| error("BAD_OPTIONS", "a row's key is hex"))?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            to_js(&s.row_history(&table, &key, before).await.map_err(wallet_error)?)
        })
    }

    /// Checks a node's answer for one row (the JSON of `GET /v1/tables/{table}/rows/{key}`),
    /// offline: the row or its absence proven against the certified header, its
    /// signature checked; throws `BAD_PROOF` for a wrong proof.
    #[wasm_bindgen(js_name = verifyRowProof, unchecked_return_type = "RowReport")]
    pub fn verify_row_proof(&self, table: &str, key_hex: &str, answer_json: &str) -> Result<JsValue, JsValue> {
        let key = hex::decode(key_hex).map_err(|_| error("BAD_OPTIONS", "a row's key is hex"))?;
        let answer = serde_json::from_slice(answer_json.as_bytes()).map_err(|e| error("BAD_ANSWER", e))?;
        let mut s = self.session.try_hold().ok_or_else(busy)?;
        let r = verify_row_answer(&mut s.light, table, &key, answer);
        to_js(&r.map_err(wallet_error)?)
    }

    /// Checks a node's scan answer (the JSON of `POST /v1/tables/{table}/scan`) for the
    /// request that asked it (its JSON body), offline: throws `BAD_PROOF` for a page with
    /// a row left out, added, changed or moved.
    #[wasm_bindgen(js_name = verifyScanProof, unchecked_return_type = "ScanReport")]
    pub fn verify_scan_proof(&self, table: &str, request_json: &str, answer_json: &str) -> Result<JsValue, JsValue> {
        let request: ScanRequest =
            serde_json::from_slice(request_json.as_bytes()).map_err(|e| error("BAD_OPTIONS", e))?;
        let answer = serde_json::from_slice(answer_json.as_bytes()).map_err(|e| error("BAD_ANSWER", e))?;
        let mut s = self.session.try_hold().ok_or_else(busy)?;
        let r = verify_scan_answer(&mut s.light, table, &request.range(), request.limit as usize, answer);
        to_js(&r.map_err(wallet_error)?)
    }
}

/// Checks a stored row (hex of its BCS, as a node's answers carry it) offline: its
/// writer's signature over its values. Returns `{ table, op, writer, writerAddress }`;
/// throws `BAD_ROW_SIGNATURE` if it was not signed by its writer as it stands.
#[wasm_bindgen(js_name = verifyRowSignature)]
pub fn verify_row_signature_js(stored_row_hex: &str) -> Result<JsValue, JsValue> {
    let bytes = hex::decode(stored_row_hex).map_err(|_| error("BAD_OPTIONS", "a stored row as hex"))?;
    let row = verify_row_signature(&bytes).map_err(wallet_error)?;
    to_js(&serde_json::json!({
        "table": row.body.table,
        "op": row.body.op,
        "writer": row.writer.to_string(),
        "writerAddress": Address::from_public_key(&row.writer),
    }))
}
