use super::*;
use crate::hash::Hash32;
use crate::testutil::{chain, key_of, quorum_cert, validators};

struct World {
    set: ValidatorSet,
    keys: Vec<SecretKey>,
    parent: BlockHash,
}

fn world() -> World {
    let (set, keys) = validators(4);
    World { set, keys, parent: Hash32([0x99; 32]) }
}

impl World {
    fn id(&self, index: usize) -> NodeId {
        self.set.validators()[index].id
    }
    fn slot(&self, height: u64, view: u64) -> ProposalSlot<'_> {
        ProposalSlot {
            chain_id: chain_ref(),
            height: Height(height),
            view: View(view),
            parent_hash: self.parent,
            set: &self.set,
        }
    }
    fn promise(&self, index: usize, view: u64, acked: Option<(u64, u8)>) -> Promise {
        let id = self.id(index);
        PromiseData {
            chain_id: chain(),
            height: Height(1),
            view: View(view),
            acked: acked.map(|(v, b)| (View(v), block(b))),
        }
        .sign(id, key_of(&self.keys, id))
    }
    /// The leader of `view` signs a proposal of `b` there.
    fn proposal(&self, view: u64, b: u8, justification: Justification) -> Backing {
        let id = leader(&self.set, View(view)).unwrap();
        let leader_ack = leader_ack_data(&chain(), Height(1), View(view), block(b)).sign(id, key_of(&self.keys, id));
        Backing { leader_ack, justification }
    }
}

fn chain_ref() -> &'static ChainId {
    static CHAIN: std::sync::OnceLock<ChainId> = std::sync::OnceLock::new();
    CHAIN.get_or_init(chain)
}

fn block(b: u8) -> BlockHash {
    Hash32([b; 32])
}

fn index_of_leader(w: &World, view: u64) -> usize {
    w.set.index_of(&leader(&w.set, View(view)).unwrap()).unwrap()
}

#[test]
fn genesis_justifies_only_the_first_view_of_the_first_height() {
    let w = world();
    assert_eq!(Justification::Genesis.selection(&w.slot(1, 0), 0), Ok(Selection::Free));
    assert_eq!(Justification::Genesis.selection(&w.slot(1, 1), 0), Err(FastError::NotGenesis));
    assert_eq!(Justification::Genesis.selection(&w.slot(2, 0), 0), Err(FastError::NotGenesis));
}

#[test]
fn the_parent_certificate_justifies_its_own_view_only() {
    let w = world();
    let data = leader_ack_data(&chain(), Height(4), View(3), w.parent);
    let qc = quorum_cert(&w.set, &w.keys, data, 3);
    let j = Justification::Parent(qc.clone());
    assert_eq!(j.selection(&w.slot(5, 3), 0), Ok(Selection::Free));
    assert_eq!(j.selection(&w.slot(5, 4), 0), Err(FastError::ParentMismatch));
    assert_eq!(j.selection(&w.slot(6, 3), 0), Err(FastError::ParentMismatch));
    let few = quorum_cert(&w.set, &w.keys, leader_ack_data(&chain(), Height(4), View(3), w.parent), 2);
    assert!(matches!(Justification::Parent(few).selection(&w.slot(5, 3), 0), Err(FastError::ParentCertificate(_))));
}

#[test]
fn promises_without_claims_leave_the_leader_free_and_need_a_quorum() {
    let w = world();
    let j = |n: usize| Justification::Promises {
        promises: (0..n).map(|i| w.promise(i, 1, None)).collect(),
        backings: vec![],
    };
    assert_eq!(j(3).selection(&w.slot(1, 1), 0), Ok(Selection::Free));
    assert!(matches!(j(2).selection(&w.slot(1, 1), 0), Err(FastError::NoQuorum { .. })));
    let twice = Justification::Promises {
        promises: vec![w.promise(0, 1, None), w.promise(0, 1, None), w.promise(1, 1, None)],
        backings: vec![],
    };
    assert!(matches!(twice.selection(&w.slot(1, 1), 0), Err(FastError::DuplicatePromise(_))));
    // A promise for another view does not count for this one.
    let other = Justification::Promises {
        promises: vec![w.promise(0, 1, None), w.promise(1, 1, None), w.promise(2, 2, None)],
        backings: vec![],
    };
    assert_eq!(other.selection(&w.slot(1, 1), 0), Err(FastError::PromiseForOtherSlot));
}

/// Finding 2 of the soundness review: on 35b51aa a promise was unsigned and its claim
/// trusted, so one Byzantine validator of 4 made the next leader re-propose a block
/// nobody acked while another block was committed. Now a claim needs a backing that
/// holds all the way down, so the lie is refused and the committed block is chosen.
#[test]
fn a_lying_promise_cannot_replace_a_block_that_may_be_committed() {
    let w = world();
    // View 0: its leader proposes block 1 (justified by genesis); a quorum acks it.
    let b0 = w.proposal(0, 1, Justification::Genesis);
    let liar = index_of_leader(&w, 1);
    let honest: Vec<usize> = (0..4).filter(|i| *i != liar).collect();
    // The liar leads view 1: it signs a proposal of block 2 there, "justified" by the
    // promises of view 1 it could collect, which report block 1 at view 0.
    let forged_j1 = Justification::Promises {
        promises: vec![
            w.promise(liar, 1, None),
            w.promise(honest[1], 1, Some((0, 1))),
            w.promise(honest[2], 1, Some((0, 1))),
        ],
        backings: vec![b0.clone()],
    };
    assert_eq!(forged_j1.selection(&w.slot(1, 1), 0), Ok(Selection::Block(block(1))), "view 1 must carry block 1");
    let forged = w.proposal(1, 2, forged_j1);
    // In view 2 the liar claims it acked block 2 at view 1.
    let promises =
        vec![w.promise(liar, 2, Some((1, 2))), w.promise(honest[0], 2, Some((0, 1))), w.promise(honest[1], 2, None)];
    let lie = Justification::Promises { promises: promises.clone(), backings: vec![forged.clone(), b0.clone()] };
    assert_eq!(lie.selection(&w.slot(1, 2), 0), Err(FastError::UnbackedClaim { view: View(1), block: block(2) }));
    // Without any backing for it, the claim is refused the same way.
    let bare = Justification::Promises { promises, backings: vec![b0.clone()] };
    assert!(matches!(bare.selection(&w.slot(1, 2), 0), Err(FastError::UnbackedClaim { .. })));
    // The honest promises alone pick block 1.
    let honest_j = Justification::Promises {
        promises: honest.iter().map(|i| w.promise(*i, 2, if *i == honest[0] { Some((0, 1)) } else { None })).collect(),
        backings: vec![b0.clone()],
    };
    assert_eq!(honest_j.selection(&w.slot(1, 2), 0), Ok(Selection::Block(block(1))));
    assert_eq!(honest_j.check(&w.slot(1, 2), &block(2)), Err(FastError::WrongBlock { expected: block(1) }));
    honest_j.check(&w.slot(1, 2), &block(1)).unwrap();
}

#[test]
fn an_equivocating_leader_is_resolved_only_when_the_promises_tell() {
    let w = world();
    let liar = index_of_leader(&w, 0);
    let others: Vec<usize> = (0..4).filter(|i| *i != liar).collect();
    // The view-0 leader proposes block 1 to two followers and block 2 to the third.
    let (b1, b2) = (w.proposal(0, 1, Justification::Genesis), w.proposal(0, 2, Justification::Genesis));
    let three = Justification::Promises {
        promises: vec![
            w.promise(others[0], 1, Some((0, 1))),
            w.promise(others[2], 1, Some((0, 2))),
            w.promise(liar, 1, Some((0, 2))),
        ],
        backings: vec![b1.clone(), b2.clone()],
    };
    assert_eq!(three.selection(&w.slot(1, 1), 0), Err(FastError::Ambiguous(View(0))));
    let all = Justification::Promises {
        promises: vec![
            w.promise(others[0], 1, Some((0, 1))),
            w.promise(others[1], 1, Some((0, 1))),
            w.promise(others[2], 1, Some((0, 2))),
            w.promise(liar, 1, Some((0, 2))),
        ],
        backings: vec![b1, b2],
    };
    assert_eq!(all.selection(&w.slot(1, 1), 0), Ok(Selection::Block(block(1))));
}

#[test]
fn beyond_the_bound_an_equivocation_the_promises_cannot_resolve_leaves_a_choice() {
    // 7 validators: two Fast quorums of 4 share one validator, so the view-0 leader
    // alone fills the overlap, and its equivocation may leave both blocks committable
    // whatever the promises say (the halt seed 1007475 of the simulator hit).
    let (set, keys) = validators(7);
    let w = World { set, keys, parent: Hash32([0x99; 32]) };
    assert_eq!(w.set.fast_overlap_power(), 1);
    let liar = index_of_leader(&w, 0);
    let o: Vec<usize> = (0..7).filter(|i| *i != liar).collect();
    let (b1, b2) = (w.proposal(0, 1, Justification::Genesis), w.proposal(0, 2, Justification::Genesis));
    // One claims block 1, two block 2, one acked nothing; the leader and two are silent.
    let j = Justification::Promises {
        promises: vec![
            w.promise(o[0], 1, Some((0, 1))),
            w.promise(o[2], 1, Some((0, 2))),
            w.promise(o[3], 1, Some((0, 2))),
            w.promise(o[4], 1, None),
        ],
        backings: vec![b1.clone(), b2.clone()],
    };
    let slot = w.slot(1, 1);
    // The more claimed block first: the one a leader picks.
    assert_eq!(j.selection(&slot, 0), Ok(Selection::OneOf(vec![block(2), block(1)])));
    j.check(&slot, &block(2)).unwrap();
    j.check(&slot, &block(1)).unwrap();
    assert_eq!(j.check(&slot, &block(3)), Err(FastError::NotAPossibleBlock(View(0))));
    // A promise that tells (block 1 can no longer have a quorum) resolves it.
    let mut told = j.clone();
    if let Justification::Promises { promises, .. } = &mut told {
        promises.push(w.promise(o[5], 1, Some((0, 2))));
        promises.push(w.promise(o[1], 1, None));
    }
    assert_eq!(told.selection(&slot, 0), Ok(Selection::Block(block(2))));
    // The pick, re-proposed at view 1, is what view 2 must carry.
    let picked = w.proposal(1, 1, j);
    let next = Justification::Promises {
        promises: (0..4).map(|i| w.promise(o[i], 2, Some((1, 1)))).collect(),
        backings: vec![picked],
    };
    assert_eq!(next.selection(&w.slot(1, 2), 0), Ok(Selection::Block(block(1))));
    // On 4 validators one equivocator never fills the overlap (2): no choice is left,
    // the leader waits for the promises that tell (see the test above).
    assert_eq!(world().set.fast_overlap_power(), 2);
}

#[test]
fn backings_nest_only_so_deep() {
    let w = world();
    let mut j = Justification::Genesis;
    // Block 7 re-proposed in views 1, 2, … each justified by the view before.
    let mut backing = w.proposal(0, 7, j.clone());
    for view in 1..=(JUSTIFICATION_DEPTH_MAX as u64 + 2) {
        let prev = view - 1;
        j = Justification::Promises {
            promises: (0..3).map(|i| w.promise(i, view, Some((prev, 7)))).collect(),
            backings: vec![backing.clone()],
        };
        if view <= 3 {
            assert_eq!(j.selection(&w.slot(1, view), 0), Ok(Selection::Block(block(7))));
        }
        backing = w.proposal(view, 7, j.clone());
    }
    assert!(j.selection(&w.slot(1, JUSTIFICATION_DEPTH_MAX as u64 + 2), 0).is_err());
}

#[test]
fn statements_an_honest_validator_never_signs_together() {
    let w = world();
    let id = w.id(1);
    let key = key_of(&w.keys, id);
    let ack =
        |height: u64, view: u64, b: u8| leader_ack_data(&chain(), Height(height), View(view), block(b)).sign(id, key);
    // An ack at view 3, then a promise for view 5 that hides it (or reports less).
    assert!(ack_and_promise_conflict(&ack(1, 3, 1), &w.promise(1, 5, None)));
    assert!(ack_and_promise_conflict(&ack(1, 3, 1), &w.promise(1, 5, Some((2, 1)))));
    assert!(ack_and_promise_conflict(&ack(1, 3, 1), &w.promise(1, 5, Some((3, 2)))));
    assert!(!ack_and_promise_conflict(&ack(1, 3, 1), &w.promise(1, 5, Some((3, 1)))));
    assert!(!ack_and_promise_conflict(&ack(1, 3, 1), &w.promise(1, 5, Some((4, 2)))));
    // An ack at or above the promised view is not covered by the promise.
    assert!(!ack_and_promise_conflict(&ack(1, 5, 1), &w.promise(1, 5, None)));
    // Promises only accumulate.
    assert!(promises_conflict(&w.promise(1, 4, Some((2, 1))), &w.promise(1, 6, None)));
    assert!(promises_conflict(&w.promise(1, 6, Some((1, 1))), &w.promise(1, 4, Some((2, 1)))));
    assert!(!promises_conflict(&w.promise(1, 4, Some((2, 1))), &w.promise(1, 6, Some((5, 3)))));
    assert!(!promises_conflict(&w.promise(1, 4, None), &w.promise(1, 6, None)));
    // Acks never go back in view when the height moves on.
    assert!(acks_regress(&ack(1, 4, 1), &ack(2, 3, 1)));
    assert!(!acks_regress(&ack(1, 3, 1), &ack(2, 4, 1)));
    assert!(!acks_regress(&ack(1, 3, 1), &ack(1, 4, 2)));
}
