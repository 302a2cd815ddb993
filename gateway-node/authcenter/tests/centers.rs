//! Five centers (t = 3) run by their own code against a ledger: the key generation, the
//! nonce commitments and the root certificate's signing, block by block; a center that
//! crashes and restarts from its secret file; a center that withholds its shares.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::de::DeserializeOwned;
use vigil_authcenter::ChainView;
use vigil_core::execution::Ledger;
use vigil_protocol::authcenter::{GroupKey, SigningMessage};
use vigil_protocol::{ChainId, Height, Payload, StateKey};

mod common;

use common::{check_root, rngs, until_root, Net, OnLedger};

/// The five centers' own code makes the group key and signs the root: round 1, round 2,
/// confirmations, commitments, shares — a few blocks in all.
#[test]
fn five_centers_make_the_group_key_and_sign_the_root() {
    let mut net = Net::new();
    let blocks = until_root(&mut net, &mut rngs(), |_, _| false);
    assert!(blocks <= 7, "{blocks} blocks");
    check_root(&net);
    // Afterwards a center sends nothing more than commitments kept ahead.
    net.block(&mut rngs(), |_, _| false);
    assert_eq!(net.block(&mut rngs(), |_, _| false), 0, "quiet once the root is signed");
}

/// A center that crashes after keeping its nonces but before its commitments left sends
/// the very same commitments when it restarts, and signs with the nonces it kept; one
/// that crashes after its round 1 was made redoes the same round 1.
#[test]
fn a_center_restarted_from_its_secret_file_sends_the_same_messages() {
    let mut net = Net::new();
    let mut rngs = rngs();
    let chain_round1 = net.centers[0].step(&OnLedger(&net.ledger), &mut rngs[0]).unwrap();
    net.centers[0] = net.open(0);
    let mut other_rng = ChaCha20Rng::seed_from_u64(99);
    assert_eq!(net.centers[0].step(&OnLedger(&net.ledger), &mut other_rng).unwrap(), chain_round1);

    // Up to the group key.
    for _ in 0..10 {
        if net.ledger.state::<GroupKey>(&StateKey::GroupKey).is_some() {
            break;
        }
        net.block(&mut rngs, |_, _| false);
    }
    assert!(net.ledger.state::<GroupKey>(&StateKey::GroupKey).is_some());
    let batch = net.centers[0].step(&OnLedger(&net.ledger), &mut rngs[0]).unwrap();
    assert!(matches!(batch.as_slice(), [Payload::Signing(m)] if matches!(**m, SigningMessage::Commitments(_))));
    net.centers[0] = net.open(0); // the crash: nothing sent
    assert_eq!(net.centers[0].step(&OnLedger(&net.ledger), &mut other_rng).unwrap(), batch, "the same batch");
    until_root(&mut net, &mut rngs, |_, _| false);
    check_root(&net);
}

/// Center 0 (chosen first) never sends its share: after the timeout another center
/// restarts the session and the root is signed without it.
#[test]
fn a_center_that_withholds_its_share_does_not_stall_the_root() {
    let mut net = Net::new();
    let withheld =
        |i: usize, p: &Payload| i == 0 && matches!(p, Payload::Signing(m) if matches!(**m, SigningMessage::Share(_)));
    until_root(&mut net, &mut rngs(), withheld);
    check_root(&net);
    let session: vigil_protocol::authcenter::SigningSession =
        net.ledger.state(&StateKey::SigningSession(1)).expect("a second session");
    assert_eq!(session.withheld, vec![0]);
    assert!(!session.signers.contains(&0));
}

/// A view that has not read some entries yet (as the process's lazy view is before its
/// first read of them): absent to the step, but not complete. `hidden` says which.
struct Partial<'a>(&'a Ledger, fn(&StateKey) -> bool);

impl ChainView for Partial<'_> {
    fn get<T: DeserializeOwned>(&self, key: &StateKey) -> Option<T> {
        if (self.1)(key) {
            return None;
        }
        self.0.state(key)
    }
    fn chain_id(&self) -> ChainId {
        self.0.chain_id().clone()
    }
    fn height(&self) -> Height {
        self.0.height()
    }
    fn complete(&self) -> bool {
        false
    }
}

/// Five centers whose shares never leave until the root's session opens: the net, and
/// the session's first signer.
fn root_session_without_shares() -> (Net, Vec<ChaCha20Rng>, usize) {
    let mut net = Net::new();
    let mut rngs = rngs();
    let session = (0..20)
        .find_map(|_| {
            net.block(&mut rngs, |_, p| matches!(p, Payload::Signing(m) if matches!(**m, SigningMessage::Share(_))));
            net.ledger.state::<vigil_protocol::authcenter::SigningSession>(&StateKey::SigningSession(0))
        })
        .expect("the root's session opens");
    let signer = usize::from(session.signers[0]);
    (net, rngs, signer)
}

/// A step on a view that has not read an open session yet does not take that session's
/// nonce for an unused one and drop it: the next step, on the whole chain, signs.
#[test]
fn a_session_not_yet_read_keeps_its_nonce() {
    let (mut net, mut rngs, signer) = root_session_without_shares();
    net.centers[signer]
        .step(&Partial(&net.ledger, |k| matches!(k, StateKey::SigningSession(_))), &mut rngs[signer])
        .unwrap();
    let out = net.centers[signer].step(&OnLedger(&net.ledger), &mut rngs[signer]).unwrap();
    assert!(
        out.iter().any(|p| matches!(p, Payload::Signing(m) if matches!(**m, SigningMessage::Share(_)))),
        "the signer still holds its nonce and sends its share: {out:?}"
    );
}

/// A signer away for a few blocks (its process stalled, its messages lost) signs the
/// session it was chosen for once it is back, before the timeout.
#[test]
fn a_signer_back_from_a_stall_signs_its_session() {
    let mut net = Net::new();
    let mut rngs = rngs();
    let shares = |p: &Payload| matches!(p, Payload::Signing(m) if matches!(**m, SigningMessage::Share(_)));
    let session = (0..20)
        .find_map(|_| {
            net.block(&mut rngs, |_, p| shares(p));
            net.ledger.state::<vigil_protocol::authcenter::SigningSession>(&StateKey::SigningSession(0))
        })
        .expect("the root's session opens");
    let away = usize::from(session.signers[0]);
    for _ in 0..3 {
        net.block(&mut rngs, |i, _| i == away);
    }
    let root = (0..5).find_map(|_| {
        net.block(&mut rngs, |_, _| false);
        net.root()
    });
    assert!(root.is_some(), "signed when the center came back");
    let first: vigil_protocol::authcenter::SigningSession = net.ledger.state(&StateKey::SigningSession(0)).unwrap();
    assert!(matches!(first.outcome, vigil_protocol::authcenter::SessionOutcome::Signed(_)), "{:?}", first.outcome);
}

/// Four of five centers silent for longer than several timeouts: the sessions leave them
/// out one after another, never stalling for good — once they are back, the oldest
/// exclusions are lifted first and the root is signed.
#[test]
fn centers_down_for_several_timeouts_are_chosen_again_when_back() {
    let mut net = Net::new();
    let mut rngs = rngs();
    let share = |p: &Payload| matches!(p, Payload::Signing(m) if matches!(**m, SigningMessage::Share(_)));
    for _ in 0..40 {
        net.block(&mut rngs, |i, p| i < 4 && share(p));
    }
    assert!(net.root().is_none(), "one center alone cannot sign");
    let signed = (0..30).find_map(|_| {
        net.block(&mut rngs, |_, _| false);
        net.root()
    });
    assert!(signed.is_some(), "signed once they are back");
    check_root(&net);
}

/// A step on a view that lacked an entry the share needs decides nothing it remembers:
/// the step taken again at once with the entry (as the process does) sends the share,
/// rather than waiting for the session to be due again.
#[test]
fn a_step_on_a_view_missing_an_entry_is_taken_again_in_full() {
    let (mut net, mut rngs, signer) = root_session_without_shares();
    // A fresh process: it has seen nothing of the session yet.
    net.centers[signer] = net.open(signer);
    let partial = net.centers[signer]
        .step(&Partial(&net.ledger, |k| matches!(k, StateKey::CertAuthority)), &mut rngs[signer])
        .unwrap();
    let share = |out: &[Payload]| {
        out.iter().any(|p| matches!(p, Payload::Signing(m) if matches!(**m, SigningMessage::Share(_))))
    };
    assert!(!share(&partial), "no share for a message it could not rebuild");
    let full = net.centers[signer].step(&OnLedger(&net.ledger), &mut rngs[signer]).unwrap();
    assert!(share(&full), "the share, on the step with every entry: {full:?}");
}
