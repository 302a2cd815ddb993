//! State snapshots in chunks: what a node that lost its data downloads to rebuild the
//! state at a stable checkpoint ([`crate::checkpoint`]).
//!
//! A snapshot of the state at version H is every live entry — its key's position in the
//! tree (`KeyHash`) and its value — in ascending key order, cut into chunks of at most
//! [`SNAPSHOT_CHUNK_BYTES_MAX`] encoded bytes (greedily, so the cut is a function of the
//! state alone and every honest node cuts alike). The checkpoint signs the ordered
//! Merkle root of the chunks' hashes, so each chunk is checked the moment it arrives,
//! from any peer, with its inclusion proof ([`verify_chunk`]): a peer that serves a bad
//! chunk is caught at that chunk. Building the snapshot and rebuilding a tree from it
//! are the state tree's (`StateSnapshot::chunks`, `StateTree::from_chunks`, feature
//! `tree`); the rebuilt root is then checked against the checkpoint's state root.

use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointDigest;
use crate::encoding::to_bytes;
use crate::hash::{hash_value, Domain, Hash32};
use crate::ids::Height;
use crate::merkle::{self, MerkleError, MerkleProof};

/// Largest encoded chunk: an entry larger than this is a chunk alone.
pub const SNAPSHOT_CHUNK_BYTES_MAX: usize = 1 << 20;

/// Most chunks one snapshot may have (a chunk count is a `u32` on the wire).
pub const SNAPSHOT_CHUNKS_MAX: usize = 1 << 20;

/// Why a chunk or a snapshot was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("chunk {index} is outside a snapshot of {count} chunks")]
    IndexOutOfRange { index: u32, count: u32 },
    #[error("the proof is for chunk {proven} of {proven_count}, not chunk {index} of {count}")]
    ProofPosition { index: u32, count: u32, proven: u64, proven_count: u64 },
    #[error("chunk {index} is not the one the checkpoint signed: {why}")]
    NotSigned { index: u32, why: MerkleError },
    #[error("chunk {index} is {bytes} bytes, more than {max}")]
    TooLarge { index: u32, bytes: usize, max: usize },
    #[error("chunk {index} has no entries")]
    Empty { index: u32 },
    #[error("chunk {index}'s entries are not in strictly ascending key order")]
    Unordered { index: u32 },
    #[error("a snapshot of {0} chunks is more than the {SNAPSHOT_CHUNKS_MAX} allowed")]
    TooManyChunks(u32),
    #[error("the snapshot lacks chunk {0}")]
    Missing(u32),
    #[error("the snapshot has {found} chunks, the checkpoint signed {expected}")]
    Count { expected: u32, found: usize },
    #[error("the rebuilt state's root is {found}, the checkpoint signed {expected}")]
    Root { expected: Hash32, found: Hash32 },
    #[error("the rebuilt state's root is not the one the checkpoint signed ({expected})")]
    StateRoot { expected: Hash32 },
    #[error("state tree: {0}")]
    State(String),
}

/// One chunk of a snapshot: entries `(key hash, value)` in strictly ascending key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotChunk {
    pub index: u32,
    pub entries: Vec<(Hash32, Vec<u8>)>,
}

impl SnapshotChunk {
    /// The chunk's leaf in the checkpoint's chunk root.
    pub fn hash(&self) -> Hash32 {
        hash_value(Domain::SnapshotChunk, self)
    }

    /// Cuts entries (already in ascending key order) into chunks of at most `max_bytes`
    /// encoded bytes (the chain's setting, at most [`SNAPSHOT_CHUNK_BYTES_MAX`]), greedily.
    pub fn cut(entries: impl IntoIterator<Item = (Hash32, Vec<u8>)>, max_bytes: usize) -> Vec<SnapshotChunk> {
        let max_bytes = max_bytes.min(SNAPSHOT_CHUNK_BYTES_MAX);
        let mut chunks = Vec::new();
        let mut current = SnapshotChunk { index: 0, entries: Vec::new() };
        // An upper bound of each part's BCS bytes: the index (4) and the list's length
        // (ULEB128, at most 5); a key (its length byte and 32) and a value (at most 5
        // bytes of length, then the bytes). A chunk so never exceeds the bound by more
        // than its one entry, when that entry alone is larger.
        const OVERHEAD: usize = 4 + 5;
        let mut bytes = OVERHEAD;
        for (key, value) in entries {
            let entry_bytes = 33 + 5 + value.len();
            if !current.entries.is_empty() && bytes + entry_bytes > max_bytes {
                let index = current.index + 1;
                chunks.push(std::mem::replace(&mut current, SnapshotChunk { index, entries: Vec::new() }));
                bytes = OVERHEAD;
            }
            bytes += entry_bytes;
            current.entries.push((key, value));
        }
        if !current.entries.is_empty() {
            chunks.push(current);
        }
        chunks
    }

    /// Checks the chunk's own shape: not empty, not too large, keys strictly ascending.
    pub fn check_shape(&self) -> Result<(), SnapshotError> {
        let index = self.index;
        if self.entries.is_empty() {
            return Err(SnapshotError::Empty { index });
        }
        let bytes = to_bytes(self).len();
        if bytes > SNAPSHOT_CHUNK_BYTES_MAX && self.entries.len() > 1 {
            return Err(SnapshotError::TooLarge { index, bytes, max: SNAPSHOT_CHUNK_BYTES_MAX });
        }
        if self.entries.windows(2).any(|w| matches!(w, [a, b] if a.0 >= b.0)) {
            return Err(SnapshotError::Unordered { index });
        }
        Ok(())
    }
}

/// A chunk as a peer serves it to a node that restores: the checkpoint height it is of,
/// the chunk, and its proof under that checkpoint's chunk root ([`verify_chunk`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedChunk {
    pub height: Height,
    pub chunk: SnapshotChunk,
    pub proof: MerkleProof,
}

/// A snapshot's chunks with their hashes computed once, to serve each with its proof.
#[derive(Debug, Clone)]
pub struct ChunkedSnapshot {
    pub digest: CheckpointDigest,
    chunks: Vec<SnapshotChunk>,
    hashes: Vec<Hash32>,
}

impl ChunkedSnapshot {
    /// The snapshot of freshly cut `chunks`, with the digest `digest_of` makes from their
    /// root and count (each chunk hashed once, for the root and the proofs alike).
    pub fn cut(chunks: Vec<SnapshotChunk>, digest_of: impl FnOnce(Hash32, u32) -> CheckpointDigest) -> Self {
        let hashes: Vec<Hash32> = chunks.iter().map(SnapshotChunk::hash).collect();
        let count = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
        let digest = digest_of(merkle::root(&hashes), count);
        Self { digest, chunks, hashes }
    }

    /// `chunks` must be those `digest` signs (checked: their root and count).
    pub fn new(digest: CheckpointDigest, chunks: Vec<SnapshotChunk>) -> Result<Self, SnapshotError> {
        let hashes: Vec<Hash32> = chunks.iter().map(SnapshotChunk::hash).collect();
        if chunks.len() != digest.chunk_count as usize {
            return Err(SnapshotError::Count { expected: digest.chunk_count, found: chunks.len() });
        }
        let root = merkle::root(&hashes);
        if root != digest.chunk_root {
            return Err(SnapshotError::Root { expected: digest.chunk_root, found: root });
        }
        Ok(Self { digest, chunks, hashes })
    }

    /// Chunk `index` with its proof.
    pub fn serve(&self, index: u32) -> Option<ServedChunk> {
        let chunk = self.chunks.get(index as usize)?.clone();
        let proof = merkle::prove(&self.hashes, index as usize)?;
        Some(ServedChunk { height: self.digest.height, chunk, proof })
    }

    pub fn chunks(&self) -> &[SnapshotChunk] {
        &self.chunks
    }
}

/// The root a checkpoint signs over a snapshot's chunks.
pub fn chunk_root(chunks: &[SnapshotChunk]) -> Hash32 {
    merkle::root(&chunks.iter().map(SnapshotChunk::hash).collect::<Vec<_>>())
}

/// The proof a peer serves with chunk `index` of `chunks`.
pub fn chunk_proof(chunks: &[SnapshotChunk], index: u32) -> Option<MerkleProof> {
    merkle::prove(&chunks.iter().map(SnapshotChunk::hash).collect::<Vec<_>>(), index as usize)
}

/// Checks one chunk as it arrives: its shape, and that it is the chunk at its index under
/// the root `digest` signs (so it is exactly what a quorum of validators computed).
pub fn verify_chunk(
    digest: &CheckpointDigest,
    chunk: &SnapshotChunk,
    proof: &MerkleProof,
) -> Result<(), SnapshotError> {
    let (index, count) = (chunk.index, digest.chunk_count);
    if count as usize > SNAPSHOT_CHUNKS_MAX {
        return Err(SnapshotError::TooManyChunks(count));
    }
    if index >= count {
        return Err(SnapshotError::IndexOutOfRange { index, count });
    }
    if proof.index != u64::from(index) || proof.leaf_count != u64::from(count) {
        return Err(SnapshotError::ProofPosition { index, count, proven: proof.index, proven_count: proof.leaf_count });
    }
    chunk.check_shape()?;
    proof.verify(&chunk.hash(), &digest.chunk_root).map_err(|why| SnapshotError::NotSigned { index, why })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ChainId;
    use crate::validator::ConsensusMode;

    fn entries(n: u8, value_len: usize) -> Vec<(Hash32, Vec<u8>)> {
        (0..n).map(|i| (Hash32([i; 32]), vec![i; value_len])).collect()
    }

    fn digest_of(chunks: &[SnapshotChunk]) -> CheckpointDigest {
        CheckpointDigest {
            chain_id: ChainId::new("vigil-test").unwrap(),
            height: Height(64),
            block_hash: Hash32([1; 32]),
            state_root: Hash32([2; 32]),
            chunk_root: chunk_root(chunks),
            chunk_count: chunks.len() as u32,
            next_validator_set_hash: Hash32([3; 32]),
            next_mode: ConsensusMode::Bft,
        }
    }

    #[test]
    fn chunks_are_cut_by_size_and_each_fits() {
        // 200 entries of 16 KiB: 63 fit in 1 MiB with their keys.
        let chunks = SnapshotChunk::cut(entries(200, 16 * 1024), SNAPSHOT_CHUNK_BYTES_MAX);
        assert_eq!(chunks.len(), 4);
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.index as usize, i);
            c.check_shape().unwrap();
            assert!(to_bytes(c).len() <= SNAPSHOT_CHUNK_BYTES_MAX);
        }
        assert_eq!(chunks.iter().map(|c| c.entries.len()).sum::<usize>(), 200);
        // The cut is a function of the entries alone.
        assert_eq!(SnapshotChunk::cut(entries(200, 16 * 1024), SNAPSHOT_CHUNK_BYTES_MAX), chunks);
        assert!(SnapshotChunk::cut(Vec::new(), SNAPSHOT_CHUNK_BYTES_MAX).is_empty());
        // A chain may cut smaller chunks.
        let small = SnapshotChunk::cut(entries(200, 16 * 1024), 100 * 1024);
        assert_eq!(small.len(), 34);
        assert!(small.iter().all(|c| to_bytes(c).len() <= 100 * 1024));
    }

    #[test]
    fn each_chunk_is_checked_against_the_signed_root_on_arrival() {
        let chunks = SnapshotChunk::cut(entries(200, 16 * 1024), SNAPSHOT_CHUNK_BYTES_MAX);
        let digest = digest_of(&chunks);
        for c in &chunks {
            verify_chunk(&digest, c, &chunk_proof(&chunks, c.index).unwrap()).unwrap();
        }
        let proof = chunk_proof(&chunks, 1).unwrap();
        // A value changed, an entry dropped, the order changed, another chunk's proof.
        let mut changed = chunks[1].clone();
        changed.entries[0].1[0] ^= 1;
        assert!(matches!(verify_chunk(&digest, &changed, &proof), Err(SnapshotError::NotSigned { index: 1, .. })));
        let mut dropped = chunks[1].clone();
        dropped.entries.pop();
        assert!(matches!(verify_chunk(&digest, &dropped, &proof), Err(SnapshotError::NotSigned { .. })));
        let mut swapped = chunks[1].clone();
        swapped.entries.swap(0, 1);
        assert_eq!(verify_chunk(&digest, &swapped, &proof), Err(SnapshotError::Unordered { index: 1 }));
        let other = chunk_proof(&chunks, 2).unwrap();
        assert!(matches!(verify_chunk(&digest, &chunks[1], &other), Err(SnapshotError::ProofPosition { .. })));
        // A chunk moved to another index is not the chunk signed there.
        let mut moved = chunks[1].clone();
        moved.index = 2;
        assert!(matches!(verify_chunk(&digest, &moved, &other), Err(SnapshotError::NotSigned { index: 2, .. })));
        let mut beyond = chunks[1].clone();
        beyond.index = 9;
        assert!(matches!(verify_chunk(&digest, &beyond, &proof), Err(SnapshotError::IndexOutOfRange { .. })));
        let mut huge = digest.clone();
        huge.chunk_count = SNAPSHOT_CHUNKS_MAX as u32 + 1;
        assert!(matches!(verify_chunk(&huge, &chunks[1], &proof), Err(SnapshotError::TooManyChunks(_))));
        let empty = SnapshotChunk { index: 1, entries: Vec::new() };
        assert_eq!(verify_chunk(&digest, &empty, &proof), Err(SnapshotError::Empty { index: 1 }));
    }

    #[test]
    fn a_held_snapshot_serves_each_chunk_with_its_proof_and_refuses_other_chunks() {
        let chunks = SnapshotChunk::cut(entries(200, 16 * 1024), SNAPSHOT_CHUNK_BYTES_MAX);
        let digest = digest_of(&chunks);
        let held = ChunkedSnapshot::new(digest.clone(), chunks.clone()).unwrap();
        for i in 0..chunks.len() as u32 {
            let served = held.serve(i).unwrap();
            assert_eq!(served.height, digest.height);
            verify_chunk(&digest, &served.chunk, &served.proof).unwrap();
        }
        assert!(held.serve(chunks.len() as u32).is_none());
        let mut fewer = chunks.clone();
        fewer.pop();
        assert!(matches!(ChunkedSnapshot::new(digest.clone(), fewer), Err(SnapshotError::Count { .. })));
        let mut other = chunks;
        other[0].entries[0].1[0] ^= 1;
        assert!(matches!(ChunkedSnapshot::new(digest, other), Err(SnapshotError::Root { .. })));
    }
}
