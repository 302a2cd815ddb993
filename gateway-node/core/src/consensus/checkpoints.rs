//! Checkpoints at the consensus layer (patent 8's "eigenvalue"). Once a checkpoint
//! height is committed, the node asks its caller to compute the digest
//! ([`CheckpointJob`]: cutting the state snapshot into chunks is the expensive part, so
//! it runs off the consensus thread); a validator of the next height's set signs the
//! digest and broadcasts it; the votes gathered for one digest from a quorum of that set
//! (the next height's mode's quorum) make a [`StableCheckpoint`]. A validator whose
//! signed digest at that height is another one is named.
//!
//! Bounded: votes are kept only for checkpoint heights above the latest stable one and
//! at most one interval above the committed height, one vote per validator and height.

use std::collections::BTreeMap;
use std::sync::Arc;

use vigil_protocol::{
    BlockHash, ChainId, CheckpointConfig, CheckpointDigest, CheckpointVote, ChunkedSnapshot, ConsensusMode, Hash32,
    Height, NodeId, StableCheckpoint, StateSnapshot, ValidatorSet,
};

/// What the caller computes once a checkpoint height is committed, and hands back as
/// [`super::Input::CheckpointComputed`].
#[derive(Debug, Clone)]
pub struct CheckpointJob {
    pub chain_id: ChainId,
    pub height: Height,
    pub block_hash: BlockHash,
    pub state_root: Hash32,
    pub next_validator_set_hash: Hash32,
    pub next_mode: ConsensusMode,
    /// The committed state at `height` (an O(1) frozen copy).
    pub snapshot: StateSnapshot,
    /// The chain's chunk size.
    pub chunk_bytes: usize,
}

impl CheckpointJob {
    /// Cuts the snapshot into chunks and computes the digest (pure, but slow for a large
    /// state: the caller runs it off the consensus thread).
    pub fn compute(&self) -> CheckpointDigest {
        self.compute_snapshot().digest
    }

    /// [`CheckpointJob::compute`], with the chunks it cut, ready to serve to peers that
    /// restore from this checkpoint.
    pub fn compute_snapshot(&self) -> ChunkedSnapshot {
        ChunkedSnapshot::cut(self.snapshot.chunks(self.chunk_bytes), |chunk_root, chunk_count| CheckpointDigest {
            chain_id: self.chain_id.clone(),
            height: self.height,
            block_hash: self.block_hash,
            state_root: self.state_root,
            chunk_root,
            chunk_count,
            next_validator_set_hash: self.next_validator_set_hash,
            next_mode: self.next_mode,
        })
    }
}

/// What gathering votes decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// A digest reached a quorum: the chain's checkpoint at its height. `diverging`:
    /// the validators that signed another digest at that height; `mine_differs`: this
    /// node computed another one (its own state is not the chain's).
    Stable { checkpoint: Box<StableCheckpoint>, diverging: Vec<NodeId>, mine_differs: bool },
}

/// The votes and checkpoints one node holds.
#[derive(Debug, Clone, Default)]
pub(super) struct Checkpoints {
    config: CheckpointConfig,
    /// Digests this node computed for heights it committed.
    own: BTreeMap<Height, CheckpointDigest>,
    /// Verified votes by height and signer (a signer's first vote at a height counts).
    votes: BTreeMap<Height, BTreeMap<NodeId, CheckpointVote>>,
    latest: Option<StableCheckpoint>,
    /// The newest stable checkpoints, oldest first (at most [`CHECKPOINTS_RECENT_MAX`]):
    /// what a light client that pinned one a little older still finds.
    recent: Arc<Vec<StableCheckpoint>>,
}

/// Stable checkpoints a node keeps to serve by their digest's hash.
pub const CHECKPOINTS_RECENT_MAX: usize = 32;

impl Checkpoints {
    pub(super) fn new(config: CheckpointConfig) -> Self {
        Self { config, ..Self::default() }
    }

    pub(super) fn interval(&self) -> u64 {
        self.config.interval
    }

    pub(super) fn chunk_bytes(&self) -> usize {
        self.config.chunk_bytes()
    }

    pub(super) fn is_checkpoint(&self, height: Height) -> bool {
        self.config.is_checkpoint(height)
    }

    /// The newest stable checkpoint this node gathered.
    pub(super) fn latest(&self) -> Option<&StableCheckpoint> {
        self.latest.as_ref()
    }

    fn latest_height(&self) -> Height {
        self.latest.as_ref().map_or(Height(0), |c| c.digest.height)
    }

    /// Whether a vote for `height` may be kept, with `committed` the node's committed
    /// height: a checkpoint height above the latest stable one and at most one interval
    /// above `committed`.
    pub(super) fn wants(&self, height: Height, committed: Height) -> bool {
        self.is_checkpoint(height)
            && height > self.latest_height()
            && height.0 <= committed.0.saturating_add(self.config.interval)
    }

    /// This node's own digest for a height it committed (`false` if it has one already).
    pub(super) fn record_own(&mut self, digest: CheckpointDigest) -> bool {
        if self.own.contains_key(&digest.height) || digest.height <= self.latest_height() {
            return false;
        }
        self.own.insert(digest.height, digest);
        true
    }

    /// Whether `signer` has a vote kept at `height` already (a second one is not even
    /// verified).
    pub(super) fn has_vote(&self, height: Height, signer: &NodeId) -> bool {
        self.votes.get(&height).is_some_and(|v| v.contains_key(signer))
    }

    /// Keeps a verified vote (the caller checked its signature and the signer's place in
    /// the set); a signer's second vote at a height is ignored.
    pub(super) fn record_vote(&mut self, vote: CheckpointVote) {
        self.votes.entry(vote.digest.height).or_default().entry(vote.signer).or_insert(vote);
    }

    /// Tries to settle `height`: a digest signed by a quorum of `set` (the set of the
    /// next height, which the digests name) becomes the latest stable checkpoint.
    pub(super) fn settle(&mut self, height: Height, set: &ValidatorSet) -> Option<Settled> {
        let votes: Vec<CheckpointVote> = self.votes.get(&height)?.values().cloned().collect();
        let mut digests: Vec<&CheckpointDigest> = Vec::new();
        for v in &votes {
            if !digests.contains(&&v.digest) {
                digests.push(&v.digest);
            }
        }
        let stable = digests.into_iter().find_map(|digest| {
            let matching: Vec<CheckpointVote> =
                votes.iter().filter(|v| &v.digest == digest && set.get(&v.signer).is_some()).cloned().collect();
            StableCheckpoint::from_verified_votes(digest.clone(), &matching, set).ok()
        })?;
        let diverging = vigil_protocol::checkpoint::diverging(&stable, &votes).map(|v| v.signer).collect();
        let mine_differs = self.own.get(&height).is_some_and(|d| *d != stable.digest);
        self.own.retain(|h, _| *h > height);
        self.votes.retain(|h, _| *h > height);
        self.latest = Some(stable.clone());
        self.keep_recent(stable.clone());
        Some(Settled::Stable { checkpoint: Box::new(stable), diverging, mine_differs })
    }

    /// A restored node starts from the checkpoint it restored.
    pub(super) fn restored(&mut self, checkpoint: StableCheckpoint) {
        self.own.clear();
        self.votes.clear();
        self.keep_recent(checkpoint.clone());
        self.latest = Some(checkpoint);
    }

    fn keep_recent(&mut self, checkpoint: StableCheckpoint) {
        let recent = Arc::make_mut(&mut self.recent);
        recent.push(checkpoint);
        if recent.len() > CHECKPOINTS_RECENT_MAX {
            recent.remove(0);
        }
    }

    /// The newest stable checkpoints, oldest first.
    pub(super) fn recent(&self) -> Arc<Vec<StableCheckpoint>> {
        self.recent.clone()
    }

    /// Forgets votes for heights the node can no longer settle (more than one interval
    /// below `committed`, when it lagged).
    pub(super) fn prune(&mut self, committed: Height) {
        let floor = committed.0.saturating_sub(self.config.interval.saturating_mul(2));
        self.votes.retain(|h, _| h.0 > floor);
        self.own.retain(|h, _| h.0 > floor);
    }

    /// Votes held, for the bound the simulator checks.
    pub(super) fn votes_held(&self) -> usize {
        self.votes.values().map(BTreeMap::len).sum()
    }
}

impl super::Node {
    /// After committing `height`: a checkpoint height asks the caller for its digest.
    pub(super) fn checkpoint_committed(&mut self, height: Height, block_hash: BlockHash, state_root: Hash32) {
        self.checkpoints.prune(height);
        if !self.checkpoints.is_checkpoint(height) {
            return;
        }
        let job = CheckpointJob {
            chain_id: self.ledger.chain_id().clone(),
            height,
            block_hash,
            state_root,
            next_validator_set_hash: self.ledger.validators().hash(),
            next_mode: self.ledger.mode(),
            snapshot: self.ledger.state_snapshot(),
            chunk_bytes: self.checkpoints.chunk_bytes(),
        };
        self.out.push(super::Output::ComputeCheckpoint(Box::new(job)));
    }

    /// The digest the caller computed for a committed checkpoint height: a validator of
    /// the next height's set signs it and tells everyone.
    pub(super) fn on_checkpoint_computed(&mut self, digest: CheckpointDigest) {
        let height = digest.height;
        if height > self.ledger.height()
            || &digest.chain_id != self.ledger.chain_id()
            || !self.checkpoints.record_own(digest.clone())
        {
            return;
        }
        if self.ledger.validators_at(height.next()).get(&self.me).is_some() {
            let vote = digest.sign(self.me, &self.cfg.key);
            self.checkpoints.record_vote(vote.clone());
            self.out.push(super::Output::Broadcast(super::Message::Checkpoint(Box::new(vote))));
        }
        self.settle_checkpoint(height);
    }

    /// A peer's signed digest: kept if it is for a checkpoint height in the window and
    /// verifies against the set that signs that height's digest (the current set, for a
    /// height this node has not committed yet; checked again when it settles).
    pub(super) fn on_checkpoint_vote(&mut self, vote: CheckpointVote) {
        let height = vote.digest.height;
        let committed = self.ledger.height();
        if &vote.digest.chain_id != self.ledger.chain_id()
            || !self.checkpoints.wants(height, committed)
            || self.checkpoints.has_vote(height, &vote.signer)
        {
            return;
        }
        let set = if height <= committed { self.ledger.validators_at(height.next()) } else { self.ledger.validators() };
        if vote.verify(set).is_err() {
            return;
        }
        self.checkpoints.record_vote(vote);
        if height <= committed {
            self.settle_checkpoint(height);
        }
    }

    fn settle_checkpoint(&mut self, height: Height) {
        let set = self.ledger.validators_at(height.next()).clone();
        if let Some(settled) = self.checkpoints.settle(height, &set) {
            let Settled::Stable { checkpoint, .. } = &settled;
            self.record_checkpoint(checkpoint, &set);
            self.out.push(super::Output::CheckpointSettled(settled));
        }
    }

    /// The validator whose turn it is (by checkpoint number, in the set that signed it)
    /// submits a stable checkpoint for the chain to record, if it is newer than the
    /// recorded one. Another validator's turn comes at the next checkpoint if this
    /// one's is lost.
    fn record_checkpoint(&mut self, checkpoint: &StableCheckpoint, set: &ValidatorSet) {
        let number = checkpoint.digest.height.0 / self.checkpoints.interval().max(1);
        let turn = usize::try_from(number).unwrap_or(0) % set.len().max(1);
        if set.by_index(turn).map(|v| v.id) != Some(self.me) {
            return;
        }
        let recorded: Option<StableCheckpoint> = self.ledger.state(&vigil_protocol::StateKey::Checkpoint);
        if recorded.is_some_and(|r| r.digest.height >= checkpoint.digest.height) {
            return;
        }
        self.submit_own(vigil_protocol::Payload::RecordCheckpoint(Box::new(checkpoint.clone())));
    }

    /// A restarted node's stable checkpoint, read back from its storage (verified by the
    /// caller): it answers recovery requests with it before the next one settles.
    pub fn with_checkpoint(mut self, checkpoint: StableCheckpoint) -> Self {
        if checkpoint.digest.height <= self.ledger.height() {
            self.checkpoints.restored(checkpoint);
        }
        self
    }

    /// The newest stable checkpoint this node gathered.
    pub fn stable_checkpoint(&self) -> Option<&StableCheckpoint> {
        self.checkpoints.latest()
    }

    /// Checkpoint votes held (bounded: see the module's documentation).
    pub fn checkpoint_votes_held(&self) -> usize {
        self.checkpoints.votes_held()
    }
}
