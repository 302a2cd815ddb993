//! The tables page's forms without the browser: a schema read from the JSON a user
//! pastes, a row form generated from a schema — each input's kind, hint and the
//! message for what is typed so far, by the schema's own rules — and the row object the
//! wallet core signs.

use serde_json::{Map, Value as Json};
use vigil_protocol::tables::{check_row, Column, ColumnType, TableSchema, WritePolicy};
use vigil_wallet::tables::{row_from_json, value_from_json};

/// A schema to start from when creating a table (what the create form shows first).
pub const EXAMPLE_SCHEMA: &str = r#"{
  "name": "orders",
  "columns": [
    { "name": "id", "ty": "u64" },
    { "name": "item", "ty": "string", "max_len": 32 },
    { "name": "qty", "ty": "i64", "min": 0, "max": 1000 },
    { "name": "price", "ty": { "decimal": { "scale": 2 } }, "min": 0 },
    { "name": "note", "ty": "string", "nullable": true, "max_len": 64 }
  ],
  "primary_key": [0],
  "policy": "Owner"
}"#;

/// A pasted schema, checked by the chain's rules.
pub fn parse_schema(text: &str) -> Result<TableSchema, String> {
    let schema: TableSchema = serde_json::from_slice(text.as_bytes())
        .map_err(|e| format!("The schema is not valid JSON of a table's schema: {e}."))?;
    schema.check().map_err(|e| format!("The schema is refused: {e}."))?;
    Ok(schema)
}

/// How a column is typed in: a checkbox, or text with an input mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Checkbox,
    /// Whole numbers (the `numeric` input mode).
    Whole,
    /// A decimal number.
    Decimal,
    Text,
}

/// A column's input kind.
pub fn input_kind(column: &Column) -> InputKind {
    match column.ty {
        ColumnType::Bool => InputKind::Checkbox,
        ColumnType::U64 | ColumnType::I64 | ColumnType::Timestamp => InputKind::Whole,
        ColumnType::Decimal { .. } => InputKind::Decimal,
        _ => InputKind::Text,
    }
}

/// What a column takes, in words (the field's hint).
pub fn hint(column: &Column) -> String {
    let ty = match column.ty {
        ColumnType::Bool => "yes or no".to_string(),
        ColumnType::U64 => "a whole number, 0 or more".to_string(),
        ColumnType::I64 => "a whole number".to_string(),
        ColumnType::Timestamp => "milliseconds since 1970".to_string(),
        ColumnType::String => "text".to_string(),
        ColumnType::Bytes => "bytes as hex".to_string(),
        ColumnType::Address => "a vigil1… address".to_string(),
        ColumnType::Decimal { scale } => format!("a number with up to {scale} digits after the point"),
    };
    let mut rules = vec![ty];
    if let Some(max) = column.max_len {
        rules.push(format!("at most {max} long"));
    }
    match (column.min, column.max) {
        (Some(min), Some(max)) => rules.push(format!("from {min} to {max}")),
        (Some(min), None) => rules.push(format!("at least {min}")),
        (None, Some(max)) => rules.push(format!("at most {max}")),
        (None, None) => {}
    }
    rules.push(if column.nullable { "optional" } else { "required" }.to_string());
    if let ColumnType::Decimal { scale } = column.ty {
        if column.min.is_some() || column.max.is_some() {
            rules.push(format!("bounds in units of 10^-{scale}"));
        }
    }
    rules.join(", ")
}

/// What a field's text is as JSON (a checkbox's is `"true"`/`"false"`; empty is null).
fn field_json(column: &Column, text: &str) -> Json {
    let text = text.trim();
    match (column.ty, text) {
        (_, "") => Json::Null,
        (ColumnType::Bool, t) => Json::Bool(t == "true"),
        (_, t) => Json::String(t.to_string()),
    }
}

/// The message for what is typed in a field so far (`None`: it is fine).
pub fn field_error(column: &Column, text: &str) -> Option<String> {
    let value = match value_from_json(column, &field_json(column, text)) {
        Ok(v) => v,
        Err(e) => return Some(e.to_string()),
    };
    let alone = TableSchema {
        name: "t".into(),
        columns: vec![column.clone()],
        primary_key: vec![0],
        policy: WritePolicy::Owner,
    };
    check_row(&alone, &[value]).err().map(|e| e.to_string())
}

/// The row object for the values typed in (one text per column, in order).
pub fn row_object(schema: &TableSchema, texts: &[String]) -> Result<Map<String, Json>, String> {
    let object: Map<String, Json> = schema
        .columns
        .iter()
        .zip(texts)
        .filter_map(|(c, t)| match field_json(c, t) {
            Json::Null => None,
            json => Some((c.name.clone(), json)),
        })
        .collect();
    // The same reading the wallet core does before signing: a missing or bad value named.
    row_from_json(schema, &object, false).map_err(|e| e.to_string())?;
    Ok(object)
}

/// A value of a row as shown in the row browser.
pub fn shown(value: &Json) -> String {
    match value {
        Json::Null => "—".to_string(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_schema_is_a_valid_table_and_its_form_says_what_each_field_takes() {
        let schema = parse_schema(EXAMPLE_SCHEMA).unwrap();
        assert_eq!(schema.columns.len(), 5);
        let kinds: Vec<InputKind> = schema.columns.iter().map(input_kind).collect();
        assert_eq!(kinds, [InputKind::Whole, InputKind::Text, InputKind::Whole, InputKind::Decimal, InputKind::Text]);
        assert_eq!(hint(&schema.columns[2]), "a whole number, from 0 to 1000, required");
        assert_eq!(hint(&schema.columns[4]), "text, at most 64 long, optional");
        assert!(parse_schema("{").unwrap_err().starts_with("The schema is not valid JSON"));
        let keyless = EXAMPLE_SCHEMA.replace("\"primary_key\": [0]", "\"primary_key\": []");
        assert!(parse_schema(&keyless).unwrap_err().contains("primary key"));
    }

    #[test]
    fn each_field_is_checked_as_it_is_typed_by_the_schemas_rules() {
        let schema = parse_schema(EXAMPLE_SCHEMA).unwrap();
        let c = &schema.columns;
        assert_eq!(field_error(&c[0], "12"), None);
        assert_eq!(
            field_error(&c[0], "-1").as_deref(),
            Some("column `id`: a whole number in the column's type is expected")
        );
        assert_eq!(field_error(&c[0], "").as_deref(), Some("column `id` may not be null"));
        assert_eq!(field_error(&c[2], "1001").as_deref(), Some("column `qty`: outside its range"));
        assert_eq!(field_error(&c[3], "1.234").as_deref(), Some("column `price`: at most 2 digits after the point"));
        assert_eq!(field_error(&c[4], ""), None, "optional");
        assert_eq!(field_error(&c[1], &"x".repeat(33)).as_deref(), Some("column `item`: at most 32 long"));
        let texts: Vec<String> = ["7", "fig", "3", "2.50", ""].map(String::from).to_vec();
        let row = row_object(&schema, &texts).unwrap();
        assert_eq!(Json::Object(row), serde_json::json!({ "id": "7", "item": "fig", "qty": "3", "price": "2.50" }));
        let missing: Vec<String> = ["7", "", "3", "2.50", ""].map(String::from).to_vec();
        assert_eq!(row_object(&schema, &missing).unwrap_err(), "column `item` is missing");
    }
}
