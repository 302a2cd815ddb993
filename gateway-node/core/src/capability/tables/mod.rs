//! Schema-defined tables (SPEC C5): the chain keeps each table's schema and rows, and
//! every row carries its writer's signature for ever (the shapes are described in
//! `vigil_protocol::tables`).
//!
//! - [`schema`]: `CreateTable` (the sender owns the table and pays its deposit) and
//!   `AlterTable` (by the owner: nullable columns added, a new version in force).
//! - [`rows`]: `WriteRow` — decoded and checked against the schema in force (types,
//!   constraints, key uniqueness), signed by the sender (the signature itself is checked
//!   with the transaction's, see `verify_transactions`), allowed by the write policy
//!   ([`policy`]); the row, its history and the table's ordered root are written together.
//!
//! Everything a write can be refused for is checked at admission with a typed error
//! naming the column or rule, and again in a block, where a refused write may not be at
//! all: a refused write changes nothing, not even a fee.

use crate::consensus::Rejection;
use crate::execution::TxInvalid;

pub mod policy;
pub mod rows;
pub mod schema;

/// Why a table's payload is refused (each its own error code at the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    UnknownTable(String),
    Table(String),
    Row(String),
    DuplicateKey,
    MissingRow,
    NotTheWriter,
    Policy(String),
}

impl Refused {
    pub(crate) fn rejection(self) -> Rejection {
        match self {
            Refused::UnknownTable(name) => Rejection::UnknownTable(name),
            Refused::Table(why) => Rejection::InvalidTable(why),
            Refused::Row(why) => Rejection::InvalidRow(why),
            Refused::DuplicateKey => Rejection::DuplicateKey,
            Refused::MissingRow => Rejection::MissingRow,
            Refused::NotTheWriter => Rejection::NotTheWriter,
            Refused::Policy(why) => Rejection::WriteRefused(why),
        }
    }

    pub(crate) fn invalid(self) -> TxInvalid {
        TxInvalid::Table(self.rejection().to_string())
    }
}

#[cfg(test)]
mod tests;
