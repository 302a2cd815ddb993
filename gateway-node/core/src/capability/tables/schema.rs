//! Creating a table and changing its schema.
//!
//! - `CreateTable`: a valid schema under a name no table has, while the chain holds fewer
//!   than [`TABLES_MAX`] tables; the sender owns the table and pays [`TABLE_DEPOSIT`],
//!   which the table holds, besides [`CREATE_TABLE_FEE_MIN`]. The table starts empty.
//! - `AlterTable`: by the owner, a schema the one in force evolves to (nullable columns
//!   added at the end; rows written before read them as null), at most
//!   [`SCHEMA_VERSIONS_MAX`] versions.

use vigil_protocol::tables::ordered::OrderedMap;
use vigil_protocol::tables::record::{CREATE_TABLE_FEE_MIN, SCHEMA_VERSIONS_MAX, TABLES_MAX, TABLE_DEPOSIT};
use vigil_protocol::tables::{AlterTable, CreateTable, TableRecord, TableRoot, EMPTY_ROOT};
use vigil_protocol::{Address, Amount, PublicKey, StateKey, TxStatus};

use super::Refused;
use crate::capability::{Capability, ReadState};
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

fn check_create(create: &CreateTable, state: &impl ReadState) -> Result<(), Refused> {
    let schema = &create.schema;
    schema.check().map_err(|e| Refused::Table(e.to_string()))?;
    if state.get::<TableRecord>(&StateKey::Table(schema.name.clone())).is_some() {
        return Err(Refused::Table(format!("a table named `{}` exists already; choose another name", schema.name)));
    }
    let names: Vec<String> = state.get(&StateKey::TableNames).unwrap_or_default();
    if names.len() >= TABLES_MAX {
        return Err(Refused::Table(format!("the chain holds {TABLES_MAX} tables, as many as it may")));
    }
    Ok(())
}

impl Capability for CreateTable {
    type Checked = ();

    fn fee_min(&self) -> u64 {
        CREATE_TABLE_FEE_MIN
    }

    fn spend(&self) -> u64 {
        TABLE_DEPOSIT
    }

    fn admit(&self, ledger: &Ledger, _sender: &PublicKey) -> Result<(), Rejection> {
        check_create(self, ledger).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<(), TxInvalid> {
        check_create(self, cx).map_err(Refused::invalid)?;
        if cx.sender_account().balance.0 < TABLE_DEPOSIT {
            return Err(TxInvalid::CannotPayFee);
        }
        Ok(())
    }

    fn apply(&self, (): (), cx: &mut TxContext<'_>) -> TxStatus {
        let mut sender = cx.sender_account();
        sender.balance = Amount(sender.balance.0 - TABLE_DEPOSIT); // checked in `validate`
        cx.set_sender_account(sender);
        let name = self.schema.name.clone();
        let record = TableRecord {
            owner: cx.sender(),
            versions: vec![self.schema.clone()],
            created: cx.ledger().height().next(),
            deposit: Amount(TABLE_DEPOSIT),
        };
        let mut names: Vec<String> = cx.read(&StateKey::TableNames).unwrap_or_default();
        names.push(name.clone());
        cx.write(StateKey::TableNames, &names);
        cx.write(StateKey::Table(name.clone()), &record);
        cx.write(StateKey::TableRoot(name.clone()), &TableRoot { root: EMPTY_ROOT, rows: 0 });
        cx.set_table_map(name, OrderedMap::default());
        TxStatus::Success
    }
}

fn check_alter(alter: &AlterTable, owner: &Address, state: &impl ReadState) -> Result<TableRecord, Refused> {
    let name = &alter.schema.name;
    let record: TableRecord =
        state.get(&StateKey::Table(name.clone())).ok_or_else(|| Refused::UnknownTable(name.clone()))?;
    if record.owner != *owner {
        return Err(Refused::Table("only the table's owner changes its schema".into()));
    }
    if record.versions.len() >= SCHEMA_VERSIONS_MAX {
        return Err(Refused::Table(format!("a table has at most {SCHEMA_VERSIONS_MAX} schema versions")));
    }
    let current = record.schema().ok_or(Refused::Table("the table has no schema".into()))?;
    current.evolves_to(&alter.schema).map_err(|e| Refused::Table(e.to_string()))?;
    Ok(record)
}

impl Capability for AlterTable {
    type Checked = TableRecord;

    fn fee_min(&self) -> u64 {
        CREATE_TABLE_FEE_MIN
    }

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check_alter(self, &Address::from_public_key(sender), ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<TableRecord, TxInvalid> {
        check_alter(self, &cx.sender(), cx).map_err(Refused::invalid)
    }

    fn apply(&self, mut record: TableRecord, cx: &mut TxContext<'_>) -> TxStatus {
        record.versions.push(self.schema.clone());
        cx.write(StateKey::Table(self.schema.name.clone()), &record);
        TxStatus::Success
    }
}
