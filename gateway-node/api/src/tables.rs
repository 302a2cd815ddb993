//! The table routes' requests and answers (`/v1/tables/…`): what the node proves of a
//! table and what the wallet checks, one definition for both.
//!
//! Keys travel in their order-preserving encoding (`vigil_protocol::tables::key_of`),
//! hex on the wire: byte order is key order, so a range of keys is a range of bytes.

use std::ops::Bound;

use serde::{Deserialize, Serialize};
use vigil_protocol::tables::KeyRange;

use crate::answers::{Hex, ProvenStates};

/// One end of a scan's range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyBound {
    Included(Hex),
    Excluded(Hex),
}

/// `POST /v1/tables/{name}/scan`: a page of the rows whose keys lie in a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRequest {
    /// The lower end (`None`: from the first row).
    #[serde(default)]
    pub from: Option<KeyBound>,
    /// The upper end (`None`: to the last row).
    #[serde(default)]
    pub to: Option<KeyBound>,
    /// At most this many rows (1 to `vigil_protocol::tables::SCAN_LIMIT_MAX`).
    pub limit: u32,
}

fn to_bound(b: &Option<KeyBound>) -> Bound<Vec<u8>> {
    match b {
        None => Bound::Unbounded,
        Some(KeyBound::Included(k)) => Bound::Included(k.0.clone()),
        Some(KeyBound::Excluded(k)) => Bound::Excluded(k.0.clone()),
    }
}

fn from_bound(b: &Bound<Vec<u8>>) -> Option<KeyBound> {
    match b {
        Bound::Unbounded => None,
        Bound::Included(k) => Some(KeyBound::Included(Hex(k.clone()))),
        Bound::Excluded(k) => Some(KeyBound::Excluded(Hex(k.clone()))),
    }
}

impl ScanRequest {
    pub fn new(range: &KeyRange, limit: u32) -> Self {
        Self { from: from_bound(&range.from), to: from_bound(&range.to), limit }
    }

    /// The range asked for.
    pub fn range(&self) -> KeyRange {
        KeyRange { from: to_bound(&self.from), to: to_bound(&self.to) }
    }
}

crate::answer! {
/// `POST /v1/tables/{name}/scan`: a page of rows in key order with what proves it complete
/// — the table's schema and ordered root proven against one certified header, and the
/// range proof against that root. The range a page proves follows from the request and
/// the rows (up to the last row when the page is full), never from the node.
pub struct ScanAnswer {
    /// `Table(name)` and `TableRoot(name)`, with their proofs.
    pub proven: ProvenStates,
    /// BCS `StoredRow` of each row, in key order.
    pub rows_bcs: Vec<Hex>,
    /// BCS `RangeProof` of the range the page proves.
    pub proof_bcs: Hex,
}
}

/// `GET /v1/tables/{name}/rows/{key}/history`: which versions of a key to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// The versions below this one (`None`: the newest), at most
    /// `vigil_protocol::tables::record::HISTORY_PAGE_MAX`.
    #[serde(default)]
    pub before: Option<u32>,
}
