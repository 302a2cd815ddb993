//! The key generation through the chain: five centers, t = 3, from seeded randomness.

use std::collections::BTreeMap;

use frost_ed25519::keys::dkg;
use frost_ed25519::Identifier;
use rand_chacha::rand_core::SeedableRng;
use vigil_protocol::authcenter::share::{seal, Rng06, ShareKey, ShareLabel};
use vigil_protocol::authcenter::{AuthCenterInfo, DkgComplaint, DkgConfirm, DkgRound2};
use vigil_protocol::{Address, Amount, EncryptionKey, Hash32, Payload, SecretKey};

use super::*;
use crate::execution::testkit::*;
use crate::execution::ExecuteError;

const N: u16 = 5;
const T: u16 = 3;

/// One center's side of an attempt.
struct Center {
    index: u16,
    share_key: ShareKey,
    round1: Option<dkg::round1::SecretPackage>,
    round2: Option<dkg::round2::SecretPackage>,
    sent: BTreeMap<Identifier, dkg::round2::Package>,
}

/// A chain whose genesis names five centers (their accounts funded), and the centers.
struct Run {
    f: Fixture,
    keys: Vec<SecretKey>,
    set: AuthCenterSet,
    ledger: Ledger,
    centers: Vec<Center>,
}

impl Run {
    fn new() -> Run {
        let mut f = fixture();
        let keys: Vec<SecretKey> = (0..N).map(|i| SecretKey::from_seed([0xc0 + i as u8; 32])).collect();
        let centers = keys
            .iter()
            .enumerate()
            .map(|(i, k)| AuthCenterInfo {
                name: format!("center-{i}"),
                identity_key: k.public_key(),
                encryption_key: EncryptionKey([i as u8 + 1; 32]),
            })
            .collect();
        let set = AuthCenterSet { centers, threshold: T };
        f.genesis.accounts.extend(keys.iter().map(|k| (Address::from_public_key(&k.public_key()), Amount(100))));
        f.genesis.accounts.sort();
        f.genesis.authcenters = Some(set.clone());
        let ledger = Ledger::genesis(&f.genesis).unwrap();
        Run { f, keys, set, ledger, centers: Vec::new() }
    }

    fn state(&self) -> DkgState {
        self.ledger.state(&StateKey::Dkg).unwrap_or_default()
    }

    fn participants(&self) -> Vec<u16> {
        self.state().participants(N.into())
    }

    /// Center `i` sends `message`: admitted and executed in a block of its own, or the
    /// reason both refused it (they must agree).
    fn send(&mut self, i: u16, message: DkgMessage) -> Result<(), String> {
        self.send_payload(i, Payload::Dkg(Box::new(message))).map_err(|r| match r {
            Rejection::InvalidDkgPackage(why) => why,
            other => panic!("{other:?}"),
        })
    }

    /// Center `i` sends `payload`: admitted and executed in a block of its own, or the
    /// admission's refusal (execution must refuse it too).
    fn send_payload(&mut self, i: u16, payload: Payload) -> Result<(), Rejection> {
        let key = &self.keys[usize::from(i)];
        let admitted = crate::capability::admit(&payload, &self.ledger, &key.public_key());
        let nonce = self.ledger.account(&Address::from_public_key(&key.public_key())).nonce.0;
        let tx = tx(&self.f, key, nonce, payload);
        match (admitted, self.ledger.execute(std::slice::from_ref(&tx))) {
            (Ok(()), Ok(_)) => {
                let (b, exec) = block(&self.ledger, vec![tx]);
                assert_eq!(exec.entries[0].status, TxStatus::Success);
                self.ledger.commit(&b, exec).unwrap();
                Ok(())
            }
            (Err(refused), Err(ExecuteError::Tx { .. })) => Err(refused),
            other => panic!("admission and execution disagree: {other:?}"),
        }
    }

    /// Every participant's part 1 (seeded by `seed`), published.
    fn round1(&mut self, seed: u64) {
        let (participants, attempt) = (self.participants(), self.state().attempt);
        self.centers = participants
            .iter()
            .map(|&i| {
                let rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed * 100 + u64::from(i));
                let (secret, package) = dkg::part1(identifier(i).unwrap(), participants.len() as u16, T, rng).unwrap();
                let share_key = ShareKey::from_seed(&[seed as u8 + i as u8 + 1; 32]);
                let on_chain = to_chain(&package, self.set.hash(), attempt, share_key.public_key()).unwrap();
                self.send(i, DkgMessage::Round1(on_chain)).unwrap();
                Center { index: i, share_key, round1: Some(secret), round2: None, sent: BTreeMap::new() }
            })
            .collect();
    }

    /// The other participants' round-1 packages as FROST takes them.
    fn others(&self, me: u16) -> BTreeMap<Identifier, dkg::round1::Package> {
        self.participants()
            .into_iter()
            .filter(|&i| i != me)
            .map(|i| {
                let on_chain: DkgRound1 = self.ledger.state(&StateKey::DkgRound1(i)).unwrap();
                (identifier(i).unwrap(), from_chain(&on_chain, T).unwrap())
            })
            .collect()
    }

    /// Center at position `k` runs part 2 and seals its shares (`tamper` may change one
    /// before sealing); the package it would send.
    fn part2(&mut self, k: usize, tamper: impl Fn(u16, &mut [u8; 32])) -> DkgRound2 {
        let me = self.centers[k].index;
        let (secret, sent) = dkg::part2(self.centers[k].round1.take().unwrap(), &self.others(me)).unwrap();
        let (set, attempt) = (self.set.hash(), self.state().attempt);
        let mut rng = Rng06(rand_chacha::ChaCha20Rng::seed_from_u64(u64::from(me) + 1000));
        let shares = self
            .participants()
            .into_iter()
            .filter(|&j| j != me)
            .map(|j| {
                let round1: DkgRound1 = self.ledger.state(&StateKey::DkgRound1(j)).unwrap();
                let mut share: [u8; 32] = sent[&identifier(j).unwrap()].signing_share().serialize().try_into().unwrap();
                tamper(j, &mut share);
                let label = ShareLabel { set, attempt, sender: me, recipient: j };
                seal(&round1.share_key, &label, &share, &mut rng).unwrap()
            })
            .collect();
        self.centers[k].round2 = Some(secret);
        self.centers[k].sent = sent;
        DkgRound2 { set, attempt, shares }
    }

    /// Center at position `k` opens the shares sent to it and runs part 3: its group key,
    /// or the center whose share does not match.
    fn part3(&self, k: usize) -> Result<(frost_ed25519::keys::KeyPackage, PublicKey), u16> {
        let center = &self.centers[k];
        let me = center.index;
        let state = self.state();
        let mut received = BTreeMap::new();
        for sender in self.participants().into_iter().filter(|&i| i != me) {
            let package: DkgRound2 = self.ledger.state(&StateKey::DkgRound2(sender)).unwrap();
            let sealed = package.share_for(&self.participants(), sender, me).unwrap();
            let label = ShareLabel { set: self.set.hash(), attempt: state.attempt, sender, recipient: me };
            let share = center.share_key.open(sealed, &label).map_err(|_| sender)?;
            let share = frost_ed25519::keys::SigningShare::deserialize(&share[..]).map_err(|_| sender)?;
            received.insert(identifier(sender).unwrap(), dkg::round2::Package::new(share));
        }
        match dkg::part3(center.round2.as_ref().unwrap(), &self.others(me), &received) {
            Ok((key_package, public)) => {
                let key = PublicKey::from_bytes(&public.verifying_key().serialize().unwrap().try_into().unwrap());
                Ok((key_package, key.unwrap()))
            }
            Err(frost_ed25519::Error::InvalidSecretShare { culprit: Some(id) }) => {
                Err(self.participants().into_iter().find(|&i| identifier(i).unwrap() == id).unwrap())
            }
            Err(e) => panic!("part 3: {e}"),
        }
    }

    fn confirm(&self, key: PublicKey) -> DkgMessage {
        DkgMessage::Confirm(DkgConfirm { set: self.set.hash(), attempt: self.state().attempt, group_key: key })
    }

    fn complaint(&self, k: usize, accused: u16) -> DkgMessage {
        let share_secret = *self.centers[k].share_key.secret();
        DkgMessage::Complaint(DkgComplaint {
            set: self.set.hash(),
            attempt: self.state().attempt,
            accused,
            share_secret,
        })
    }

    /// The whole key generation, every center honest: each center's key package, in
    /// center order.
    fn keygen(&mut self) -> Vec<frost_ed25519::keys::KeyPackage> {
        self.rounds(1);
        let mut packages = Vec::new();
        for k in 0..self.centers.len() {
            let (package, key) = self.part3(k).unwrap();
            self.send(self.centers[k].index, self.confirm(key)).unwrap();
            packages.push(package);
        }
        packages
    }

    /// Commits `n` empty blocks.
    fn advance(&mut self, n: u64) {
        for _ in 0..n {
            let (b, exec) = block(&self.ledger, Vec::new());
            self.ledger.commit(&b, exec).unwrap();
        }
    }

    /// Rounds 1 and 2 of the current attempt, every share honest.
    fn rounds(&mut self, seed: u64) {
        self.round1(seed);
        for k in 0..self.centers.len() {
            let package = self.part2(k, |_, _| {});
            self.send(self.centers[k].index, DkgMessage::Round2(package)).unwrap();
        }
    }
}

/// Rounds 1, 2 and the confirmations through the chain: the group key is written with
/// the last confirmation, and it is the key and verifying shares each center computed.
#[test]
fn the_centers_make_their_group_key_through_the_chain() {
    let mut run = Run::new();
    run.rounds(1);
    let mut keys = Vec::new();
    for k in 0..run.centers.len() {
        assert!(run.ledger.state::<GroupKey>(&StateKey::GroupKey).is_none(), "not before every confirmation");
        let (key_package, key) = run.part3(k).unwrap();
        run.send(run.centers[k].index, run.confirm(key)).unwrap();
        keys.push(key_package);
    }
    let on_chain: GroupKey = run.ledger.state(&StateKey::GroupKey).expect("written with the last confirmation");
    assert_eq!(on_chain.participants, vec![0, 1, 2, 3, 4]);
    assert_eq!(on_chain.threshold, T);
    for (k, key_package) in keys.iter().enumerate() {
        assert_eq!(key_package.verifying_key().serialize().unwrap(), on_chain.key.to_bytes().to_vec());
        assert_eq!(key_package.verifying_share().serialize().unwrap(), on_chain.verifying_shares[k].to_vec());
    }
    // The key generation is over: nothing more is taken.
    let late = run.confirm(on_chain.key);
    assert!(run.send(0, late).unwrap_err().contains("over"));
}

/// Center 2 sends center 4 a bad share: center 4's part 3 names it, its complaint is
/// upheld (center 2 excluded, a new attempt), and the four others make the key.
#[test]
fn a_bad_share_is_shown_by_a_complaint_and_its_sender_excluded() {
    let mut run = Run::new();
    run.round1(1);
    for k in 0..run.centers.len() {
        let bad = run.centers[k].index == 2;
        let package = run.part2(k, |to, share| {
            if bad && to == 4 {
                share[3] ^= 1;
            }
        });
        run.send(run.centers[k].index, DkgMessage::Round2(package)).unwrap();
    }
    assert_eq!(run.part3(4).unwrap_err(), 2, "part 3 names the sender of the bad share");
    // An honest center's complaint against a good share is refused, as is one whose
    // secret is not the complainer's key, and the accuser cannot be its own accused.
    assert!(run.send(4, run.complaint(4, 1)).unwrap_err().contains("matches"));
    let mut wrong_key = run.complaint(3, 2);
    if let DkgMessage::Complaint(c) = &mut wrong_key {
        c.share_secret = *run.centers[4].share_key.secret();
    }
    assert!(run.send(3, wrong_key).unwrap_err().contains("not the complainer's share key"));
    assert!(run.send(4, run.complaint(4, 4)).is_err());
    // Center 0 confirms (its shares were good): it may no longer complain.
    let (_, key) = run.part3(0).unwrap();
    run.send(0, run.confirm(key)).unwrap();
    assert!(run.send(0, run.complaint(0, 2)).unwrap_err().contains("confirmed"));

    run.send(4, run.complaint(4, 2)).unwrap();
    let state = run.state();
    assert_eq!((state.attempt, state.excluded.clone(), state.confirmed.clone()), (1, vec![2], vec![]));
    assert_eq!((state.failures[0].accused, state.failures[0].complainer, state.failures[0].attempt), (2, 4, 0));
    // The excluded center's messages are refused; the old attempt's too.
    assert!(run.send(2, run.confirm(key)).unwrap_err().contains("excluded"));
    let stale = DkgMessage::Confirm(DkgConfirm { set: run.set.hash(), attempt: 0, group_key: key });
    assert!(run.send(1, stale).unwrap_err().contains("attempt 0"));

    run.rounds(2);
    for k in 0..run.centers.len() {
        let (_, key) = run.part3(k).unwrap();
        run.send(run.centers[k].index, run.confirm(key)).unwrap();
    }
    let on_chain: GroupKey = run.ledger.state(&StateKey::GroupKey).unwrap();
    assert_eq!(on_chain.participants, vec![0, 1, 3, 4]);
    assert_eq!(on_chain.verifying_share(2), None);
}

/// What may not be in a block, and what admission refuses: a message from anyone but a
/// center, for another set, of the wrong shape, a proof that does not verify, a second
/// round 1, a round 2 before every round 1 or with a share missing, a confirmation
/// before every round 2 or naming another key.
#[test]
fn a_message_out_of_turn_or_of_the_wrong_shape_is_refused() {
    let mut run = Run::new();
    let rng = |i: u16| rand_chacha::ChaCha20Rng::seed_from_u64(u64::from(i));
    let packages: Vec<_> = (0..N).map(|i| dkg::part1(identifier(i).unwrap(), N, T, rng(i)).unwrap().1).collect();
    let share_key = ShareKey::from_seed(&[1; 32]).public_key();
    let good = to_chain(&packages[0], run.set.hash(), 0, share_key).unwrap();
    let round1 = |p: DkgRound1| DkgMessage::Round1(p);
    let alice = run.f.alice.clone();
    let payload = Payload::Dkg(Box::new(round1(good.clone())));
    assert!(matches!(
        crate::capability::admit(&payload, &run.ledger, &alice.public_key()),
        Err(Rejection::InvalidDkgPackage(_))
    ));
    assert!(run
        .send(0, round1(DkgRound1 { set: Hash32([9; 32]), ..good.clone() }))
        .unwrap_err()
        .contains("another center set"));
    assert!(run.send(0, round1(DkgRound1 { attempt: 1, ..good.clone() })).is_err());
    assert!(run.send(0, round1(DkgRound1 { commitment: good.commitment[..2].to_vec(), ..good.clone() })).is_err());
    let mut forged = good.clone();
    forged.proof_of_knowledge[40] ^= 1;
    assert!(run.send(0, round1(forged)).is_err());
    assert!(run.send(0, round1(DkgRound1 { share_key: EncryptionKey([0; 32]), ..good.clone() })).is_err());
    // Center 1's package sent by center 0: its proof binds it to center 1's identifier.
    let theirs = to_chain(&packages[1], run.set.hash(), 0, share_key).unwrap();
    assert!(run.send(0, round1(theirs)).unwrap_err().contains("proof of knowledge"));

    run.send(0, round1(good.clone())).unwrap();
    assert!(run.send(0, round1(good)).unwrap_err().contains("already"));
    let early = DkgRound2 { set: run.set.hash(), attempt: 0, shares: Vec::new() };
    assert!(run.send(0, DkgMessage::Round2(early)).unwrap_err().contains("waits for every round 1"));

    let mut run = Run::new();
    run.round1(1);
    let full = run.part2(0, |_, _| {});
    let mut short = full.clone();
    short.shares.pop();
    assert!(run.send(0, DkgMessage::Round2(short)).unwrap_err().contains("shares"));
    let key = SecretKey::from_seed([3; 32]).public_key();
    assert!(run.send(0, run.confirm(key)).unwrap_err().contains("waits for every round 2"));
    run.send(0, DkgMessage::Round2(full.clone())).unwrap();
    assert!(run.send(0, DkgMessage::Round2(full)).unwrap_err().contains("already"));
    for k in 1..run.centers.len() {
        let package = run.part2(k, |_, _| {});
        run.send(run.centers[k].index, DkgMessage::Round2(package)).unwrap();
    }
    assert!(run.send(0, run.confirm(key)).unwrap_err().contains("another group key"));

    // A chain with no centers takes none.
    let mut plain = Run::new();
    plain.f.genesis.authcenters = None;
    plain.ledger = Ledger::genesis(&plain.f.genesis).unwrap();
    let p = to_chain(&packages[2], run.set.hash(), 0, share_key).unwrap();
    assert!(plain.send(2, round1(p)).unwrap_err().contains("no authentication centers"));
}

/// A share that does not even open (sealed to another key, or garbage) upholds a
/// complaint just the same: the accused put it on chain under its own signature.
#[test]
fn a_share_that_does_not_open_upholds_the_complaint() {
    let mut run = Run::new();
    run.round1(1);
    for k in 0..run.centers.len() {
        let mut package = run.part2(k, |_, _| {});
        if run.centers[k].index == 1 {
            package.shares[2].ciphertext[0] ^= 0x80; // the share to center 3
        }
        run.send(run.centers[k].index, DkgMessage::Round2(package)).unwrap();
    }
    assert_eq!(run.part3(3).unwrap_err(), 1);
    run.send(3, run.complaint(3, 1)).unwrap();
    assert_eq!(run.state().excluded, vec![1]);
}

mod signing;
