//! One verifier of a chain's certified headers, for whoever follows that chain from
//! outside: the wallet's light client, and (issue 20) another chain's on-chain client
//! and the relayer. It trusts a root validator set from a first height, follows the
//! chain's certified set changes, and accepts a header only when:
//!
//! - it is for the chain followed;
//! - the set in force at its height certified it — a set retired at a height (jailed
//!   validators among it) certifies nothing above that height, and beyond the last change
//!   followed only the newest set signs;
//! - its mode fits the modes already accepted: modes only go from Fast to Bft, so a Fast
//!   header above a Bft one is a lie.
//!
//! State proven against a header more than a freshness bound below the newest header
//! accepted is refused ([`HeaderVerifier::fresh`]): a node cannot pass off an old state
//! as current while newer headers are known.
//!
//! What may be acted on (a chain crediting a transfer from another) is stricter:
//! [`HeaderVerifier::verify_final`] takes a Fast-mode header only when the follower's
//! setting says so (default: Bft-certified only). Two valid headers at one height that
//! differ prove the followed chain forked: [`HeaderVerifier::freeze`] keeps them as
//! evidence and the verifier accepts nothing more.
//!
//! Pure: no clock, no I/O. Serializable, so a chain can keep one in its state.

use serde::{Deserialize, Serialize};

use crate::block::{follow_set_changes, BlockError, CertifiedHeader, SetChange, SetChangeError};
use crate::hash::Hash32;
use crate::ids::{ChainId, Height};
use crate::validator::{ConsensusMode, ValidatorSet};

/// Why a header (or a set change) is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the header is for chain `{found}`, the client follows `{expected}`")]
    WrongChain { expected: ChainId, found: ChainId },
    #[error("the header was certified by validator set {0}, which the client has not followed to; follow the set changes first")]
    UnknownSet(Hash32),
    #[error("header {height} is signed by set {found}, but the set in force at that height is {expected}")]
    SetNotInForce { height: Height, expected: Hash32, found: Hash32 },
    #[error("header {height} is in {found} mode, but the chain was in {other} mode at height {other_height}: modes only go from Fast to Bft")]
    ModeRegression { height: Height, found: ConsensusMode, other: ConsensusMode, other_height: Height },
    #[error("certified header rejected: {0}")]
    Header(#[from] BlockError),
    #[error("validator-set changes rejected: {0}")]
    SetChanges(#[from] SetChangeError),
    #[error("these validator-set changes contradict the ones already followed")]
    ConflictingSetHistory,
    #[error("the state is from height {height}, more than {max} blocks behind height {newest} already verified; ask another node")]
    Stale { height: Height, newest: Height, max: u64 },
    #[error("header {0} is certified in Fast mode, and this client acts only on Bft-certified headers")]
    FastNotFinal(Height),
    #[error("the client is frozen: two conflicting certified headers at height {0} prove the followed chain forked")]
    Frozen(Height),
    #[error("the two headers do not conflict: they are not at one height, or they are the same block")]
    NotConflicting,
}

/// Two certified headers at one height that differ: the evidence that froze a verifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictingHeaders {
    pub first: CertifiedHeader,
    pub second: CertifiedHeader,
}

/// A followed chain's sets and what its accepted headers fixed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderVerifier {
    chain_id: ChainId,
    /// The set trusted at the start, and the first height it certifies.
    root: ValidatorSet,
    root_from: Height,
    /// Every set followed, oldest first (the root at 0); the last is in force now.
    sets: Vec<ValidatorSet>,
    /// The first height each set of `sets` certifies.
    set_from: Vec<Height>,
    /// The highest Fast header and the lowest Bft header accepted.
    fast_max: Option<Height>,
    bft_min: Option<Height>,
    /// The highest height accepted.
    newest: Height,
    /// Set once the followed chain is proven to have forked: nothing is accepted after.
    frozen: Option<Box<ConflictingHeaders>>,
}

impl HeaderVerifier {
    /// Trusts `root` for the heights from `from` on (none below).
    pub fn new(chain_id: ChainId, root: ValidatorSet, from: Height) -> Self {
        Self {
            chain_id,
            root: root.clone(),
            root_from: from,
            sets: vec![root],
            set_from: vec![from],
            fast_max: None,
            bft_min: None,
            newest: Height(from.0.saturating_sub(1)),
            frozen: None,
        }
    }

    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }

    /// The set trusted at the start.
    pub fn root(&self) -> &ValidatorSet {
        &self.root
    }

    /// The first height the root set certifies.
    pub fn root_from(&self) -> Height {
        self.root_from
    }

    /// The newest set followed.
    pub fn current_set(&self) -> &ValidatorSet {
        self.sets.last().unwrap_or(self.root())
    }

    /// The highest height accepted.
    pub fn newest(&self) -> Height {
        self.newest
    }

    /// The first height the newest set followed certifies: set changes at or above it are
    /// what the verifier has not followed yet.
    pub fn followed_from(&self) -> Height {
        self.set_from.last().copied().unwrap_or(self.root_from)
    }

    /// The followed set that certifies blocks at `height` (`None`: below the root's).
    pub fn set_at(&self, height: Height) -> Option<&ValidatorSet> {
        self.set_from.iter().rposition(|from| *from <= height).and_then(|i| self.sets.get(i))
    }

    /// Follows the chain's set changes (every certified change since genesis, in height
    /// order; those below the root's first height are skipped: they led to the root).
    /// Each must be certified by the set before it, and what was followed before must be
    /// a prefix of what is followed now. A shorter list changes nothing. Returns whether
    /// the set in force moved.
    pub fn follow(&mut self, changes: &[SetChange]) -> Result<bool, HeaderError> {
        let first = self.root_from();
        let changes: Vec<&SetChange> = changes.iter().filter(|c| c.certified.header.height >= first).collect();
        if changes.len() < self.sets.len() - 1 {
            return Ok(false);
        }
        let mut sets = vec![self.root().clone()];
        let mut set_from = vec![first];
        let mut last = None;
        for change in changes {
            let h = change.certified.header.height;
            if last.is_some_and(|l| h <= l) {
                return Err(SetChangeError::OutOfOrder(h).into());
            }
            let before = sets.last().unwrap_or(self.root());
            sets.push(follow_set_changes(before, std::slice::from_ref(change))?);
            set_from.push(h.next());
            last = Some(h);
        }
        if sets[..self.sets.len()] != self.sets[..] {
            return Err(HeaderError::ConflictingSetHistory);
        }
        let moved = sets.len() > self.sets.len();
        self.sets = sets;
        self.set_from = set_from;
        Ok(moved)
    }

    /// Follows the set changes above the last one followed, each certified by the set
    /// in force before it; those at or below it are skipped (an on-chain client is sent
    /// only what it lacks, and keeps the sets, not the changes). Returns whether the set
    /// in force moved. On an error nothing changed.
    pub fn extend(&mut self, changes: &[SetChange]) -> Result<bool, HeaderError> {
        let (mut sets, mut set_from) = (Vec::new(), Vec::new());
        let mut last_from = self.set_from.last().copied().unwrap_or(self.root_from);
        for change in changes {
            let h = change.certified.header.height;
            if change.certified.header.chain_id != self.chain_id {
                let found = change.certified.header.chain_id.clone();
                return Err(HeaderError::WrongChain { expected: self.chain_id.clone(), found });
            }
            if h < last_from {
                continue;
            }
            let before = sets.last().unwrap_or(self.current_set());
            sets.push(follow_set_changes(before, std::slice::from_ref(change))?);
            set_from.push(h.next());
            last_from = h.next();
        }
        let moved = !sets.is_empty();
        self.sets.extend(sets);
        self.set_from.extend(set_from);
        Ok(moved)
    }

    /// A header's mode against those already accepted: Fast below every Bft header.
    pub fn check_mode(&self, height: Height, mode: ConsensusMode) -> Result<(), HeaderError> {
        let conflict = match mode {
            ConsensusMode::Fast => self.bft_min.filter(|b| *b <= height).map(|b| (ConsensusMode::Bft, b)),
            ConsensusMode::Bft => self.fast_max.filter(|f| *f >= height).map(|f| (ConsensusMode::Fast, f)),
        };
        match conflict {
            Some((other, other_height)) => {
                Err(HeaderError::ModeRegression { height, found: mode, other, other_height })
            }
            None => Ok(()),
        }
    }

    /// Checks `ch` (changing nothing): not frozen, the chain, the set in force at its
    /// height, the mode, the certificate. Returns the set that certified it.
    pub fn verify(&self, ch: &CertifiedHeader) -> Result<&ValidatorSet, HeaderError> {
        if let Some(evidence) = &self.frozen {
            return Err(HeaderError::Frozen(evidence.first.header.height));
        }
        self.verify_certified(ch)
    }

    /// [`HeaderVerifier::verify`] for a header to act on: a Fast-mode header only with
    /// `fast_final` (a follower's setting; Bft-certified only by default).
    pub fn verify_final(&self, ch: &CertifiedHeader, fast_final: bool) -> Result<&ValidatorSet, HeaderError> {
        if ch.header.mode == ConsensusMode::Fast && !fast_final {
            return Err(HeaderError::FastNotFinal(ch.header.height));
        }
        self.verify(ch)
    }

    /// Freezes the verifier on two headers at one height that differ, each certified by
    /// the set in force there (their modes are not held to each other: a fork may have
    /// run in either). Once frozen it accepts nothing, and keeps the evidence.
    pub fn freeze(&mut self, first: CertifiedHeader, second: CertifiedHeader) -> Result<(), HeaderError> {
        if first.header.height != second.header.height || first.header.hash() == second.header.hash() {
            return Err(HeaderError::NotConflicting);
        }
        for ch in [&first, &second] {
            let set = self.set_for(ch)?;
            ch.verify(set)?;
        }
        if self.frozen.is_none() {
            self.frozen = Some(Box::new(ConflictingHeaders { first, second }));
        }
        Ok(())
    }

    /// The evidence that froze the verifier, if it is frozen.
    pub fn frozen(&self) -> Option<&ConflictingHeaders> {
        self.frozen.as_deref()
    }

    fn verify_certified(&self, ch: &CertifiedHeader) -> Result<&ValidatorSet, HeaderError> {
        let set = self.set_for(ch)?;
        self.check_mode(ch.header.height, ch.header.mode)?;
        ch.verify(set)?;
        Ok(set)
    }

    /// The set in force at `ch`'s height, if it is the one `ch` names, for this chain.
    fn set_for(&self, ch: &CertifiedHeader) -> Result<&ValidatorSet, HeaderError> {
        let (height, found) = (ch.header.height, ch.header.validator_set_hash);
        if ch.header.chain_id != self.chain_id {
            return Err(HeaderError::WrongChain { expected: self.chain_id.clone(), found: ch.header.chain_id.clone() });
        }
        let set = self.set_at(height).ok_or(HeaderError::UnknownSet(found))?;
        if set.hash() != found {
            let beyond_followed = self.set_from.last().is_some_and(|from| height >= *from);
            return Err(if beyond_followed && !self.sets.iter().any(|s| s.hash() == found) {
                // Possibly a set not followed to yet.
                HeaderError::UnknownSet(found)
            } else {
                HeaderError::SetNotInForce { height, expected: set.hash(), found }
            });
        }
        Ok(set)
    }

    /// Holds later headers to `mode` at `height` without accepting a header there (a
    /// checkpoint's quorum says which mode its next height runs in).
    pub fn mode_at(&mut self, height: Height, mode: ConsensusMode) {
        match mode {
            ConsensusMode::Fast => self.fast_max = self.fast_max.max(Some(height)),
            ConsensusMode::Bft => self.bft_min = Some(self.bft_min.map_or(height, |b| b.min(height))),
        }
    }

    /// Records an accepted header's height and mode (what later headers are held to).
    pub fn record(&mut self, height: Height, mode: ConsensusMode) {
        self.mode_at(height, mode);
        self.newest = self.newest.max(height);
    }

    /// Raises the newest height accepted to at least `height`, accepting no header: a
    /// client opened again carries its predecessor's, so what the newest height decided
    /// (a packet's timeout by source height) is never undone.
    pub fn newest_at_least(&mut self, height: Height) {
        self.newest = self.newest.max(height);
    }

    /// [`HeaderVerifier::verify`], then [`HeaderVerifier::record`].
    pub fn accept(&mut self, ch: &CertifiedHeader) -> Result<(), HeaderError> {
        self.verify(ch)?;
        self.record(ch.header.height, ch.header.mode);
        Ok(())
    }

    /// Whether state proven at `height` is within `max` blocks of the newest header
    /// accepted.
    pub fn fresh(&self, height: Height, max: u64) -> Result<(), HeaderError> {
        if height.0.saturating_add(max) < self.newest.0 {
            return Err(HeaderError::Stale { height, newest: self.newest, max });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::BlockHeader;
    use crate::hash::Hash32;
    use crate::testutil::{certified_header, certify, chain, validators};
    use crate::validator::ConsensusMode::{Bft, Fast};

    /// A header at `height` certified by `signers` of `set`, naming `next` as the set after it.
    fn at(set: &ValidatorSet, keys: &[crate::SecretKey], height: u64, next: &ValidatorSet) -> CertifiedHeader {
        let mut h: BlockHeader = certified_header(set, keys, Height(height), Fast, 3).header;
        h.next_validator_set_hash = next.hash();
        certify(set, keys, h, 3)
    }

    /// The retired-set attack: the validators of a set that was replaced (some jailed
    /// since) keep their keys and certify a header far above their last height. Only the
    /// set in force at a height counts, so it is refused; and the new set cannot certify
    /// heights before it took over.
    #[test]
    fn a_retired_set_certifies_nothing_above_its_last_height() {
        let (set, keys) = validators(4);
        let smaller = set.without(&set.validators()[3].id).unwrap();
        let mut v = HeaderVerifier::new(chain(), set.clone(), Height(1));
        let change = SetChange { certified: at(&set, &keys, 4, &smaller), next: smaller.clone() };
        assert_eq!(v.follow(std::slice::from_ref(&change)), Ok(true));
        assert_eq!(v.follow(std::slice::from_ref(&change)), Ok(false), "the same changes again: nothing moves");
        v.accept(&certified_header(&set, &keys, Height(3), Fast, 3)).unwrap();
        let late = certified_header(&set, &keys, Height(1_000_000), Fast, 4);
        assert!(matches!(v.accept(&late), Err(HeaderError::SetNotInForce { height: Height(1_000_000), .. })));
        let early = certified_header(&smaller, &keys, Height(2), Fast, 3);
        assert!(matches!(v.accept(&early), Err(HeaderError::SetNotInForce { .. })));
        v.accept(&certified_header(&smaller, &keys, Height(9), Fast, 3)).unwrap();
        // A set never followed to is unknown, not trusted.
        let (stranger, stranger_keys) = validators(5);
        let unknown = certified_header(&stranger, &stranger_keys, Height(10), Fast, 4);
        assert!(matches!(v.accept(&unknown), Err(HeaderError::UnknownSet(_))));
        // A history that rewrites what was followed is refused, and changes nothing.
        let other = set.without(&set.validators()[2].id).unwrap();
        let rewrite = SetChange { certified: at(&set, &keys, 4, &other), next: other };
        assert_eq!(v.follow(&[rewrite]), Err(HeaderError::ConflictingSetHistory));
        assert_eq!(v.current_set(), &smaller);
    }

    /// An on-chain client is sent only the changes it lacks: those followed are skipped,
    /// one not certified by the set in force is refused and changes nothing.
    #[test]
    fn extend_follows_only_the_changes_above_the_last_followed() {
        let (set, keys) = validators(4);
        let smaller = set.without(&set.validators()[3].id).unwrap();
        let smallest = smaller.without(&smaller.validators()[2].id).unwrap();
        let first = SetChange { certified: at(&set, &keys, 4, &smaller), next: smaller.clone() };
        let second = SetChange { certified: at(&smaller, &keys, 9, &smallest), next: smallest.clone() };
        let mut v = HeaderVerifier::new(chain(), set.clone(), Height(1));
        assert_eq!(v.extend(std::slice::from_ref(&first)), Ok(true));
        assert_eq!(v.extend(std::slice::from_ref(&first)), Ok(false), "followed already: skipped");
        let forged = SetChange { certified: at(&set, &keys, 9, &smallest), next: smallest.clone() };
        assert!(v.extend(&[forged]).is_err(), "the retired set cannot change the set");
        assert_eq!(v.current_set(), &smaller);
        assert_eq!(v.extend(&[first, second]), Ok(true));
        assert_eq!(v.set_at(Height(10)), Some(&smallest));
        assert_eq!(v.set_at(Height(9)), Some(&smaller));
    }

    /// The stale-state attack: a node answers with state proven against an old header
    /// (an old balance, an old packet commitment) while newer headers are known.
    #[test]
    fn state_more_than_the_bound_below_the_newest_header_is_stale() {
        let (set, keys) = validators(4);
        let mut v = HeaderVerifier::new(chain(), set.clone(), Height(1));
        v.accept(&certified_header(&set, &keys, Height(500), Fast, 3)).unwrap();
        assert_eq!(v.newest(), Height(500));
        assert_eq!(v.fresh(Height(380), 120), Ok(()));
        assert_eq!(
            v.fresh(Height(379), 120),
            Err(HeaderError::Stale { height: Height(379), newest: Height(500), max: 120 })
        );
    }

    #[test]
    fn modes_only_go_from_fast_to_bft_and_other_chains_and_forgeries_are_refused() {
        let (set, keys) = validators(4);
        let mut v = HeaderVerifier::new(chain(), set.clone(), Height(1));
        v.accept(&certified_header(&set, &keys, Height(10), Bft, 3)).unwrap();
        let fast_above = certified_header(&set, &keys, Height(12), Fast, 3);
        assert!(matches!(v.accept(&fast_above), Err(HeaderError::ModeRegression { .. })));
        v.accept(&certified_header(&set, &keys, Height(8), Fast, 3)).unwrap();
        let bft_between = certified_header(&set, &keys, Height(9), Bft, 3);
        assert!(v.verify(&bft_between).is_ok(), "Bft above every Fast header");
        let bft_under_fast = certified_header(&set, &keys, Height(7), Bft, 3);
        assert!(matches!(v.verify(&bft_under_fast), Err(HeaderError::ModeRegression { .. })));
        let below_quorum = certified_header(&set, &keys, Height(11), Bft, 2);
        assert!(matches!(v.accept(&below_quorum), Err(HeaderError::Header(_))));
        let mut elsewhere = certified_header(&set, &keys, Height(11), Bft, 3);
        elsewhere.header.chain_id = ChainId::new("other").unwrap();
        assert!(matches!(v.accept(&elsewhere), Err(HeaderError::WrongChain { .. })));
    }

    /// A follower acts on Bft-certified headers only unless its setting takes Fast ones.
    #[test]
    fn a_fast_header_is_final_only_where_the_follower_says_so() {
        let (set, keys) = validators(4);
        let v = HeaderVerifier::new(chain(), set.clone(), Height(1));
        let fast = certified_header(&set, &keys, Height(5), Fast, 3);
        assert_eq!(v.verify_final(&fast, false), Err(HeaderError::FastNotFinal(Height(5))));
        assert!(v.verify_final(&fast, true).is_ok());
        assert!(v.verify_final(&certified_header(&set, &keys, Height(5), Bft, 3), false).is_ok());
    }

    /// Two certified headers at one height that differ freeze the verifier, which keeps
    /// them; headers that do not conflict, or one that is not certified, freeze nothing.
    #[test]
    fn conflicting_certified_headers_freeze_the_verifier_with_their_evidence() {
        let (set, keys) = validators(4);
        let mut v = HeaderVerifier::new(chain(), set.clone(), Height(1));
        let one = certified_header(&set, &keys, Height(7), Fast, 3);
        let mut other_header = one.header.clone();
        other_header.state_root = Hash32([9; 32]);
        let other = certify(&set, &keys, other_header.clone(), 3);
        assert_eq!(v.freeze(one.clone(), one.clone()), Err(HeaderError::NotConflicting));
        let next = certified_header(&set, &keys, Height(8), Fast, 3);
        assert_eq!(v.freeze(one.clone(), next.clone()), Err(HeaderError::NotConflicting));
        let forged = certify(&set, &keys, other_header, 2);
        assert!(matches!(v.freeze(one.clone(), forged), Err(HeaderError::Header(_))));
        assert_eq!(v.frozen(), None, "nothing proven, nothing frozen");
        v.accept(&next).unwrap();
        v.freeze(one.clone(), other.clone()).unwrap();
        assert_eq!(v.frozen(), Some(&ConflictingHeaders { first: one, second: other }));
        assert_eq!(v.verify(&next), Err(HeaderError::Frozen(Height(7))));
        let back: HeaderVerifier = crate::encoding::from_bytes(&crate::encoding::to_bytes(&v)).unwrap();
        assert_eq!(back.frozen(), v.frozen(), "the evidence is kept in the state");
    }

    /// A chain keeps its client of another chain in its state: the encoding round-trips.
    #[test]
    fn a_verifier_round_trips_through_its_encoding() {
        let (set, keys) = validators(4);
        let mut v = HeaderVerifier::new(chain(), set.clone(), Height(1));
        v.accept(&certified_header(&set, &keys, Height(10), Bft, 3)).unwrap();
        let back: HeaderVerifier = crate::encoding::from_bytes(&crate::encoding::to_bytes(&v)).unwrap();
        assert_eq!(back, v);
    }
}
