//! A range scan page by page, as a client checks it: the range a page must be complete
//! for follows from what was asked and what came back — never from what the server says
//! — and the next page starts right after the last row.

use std::ops::Bound;

use super::ordered::{KeyRange, RangeError, RangeProof};
use crate::hash::Hash32;

/// Most rows one page may ask for.
pub const SCAN_LIMIT_MAX: usize = 256;

/// A checked page: its rows (key, row hash, in key order) and where the next page starts
/// (`None`: the range is done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub rows: Vec<(Vec<u8>, Hash32)>,
    pub next: Option<Bound<Vec<u8>>>,
}

/// The range a page of at most `limit` rows of `asked` proves complete: up to its last row
/// when it is full, the whole range otherwise.
pub fn proven_range(asked: &KeyRange, limit: usize, rows: &[(Vec<u8>, Hash32)]) -> Result<KeyRange, RangeError> {
    if limit == 0 || limit > SCAN_LIMIT_MAX || rows.len() > limit {
        return Err(RangeError::Rows);
    }
    match rows.last() {
        Some((last, _)) if rows.len() == limit => {
            if !asked.contains(last) {
                return Err(RangeError::Rows);
            }
            Ok(KeyRange { from: asked.from.clone(), to: Bound::Included(last.clone()) })
        }
        _ => Ok(asked.clone()),
    }
}

/// Checks a page of `asked` (at most `limit` rows) against the table's `root`.
pub fn verify_page(
    root: &Hash32,
    asked: &KeyRange,
    limit: usize,
    rows: Vec<(Vec<u8>, Hash32)>,
    proof: &RangeProof,
) -> Result<Page, RangeError> {
    let proven = proven_range(asked, limit, &rows)?;
    proof.verify(root, &proven, &rows)?;
    let next = match rows.last() {
        Some((last, _)) if rows.len() == limit => Some(Bound::Excluded(last.clone())),
        _ => None,
    };
    Ok(Page { rows, next })
}

#[cfg(all(test, feature = "tree"))]
mod tests {
    use super::*;
    use crate::hash::{hash, Domain};
    use crate::tables::ordered::OrderedMap;

    fn key(k: u16) -> Vec<u8> {
        k.to_be_bytes().to_vec()
    }

    #[test]
    fn pages_cover_the_range_once_each_checked_complete_and_a_short_page_ends_it() {
        let mut m = OrderedMap::default();
        for k in (0..50u16).map(|k| k * 3) {
            m.insert(&key(k), hash(Domain::TableNode, &key(k)));
        }
        let to = Bound::Excluded(key(100));
        let mut from = Bound::Included(key(10));
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let asked = KeyRange { from: from.clone(), to: to.clone() };
            let (rows, _, proof) = m.scan(&asked, 7);
            let page = verify_page(&m.root(), &asked, 7, rows, &proof).unwrap();
            seen.extend(page.rows.iter().map(|r| r.0.clone()));
            pages += 1;
            match page.next {
                Some(next) => from = next,
                None => break,
            }
        }
        let expected: Vec<Vec<u8>> = (0..50u16).map(|k| k * 3).filter(|k| (10..100).contains(k)).map(key).collect();
        assert_eq!(seen, expected, "every row once, in order");
        assert_eq!(pages, expected.len().div_ceil(7) + usize::from(expected.len() % 7 == 0));

        // A server that stops a page early (fewer rows than asked, though more exist) is
        // caught: the client then expects the whole range to be proven.
        let asked = KeyRange { from: Bound::Included(key(10)), to: to.clone() };
        let (rows, _, proof) = m.scan(&asked, 7);
        let short: Vec<_> = rows[..6].to_vec();
        assert!(verify_page(&m.root(), &asked, 7, short, &proof).is_err());
        assert_eq!(proven_range(&asked, 0, &[]), Err(RangeError::Rows));
        assert_eq!(proven_range(&asked, SCAN_LIMIT_MAX + 1, &[]), Err(RangeError::Rows));
    }
}
