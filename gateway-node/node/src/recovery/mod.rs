//! Recovery at the node: the snapshots this node serves to peers that restore, and the
//! restore of this node's own state from its peers ([`download`]).
//!
//! Every checkpoint digest this node computes comes with the snapshot's chunks; it holds
//! the newest ones in memory ([`SNAPSHOTS_HELD_MAX`]) and serves any chunk of them with
//! its proof on a peer's request ([`vigil_core::consensus::Message::SnapshotRequest`]).
//! Once a checkpoint is stable, its snapshot is written to `snapshots/<height>/` in the
//! data directory (the signed checkpoint and one file per chunk; older ones are
//! removed), so a restarted node serves it again and answers recovery requests with it
//! at once.

pub mod behind;
pub mod download;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::{ChunkedSnapshot, Height, ServedChunk, SnapshotChunk, StableCheckpoint, ValidatorSet};

/// Snapshots held in memory to serve (the newest computed ones).
pub const SNAPSHOTS_HELD_MAX: usize = 2;

const CHECKPOINT_FILE: &str = "checkpoint.bcs";

/// The snapshots this node serves, in memory and (the stable one) on disk.
pub struct Snapshots {
    dir: PathBuf,
    held: Mutex<BTreeMap<Height, Arc<ChunkedSnapshot>>>,
}

impl Snapshots {
    /// The shelf under `data_dir/snapshots`, with the snapshot stored there (if any).
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let dir = data_dir.join("snapshots");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self { dir, held: Mutex::new(BTreeMap::new()) })
    }

    /// The newest stable checkpoint stored, with its snapshot, if it reads back whole
    /// and `set_at` (the set that signs a height's checkpoint, from the node's ledger)
    /// verifies it; it is held to serve. A stored snapshot that does not is reported and
    /// left out (the node makes a new one at its next checkpoint).
    pub fn load_stored(
        &self,
        chain: &vigil_protocol::ChainId,
        set_at: impl Fn(Height) -> Option<ValidatorSet>,
    ) -> Option<StableCheckpoint> {
        let newest = self.stored_heights().into_iter().next_back()?;
        match self.read(newest, chain, &set_at) {
            Ok((checkpoint, snapshot)) => {
                self.hold(snapshot);
                Some(checkpoint)
            }
            Err(e) => {
                tracing::warn!(height = %newest, error = %format!("{e:#}"), "the stored snapshot does not read back; it is not served");
                None
            }
        }
    }

    fn read(
        &self,
        height: Height,
        chain: &vigil_protocol::ChainId,
        set_at: &impl Fn(Height) -> Option<ValidatorSet>,
    ) -> anyhow::Result<(StableCheckpoint, ChunkedSnapshot)> {
        let dir = self.dir.join(height.0.to_string());
        let checkpoint: StableCheckpoint = from_bytes(&std::fs::read(dir.join(CHECKPOINT_FILE))?)?;
        let set = set_at(height.next()).context("no validator set for the checkpoint's next height")?;
        checkpoint.verify(chain, &set)?;
        let mut chunks = Vec::with_capacity(checkpoint.digest.chunk_count as usize);
        for i in 0..checkpoint.digest.chunk_count {
            let bytes = std::fs::read(dir.join(chunk_file(i))).with_context(|| format!("chunk {i}"))?;
            chunks.push(from_bytes::<SnapshotChunk>(&bytes).with_context(|| format!("chunk {i}"))?);
        }
        let snapshot = ChunkedSnapshot::new(checkpoint.digest.clone(), chunks)?;
        Ok((checkpoint, snapshot))
    }

    fn stored_heights(&self) -> Vec<Height> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut heights: Vec<Height> =
            entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok()).map(Height).collect();
        heights.sort();
        heights
    }

    /// Holds a snapshot to serve (the newest [`SNAPSHOTS_HELD_MAX`]).
    pub fn hold(&self, snapshot: ChunkedSnapshot) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.insert(snapshot.digest.height, Arc::new(snapshot));
        while held.len() > SNAPSHOTS_HELD_MAX {
            held.pop_first();
        }
    }

    /// Chunk `index` of the snapshot at `height`, with its proof.
    pub fn serve(&self, height: Height, index: u32) -> Option<ServedChunk> {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(&height)?.serve(index)
    }

    /// The live state entries of `checkpoint`'s snapshot, if this node holds it (what a
    /// pruned database keeps in place of the versions before it).
    pub fn entries_of(&self, checkpoint: &StableCheckpoint) -> Option<Vec<(vigil_protocol::Hash32, Vec<u8>)>> {
        let snapshot = self.held_for(checkpoint)?;
        Some(snapshot.chunks().iter().flat_map(|c| c.entries.iter().cloned()).collect())
    }

    /// Bytes of the snapshots stored on disk.
    pub fn stored_bytes(&self) -> u64 {
        fn size(path: &Path) -> u64 {
            match std::fs::read_dir(path) {
                Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| size(&e.path())).sum(),
                Err(_) => std::fs::metadata(path).map_or(0, |m| m.len()),
            }
        }
        size(&self.dir)
    }

    /// The held snapshot of `checkpoint`'s digest, if this node holds it.
    fn held_for(&self, checkpoint: &StableCheckpoint) -> Option<Arc<ChunkedSnapshot>> {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(&checkpoint.digest.height).filter(|s| s.digest == checkpoint.digest).cloned()
    }

    /// Writes a stable checkpoint and its snapshot (if held) to disk, replacing the older
    /// one: written beside, then renamed into place, so a crash leaves one whole copy.
    pub fn store_stable(&self, checkpoint: &StableCheckpoint) -> anyhow::Result<()> {
        let Some(snapshot) = self.held_for(checkpoint) else {
            return Ok(());
        };
        let height = checkpoint.digest.height;
        let target = self.dir.join(height.0.to_string());
        if target.exists() {
            return Ok(());
        }
        let partial = self.dir.join(format!(".{}.partial", height.0));
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial)?;
        for chunk in snapshot.chunks() {
            std::fs::write(partial.join(chunk_file(chunk.index)), to_bytes(chunk))?;
        }
        std::fs::write(partial.join(CHECKPOINT_FILE), to_bytes(checkpoint))?;
        std::fs::rename(&partial, &target)?;
        for older in self.stored_heights().into_iter().filter(|h| *h < height) {
            let _ = std::fs::remove_dir_all(self.dir.join(older.0.to_string()));
        }
        Ok(())
    }
}

fn chunk_file(index: u32) -> String {
    format!("chunk-{index:07}.bcs")
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_protocol::snapshot::chunk_root;
    use vigil_protocol::{CheckpointDigest, ConsensusMode, EncryptionKey, Hash32, NodeId, P2pKey, SecretKey};
    use vigil_protocol::{ValidatorInfo, ValidatorSet};

    fn stable(keys: &[SecretKey], set: &ValidatorSet, chunks: &[SnapshotChunk], height: u64) -> StableCheckpoint {
        let digest = CheckpointDigest {
            chain_id: vigil_protocol::ChainId::new("vigil-shelf").unwrap(),
            height: Height(height),
            block_hash: Hash32([1; 32]),
            state_root: Hash32([2; 32]),
            chunk_root: chunk_root(chunks),
            chunk_count: chunks.len() as u32,
            next_validator_set_hash: set.hash(),
            next_mode: ConsensusMode::Bft,
        };
        let votes: Vec<_> = keys.iter().map(|k| digest.sign(NodeId::from_public_key(&k.public_key()), k)).collect();
        StableCheckpoint::from_verified_votes(digest, &votes, set).unwrap()
    }

    #[test]
    fn a_stable_snapshot_is_stored_read_back_verified_and_replaces_the_older_one() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<SecretKey> = (1..=4).map(|i| SecretKey::from_seed([i; 32])).collect();
        let set = ValidatorSet::new(
            keys.iter()
                .map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey([0; 32]), P2pKey([9; 32])))
                .collect(),
        )
        .unwrap();
        let entries = (0..50u8).map(|i| (Hash32([i; 32]), vec![i; 40_000]));
        let chunks = SnapshotChunk::cut(entries, vigil_protocol::snapshot::SNAPSHOT_CHUNK_BYTES_MAX);
        assert!(chunks.len() > 1);
        let shelf = Snapshots::open(dir.path()).unwrap();
        for height in [8, 16] {
            let cp = stable(&keys, &set, &chunks, height);
            shelf.hold(ChunkedSnapshot::new(cp.digest.clone(), chunks.clone()).unwrap());
            shelf.store_stable(&cp).unwrap();
        }
        assert_eq!(shelf.stored_heights(), vec![Height(16)], "the older snapshot is removed");
        let chain = vigil_protocol::ChainId::new("vigil-shelf").unwrap();
        let reopened = Snapshots::open(dir.path()).unwrap();
        let cp = reopened.load_stored(&chain, |_| Some(set.clone())).unwrap();
        assert_eq!(cp.digest.height, Height(16));
        let served = reopened.serve(Height(16), 1).unwrap();
        vigil_protocol::snapshot::verify_chunk(&cp.digest, &served.chunk, &served.proof).unwrap();
        // Another set does not verify it; a chunk flipped on disk does not read back.
        let other = ValidatorSet::new(vec![ValidatorInfo::new(
            "x",
            SecretKey::from_seed([7; 32]).public_key(),
            EncryptionKey([0; 32]),
            P2pKey([9; 32]),
        )])
        .unwrap();
        assert!(Snapshots::open(dir.path()).unwrap().load_stored(&chain, |_| Some(other.clone())).is_none());
        let file = dir.path().join("snapshots/16").join(chunk_file(1));
        let mut bytes = std::fs::read(&file).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&file, bytes).unwrap();
        let shelf = Snapshots::open(dir.path()).unwrap();
        assert!(shelf.load_stored(&chain, |_| Some(set.clone())).is_none());
        assert!(shelf.serve(Height(16), 0).is_none());
    }
}
