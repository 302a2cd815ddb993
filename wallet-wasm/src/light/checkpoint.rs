//! A light client started from a stable checkpoint instead of genesis: the checkpoint
//! (`GET /v1/checkpoints/latest`) is verified against what the user or the app pinned —
//! a validator set ([`CheckpointPin::Set`]: the checkpoint's set must be it, or be
//! reached from it by certified set changes up to the checkpoint's height) or the
//! digest's hash ([`CheckpointPin::Hash`]: the set given with it must be the one the
//! digest names) — and then its quorum of signatures by that set. The client then
//! trusts that set from the checkpoint's next height on and follows only the set changes
//! after it. How old the checkpoint may be is the session's check
//! (`Session::start_from_checkpoint`), against the newest header it verifies.

use serde::Serialize;
use vigil_protocol::encoding;
use vigil_protocol::{
    follow_set_changes, BlockHash, CertifiedHeader, ChainId, Hash32, Height, NodeId, SetChange, StableCheckpoint,
    ValidatorSet,
};

use super::{LightClient, LightError, Verification};

/// How many blocks a checkpoint may be behind the newest certified header the wallet
/// verifies when it starts from it. Nodes serve their newest stable checkpoint, about
/// one checkpoint interval old at most (64 blocks by default); this leaves room for
/// sixteen. A chain with a longer interval configures a larger bound.
pub const CHECKPOINT_AGE_MAX_BLOCKS: u64 = 1_024;

/// What a checkpoint is verified against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointPin {
    /// The hash of the checkpoint's digest ([`vigil_protocol::CheckpointDigest::hash`]),
    /// pinned by the user: the set served with it must be the one the digest names.
    Hash(Hash32),
    /// A validator set the wallet trusts (the genesis set, or one the app ships): the
    /// checkpoint's set must be it or be reached from it by certified set changes.
    Set(ValidatorSet),
}

/// Which pin a checkpoint was verified against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PinKind {
    Hash,
    Set,
}

/// How a light client started from a checkpoint (shown to users).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointStart {
    pub height: Height,
    /// The digest's hash (what a user pins).
    pub digest_hash: Hash32,
    /// The set the checkpoint names, which certifies the next height: where the client
    /// goes on from.
    pub validator_set_hash: Hash32,
    pub pin: PinKind,
    /// The pinned set's hash (when verified against a pinned set).
    pub pinned_set_hash: Option<Hash32>,
    /// Certified set changes followed from the pinned set to the checkpoint's set.
    pub set_changes_followed: usize,
    /// Validators whose signatures on the digest were verified.
    pub signers: usize,
    /// The newest height verified when the client started, and how far the checkpoint
    /// was behind it (filled in by the session, which checks the bound).
    pub newest_height: Height,
    pub age_blocks: u64,
}

/// How a light client started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// From the pinned genesis set, following every set change since.
    Genesis { validator_set_hash: Hash32 },
    /// From a stable checkpoint.
    Checkpoint(CheckpointStart),
}

/// One flat object, `from` naming the variant, fields in camelCase (the npm package's
/// `SessionStart`). Written by hand: serde's internally tagged enums wrap the
/// serializer in a type of their own, which costs the wasm several kilobytes.
impl Serialize for Start {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let c = match self {
            Start::Genesis { validator_set_hash } => {
                let mut out = serializer.serialize_struct("Start", 2)?;
                out.serialize_field("from", "genesis")?;
                out.serialize_field("validatorSetHash", validator_set_hash)?;
                return out.end();
            }
            Start::Checkpoint(c) => c,
        };
        let mut out = serializer.serialize_struct("Start", 11)?;
        out.serialize_field("from", "checkpoint")?;
        out.serialize_field("height", &c.height)?;
        out.serialize_field("digestHash", &c.digest_hash)?;
        out.serialize_field("validatorSetHash", &c.validator_set_hash)?;
        out.serialize_field("pin", &c.pin)?;
        out.serialize_field("pinnedSetHash", &c.pinned_set_hash)?;
        out.serialize_field("setChangesFollowed", &c.set_changes_followed)?;
        out.serialize_field("signers", &c.signers)?;
        out.serialize_field("newestHeight", &c.newest_height)?;
        out.serialize_field("ageBlocks", &c.age_blocks)?;
        out.end()
    }
}

/// The block a stable checkpoint names: its height and hash, signed by the checkpoint's
/// quorum (the signatures on that header are by a set before the one the client
/// trusts, so the hash is what vouches for it).
#[derive(Debug, Clone)]
pub(crate) struct Anchor {
    pub(crate) height: Height,
    block_hash: BlockHash,
    set_hash: Hash32,
    set_len: usize,
    signers: Vec<NodeId>,
}

impl LightClient {
    /// Starts from a stable checkpoint (BCS, with the BCS of the set served with it, as
    /// `/v1/checkpoints/latest` gives them), verified against `pin`. With a pinned set,
    /// `changes_bcs` are the chain's set changes (`/v1/validators`, BCS
    /// `Vec<SetChange>`): those up to the checkpoint's height lead from the pinned set
    /// to the checkpoint's.
    pub fn from_checkpoint(
        chain_id: ChainId,
        pin: &CheckpointPin,
        checkpoint_bcs: &[u8],
        validators_bcs: &[u8],
        changes_bcs: Option<&[u8]>,
    ) -> Result<Self, LightError> {
        let stable: StableCheckpoint = encoding::from_bytes(checkpoint_bcs)?;
        let digest = &stable.digest;
        if digest.chain_id != chain_id {
            return Err(LightError::WrongChain { expected: chain_id, found: digest.chain_id.clone() });
        }
        let (set, pinned_set_hash, followed) = match pin {
            CheckpointPin::Hash(pinned) => {
                if digest.hash() != *pinned {
                    return Err(LightError::PinnedHashMismatch {
                        pinned: *pinned,
                        served: digest.hash(),
                        height: digest.height,
                    });
                }
                (encoding::from_bytes::<ValidatorSet>(validators_bcs)?, None, 0)
            }
            CheckpointPin::Set(pinned) => {
                let changes: Vec<SetChange> = match changes_bcs {
                    Some(bytes) => encoding::from_bytes(bytes)?,
                    None => Vec::new(),
                };
                let (set, followed) = reach(pinned, &changes, digest.height)?;
                if set.hash() != digest.next_validator_set_hash {
                    return Err(LightError::CheckpointSetNotReached {
                        pinned: pinned.hash(),
                        named: digest.next_validator_set_hash,
                        reached: set.hash(),
                    });
                }
                (set, Some(pinned.hash()), followed)
            }
        };
        stable.verify(&chain_id, &set)?;
        let height = digest.height;
        let start = Start::Checkpoint(CheckpointStart {
            height,
            digest_hash: digest.hash(),
            validator_set_hash: set.hash(),
            pin: if pinned_set_hash.is_some() { PinKind::Set } else { PinKind::Hash },
            pinned_set_hash,
            set_changes_followed: followed,
            signers: stable.signatures.len(),
            newest_height: height,
            age_blocks: 0,
        });
        let mode = digest.next_mode;
        let anchor = Anchor {
            height,
            block_hash: digest.block_hash,
            set_hash: set.hash(),
            set_len: set.len(),
            signers: stable.signer_ids(&set).collect(),
        };
        let mut client = Self::rooted(chain_id, set, start, height.next());
        client.anchor = Some(anchor);
        // The checkpoint's quorum says which mode its next height runs in: a header in
        // Fast mode above a Bft one is a lie, as between headers.
        client.verifier.mode_at(height.next(), mode);
        Ok(client)
    }

    /// The header at the checkpoint's height, accepted if it is the block the checkpoint
    /// names; any header below it is refused.
    pub(super) fn anchored(&self, ch: &CertifiedHeader) -> Result<Verification, LightError> {
        let height = ch.header.height;
        let Some(a) = self.anchor.as_ref().filter(|a| a.height == height) else {
            return Err(LightError::BeforeStart { height, from: self.first_height() });
        };
        if ch.header.hash() != a.block_hash {
            return Err(LightError::NotCheckpointBlock { height });
        }
        Ok(Verification {
            method: format!(
                "block {height} named by stable checkpoint #{height}, which {} of {} validators signed (batch Ed25519)",
                a.signers.len(),
                a.set_len
            ),
            height: Some(height),
            validator_set_hash: a.set_hash,
            signers: a.signers.clone(),
            header_time_ms: Some(ch.header.time_ms),
            cross_check: None,
        })
    }

    /// Records how old the checkpoint this client started from was when the session
    /// checked it (`newest`: the newest height verified then); `None` if it started
    /// from genesis.
    pub(crate) fn set_checkpoint_age(&mut self, newest: Height) -> Option<CheckpointStart> {
        match &mut self.start {
            Start::Checkpoint(c) => {
                c.newest_height = newest;
                c.age_blocks = newest.0.saturating_sub(c.height.0);
                Some(c.clone())
            }
            Start::Genesis { .. } => None,
        }
    }
}

/// The set in force after `height`, reached from `pinned` by the certified changes made
/// at or below it, and how many were followed. The changes are the chain's since
/// genesis: the pinned set may be genesis's or a later one, so they are followed from
/// the last change that led to it (from the first if none did, as from genesis). Each
/// change must be certified by the set before it, so a node cannot lead the wallet from
/// its pin to another set.
fn reach(pinned: &ValidatorSet, changes: &[SetChange], height: Height) -> Result<(ValidatorSet, usize), LightError> {
    // The changes are in height order (following refuses them otherwise).
    let upto = changes.iter().take_while(|c| c.certified.header.height <= height).count();
    let upto = changes.get(..upto).unwrap_or(&[]);
    let from = upto.iter().rposition(|c| c.next == *pinned).map_or(0, |i| i + 1);
    let path = upto.get(from..).unwrap_or(&[]);
    Ok((follow_set_changes(pinned, path)?, path.len()))
}

#[cfg(test)]
pub(crate) mod tests;
