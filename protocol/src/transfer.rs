//! Transfers: the payload that moves an amount between accounts, and an account's
//! entry in the authenticated state (what a wallet proves a balance and nonce with).

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::ids::{Amount, Nonce};

/// Move `amount` from the sender to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub to: Address,
    pub amount: Amount,
}

/// An account's entry in the state (value of [`crate::StateKey::Account`], BCS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    pub balance: Amount,
    pub nonce: Nonce,
}
