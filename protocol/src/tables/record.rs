//! What the state keeps of a table, and what the chain asks of a write before it
//! records it:
//!
//! - `StateKey::Table(name)` → [`TableRecord`]: its owner, every version of its schema,
//!   the deposit it holds;
//! - `StateKey::TableRoot(name)` → [`TableRoot`]: the root of its rows' ordered map (what a
//!   scan's range proof is checked against) and how many rows it holds;
//! - `StateKey::Row(name, key)` → [`RowEntry`]: the key's latest write (the row in force,
//!   unless it is a delete) and how many writes the key had;
//! - `StateKey::RowVersion(name, key, n)` → the `n`-th write of that key, for every write
//!   but the latest (deletes included), so a row's history is in the current state and
//!   pruning old state versions never erases it. A first insert writes one entry; an
//!   update or a delete two (the previous write moves to its version).
//! - `StateKey::TableNames` → every table's name, in creation order.

use serde::{Deserialize, Serialize};

use super::ordered::ORDERED_KEY_LEN_MAX;
use super::row::{key_of, RowError, RowOp, SignedRow, StoredRow, Value};
use super::schema::{SchemaError, TableSchema};
use crate::address::Address;
use crate::hash::Hash32;
use crate::ids::{Amount, ChainId, Height};

/// The fee a `CreateTable` pays at least.
pub const CREATE_TABLE_FEE_MIN: u64 = 10;
/// What creating a table takes from its owner's balance and the table holds.
pub const TABLE_DEPOSIT: u64 = 500;
/// Most tables a chain holds.
pub const TABLES_MAX: usize = 1024;
/// Most versions of one table's schema.
pub const SCHEMA_VERSIONS_MAX: usize = 16;
/// Most versions of one row a history page gives.
pub const HISTORY_PAGE_MAX: u32 = 64;

/// The payload that creates a table: the sender owns it and pays [`TABLE_DEPOSIT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTable {
    pub schema: TableSchema,
}

/// The payload that puts a new version of a table's schema in force (by its owner; see
/// [`TableSchema::evolves_to`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlterTable {
    pub schema: TableSchema,
}

/// A table as the state keeps it (at `StateKey::Table(name)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRecord {
    pub owner: Address,
    /// Every version of its schema, oldest first; the last is in force.
    pub versions: Vec<TableSchema>,
    pub created: Height,
    pub deposit: Amount,
}

impl TableRecord {
    /// The schema in force.
    pub fn schema(&self) -> Option<&TableSchema> {
        self.versions.last()
    }

    /// `values` as the schema in force reads them: a row written under an older version
    /// has the columns added since as nulls.
    pub fn read(&self, values: &[Value]) -> Vec<Value> {
        let width = self.schema().map_or(values.len(), |s| s.columns.len());
        let mut out = values.to_vec();
        if out.len() < width {
            out.resize(width, Value::Null);
        }
        out
    }
}

/// A table's ordered root (at `StateKey::TableRoot(name)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TableRoot {
    pub root: Hash32,
    pub rows: u64,
}

/// A key's latest write (at `StateKey::Row(name, key)`) and how many writes it had: the
/// ones before are `RowVersion(name, key, 0..versions - 1)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowEntry {
    pub latest: StoredRow,
    pub versions: u32,
}

impl RowEntry {
    /// The row in force (`None`: the latest write deleted it).
    pub fn row(&self) -> Option<&StoredRow> {
        (self.latest.row.body.op != RowOp::Delete).then_some(&self.latest)
    }
}

/// A page of a key's history that has had `versions` writes: the newest
/// [`HISTORY_PAGE_MAX`] of `0..versions` below `before` (`None`: the newest). Returns the
/// `RowVersion` numbers the page reads; when the page reaches the newest version, that one
/// is the key's entry's latest write, read with the entry.
pub fn history_page(versions: u32, before: Option<u32>) -> std::ops::Range<u32> {
    let end = before.map_or(versions, |b| b.min(versions));
    end.saturating_sub(HISTORY_PAGE_MAX)..end.min(versions.saturating_sub(1))
}

/// Why a write is refused before the table's rows are looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("the row is signed for chain `{0}`")]
    Chain(ChainId),
    #[error(transparent)]
    Row(#[from] RowError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("column `{0}`: a delete gives the key's values and nulls elsewhere")]
    DeleteValue(String),
    #[error("the primary key's encoding is over {ORDERED_KEY_LEN_MAX} bytes; shorten its values")]
    KeyLength,
}

/// Checks a signed write against the table's schema in force: its chain, its values (a
/// delete: the key's values, nulls elsewhere). Returns the row's key.
pub fn check_write(chain: &ChainId, schema: &TableSchema, row: &SignedRow) -> Result<Vec<u8>, WriteError> {
    let body = &row.body;
    if &body.chain != chain {
        return Err(WriteError::Chain(body.chain.clone()));
    }
    match body.op {
        RowOp::Insert | RowOp::Update => super::row::check_row(schema, &body.values)?,
        RowOp::Delete => check_delete(schema, &body.values)?,
    }
    // Every key column is a checked, not-null value of the row: the key exists.
    let key = key_of(schema, &body.values)
        .ok_or(WriteError::Row(RowError::Width { expected: schema.columns.len(), found: body.values.len() }))?;
    if key.len() > ORDERED_KEY_LEN_MAX {
        return Err(WriteError::KeyLength);
    }
    Ok(key)
}

fn check_delete(schema: &TableSchema, values: &[Value]) -> Result<(), WriteError> {
    if values.len() != schema.columns.len() {
        return Err(RowError::Width { expected: schema.columns.len(), found: values.len() }.into());
    }
    for (i, (column, value)) in schema.columns.iter().zip(values).enumerate() {
        if schema.primary_key.iter().any(|&k| usize::from(k) == i) {
            super::row::check_value(column, value)?;
        } else if *value != Value::Null {
            return Err(WriteError::DeleteValue(column.name.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;
    use crate::tables::row::RowBody;
    use crate::tables::schema::{Column, ColumnType, WritePolicy};

    fn schema() -> TableSchema {
        let col =
            |name: &str, ty| Column { name: name.into(), ty, nullable: false, max_len: None, min: None, max: None };
        TableSchema {
            name: "t".into(),
            columns: vec![col("id", ColumnType::U64), col("note", ColumnType::String)],
            primary_key: vec![0],
            policy: WritePolicy::Owner,
        }
    }

    fn signed(op: RowOp, values: Vec<Value>) -> SignedRow {
        let chain = ChainId::new("c").unwrap();
        RowBody { chain, table: "t".into(), op, values }.sign(&SecretKey::from_seed([1; 32]))
    }

    #[test]
    fn a_write_is_checked_for_its_chain_its_values_and_a_delete_for_its_key_alone() {
        let chain = ChainId::new("c").unwrap();
        let s = schema();
        let insert = signed(RowOp::Insert, vec![Value::U64(7), Value::String("x".into())]);
        assert_eq!(check_write(&chain, &s, &insert), Ok(7u64.to_be_bytes().to_vec()));
        let other = ChainId::new("d").unwrap();
        assert_eq!(check_write(&other, &s, &insert), Err(WriteError::Chain(chain.clone())));
        let delete = signed(RowOp::Delete, vec![Value::U64(7), Value::Null]);
        assert_eq!(check_write(&chain, &s, &delete), Ok(7u64.to_be_bytes().to_vec()));
        let delete_with_value = signed(RowOp::Delete, vec![Value::U64(7), Value::String("x".into())]);
        assert_eq!(check_write(&chain, &s, &delete_with_value), Err(WriteError::DeleteValue("note".into())));
        let delete_without_key = signed(RowOp::Delete, vec![Value::Null, Value::Null]);
        assert_eq!(check_write(&chain, &s, &delete_without_key), Err(RowError::Null("id".into()).into()));
        let long = "x".repeat(1100);
        let long_key = signed(RowOp::Insert, vec![Value::U64(1), Value::String(long.clone())]);
        let mut keyed_by_note = s.clone();
        keyed_by_note.primary_key = vec![1];
        assert_eq!(check_write(&chain, &keyed_by_note, &long_key), Err(WriteError::KeyLength));
        let update_null = signed(RowOp::Update, vec![Value::U64(7), Value::Null]);
        assert_eq!(check_write(&chain, &s, &update_null), Err(RowError::Null("note".into()).into()));
    }

    #[test]
    fn an_old_row_reads_with_the_added_columns_null() {
        let mut next = schema();
        next.columns.push(Column {
            name: "tag".into(),
            ty: ColumnType::String,
            nullable: true,
            max_len: None,
            min: None,
            max: None,
        });
        let record = TableRecord {
            owner: Address([1; 20]),
            versions: vec![schema(), next],
            created: Height(1),
            deposit: Amount(TABLE_DEPOSIT),
        };
        let old = vec![Value::U64(1), Value::String("a".into())];
        assert_eq!(record.read(&old), vec![Value::U64(1), Value::String("a".into()), Value::Null]);
    }
}
