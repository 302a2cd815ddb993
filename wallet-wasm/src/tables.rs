//! A table's rows as people and JS apps write them — a plain object of column name to
//! value — and back, by the table's schema: the wallet checks a row here, with the
//! schema's own messages, before it signs anything.
//!
//! | column type | JSON in | JSON out |
//! |---|---|---|
//! | `bool` | `true` / `false` | the same |
//! | `u64`, `i64`, `timestamp` (ms) | a whole number, or its decimal string (beyond 2^53) | a number while exact, else a string |
//! | `string` | a string | the same |
//! | `bytes` | hex | hex |
//! | `address` | `vigil1…` | the same |
//! | `decimal` (scale s) | a string such as `"12.50"` (at most s digits after the point), or a whole number | a string with exactly s digits after the point |
//!
//! A nullable column may be `null` or left out.

use serde_json::{Map, Number, Value as Json};
use vigil_protocol::tables::{key_of, Column, ColumnType, RowError, TableSchema, Value, WriteError};
use vigil_protocol::Address;

/// The largest integer a JS number holds exactly.
const JS_SAFE_MAX: u64 = (1 << 53) - 1;

/// Why a table, a row or a scan is refused in the wallet (each message names the column
/// or rule; the codes are the node's for the same refusals).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("no table is named `{0}`")]
    UnknownTable(String),
    #[error("unknown column `{0}`")]
    UnknownColumn(String),
    #[error("column `{0}` is missing")]
    MissingColumn(String),
    #[error("column `{column}`: {why}")]
    Value { column: String, why: String },
    #[error(transparent)]
    Row(#[from] RowError),
    #[error("{0}")]
    Write(String),
    #[error("the row's signature does not verify for its writer")]
    BadRowSignature,
    #[error("the page does not prove its range: {0}")]
    Scan(String),
}

impl TableError {
    pub fn code(&self) -> &'static str {
        match self {
            TableError::UnknownTable(_) => "UNKNOWN_TABLE",
            TableError::BadRowSignature => "BAD_ROW_SIGNATURE",
            TableError::Scan(_) => "BAD_PROOF",
            _ => "INVALID_ROW",
        }
    }
}

impl From<WriteError> for TableError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Row(r) => TableError::Row(r),
            other => TableError::Write(other.to_string()),
        }
    }
}

fn bad(column: &Column, why: impl Into<String>) -> TableError {
    TableError::Value { column: column.name.clone(), why: why.into() }
}

fn whole<T: TryFrom<i128>>(column: &Column, json: &Json) -> Result<T, TableError> {
    let n: Option<i128> = match json {
        Json::Number(n) => n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from)),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    n.and_then(|n| T::try_from(n).ok()).ok_or_else(|| bad(column, "a whole number in the column's type is expected"))
}

/// `"12.5"` with scale 2 → 1250.
fn decimal(column: &Column, scale: u8, json: &Json) -> Result<i128, TableError> {
    let text = match json {
        Json::String(s) => s.trim().to_string(),
        Json::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        _ => return Err(bad(column, format!("a decimal as text, such as \"12.{}\"", "5".repeat(scale.into())))),
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || !all_digits(frac) {
        return Err(bad(column, "not a decimal number"));
    }
    if frac.len() > usize::from(scale) {
        return Err(bad(column, format!("at most {scale} digits after the point")));
    }
    let padded = format!("{int}{frac:0<width$}", width = usize::from(scale));
    let units: i128 = padded.parse().map_err(|_| bad(column, "too large"))?;
    Ok(if negative { -units } else { units })
}

/// One JSON value as a column's value.
pub fn value_from_json(column: &Column, json: &Json) -> Result<Value, TableError> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    Ok(match column.ty {
        ColumnType::Bool => Value::Bool(json.as_bool().ok_or_else(|| bad(column, "true or false is expected"))?),
        ColumnType::U64 => Value::U64(whole(column, json)?),
        ColumnType::I64 => Value::I64(whole(column, json)?),
        ColumnType::Timestamp => Value::Timestamp(whole(column, json)?),
        ColumnType::String => Value::String(json.as_str().ok_or_else(|| bad(column, "text is expected"))?.to_owned()),
        ColumnType::Bytes => {
            let text = json.as_str().ok_or_else(|| bad(column, "bytes as hex are expected"))?;
            Value::Bytes(hex::decode(text).map_err(|_| bad(column, "bytes as hex are expected"))?)
        }
        ColumnType::Address => {
            let text = json.as_str().ok_or_else(|| bad(column, "a vigil1… address is expected"))?;
            Value::Address(text.parse::<Address>().map_err(|_| bad(column, "a vigil1… address is expected"))?)
        }
        ColumnType::Decimal { scale } => Value::Decimal(decimal(column, scale, json)?),
    })
}

/// A value as JSON (see the module's table).
pub fn value_to_json(column: &Column, value: &Value) -> Json {
    let number = |n: u64| if n <= JS_SAFE_MAX { Json::Number(n.into()) } else { Json::String(n.to_string()) };
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::U64(n) | Value::Timestamp(n) => number(*n),
        Value::I64(n) if n.unsigned_abs() <= JS_SAFE_MAX => Json::Number(Number::from(*n)),
        Value::I64(n) => Json::String(n.to_string()),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(hex::encode(b)),
        Value::Address(a) => Json::String(a.to_string()),
        Value::Decimal(units) => {
            let scale = match column.ty {
                ColumnType::Decimal { scale } => usize::from(scale),
                _ => 0,
            };
            let digits = format!("{:0>width$}", units.unsigned_abs(), width = scale + 1);
            let (int, frac) = digits.split_at(digits.len() - scale);
            let sign = if *units < 0 { "-" } else { "" };
            Json::String(if scale == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") })
        }
    }
}

/// A row given as an object of column name → value, in the schema's column order. With
/// `only_key`, the key's columns alone are read (the others null: a delete, a bound).
pub fn row_from_json(
    schema: &TableSchema,
    object: &Map<String, Json>,
    only_key: bool,
) -> Result<Vec<Value>, TableError> {
    if let Some(unknown) = object.keys().find(|k| schema.column(k).is_none()) {
        return Err(TableError::UnknownColumn(unknown.clone()));
    }
    let mut values = Vec::with_capacity(schema.columns.len());
    for (i, column) in schema.columns.iter().enumerate() {
        let in_key = schema.primary_key.iter().any(|&k| usize::from(k) == i);
        if only_key && !in_key {
            values.push(Value::Null);
            continue;
        }
        match object.get(&column.name) {
            Some(json) => values.push(value_from_json(column, json)?),
            None if column.nullable => values.push(Value::Null),
            None => return Err(TableError::MissingColumn(column.name.clone())),
        }
    }
    Ok(values)
}

/// A row as an object of column name → value (a row written under an older version has
/// fewer values: the columns added since are null).
pub fn row_to_json(schema: &TableSchema, values: &[Value]) -> Map<String, Json> {
    schema
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.clone(), values.get(i).map_or(Json::Null, |v| value_to_json(c, v))))
        .collect()
}

/// The encoded primary key of a key given as an object of its columns' values.
pub fn key_from_json(schema: &TableSchema, object: &Map<String, Json>) -> Result<Vec<u8>, TableError> {
    let values = row_from_json(schema, object, true)?;
    for &k in &schema.primary_key {
        let column = schema.columns.get(usize::from(k)).ok_or_else(|| TableError::Write("a bad schema".into()))?;
        if values.get(usize::from(k)) == Some(&Value::Null) {
            return Err(TableError::MissingColumn(column.name.clone()));
        }
    }
    key_of(schema, &values).ok_or_else(|| TableError::Write("the key's columns are not all given".into()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vigil_protocol::tables::WritePolicy;

    use super::*;

    fn schema() -> TableSchema {
        let col =
            |name: &str, ty| Column { name: name.into(), ty, nullable: false, max_len: None, min: None, max: None };
        TableSchema {
            name: "t".into(),
            columns: vec![
                col("id", ColumnType::U64),
                col("price", ColumnType::Decimal { scale: 2 }),
                Column { nullable: true, ..col("blob", ColumnType::Bytes) },
                col("delta", ColumnType::I64),
            ],
            primary_key: vec![0],
            policy: WritePolicy::Owner,
        }
    }

    #[test]
    fn a_row_object_reads_by_its_schema_and_writes_back_the_same() {
        let s = schema();
        let object = json!({ "id": 7, "price": "12.5", "delta": -3 });
        let values = row_from_json(&s, object.as_object().unwrap(), false).unwrap();
        assert_eq!(values, vec![Value::U64(7), Value::Decimal(1250), Value::Null, Value::I64(-3)]);
        let back = Json::Object(row_to_json(&s, &values));
        assert_eq!(back, json!({ "id": 7, "price": "12.50", "blob": null, "delta": -3 }));
        let big = json!({ "id": "18446744073709551615", "price": "-0.05", "delta": 0 });
        let values = row_from_json(&s, big.as_object().unwrap(), false).unwrap();
        assert_eq!(values[..2], [Value::U64(u64::MAX), Value::Decimal(-5)]);
        assert_eq!(Json::Object(row_to_json(&s, &values))["price"], json!("-0.05"));
        assert_eq!(Json::Object(row_to_json(&s, &values))["id"], json!("18446744073709551615"));
    }

    #[test]
    fn a_bad_row_object_names_its_column() {
        let s = schema();
        let read = |j: Json| row_from_json(&s, j.as_object().unwrap(), false);
        assert_eq!(
            read(json!({ "id": 1, "price": "1", "delta": 0, "x": 1 })),
            Err(TableError::UnknownColumn("x".into()))
        );
        assert_eq!(read(json!({ "id": 1, "delta": 0 })), Err(TableError::MissingColumn("price".into())));
        let err = read(json!({ "id": 1, "price": "1.234", "delta": 0 })).unwrap_err();
        assert_eq!(err.to_string(), "column `price`: at most 2 digits after the point");
        let err = read(json!({ "id": -1, "price": "1", "delta": 0 })).unwrap_err();
        assert_eq!(err.to_string(), "column `id`: a whole number in the column's type is expected");
        let err = read(json!({ "id": 1, "price": "1", "delta": 0, "blob": "zz" })).unwrap_err();
        assert_eq!(err.to_string(), "column `blob`: bytes as hex are expected");
        assert_eq!(key_from_json(&s, json!({}).as_object().unwrap()), Err(TableError::MissingColumn("id".into())));
        assert_eq!(key_from_json(&s, json!({ "id": 2 }).as_object().unwrap()), Ok(2u64.to_be_bytes().to_vec()));
    }
}
