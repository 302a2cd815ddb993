//! [`TxContext`]: the state one transaction sees and changes while its block is
//! executed — what a [`crate::capability::Capability`] reads and writes.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::tables::ordered::OrderedMap;
use vigil_protocol::{Address, PublicKey, StateKey};

use super::{AccountState, ConsensusState, Ledger};

/// State changes as the block builds them: key → new bytes (`None`: deleted).
pub(crate) type Changes = BTreeMap<StateKey, Option<Vec<u8>>>;

/// One transaction's view of the state: the committed ledger, what earlier transactions
/// of the block changed, and its own changes so far (newest last). The sender's account
/// has already paid the fee and used the nonce; it is written after the payload.
pub struct TxContext<'a> {
    ledger: &'a Ledger,
    from: Address,
    key: PublicKey,
    sender: AccountState,
    accounts: &'a mut BTreeMap<Address, AccountState>,
    next: &'a mut ConsensusState,
    tables: &'a mut BTreeMap<String, OrderedMap>,
    earlier: &'a Changes,
    touched: &'a mut Vec<(StateKey, Option<Vec<u8>>)>,
}

impl<'a> TxContext<'a> {
    pub(crate) fn new(
        ledger: &'a Ledger,
        (from, key, sender): (Address, PublicKey, AccountState),
        (accounts, next, tables): super::BlockSoFar<'a>,
        earlier: &'a Changes,
        touched: &'a mut Vec<(StateKey, Option<Vec<u8>>)>,
    ) -> Self {
        Self { ledger, from, key, sender, accounts, next, tables, earlier, touched }
    }

    /// The committed ledger (the chain id, the sets in force at past heights).
    pub fn ledger(&self) -> &Ledger {
        self.ledger
    }

    /// The sender's address.
    pub fn sender(&self) -> Address {
        self.from
    }

    /// The key that signed the transaction.
    pub fn sender_key(&self) -> PublicKey {
        self.key
    }

    /// The sender's account, fee paid and nonce used.
    pub fn sender_account(&self) -> AccountState {
        self.sender
    }

    pub fn set_sender_account(&mut self, account: AccountState) {
        self.sender = account;
    }

    /// The sender's account after the transaction (written once the payload ran).
    pub(crate) fn into_sender_account(self) -> AccountState {
        self.sender
    }

    /// Another account as the block has left it so far (all zero if it never received
    /// anything).
    pub fn account(&self, address: &Address) -> AccountState {
        if *address == self.from {
            return self.sender;
        }
        self.accounts.get(address).copied().unwrap_or_else(|| self.ledger.account(address))
    }

    /// Writes an account other than the sender's (the sender's goes through
    /// [`TxContext::set_sender_account`]).
    pub fn set_account(&mut self, address: Address, account: AccountState) {
        debug_assert_ne!(address, self.from, "the sender's account is written once, after the payload");
        self.accounts.insert(address, account);
        self.touched.push((StateKey::Account(address), Some(to_bytes(&account))));
    }

    /// The consensus configuration for the next height, as the block has left it so far.
    pub fn consensus(&self) -> &ConsensusState {
        self.next
    }

    pub fn set_consensus(&mut self, next: ConsensusState) {
        self.touched.push((StateKey::Consensus, Some(to_bytes(&next))));
        *self.next = next;
    }

    /// A state entry as the block has left it so far: this transaction's changes, then
    /// earlier transactions', then the committed state (`None` if absent or unreadable).
    pub fn read<T: DeserializeOwned>(&self, key: &StateKey) -> Option<T> {
        let bytes = match self.touched.iter().rev().find(|(k, _)| k == key) {
            Some((_, v)) => v.clone(),
            None => match self.earlier.get(key) {
                Some(v) => v.clone(),
                None => self.ledger.tree.get(key, self.ledger.height().0),
            },
        }?;
        from_bytes(&bytes).ok()
    }

    /// Deletes a state entry (not an account or the consensus configuration).
    pub fn remove(&mut self, key: StateKey) {
        debug_assert!(!matches!(key, StateKey::Account(_) | StateKey::Consensus), "never deleted");
        self.touched.push((key, None));
    }

    /// A table's ordered map as the block has left it so far (`None`: no such table).
    /// Cheap: versions of a map share their nodes.
    pub fn table_map(&self, table: &str) -> Option<OrderedMap> {
        self.tables.get(table).or_else(|| self.ledger.tables.get(table)).cloned()
    }

    /// Replaces a table's ordered map (its root goes in the state through
    /// `StateKey::TableRoot`, written by the caller with it).
    pub fn set_table_map(&mut self, table: String, map: OrderedMap) {
        self.tables.insert(table, map);
    }

    /// Writes a state entry (not an account or the consensus configuration: those have
    /// their own writers, which keep the block's caches in step).
    pub fn write<T: Serialize>(&mut self, key: StateKey, value: &T) {
        debug_assert!(!matches!(key, StateKey::Account(_) | StateKey::Consensus), "written through their own setters");
        self.touched.push((key, Some(to_bytes(value))));
    }
}
