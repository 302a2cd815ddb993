//! Tables (C5) in the wallet: a table's schema proven against a certified header; rows
//! written from plain objects checked against that schema here, signed by the writer,
//! and sent to every node; rows read back with what proves them — one row present or
//! proven absent, a page of a range scan proven complete (no row of its range left out),
//! a key's history — each row's own signature checked.
//!
//! The `verify_*` functions check a node's answer offline (the npm package's
//! `verifyScanProof`, the bench, a test that tampers with an answer).

use std::ops::Bound;

use serde::Serialize;
use serde_json::{Map, Value as Json};
use vigil_api::{ProvenStates, ScanAnswer, ScanRequest};
use vigil_protocol::encoding::from_bytes;
use vigil_protocol::limits::FEE_MIN;
use vigil_protocol::sealed::PlainRequest;
use vigil_protocol::tables::record::{history_page, CREATE_TABLE_FEE_MIN};
use vigil_protocol::tables::{
    check_write, key_of, verify_page, AlterTable, CreateTable, KeyRange, RangeProof, RowBody, RowEntry, RowOp,
    SignedRow, StoredRow, TableRecord, TableRoot, TableSchema, WritePolicy,
};
use vigil_protocol::{Address, Height, Payload, SecretKey, StateKey};

use super::{verify_proven_with, Session, TransferReport, WalletError};
use crate::light::{LightClient, Verification};
use crate::platform::Platform;
use crate::tables::{key_from_json, row_from_json, row_to_json, TableError};

/// A table as the chain holds it, proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableView {
    pub name: String,
    pub owner: Address,
    /// The schema in force.
    pub schema: TableSchema,
    /// How many versions its schema has had.
    pub versions: usize,
    pub rows: u64,
    /// The ordered root (hex) a scan is proven against.
    pub root: String,
    pub created: Height,
    pub height: Option<Height>,
    pub method: String,
}

/// One row as read back: its values by column, and who signed it when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowView {
    /// The primary key's encoding (hex): a scan's cursor, a history's key.
    pub key: String,
    pub values: Map<String, Json>,
    pub op: RowOp,
    /// The writer's key (hex) and account.
    pub writer: String,
    pub writer_address: Address,
    /// The writer's Ed25519 signature over the row (hex), checked here.
    pub signature: String,
    /// The height whose block wrote it.
    pub written: Height,
}

/// A row read by key: present with its signature checked, or proven absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowReport {
    pub table: String,
    pub row: Option<RowView>,
    pub height: Option<Height>,
    pub method: String,
}

/// A page of a scan, proven complete for the range it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanReport {
    pub table: String,
    pub rows: Vec<RowView>,
    /// Always true for a page that verified: no row of the range it covers was left out.
    pub complete: bool,
    /// Where the next page starts (hex key, exclusive); `None`: the range is done.
    pub next: Option<String>,
    pub height: Option<Height>,
    pub method: String,
}

/// A key's versions, oldest first, deletes included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryReport {
    pub table: String,
    pub key: String,
    /// Every version the key has had.
    pub total: u32,
    /// The first version shown (the page is `first..first + versions.len()`).
    pub first: u32,
    pub versions: Vec<RowView>,
    pub height: Option<Height>,
    pub method: String,
}

/// Where a scan goes: `from`/`to` as key objects (their columns' values), `after` a
/// cursor from the previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanBounds {
    pub from: Option<Map<String, Json>>,
    pub to: Option<Map<String, Json>>,
    pub after: Option<Vec<u8>>,
}

impl ScanBounds {
    /// The range of encoded keys (`after` wins over `from`).
    pub fn range(&self, schema: &TableSchema) -> Result<KeyRange, TableError> {
        let from = match (&self.after, &self.from) {
            (Some(after), _) => Bound::Excluded(after.clone()),
            (None, Some(from)) => Bound::Included(key_from_json(schema, from)?),
            (None, None) => Bound::Unbounded,
        };
        let to = match &self.to {
            Some(to) => Bound::Included(key_from_json(schema, to)?),
            None => Bound::Unbounded,
        };
        Ok(KeyRange { from, to })
    }
}

fn decode<T: serde::de::DeserializeOwned>(value: &Option<Vec<u8>>) -> Result<Option<T>, WalletError> {
    value.as_deref().map(|b| from_bytes(b).map_err(|e| WalletError::BadAnswer(format!("state value: {e}")))).transpose()
}

fn record_of(name: &str, value: &Option<Vec<u8>>) -> Result<(TableRecord, TableSchema), WalletError> {
    let record: TableRecord = decode(value)?.ok_or_else(|| TableError::UnknownTable(name.to_owned()))?;
    let schema = record.schema().cloned().ok_or_else(|| WalletError::BadAnswer("a table without a schema".into()))?;
    Ok((record, schema))
}

fn row_view(record: &TableRecord, schema: &TableSchema, stored: &StoredRow) -> Result<RowView, WalletError> {
    let key =
        key_of(schema, &stored.row.body.values).ok_or_else(|| WalletError::BadAnswer("a row without a key".into()))?;
    Ok(RowView {
        key: hex::encode(key),
        values: row_to_json(schema, &record.read(&stored.row.body.values)),
        op: stored.row.body.op,
        writer: stored.row.writer.to_string(),
        writer_address: Address::from_public_key(&stored.row.writer),
        signature: hex::encode(stored.row.signature.to_bytes()),
        written: stored.written,
    })
}

/// Checks every row's writer signature.
fn check_signatures(rows: &[&SignedRow]) -> Result<(), TableError> {
    SignedRow::verify_all(rows).then_some(()).ok_or(TableError::BadRowSignature)
}

/// `verifyRowSignature`: whether a stored row (BCS) carries its writer's valid
/// signature — offline, without the chain.
pub fn verify_row_signature(stored_bcs: &[u8]) -> Result<SignedRow, WalletError> {
    let stored: StoredRow =
        from_bytes(stored_bcs).map_err(|e| WalletError::BadAnswer(format!("not a stored row: {e}")))?;
    if !stored.row.verify() {
        return Err(TableError::BadRowSignature.into());
    }
    Ok(stored.row)
}

/// A scan page (`POST /v1/tables/{name}/scan` for `asked`, `limit` rows), offline: the
/// table's record and root against the certified header, the rows against the root
/// (none of the range left out, none added, none moved), each row's signature.
pub fn verify_scan_answer(
    light: &mut LightClient,
    table: &str,
    asked: &KeyRange,
    limit: usize,
    answer: ScanAnswer,
) -> Result<ScanReport, WalletError> {
    let keys = [StateKey::Table(table.to_owned()), StateKey::TableRoot(table.to_owned())];
    let (values, verification) = verify_proven_with(light, &keys, answer.proven)?;
    let (record, schema) = record_of(table, &values[0])?;
    let root: TableRoot = decode(&values[1])?.ok_or_else(|| WalletError::BadAnswer("a table without a root".into()))?;
    let stored: Vec<StoredRow> = answer
        .rows_bcs
        .iter()
        .map(|r| from_bytes(&r.0).map_err(|e| WalletError::BadAnswer(format!("not a stored row: {e}"))))
        .collect::<Result<_, _>>()?;
    let mut pairs = Vec::with_capacity(stored.len());
    for s in &stored {
        let key = key_of(&schema, &s.row.body.values).ok_or_else(|| TableError::Scan("a row without a key".into()))?;
        if s.row.body.table != table {
            return Err(TableError::Scan("a row of another table".into()).into());
        }
        pairs.push((key, s.hash()));
    }
    let proof: RangeProof =
        from_bytes(&answer.proof_bcs.0).map_err(|e| WalletError::BadAnswer(format!("not a range proof: {e}")))?;
    let page = verify_page(&root.root, asked, limit, pairs, &proof).map_err(|e| TableError::Scan(e.to_string()))?;
    check_signatures(&stored.iter().map(|s| &s.row).collect::<Vec<_>>())?;
    let rows = stored.iter().map(|s| row_view(&record, &schema, s)).collect::<Result<_, _>>()?;
    let next = match page.next {
        Some(Bound::Excluded(k)) => Some(hex::encode(k)),
        _ => None,
    };
    Ok(ScanReport {
        table: table.to_owned(),
        rows,
        complete: true,
        next,
        height: verification.height,
        method: format!(
            "{}; the table's ordered root proven in that state; the page's range proof checked against the root: every row of the range it covers is shown, none added, none moved; each row's Ed25519 signature by its writer verified",
            verification.method
        ),
    })
}

/// One row (`GET /v1/tables/{name}/rows/{key}`), offline: present with its signature
/// checked, or proven absent.
pub fn verify_row_answer(
    light: &mut LightClient,
    table: &str,
    key: &[u8],
    proven: ProvenStates,
) -> Result<RowReport, WalletError> {
    let keys = [StateKey::Table(table.to_owned()), StateKey::Row(table.to_owned(), key.to_vec())];
    let (values, verification) = verify_proven_with(light, &keys, proven)?;
    let (record, schema) = record_of(table, &values[0])?;
    let entry = decode::<RowEntry>(&values[1])?;
    let row = match entry.as_ref().and_then(RowEntry::row) {
        Some(stored) => {
            check_signatures(&[&stored.row])?;
            Some(row_view(&record, &schema, stored)?)
        }
        None => None,
    };
    Ok(RowReport {
        table: table.to_owned(),
        row,
        height: verification.height,
        method: format!(
            "{}; the row (or its absence) proven at its key in that state; its writer's Ed25519 signature verified",
            verification.method
        ),
    })
}

impl<T: Platform> Session<T> {
    /// The tables' names, proven.
    pub async fn tables(&mut self) -> Result<(Vec<String>, Verification), WalletError> {
        let (values, verification) = self.proven_many(&[StateKey::TableNames]).await?;
        Ok((decode(&values[0])?.unwrap_or_default(), verification))
    }

    /// A table's record and root, proven.
    pub async fn table(&mut self, name: &str) -> Result<TableView, WalletError> {
        let keys = [StateKey::Table(name.to_owned()), StateKey::TableRoot(name.to_owned())];
        let (values, verification) = self.proven_many(&keys).await?;
        let (record, schema) = record_of(name, &values[0])?;
        let root: TableRoot = decode(&values[1])?.unwrap_or_default();
        Ok(TableView {
            name: name.to_owned(),
            owner: record.owner,
            schema,
            versions: record.versions.len(),
            rows: root.rows,
            root: hex::encode(root.root.0),
            created: record.created,
            height: verification.height,
            method: verification.method,
        })
    }

    /// Creates a table owned by `key`'s account (which pays its deposit).
    pub async fn create_table(&mut self, key: &SecretKey, schema: TableSchema) -> Result<TransferReport, WalletError> {
        schema.check().map_err(|e| TableError::Write(e.to_string()))?;
        let payload = Payload::CreateTable(Box::new(CreateTable { schema }));
        let tx = self.sign(key, payload, CREATE_TABLE_FEE_MIN).await?;
        self.submit_everywhere(key, &tx).await
    }

    /// Puts a new version of a table's schema in force (nullable columns added).
    pub async fn alter_table(&mut self, key: &SecretKey, schema: TableSchema) -> Result<TransferReport, WalletError> {
        let (record, current) =
            record_of(&schema.name, &self.proven_many(&[StateKey::Table(schema.name.clone())]).await?.0[0])?;
        if record.owner != Address::from_public_key(&key.public_key()) {
            return Err(TableError::Write("only the table's owner changes its schema".into()).into());
        }
        current.evolves_to(&schema).map_err(|e| TableError::Write(e.to_string()))?;
        let tx = self.sign(key, Payload::AlterTable(Box::new(AlterTable { schema })), CREATE_TABLE_FEE_MIN).await?;
        self.submit_everywhere(key, &tx).await
    }

    /// Writes a row given as an object of column → value: checked against the proven
    /// schema here (types, constraints, the key present or absent as `op` needs, the
    /// write policy), signed by `key`'s account, sent to every node.
    pub async fn write_row(
        &mut self,
        key: &SecretKey,
        table: &str,
        op: RowOp,
        object: &Map<String, Json>,
    ) -> Result<TransferReport, WalletError> {
        let (values, _) = self.proven_many(&[StateKey::Table(table.to_owned())]).await?;
        let (record, schema) = record_of(table, &values[0])?;
        let row_values = row_from_json(&schema, object, op == RowOp::Delete)?;
        let body = RowBody { chain: self.chain_id().clone(), table: table.to_owned(), op, values: row_values };
        let signed = body.sign(key);
        let row_key = check_write(self.chain_id(), &schema, &signed).map_err(TableError::from)?;
        self.check_writable(&record, &schema, key, table, op, row_key).await?;
        let tx = self.sign(key, Payload::WriteRow(Box::new(signed)), FEE_MIN).await?;
        self.submit_everywhere(key, &tx).await
    }

    /// What the chain would refuse of a write, read from proven state first: the key
    /// taken (insert) or missing (update, delete), a policy that leaves the writer out.
    async fn check_writable(
        &mut self,
        record: &TableRecord,
        schema: &TableSchema,
        key: &SecretKey,
        table: &str,
        op: RowOp,
        row_key: Vec<u8>,
    ) -> Result<(), WalletError> {
        let writer = Address::from_public_key(&key.public_key());
        let refused = |why: &str| WalletError::Node {
            status: vigil_api::ErrorCode::WriteRefused.status(),
            code: vigil_api::ErrorCode::WriteRefused.as_str().into(),
            message: why.into(),
        };
        match &schema.policy {
            WritePolicy::Owner if writer != record.owner => {
                return Err(refused("only the table's owner writes its rows"))
            }
            WritePolicy::Listed(list) if writer != record.owner && !list.contains(&writer) => {
                return Err(refused("this account is not among the table's writers"))
            }
            _ => {}
        }
        let (entry, _) = self.proven_many(&[StateKey::Row(table.to_owned(), row_key)]).await?;
        let present = decode::<RowEntry>(&entry[0])?.is_some_and(|e| e.row().is_some());
        let code = match (op, present) {
            (RowOp::Insert, true) => vigil_api::ErrorCode::DuplicateKey,
            (RowOp::Update | RowOp::Delete, false) => vigil_api::ErrorCode::MissingRow,
            _ => return Ok(()),
        };
        let message = match code {
            vigil_api::ErrorCode::DuplicateKey => "the table holds a row with this key already; update it instead",
            _ => "the table holds no row with this key",
        };
        Err(WalletError::Node { status: code.status(), code: code.as_str().into(), message: message.into() })
    }

    /// A row by its key (an object of the key's columns), present or proven absent.
    pub async fn get_row(&mut self, table: &str, key: &Map<String, Json>) -> Result<RowReport, WalletError> {
        let view = self.table(table).await?;
        let row_key = key_from_json(&view.schema, key)?;
        let proven: ProvenStates =
            self.read(&format!("/v1/tables/{table}/rows/{}", hex::encode(&row_key))).await?.1.parse()?;
        verify_row_answer(&mut self.light, table, &row_key, proven)
    }

    /// A page of at most `limit` rows of the range `bounds` gives, proven complete.
    pub async fn scan_rows(&mut self, table: &str, bounds: &ScanBounds, limit: u32) -> Result<ScanReport, WalletError> {
        let view = self.table(table).await?;
        let range = bounds.range(&view.schema)?;
        let body =
            serde_json::to_vec(&ScanRequest::new(&range, limit)).map_err(|e| WalletError::BadAnswer(e.to_string()))?;
        let plain = PlainRequest::new("POST", &format!("/v1/tables/{table}/scan"), Some("application/json"), body);
        let answer: ScanAnswer = self.request(&plain).await?.1.parse()?;
        verify_scan_answer(&mut self.light, table, &range, limit as usize, answer)
    }

    /// A key's versions (the newest `HISTORY_PAGE_MAX` below `before`), each proven and
    /// its signature checked.
    pub async fn row_history(
        &mut self,
        table: &str,
        key: &[u8],
        before: Option<u32>,
    ) -> Result<HistoryReport, WalletError> {
        let query = before.map_or(String::new(), |b| format!("?before={b}"));
        let proven: ProvenStates =
            self.read(&format!("/v1/tables/{table}/rows/{}/history{query}", hex::encode(key))).await?.1.parse()?;
        // The entry the node gives picks the version keys; its proof is checked below.
        let claimed: Option<RowEntry> =
            proven.entries.get(1).and_then(|e| e.value_bcs.as_ref()).and_then(|v| from_bytes(&v.0).ok());
        let versions = claimed.as_ref().map_or(0, |e| e.versions);
        let page = history_page(versions, before);
        let mut keys = vec![StateKey::Table(table.to_owned()), StateKey::Row(table.to_owned(), key.to_vec())];
        keys.extend(page.clone().map(|n| StateKey::RowVersion(table.to_owned(), key.to_vec(), n)));
        let (values, verification) = verify_proven_with(&mut self.light, &keys, proven)?;
        let (record, schema) = record_of(table, &values[0])?;
        let mut stored: Vec<StoredRow> = values[2..]
            .iter()
            .map(|v| decode::<StoredRow>(v)?.ok_or_else(|| WalletError::BadAnswer("a version missing".into())))
            .collect::<Result<_, _>>()?;
        let end = before.map_or(versions, |b| b.min(versions));
        if let Some(entry) = decode::<RowEntry>(&values[1])?.filter(|_| end == versions) {
            stored.push(entry.latest);
        }
        let first = page.start;
        check_signatures(&stored.iter().map(|s| &s.row).collect::<Vec<_>>())?;
        Ok(HistoryReport {
            table: table.to_owned(),
            key: hex::encode(key),
            total: versions,
            first,
            versions: stored.iter().map(|s| row_view(&record, &schema, s)).collect::<Result<_, _>>()?,
            height: verification.height,
            method: format!(
                "{}; the key's version count and each version proven in that state; each version's Ed25519 signature by its writer verified",
                verification.method
            ),
        })
    }
}
