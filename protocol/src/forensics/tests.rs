//! Forks beyond Fast mode's bound, built from real signed statements: the search names
//! exactly the validators that signed both sides' conflicting statements.

use super::*;
use crate::crypto::SecretKey;
use crate::fast::{leader, leader_ack_data, Backing, PromiseData};
use crate::hash::{BlockHash, Hash32};
use crate::ids::{Height, View};
use crate::testutil::{chain, key_of, validators};
use crate::vote::{QuorumCert, VoteData, VoteKind};

/// Four validators; with two Byzantine ones (beyond the bound of one) Fast mode can fork.
struct World {
    set: ValidatorSet,
    keys: Vec<SecretKey>,
}

fn world() -> World {
    let (set, keys) = validators(4);
    World { set, keys }
}

fn block(b: u8) -> BlockHash {
    Hash32([b; 32])
}

impl World {
    fn id(&self, i: usize) -> NodeId {
        self.set.validators()[i].id
    }
    fn index_of_leader(&self, view: u64) -> usize {
        self.set.index_of(&leader(&self.set, View(view)).unwrap()).unwrap()
    }
    /// Acks of `b` at (height, view) signed by the validators at `signers`, as a certificate.
    fn cert(&self, height: u64, view: u64, b: BlockHash, signers: &[usize]) -> QuorumCert {
        let data = leader_ack_data(&chain(), Height(height), View(view), b);
        let votes: Vec<Vote> =
            signers.iter().map(|i| data.sign(self.id(*i), key_of(&self.keys, self.id(*i)))).collect();
        QuorumCert::from_votes(data, &votes, &self.set).unwrap()
    }
    fn promise(&self, i: usize, view: u64, acked: Option<(u64, BlockHash)>) -> crate::fast::Promise {
        let data = PromiseData {
            chain_id: chain(),
            height: Height(1),
            view: View(view),
            acked: acked.map(|(v, b)| (View(v), b)),
        };
        data.sign(self.id(i), key_of(&self.keys, self.id(i)))
    }
    fn leader_backing(&self, view: u64, b: BlockHash, justification: Justification) -> Backing {
        let id = leader(&self.set, View(view)).unwrap();
        let leader_ack = leader_ack_data(&chain(), Height(1), View(view), b).sign(id, key_of(&self.keys, id));
        Backing { leader_ack, justification }
    }
    fn accused(&self, a: CertifiedProposal<'_>, b: CertifiedProposal<'_>) -> Vec<usize> {
        let found = fork_evidence(&chain(), &self.set, a, b);
        for e in &found {
            assert_eq!(e.verify(&chain(), &self.set), Ok(e.accused()), "what the search returns is valid evidence");
        }
        found.iter().map(|e| self.set.index_of(&e.accused()).unwrap()).collect()
    }
}

fn proposal<'a>(cert: &'a QuorumCert, justification: Option<&'a Justification>) -> CertifiedProposal<'a> {
    CertifiedProposal { cert, justification }
}

/// Two blocks certified at one view: the validators in both certificates acked twice.
#[test]
fn a_fork_at_one_view_accuses_the_validators_in_both_certificates() {
    let w = world();
    let left = w.cert(1, 0, block(1), &[0, 1, 2]);
    let right = w.cert(1, 0, block(2), &[1, 2, 3]);
    let mut accused = w.accused(proposal(&left, None), proposal(&right, None));
    accused.sort();
    assert_eq!(accused, vec![1, 2]);
}

/// Finding 2 beyond the bound: block 1 is certified at view 0; two Byzantine validators
/// that acked it promise view 1 claiming nothing, which frees the next leader to propose
/// block 2, and it is certified too. Both liars are named, by their ack and their promise;
/// the honest validator that acked block 2 (its promise was true) is not.
#[test]
fn promises_that_hide_an_ack_are_found_in_the_other_blocks_justification() {
    let w = world();
    let leader1 = w.index_of_leader(1);
    let others: Vec<usize> = (0..4).filter(|i| *i != leader1).collect();
    let (liar, honest_acker, honest_other) = (others[0], others[1], others[2]);
    // Block 1 at view 0: acked by the honest validator, the two liars.
    let low = w.cert(1, 0, block(1), &sorted(&[honest_other, leader1, liar]));
    // View 1: the liars and an honest validator that acked nothing promise it.
    let free = Justification::Promises {
        promises: vec![w.promise(leader1, 1, None), w.promise(liar, 1, None), w.promise(honest_acker, 1, None)],
        backings: vec![],
    };
    let high = w.cert(1, 1, block(2), &sorted(&[leader1, liar, honest_acker]));
    let mut accused = w.accused(proposal(&low, None), proposal(&high, Some(&free)));
    accused.sort();
    assert_eq!(accused, sorted(&[leader1, liar]));
    // Whichever side a node holds, the search finds the same validators.
    let mut swapped = w.accused(proposal(&high, Some(&free)), proposal(&low, None));
    swapped.sort();
    assert_eq!(swapped, accused);
}

/// The higher block's leader was still active from the previous height (its parent's
/// certificate at the higher view); the validators in that certificate and in the lower
/// block's went back in view across heights.
#[test]
fn a_parent_certificate_at_a_higher_view_accuses_validators_whose_view_went_back() {
    let w = world();
    let parent = block(9);
    let low = w.cert(2, 0, block(1), &[0, 1, 2]);
    let parent_at_1 = w.cert(1, 1, parent, &[1, 2, 3]);
    let justification = Justification::Parent(parent_at_1);
    let high = w.cert(2, 1, block(2), &[1, 2, 3]);
    let mut accused = w.accused(proposal(&low, None), proposal(&high, Some(&justification)));
    accused.sort();
    assert_eq!(accused, vec![1, 2]);
}

/// The lie sits one level down: the higher block re-proposes a block claimed at a view
/// between the two, whose own justification holds the promises that hid the first ack.
#[test]
fn the_search_follows_backings_down_to_the_lie() {
    let w = world();
    let (l1, l2) = (w.index_of_leader(1), w.index_of_leader(2));
    let liars = sorted(&[l1, l2]);
    let honest: Vec<usize> = (0..4).filter(|i| !liars.contains(i)).collect();
    let low = w.cert(1, 0, block(1), &sorted(&[honest[0], l1, l2]));
    // View 1: the liars and the other honest validator promise, hiding the view-0 acks.
    let p1 = Justification::Promises {
        promises: vec![w.promise(l1, 1, None), w.promise(l2, 1, None), w.promise(honest[1], 1, None)],
        backings: vec![],
    };
    let b3 = w.leader_backing(1, block(3), p1);
    // View 2: everyone who promised claims block 3 at view 1 (true for honest[1], who acked it).
    let p2 = Justification::Promises {
        promises: vec![
            w.promise(l1, 2, Some((1, block(3)))),
            w.promise(l2, 2, Some((1, block(3)))),
            w.promise(honest[1], 2, Some((1, block(3)))),
        ],
        backings: vec![b3],
    };
    let high = w.cert(1, 2, block(3), &sorted(&[l1, l2, honest[1]]));
    let slot = crate::fast::ProposalSlot {
        chain_id: &chain(),
        height: Height(1),
        view: View(2),
        parent_hash: block(0),
        set: &w.set,
    };
    assert_eq!(p2.check(&slot, &block(3)), Ok(()), "the scenario's justification is one honest nodes accept");
    let mut accused = w.accused(proposal(&low, None), proposal(&high, Some(&p2)));
    accused.sort();
    assert_eq!(accused, liars);
}

/// Nothing is found where nothing is wrong, and a statement whose signature does not
/// hold (put in a justification by whoever sent it) accuses nobody.
#[test]
fn no_evidence_without_a_conflict_and_never_from_a_forged_statement() {
    let w = world();
    let c = w.cert(1, 0, block(1), &[0, 1, 2]);
    assert!(fork_evidence(&chain(), &w.set, proposal(&c, None), proposal(&c, None)).is_empty(), "one block is no fork");
    let next = w.cert(2, 0, block(2), &[0, 1, 2]);
    assert!(fork_evidence(&chain(), &w.set, proposal(&c, None), proposal(&next, None)).is_empty(), "two heights");
    // Validator 3 never acked block 1, so its promise that hides nothing is honest;
    // the same promise passed off as validator 0's (which did ack block 1) carries 3's
    // signature, so it is no statement of 0's.
    let high = w.cert(1, 1, block(2), &[1, 2, 3]);
    let mut forged = w.promise(3, 1, None);
    forged.voter = w.id(0);
    let j = Justification::Promises { promises: vec![forged, w.promise(3, 1, None)], backings: vec![] };
    let accused = w.accused(proposal(&c, None), proposal(&high, Some(&j)));
    assert!(!accused.contains(&0) && !accused.contains(&3), "{accused:?}");
}

fn sorted(v: &[usize]) -> Vec<usize> {
    let mut v = v.to_vec();
    v.sort();
    v
}

#[test]
fn certificate_votes_are_the_signed_votes() {
    let w = world();
    let c = w.cert(1, 0, block(1), &[0, 2, 3]);
    let votes = certificate_votes(&c, &w.set);
    assert_eq!(votes.len(), 3);
    for v in &votes {
        assert_eq!(
            v.data,
            VoteData { chain_id: chain(), height: Height(1), view: View(0), block_hash: block(1), kind: VoteKind::Ack }
        );
        v.verify(&w.set).unwrap();
    }
}
