//! The gateway's registry of reachable nodes, and each node's health.
//!
//! Where a node is comes from the operator's configuration; who is a validator, and
//! with which X25519 key, comes only from the chain: the gateway follows the certified
//! validator-set changes (`/v1/validators`, `changes_bcs`) from the pinned genesis set,
//! and keeps the longest chain of changes any node proves. A request names a node id;
//! it is never an address, and ids outside the followed set are unknown.
//!
//! Health: a circuit breaker per node opens after some failures in a row and refuses
//! requests to that node (503) until a health check or a trial request succeeds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use vigil_protocol::encoding::from_bytes_limited;
use vigil_protocol::{follow_set_changes, EncryptionKey, Genesis, NodeId, SetChange, ValidatorSet};

use super::config::{LimitsConfig, NodeEntry};

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
    pub targets: BTreeMap<NodeId, Target>,
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
    genesis_set: ValidatorSet,
    configured: Vec<(NodeId, String)>,
    snapshot: RwLock<Arc<Snapshot>>,
    breakers: BTreeMap<NodeId, Mutex<Breaker>>,
    limits: LimitsConfig,
}

/// What `/v1/nodes` shows about one node.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeView {
    pub id: NodeId,
    pub name: String,
    pub encryption_key: EncryptionKey,
    pub healthy: bool,
    pub failures_in_a_row: u32,
    pub last_error: Option<String>,
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
            genesis_set: genesis.validators.clone(),
            configured,
            snapshot: RwLock::new(Arc::new(Snapshot {
                set: genesis.validators.clone(),
                changes: 0,
                targets: BTreeMap::new(),
            })),
            breakers,
            limits,
        };
        registry.install(genesis.validators.clone(), 0);
        Ok(registry)
    }

    fn install(&self, set: ValidatorSet, changes: usize) {
        let targets = self
            .configured
            .iter()
            .filter_map(|(id, url)| {
                set.get(id)
                    .map(|v| (*id, Target { id: *id, name: v.name.clone(), url: url.clone(), key: v.encryption_key }))
            })
            .collect();
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Snapshot { set, changes, targets });
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Follows the changes one node reports; adopts them if they go further than what
    /// is known. Returns whether the set changed.
    pub fn offer_changes(&self, changes_bcs: &[u8]) -> Result<bool, String> {
        let changes: Vec<SetChange> =
            from_bytes_limited(changes_bcs, CHANGES_MAX_BYTES).map_err(|e| format!("changes_bcs: {e}"))?;
        // Health checks offer the same list every few seconds: only a longer one is
        // worth verifying.
        if changes.len() <= self.snapshot().changes {
            return Ok(false);
        }
        let set = follow_set_changes(&self.genesis_set, &changes).map_err(|e| e.to_string())?;
        let current = self.snapshot();
        if changes.len() > current.changes {
            tracing::info!(changes = changes.len(), validators = set.len(), "validator set followed to a newer set");
            self.install(set, changes.len());
            return Ok(true);
        }
        Ok(false)
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
    pub fn view(&self) -> Vec<NodeView> {
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
                NodeView {
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
    use vigil_protocol::{ChainId, ConsensusMode, SecretKey, ValidatorInfo};

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
