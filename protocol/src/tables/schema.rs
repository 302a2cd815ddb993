//! A table's structure: typed columns with their constraints, a primary key of one or
//! more columns, and who may write. A schema may later gain nullable columns (a new
//! version; rows written under an older one stay valid: their missing columns read as
//! null).

use serde::{Deserialize, Serialize};

use crate::address::Address;

/// Longest table or column name.
pub const NAME_LEN_MAX: usize = 64;
/// Most columns a table has (over all its versions).
pub const COLUMNS_MAX: usize = 32;
/// Most columns in a primary key.
pub const KEY_COLUMNS_MAX: usize = 4;
/// Most accounts a `Listed` policy names.
pub const WRITERS_MAX: usize = 64;
/// Longest `string` or `bytes` value a column may allow.
pub const VALUE_LEN_MAX: u32 = 4096;
/// Largest decimal scale (digits after the point).
pub const DECIMAL_SCALE_MAX: u8 = 18;

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Bool,
    U64,
    I64,
    String,
    Bytes,
    Address,
    /// Milliseconds since the Unix epoch.
    Timestamp,
    /// A fixed-point number: an integer count of 10^-scale units.
    Decimal {
        scale: u8,
    },
}

impl ColumnType {
    /// Whether the type has a length (its constraint is `max_len`) rather than a value
    /// range.
    pub fn has_length(self) -> bool {
        matches!(self, ColumnType::String | ColumnType::Bytes)
    }

    /// Whether the type is numeric (its constraint is a range).
    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnType::U64 | ColumnType::I64 | ColumnType::Timestamp | ColumnType::Decimal { .. })
    }
}

/// One column: its name, type and constraints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    /// `false`: not null.
    #[serde(default)]
    pub nullable: bool,
    /// For `string` (characters) and `bytes` (bytes): the longest value.
    #[serde(default)]
    pub max_len: Option<u32>,
    /// For numeric types: the least and greatest value (a decimal's in its units).
    #[serde(default)]
    pub min: Option<i128>,
    #[serde(default)]
    pub max: Option<i128>,
}

/// Who may write a table's rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WritePolicy {
    /// The account that created the table.
    Owner,
    /// These accounts (and the owner).
    Listed(Vec<Address>),
    /// Any account whose key holds a valid certificate of the chain's authentication
    /// centers (not frozen, revoked or expired).
    CertificateHolder,
}

/// Why a schema is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("`{0}`: a name is 1 to {NAME_LEN_MAX} characters of a-z, 0-9 and _, starting with a letter")]
    Name(String),
    #[error("a table has 1 to {COLUMNS_MAX} columns")]
    ColumnCount,
    #[error("column `{0}` is named twice")]
    DuplicateColumn(String),
    #[error("the primary key is 1 to {KEY_COLUMNS_MAX} distinct columns of the table")]
    PrimaryKey,
    #[error("primary key column `{0}` may not be nullable")]
    NullableKey(String),
    #[error("column `{column}`: {rule}")]
    Constraint { column: String, rule: String },
    #[error("a listed policy names 1 to {WRITERS_MAX} accounts")]
    Writers,
    #[error("a new version may only add nullable columns at the end")]
    Evolution,
}

/// A table's structure (at `StateKey::Table(name)`, with its version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<Column>,
    /// Positions of the key's columns in `columns`, in key order.
    pub primary_key: Vec<u16>,
    pub policy: WritePolicy,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    (1..=NAME_LEN_MAX).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Column {
    fn check(&self) -> Result<(), SchemaError> {
        if !valid_name(&self.name) {
            return Err(SchemaError::Name(self.name.clone()));
        }
        let rule = |rule: &str| SchemaError::Constraint { column: self.name.clone(), rule: rule.into() };
        if self.max_len.is_some() && !self.ty.has_length() {
            return Err(rule("only string and bytes columns have a max_len"));
        }
        if self.max_len.is_some_and(|l| l == 0 || l > VALUE_LEN_MAX) {
            return Err(rule("max_len is 1 to 4096"));
        }
        if (self.min.is_some() || self.max.is_some()) && !self.ty.is_numeric() {
            return Err(rule("only numeric columns have a min or max"));
        }
        if let (Some(min), Some(max)) = (self.min, self.max) {
            if min > max {
                return Err(rule("min is above max"));
            }
        }
        if let ColumnType::Decimal { scale } = self.ty {
            if scale > DECIMAL_SCALE_MAX {
                return Err(rule("a decimal's scale is at most 18"));
            }
        }
        Ok(())
    }
}

impl TableSchema {
    pub fn check(&self) -> Result<(), SchemaError> {
        if !valid_name(&self.name) {
            return Err(SchemaError::Name(self.name.clone()));
        }
        if self.columns.is_empty() || self.columns.len() > COLUMNS_MAX {
            return Err(SchemaError::ColumnCount);
        }
        let mut names: Vec<&str> = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            column.check()?;
            if names.contains(&column.name.as_str()) {
                return Err(SchemaError::DuplicateColumn(column.name.clone()));
            }
            names.push(&column.name);
        }
        let key = &self.primary_key;
        let mut sorted = key.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if key.is_empty() || key.len() > KEY_COLUMNS_MAX || sorted.len() != key.len() {
            return Err(SchemaError::PrimaryKey);
        }
        for &k in key {
            let column = self.columns.get(usize::from(k)).ok_or(SchemaError::PrimaryKey)?;
            if column.nullable {
                return Err(SchemaError::NullableKey(column.name.clone()));
            }
        }
        if let WritePolicy::Listed(writers) = &self.policy {
            if writers.is_empty() || writers.len() > WRITERS_MAX {
                return Err(SchemaError::Writers);
            }
        }
        Ok(())
    }

    /// Whether `next` may follow this version: the same table, key and columns, with
    /// nullable columns added at the end (the policy may change).
    pub fn evolves_to(&self, next: &TableSchema) -> Result<(), SchemaError> {
        next.check()?;
        let kept = next.columns.get(..self.columns.len()) == Some(&self.columns[..]);
        let added_nullable = next.columns.iter().skip(self.columns.len()).all(|c| c.nullable);
        let grew = next.columns.len() > self.columns.len();
        if next.name != self.name || next.primary_key != self.primary_key || !kept || !added_nullable || !grew {
            return Err(SchemaError::Evolution);
        }
        Ok(())
    }

    /// The column named `name` and its position.
    pub fn column(&self, name: &str) -> Option<(usize, &Column)> {
        self.columns.iter().enumerate().find(|(_, c)| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn column(name: &str, ty: ColumnType, nullable: bool) -> Column {
        Column { name: name.into(), ty, nullable, max_len: None, min: None, max: None }
    }

    pub(crate) fn orders() -> TableSchema {
        TableSchema {
            name: "orders".into(),
            columns: vec![
                column("id", ColumnType::U64, false),
                column("buyer", ColumnType::Address, false),
                Column { max_len: Some(32), ..column("item", ColumnType::String, false) },
                Column { min: Some(1), max: Some(1000), ..column("quantity", ColumnType::U64, false) },
                column("price", ColumnType::Decimal { scale: 2 }, true),
                column("at", ColumnType::Timestamp, false),
            ],
            primary_key: vec![0],
            policy: WritePolicy::Owner,
        }
    }

    #[test]
    fn a_schema_names_its_columns_once_keys_non_null_columns_and_constrains_by_type() {
        assert_eq!(orders().check(), Ok(()));
        let mut s = orders();
        s.name = "Orders".into();
        assert_eq!(s.check(), Err(SchemaError::Name("Orders".into())));
        let mut s = orders();
        s.columns[1].name = "id".into();
        assert_eq!(s.check(), Err(SchemaError::DuplicateColumn("id".into())));
        let mut s = orders();
        s.primary_key = vec![4];
        assert_eq!(s.check(), Err(SchemaError::NullableKey("price".into())));
        let mut s = orders();
        s.primary_key = vec![0, 0];
        assert_eq!(s.check(), Err(SchemaError::PrimaryKey));
        let mut s = orders();
        s.columns[0].max_len = Some(3);
        assert!(matches!(s.check(), Err(SchemaError::Constraint { column, .. }) if column == "id"));
        let mut s = orders();
        s.columns[2].min = Some(0);
        assert!(matches!(s.check(), Err(SchemaError::Constraint { column, .. }) if column == "item"));
        let mut s = orders();
        s.policy = WritePolicy::Listed(vec![]);
        assert_eq!(s.check(), Err(SchemaError::Writers));
    }

    #[test]
    fn a_new_version_only_adds_nullable_columns_at_the_end() {
        let old = orders();
        let mut next = old.clone();
        next.columns.push(column("note", ColumnType::String, true));
        assert_eq!(old.evolves_to(&next), Ok(()));
        let mut required = old.clone();
        required.columns.push(column("note", ColumnType::String, false));
        assert_eq!(old.evolves_to(&required), Err(SchemaError::Evolution));
        let mut retyped = next.clone();
        retyped.columns[3].ty = ColumnType::I64;
        assert_eq!(old.evolves_to(&retyped), Err(SchemaError::Evolution));
        assert_eq!(old.evolves_to(&old), Err(SchemaError::Evolution), "nothing added");
    }
}
