//! A change of the center set that keeps the group key, run by the centers' own code
//! against a ledger: five centers (t = 3) vote to replace center 4 by a sixth; the old
//! set's shares are dealt again to the new set under the same key; a certificate issued
//! before still verifies against the same root, and the new set issues the next one.
//! Then a dealer that sends a member a bad share (caught by the member's complaint), a
//! dealer that never deals (timed out), and each bad input refused.

mod common;

use common::{applicant, check_root, claims_key, rngs, until_root, Net, N};
use rand_chacha::ChaCha20Rng;
use vigil_authcenter::Policy;
use vigil_core::consensus::Rejection;
use vigil_protocol::authcenter::change::{AttemptFailure, CenterChange, ChangeOutcome, CHANGE_ATTEMPT_HEIGHTS};
use vigil_protocol::authcenter::issuance::{Claim, CERT_REQUEST_FEE_MIN};
use vigil_protocol::authcenter::{
    AuthCenterInfo, AuthCenterSet, CenterChangeMessage, CenterSetVote, CertAccount, CertRequestRecord, GroupKey,
    IdentityClaims, RequestStatus, ReshareConfirm, ReshareTimeout, SessionOutcome, SigningMessage, SigningPurpose,
    SigningSession, SigningState, Subject,
};
use vigil_protocol::x509::Certificate;
use vigil_protocol::{Payload, PublicKey, StateKey};

const NEW: usize = N; // the sixth key's index in the test's keys

fn ready() -> (Net, Vec<ChaCha20Rng>) {
    let mut net = Net::new().with_policies(vec![Policy::default(); N + 1]);
    let mut rngs = rngs();
    until_root(&mut net, &mut rngs, |_, _| false);
    check_root(&net);
    (net, rngs)
}

fn set(net: &Net) -> AuthCenterSet {
    net.ledger.state(&StateKey::AuthCenters).unwrap()
}

fn key(net: &Net) -> GroupKey {
    net.ledger.state(&StateKey::GroupKey).unwrap()
}

fn change(net: &Net) -> Option<CenterChange> {
    net.ledger.state(&StateKey::CenterChange)
}

/// The set in force with center 4 replaced by the sixth key.
fn replace_last(net: &Net) -> AuthCenterSet {
    let mut proposed = set(net);
    proposed.centers[4] = AuthCenterInfo {
        name: "center-new".into(),
        identity_key: net.keys[NEW].public_key(),
        encryption_key: claims_key(NEW).public_key(),
    };
    proposed
}

fn vote(net: &Net, proposed: &AuthCenterSet) -> Payload {
    let current = set(net).hash();
    Payload::CenterChange(Box::new(CenterChangeMessage::Vote(CenterSetVote { current, proposed: proposed.clone() })))
}

fn refused(result: Result<(), Rejection>) -> String {
    match result {
        Err(Rejection::InvalidCenterChange(why)) => why,
        other => panic!("expected INVALID_CENTER_CHANGE, got {other:?}"),
    }
}

/// Centers 0, 1, 2 vote for `proposed`; the change opens with the third vote.
fn open_change(net: &mut Net, rngs: &mut [ChaCha20Rng], proposed: &AuthCenterSet) {
    for i in 0..2 {
        let (k, v) = (net.keys[i].clone(), vote(net, proposed));
        net.submit(&k, v, 0).unwrap();
    }
    net.block(rngs, |_, _| false);
    assert!(change(net).is_none(), "two votes of three open nothing");
    let (k, v) = (net.keys[0].clone(), vote(net, proposed));
    assert!(refused(net.submit(&k, v, 0)).contains("voted for this proposal already"));
    let (k, v) = (net.keys[2].clone(), vote(net, proposed));
    net.submit(&k, v, 0).unwrap();
    net.block(rngs, |_, _| false);
    let opened = change(net).expect("the third vote opens the change");
    assert_eq!(opened.outcome, ChangeOutcome::Open);
    assert_eq!(opened.dealers, vec![0, 1, 2]);
    // The new center starts once a change names it.
    net.centers.push(net.open(NEW));
}

/// Blocks until the change ends (at most `max`): how many.
fn until_done(
    net: &mut Net,
    rngs: &mut [ChaCha20Rng],
    max: usize,
    edit: impl Fn(usize, Payload) -> Option<Payload>,
) -> usize {
    for blocks in 1..=max {
        net.block_edited(rngs, &edit);
        if change(net).is_some_and(|c| c.outcome != ChangeOutcome::Open) {
            return blocks;
        }
    }
    panic!("the change is still open after {max} blocks: {:?}", change(net));
}

fn request(net: &mut Net, name: &str) {
    let subject = Subject { common_name: name.into(), organization: None };
    let claims = IdentityClaims { claims: vec![Claim { name: "email".into(), value: format!("{name}@acme.example") }] };
    let r = net.request(subject, &claims);
    net.submit(&applicant(), Payload::CertRequest(Box::new(r)), CERT_REQUEST_FEE_MIN).unwrap();
}

/// Request `id` issued within 12 blocks: its certificate's account.
fn issued(net: &mut Net, rngs: &mut [ChaCha20Rng], id: u64) -> CertAccount {
    for _ in 0..12 {
        net.block(rngs, |_, _| false);
        let record: CertRequestRecord = net.ledger.state(&StateKey::CertRequest(id)).unwrap();
        if let RequestStatus::Issued { serial } = record.status {
            return net.ledger.state(&StateKey::Certificate(serial)).unwrap();
        }
    }
    panic!("request {id} not issued");
}

fn verifies(der: &[u8], key: &PublicKey) -> bool {
    Certificate::from_der(der).and_then(|c| c.verify(key).map(|()| c)).is_ok()
}

#[test]
fn a_replaced_center_keeps_the_group_key_and_the_root_and_the_new_set_issues() {
    let (mut net, mut rngs) = ready();
    request(&mut net, "before");
    let before = issued(&mut net, &mut rngs, 0);
    let (key_before, root_before) = (key(&net), net.root().unwrap());
    let proposed = replace_last(&net);
    open_change(&mut net, &mut rngs, &proposed);
    // A request decided while the shares change: approved, its session opened under the
    // old shares and restarted under the new ones if the switch came first.
    request(&mut net, "during");
    // The members' ready keys and the request.
    net.block(&mut rngs, |_, _| false);
    // A dealer that crashed mid-change picks up from its secret file.
    net.centers[1] = net.open(1);
    // No signature share leaves while the shares change: the request's session, opened
    // under the old shares, can only finish after a restart under the new ones.
    let no_shares = |_: usize, p: Payload| match &p {
        Payload::Signing(m) if matches!(**m, SigningMessage::Share(_)) => None,
        _ => Some(p),
    };
    let blocks = until_done(&mut net, &mut rngs, 8, no_shares);
    assert!(blocks <= 4, "the change took {blocks} blocks after the ready keys");
    assert!(matches!(change(&net).unwrap().outcome, ChangeOutcome::Done(_)));

    assert_eq!(set(&net), proposed);
    let after = key(&net);
    assert_eq!(after.key, key_before.key, "the group key is kept");
    assert_eq!(after.participants, vec![0, 1, 2, 3, 4]);
    for c in 0..4 {
        assert_ne!(after.verifying_share(c), key_before.verifying_share(c), "center {c}'s share is new");
    }
    assert_eq!(net.root().unwrap(), root_before, "the root certificate is the same");
    assert!(verifies(&before.record.der, &after.key), "a certificate from before still verifies");

    let during = issued(&mut net, &mut rngs, 1);
    assert!(verifies(&during.record.der, &key_before.key), "issued across the change");
    let state: SigningState = net.ledger.state(&StateKey::Signing).unwrap();
    let restarted = (0..state.next_id)
        .filter_map(|id| net.ledger.state::<SigningSession>(&StateKey::SigningSession(id)))
        .any(|s| s.purpose == SigningPurpose::Certificate(1) && matches!(s.outcome, SessionOutcome::Restarted { .. }));
    assert!(restarted, "the session opened under the old shares was restarted");
    // The new set signs: a request approved and issued.
    request(&mut net, "after");
    let next = issued(&mut net, &mut rngs, 2);
    assert!(verifies(&next.record.der, &key_before.key), "issued after the change, under the same root");
    // The removed center takes no part any more.
    let old = net.keys[4].public_key();
    let gone = net.submit(&net.keys[4].clone(), vote(&net, &replace_last(&net)), 0);
    assert!(refused(gone).contains("not an authentication center"), "{old:?}");
}

#[test]
fn a_dealer_that_sends_a_bad_share_is_excluded_by_the_members_complaint_and_the_change_completes() {
    let (mut net, mut rngs) = ready();
    let proposed = replace_last(&net);
    open_change(&mut net, &mut rngs, &proposed);
    // Dealer 0 corrupts the share it seals to member 1 (its commitments are honest).
    let corrupt = |i: usize, p: Payload| match p {
        Payload::CenterChange(m) if i == 0 => match *m {
            CenterChangeMessage::Deal(mut d) if d.attempt == 0 => {
                d.shares[1].ciphertext[0] ^= 1;
                Some(Payload::CenterChange(Box::new(CenterChangeMessage::Deal(d))))
            }
            other => Some(Payload::CenterChange(Box::new(other))),
        },
        other => Some(other),
    };
    for _ in 0..12 {
        net.block_edited(&mut rngs, corrupt);
        if change(&net).is_some_and(|c| c.attempt > 0 || c.outcome != ChangeOutcome::Open) {
            break;
        }
    }
    let c = change(&net).unwrap();
    assert_eq!(c.failures, vec![(0, AttemptFailure::BadShare { dealer: 0, member: 1 })]);
    assert_eq!((c.attempt, c.excluded.clone(), c.dealers.clone()), (1, vec![0], vec![1, 2, 3]));
    until_done(&mut net, &mut rngs, 8, corrupt);
    assert!(matches!(change(&net).unwrap().outcome, ChangeOutcome::Done(_)));
    assert_eq!(set(&net), proposed);
}

#[test]
fn a_silent_dealer_is_timed_out_and_a_new_attempt_completes_without_it() {
    let (mut net, mut rngs) = ready();
    let proposed = replace_last(&net);
    open_change(&mut net, &mut rngs, &proposed);
    let silent = |i: usize, p: Payload| match &p {
        Payload::CenterChange(m) if i == 2 && matches!(**m, CenterChangeMessage::Deal(_)) => None,
        _ => Some(p),
    };
    let timeout = Payload::CenterChange(Box::new(CenterChangeMessage::Timeout(ReshareTimeout {
        change: change(&net).unwrap().id(),
        attempt: 0,
    })));
    net.block_edited(&mut rngs, silent);
    assert!(refused(net.submit(&net.keys[3].clone(), timeout, 0)).contains("may time out from height"));
    for _ in 0..CHANGE_ATTEMPT_HEIGHTS + 2 {
        net.block_edited(&mut rngs, silent);
        if change(&net).unwrap().attempt > 0 {
            break;
        }
    }
    let c = change(&net).unwrap();
    assert_eq!(c.failures, vec![(0, AttemptFailure::Silent { dealers: vec![2] })]);
    assert_eq!(c.dealers, vec![0, 1, 3]);
    until_done(&mut net, &mut rngs, 8, silent);
    assert_eq!(set(&net), proposed);
    assert_eq!(key(&net).key, net.ledger.state::<GroupKey>(&StateKey::GroupKey).unwrap().key);
}

#[test]
fn bad_change_messages_are_refused_and_change_nothing() {
    let (mut net, mut rngs) = ready();
    let current = set(&net);
    // A continuing center may not move.
    let mut moved = replace_last(&net);
    moved.centers.swap(0, 1);
    let (k0, v) = (net.keys[0].clone(), vote(&net, &moved));
    assert!(refused(net.submit(&k0, v, 0)).contains("must keep its place"));
    // Not a center; a vote about another set; the set in force itself; a bad threshold.
    let v = vote(&net, &replace_last(&net));
    assert!(refused(net.submit(&applicant(), v.clone(), 0)).contains("not an authentication center"));
    let stale = Payload::CenterChange(Box::new(CenterChangeMessage::Vote(CenterSetVote {
        current: replace_last(&net).hash(),
        proposed: replace_last(&net),
    })));
    assert!(refused(net.submit(&k0, stale, 0)).contains("another set"));
    assert!(refused(net.submit(&k0, vote(&net, &current), 0)).contains("the set in force"));
    let mut bad_t = replace_last(&net);
    bad_t.threshold = 9;
    assert!(refused(net.submit(&k0, vote(&net, &bad_t), 0)).contains("threshold"));

    let proposed = replace_last(&net);
    open_change(&mut net, &mut rngs, &proposed);
    let id = change(&net).unwrap().id();
    // Out of turn: a confirmation before any deal; a member naming another key; a vote
    // while a change is open.
    let confirm = |group_key| {
        Payload::CenterChange(Box::new(CenterChangeMessage::Confirm(ReshareConfirm {
            change: id,
            attempt: 0,
            group_key,
        })))
    };
    let k = key(&net).key;
    assert!(refused(net.submit(&net.keys[NEW].clone(), confirm(k), 0)).contains("waits for every dealer"));
    let (k3, v) = (net.keys[3].clone(), vote(&net, &proposed));
    assert!(refused(net.submit(&k3, v, 0)).contains("under way"));
    // A dealer whose sharing is not of its own weighted share.
    let shifted = |i: usize, p: Payload| match p {
        Payload::CenterChange(m) if i == 1 => match *m {
            CenterChangeMessage::Deal(mut d) => {
                d.commitment.swap(0, 1);
                Some(Payload::CenterChange(Box::new(CenterChangeMessage::Deal(d))))
            }
            other => Some(Payload::CenterChange(Box::new(other))),
        },
        other => Some(other),
    };
    net.block_edited(&mut rngs, shifted);
    net.block_edited(&mut rngs, shifted);
    assert!(net.ledger.state::<vigil_protocol::authcenter::ReshareDeal>(&StateKey::ReshareDeal(1)).is_none());
    assert!(net.ledger.state::<vigil_protocol::authcenter::ReshareDeal>(&StateKey::ReshareDeal(0)).is_some());
    let other = vigil_protocol::SecretKey::from_seed([0x77; 32]).public_key();
    assert!(refused(net.submit(&net.keys[NEW].clone(), confirm(other), 0)).contains("waits for every dealer"));
    assert_eq!(set(&net), current, "nothing changed");
}

#[test]
fn a_sixth_center_added_and_the_threshold_raised_to_four_keep_the_key_and_issuance_needs_four() {
    let (mut net, mut rngs) = ready();
    let key_before = key(&net);
    let mut proposed = set(&net);
    proposed.centers.push(AuthCenterInfo {
        name: "center-new".into(),
        identity_key: net.keys[NEW].public_key(),
        encryption_key: claims_key(NEW).public_key(),
    });
    proposed.threshold = 4;
    open_change(&mut net, &mut rngs, &proposed);
    until_done(&mut net, &mut rngs, 8, |_, p| Some(p));
    assert!(matches!(change(&net).unwrap().outcome, ChangeOutcome::Done(_)));
    let after = key(&net);
    assert_eq!((after.key, after.threshold), (key_before.key, 4));
    assert_eq!(after.participants, vec![0, 1, 2, 3, 4, 5]);

    // Three approvals no longer fix a certificate; the fourth does, and four sign it.
    request(&mut net, "four");
    let account = issued(&mut net, &mut rngs, 0);
    assert_eq!(account.record.approvers.len(), 4, "{:?}", account.record.approvers);
    assert!(verifies(&account.record.der, &key_before.key));
    let state: SigningState = net.ledger.state(&StateKey::Signing).unwrap();
    let signed = (0..state.next_id)
        .filter_map(|id| net.ledger.state::<SigningSession>(&StateKey::SigningSession(id)))
        .find(|s| s.purpose == SigningPurpose::Certificate(0) && matches!(s.outcome, SessionOutcome::Signed(_)))
        .expect("a session signed it");
    assert_eq!(signed.signers.len(), 4);
}
