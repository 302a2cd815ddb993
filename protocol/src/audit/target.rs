//! Target objects and their trades: a target is registered by its owner's account and
//! names the validator that keeps its records; a trade is recorded by the owner and
//! confirmed by the counterparty, each with its own signed transaction.

use serde::{Deserialize, Serialize};

use crate::hash::{hash_value, Domain};
use crate::limits::{AUDIT_NAME_LEN_MAX, AUDIT_REFERENCE_LEN_MAX};
use crate::{Address, Hash32, Height, NodeId, PublicKey};

/// A target object's id: the hash of its owner and name (one name per owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TargetId(pub Hash32);

impl TargetId {
    pub fn of(owner: &Address, name: &str) -> TargetId {
        TargetId(hash_value(Domain::AuditTarget, &(owner, name)))
    }
}

impl std::fmt::Display for TargetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for TargetId {
    type Err = hex::FromHexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(TargetId)
    }
}

/// Why a target's registration or a trade is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("a name or a dimension is 1 to {AUDIT_NAME_LEN_MAX} bytes of printable text")]
    Name,
    #[error("the two dimensions must differ")]
    SameDimensions,
    #[error("a trade's reference is at most {AUDIT_REFERENCE_LEN_MAX} bytes of printable text")]
    Reference,
    #[error("a trade moves something: its quantity or its amount is above 0")]
    EmptyTrade,
    #[error("a target cannot trade with its own owner")]
    SelfTrade,
}

fn printable(s: &str, max: usize) -> bool {
    s.len() <= max && s.chars().all(|c| !c.is_control())
}

/// Registers a target object owned by the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterTarget {
    pub name: String,
    /// The validator that keeps its records.
    pub holder: NodeId,
    /// What its first and second data measure (e.g. "production", "shipments"); the
    /// second's rows are its trades' rows, one counterparty each.
    pub dimensions: [String; 2],
}

impl RegisterTarget {
    pub fn check(&self) -> Result<(), TargetError> {
        for name in std::iter::once(&self.name).chain(&self.dimensions) {
            if name.is_empty() || !printable(name, AUDIT_NAME_LEN_MAX) {
                return Err(TargetError::Name);
            }
        }
        if self.dimensions[0] == self.dimensions[1] {
            return Err(TargetError::SameDimensions);
        }
        Ok(())
    }
}

/// A target object as the state keeps it (`StateKey::Target`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub owner: Address,
    /// The key its records are signed with (the one that registered it).
    pub owner_key: PublicKey,
    pub name: String,
    pub holder: NodeId,
    pub dimensions: [String; 2],
    pub registered_at: Height,
    /// Trades recorded so far (the next trade's number).
    pub trades: u64,
    /// The first trade not in an audit yet.
    pub trades_audited: u64,
    /// Audits submitted so far (the next audit's number).
    pub audits: u64,
    /// The next audit's period starts here (consecutive periods, none skipped).
    pub next_from: Height,
}

/// A trade with a counterparty, recorded by the target's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordTrade {
    pub target: TargetId,
    pub counterparty: Address,
    pub quantity: u64,
    pub amount: u64,
    pub reference: String,
}

impl RecordTrade {
    pub fn check(&self, owner: &Address) -> Result<(), TargetError> {
        if !printable(&self.reference, AUDIT_REFERENCE_LEN_MAX) {
            return Err(TargetError::Reference);
        }
        if self.quantity == 0 && self.amount == 0 {
            return Err(TargetError::EmptyTrade);
        }
        if self.counterparty == *owner {
            return Err(TargetError::SelfTrade);
        }
        Ok(())
    }
}

/// The counterparty's confirmation of a trade (sent by the counterparty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmTrade {
    pub target: TargetId,
    pub trade: u64,
}

/// A trade as the state keeps it (`StateKey::Trade`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    pub counterparty: Address,
    pub quantity: u64,
    pub amount: u64,
    pub reference: String,
    pub recorded_at: Height,
    /// When the counterparty confirmed it: only a confirmed trade is one both sides hold.
    pub confirmed_at: Option<Height>,
}
