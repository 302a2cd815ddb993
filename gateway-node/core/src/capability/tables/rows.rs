//! A row write (`WriteRow`): an insert, update or delete signed by its writer, who is
//! the transaction's sender. The chain decodes it against the table's schema in force,
//! checks the key (an insert's must be new, an update's or delete's present) and the
//! write policy, then writes together: the key's latest write (`Row`, a `RowEntry`: a
//! delete stays as the latest write, and the row is gone), the write before it moved to
//! the key's history (`RowVersion`), and the table's ordered map with its root
//! (`TableRoot`). A first insert writes one entry, as a transfer does.

use vigil_protocol::tables::{check_write, RowEntry, RowOp, SignedRow, StoredRow, TableRecord, TableRoot};
use vigil_protocol::{ChainId, PublicKey, StateKey, TxStatus};

use super::{policy, Refused};
use crate::capability::{Capability, ReadState};
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

/// What a block's check of a write found: the row's key and the key's entry so far.
pub struct CheckedWrite {
    key: Vec<u8>,
    entry: Option<RowEntry>,
}

fn check(
    row: &SignedRow,
    chain: &ChainId,
    sender: &PublicKey,
    state: &impl ReadState,
) -> Result<CheckedWrite, Refused> {
    let table = &row.body.table;
    let record: TableRecord =
        state.get(&StateKey::Table(table.clone())).ok_or_else(|| Refused::UnknownTable(table.clone()))?;
    if row.writer != *sender {
        return Err(Refused::NotTheWriter);
    }
    let schema = record.schema().ok_or(Refused::Table("the table has no schema".into()))?;
    let key = check_write(chain, schema, row).map_err(|e| Refused::Row(e.to_string()))?;
    policy::may_write(&record, &row.writer, state)?;
    let entry: Option<RowEntry> = state.get(&StateKey::Row(table.clone(), key.clone()));
    match (row.body.op, entry.as_ref().and_then(RowEntry::row).is_some()) {
        (RowOp::Insert, true) => return Err(Refused::DuplicateKey),
        (RowOp::Update | RowOp::Delete, false) => return Err(Refused::MissingRow),
        _ => {}
    }
    if entry.as_ref().is_some_and(|e| e.versions == u32::MAX) {
        return Err(Refused::Row("this key was written as many times as a key may be".into()));
    }
    Ok(CheckedWrite { key, entry })
}

impl Capability for SignedRow {
    type Checked = CheckedWrite;

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check(self, ledger.chain_id(), sender, ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<CheckedWrite, TxInvalid> {
        check(self, cx.ledger().chain_id(), &cx.sender_key(), cx).map_err(Refused::invalid)
    }

    fn apply(&self, CheckedWrite { key, entry }: CheckedWrite, cx: &mut TxContext<'_>) -> TxStatus {
        let table = self.body.table.clone();
        let latest = StoredRow { row: self.clone(), written: cx.ledger().height().next() };
        // The table exists (checked): its map is there.
        let mut map = cx.table_map(&table).unwrap_or_default();
        match self.body.op {
            RowOp::Insert | RowOp::Update => map.insert(&key, latest.hash()),
            RowOp::Delete => map.remove(&key),
        }
        let versions = match entry {
            Some(before) => {
                cx.write(StateKey::RowVersion(table.clone(), key.clone(), before.versions - 1), &before.latest);
                before.versions + 1 // below u32::MAX: checked
            }
            None => 1,
        };
        cx.write(StateKey::Row(table.clone(), key), &RowEntry { latest, versions });
        cx.write(StateKey::TableRoot(table.clone()), &TableRoot { root: map.root(), rows: map.len() as u64 });
        cx.set_table_map(table, map);
        TxStatus::Success
    }
}
