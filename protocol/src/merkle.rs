//! Ordered Merkle trees (RFC 9162 §2.1 shape) for the transaction and receipt roots
//! of a block, with inclusion proofs.
//!
//! Leaves are hashed by the caller with their own [`Domain`] (`ReceiptLeaf`,
//! `TransactionLeaf`); inner nodes use `Domain::MerkleNode`, so a leaf can never be
//! passed off as an inner node. Unlike Bitcoin's tree, odd nodes are not duplicated,
//! so two different leaf lists never share a root. Verification follows RFC 9162
//! §2.1.3.2 and never panics on a malformed proof.
//!
//! One departure from RFC 9162: the committed root also binds the number of leaves,
//! `H(MerkleRoot, count || tree hash)`. In a plain RFC 9162 tree the same audit path can
//! verify for another `(index, size)` pair (leaf 4 of 5 and leaf 1 of 2 share a path);
//! fault evidence names a position, so positions must be unforgeable.

use serde::{Deserialize, Serialize};

use crate::hash::{hash, Domain, Hash32};
use crate::limits::MERKLE_PROOF_DEPTH_MAX;

/// Why an inclusion proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("leaf index {index} is outside a tree of {leaf_count} leaves")]
    IndexOutOfRange { index: u64, leaf_count: u64 },
    #[error("proof has {0} hashes, more than the path to any leaf can have")]
    TooLong(usize),
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

/// Inclusion proof of leaf `index` in a tree of `leaf_count` leaves; `siblings` go
/// from the leaf up to the root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleProof {
    pub index: u64,
    pub leaf_count: u64,
    pub siblings: Vec<Hash32>,
}

fn node(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(&left.0);
    buf[32..].copy_from_slice(&right.0);
    hash(Domain::MerkleNode, &buf)
}

/// Largest power of two strictly less than `n` (n ≥ 2).
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// Root over already-hashed leaves, binding their count.
pub fn root(leaves: &[Hash32]) -> Hash32 {
    MerkleTree::new(leaves.to_vec()).root()
}

fn bind_count(leaf_count: u64, tree_hash: &Hash32) -> Hash32 {
    let mut buf = [0u8; 40];
    buf[..8].copy_from_slice(&leaf_count.to_le_bytes());
    buf[8..].copy_from_slice(&tree_hash.0);
    hash(Domain::MerkleRoot, &buf)
}

/// Proof that `leaves[index]` is in `root(leaves)`; `None` if `index` is out of range.
/// To prove many leaves of one tree, keep a [`MerkleTree`].
pub fn prove(leaves: &[Hash32], index: usize) -> Option<MerkleProof> {
    MerkleTree::new(leaves.to_vec()).prove(index)
}

impl MerkleProof {
    /// Checks that `leaf` sits at `self.index` in a tree with root `expected_root`.
    pub fn verify(&self, leaf: &Hash32, expected_root: &Hash32) -> Result<(), MerkleError> {
        if self.root_of(leaf)? == *expected_root {
            Ok(())
        } else {
            Err(MerkleError::RootMismatch)
        }
    }

    /// The root of the tree of `self.leaf_count` leaves in which `leaf` sits at
    /// `self.index` with these siblings: what a signer who commits to that root commits
    /// to about `leaf` (see [`crate::receipt::SignedReceipt`]). An error if the siblings
    /// cannot be the path to that position in a tree of that size.
    pub fn root_of(&self, leaf: &Hash32) -> Result<Hash32, MerkleError> {
        if self.index >= self.leaf_count {
            return Err(MerkleError::IndexOutOfRange { index: self.index, leaf_count: self.leaf_count });
        }
        if self.siblings.len() > MERKLE_PROOF_DEPTH_MAX {
            return Err(MerkleError::TooLong(self.siblings.len()));
        }
        // RFC 9162 §2.1.3.2.
        let mut f = self.index;
        let mut s = self.leaf_count - 1;
        let mut r = *leaf;
        for p in &self.siblings {
            if s == 0 {
                return Err(MerkleError::RootMismatch);
            }
            if f & 1 == 1 || f == s {
                r = node(p, &r);
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            } else {
                r = node(&r, p);
            }
            f >>= 1;
            s >>= 1;
        }
        if s == 0 {
            Ok(bind_count(self.leaf_count, &r))
        } else {
            Err(MerkleError::RootMismatch)
        }
    }

    /// How many siblings the path to leaf `index` of a tree of `leaf_count` has (0 if
    /// the index is out of range): one per split on the way down, as [`prove`] cuts it.
    pub fn depth(index: u64, leaf_count: u64) -> usize {
        if index >= leaf_count {
            return 0;
        }
        let (mut index, mut count, mut depth) = (index, leaf_count, 0);
        while count > 1 {
            // The largest power of two below `count`, in u64 (wasm32's usize is 32 bits).
            let k = 1u64 << (63 - (count - 1).leading_zeros());
            if index < k {
                count = k;
            } else {
                index -= k;
                count -= k;
            }
            depth += 1;
        }
        depth
    }
}

/// An RFC 9162 tree (§2.1.1) kept whole, for a signer that proves many of its leaves:
/// every perfect subtree's hash by level, and the few others (those along the right
/// edge) once each, so a proof costs its own length in lookups instead of rehashing the
/// tree. The empty tree hashes to `hash(MerkleEmpty, "")`; [`root`] and [`prove`] build
/// one for a single answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[j][i]`: the perfect subtree of `2^j` leaves starting at leaf `i · 2^j`.
    levels: Vec<Vec<Hash32>>,
    /// The subtrees `[start, len)` that end at the last leaf and are not perfect.
    right_edge: Vec<(usize, Hash32)>,
    root: Hash32,
}

impl MerkleTree {
    pub fn new(leaves: Vec<Hash32>) -> Self {
        let count = leaves.len();
        let mut levels = vec![leaves];
        while let Some(below) = levels.last().filter(|l| l.len() >= 2) {
            let above = below.chunks_exact(2).map(|pair| node(&pair[0], &pair[1])).collect();
            levels.push(above);
        }
        let mut tree = Self { levels, right_edge: Vec::new(), root: Hash32([0; 32]) };
        let hash = match count {
            0 => hash(Domain::MerkleEmpty, &[]),
            n => tree.fill_right_edge(0, n),
        };
        tree.root = bind_count(count as u64, &hash);
        tree
    }

    fn fill_right_edge(&mut self, start: usize, len: usize) -> Hash32 {
        if len.is_power_of_two() {
            return self.perfect(start, len);
        }
        let k = split_point(len);
        let left = self.perfect(start, k);
        let right = self.fill_right_edge(start + k, len - k);
        let hash = node(&left, &right);
        self.right_edge.push((start, hash));
        hash
    }

    fn perfect(&self, start: usize, len: usize) -> Hash32 {
        debug_assert!(len.is_power_of_two() && start % len == 0);
        let level = len.trailing_zeros() as usize;
        self.levels[level][start >> level]
    }

    /// The hash of leaves `[start, start + len)`, a subtree of this tree's shape.
    fn subtree(&self, start: usize, len: usize) -> Hash32 {
        if len.is_power_of_two() {
            return self.perfect(start, len);
        }
        debug_assert_eq!(start + len, self.len(), "only right-edge subtrees are not perfect");
        match self.right_edge.iter().find(|(s, _)| *s == start) {
            Some((_, hash)) => *hash,
            None => {
                debug_assert!(false, "every right-edge subtree is filled in `new`");
                let k = split_point(len);
                node(&self.perfect(start, k), &self.subtree(start + k, len - k))
            }
        }
    }

    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The committed root: the tree hash bound to the leaf count.
    pub fn root(&self) -> Hash32 {
        self.root
    }

    /// The proof of leaf `index` (RFC 9162 §2.1.3.1); `None` if out of range.
    pub fn prove(&self, index: usize) -> Option<MerkleProof> {
        if index >= self.len() {
            return None;
        }
        let mut siblings = Vec::new();
        self.path(0, self.len(), index, &mut siblings);
        Some(MerkleProof { index: index as u64, leaf_count: self.len() as u64, siblings })
    }

    fn path(&self, start: usize, len: usize, index: usize, out: &mut Vec<Hash32>) {
        if len <= 1 {
            return;
        }
        let k = split_point(len);
        if index < k {
            self.path(start, k, index, out);
            out.push(self.subtree(start + k, len - k));
        } else {
            self.path(start + k, len - k, index - k, out);
            out.push(self.subtree(start, k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash32> {
        (0..n).map(|i| hash(Domain::TransactionLeaf, &(i as u64).to_le_bytes())).collect()
    }

    #[test]
    fn every_leaf_of_every_small_tree_proves() {
        for n in 1..=33 {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..n {
                let p = prove(&l, i).unwrap();
                p.verify(&l[i], &r).unwrap_or_else(|e| panic!("n={n} i={i}: {e}"));
            }
        }
    }

    #[test]
    fn proof_for_another_leaf_or_position_fails() {
        let l = leaves(7);
        let r = root(&l);
        let p = prove(&l, 3).unwrap();
        assert_eq!(p.verify(&l[4], &r), Err(MerkleError::RootMismatch));
        let moved = MerkleProof { index: 2, ..p.clone() };
        assert_eq!(moved.verify(&l[3], &r), Err(MerkleError::RootMismatch));
        let resized = MerkleProof { leaf_count: 8, ..p };
        assert_eq!(resized.verify(&l[3], &r), Err(MerkleError::RootMismatch));
    }

    #[test]
    fn proof_relabelled_to_another_index_and_size_fails() {
        // In plain RFC 9162, leaf 4 of 5 and leaf 1 of 2 have the same one-hash path.
        let l = leaves(5);
        let r = root(&l);
        let p = prove(&l, 4).unwrap();
        p.verify(&l[4], &r).unwrap();
        let relabelled = MerkleProof { index: 1, leaf_count: 2, siblings: p.siblings };
        assert_eq!(relabelled.verify(&l[4], &r), Err(MerkleError::RootMismatch));
    }

    #[test]
    fn out_of_range_index_is_an_error_not_a_panic() {
        let l = leaves(3);
        assert!(prove(&l, 3).is_none());
        let p = MerkleProof { index: 5, leaf_count: 3, siblings: vec![] };
        assert!(matches!(p.verify(&l[0], &root(&l)), Err(MerkleError::IndexOutOfRange { .. })));
        let p = MerkleProof { index: 0, leaf_count: 0, siblings: vec![] };
        assert!(p.verify(&l[0], &root(&l)).is_err());
    }

    #[test]
    fn leaf_list_with_duplicated_last_leaf_has_another_root() {
        // The Bitcoin CVE-2012-2459 shape: [a, b, c] vs [a, b, c, c].
        let mut l = leaves(3);
        let r3 = root(&l);
        l.push(l[2]);
        assert_ne!(r3, root(&l));
    }

    /// RFC 9162 §2.1.1's recursive definition, word for word: what the kept tree must
    /// equal.
    fn reference_tree_hash(leaves: &[Hash32]) -> Hash32 {
        match leaves.len() {
            0 => hash(Domain::MerkleEmpty, &[]),
            1 => leaves[0],
            n => {
                let k = split_point(n);
                node(&reference_tree_hash(&leaves[..k]), &reference_tree_hash(&leaves[k..]))
            }
        }
    }

    /// RFC 9162 §2.1.3.1's audit path, recursively.
    fn reference_path(leaves: &[Hash32], index: usize, out: &mut Vec<Hash32>) {
        if leaves.len() <= 1 {
            return;
        }
        let k = split_point(leaves.len());
        if index < k {
            reference_path(&leaves[..k], index, out);
            out.push(reference_tree_hash(&leaves[k..]));
        } else {
            reference_path(&leaves[k..], index - k, out);
            out.push(reference_tree_hash(&leaves[..k]));
        }
    }

    #[test]
    fn a_kept_tree_has_the_roots_and_paths_of_the_recursive_definition() {
        for n in 0..=70 {
            let l = leaves(n);
            let tree = MerkleTree::new(l.clone());
            assert_eq!(tree.root(), bind_count(n as u64, &reference_tree_hash(&l)), "n={n}");
            assert_eq!(root(&l), tree.root(), "n={n}");
            for i in 0..n {
                let p = tree.prove(i).unwrap();
                let mut siblings = Vec::new();
                reference_path(&l, i, &mut siblings);
                assert_eq!(p, MerkleProof { index: i as u64, leaf_count: n as u64, siblings }, "n={n} i={i}");
                assert_eq!(Some(&p), prove(&l, i).as_ref(), "n={n} i={i}");
                assert_eq!(p.siblings.len(), MerkleProof::depth(i as u64, n as u64), "n={n} i={i}");
                assert_eq!(p.root_of(&l[i]), Ok(tree.root()));
            }
            assert!(tree.prove(n).is_none());
        }
    }

    #[test]
    fn empty_tree_has_a_fixed_root_distinct_from_any_leaf() {
        assert_eq!(root(&[]), root(&[]));
        assert!(!leaves(4).contains(&root(&[])));
        assert_ne!(root(&[]), root(&leaves(1)));
    }
}
