//! Threshold signing through the chain: the root certificate, signed by the first t
//! centers with commitments, a bad share named, a withheld share worked around.

use frost_ed25519::keys::KeyPackage;
use frost_ed25519::round1::SigningNonces;
use vigil_protocol::authcenter::signing::SIGNING_TIMEOUT_HEIGHTS;
use vigil_protocol::authcenter::signing::{NONCES_AHEAD_MAX, NONCE_BATCH_MAX};
use vigil_protocol::authcenter::{
    CertAuthority, NonceCommitments, SessionOutcome, SignatureShare, SigningMessage, SigningSession, SigningState,
};
use vigil_protocol::x509;

use super::*;
use crate::capability::authcenter::session::{root_tbs, signing_package};

/// The centers' secret nonces, by center and commitment number.
struct Nonces(BTreeMap<(u16, u64), SigningNonces>);

impl Run {
    /// Center `i` publishes `count` fresh commitments.
    fn commit(&mut self, nonces: &mut Nonces, keys: &[KeyPackage], i: u16, count: u64) -> Result<(), Rejection> {
        let queue: vigil_protocol::authcenter::NonceQueue = self.ledger.state(&StateKey::Nonces(i)).unwrap_or_default();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(u64::from(i) * 1000 + queue.next);
        let mut commitments = Vec::new();
        for k in 0..count {
            let (secret, public) = frost_ed25519::round1::commit(keys[usize::from(i)].signing_share(), &mut rng);
            let point =
                |p: &frost_ed25519::round1::NonceCommitment| -> [u8; 32] { p.serialize().unwrap().try_into().unwrap() };
            commitments.push((point(public.hiding()), point(public.binding())));
            nonces.0.insert((i, queue.next + k), secret);
        }
        let batch = NonceCommitments { set: self.set.hash(), first_seq: queue.next, commitments };
        self.send_payload(i, Payload::Signing(Box::new(SigningMessage::Commitments(batch))))
    }

    fn session(&self, id: u64) -> SigningSession {
        self.ledger.state(&StateKey::SigningSession(id)).unwrap()
    }

    /// Center `i`'s share for session `id`: the message checked to be the root's, its
    /// nonces used once.
    fn share(&self, nonces: &mut Nonces, keys: &[KeyPackage], i: u16, id: u64) -> [u8; 32] {
        let session = self.session(id);
        let slot = session.signers.iter().position(|&c| c == i).unwrap();
        let secret = nonces.0.remove(&(i, session.commitments[slot].seq)).expect("a nonce is used once");
        let authority: CertAuthority = self.ledger.state(&StateKey::CertAuthority).unwrap();
        let key: GroupKey = self.ledger.state(&StateKey::GroupKey).unwrap();
        assert_eq!(session.message, root_tbs(self.ledger.chain_id(), &authority, &key).der().unwrap());
        let package = signing_package(&session).unwrap();
        let share = frost_ed25519::round2::sign(&package, &secret, &keys[usize::from(i)]).unwrap();
        share.serialize().try_into().unwrap()
    }

    fn send_share(&mut self, i: u16, session: u64, share: [u8; 32]) -> Result<(), Rejection> {
        self.send_payload(i, Payload::Signing(Box::new(SigningMessage::Share(SignatureShare { session, share }))))
    }
}

fn root(run: &Run) -> Option<Vec<u8>> {
    run.ledger.state::<CertAuthority>(&StateKey::CertAuthority).unwrap().root
}

/// The root session waits for t centers with commitments, opens with the first t, takes
/// each one's commitment for good; a share that does not verify is refused and names its
/// center; with the last good share the root certificate is recorded, and it verifies
/// against the group key.
#[test]
fn the_centers_sign_the_root_certificate_through_the_chain() {
    let mut run = Run::new();
    let keys = run.keygen();
    let mut nonces = Nonces(BTreeMap::new());
    let waiting: SigningState = run.ledger.state(&StateKey::Signing).unwrap();
    assert_eq!(waiting.waiting.len(), 1, "the root waits for commitments");
    for i in [4, 1] {
        run.commit(&mut nonces, &keys, i, 2).unwrap();
    }
    assert!(run.ledger.state::<SigningSession>(&StateKey::SigningSession(0)).is_none(), "two of three");
    run.commit(&mut nonces, &keys, 3, 2).unwrap();
    let session = run.session(0);
    assert_eq!(session.signers, vec![1, 3, 4]);
    assert_eq!(session.commitments.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![0, 0, 0]);
    let queue: vigil_protocol::authcenter::NonceQueue = run.ledger.state(&StateKey::Nonces(1)).unwrap();
    assert_eq!(queue.unused.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![1], "commitment 0 is used up");

    let first = run.share(&mut nonces, &keys, 1, 0);
    let mut bad = first;
    bad[0] ^= 1;
    assert_eq!(run.send_share(1, 0, bad), Err(Rejection::InvalidSignatureShare { center: 1 }));
    let good = run.share(&mut nonces, &keys, 3, 0);
    // Center 3's share sent by center 1: not center 1's.
    assert_eq!(run.send_share(1, 0, good), Err(Rejection::InvalidSignatureShare { center: 1 }));
    run.send_share(3, 0, good).unwrap();
    assert!(matches!(run.send_share(3, 0, good), Err(Rejection::InvalidSigning(_))), "a second share");
    assert!(matches!(run.send_share(0, 0, good), Err(Rejection::InvalidSigning(_))), "not a signer");
    let share = run.share(&mut nonces, &keys, 4, 0);
    run.send_share(4, 0, share).unwrap();
    assert!(root(&run).is_none());
    // Center 1's good share still counts (the same package, the same nonces).
    run.send_share(1, 0, first).unwrap();

    let der = root(&run).expect("the root is recorded with the last share");
    let key: GroupKey = run.ledger.state(&StateKey::GroupKey).unwrap();
    let certificate = x509::Certificate::from_der(&der).unwrap();
    certificate.verify(&key.key).unwrap();
    assert_eq!(certificate.subject_key, key.key);
    assert!(matches!(run.session(0).outcome, SessionOutcome::Signed(_)));
}

/// A center that withholds its share does not stall the root: after the timeout (in
/// heights) another center restarts the session, which opens without the withholder.
#[test]
fn a_withheld_share_is_worked_around_after_the_timeout() {
    let mut run = Run::new();
    let keys = run.keygen();
    let mut nonces = Nonces(BTreeMap::new());
    for i in 0..N {
        run.commit(&mut nonces, &keys, i, 1).unwrap();
    }
    assert_eq!(run.session(0).signers, vec![0, 1, 2]);
    for i in [0, 1] {
        let share = run.share(&mut nonces, &keys, i, 0);
        run.send_share(i, 0, share).unwrap();
    }
    let restart = |run: &mut Run, i| run.send_payload(i, Payload::Signing(Box::new(SigningMessage::Restart(0))));
    assert!(matches!(restart(&mut run, 0), Err(Rejection::InvalidSigning(why)) if why.contains("from height")));
    run.advance(SIGNING_TIMEOUT_HEIGHTS);
    restart(&mut run, 3).unwrap();
    assert_eq!(run.session(0).outcome, SessionOutcome::Restarted { next: None }, "only 3 and 4 have a commitment");
    run.commit(&mut nonces, &keys, 0, 1).unwrap();
    let session = run.session(1);
    assert_eq!((session.signers.clone(), session.withheld.clone()), (vec![0, 3, 4], vec![2]));
    for i in [0, 3, 4] {
        let share = run.share(&mut nonces, &keys, i, 1);
        run.send_share(i, 1, share).unwrap();
    }
    assert!(root(&run).is_some());
    // The old session is over: its late share is refused.
    assert!(matches!(run.send_share(2, 0, [0; 32]), Err(Rejection::InvalidSigning(_))));
}

/// Commitments out of order, too many, before the key is ready, or from a center that
/// holds no share are refused.
#[test]
fn commitments_out_of_turn_are_refused() {
    let mut run = Run::new();
    let set = run.set.hash();
    let batch = |first_seq, n: usize| {
        let base = curve_point();
        Payload::Signing(Box::new(SigningMessage::Commitments(NonceCommitments {
            set,
            first_seq,
            commitments: vec![(base, base); n],
        })))
    };
    assert!(matches!(run.send_payload(0, batch(0, 1)), Err(Rejection::InvalidSigning(w)) if w.contains("not ready")));
    run.keygen();
    let (batch_max, ahead_max) = (NONCE_BATCH_MAX, NONCES_AHEAD_MAX);
    run.send_payload(0, batch(0, batch_max)).unwrap();
    let next = format!("next commitment is {batch_max}");
    assert!(matches!(run.send_payload(0, batch(0, 1)), Err(Rejection::InvalidSigning(w)) if w.contains(&next)));
    let over = batch(batch_max as u64, batch_max + 1);
    assert!(matches!(run.send_payload(0, over), Err(Rejection::InvalidSigning(_))), "over the batch bound");
    let mut sent = batch_max;
    while sent < ahead_max {
        run.send_payload(0, batch(sent as u64, batch_max)).unwrap();
        sent += batch_max;
    }
    let more = run.send_payload(0, batch(sent as u64, 1));
    assert!(matches!(more, Err(Rejection::InvalidSigning(_))), "{ahead_max} unused already");
    let identity = {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    };
    let bad = Payload::Signing(Box::new(SigningMessage::Commitments(NonceCommitments {
        set,
        first_seq: 0,
        commitments: vec![(identity, curve_point())],
    })));
    assert!(matches!(run.send_payload(1, bad), Err(Rejection::InvalidSigning(w)) if w.contains("nonce commitment")));
}

/// The Ed25519 basepoint's encoding.
fn curve_point() -> [u8; 32] {
    let mut b = [0x66; 32];
    b[0] = 0x58;
    b
}
