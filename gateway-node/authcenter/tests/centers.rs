//! Five centers (t = 3) run by their own code against a ledger: the key generation, the
//! nonce commitments and the root certificate's signing, block by block; a center that
//! crashes and restarts from its secret file; a center that withholds its shares.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::de::DeserializeOwned;
use vigil_authcenter::{Center, ChainView, SecretStore};
use vigil_core::execution::Ledger;
use vigil_protocol::authcenter::{AuthCenterInfo, AuthCenterSet, CertAuthority, GroupKey, SigningMessage};
use vigil_protocol::{
    Address, Amount, Block, ChainId, ConsensusMode, EncryptionKey, Genesis, Height, Nonce, P2pKey, Payload, SecretKey,
    StateKey, Transaction, ValidatorInfo, ValidatorSet, View,
};

const N: usize = 5;

struct OnLedger<'a>(&'a Ledger);

impl ChainView for OnLedger<'_> {
    fn get<T: DeserializeOwned>(&self, key: &StateKey) -> Option<T> {
        self.0.state(key)
    }
    fn chain_id(&self) -> ChainId {
        self.0.chain_id().clone()
    }
    fn height(&self) -> Height {
        self.0.height()
    }
}

struct Net {
    ledger: Ledger,
    genesis: Genesis,
    keys: Vec<SecretKey>,
    centers: Vec<Center>,
    dir: tempfile::TempDir,
}

impl Net {
    fn new() -> Net {
        let validators = ValidatorSet::new(
            (1..=4u8)
                .map(|i| {
                    let key = SecretKey::from_seed([i; 32]).public_key();
                    ValidatorInfo::new("v", key, EncryptionKey([0; 32]), P2pKey([0xff; 32]))
                })
                .collect(),
        )
        .unwrap();
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
        let mut accounts: Vec<(Address, Amount)> =
            keys.iter().map(|k| (Address::from_public_key(&k.public_key()), Amount(1000))).collect();
        accounts.extend(validators.validators().iter().map(|v| (v.account, Amount(0))));
        accounts.sort();
        let genesis = Genesis {
            chain_id: ChainId::new("vigil-centers").unwrap(),
            validators,
            accounts,
            mode: ConsensusMode::Fast,
            time_ms: 1_765_000_000_000,
            vault: Default::default(),
            checkpoints: Default::default(),
            authcenters: Some(AuthCenterSet { centers, threshold: 3 }),
        };
        let ledger = Ledger::genesis(&genesis).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut net = Net { ledger, genesis, keys, centers: Vec::new(), dir };
        net.centers = (0..N).map(|i| net.open(i)).collect();
        net
    }

    /// Center `i` as its process would start: from its secret file.
    fn open(&self, i: usize) -> Center {
        let store = SecretStore::open(&self.dir.path().join(format!("center-{i}.json"))).unwrap();
        Center::new(&self.keys[i].public_key(), &OnLedger(&self.ledger), store).unwrap()
    }

    /// Every center steps (`drop` decides which messages never leave), and what they send
    /// that admission takes goes into the next block.
    fn block(&mut self, rngs: &mut [ChaCha20Rng], drop: impl Fn(usize, &Payload) -> bool) -> usize {
        let mut txs = Vec::new();
        for (i, center) in self.centers.iter_mut().enumerate() {
            let key = &self.keys[i];
            let mut nonce = self.ledger.account(&Address::from_public_key(&key.public_key())).nonce.0;
            for payload in center.step(&OnLedger(&self.ledger), &mut rngs[i]).unwrap() {
                if drop(i, &payload)
                    || vigil_core::capability::admit(&payload, &self.ledger, &key.public_key()).is_err()
                {
                    continue;
                }
                let tx = Transaction {
                    chain_id: self.genesis.chain_id.clone(),
                    sender: key.public_key(),
                    nonce: Nonce(nonce),
                    fee: Amount(1),
                    payload,
                };
                txs.push(tx.sign(key));
                nonce += 1;
            }
        }
        // Two messages of one kind from one center in one block: the second may be
        // refused by the block's own rules; keep what executes.
        let mut kept = Vec::new();
        for tx in txs {
            let mut trial = kept.clone();
            trial.push(tx);
            if self.ledger.execute(&trial).is_ok() {
                kept = trial;
            }
        }
        let count = kept.len();
        let exec = self.ledger.execute(&kept).unwrap();
        let proposer = self.ledger.validators().validators()[0].id;
        let header = self.ledger.build_header(&exec, View(0), proposer, 0);
        self.ledger.commit(&Block { header, txs: kept }, exec).unwrap();
        count
    }

    fn root(&self) -> Option<Vec<u8>> {
        self.ledger.state::<CertAuthority>(&StateKey::CertAuthority)?.root
    }
}

fn rngs() -> Vec<ChaCha20Rng> {
    (0..N as u64).map(ChaCha20Rng::seed_from_u64).collect()
}

/// Runs blocks until the root certificate is recorded; the number of blocks.
fn until_root(net: &mut Net, rngs: &mut [ChaCha20Rng], drop: impl Fn(usize, &Payload) -> bool) -> usize {
    for blocks in 1..=40 {
        net.block(rngs, &drop);
        if net.root().is_some() {
            return blocks;
        }
    }
    panic!("no root certificate after 40 blocks");
}

fn check_root(net: &Net) {
    let key: GroupKey = net.ledger.state(&StateKey::GroupKey).unwrap();
    let der = net.root().unwrap();
    let root = vigil_protocol::x509::Certificate::from_der(&der).unwrap();
    root.verify(&key.key).unwrap();
    assert_eq!(root.subject_key, key.key);
}

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

/// A view that has not read the signing sessions yet (as the process's lazy view is before
/// its first read of them): absent to the step, but not complete.
struct WithoutSessions<'a>(&'a Ledger);

impl ChainView for WithoutSessions<'_> {
    fn get<T: DeserializeOwned>(&self, key: &StateKey) -> Option<T> {
        match key {
            StateKey::SigningSession(_) => None,
            _ => self.0.state(key),
        }
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

/// A step on a view that has not read an open session yet does not take that session's
/// nonce for an unused one and drop it: the next step, on the whole chain, signs.
#[test]
fn a_session_not_yet_read_keeps_its_nonce() {
    let mut net = Net::new();
    let mut rngs = rngs();
    let session = (0..20)
        .find_map(|_| {
            net.block(&mut rngs, |_, p| matches!(p, Payload::Signing(m) if matches!(**m, SigningMessage::Share(_))));
            net.ledger.state::<vigil_protocol::authcenter::SigningSession>(&StateKey::SigningSession(0))
        })
        .expect("the root's session opens");
    let signer = usize::from(session.signers[0]);
    net.centers[signer].step(&WithoutSessions(&net.ledger), &mut rngs[signer]).unwrap();
    let out = net.centers[signer].step(&OnLedger(&net.ledger), &mut rngs[signer]).unwrap();
    assert!(
        out.iter().any(|p| matches!(p, Payload::Signing(m) if matches!(**m, SigningMessage::Share(_)))),
        "the signer still holds its nonce and sends its share: {out:?}"
    );
}
