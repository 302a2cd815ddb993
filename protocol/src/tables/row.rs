//! A row: its typed values, checked against the table's schema; its primary key in an
//! order-preserving encoding (byte order is key order: what the table's ordered map is
//! keyed by); and its writer's signature over its canonical encoding, which stands on its
//! own — anyone holding the row can check who wrote it, without the transaction.

use serde::{Deserialize, Serialize};

use super::schema::{Column, ColumnType, TableSchema};
use crate::address::Address;
use crate::crypto::{PublicKey, SecretKey, Signature};
use crate::encoding::to_bytes;
use crate::hash::{hash_value, Domain, Hash32};
use crate::ids::{ChainId, Height};

/// Largest row (its values' canonical encoding).
pub const ROW_BYTES_MAX: usize = 8192;

/// One value of a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    String(String),
    Bytes(Vec<u8>),
    Address(Address),
    Timestamp(u64),
    /// In units of 10^-scale.
    Decimal(i128),
}

/// Why a row is refused: each names its column or rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("the table has {expected} columns; the row gives {found} values")]
    Width { expected: usize, found: usize },
    #[error("column `{column}`: a {expected} value is expected")]
    Type { column: String, expected: &'static str },
    #[error("column `{0}` may not be null")]
    Null(String),
    #[error("column `{column}`: at most {max} long")]
    Length { column: String, max: u32 },
    #[error("column `{column}`: outside its range")]
    Range { column: String },
    #[error("a row is at most {ROW_BYTES_MAX} bytes")]
    Size,
}

fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Bool => "bool",
        ColumnType::U64 => "u64",
        ColumnType::I64 => "i64",
        ColumnType::String => "string",
        ColumnType::Bytes => "bytes",
        ColumnType::Address => "address",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Decimal { .. } => "decimal",
    }
}

pub(crate) fn check_value(column: &Column, value: &Value) -> Result<(), RowError> {
    let name = || column.name.clone();
    let number: Option<i128> = match (column.ty, value) {
        (_, Value::Null) if column.nullable => return Ok(()),
        (_, Value::Null) => return Err(RowError::Null(name())),
        (ColumnType::Bool, Value::Bool(_)) | (ColumnType::Address, Value::Address(_)) => None,
        (ColumnType::U64, Value::U64(v)) | (ColumnType::Timestamp, Value::Timestamp(v)) => Some(i128::from(*v)),
        (ColumnType::I64, Value::I64(v)) => Some(i128::from(*v)),
        (ColumnType::Decimal { .. }, Value::Decimal(v)) => Some(*v),
        (ColumnType::String, Value::String(s)) => {
            let max = column.max_len.unwrap_or(super::schema::VALUE_LEN_MAX);
            if s.chars().count() > max as usize {
                return Err(RowError::Length { column: name(), max });
            }
            None
        }
        (ColumnType::Bytes, Value::Bytes(b)) => {
            let max = column.max_len.unwrap_or(super::schema::VALUE_LEN_MAX);
            if b.len() > max as usize {
                return Err(RowError::Length { column: name(), max });
            }
            None
        }
        (ty, _) => return Err(RowError::Type { column: name(), expected: type_name(ty) }),
    };
    if let Some(n) = number {
        if column.min.is_some_and(|min| n < min) || column.max.is_some_and(|max| n > max) {
            return Err(RowError::Range { column: name() });
        }
    }
    Ok(())
}

/// Checks a row to write (one value per column of the schema's current version).
pub fn check_row(schema: &TableSchema, values: &[Value]) -> Result<(), RowError> {
    if values.len() != schema.columns.len() {
        return Err(RowError::Width { expected: schema.columns.len(), found: values.len() });
    }
    for (column, value) in schema.columns.iter().zip(values) {
        check_value(column, value)?;
    }
    if to_bytes(values).len() > ROW_BYTES_MAX {
        return Err(RowError::Size);
    }
    Ok(())
}

/// Appends `value` to `out` so that byte order is value order (within one type).
fn encode_ordered(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(0),
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::U64(v) | Value::Timestamp(v) => out.extend_from_slice(&v.to_be_bytes()),
        // The sign bit flipped: negatives sort below positives.
        Value::I64(v) => out.extend_from_slice(&((*v as u64) ^ (1 << 63)).to_be_bytes()),
        Value::Decimal(v) => out.extend_from_slice(&((*v as u128) ^ (1 << 127)).to_be_bytes()),
        Value::Address(a) => out.extend_from_slice(&a.0),
        // Zero bytes escaped (0 → 0 0xff), then a 0 0 terminator: a prefix sorts first.
        Value::String(s) => escaped(s.as_bytes(), out),
        Value::Bytes(b) => escaped(b, out),
    }
}

fn escaped(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// A row's primary key in its order-preserving encoding (the key columns' values in key
/// order): what the table's ordered map is keyed by.
pub fn key_of(schema: &TableSchema, values: &[Value]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for &k in &schema.primary_key {
        encode_ordered(values.get(usize::from(k))?, &mut out);
    }
    Some(out)
}

/// What a row write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowOp {
    Insert,
    Update,
    Delete,
}

/// What a writer signs: the chain, the table, the operation and the row's values (for a
/// delete, the key columns' values and nulls).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowBody {
    pub chain: ChainId,
    pub table: String,
    pub op: RowOp,
    pub values: Vec<Value>,
}

impl RowBody {
    pub fn sign(self, key: &SecretKey) -> SignedRow {
        let signature = key.sign(Domain::TableRow, &to_bytes(&self));
        SignedRow { body: self, writer: key.public_key(), signature }
    }
}

/// A row write signed by its writer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRow {
    pub body: RowBody,
    pub writer: PublicKey,
    pub signature: Signature,
}

impl SignedRow {
    /// Whether `writer` signed exactly this row.
    pub fn verify(&self) -> bool {
        self.writer.verify(Domain::TableRow, &to_bytes(&self.body), &self.signature).is_ok()
    }

    /// Whether every row's writer signed it: one batch for several (true for none); a
    /// single row checked alone, as a batch of one costs more than a single check.
    pub fn verify_all(rows: &[&SignedRow]) -> bool {
        match rows {
            [] => true,
            [one] => one.verify(),
            _ => {
                let bodies: Vec<Vec<u8>> = rows.iter().map(|r| to_bytes(&r.body)).collect();
                let messages: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
                let signatures: Vec<_> = rows.iter().map(|r| r.signature).collect();
                let keys: Vec<_> = rows.iter().map(|r| r.writer).collect();
                crate::crypto::verify_batch(Domain::TableRow, &messages, &signatures, &keys).is_ok()
            }
        }
    }
}

/// A row as the state keeps it: the signed write that made it, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRow {
    pub row: SignedRow,
    pub written: Height,
}

impl StoredRow {
    /// What the table's ordered map holds for the row.
    pub fn hash(&self) -> Hash32 {
        hash_value(Domain::TableRowRecord, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::schema::{Column, WritePolicy};

    fn col(name: &str, ty: ColumnType) -> Column {
        Column { name: name.into(), ty, nullable: false, max_len: None, min: None, max: None }
    }

    fn schema() -> TableSchema {
        TableSchema {
            name: "t".into(),
            columns: vec![
                col("a", ColumnType::I64),
                col("b", ColumnType::String),
                Column { max_len: Some(3), nullable: true, ..col("c", ColumnType::Bytes) },
                Column { min: Some(-500), max: Some(500), ..col("d", ColumnType::Decimal { scale: 2 }) },
            ],
            primary_key: vec![0, 1],
            policy: WritePolicy::Owner,
        }
    }

    fn row(a: i64, b: &str) -> Vec<Value> {
        vec![Value::I64(a), Value::String(b.into()), Value::Null, Value::Decimal(0)]
    }

    #[test]
    fn values_are_checked_by_type_null_length_and_range_naming_the_column() {
        let s = schema();
        assert_eq!(check_row(&s, &row(1, "x")), Ok(()));
        let mut v = row(1, "x");
        v[0] = Value::U64(1);
        assert_eq!(check_row(&s, &v), Err(RowError::Type { column: "a".into(), expected: "i64" }));
        v = row(1, "x");
        v[1] = Value::Null;
        assert_eq!(check_row(&s, &v), Err(RowError::Null("b".into())));
        v = row(1, "x");
        v[2] = Value::Bytes(vec![1, 2, 3, 4]);
        assert_eq!(check_row(&s, &v), Err(RowError::Length { column: "c".into(), max: 3 }));
        v = row(1, "x");
        v[3] = Value::Decimal(501);
        assert_eq!(check_row(&s, &v), Err(RowError::Range { column: "d".into() }));
        assert_eq!(check_row(&s, &v[..3]), Err(RowError::Width { expected: 4, found: 3 }));
    }

    #[test]
    fn key_bytes_sort_as_the_keys_do() {
        let s = schema();
        let keys = [(-5, "b"), (-5, "ba"), (-1, ""), (0, "a\0"), (0, "a\0b"), (0, "b"), (7, "a")];
        let encoded: Vec<Vec<u8>> = keys.iter().map(|(a, b)| key_of(&s, &row(*a, b)).unwrap()).collect();
        let mut sorted = encoded.clone();
        sorted.sort();
        assert_eq!(sorted, encoded, "byte order is key order");
    }

    #[test]
    fn a_row_signature_stands_on_its_own_and_binds_every_value() {
        let key = SecretKey::from_seed([3; 32]);
        let body =
            RowBody { chain: ChainId::new("c").unwrap(), table: "t".into(), op: RowOp::Insert, values: row(1, "x") };
        let signed = body.sign(&key);
        assert!(signed.verify());
        let mut altered = signed.clone();
        altered.body.values[1] = Value::String("y".into());
        assert!(!altered.verify());
        let mut other = signed.clone();
        other.writer = SecretKey::from_seed([4; 32]).public_key();
        assert!(!other.verify(), "signed by someone else");
    }
}
