//! Certificates issued by five centers (t = 3) run by their own code against a ledger:
//! a request with its claims sealed to each center, the verdicts, the certificate fixed
//! at the third approval and signed by the approvers within two blocks; a center whose
//! policy rejects; requests the threshold never approves; an approver that withholds its
//! share; and the bad input each step refuses with its own error.

mod common;

use common::{applicant, check_root, rngs, until_root, Net, N, NOW_S};
use rand_chacha::ChaCha20Rng;
use vigil_authcenter::Policy;
use vigil_core::consensus::Rejection;
use vigil_protocol::authcenter::issuance::{Claim, CERT_REQUEST_FEE_MIN};
use vigil_protocol::authcenter::{
    CertAccount, CertAction, CertActionVote, CertKind, CertRequestRecord, CertState, CertVerdict, GroupKey,
    IdentityClaims, RequestStatus, SessionOutcome, SigningMessage, SigningPurpose, SigningSession, SigningState,
    Subject, Verdict,
};
use vigil_protocol::x509::Certificate;
use vigil_protocol::{Payload, SecretKey, StateKey};

fn alice() -> Subject {
    Subject { common_name: "alice".into(), organization: Some("Acme".into()) }
}

fn claims() -> IdentityClaims {
    IdentityClaims { claims: vec![Claim { name: "email".into(), value: "alice@acme.example".into() }] }
}

fn ready(policies: Vec<Policy>) -> (Net, Vec<ChaCha20Rng>) {
    let mut net = Net::new().with_policies(policies);
    let mut rngs = rngs();
    until_root(&mut net, &mut rngs, |_, _| false);
    check_root(&net);
    (net, rngs)
}

fn record(net: &Net, id: u64) -> CertRequestRecord {
    net.ledger.state(&StateKey::CertRequest(id)).expect("the request is on chain")
}

fn request(net: &mut Net) {
    let r = net.request(alice(), &claims());
    net.submit(&applicant(), Payload::CertRequest(Box::new(r)), CERT_REQUEST_FEE_MIN).unwrap();
}

/// Blocks until request `id` leaves `Pending`/`Signing` (at most 60): how many.
fn until_decided(net: &mut Net, rngs: &mut [ChaCha20Rng], id: u64, drop: impl Fn(usize, &Payload) -> bool) -> usize {
    for blocks in 1..=60 {
        net.block(rngs, &drop);
        if matches!(record(net, id).status, RequestStatus::Issued { .. } | RequestStatus::Rejected) {
            return blocks;
        }
    }
    panic!("request {id} undecided after 60 blocks: {:?}", record(net, id).status)
}

#[test]
fn approved_by_three_centers_a_certificate_is_issued_within_two_blocks_and_verifies() {
    let (mut net, mut rngs) = ready(vec![Policy::default(); N]);
    request(&mut net);
    net.block(&mut rngs, |_, _| false); // the request
    assert_eq!(record(&net, 0).status, RequestStatus::Pending);
    net.block(&mut rngs, |_, _| false); // every center's verdict
    let approved = record(&net, 0);
    assert!(approved.approvers().len() >= 3, "{:?}", approved.verdicts);
    assert!(matches!(approved.status, RequestStatus::Signing { .. }), "{:?}", approved.status);
    let blocks = until_decided(&mut net, &mut rngs, 0, |_, _| false);
    assert!(blocks <= 2, "issued {blocks} blocks after the third approval");

    let RequestStatus::Issued { serial } = record(&net, 0).status else { panic!() };
    assert!(record(&net, 0).request.sealed_claims.is_empty(), "decided: the sealed claims are dropped");
    let account: CertAccount = net.ledger.state(&StateKey::Certificate(serial)).unwrap();
    assert_eq!(account.kind, CertKind::Valid);
    assert_eq!(account.state_at(NOW_S), CertState::Valid);
    assert_eq!(account.state_at(NOW_S + 366 * 86_400), CertState::Expired);
    assert_eq!(account.record.approvers, vec!["center-0", "center-1", "center-2"]);
    let after = account.record.issued.0 - account.record.approved.0;
    assert!(after <= 2, "issued {after} blocks after its third approval");
    let key: GroupKey = net.ledger.state(&StateKey::GroupKey).unwrap();
    let cert = Certificate::from_der(&account.record.der).unwrap();
    cert.verify(&key.key).unwrap();
    assert_eq!(cert.subject_key, applicant().public_key());
    assert_eq!(cert.serial, serial.as_slice());
    let root_der = net.root().unwrap();
    let root = Certificate::from_der(&root_der).unwrap();
    assert_eq!(cert.issuer, root.subject, "issued by the consortium root");
    let listed: Vec<[u8; 16]> = net.ledger.state(&StateKey::CertificatesOf(applicant().public_key())).unwrap();
    assert_eq!(listed, vec![serial]);
}

#[test]
fn a_rejecting_center_is_recorded_with_its_reason_and_the_others_issue() {
    let strict = Policy { common_names: vec!["bob".into()], ..Policy::default() };
    let (mut net, mut rngs) =
        ready(vec![strict, Policy::default(), Policy::default(), Policy::default(), Policy::default()]);
    request(&mut net);
    until_decided(&mut net, &mut rngs, 0, |_, _| false);
    let r = record(&net, 0);
    assert!(matches!(r.status, RequestStatus::Issued { .. }));
    assert!(
        matches!(&r.verdicts[0], Some(Verdict::Reject(why)) if why.contains("`alice` is not on this center's allow-list"))
    );
    let RequestStatus::Issued { serial } = r.status else { panic!() };
    let account: CertAccount = net.ledger.state(&StateKey::Certificate(serial)).unwrap();
    assert!(!account.record.approvers.iter().any(|n| n == "center-0"), "named: the approvers only");
}

#[test]
fn a_request_that_three_centers_reject_is_never_issued() {
    let strict = Policy { organizations: vec!["Other".into()], ..Policy::default() };
    let (mut net, mut rngs) = ready(vec![strict.clone(), strict.clone(), strict, Policy::default(), Policy::default()]);
    request(&mut net);
    until_decided(&mut net, &mut rngs, 0, |_, _| false);
    let r = record(&net, 0);
    assert_eq!(r.status, RequestStatus::Rejected, "two approvals of five: below the threshold");
    assert_eq!(r.rejections(), 3);
    assert!(net.ledger.state::<Vec<[u8; 16]>>(&StateKey::CertificatesOf(applicant().public_key())).is_none());
}

#[test]
fn an_approver_that_withholds_its_share_does_not_stall_issuance() {
    let (mut net, mut rngs) = ready(vec![Policy::default(); N]);
    request(&mut net);
    let withheld =
        |i: usize, p: &Payload| i == 0 && matches!(p, Payload::Signing(m) if matches!(**m, SigningMessage::Share(_)));
    until_decided(&mut net, &mut rngs, 0, withheld);
    let RequestStatus::Issued { serial } = record(&net, 0).status else { panic!() };
    let account: CertAccount = net.ledger.state(&StateKey::Certificate(serial)).unwrap();
    let key: GroupKey = net.ledger.state(&StateKey::GroupKey).unwrap();
    Certificate::from_der(&account.record.der).unwrap().verify(&key.key).unwrap();
    let state: SigningState = net.ledger.state(&StateKey::Signing).unwrap();
    let signed: Vec<SigningSession> = (0..state.next_id)
        .filter_map(|id| net.ledger.state::<SigningSession>(&StateKey::SigningSession(id)))
        .filter(|s| s.purpose == SigningPurpose::Certificate(0) && matches!(s.outcome, SessionOutcome::Signed(_)))
        .collect();
    assert_eq!(signed.len(), 1);
    assert_eq!(signed[0].withheld, vec![0], "signed in a second session, without the center that withheld");
    assert!(!signed[0].signers.contains(&0));
}

#[test]
fn bad_requests_and_verdicts_are_refused_each_with_its_error_and_change_nothing() {
    let (mut net, mut rngs) = ready(vec![Policy::default(); N]);
    let good = net.request(alice(), &claims());
    let submit = |net: &mut Net, from: &SecretKey, p: Payload| net.submit(from, p, CERT_REQUEST_FEE_MIN);

    let mut no_pop = good.clone();
    no_pop.applicant_key = SecretKey::from_seed([9; 32]).public_key();
    assert_eq!(
        submit(&mut net, &applicant(), Payload::CertRequest(Box::new(no_pop))),
        Err(Rejection::NoProofOfPossession)
    );
    let mut short = good.clone();
    short.sealed_claims.pop();
    let refused = submit(&mut net, &applicant(), Payload::CertRequest(Box::new(short)));
    assert!(matches!(refused, Err(Rejection::InvalidCertRequest(ref why)) if why.contains("sealed")), "{refused:?}");
    // The applicant's signed request, submitted by another account: a replay, refused.
    let other = net.keys[0].clone();
    let replayed = submit(&mut net, &other, Payload::CertRequest(Box::new(good.clone())));
    assert_eq!(replayed, Err(Rejection::NoProofOfPossession));
    let cheap = net.submit(&applicant(), Payload::CertRequest(Box::new(good.clone())), 1);
    assert!(matches!(cheap, Err(Rejection::FeeTooLow { .. })));

    let outsider = SecretKey::from_seed([0x55; 32]);
    let approve = |request| Payload::CertVerdict(CertVerdict { request, verdict: Verdict::Approve });
    assert_eq!(net.submit(&outsider, approve(0), 0), Err(Rejection::NotACenter), "not signed by a center");
    let center = net.keys[1].clone();
    assert!(matches!(net.submit(&center, approve(0), 0), Err(Rejection::InvalidVerdict(_))), "no request 0 yet");

    submit(&mut net, &applicant(), Payload::CertRequest(Box::new(good))).unwrap();
    net.block(&mut rngs, |_, _| true); // the request alone: every center's message held back
    let empty = Payload::CertVerdict(CertVerdict { request: 0, verdict: Verdict::Reject("  ".into()) });
    assert!(matches!(net.submit(&center, empty, 0), Err(Rejection::InvalidVerdict(_))), "a rejection needs a reason");
    net.submit(&center, approve(0), 0).unwrap();
    net.block(&mut rngs, |_, _| true);
    assert_eq!(record(&net, 0).verdicts[1], Some(Verdict::Approve));
    assert_eq!(net.submit(&center, approve(0), 0), Err(Rejection::DuplicateVerdict { center: 1 }));
    let share_elsewhere =
        Payload::Signing(Box::new(SigningMessage::Share(vigil_protocol::authcenter::SignatureShare {
            session: 999,
            share: [1; 32],
        })));
    assert!(matches!(net.submit(&center, share_elsewhere, 0), Err(Rejection::InvalidSigning(_))));
    assert_eq!(record(&net, 0).approvers(), vec![1], "nothing else changed");
}

fn vote(serial: [u8; 16], action: CertAction) -> Payload {
    Payload::CertAction(CertActionVote { serial, action, reason: "key reported stolen".into() })
}

fn kind(net: &Net, serial: [u8; 16]) -> CertKind {
    net.ledger.state::<CertAccount>(&StateKey::Certificate(serial)).unwrap().kind
}

/// Freeze, unfreeze and revoke each take three centers' votes; two change nothing; the
/// type of the certificate's account is its state, and a revoked one stays revoked.
#[test]
fn freezing_unfreezing_and_revoking_each_take_three_centers() {
    let (mut net, mut rngs) = ready(vec![Policy::default(); N]);
    request(&mut net);
    until_decided(&mut net, &mut rngs, 0, |_, _| false);
    let RequestStatus::Issued { serial } = record(&net, 0).status else { panic!() };
    let quiet = |_: usize, _: &Payload| true;
    let keys = net.keys.clone();

    for k in &keys[..2] {
        net.submit(k, vote(serial, CertAction::Freeze), 0).unwrap();
    }
    net.block(&mut rngs, quiet);
    assert_eq!(kind(&net, serial), CertKind::Valid, "two votes of three: a freeze with too few verdicts");
    assert_eq!(
        net.submit(&keys[1], vote(serial, CertAction::Freeze), 0),
        Err(Rejection::DuplicateVerdict { center: 1 })
    );
    let outsider = SecretKey::from_seed([0x55; 32]);
    assert_eq!(net.submit(&outsider, vote(serial, CertAction::Freeze), 0), Err(Rejection::NotACenter));
    assert!(matches!(
        net.submit(&keys[2], vote(serial, CertAction::Unfreeze), 0),
        Err(Rejection::InvalidCertAction(_))
    ));
    let no_reason = Payload::CertAction(CertActionVote { serial, action: CertAction::Freeze, reason: String::new() });
    assert!(matches!(net.submit(&keys[2], no_reason, 0), Err(Rejection::InvalidCertAction(_))));
    net.submit(&keys[4], vote(serial, CertAction::Freeze), 0).unwrap();
    net.block(&mut rngs, quiet);
    let account: CertAccount = net.ledger.state(&StateKey::Certificate(serial)).unwrap();
    assert_eq!(account.kind, CertKind::Frozen);
    assert_eq!(account.state_at(NOW_S), CertState::Frozen);
    assert_eq!(account.changes.last().map(|c| c.voters.clone()), Some(vec![0, 1, 4]));

    for k in &keys[2..5] {
        net.submit(k, vote(serial, CertAction::Unfreeze), 0).unwrap();
    }
    net.block(&mut rngs, quiet);
    assert_eq!(kind(&net, serial), CertKind::Valid, "valid again after unfreezing");

    for k in &keys[..3] {
        net.submit(k, vote(serial, CertAction::Revoke), 0).unwrap();
    }
    net.block(&mut rngs, quiet);
    assert_eq!(kind(&net, serial), CertKind::Revoked);
    for action in [CertAction::Freeze, CertAction::Unfreeze, CertAction::Revoke] {
        assert!(matches!(net.submit(&keys[3], vote(serial, action), 0), Err(Rejection::InvalidCertAction(_))));
    }
    let unknown = vote([0x42; 16], CertAction::Revoke);
    assert!(matches!(net.submit(&keys[0], unknown, 0), Err(Rejection::InvalidCertAction(_))));
}

#[test]
fn a_burst_of_requests_is_issued_in_full_and_the_chain_lists_exactly_the_open_sessions() {
    let (mut net, mut rngs) = ready(vec![Policy::default(); N]);
    const BURST: u64 = 30;
    for i in 0..BURST {
        let subject = Subject { common_name: format!("user-{i}"), organization: None };
        let r = net.request(subject, &claims());
        net.submit(&applicant(), Payload::CertRequest(Box::new(r)), CERT_REQUEST_FEE_MIN).unwrap();
    }
    for _ in 0..30 {
        net.block(&mut rngs, |_, _| false);
        // What the centers look at is every open session, and only those.
        let state: SigningState = net.ledger.state(&StateKey::Signing).unwrap_or_default();
        let open: Vec<u64> = (0..state.next_id)
            .filter(|&id| {
                let session: Option<SigningSession> = net.ledger.state(&StateKey::SigningSession(id));
                session.is_some_and(|s| s.outcome == SessionOutcome::Open)
            })
            .collect();
        assert_eq!(state.open, open);
        if (0..BURST).all(|id| matches!(record(&net, id).status, RequestStatus::Issued { .. })) {
            assert!(state.open.is_empty());
            return;
        }
    }
    let stuck: Vec<u64> =
        (0..BURST).filter(|&id| !matches!(record(&net, id).status, RequestStatus::Issued { .. })).collect();
    panic!("{} of {BURST} requests not issued after 30 blocks: {stuck:?}", stuck.len());
}
