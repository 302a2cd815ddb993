//! Fast mode's view change, made accountable.
//!
//! Fast mode commits a block with one round of signed acks from a majority. When a
//! view's leader fails, followers *promise* the next view's leader to ack nothing below
//! it, each reporting the highest-view block it acked at this height; the new leader
//! must re-propose the block that may have been committed (Multi-Paxos phase 1).
//!
//! In the crash model the reports can be trusted. Here they cannot, so:
//! - a [`Promise`] is signed, and claims at most a view below the one it promises;
//! - a claim counts only with its [`Backing`]: the signed proposal (the leader's own ack)
//!   of the claimed view, with *that* proposal's [`Justification`], checked recursively;
//! - every proposal carries its justification: the genesis, the parent's certificate at
//!   the proposal's view (a leader still active since the previous height), or a quorum
//!   of promises with the backings of the highest claims; followers ack only a proposal
//!   whose justification holds, so a lying promise or an unjustified proposal moves no
//!   honest node.
//!
//! With fewer Byzantine validators than two Fast quorums share (one of 4), a block
//! committed at some view is the only block any justified proposal at a higher view can
//! carry, so Fast mode never forks. Beyond that bound a fork is accountable: the
//! statements of [`crate::evidence`] name a validator whose two signed statements cannot
//! both be honest ([`acks_regress`], [`ack_and_promise_conflict`]). There, too, a view change never waits for ever:
//! when the claimed view's leader equivocated and alone fills the overlap, the
//! promises may never tell which of its blocks was committed, and the selection leaves
//! a choice ([`Selection::OneOf`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::crypto::{CryptoError, SecretKey, Signature};
use crate::encoding;
use crate::hash::{BlockHash, Domain};
use crate::ids::{ChainId, Height, NodeId, View};
use crate::validator::{ConsensusMode, ValidatorSet};
use crate::vote::{QcError, QuorumCert, Vote, VoteData, VoteKind};

/// Deepest chain of backings a justification may carry (one level per view in which a
/// block was re-proposed at one height without being committed).
pub const JUSTIFICATION_DEPTH_MAX: usize = 32;

/// The leader of `view`: the validator at index `view mod n` of the canonical order.
pub fn leader(set: &ValidatorSet, view: View) -> Option<NodeId> {
    let n = set.len() as u64;
    if n == 0 {
        return None;
    }
    set.by_index((view.0 % n) as usize).map(|v| v.id)
}

/// What a validator promises when it moves to `view` at `height`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PromiseData {
    pub chain_id: ChainId,
    pub height: Height,
    /// The view promised: nothing below it will be acked at this height.
    pub view: View,
    /// The highest-view block acked at this height, and that view (below `view`).
    pub acked: Option<(View, BlockHash)>,
}

impl PromiseData {
    pub fn sign(&self, voter: NodeId, key: &SecretKey) -> Promise {
        Promise { data: self.clone(), voter, signature: key.sign(Domain::PromiseSignature, &encoding::to_bytes(self)) }
    }
}

/// A signed [`PromiseData`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promise {
    pub data: PromiseData,
    pub voter: NodeId,
    pub signature: Signature,
}

impl Promise {
    /// Verifies the signature (ZIP-215, as everywhere) with the voter's key from `set`, and that the
    /// claim is below the promised view.
    pub fn verify(&self, set: &ValidatorSet) -> Result<(), FastError> {
        if self.data.acked.is_some_and(|(v, _)| v >= self.data.view) {
            return Err(FastError::ClaimNotBelowView);
        }
        let v = set.get(&self.voter).ok_or(FastError::UnknownVoter(self.voter))?;
        v.consensus_key
            .verify(Domain::PromiseSignature, &encoding::to_bytes(&self.data), &self.signature)
            .map_err(|_: CryptoError| FastError::BadSignature(self.voter))
    }
}

/// Proof that the leader of a view really proposed a block there, and was entitled to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backing {
    /// The leader's own signed ack of its proposal.
    pub leader_ack: Vote,
    pub justification: Justification,
}

/// Why a Fast proposal at its view is allowed to carry its block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Justification {
    /// Height 1, view 0: nothing can have been acked before.
    Genesis,
    /// The parent block's certificate at the proposal's view: a majority was in this
    /// view at the previous height, so nothing at this height was acked below it, and
    /// the leader proposes first in its view (its promises cover later heights).
    Parent(QuorumCert),
    /// A quorum of promises for the proposal's view, with the backing of each block
    /// claimed at the highest claimed view.
    Promises { promises: Vec<Promise>, backings: Vec<Backing> },
}

/// Why a justification does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FastError {
    #[error("a promise claims an ack at or above the view it promises")]
    ClaimNotBelowView,
    #[error("{0} is not a validator of this set")]
    UnknownVoter(NodeId),
    #[error("the signature of {0} does not verify")]
    BadSignature(NodeId),
    #[error("genesis justifies only view 0 of height 1")]
    NotGenesis,
    #[error("the parent certificate is not for the parent block at the proposal's view")]
    ParentMismatch,
    #[error("parent certificate: {0}")]
    ParentCertificate(#[from] QcError),
    #[error("a promise is for another chain, height or view")]
    PromiseForOtherSlot,
    #[error("{0} promised twice")]
    DuplicatePromise(NodeId),
    #[error("the promises hold {power} voting power, a Fast quorum needs {quorum}")]
    NoQuorum { power: u64, quorum: u64 },
    #[error("the claim of block {block} at view {view} has no valid backing")]
    UnbackedClaim { view: View, block: BlockHash },
    #[error("the leader of view {0} equivocated and the promises do not tell which block may be committed")]
    Ambiguous(View),
    #[error("the proposal must re-propose block {expected}")]
    WrongBlock { expected: BlockHash },
    #[error(
        "the leader of view {0} equivocated: the proposal must carry one of the blocks that may have been committed"
    )]
    NotAPossibleBlock(View),
    #[error("backings nest deeper than {JUSTIFICATION_DEPTH_MAX}")]
    TooDeep,
}

/// What a justification is checked against: the proposal's slot.
#[derive(Debug, Clone, Copy)]
pub struct ProposalSlot<'a> {
    pub chain_id: &'a ChainId,
    pub height: Height,
    pub view: View,
    /// The hash of the block at `height - 1` (the genesis hash at height 1).
    pub parent_hash: BlockHash,
    /// The validator set of `height` (also the parent's: a set changes only with a
    /// jailing, after which the chain runs Bft).
    pub set: &'a ValidatorSet,
}

/// What a justification requires of the proposed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Nothing may have been committed at this height: any valid block.
    Free,
    /// This block (a re-proposal).
    Block(BlockHash),
    /// One of these blocks, each of which may have been committed, the one to prefer
    /// first (most claimed, then lowest hash). Only when the claimed view's leader is
    /// proven (by the backings) to have equivocated and alone fills the overlap of two
    /// Fast quorums: Fast mode's no-fork guarantee is void already, and waiting for
    /// promises that may never come would halt the chain with the proof in hand. The
    /// fork a pick may cause is accountable: the re-proposal carries the equivocation.
    OneOf(Vec<BlockHash>),
}

impl Selection {
    /// Whether a proposal of `block` meets this selection.
    pub fn allows(&self, block: &BlockHash) -> bool {
        match self {
            Selection::Free => true,
            Selection::Block(required) => required == block,
            Selection::OneOf(possible) => possible.contains(block),
        }
    }
}

impl Justification {
    /// Checks that a proposal of `block` at `slot` is justified.
    pub fn check(&self, slot: &ProposalSlot<'_>, block: &BlockHash) -> Result<(), FastError> {
        match self.selection(slot, 0)? {
            Selection::Block(expected) if expected != *block => Err(FastError::WrongBlock { expected }),
            Selection::OneOf(possible) if !possible.contains(block) => {
                let view = match self {
                    Justification::Promises { promises, .. } => top_claim(promises),
                    _ => None,
                };
                let view = view.unwrap_or(slot.view);
                Err(FastError::NotAPossibleBlock(view))
            }
            _ => Ok(()),
        }
    }

    /// What this justification allows at `slot` (recursively checked).
    pub fn selection(&self, slot: &ProposalSlot<'_>, depth: usize) -> Result<Selection, FastError> {
        if depth > JUSTIFICATION_DEPTH_MAX {
            return Err(FastError::TooDeep);
        }
        match self {
            Justification::Genesis => {
                if slot.height != Height(1) || slot.view != View(0) {
                    return Err(FastError::NotGenesis);
                }
                Ok(Selection::Free)
            }
            Justification::Parent(qc) => {
                let d = &qc.data;
                let parent = Height(slot.height.0.checked_sub(1).ok_or(FastError::ParentMismatch)?);
                if parent == Height(0)
                    || d.chain_id != *slot.chain_id
                    || d.height != parent
                    || d.view != slot.view
                    || d.kind != VoteKind::Ack
                    || d.block_hash != slot.parent_hash
                {
                    return Err(FastError::ParentMismatch);
                }
                qc.verify(slot.set)?;
                Ok(Selection::Free)
            }
            Justification::Promises { promises, backings } => select(promises, backings, slot, depth),
        }
    }
}

/// The block a quorum of promises allows (see [`Justification::Promises`]).
fn select(
    promises: &[Promise],
    backings: &[Backing],
    slot: &ProposalSlot<'_>,
    depth: usize,
) -> Result<Selection, FastError> {
    let set = slot.set;
    let mut voters = BTreeSet::new();
    for p in promises {
        let d = &p.data;
        if d.chain_id != *slot.chain_id || d.height != slot.height || d.view != slot.view {
            return Err(FastError::PromiseForOtherSlot);
        }
        if !voters.insert(p.voter) {
            return Err(FastError::DuplicatePromise(p.voter));
        }
        p.verify(set)?;
    }
    let power = set.power_of(voters.iter().filter_map(|v| set.index_of(v)));
    let quorum = set.quorum_power(ConsensusMode::Fast);
    if power < quorum {
        return Err(FastError::NoQuorum { power, quorum });
    }
    let Some(top) = top_claim(promises) else {
        return Ok(Selection::Free);
    };
    // Who claims which block at the top view.
    let mut claimed: BTreeMap<BlockHash, BTreeSet<NodeId>> = BTreeMap::new();
    for p in promises {
        if let Some((_, block)) = p.data.acked.filter(|(v, _)| *v == top) {
            claimed.entry(block).or_default().insert(p.voter);
        }
    }
    let top_leader = leader(set, top).ok_or(FastError::UnknownVoter(NodeId::default()))?;
    for block in claimed.keys() {
        let backed = backings.iter().any(|b| {
            let d = &b.leader_ack.data;
            b.leader_ack.voter == top_leader
                && d.chain_id == *slot.chain_id
                && d.height == slot.height
                && d.view == top
                && d.kind == VoteKind::Ack
                && d.block_hash == *block
                && b.leader_ack.verify(set).is_ok()
                && {
                    let inner = ProposalSlot { view: top, ..*slot };
                    b.justification.selection(&inner, depth + 1).is_ok_and(|s| s.allows(block))
                }
        });
        if !backed {
            return Err(FastError::UnbackedClaim { view: top, block: *block });
        }
    }
    if claimed.len() == 1 {
        return Ok(claimed.keys().next().map_or(Selection::Free, |b| Selection::Block(*b)));
    }
    // The top view's leader proposed several blocks. A block may have been committed
    // only if the validators that may have acked it (its claimers, the leader, and
    // everyone whose promise is not here) hold a quorum; an honest promiser that claims
    // something else, or a lower view, did not ack it.
    let silent: Vec<usize> =
        (0..set.len()).filter(|i| set.by_index(*i).is_some_and(|v| !voters.contains(&v.id))).collect();
    let mut possible: Vec<(u64, BlockHash)> = claimed
        .iter()
        .filter(|(_, claimers)| {
            let mut may_have_acked: BTreeSet<usize> = silent.iter().copied().collect();
            may_have_acked.extend(claimers.iter().chain(std::iter::once(&top_leader)).filter_map(|v| set.index_of(v)));
            set.power_of(may_have_acked) >= quorum
        })
        .map(|(b, claimers)| (set.power_of(claimers.iter().filter_map(|v| set.index_of(v))), *b))
        .collect();
    match possible.as_slice() {
        [] => Ok(Selection::Free),
        [(_, only)] => Ok(Selection::Block(*only)),
        _ => {
            // Below the bound, the promises of every honest validator tell (at most one
            // block keeps a possible quorum once they are in): wait for them.
            let leader_power = set.get(&top_leader).map_or(0, |v| v.power);
            if leader_power < set.fast_overlap_power() {
                return Err(FastError::Ambiguous(top));
            }
            possible.sort_by(|(pa, a), (pb, b)| pb.cmp(pa).then(a.cmp(b)));
            Ok(Selection::OneOf(possible.into_iter().map(|(_, b)| b).collect()))
        }
    }
}

/// The highest view the promises claim an ack at.
fn top_claim(promises: &[Promise]) -> Option<View> {
    promises.iter().filter_map(|p| p.data.acked.map(|(v, _)| v)).max()
}

/// Whether two statements of one validator about one height cannot both be honest
/// (Fast-mode rules): an honest validator's acks never go back in view across heights,
/// and its promise for a view reports every ack it signed below that view.
pub fn ack_and_promise_conflict(ack: &Vote, promise: &Promise) -> bool {
    let (a, p) = (&ack.data, &promise.data);
    if ack.voter != promise.voter
        || a.kind != VoteKind::Ack
        || a.chain_id != p.chain_id
        || a.height != p.height
        || a.view >= p.view
    {
        return false;
    }
    match p.acked {
        None => true,
        Some((v, block)) => v < a.view || (v == a.view && block != a.block_hash),
    }
}

/// Two promises of one validator at one height: the one for the higher view must
/// report at least what the other reports (acks only accumulate).
pub fn promises_conflict(first: &Promise, second: &Promise) -> bool {
    let (earlier, later) = if first.data.view <= second.data.view { (first, second) } else { (second, first) };
    let (e, l) = (&earlier.data, &later.data);
    if first.voter != second.voter || e.chain_id != l.chain_id || e.height != l.height {
        return false;
    }
    if e.view == l.view {
        return e != l;
    }
    match (e.acked, l.acked) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some((ev, eb)), Some((lv, lb))) => lv < ev || (lv == ev && lb != eb),
    }
}

/// Two Fast acks of one validator: one at a lower height but a higher view than the
/// other. An honest validator's view never goes back when its height moves on.
pub fn acks_regress(first: &Vote, second: &Vote) -> bool {
    let (a, b) = (&first.data, &second.data);
    if first.voter != second.voter || a.kind != VoteKind::Ack || b.kind != VoteKind::Ack || a.chain_id != b.chain_id {
        return false;
    }
    (a.height < b.height && a.view > b.view) || (b.height < a.height && b.view > a.view)
}

/// A vote for the leader's own proposal, as [`Backing::leader_ack`] carries it.
pub fn leader_ack_data(chain_id: &ChainId, height: Height, view: View, block: BlockHash) -> VoteData {
    VoteData { chain_id: chain_id.clone(), height, view, block_hash: block, kind: VoteKind::Ack }
}

#[cfg(test)]
mod tests;
