//! Five centers (t = 3) over a ledger, block by block: the set-up the center tests share.

#![allow(dead_code)] // each test file uses its own part

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::de::DeserializeOwned;
use vigil_authcenter::{Center, ChainView, Issuer, Policy, PolicyCheck, SecretStore};
use vigil_core::consensus::Rejection;
use vigil_core::execution::Ledger;
use vigil_protocol::authcenter::claims::seal_claims;
use vigil_protocol::authcenter::issuance::RequestFields;
use vigil_protocol::authcenter::share::{Rng06, ShareKey};
use vigil_protocol::authcenter::{AuthCenterInfo, AuthCenterSet, CertAuthority, GroupKey};
use vigil_protocol::authcenter::{CertRequest, IdentityClaims, Subject};
use vigil_protocol::SignedTransaction;
use vigil_protocol::{
    Address, Amount, Block, ChainId, ConsensusMode, EncryptionKey, Genesis, Height, Nonce, P2pKey, Payload, SecretKey,
    StateKey, Transaction, ValidatorInfo, ValidatorSet, View,
};

pub const N: usize = 5;

pub struct OnLedger<'a>(pub &'a Ledger);

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

pub struct Net {
    pub ledger: Ledger,
    pub genesis: Genesis,
    pub keys: Vec<SecretKey>,
    pub centers: Vec<Center>,
    pub dir: tempfile::TempDir,
    /// Each center's policy, once the centers decide certificate requests.
    pub policies: Option<Vec<Policy>>,
    /// Transactions from others (applicants) for the next block.
    pub queued: Vec<SignedTransaction>,
}

/// The centers' clock in these tests: the genesis time.
pub const NOW_S: u64 = 1_765_000_000;

/// Center `i`'s long-term X25519 key (the claims are sealed to it).
pub fn claims_key(i: usize) -> ShareKey {
    ShareKey::from_seed(&[0xe0 + i as u8; 32])
}

/// The applicant of these tests (funded at genesis).
pub fn applicant() -> SecretKey {
    SecretKey::from_seed([0xaa; 32])
}

impl Net {
    pub fn new() -> Net {
        let validators = ValidatorSet::new(
            (1..=4u8)
                .map(|i| {
                    let key = SecretKey::from_seed([i; 32]).public_key();
                    ValidatorInfo::new("v", key, EncryptionKey([0; 32]), P2pKey([0xff; 32]))
                })
                .collect(),
        )
        .unwrap();
        // One key more than the set names: a center a change of the set may bring in.
        let keys: Vec<SecretKey> = (0..=N).map(|i| SecretKey::from_seed([0xc0 + i as u8; 32])).collect();
        let centers = keys[..N]
            .iter()
            .enumerate()
            .map(|(i, k)| AuthCenterInfo {
                name: format!("center-{i}"),
                identity_key: k.public_key(),
                encryption_key: claims_key(i).public_key(),
            })
            .collect();
        let mut accounts: Vec<(Address, Amount)> =
            keys.iter().map(|k| (Address::from_public_key(&k.public_key()), Amount(1000))).collect();
        accounts.push((Address::from_public_key(&applicant().public_key()), Amount(1_000_000)));
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
            audit: Default::default(),
        };
        let ledger = Ledger::genesis(&genesis).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut net = Net { ledger, genesis, keys, centers: Vec::new(), dir, policies: None, queued: Vec::new() };
        net.centers = (0..N).map(|i| net.open(i)).collect();
        net
    }

    /// Center `i` as its process would start: from its secret file.
    pub fn open(&self, i: usize) -> Center {
        let store = SecretStore::open(&self.dir.path().join(format!("center-{i}.json"))).unwrap();
        let center = Center::new(&self.keys[i].public_key(), &OnLedger(&self.ledger), store).unwrap();
        match &self.policies {
            Some(policies) => center.with_issuer(Issuer {
                claims_key: claims_key(i),
                check: Box::new(PolicyCheck {
                    policy: policies.get(i).cloned().unwrap_or_default(),
                    clock: Box::new(|| NOW_S),
                }),
            }),
            None => center,
        }
    }

    /// The centers decide certificate requests, center `i` by `policies[i]`.
    pub fn with_policies(mut self, policies: Vec<Policy>) -> Net {
        self.policies = Some(policies);
        self.centers = (0..N).map(|i| self.open(i)).collect();
        self
    }

    /// A request by the applicant for `subject`, its claims sealed to every center.
    pub fn request(&self, subject: Subject, claims: &IdentityClaims) -> CertRequest {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let set: AuthCenterSet = self.ledger.state(&StateKey::AuthCenters).unwrap();
        let sealed = (0u16..)
            .zip(&set.centers)
            .map(|(i, c)| seal_claims(&c.encryption_key, i, claims, &mut Rng06(&mut rng)).unwrap())
            .collect();
        let fields = RequestFields {
            requester: Address::from_public_key(&applicant().public_key()),
            subject,
            not_before_s: NOW_S,
            not_after_s: NOW_S + 365 * 86_400,
            claims_digest: claims.digest(),
            sealed_claims: sealed,
        };
        CertRequest::sign(self.ledger.chain_id(), fields, &applicant())
    }

    /// `payload` from `from`, checked as the node's admission checks its payload, for the
    /// next block.
    pub fn submit(&mut self, from: &SecretKey, payload: Payload, fee: u64) -> Result<(), Rejection> {
        let sender = Address::from_public_key(&from.public_key());
        let pending = self.queued.iter().filter(|t| t.tx.sender_address() == sender).count() as u64;
        let tx = Transaction {
            chain_id: self.genesis.chain_id.clone(),
            sender: from.public_key(),
            nonce: Nonce(self.ledger.account(&sender).nonce.0 + pending),
            fee: Amount(fee),
            payload,
        }
        .sign(from);
        let min = vigil_core::capability::fee_min(&tx.tx.payload);
        if fee < min {
            return Err(Rejection::FeeTooLow { min, found: fee });
        }
        vigil_core::capability::admit(&tx.tx.payload, &self.ledger, &tx.tx.sender)?;
        self.queued.push(tx);
        Ok(())
    }

    /// Every center steps (`drop` decides which messages never leave), and what they send
    /// that admission takes goes into the next block.
    pub fn block(&mut self, rngs: &mut [ChaCha20Rng], drop: impl Fn(usize, &Payload) -> bool) -> usize {
        self.block_edited(rngs, |i, p| (!drop(i, &p)).then_some(p))
    }

    /// As [`Net::block`], each message passed through `edit` (a Byzantine center's
    /// changes; `None`: it never leaves).
    pub fn block_edited(
        &mut self,
        rngs: &mut [ChaCha20Rng],
        edit: impl Fn(usize, Payload) -> Option<Payload>,
    ) -> usize {
        let mut txs = std::mem::take(&mut self.queued);
        for (i, center) in self.centers.iter_mut().enumerate() {
            let key = &self.keys[i];
            let mut nonce = self.ledger.account(&Address::from_public_key(&key.public_key())).nonce.0;
            for payload in center.step(&OnLedger(&self.ledger), &mut rngs[i]).unwrap() {
                let Some(payload) = edit(i, payload) else { continue };
                if vigil_core::capability::admit(&payload, &self.ledger, &key.public_key()).is_err() {
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

    pub fn root(&self) -> Option<Vec<u8>> {
        self.ledger.state::<CertAuthority>(&StateKey::CertAuthority)?.root
    }
}

pub fn rngs() -> Vec<ChaCha20Rng> {
    (0..=N as u64).map(ChaCha20Rng::seed_from_u64).collect()
}

/// Runs blocks until the root certificate is recorded; the number of blocks.
pub fn until_root(net: &mut Net, rngs: &mut [ChaCha20Rng], drop: impl Fn(usize, &Payload) -> bool) -> usize {
    for blocks in 1..=40 {
        net.block(rngs, &drop);
        if net.root().is_some() {
            return blocks;
        }
    }
    panic!("no root certificate after 40 blocks");
}

pub fn check_root(net: &Net) {
    let key: GroupKey = net.ledger.state(&StateKey::GroupKey).unwrap();
    let der = net.root().unwrap();
    let root = vigil_protocol::x509::Certificate::from_der(&der).unwrap();
    root.verify(&key.key).unwrap();
    assert_eq!(root.subject_key, key.key);
}
