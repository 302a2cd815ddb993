//! The writable state tree (feature `tree`): what nodes and the simulator build and prove
//! from. A light client needs only [`super::StateProof`].

use std::collections::BTreeMap;
use std::sync::Arc;

use imbl::OrdMap;
use jmt::storage::{LeafNode, Node, NodeBatch, NodeKey, TreeReader};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, Version};
use sha2::Sha256;

use jmt::proof::{SparseMerkleProof, SparseMerkleRangeProof};
use jmt::restore::{JellyfishMerkleRestore, StateSnapshotReceiver};

use super::{StateError, StateKey, StateProof};
use crate::checkpoint::CheckpointDigest;
use crate::encoding;
use crate::hash::Hash32;
use crate::snapshot::{SnapshotChunk, SnapshotError};

impl StateProof {
    /// jmt's proof in our own type (the same BCS bytes).
    fn from_jmt(proof: &SparseMerkleProof<Sha256>) -> Result<Self, StateError> {
        encoding::from_bytes(&encoding::to_bytes(proof))
            .map_err(|e| StateError::Tree(format!("re-reading a proof: {e}")))
    }
}

/// Versions whose trees stay in memory: proofs are served at these. What only older
/// versions use (nodes and values a newer version replaced) is dropped as versions are
/// written, so memory follows the size of the state, not the length of the chain.
pub const STATE_VERSIONS_KEPT: u64 = 64;

/// The nodes and value history of the versions in memory, in persistent maps that share
/// structure: a clone costs O(1) and is unaffected by later writes to the original.
///
/// Keys and values are behind `Arc`s. The node's API holds a clone of each committed
/// version, so the next commit's first write to a map chunk copies the chunk (64 entries):
/// with `Arc`s that copy moves pointers, where owned entries would allocate each key's
/// nibble path and each internal node's children again (and free the old ones when the
/// API's clone goes).
#[derive(Debug, Default, Clone)]
struct TreeData {
    nodes: OrdMap<Arc<NodeKey>, Arc<Node>>,
    /// Value history per key, ascending by version.
    values: OrdMap<KeyHash, Arc<ValueHistory>>,
}

/// One key's values, ascending by version (`None`: deleted at that version). A write
/// copies the history the API's clone shares: with `Arc`ed values that is one
/// allocation, not one per version kept.
type ValueHistory = Vec<(Version, Option<Arc<[u8]>>)>;

impl TreeReader for TreeData {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.nodes.get(node_key).map(|n| Node::clone(n)))
    }

    fn get_value_option(&self, max_version: Version, key_hash: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self
            .values
            .get(&key_hash)
            .and_then(|history| history.iter().rev().find(|(v, _)| *v <= max_version))
            .and_then(|(_, value)| value.as_deref().map(<[u8]>::to_vec)))
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        Ok(self
            .nodes
            .iter()
            .filter_map(|(k, n)| match &**n {
                Node::Leaf(leaf) => Some((NodeKey::clone(k), leaf.clone())),
                _ => None,
            })
            .max_by_key(|(_, leaf)| leaf.key_hash()))
    }
}

impl TreeData {
    fn root(&self, version: u64) -> Result<Hash32, StateError> {
        let tree = JellyfishMerkleTree::<_, Sha256>::new(self);
        match tree.get_root_hash_option(version) {
            Ok(Some(root)) => Ok(Hash32(root.0)),
            Ok(None) => Err(StateError::UnknownVersion(version)),
            Err(e) => Err(StateError::Tree(e.to_string())),
        }
    }

    fn get(&self, key: &StateKey, version: u64) -> Option<Vec<u8>> {
        self.get_value_option(version, key.key_hash()).ok().flatten()
    }

    fn get_with_proof(&self, key: &StateKey, version: u64) -> Result<(Option<Vec<u8>>, StateProof), StateError> {
        self.root(version)?;
        let tree = JellyfishMerkleTree::<_, Sha256>::new(self);
        let (value, proof) =
            tree.get_with_proof(key.key_hash(), version).map_err(|e| StateError::Tree(e.to_string()))?;
        Ok((value, StateProof::from_jmt(&proof)?))
    }
}

/// The nodes of the last [`STATE_VERSIONS_KEPT`] versions, in memory, with what each
/// later version made stale (to drop it once no kept version uses it).
#[derive(Debug, Default, Clone)]
pub struct MemoryTreeStore {
    data: TreeData,
    /// Nodes a later version replaced, by the version from which no tree uses them.
    stale_nodes: BTreeMap<Version, Vec<NodeKey>>,
    /// Value entries a later version replaced (or deleted), by the version from which
    /// no lookup reaches them: `(key, version of the entry)`.
    stale_values: BTreeMap<Version, Vec<(KeyHash, Version)>>,
}

impl MemoryTreeStore {
    fn write(&mut self, batch: &NodeBatch, stale: &[(Version, NodeKey)]) {
        for (k, n) in batch.nodes() {
            self.data.nodes.insert(Arc::new(k.clone()), Arc::new(n.clone()));
        }
        for (since, key) in stale {
            self.stale_nodes.entry(*since).or_default().push(key.clone());
        }
        for ((version, key_hash), value) in batch.values() {
            let history = Arc::make_mut(self.data.values.entry(*key_hash).or_default());
            if let Some((replaced, _)) = history.last() {
                self.stale_values.entry(*version).or_default().push((*key_hash, *replaced));
            }
            if value.is_none() {
                // A deletion: once older lookups are gone, the key need not be kept at all.
                self.stale_values.entry(*version).or_default().push((*key_hash, *version));
            }
            history.push((*version, value.as_deref().map(Arc::from)));
            history.sort_by_key(|(v, _)| *v);
        }
    }

    /// Drops what no version from `keep_from` on uses.
    fn prune(&mut self, keep_from: Version) {
        let kept = self.stale_nodes.split_off(&keep_from.saturating_add(1));
        for key in std::mem::replace(&mut self.stale_nodes, kept).into_values().flatten() {
            self.data.nodes.remove(&key);
        }
        let kept = self.stale_values.split_off(&keep_from.saturating_add(1));
        for (since, entries) in std::mem::replace(&mut self.stale_values, kept) {
            for (key_hash, version) in entries {
                let Some(history) = self.data.values.get_mut(&key_hash).map(Arc::make_mut) else { continue };
                if version == since {
                    // The deletion at `since`: nothing older is left to find.
                    if matches!(history.as_slice(), [(v, None)] if *v == since) {
                        self.data.values.remove(&key_hash);
                    }
                } else {
                    history.retain(|(v, _)| *v != version);
                }
            }
        }
    }

    fn len(&self) -> usize {
        self.data.nodes.len()
    }
}

/// Tree nodes a version replaced, with the version from which each is stale.
type StaleNodes = Vec<(Version, NodeKey)>;

/// Collects what jmt's restore writes, into a fresh store.
struct Collect(std::sync::Mutex<MemoryTreeStore>);

impl jmt::storage::TreeWriter for Collect {
    fn write_node_batch(&self, batch: &NodeBatch) -> anyhow::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(batch, &[]);
        Ok(())
    }
}

/// A store holding exactly `entries` (keys strictly ascending) as `version`, whose root
/// must be `expected`. Built in one pass with jmt's restore (each node made and hashed
/// once, left to right) instead of inserting the keys one by one into a tree (200,000
/// entries: 0.9 s against 3.4 s on a 2-core machine). The whole state is one range, so the proof of its
/// last key has no right siblings, and the restore's check is the root check.
fn build_sorted(
    version: Version,
    entries: Vec<(KeyHash, OwnedValue)>,
    expected: Hash32,
) -> Result<MemoryTreeStore, SnapshotError> {
    let state = |e: anyhow::Error| SnapshotError::State(e.to_string());
    if entries.is_empty() {
        // An empty state's root is jmt's placeholder; a checkpoint never has one (the
        // genesis holds the validators' accounts), but it is refused, not half-built.
        return Err(SnapshotError::State("a snapshot with no entries".into()));
    }
    let collect = std::sync::Arc::new(Collect(Default::default()));
    let mut restore =
        JellyfishMerkleRestore::<Sha256>::new_overwrite(collect.clone(), version, jmt::RootHash(expected.0))
            .map_err(state)?;
    let whole = last_key_range_proof(&entries)?;
    restore.add_chunk(entries, whole).map_err(|_| SnapshotError::StateRoot { expected })?;
    restore.finish().map_err(state)?;
    let store = std::sync::Arc::try_unwrap(collect)
        .map_err(|_| SnapshotError::State("the restore kept its store".into()))?
        .0
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    Ok(store)
}

/// The range proof of a whole tree's last key: nothing lies to its right, so each right
/// sibling on its path is the empty subtree. The path runs down to the leaf's depth, one
/// bit below the longest prefix the key shares with another (the key before it); the
/// proof lists one empty sibling for each 0 bit of the key above that depth. Built as its
/// BCS (a list of `Null` nodes, variant 0: the same bytes as a list of zero bytes), since
/// jmt builds range proofs only inside the crate.
fn last_key_range_proof(entries: &[(KeyHash, OwnedValue)]) -> Result<SparseMerkleRangeProof<Sha256>, SnapshotError> {
    let bit = |k: &KeyHash, i: usize| k.0.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0);
    let depth = match entries {
        [.., (before, _), (last, _)] => (0..256).find(|&i| bit(before, i) != bit(last, i)).map_or(256, |i| i + 1),
        _ => 0,
    };
    let right_siblings = match entries.last() {
        Some((last, _)) => (0..depth).filter(|&i| !bit(last, i)).count(),
        None => 0,
    };
    encoding::from_bytes(&encoding::to_bytes(&vec![0u8; right_siblings]))
        .map_err(|e| SnapshotError::State(format!("a range proof: {e}")))
}

/// A state version computed but not yet written (see [`StateTree::prepare`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedVersion {
    version: u64,
    root: Hash32,
    batch: NodeBatch,
    /// The nodes it replaces.
    stale: StaleNodes,
}

impl PreparedVersion {
    pub fn root(&self) -> Hash32 {
        self.root
    }
    pub fn version(&self) -> u64 {
        self.version
    }
    /// What writing this version adds, in the form a node stores on disk.
    pub fn records(&self) -> StateRecords {
        StateRecords::of_batch(&self.batch)
    }
}

/// Length of a stored value's key: the entry's key hash, then the version (big-endian),
/// so that a key-ordered store lists each entry's history in version order.
pub const VALUE_KEY_LEN: usize = 40;

/// Value history as opaque byte records: what a node writes to its database for each
/// version, and reads back with [`StateTree::restore`] (which rebuilds the tree's nodes
/// from the values, so they are not stored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateRecords {
    /// `(key hash ‖ version, BCS of the value or of its deletion)`.
    pub values: Vec<([u8; VALUE_KEY_LEN], Vec<u8>)>,
}

impl StateRecords {
    fn of_batch(batch: &NodeBatch) -> Self {
        Self {
            values: batch
                .values()
                .iter()
                .map(|((version, key_hash), value)| (value_key(*version, key_hash), encoding::to_bytes(value)))
                .collect(),
        }
    }
}

impl StateRecords {
    /// The records of a whole state at `version` from its live entries (a snapshot's
    /// `(key hash, value)`s): what a pruned database keeps in place of every version
    /// before it ([`StateTree::restore`] reads them like any other).
    pub fn whole(version: u64, entries: impl IntoIterator<Item = (Hash32, Vec<u8>)>) -> Self {
        Self {
            values: entries
                .into_iter()
                .map(|(key, value)| (value_key(version, &KeyHash(key.0)), encoding::to_bytes(&Some(value))))
                .collect(),
        }
    }
}

fn value_key(version: Version, key_hash: &KeyHash) -> [u8; VALUE_KEY_LEN] {
    let mut k = [0u8; VALUE_KEY_LEN];
    k[..32].copy_from_slice(&key_hash.0);
    k[32..].copy_from_slice(&version.to_be_bytes());
    k
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StateError {
    StateError::Corrupt(format!("{what}: {e}"))
}

/// An in-memory, versioned authenticated state.
#[derive(Debug, Default, Clone)]
pub struct StateTree {
    store: MemoryTreeStore,
    latest: Option<Version>,
}

impl StateTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// jmt builds version `v` on the root of `v - 1`; a gap would silently start from an
    /// empty tree, so versions must be 0, 1, 2, … with no gap.
    fn check_next(&self, version: u64) -> Result<(), StateError> {
        let expected = self.latest.map_or(0, |latest| latest + 1);
        if version != expected {
            return Err(StateError::VersionGap { expected, found: version });
        }
        Ok(())
    }

    /// Rebuilds the tree at version `latest` from stored value records (every version's,
    /// in any order): each key's newest value up to `latest`, hashed into a fresh tree
    /// whose root the caller checks against the certified one (the root depends on the
    /// entries only). Older versions are not rebuilt: proofs are served from here on.
    /// Fails if a record does not decode.
    pub fn restore(
        latest: u64,
        values: impl IntoIterator<Item = ([u8; VALUE_KEY_LEN], Vec<u8>)>,
    ) -> Result<Self, StateError> {
        let mut newest: BTreeMap<KeyHash, (Version, Option<OwnedValue>)> = BTreeMap::new();
        for (k, v) in values {
            let (hash, version) = k.split_at(32);
            let key_hash = KeyHash(hash.try_into().map_err(|e| corrupt("value key", e))?);
            let version = u64::from_be_bytes(version.try_into().map_err(|e| corrupt("value key", e))?);
            if version > latest || newest.get(&key_hash).is_some_and(|(seen, _)| *seen > version) {
                continue;
            }
            let value: Option<OwnedValue> = encoding::from_bytes(&v).map_err(|e| corrupt("value", e))?;
            newest.insert(key_hash, (version, value));
        }
        let entries: BTreeMap<KeyHash, Option<OwnedValue>> =
            newest.into_iter().filter_map(|(k, (_, v))| v.map(|v| (k, Some(v)))).collect();
        let mut tree = Self::new();
        // Written as `latest` straight away: jmt builds on an empty tree when the version
        // before has no root, which is what a rebuild wants.
        let (_, batch, stale) = tree.compute_unchecked(latest, entries)?;
        tree.store.write(&batch, &stale);
        tree.latest = Some(latest);
        tree.root(latest)?;
        Ok(tree)
    }

    /// Rebuilds the state a stable checkpoint names from its snapshot's chunks (each
    /// already checked on arrival with `snapshot::verify_chunk`): every chunk present
    /// once, in order, keys ascending across chunks, and the rebuilt root the one
    /// `digest` signs. The tree's first version is the checkpoint's height.
    pub fn from_snapshot(digest: &CheckpointDigest, chunks: Vec<SnapshotChunk>) -> Result<Self, SnapshotError> {
        if digest.chunk_count as usize > crate::snapshot::SNAPSHOT_CHUNKS_MAX {
            return Err(SnapshotError::TooManyChunks(digest.chunk_count));
        }
        if chunks.len() != digest.chunk_count as usize {
            return Err(SnapshotError::Count { expected: digest.chunk_count, found: chunks.len() });
        }
        let mut entries: Vec<(KeyHash, OwnedValue)> = Vec::new();
        let mut last: Option<Hash32> = None;
        for (i, chunk) in chunks.into_iter().enumerate() {
            if chunk.index as usize != i {
                return Err(SnapshotError::Missing(i as u32));
            }
            chunk.check_shape()?;
            if last.is_some_and(|l| chunk.entries.first().is_some_and(|(k, _)| *k <= l)) {
                return Err(SnapshotError::Unordered { index: chunk.index });
            }
            last = chunk.entries.last().map(|(k, _)| *k);
            entries.extend(chunk.entries.into_iter().map(|(k, v)| (KeyHash(k.0), v)));
        }
        let version = digest.height.0;
        let store = build_sorted(version, entries, digest.state_root)?;
        Ok(Self { store, latest: Some(version) })
    }

    /// Tree nodes held in memory (bounded by the state's size, not the chain's length).
    pub fn nodes_in_memory(&self) -> usize {
        self.store.len()
    }

    /// Every record of every version, for a store that starts persisting a tree built
    /// in memory.
    pub fn records(&self) -> StateRecords {
        let values = self
            .store
            .data
            .values
            .iter()
            .flat_map(|(key_hash, history)| {
                history.iter().map(move |(version, value)| {
                    let value: Option<&[u8]> = value.as_deref();
                    (value_key(*version, key_hash), encoding::to_bytes(&value))
                })
            })
            .collect();
        StateRecords { values }
    }

    /// The value of `key` at `version`, without a proof (the node's own reads).
    pub fn get(&self, key: &StateKey, version: u64) -> Option<Vec<u8>> {
        self.store.data.get(key, version)
    }

    /// The newest version written, if any.
    pub fn latest_version(&self) -> Option<u64> {
        self.latest
    }

    /// Computes `version` from `changes` on top of the previous version, without writing.
    fn compute(
        &self,
        version: u64,
        changes: impl IntoIterator<Item = (StateKey, Option<Vec<u8>>)>,
    ) -> Result<(Hash32, NodeBatch, StaleNodes), StateError> {
        self.check_next(version)?;
        let set: BTreeMap<KeyHash, Option<OwnedValue>> = changes.into_iter().map(|(k, v)| (k.key_hash(), v)).collect();
        self.compute_unchecked(version, set)
    }

    fn compute_unchecked(
        &self,
        version: u64,
        set: BTreeMap<KeyHash, Option<OwnedValue>>,
    ) -> Result<(Hash32, NodeBatch, StaleNodes), StateError> {
        let tree = JellyfishMerkleTree::<_, Sha256>::new(&self.store.data);
        let (root, batch) = tree.put_value_set(set, version).map_err(|e| StateError::Tree(e.to_string()))?;
        let stale = batch.stale_node_index_batch.into_iter().map(|s| (s.stale_since_version, s.node_key)).collect();
        Ok((Hash32(root.0), batch.node_batch, stale))
    }

    /// Records `version` as written and drops what the versions before the kept window
    /// alone used.
    fn written(&mut self, version: u64) {
        self.latest = Some(version);
        self.store.prune(version.saturating_add(1).saturating_sub(STATE_VERSIONS_KEPT));
    }

    /// Writes `changes` (`None` deletes) as `version`, which must be the next one
    /// (0 first), and returns the new root.
    pub fn apply(
        &mut self,
        version: u64,
        changes: impl IntoIterator<Item = (StateKey, Option<Vec<u8>>)>,
    ) -> Result<Hash32, StateError> {
        let (root, batch, stale) = self.compute(version, changes)?;
        self.store.write(&batch, &stale);
        self.written(version);
        Ok(root)
    }

    /// Computes the next version without writing it: how a node checks a proposed
    /// block's state root before voting, keeping the work to write it if it commits.
    pub fn prepare(
        &self,
        version: u64,
        changes: impl IntoIterator<Item = (StateKey, Option<Vec<u8>>)>,
    ) -> Result<PreparedVersion, StateError> {
        let (root, batch, stale) = self.compute(version, changes)?;
        Ok(PreparedVersion { version, root, batch, stale })
    }

    /// Writes a version made by [`StateTree::prepare`] on this tree's latest version.
    /// The caller keeps `prepared`, e.g. to store its [`PreparedVersion::records`].
    pub fn write(&mut self, prepared: &PreparedVersion) -> Result<Hash32, StateError> {
        self.check_next(prepared.version)?;
        self.store.write(&prepared.batch, &prepared.stale);
        self.written(prepared.version);
        Ok(prepared.root)
    }

    /// The root `apply(version, changes)` would give, without writing anything.
    pub fn preview(
        &self,
        version: u64,
        changes: impl IntoIterator<Item = (StateKey, Option<Vec<u8>>)>,
    ) -> Result<Hash32, StateError> {
        Ok(self.compute(version, changes)?.0)
    }

    /// Root at `version`.
    pub fn root(&self, version: u64) -> Result<Hash32, StateError> {
        self.store.data.root(version)
    }

    /// The value of `key` at `version` with a proof against that version's root.
    pub fn get_with_proof(&self, key: &StateKey, version: u64) -> Result<(Option<Vec<u8>>, StateProof), StateError> {
        self.store.data.get_with_proof(key, version)
    }

    /// The latest version as an immutable read handle, in O(1): later writes to this
    /// tree do not change it, and it may be read from another thread. (Of a tree with no
    /// version yet, every read fails with [`StateError::UnknownVersion`].)
    pub fn snapshot(&self) -> StateSnapshot {
        StateSnapshot { data: self.store.data.clone(), version: self.latest.unwrap_or(0) }
    }
}

/// One version of a [`StateTree`], frozen: what an API thread reads and proves from while
/// consensus writes the next versions.
#[derive(Debug, Clone)]
pub struct StateSnapshot {
    data: TreeData,
    version: Version,
}

impl StateSnapshot {
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn root(&self) -> Result<Hash32, StateError> {
        self.data.root(self.version)
    }

    /// The value of `key`, without a proof.
    pub fn get(&self, key: &StateKey) -> Option<Vec<u8>> {
        self.data.get(key, self.version)
    }

    /// The value of `key` with a proof against this version's root.
    pub fn get_with_proof(&self, key: &StateKey) -> Result<(Option<Vec<u8>>, StateProof), StateError> {
        self.data.get_with_proof(key, self.version)
    }

    /// Every live entry of this version, `(key hash, value)` in ascending key order.
    pub fn entries(&self) -> impl Iterator<Item = (Hash32, Vec<u8>)> + '_ {
        let version = self.version;
        self.data.values.iter().filter_map(move |(key, history)| {
            let (_, value) = history.iter().rev().find(|(v, _)| *v <= version)?;
            value.as_deref().map(|v| (Hash32(key.0), v.to_vec()))
        })
    }

    /// This version's snapshot, cut into chunks (what a checkpoint's chunk root covers).
    pub fn chunks(&self, max_bytes: usize) -> Vec<SnapshotChunk> {
        SnapshotChunk::cut(self.entries(), max_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Address;

    #[test]
    fn a_whole_state_written_at_one_version_restores_to_the_same_root() {
        let mut tree = StateTree::new();
        tree.apply(0, (0..20u8).map(|i| (account(i), Some(vec![i; 8])))).unwrap();
        tree.apply(1, vec![(account(3), None), (account(4), Some(vec![44; 8]))]).unwrap();
        let root = tree.root(1).unwrap();
        let whole = StateRecords::whole(1, tree.snapshot().entries());
        let restored = StateTree::restore(1, whole.values).unwrap();
        assert_eq!(restored.root(1).unwrap(), root);
        assert_eq!(restored.get(&account(3), 1), None);
        assert_eq!(restored.get(&account(4), 1), Some(vec![44; 8]));
    }

    fn account(i: u8) -> StateKey {
        StateKey::Account(Address([i; 20]))
    }

    #[test]
    fn membership_proof_verifies_and_binds_the_value() {
        let mut t = StateTree::new();
        let root = t.apply(0, (0..10u8).map(|i| (account(i), Some(vec![i; 3])))).unwrap();
        let (value, proof) = t.get_with_proof(&account(4), 0).unwrap();
        assert_eq!(value.as_deref(), Some(&[4u8, 4, 4][..]));
        proof.verify(&root, &account(4), Some(&[4, 4, 4])).unwrap();
        assert!(proof.verify(&root, &account(4), Some(&[5, 5, 5])).is_err());
        assert!(proof.verify(&root, &account(4), None).is_err());
        assert!(proof.verify(&root, &account(5), Some(&[4, 4, 4])).is_err());
    }

    fn checkpoint_of(t: &StateTree, chunks: &[SnapshotChunk]) -> CheckpointDigest {
        let version = t.latest_version().unwrap();
        CheckpointDigest {
            chain_id: crate::ids::ChainId::new("vigil-test").unwrap(),
            height: crate::ids::Height(version),
            block_hash: Hash32([1; 32]),
            state_root: t.root(version).unwrap(),
            chunk_root: crate::snapshot::chunk_root(chunks),
            chunk_count: chunks.len() as u32,
            next_validator_set_hash: Hash32([3; 32]),
            next_mode: crate::validator::ConsensusMode::Bft,
        }
    }

    /// A snapshot taken at a checkpoint rebuilds the same state (same root, same values,
    /// proofs against it), deleted entries stay deleted, and a rebuilt tree goes on from
    /// the checkpoint's height; a snapshot with a chunk missing, duplicated, reordered or
    /// altered is refused, never half-built.
    #[test]
    fn a_snapshot_rebuilds_the_state_it_was_taken_from() {
        let mut t = StateTree::new();
        t.apply(0, (0..200u8).map(|i| (account(i), Some(vec![i; 9000])))).unwrap();
        t.apply(1, [(account(3), None), (account(4), Some(vec![44]))]).unwrap();
        let snap = t.snapshot();
        let chunks = snap.chunks(crate::snapshot::SNAPSHOT_CHUNK_BYTES_MAX);
        assert!(chunks.len() > 1, "the state spans several chunks");
        let digest = checkpoint_of(&t, &chunks);
        let mut rebuilt = StateTree::from_snapshot(&digest, chunks.clone()).unwrap();
        assert_eq!(rebuilt.root(1).unwrap(), t.root(1).unwrap());
        assert_eq!(rebuilt.get(&account(3), 1), None);
        assert_eq!(rebuilt.get(&account(4), 1), Some(vec![44]));
        let (value, proof) = rebuilt.get_with_proof(&account(7), 1).unwrap();
        proof.verify(&digest.state_root, &account(7), value.as_deref()).unwrap();
        let next = rebuilt.apply(2, [(account(8), Some(vec![8]))]).unwrap();
        assert_eq!(next, t.apply(2, [(account(8), Some(vec![8]))]).unwrap());

        let mut missing = chunks.clone();
        missing.remove(1);
        assert!(matches!(StateTree::from_snapshot(&digest, missing), Err(SnapshotError::Count { .. })));
        let mut reordered = chunks.clone();
        reordered.swap(0, 1);
        assert!(matches!(StateTree::from_snapshot(&digest, reordered), Err(SnapshotError::Missing(0))));
        let mut overlapping = chunks.clone();
        let last_of_first = overlapping[0].entries[overlapping[0].entries.len() - 1].clone();
        overlapping[1].entries.insert(0, last_of_first);
        assert!(matches!(StateTree::from_snapshot(&digest, overlapping), Err(SnapshotError::Unordered { index: 1 })));
        let mut altered = chunks;
        altered[0].entries[0].1[0] ^= 1;
        assert!(matches!(StateTree::from_snapshot(&digest, altered), Err(SnapshotError::StateRoot { .. })));
    }

    /// The one-pass build (jmt's restore with the last key's range proof made here) gives
    /// the root inserting the same keys gives, whatever the keys: random sets of every
    /// size, and last keys sharing long prefixes with the key before them (the proof's
    /// length depends on it; an empty proof was refused for about one set in five).
    #[test]
    fn the_one_pass_build_gives_the_root_insertion_gives() {
        let mut x: u64 = 0x1234_5678;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut sets: Vec<BTreeMap<KeyHash, Option<OwnedValue>>> = Vec::new();
        for n in (1..60).chain([255, 256, 257, 1000, 4097]) {
            let mut set = BTreeMap::new();
            for _ in 0..n {
                let mut k = [0u8; 32];
                k.chunks_mut(8).for_each(|c| c.copy_from_slice(&next().to_le_bytes()));
                set.insert(KeyHash(k), Some(vec![(next() % 7) as u8; (next() % 40) as usize]));
            }
            sets.push(set);
        }
        for shared_bits in [1usize, 4, 7, 8, 9, 63, 200, 255] {
            let mut a = [0x5au8; 32];
            let mut b = a;
            // b differs from a first at bit `shared_bits`, and is the larger.
            a[shared_bits / 8] &= !(0x80 >> (shared_bits % 8));
            b[shared_bits / 8] |= 0x80 >> (shared_bits % 8);
            sets.push(
                [(KeyHash([0; 32]), Some(vec![1])), (KeyHash(a), Some(vec![2])), (KeyHash(b), Some(vec![3]))].into(),
            );
        }
        for set in sets {
            let (root, _, _) = StateTree::new().compute_unchecked(5, set.clone()).unwrap();
            let entries: Vec<(KeyHash, OwnedValue)> = set.into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
            let n = entries.len();
            let store = build_sorted(5, entries, root).unwrap_or_else(|e| panic!("{n} keys: {e}"));
            assert_eq!(store.data.root(5).unwrap(), root, "{n} keys");
        }
    }

    /// A snapshot is one version, frozen: later versions (and the pruning they bring)
    /// change neither its values nor its proofs.
    #[test]
    fn a_snapshot_keeps_its_version_while_the_tree_moves_on() {
        let mut t = StateTree::new();
        let root = t.apply(0, (0..10u8).map(|i| (account(i), Some(vec![i])))).unwrap();
        let snap = t.snapshot();
        for v in 1..=STATE_VERSIONS_KEPT + 2 {
            t.apply(v, [(account(4), Some(vec![v as u8, 0])), (account(5), None)]).unwrap();
        }
        assert!(t.root(0).is_err(), "version 0 left the tree's window");
        assert_eq!((snap.version(), snap.root().unwrap()), (0, root));
        assert_eq!(snap.get(&account(4)), Some(vec![4]));
        let (value, proof) = snap.get_with_proof(&account(5)).unwrap();
        assert_eq!(value, Some(vec![5]));
        proof.verify(&root, &account(5), Some(&[5])).unwrap();
        assert_eq!(t.get(&account(5), STATE_VERSIONS_KEPT + 2), None, "the tree itself moved on");
    }

    #[test]
    fn non_membership_proof_verifies_and_cannot_hide_a_present_key() {
        let mut t = StateTree::new();
        let root = t.apply(0, (0..10u8).map(|i| (account(i), Some(vec![i])))).unwrap();
        let (value, proof) = t.get_with_proof(&account(200), 0).unwrap();
        assert_eq!(value, None);
        proof.verify(&root, &account(200), None).unwrap();
        // The same proof can't claim an existing key is absent.
        let (_, present) = t.get_with_proof(&account(3), 0).unwrap();
        assert!(present.verify(&root, &account(3), None).is_err());
    }

    /// Vigil's checker against jmt's: same verdict on every proof of a random tree,
    /// on every claim (right value, wrong value, absent) and on every one-byte
    /// corruption of the proof's bytes that still decodes.
    #[cfg(not(target_arch = "wasm32"))]
    mod agrees_with_jmt {
        use super::*;
        use proptest::prelude::*;

        fn jmt_verdict(bytes: &[u8], root: &Hash32, key: &StateKey, value: Option<&[u8]>) -> Option<bool> {
            let proof: SparseMerkleProof<Sha256> = encoding::from_bytes(bytes).ok()?;
            Some(proof.verify(jmt::RootHash(root.0), key.key_hash(), value).is_ok())
        }

        fn ours(bytes: &[u8], root: &Hash32, key: &StateKey, value: Option<&[u8]>) -> Option<bool> {
            let proof: StateProof = encoding::from_bytes(bytes).ok()?;
            Some(proof.verify(root, key, value).is_ok())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
            #[test]
            fn on_every_proof_claim_and_corruption(
                present in proptest::collection::btree_set(any::<u8>(), 0..40),
                asked in any::<u8>(),
                flip_at in any::<prop::sample::Index>(),
                flip in 1u8..=255,
            ) {
                let mut t = StateTree::new();
                let root = t.apply(0, present.iter().map(|i| (account(*i), Some(vec![*i; 2])))).unwrap();
                let key = account(asked);
                let tree = JellyfishMerkleTree::<_, Sha256>::new(&t.store.data);
                let (value, proof) = tree.get_with_proof(key.key_hash(), 0).unwrap();
                let bytes = encoding::to_bytes(&proof);
                let (_, mine) = t.get_with_proof(&key, 0).unwrap();
                prop_assert_eq!(encoding::to_bytes(&mine), bytes.clone(), "same bytes on the wire");
                let right = value.clone();
                let wrong = Some(vec![asked ^ 1; 2]);
                for claim in [right.as_deref(), wrong.as_deref(), None] {
                    prop_assert_eq!(ours(&bytes, &root, &key, claim), jmt_verdict(&bytes, &root, &key, claim));
                }
                prop_assert_eq!(ours(&bytes, &root, &key, right.as_deref()), Some(true));
                let mut corrupt = bytes.clone();
                let i = flip_at.index(corrupt.len());
                corrupt[i] ^= flip;
                let (a, b) = (ours(&corrupt, &root, &key, right.as_deref()), jmt_verdict(&corrupt, &root, &key, right.as_deref()));
                prop_assert_eq!(a.is_some(), b.is_some(), "both decode or neither");
                prop_assert_eq!(a, b);
                prop_assert_ne!(a, Some(true), "a corrupted proof never verifies");
            }
        }
    }

    #[test]
    fn empty_tree_proves_absence() {
        let mut t = StateTree::new();
        let root = t.apply(0, std::iter::empty()).unwrap();
        let (value, proof) = t.get_with_proof(&StateKey::Consensus, 0).unwrap();
        assert_eq!(value, None);
        proof.verify(&root, &StateKey::Consensus, None).unwrap();
    }

    #[test]
    fn old_versions_keep_their_roots_and_proofs() {
        let mut t = StateTree::new();
        let r0 = t.apply(0, [(account(1), Some(vec![1]))]).unwrap();
        let r1 = t.apply(1, [(account(1), Some(vec![2])), (account(2), Some(vec![9]))]).unwrap();
        assert_ne!(r0, r1);
        assert_eq!(t.root(0).unwrap(), r0);
        let (v, p) = t.get_with_proof(&account(1), 0).unwrap();
        assert_eq!(v, Some(vec![1]));
        p.verify(&r0, &account(1), Some(&[1])).unwrap();
        assert!(p.verify(&r1, &account(1), Some(&[1])).is_err());
    }

    #[test]
    fn deleting_a_key_makes_it_provably_absent() {
        let mut t = StateTree::new();
        t.apply(0, [(account(1), Some(vec![1])), (account(2), Some(vec![2]))]).unwrap();
        let r1 = t.apply(1, [(account(1), None)]).unwrap();
        let (v, p) = t.get_with_proof(&account(1), 1).unwrap();
        assert_eq!(v, None);
        p.verify(&r1, &account(1), None).unwrap();
    }

    #[test]
    fn preview_gives_the_root_apply_will_give_and_writes_nothing() {
        let mut t = StateTree::new();
        t.apply(0, [(account(1), Some(vec![1]))]).unwrap();
        let previewed = t.preview(1, [(account(2), Some(vec![2]))]).unwrap();
        assert_eq!(t.latest_version(), Some(0));
        assert!(t.root(1).is_err());
        assert_eq!(t.apply(1, [(account(2), Some(vec![2]))]).unwrap(), previewed);
    }

    #[test]
    fn a_prepared_version_writes_the_root_it_promised() {
        let mut t = StateTree::new();
        t.apply(0, [(account(1), Some(vec![1]))]).unwrap();
        let a = t.prepare(1, [(account(2), Some(vec![2]))]).unwrap();
        let b = t.prepare(1, [(account(3), Some(vec![3]))]).unwrap();
        assert_ne!(a.root(), b.root());
        assert_eq!(t.write(&b).unwrap(), b.root());
        assert_eq!(t.root(1).unwrap(), b.root());
        // The other candidate for the same version can no longer be written.
        assert_eq!(t.write(&a), Err(StateError::VersionGap { expected: 2, found: 1 }));
        let (v, p) = t.get_with_proof(&account(3), 1).unwrap();
        p.verify(&b.root(), &account(3), v.as_deref()).unwrap();
    }

    #[test]
    fn a_tree_restored_from_its_records_has_the_latest_version_and_its_proofs() {
        let mut t = StateTree::new();
        let mut stored = StateRecords::default();
        let mut roots = Vec::new();
        for v in 0..20u64 {
            let changes: Vec<_> = (0..5u8)
                .map(|i| (account(i.wrapping_mul(v as u8 + 1)), if v % 7 == 3 { None } else { Some(vec![v as u8, i]) }))
                .collect();
            let p = t.prepare(v, changes).unwrap();
            let r = p.records();
            stored.values.extend(r.values);
            roots.push(t.write(&p).unwrap());
        }
        assert_eq!(t.records(), {
            let mut all = stored.clone();
            all.values.sort();
            all
        });
        // Records come back from a key-ordered store in another order.
        stored.values.reverse();
        let back = StateTree::restore(19, stored.values).unwrap();
        let root = roots[19];
        assert_eq!(back.root(19).unwrap(), root, "the rebuilt tree has the certified root");
        for i in 0..30u8 {
            assert_eq!(back.get(&account(i), 19), t.get(&account(i), 19));
            let (value, proof) = back.get_with_proof(&account(i), 19).unwrap();
            proof.verify(&root, &account(i), value.as_deref()).unwrap();
        }
        assert_eq!(back.root(18), Err(StateError::UnknownVersion(18)), "older versions are not rebuilt");
        // It goes on exactly where the original did.
        let next = [(account(99), Some(vec![9]))];
        assert_eq!(back.preview(20, next.clone()).unwrap(), t.preview(20, next).unwrap());
    }

    #[test]
    fn restoring_corrupt_or_missing_records_fails_cleanly() {
        let mut t = StateTree::new();
        t.apply(0, [(account(1), Some(vec![1]))]).unwrap();
        let r = t.records();
        let mut bad = r.values.clone();
        bad[0].1.truncate(0);
        assert!(matches!(StateTree::restore(0, bad), Err(StateError::Corrupt(_))));
        // Records that do not reach the height asked for rebuild an older state: its root
        // is not the certified one, which the node's restore refuses.
        let older = StateTree::restore(1, r.values).unwrap();
        assert_eq!(older.root(1).unwrap(), t.root(0).unwrap());
    }

    /// Issue 16: memory follows the state, not the chain. Rewriting the same keys for
    /// many versions keeps about as many nodes as a few versions do; proofs at every
    /// kept version still verify, older versions are gone.
    #[test]
    fn versions_older_than_the_window_leave_memory() {
        let mut t = StateTree::new();
        let mut roots = Vec::new();
        let mut sizes = Vec::new();
        let versions = 4 * STATE_VERSIONS_KEPT;
        for v in 0..versions {
            let changes = (0..40u8).map(|i| (account(i), (v % 9 != 4 || i % 2 == 0).then(|| vec![v as u8, i])));
            roots.push(t.apply(v, changes).unwrap());
            sizes.push(t.nodes_in_memory());
        }
        let (at_window, at_end) = (sizes[STATE_VERSIONS_KEPT as usize * 2], sizes[versions as usize - 1]);
        assert!(at_end <= at_window * 11 / 10, "{at_window} nodes after 2 windows, {at_end} after 4");
        let oldest_kept = versions - STATE_VERSIONS_KEPT;
        for v in [oldest_kept, versions - 1] {
            for i in [0u8, 1, 39] {
                let (value, proof) = t.get_with_proof(&account(i), v).unwrap();
                proof.verify(&roots[v as usize], &account(i), value.as_deref()).unwrap();
                assert_eq!(value, (v % 9 != 4 || i % 2 == 0).then(|| vec![v as u8, i]));
            }
        }
        assert_eq!(t.root(oldest_kept - 1), Err(StateError::UnknownVersion(oldest_kept - 1)));
        // What the state holds is what a tree rebuilt from its latest values holds.
        let rebuilt = StateTree::restore(versions - 1, t.records().values).unwrap();
        assert_eq!(rebuilt.root(versions - 1), t.root(versions - 1));
    }

    #[test]
    fn rewriting_an_old_version_is_refused() {
        let mut t = StateTree::new();
        t.apply(0, [(account(1), Some(vec![1]))]).unwrap();
        assert_eq!(t.apply(0, [(account(1), Some(vec![2]))]), Err(StateError::VersionGap { expected: 1, found: 0 }));
        assert_eq!(t.root(7), Err(StateError::UnknownVersion(7)));
    }

    #[test]
    fn same_contents_give_the_same_root_regardless_of_insert_order() {
        let mut a = StateTree::new();
        let mut b = StateTree::new();
        let ra = a.apply(0, (0..20u8).map(|i| (account(i), Some(vec![i])))).unwrap();
        let rb = b.apply(0, (0..20u8).rev().map(|i| (account(i), Some(vec![i])))).unwrap();
        assert_eq!(ra, rb);
    }
}
