//! Schema-defined tables (SPEC C5, patent 9): the shared shape of what a table is and
//! what proves a read of it.
//!
//! - [`schema`]: a table's typed columns, constraints, primary key and write policy, and
//!   how a schema may evolve (nullable columns added).
//! - [`row`]: values checked against a schema, the primary key's order-preserving
//!   encoding, and the writer's signature over a row, which stands on its own.
//! - [`ordered`]: a table's rows as an authenticated ordered map (a treap fixed by its
//!   keys), whose range proofs show a scan left no row out.
//! - [`record`]: what the state keeps of a table (its schema's versions, its ordered
//!   root, each row and its history) and the checks of a write against the schema.
//! - [`scan`]: a scan page by page as a client checks it (the range each page must prove
//!   follows from what was asked and what came back).

pub mod ordered;
pub mod record;
pub mod row;
pub mod scan;
pub mod schema;

pub use ordered::{KeyRange, ProofNode, RangeError, RangeProof, EMPTY_ROOT};
pub use record::{check_write, AlterTable, CreateTable, RowEntry, TableRecord, TableRoot, WriteError};
pub use row::{check_row, key_of, RowBody, RowError, RowOp, SignedRow, StoredRow, Value};
pub use scan::{proven_range, verify_page, Page, SCAN_LIMIT_MAX};
pub use schema::{Column, ColumnType, SchemaError, TableSchema, WritePolicy};
