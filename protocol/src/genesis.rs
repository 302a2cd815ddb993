//! Genesis: the chain's starting configuration. Its validator-set hash is what a light
//! client pins; its hash is the parent of block 1.

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::hash::{hash_value, BlockHash, Domain};
use crate::ids::{Amount, ChainId};
use crate::validator::{ConsensusMode, ValidatorSet};

/// The chain's starting configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    pub chain_id: ChainId,
    pub validators: ValidatorSet,
    /// Initial balances, sorted by address, no duplicates (checked by execution).
    pub accounts: Vec<(Address, Amount)>,
    /// Mode of block 1; normally `Fast`.
    pub mode: ConsensusMode,
    pub time_ms: u64,
    /// The vault's serialization factor (n, k, shard size, …).
    #[serde(default)]
    pub vault: crate::vault::VaultConfig,
    /// How often validators make a checkpoint ([`crate::checkpoint`]).
    #[serde(default)]
    pub checkpoints: crate::checkpoint::CheckpointConfig,
    /// The authentication centers that issue certificates ([`crate::authcenter`]), if any.
    #[serde(default)]
    pub authcenters: Option<crate::authcenter::AuthCenterSet>,
    /// When an audit is agreed ([`crate::audit`]): every counterparty by default.
    #[serde(default)]
    pub audit: crate::audit::AuditCondition,
}

impl Genesis {
    pub fn hash(&self) -> BlockHash {
        hash_value(Domain::Genesis, self)
    }
}
