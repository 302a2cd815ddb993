//! The gateway's registry of reachable nodes, and each node's health.
//!
//! Where a node is comes from the operator's configuration; who is a validator, and
//! with which X25519 key, comes only from the chain: the gateway follows the certified
//! validator-set changes (`/v1/validators`, `changes_bcs`) from the pinned genesis set.
//! A node's list is adopted only if it extends the chain already followed: the same
//! changes up to there, then changes above the last height followed, the first of them
//! certified by the set in force and naming it as its set; anything else is refused
//! (logged by the caller) and the registry stays as it was. A request names a node id;
//! it is never an address, and ids outside the followed set are unknown.
//!
//! Health: a circuit breaker per node opens after some failures in a row and refuses
//! requests to that node (503) until a health check or a trial request succeeds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use vigil_protocol::encoding::from_bytes_limited;
use vigil_protocol::{
    follow_set_changes, BlockHash, EncryptionKey, Genesis, Height, NodeId, SetChange, SetChangeError, ValidatorSet,
};

use super::config::{LimitsConfig, NodeEntry};
use vigil_api::NodeHealth;

/// Largest `changes_bcs` accepted from a node.
const CHANGES_MAX_BYTES: usize = 4 * 1024 * 1024;

/// A node the gateway can forward to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: NodeId,
    pub name: String,
    /// Base URL of its API (from the configuration).
    pub url: String,
    /// Its published X25519 key, from the followed validator set.
    pub key: EncryptionKey,
}

/// The validator set as last followed, and the targets it makes reachable.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub set: ValidatorSet,
    /// Certified set changes followed from genesis.
    pub changes: usize,
    /// The header hash of each change followed, in order: what a longer list must start with.
    followed: Vec<BlockHash>,
    /// Height of the last change followed.
    last_height: Option<Height>,
    pub targets: BTreeMap<NodeId, Target>,
}

/// Why a node's list of set changes was not adopted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangesRefused {
    #[error("changes_bcs: {0}")]
    Decode(String),
    #[error("set change {index} differs from the one already followed: another chain of changes")]
    Fork { index: usize },
    #[error("set change at height {height} is not above the last change followed (height {last})")]
    NotAbove { height: Height, last: Height },
    #[error("set change at height {0} names another set than the one in force")]
    WrongPreviousSet(Height),
    #[error(transparent)]
    Follow(#[from] SetChangeError),
}

/// Why a node cannot be served right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Not a validator of the followed set (or not configured here).
    Unknown,
    /// Its circuit is open; retry after this long.
    CircuitOpen(Duration),
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    /// Requests that failed since start, for `/v1/nodes`.
    last_error: Option<String>,
}

pub struct Registry {
    configured: Vec<(NodeId, String)>,
    snapshot: RwLock<Arc<Snapshot>>,
    breakers: BTreeMap<NodeId, Mutex<Breaker>>,
    limits: LimitsConfig,
}

impl Registry {
    pub fn new(genesis: &Genesis, nodes: &[NodeEntry], limits: LimitsConfig) -> anyhow::Result<Self> {
        let mut configured = Vec::new();
        for n in nodes {
            let id: NodeId =
                n.id.parse()
                    .map_err(|_| anyhow::anyhow!("node id `{}` in the gateway config is not 64 hex digits", n.id))?;
            if !n.url.starts_with("http://") {
                anyhow::bail!(
                    "node {} url `{}`: use http:// (requests to nodes are sealed end to end with HPKE)",
                    n.id,
                    n.url
                );
            }
            configured.push((id, n.url.trim_end_matches('/').to_string()));
        }
        let breakers = configured.iter().map(|(id, _)| (*id, Mutex::new(Breaker::default()))).collect();
        let registry = Self {
            configured,
            snapshot: RwLock::new(Arc::new(Snapshot {
                set: genesis.validators.clone(),
                changes: 0,
                followed: Vec::new(),
                last_height: None,
                targets: BTreeMap::new(),
            })),
            breakers,
            limits,
        };
        registry.install(genesis.validators.clone(), Vec::new(), None);
        Ok(registry)
    }

    fn install(&self, set: ValidatorSet, followed: Vec<BlockHash>, last_height: Option<Height>) {
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(self.build(set, followed, last_height));
    }

    fn build(&self, set: ValidatorSet, followed: Vec<BlockHash>, last_height: Option<Height>) -> Snapshot {
        let targets = self
            .configured
            .iter()
            .filter_map(|(id, url)| {
                set.get(id)
                    .map(|v| (*id, Target { id: *id, name: v.name.clone(), url: url.clone(), key: v.encryption_key }))
            })
            .collect();
        let changes = followed.len();
        Snapshot { set, changes, followed, last_height, targets }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Follows the changes one node reports (its whole list from genesis); adopts them
    /// if they extend the chain followed so far (see the module docs). Returns whether
    /// the set changed; on an error nothing changed.
    pub fn offer_changes(&self, changes_bcs: &[u8]) -> Result<bool, ChangesRefused> {
        let changes: Vec<SetChange> =
            from_bytes_limited(changes_bcs, CHANGES_MAX_BYTES).map_err(|e| ChangesRefused::Decode(e.to_string()))?;
        // Updates are rare and made under one write lock, so two offers cannot both
        // extend the same snapshot.
        let mut guard = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
        let current = guard.clone();
        for (index, (known, offered)) in current.followed.iter().zip(&changes).enumerate() {
            if *known != offered.certified.header.hash() {
                return Err(ChangesRefused::Fork { index });
            }
        }
        // Health checks offer the same list every few seconds: only a longer one is new.
        let Some(new) = changes.get(current.changes..).filter(|n| !n.is_empty()) else {
            return Ok(false);
        };
        let first = &new[0].certified.header;
        if let Some(last) = current.last_height {
            if first.height <= last {
                return Err(ChangesRefused::NotAbove { height: first.height, last });
            }
        }
        if first.validator_set_hash != current.set.hash() {
            return Err(ChangesRefused::WrongPreviousSet(first.height));
        }
        // Each further change is certified by the set the one before it installed.
        let set = follow_set_changes(&current.set, new)?;
        let mut followed = current.followed.clone();
        followed.extend(new.iter().map(|c| c.certified.header.hash()));
        let last_height = new.last().map(|c| c.certified.header.height);
        tracing::info!(changes = followed.len(), validators = set.len(), "validator set followed to a newer set");
        *guard = Arc::new(self.build(set, followed, last_height));
        Ok(true)
    }

    /// The target for `id`, if it is reachable now.
    pub fn target(&self, id: &NodeId) -> Result<Target, Unavailable> {
        let target = self.snapshot().targets.get(id).cloned().ok_or(Unavailable::Unknown)?;
        let breaker = self.breakers.get(id).ok_or(Unavailable::Unknown)?;
        let b = breaker.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = b.open_until {
            let now = Instant::now();
            if until > now {
                return Err(Unavailable::CircuitOpen(until - now));
            }
        }
        Ok(target)
    }

    /// Records the outcome of a request or health check to `id`.
    pub fn record(&self, id: &NodeId, outcome: Result<(), String>) {
        let Some(breaker) = self.breakers.get(id) else { return };
        let mut b = breaker.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Ok(()) => {
                if b.open_until.is_some() {
                    tracing::info!(node = %id.short(), "node answers again; circuit closed");
                }
                *b = Breaker::default();
            }
            Err(e) => {
                b.failures = b.failures.saturating_add(1);
                b.last_error = Some(e);
                if b.failures >= self.limits.breaker_failures {
                    if b.open_until.is_none_or(|t| t <= Instant::now()) {
                        tracing::warn!(node = %id.short(), failures = b.failures, "circuit opened");
                    }
                    b.open_until = Some(Instant::now() + Duration::from_millis(self.limits.breaker_open_ms));
                }
            }
        }
    }

    /// Every configured node and how it is doing.
    pub fn view(&self) -> Vec<NodeHealth> {
        let snapshot = self.snapshot();
        snapshot
            .targets
            .values()
            .map(|t| {
                let b = self.breakers.get(&t.id).map(|b| {
                    let b = b.lock().unwrap_or_else(|p| p.into_inner());
                    (b.failures, b.open_until.is_some_and(|u| u > Instant::now()), b.last_error.clone())
                });
                let (failures, open, last_error) = b.unwrap_or((0, false, None));
                NodeHealth {
                    id: t.id,
                    name: t.name.clone(),
                    encryption_key: t.key,
                    healthy: !open && failures == 0,
                    failures_in_a_row: failures,
                    last_error,
                }
            })
            .collect()
    }

    /// Configured nodes (reachable or not): what health checks visit.
    pub fn configured(&self) -> &[(NodeId, String)] {
        &self.configured
    }
}

#[cfg(test)]
mod tests {
    use vigil_protocol::encoding::to_bytes;
    use vigil_protocol::{
        BlockHeader, CertifiedHeader, ChainId, ConsensusMode, Hash32, QuorumCert, SecretKey, ValidatorInfo, View,
        VoteData, VoteKind,
    };

    /// A change at `height` from `set` to `next`, certified by the first `signers` of `set`.
    fn change(set: &ValidatorSet, keys: &[SecretKey], height: u64, next: &ValidatorSet, signers: usize) -> SetChange {
        let header = BlockHeader {
            chain_id: ChainId::new("vigil-test").unwrap(),
            height: Height(height),
            view: View(0),
            parent_hash: Hash32([1; 32]),
            tx_root: Hash32([2; 32]),
            receipts_root: Hash32([3; 32]),
            state_root: Hash32([4; 32]),
            validator_set_hash: set.hash(),
            next_validator_set_hash: next.hash(),
            mode: ConsensusMode::Bft,
            proposer: set.validators()[0].id,
            time_ms: 0,
        };
        let data = VoteData {
            chain_id: header.chain_id.clone(),
            height: header.height,
            view: header.view,
            block_hash: header.hash(),
            kind: VoteKind::Precommit,
        };
        let votes: Vec<_> = set.validators()[..signers]
            .iter()
            .map(|v| {
                let k = keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == v.id).unwrap();
                data.sign(v.id, k)
            })
            .collect();
        let cert = QuorumCert::from_votes(data, &votes, set).unwrap();
        SetChange { certified: CertifiedHeader { header, cert }, next: next.clone() }
    }

    /// Finding 13 of the soundness review (in part): on 35b51aa the gateway adopted any
    /// node's list of set changes that verified from genesis, even one that rewrote
    /// the history it already followed.
    #[test]
    fn only_a_change_that_extends_the_followed_chain_is_adopted() {
        let (g, keys) = genesis(4);
        let r = Registry::new(&g, &entries(&g), LimitsConfig::default()).unwrap();
        let s0 = g.validators.clone();
        let s1 = s0.without(&s0.validators()[3].id).unwrap();
        let s2 = s1.without(&s1.validators()[2].id).unwrap();
        let c1 = change(&s0, &keys, 5, &s1, 3);
        let c2 = change(&s1, &keys, 9, &s2, 3);
        let offer = |list: &[SetChange]| r.offer_changes(&to_bytes(&list.to_vec()));
        let unchanged = |r: &Registry, n: usize, set: &ValidatorSet| {
            let snap = r.snapshot();
            assert_eq!((snap.changes, snap.set.hash()), (n, set.hash()));
        };

        // Forged: the header is not the one the set in force certified.
        let mut forged = c1.clone();
        forged.certified.header.state_root = Hash32([9; 32]);
        assert!(matches!(offer(&[forged]), Err(ChangesRefused::Follow(_))));
        // Certified by a set that is not the one in force (s1 is not followed yet).
        assert_eq!(offer(std::slice::from_ref(&c2)), Err(ChangesRefused::WrongPreviousSet(Height(9))));
        unchanged(&r, 0, &s0);

        assert_eq!(offer(std::slice::from_ref(&c1)), Ok(true));
        unchanged(&r, 1, &s1);
        assert_eq!(r.snapshot().targets.len(), 3, "the removed validator is no target any more");
        // Replayed: the same list again is nothing new.
        assert_eq!(offer(std::slice::from_ref(&c1)), Ok(false));
        // Another first change (a different chain of changes), however long.
        let other = change(&s0, &keys, 6, &s1, 3);
        let longer = [other.clone(), change(&s1, &keys, 9, &s2, 3)];
        assert_eq!(offer(&longer), Err(ChangesRefused::Fork { index: 0 }));
        unchanged(&r, 1, &s1);
        // Out of order: a change below the last height followed, though certified by the set in force.
        let back = change(&s1, &keys, 4, &s2, 3);
        assert_eq!(offer(&[c1.clone(), back]), Err(ChangesRefused::NotAbove { height: Height(4), last: Height(5) }));
        // Replaying the first change as the second one.
        assert!(offer(&[c1.clone(), c1.clone()]).is_err());
        unchanged(&r, 1, &s1);

        assert_eq!(offer(&[c1, c2]), Ok(true));
        unchanged(&r, 2, &s2);
    }

    use super::*;

    fn genesis(n: u8) -> (Genesis, Vec<SecretKey>) {
        let keys: Vec<SecretKey> = (1..=n).map(|i| SecretKey::from_seed([i; 32])).collect();
        let validators = ValidatorSet::new(
            keys.iter()
                .enumerate()
                .map(|(i, k)| {
                    ValidatorInfo::new(
                        format!("node-{i}"),
                        k.public_key(),
                        EncryptionKey([i as u8; 32]),
                        vigil_protocol::P2pKey([0x80 | i as u8; 32]),
                    )
                })
                .collect(),
        )
        .unwrap();
        let genesis = Genesis {
            chain_id: ChainId::new("vigil-test").unwrap(),
            validators,
            accounts: vec![],
            mode: ConsensusMode::Fast,
            time_ms: 0,
            vault: Default::default(),
            checkpoints: Default::default(),
            authcenters: None,
            audit: Default::default(),
        };
        (genesis, keys)
    }

    fn entries(g: &Genesis) -> Vec<NodeEntry> {
        g.validators
            .validators()
            .iter()
            .enumerate()
            .map(|(i, v)| NodeEntry { id: v.id.to_string(), url: format!("http://127.0.0.1:{}", 7800 + i) })
            .collect()
    }

    #[test]
    fn only_validators_of_the_followed_set_are_targets() {
        let (g, _) = genesis(4);
        let mut nodes = entries(&g);
        let stranger = NodeId::from_public_key(&SecretKey::from_seed([99; 32]).public_key());
        nodes.push(NodeEntry { id: stranger.to_string(), url: "http://127.0.0.1:9999".into() });
        let r = Registry::new(&g, &nodes, LimitsConfig::default()).unwrap();
        assert_eq!(r.snapshot().targets.len(), 4);
        assert_eq!(r.target(&stranger), Err(Unavailable::Unknown));
        let first = g.validators.validators()[0].clone();
        assert_eq!(r.target(&first.id).unwrap().key, first.encryption_key);
        // Forged changes (not certified by the genesis set) change nothing.
        assert!(r.offer_changes(b"garbage").is_err());
        assert!(r.offer_changes(&to_bytes(&Vec::<SetChange>::new())).is_ok_and(|changed| !changed));
    }

    #[test]
    fn configured_urls_must_be_plain_http_to_sealed_endpoints() {
        let (g, _) = genesis(1);
        let mut nodes = entries(&g);
        nodes[0].url = "ftp://x".into();
        assert!(Registry::new(&g, &nodes, LimitsConfig::default()).is_err());
    }

    #[test]
    fn the_breaker_opens_after_failures_and_closes_on_success() {
        let (g, _) = genesis(2);
        let limits = LimitsConfig { breaker_failures: 2, breaker_open_ms: 60_000, ..LimitsConfig::default() };
        let r = Registry::new(&g, &entries(&g), limits).unwrap();
        let id = g.validators.validators()[1].id;
        r.record(&id, Err("refused".into()));
        assert!(r.target(&id).is_ok(), "one failure is not enough");
        r.record(&id, Err("refused".into()));
        assert!(matches!(r.target(&id), Err(Unavailable::CircuitOpen(_))));
        assert!(!r.view().iter().find(|v| v.id == id).unwrap().healthy);
        r.record(&id, Ok(()));
        assert!(r.target(&id).is_ok());
    }
}
