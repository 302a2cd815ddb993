//! A table's rows as an authenticated **ordered** map, so a range scan proves that it left
//! nothing out (the state tree hashes its keys and has no order to prove that with).
//!
//! The map is a treap: a binary search tree by key (a row's primary key in its
//! order-preserving encoding, so byte order is key order) whose shape is fixed by the keys
//! alone — each node's priority is the hash of its key, and a parent's priority is above
//! its children's. The same rows make the same tree and the same root whatever order they
//! were written in, so every node computes the same root, and a restored node rebuilds it
//! from the rows. Its expected depth is O(log n).
//!
//! A node's hash binds its key, its row's hash and its children's hashes. A **range proof**
//! is the part of the tree that reaches the range: every node whose subtree may hold a key
//! of the range is shown (its key, its row's hash), every other subtree only by its hash.
//! The verifier ([`RangeProof::verify`]) recomputes the root, and checks that each node
//! shown lies within the bounds its ancestors set, and that no subtree shown only by its
//! hash could hold a key of the range: so the rows in the range are exactly the nodes
//! shown within it, in order — a row left out, added or moved changes the root or breaks
//! the order, and is refused.
//!
//! The tree itself ([`OrderedMap`], feature `tree`) shares its nodes between versions
//! (each write copies one path), so a block executed and then discarded costs nothing to
//! drop.

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::hash::{hash, Domain, Hash32};

/// The root of an empty map.
pub const EMPTY_ROOT: Hash32 = Hash32([0; 32]);
/// Longest key a map holds (a row's encoded primary key).
pub const ORDERED_KEY_LEN_MAX: usize = 1024;
/// Deepest proof a verifier walks (a treap of 2^32 rows is this deep with overwhelming
/// probability): a deeper one is refused rather than recursed into.
pub const PROOF_DEPTH_MAX: usize = 256;

/// A node's hash: its key, its row's hash and its children's hashes.
pub fn node_hash(key: &[u8], value: &Hash32, left: &Hash32, right: &Hash32) -> Hash32 {
    let mut content = Vec::with_capacity(8 + key.len() + 96);
    content.extend_from_slice(&(key.len() as u64).to_le_bytes());
    content.extend_from_slice(key);
    content.extend_from_slice(&value.0);
    content.extend_from_slice(&left.0);
    content.extend_from_slice(&right.0);
    hash(Domain::TableNode, &content)
}

/// Why a range proof is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("the proof does not lead to the table's root")]
    Root,
    #[error("a node of the proof is out of the order its ancestors set")]
    Order,
    #[error("a subtree the proof hides could hold a row of the range")]
    Hidden,
    #[error("the rows given are not the rows the proof shows in the range")]
    Rows,
    #[error("the proof is deeper than {PROOF_DEPTH_MAX}")]
    Depth,
    #[error("a key longer than {ORDERED_KEY_LEN_MAX} bytes")]
    KeyLength,
}

/// The part of the tree a range reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProofNode {
    /// No node here.
    Empty,
    /// A subtree that holds no key of the range: only its hash.
    Hidden(Hash32),
    /// A node shown: its key, its row's hash, its children.
    Shown { key: Vec<u8>, value: Hash32, left: Box<ProofNode>, right: Box<ProofNode> },
}

/// A key range: lower and upper bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRange {
    pub from: Bound<Vec<u8>>,
    pub to: Bound<Vec<u8>>,
}

impl KeyRange {
    pub fn contains(&self, key: &[u8]) -> bool {
        let above = match &self.from {
            Bound::Included(b) => key >= b.as_slice(),
            Bound::Excluded(b) => key > b.as_slice(),
            Bound::Unbounded => true,
        };
        let below = match &self.to {
            Bound::Included(b) => key <= b.as_slice(),
            Bound::Excluded(b) => key < b.as_slice(),
            Bound::Unbounded => true,
        };
        above && below
    }

    /// Whether a subtree whose keys all lie strictly between `lo` and `hi` (`None`: no
    /// bound) may hold a key of the range.
    fn meets(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> bool {
        // Every key k of the subtree has lo < k < hi.
        let below_range = match (&self.from, hi) {
            (_, None) | (Bound::Unbounded, _) => false,
            // k < hi ≤ from: all keys below the range (hi itself is not in the subtree).
            (Bound::Included(f), Some(hi)) => hi <= f.as_slice(),
            (Bound::Excluded(f), Some(hi)) => hi <= f.as_slice() || successor_is(f, hi),
        };
        let above_range = match (&self.to, lo) {
            (_, None) | (Bound::Unbounded, _) => false,
            (Bound::Included(t), Some(lo)) => lo >= t.as_slice(),
            (Bound::Excluded(t), Some(lo)) => lo >= t.as_slice() || successor_is(lo, t),
        };
        !(below_range || above_range)
    }
}

/// Whether `b` is the least key above `a` (`a` followed by a zero byte): no key lies
/// strictly between them.
fn successor_is(a: &[u8], b: &[u8]) -> bool {
    b.len() == a.len() + 1 && b.starts_with(a) && b.last() == Some(&0)
}

/// A proof that `rows` are every row of a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeProof {
    pub root: ProofNode,
}

impl RangeProof {
    /// Checks the proof against the table's `root` for `range`, and that `rows` (key and
    /// row hash, in key order) are exactly the rows it shows within the range.
    pub fn verify(&self, root: &Hash32, range: &KeyRange, rows: &[(Vec<u8>, Hash32)]) -> Result<(), RangeError> {
        let mut shown = Vec::new();
        let computed = walk(&self.root, range, None, None, 0, &mut shown)?;
        if computed != *root {
            return Err(RangeError::Root);
        }
        if shown.len() != rows.len() || shown.iter().zip(rows).any(|((k, v), (rk, rv))| *k != rk || *v != rv) {
            return Err(RangeError::Rows);
        }
        Ok(())
    }
}

/// The hash of `node`, whose keys must lie strictly between `lo` and `hi`; the shown
/// keys within the range are pushed to `shown` in order.
fn walk<'a>(
    node: &'a ProofNode,
    range: &KeyRange,
    lo: Option<&'a [u8]>,
    hi: Option<&'a [u8]>,
    depth: usize,
    shown: &mut Vec<(&'a [u8], &'a Hash32)>,
) -> Result<Hash32, RangeError> {
    if depth > PROOF_DEPTH_MAX {
        return Err(RangeError::Depth);
    }
    match node {
        ProofNode::Empty => Ok(EMPTY_ROOT),
        ProofNode::Hidden(h) => {
            if range.meets(lo, hi) {
                return Err(RangeError::Hidden);
            }
            Ok(*h)
        }
        ProofNode::Shown { key, value, left, right } => {
            if key.len() > ORDERED_KEY_LEN_MAX {
                return Err(RangeError::KeyLength);
            }
            let k = key.as_slice();
            if lo.is_some_and(|lo| k <= lo) || hi.is_some_and(|hi| k >= hi) {
                return Err(RangeError::Order);
            }
            let l = walk(left, range, lo, Some(k), depth + 1, shown)?;
            if range.contains(k) {
                shown.push((k, value));
            }
            let r = walk(right, range, Some(k), hi, depth + 1, shown)?;
            Ok(node_hash(k, value, &l, &r))
        }
    }
}

#[cfg(feature = "tree")]
pub use tree::OrderedMap;

#[cfg(feature = "tree")]
mod tree {
    use std::cmp::Ordering;
    use std::sync::Arc;

    use super::*;

    /// A node's priority: the hash of its key (the higher one is nearer the root).
    fn priority(key: &[u8]) -> Hash32 {
        hash(Domain::TableNodePriority, key)
    }

    #[derive(Debug)]
    struct Node {
        key: Vec<u8>,
        value: Hash32,
        priority: Hash32,
        left: Link,
        right: Link,
        hash: Hash32,
        len: usize,
    }

    type Link = Option<Arc<Node>>;

    fn hash_of(link: &Link) -> Hash32 {
        link.as_ref().map_or(EMPTY_ROOT, |n| n.hash)
    }

    fn len_of(link: &Link) -> usize {
        link.as_ref().map_or(0, |n| n.len)
    }

    fn make(key: Vec<u8>, value: Hash32, priority: Hash32, left: Link, right: Link) -> Arc<Node> {
        let hash = node_hash(&key, &value, &hash_of(&left), &hash_of(&right));
        let len = 1 + len_of(&left) + len_of(&right);
        Arc::new(Node { key, value, priority, left, right, hash, len })
    }

    fn with_children(n: &Node, left: Link, right: Link) -> Arc<Node> {
        make(n.key.clone(), n.value, n.priority, left, right)
    }

    /// Splits `link` into the keys below `key` and those above it (`key` itself dropped).
    fn split(link: &Link, key: &[u8]) -> (Link, Link) {
        let Some(n) = link else { return (None, None) };
        match key.cmp(&n.key) {
            Ordering::Less => {
                let (l, r) = split(&n.left, key);
                (l, Some(with_children(n, r, n.right.clone())))
            }
            Ordering::Greater => {
                let (l, r) = split(&n.right, key);
                (Some(with_children(n, n.left.clone(), l)), r)
            }
            Ordering::Equal => (n.left.clone(), n.right.clone()),
        }
    }

    /// Joins two treaps, every key of `left` below every key of `right`.
    fn join(left: &Link, right: &Link) -> Link {
        match (left, right) {
            (None, r) => r.clone(),
            (l, None) => l.clone(),
            (Some(a), Some(b)) => {
                if a.priority > b.priority {
                    Some(with_children(a, a.left.clone(), join(&a.right, right)))
                } else {
                    Some(with_children(b, join(left, &b.left), b.right.clone()))
                }
            }
        }
    }

    fn insert(link: &Link, key: &[u8], value: Hash32, priority: Hash32) -> Arc<Node> {
        match link {
            Some(n) if n.priority > priority => match key.cmp(&n.key) {
                Ordering::Less => with_children(n, Some(insert(&n.left, key, value, priority)), n.right.clone()),
                Ordering::Greater => with_children(n, n.left.clone(), Some(insert(&n.right, key, value, priority))),
                Ordering::Equal => make(n.key.clone(), value, n.priority, n.left.clone(), n.right.clone()),
            },
            Some(n) if n.key == key => make(n.key.clone(), value, n.priority, n.left.clone(), n.right.clone()),
            _ => {
                let (l, r) = split(link, key);
                make(key.to_vec(), value, priority, l, r)
            }
        }
    }

    fn remove(link: &Link, key: &[u8]) -> Link {
        let n = link.as_ref()?;
        match key.cmp(&n.key) {
            Ordering::Less => Some(with_children(n, remove(&n.left, key), n.right.clone())),
            Ordering::Greater => Some(with_children(n, n.left.clone(), remove(&n.right, key))),
            Ordering::Equal => join(&n.left, &n.right),
        }
    }

    fn prove(link: &Link, range: &KeyRange, lo: Option<&[u8]>, hi: Option<&[u8]>) -> ProofNode {
        let Some(n) = link else { return ProofNode::Empty };
        if !range.meets(lo, hi) {
            return ProofNode::Hidden(n.hash);
        }
        ProofNode::Shown {
            key: n.key.clone(),
            value: n.value,
            left: Box::new(prove(&n.left, range, lo, Some(&n.key))),
            right: Box::new(prove(&n.right, range, Some(&n.key), hi)),
        }
    }

    fn collect(link: &Link, range: &KeyRange, limit: usize, out: &mut Vec<(Vec<u8>, Hash32)>) {
        let Some(n) = link else { return };
        if out.len() >= limit {
            return;
        }
        let after_from = match &range.from {
            Bound::Included(f) => n.key.as_slice() >= f.as_slice(),
            Bound::Excluded(f) => n.key.as_slice() > f.as_slice(),
            Bound::Unbounded => true,
        };
        if after_from {
            collect(&n.left, range, limit, out);
        }
        if out.len() < limit && range.contains(&n.key) {
            out.push((n.key.clone(), n.value));
        }
        let before_to = match &range.to {
            Bound::Included(t) => n.key.as_slice() < t.as_slice(),
            Bound::Excluded(t) => n.key.as_slice() < t.as_slice(),
            Bound::Unbounded => true,
        };
        if before_to {
            collect(&n.right, range, limit, out);
        }
    }

    /// A table's rows by key, each a row hash: cheap to clone (versions share nodes).
    #[derive(Debug, Clone, Default)]
    pub struct OrderedMap {
        root: Link,
    }

    /// Two maps are equal when they hold the same rows: when their roots are.
    impl PartialEq for OrderedMap {
        fn eq(&self, other: &Self) -> bool {
            self.root() == other.root()
        }
    }

    impl Eq for OrderedMap {}

    impl OrderedMap {
        pub fn root(&self) -> Hash32 {
            hash_of(&self.root)
        }

        pub fn len(&self) -> usize {
            len_of(&self.root)
        }

        pub fn is_empty(&self) -> bool {
            self.root.is_none()
        }

        /// Sets `key`'s row hash (inserts or replaces).
        pub fn insert(&mut self, key: &[u8], value: Hash32) {
            self.root = Some(insert(&self.root, key, value, priority(key)));
        }

        pub fn remove(&mut self, key: &[u8]) {
            self.root = remove(&self.root, key);
        }

        pub fn get(&self, key: &[u8]) -> Option<Hash32> {
            let mut link = &self.root;
            while let Some(n) = link {
                match key.cmp(&n.key) {
                    Ordering::Less => link = &n.left,
                    Ordering::Greater => link = &n.right,
                    Ordering::Equal => return Some(n.value),
                }
            }
            None
        }

        /// The first `limit` rows of `range`, in key order, with the range they are
        /// complete for (up to the last one when `limit` cut the scan) and its proof.
        pub fn scan(&self, range: &KeyRange, limit: usize) -> (Vec<(Vec<u8>, Hash32)>, KeyRange, RangeProof) {
            let mut rows = Vec::new();
            collect(&self.root, range, limit, &mut rows);
            let proven = match rows.last() {
                Some((last, _)) if rows.len() == limit => {
                    KeyRange { from: range.from.clone(), to: Bound::Included(last.clone()) }
                }
                _ => range.clone(),
            };
            let proof = RangeProof { root: prove(&self.root, &proven, None, None) };
            (rows, proven, proof)
        }
    }
}

// proptest is a native dev-dependency only.
#[cfg(all(test, feature = "tree", not(target_arch = "wasm32")))]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn row(k: u16) -> (Vec<u8>, Hash32) {
        (k.to_be_bytes().to_vec(), hash(Domain::TableNode, &k.to_le_bytes()))
    }

    fn map(keys: &[u16]) -> OrderedMap {
        let mut m = OrderedMap::default();
        for &k in keys {
            let (key, value) = row(k);
            m.insert(&key, value);
        }
        m
    }

    fn range(a: u16, b: u16) -> KeyRange {
        KeyRange { from: Bound::Included(a.to_be_bytes().to_vec()), to: Bound::Excluded(b.to_be_bytes().to_vec()) }
    }

    #[test]
    fn the_root_depends_on_the_rows_only_and_a_removed_row_is_gone() {
        let a = map(&[5, 1, 9, 3, 7]);
        let b = map(&[9, 7, 5, 3, 1]);
        assert_eq!(a.root(), b.root(), "same rows, same root, whatever the order");
        let mut c = map(&[5, 1, 9, 3, 7, 4]);
        assert_ne!(c.root(), a.root());
        c.remove(&4u16.to_be_bytes());
        assert_eq!(c.root(), a.root());
        assert_eq!(OrderedMap::default().root(), EMPTY_ROOT);
        assert_eq!(a.get(&9u16.to_be_bytes()), Some(row(9).1));
        assert_eq!(a.get(&8u16.to_be_bytes()), None);
    }

    #[test]
    fn a_full_page_is_complete_up_to_its_last_row() {
        let m = map(&(0..100).map(|k| k * 2).collect::<Vec<_>>());
        let (rows, proven, proof) = m.scan(&range(10, 100), 5);
        assert_eq!(rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(), [10u16, 12, 14, 16, 18].map(|k| row(k).0));
        assert_eq!(proven.to, Bound::Included(row(18).0));
        proof.verify(&m.root(), &proven, &rows).unwrap();
        // The same proof does not pass for the whole asked range: rows past the page hide.
        assert_eq!(proof.verify(&m.root(), &range(10, 100), &rows), Err(RangeError::Hidden));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn a_scan_verifies_and_every_omission_insertion_or_reorder_is_refused(
            keys in proptest::collection::btree_set(0u16..500, 0..120),
            a in 0u16..520,
            span in 0u16..200,
            limit in 1usize..40,
            pick in any::<prop::sample::Index>(),
        ) {
            let keys: Vec<u16> = keys.into_iter().collect();
            let m = map(&keys);
            let asked = range(a, a.saturating_add(span));
            let (rows, proven, proof) = m.scan(&asked, limit);
            let expected: Vec<_> = keys.iter().copied().filter(|k| *k >= a && *k < a.saturating_add(span)).take(limit).map(row).collect();
            prop_assert_eq!(&rows, &expected);
            prop_assert_eq!(proof.verify(&m.root(), &proven, &rows), Ok(()));
            if !rows.is_empty() {
                let i = pick.index(rows.len());
                let mut fewer = rows.clone();
                fewer.remove(i);
                prop_assert!(proof.verify(&m.root(), &proven, &fewer).is_err(), "a row left out");
                let mut changed = rows.clone();
                changed[i].1 = hash(Domain::TableNode, b"another row");
                prop_assert!(proof.verify(&m.root(), &proven, &changed).is_err(), "a row changed");
            }
            if rows.len() >= 2 {
                let mut swapped = rows.clone();
                swapped.swap(0, 1);
                prop_assert!(proof.verify(&m.root(), &proven, &swapped).is_err(), "rows reordered");
            }
            // A row that is not in the table, added to the answer: refused.
            let absent = (0u16..520).find(|k| proven.contains(&k.to_be_bytes()) && !keys.contains(k));
            if let Some(k) = absent {
                let mut more = rows.clone();
                more.push(row(k));
                more.sort();
                prop_assert!(proof.verify(&m.root(), &proven, &more).is_err(), "a row added");
            }
            // The prover leaving a row of the range out of the proof (hiding a subtree that
            // holds it): refused.
            if let ProofNode::Shown { left, right, .. } = &proof.root {
                for child in [left, right] {
                    if let ProofNode::Shown { .. } = child.as_ref() {
                        let mut hidden = proof.clone();
                        if let ProofNode::Shown { left: hl, right: hr, .. } = &mut hidden.root {
                            let target = if std::ptr::eq(child.as_ref(), left.as_ref()) { hl } else { hr };
                            let h = walk_hash(target);
                            **target = ProofNode::Hidden(h);
                        }
                        prop_assert!(hidden.verify(&m.root(), &proven, &rows).is_err(), "a shown subtree hidden");
                    }
                }
            }
        }
    }

    /// The hash of a proof subtree (shown or not), as the tree has it.
    fn walk_hash(node: &ProofNode) -> Hash32 {
        match node {
            ProofNode::Empty => EMPTY_ROOT,
            ProofNode::Hidden(h) => *h,
            ProofNode::Shown { key, value, left, right } => node_hash(key, value, &walk_hash(left), &walk_hash(right)),
        }
    }
}
