//! Newtypes for meanings: heights, views, nonces, amounts, chain and node ids. A bare
//! `u64` never has to be guessed at.

use serde::{Deserialize, Serialize};

use crate::bytes::byte_newtype;
use crate::crypto::PublicKey;
use crate::hash::{hash, Domain};
use crate::limits::CHAIN_ID_LEN_MAX;

macro_rules! u64_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

u64_newtype!(
    /// Block height; genesis is height 0.
    Height
);
u64_newtype!(
    /// Consensus view (round) within a height; changes on leader timeout.
    View
);
u64_newtype!(
    /// Bft (Tendermint) round within a height. On the wire it fills the slot a Fast view
    /// fills (a vote's or proposal's `view`: one number per height and mode); inside
    /// consensus the two never mix.
    Round
);
u64_newtype!(
    /// Per-account transaction counter: the next transaction must carry the current one.
    Nonce
);
u64_newtype!(
    /// Token amount in the smallest unit.
    Amount
);

impl Height {
    pub fn next(self) -> Self {
        Height(self.0.saturating_add(1))
    }
}

impl View {
    pub fn next(self) -> Self {
        View(self.0.saturating_add(1))
    }
}

impl Round {
    pub fn next(self) -> Self {
        Round(self.0.saturating_add(1))
    }
    /// The round a Bft vote or proposal names in its `view` slot.
    pub fn of_slot(slot: View) -> Self {
        Round(slot.0)
    }
    /// The `view` slot of a Bft vote or proposal for this round.
    pub fn slot(self) -> View {
        View(self.0)
    }
}

impl Amount {
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }
}

byte_newtype!(
    /// A validator's identity: hash of its Ed25519 consensus key. Named in gateway
    /// requests, receipts, votes and evidence.
    NodeId,
    32
);

impl NodeId {
    pub fn from_public_key(key: &PublicKey) -> Self {
        Self(hash(Domain::NodeId, key.as_bytes()).0)
    }

    /// First 8 hex digits: enough to tell validators apart in logs and UIs.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

/// Why a chain id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainIdError {
    #[error("chain id must be 1 to {CHAIN_ID_LEN_MAX} bytes, found {0}")]
    Length(usize),
    #[error("chain id may only contain a-z, 0-9 and '-': {0:?}")]
    Charset(String),
}

/// The chain's name, inside every signed transaction, vote and receipt so nothing
/// signed for one chain is valid on another.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChainId(String);

impl ChainId {
    pub fn new(s: impl Into<String>) -> Result<Self, ChainIdError> {
        let s = s.into();
        if s.is_empty() || s.len() > CHAIN_ID_LEN_MAX {
            return Err(ChainIdError::Length(s.len()));
        }
        if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(ChainIdError::Charset(s));
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChainId {
    type Error = ChainIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<ChainId> for String {
    fn from(c: ChainId) -> String {
        c.0
    }
}

impl std::fmt::Display for ChainId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_id_rejects_bad_names() {
        assert!(ChainId::new("vigil-devnet-1").is_ok());
        assert_eq!(ChainId::new(""), Err(ChainIdError::Length(0)));
        assert!(matches!(ChainId::new("Vigil"), Err(ChainIdError::Charset(_))));
        assert_eq!(ChainId::new("a".repeat(33)), Err(ChainIdError::Length(33)));
    }

    #[test]
    fn decoding_an_invalid_chain_id_fails() {
        let bytes = crate::encoding::to_bytes(&"UPPER".to_string());
        assert!(crate::encoding::from_bytes::<ChainId>(&bytes).is_err());
    }
}
