//! Every table's rows as an ordered map ([`OrderedMap`]): what a range scan is proven
//! from. The maps are derived data: each row is a leaf of the authenticated state
//! (`StateKey::Row`) and each table's root a value in it (`StateKey::TableRoot`), so the
//! state root covers them; the maps themselves are never stored. A restarted or restored
//! node rebuilds them from the state's leaves and checks each against its stored root.

use std::collections::BTreeMap;

use vigil_protocol::encoding::from_bytes;
use vigil_protocol::tables::ordered::OrderedMap;
use vigil_protocol::tables::{key_of, RowEntry, TableRecord, TableRoot};
use vigil_protocol::{StateKey, StateSnapshot};

use super::LedgerError;

/// The tables' ordered maps at one height, by table name.
#[derive(Debug, Clone, Default)]
pub struct TableMaps(BTreeMap<String, OrderedMap>);

impl TableMaps {
    /// A table's map (`None`: no such table).
    pub fn get(&self, table: &str) -> Option<&OrderedMap> {
        self.0.get(table)
    }

    /// Replaces the maps a block changed.
    pub(crate) fn extend(&mut self, changed: BTreeMap<String, OrderedMap>) {
        self.0.extend(changed);
    }

    /// The maps of the tables `state` holds, from its leaves: a leaf is a row only if it
    /// decodes as a key's entry *and* sits at that key (a row's history versions, or any
    /// other value, sit elsewhere), and its latest write is not a delete. Each rebuilt
    /// root must be the one the state holds.
    pub fn rebuild(state: &StateSnapshot) -> Result<Self, LedgerError> {
        let read = |key: &StateKey| state.get(key);
        let names: Vec<String> = read(&StateKey::TableNames).and_then(|b| from_bytes(&b).ok()).unwrap_or_default();
        let mut records = BTreeMap::new();
        let mut maps = BTreeMap::new();
        for name in names {
            let record: TableRecord = read(&StateKey::Table(name.clone()))
                .and_then(|b| from_bytes(&b).ok())
                .ok_or(LedgerError::StoredStateMismatch("a listed table has no readable record"))?;
            records.insert(name.clone(), record);
            maps.insert(name, OrderedMap::default());
        }
        for (key_hash, value) in state.entries() {
            let Ok(entry) = from_bytes::<RowEntry>(&value) else { continue };
            let Some(stored) = entry.row() else { continue };
            let table = &stored.row.body.table;
            let Some(schema) = records.get(table).and_then(TableRecord::schema) else { continue };
            // Every version has the same key columns: the key reads the same under each.
            let Some(key) = key_of(schema, &stored.row.body.values) else { continue };
            if StateKey::Row(table.clone(), key.clone()).key_hash().0 != key_hash.0 {
                continue;
            }
            if let Some(map) = maps.get_mut(table) {
                map.insert(&key, stored.hash());
            }
        }
        for (name, map) in &maps {
            let root: TableRoot = read(&StateKey::TableRoot(name.clone()))
                .and_then(|b| from_bytes(&b).ok())
                .ok_or(LedgerError::StoredStateMismatch("a table has no readable root"))?;
            if root.root != map.root() || root.rows != map.len() as u64 {
                return Err(LedgerError::StoredStateMismatch("a table's rows do not give its stored root"));
            }
        }
        Ok(Self(maps))
    }
}
