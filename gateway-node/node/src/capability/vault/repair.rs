//! Rebuilding the vault shards a store lost (issue 17, patent 8 with SPEC C2). After its
//! data directory was wiped or found corrupt (or its fragment store lost alone), a node
//! that has caught up reads every manifest that names it as a store, checks each of its
//! shards in its fragment store against the manifest's hash, asks the object's other
//! stores for theirs over the validators' authenticated links, and rebuilds each missing
//! shard from any k intact ones (Reed–Solomon, [`vigil_protocol::erasure`]). Every shard
//! a peer sends is checked against the manifest before it is used, and the rebuilt one
//! before it is stored. A stripe with fewer than k intact shards anywhere is reported
//! missing (the log names the object and stripes, `/metrics` counts them), never
//! silently lost.
//!
//! A store answers another store's request only for an object whose manifest names both
//! ([`serve`]), at most [`SERVES_IN_FLIGHT_MAX`] at once: shards go only where the chain
//! already sends them, and a peer cannot make a node read without bound.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use vigil_core::consensus::Message;
use vigil_protocol::erasure;
use vigil_protocol::vault::{fragment_hash, PeerShardRequest, PeerShards};
use vigil_protocol::{NodeId, StateKey, VaultManifest};

use super::ShardKey;
use crate::service::Shared;

/// How long the stores of an object have to answer for one batch of stripes.
pub const SHARD_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Peer requests served at once; more are dropped (the asker times out and reports).
pub const SERVES_IN_FLIGHT_MAX: usize = 4;
/// Answers waiting to be checked.
const INBOX_MAX: usize = 64;
/// How often a repair waiting for its node to catch up looks again.
const CATCH_UP_POLL: Duration = Duration::from_millis(500);

/// A node's side of shard repair: where peers' answers go while a repair runs, and the
/// bound on the requests it serves.
pub struct ShardRepair {
    inbox: Mutex<Option<mpsc::Sender<(NodeId, PeerShards)>>>,
    serving: Arc<Semaphore>,
}

impl Default for ShardRepair {
    fn default() -> Self {
        Self { inbox: Mutex::new(None), serving: Arc::new(Semaphore::new(SERVES_IN_FLIGHT_MAX)) }
    }
}

impl ShardRepair {
    /// A peer's shards, for the repair in progress (dropped when none runs).
    pub fn deliver(&self, from: NodeId, shards: PeerShards) {
        let inbox = self.inbox.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(inbox) = inbox {
            let _ = inbox.try_send((from, shards));
        }
    }

    fn set_inbox(&self, inbox: Option<mpsc::Sender<(NodeId, PeerShards)>>) {
        *self.inbox.lock().unwrap_or_else(|p| p.into_inner()) = inbox;
    }
}

/// Answers a peer store's request with this node's own shards of the object, if the
/// committed manifest names this node at `index` and the asker among the stores.
pub async fn serve(shared: Arc<Shared>, from: NodeId, req: PeerShardRequest) {
    let Ok(_permit) = shared.shard_repair.serving.clone().try_acquire_owned() else {
        tracing::debug!(peer = %from.short(), "vault: a peer's shard request dropped (too many at once)");
        return;
    };
    let view = shared.view();
    let Some(m) = view.ledger.state::<VaultManifest>(&StateKey::Manifest(req.object_id)) else { return };
    let me = shared.keys.id();
    if m.stores.get(usize::from(req.index)) != Some(&me) || !m.stores.contains(&from) {
        tracing::debug!(peer = %from.short(), object = %req.object_id, "vault: shard request outside the manifest refused");
        return;
    }
    let count = req.count.clamp(1, super::api::most_per_request(m.shard_bytes));
    let first = ShardKey { owner: m.owner, object_id: m.object_id, index: req.index, stripe: req.first_stripe };
    match shared.vault.get(first, count).await {
        Ok(shards) => {
            let answer =
                PeerShards { object_id: m.object_id, index: req.index, first_stripe: req.first_stripe, shards };
            shared.network.send(&from, &Message::Shards(Box::new(answer)));
        }
        Err(e) => tracing::warn!(error = %e, "vault: could not read shards a peer store asked for"),
    }
}

/// What one repair pass found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Objects that name this node as a store.
    pub objects: usize,
    /// Shards found intact in the fragment store.
    pub intact: u64,
    /// Shards rebuilt from the other stores and stored.
    pub repaired: u64,
    /// Stripes whose shard could not be rebuilt: (object, stripe).
    pub missing: Vec<(vigil_protocol::Hash32, u32)>,
}

/// Waits until the node has caught up (restored, and past the heights its peers
/// reported), then repairs every shard it should hold; the result is logged and counted.
pub async fn run(shared: Arc<Shared>) {
    let caught_up = |shared: &Shared| {
        let status = shared.view().status.clone();
        !status.recovering && status.height > status.abstain_through
    };
    if !caught_up(&shared) {
        tracing::info!("vault: shard repair waits for this node to catch up with its peers");
        while !caught_up(&shared) {
            tokio::time::sleep(CATCH_UP_POLL).await;
        }
    }
    let (tx, inbox) = mpsc::channel(INBOX_MAX);
    shared.shard_repair.set_inbox(Some(tx));
    let report = repair_all(&shared, inbox).await;
    shared.shard_repair.set_inbox(None);
    shared.metrics.vault_shards_repaired.fetch_add(report.repaired, Ordering::Relaxed);
    shared.metrics.vault_shards_missing.store(report.missing.len() as u64, Ordering::Relaxed);
    for (object, stripes) in group_missing(&report.missing) {
        tracing::error!(
            %object,
            stripes = ?stripes,
            "vault: shards of this node LOST: fewer than k intact shards at the object's stores; the owner must upload it again"
        );
    }
    tracing::info!(
        objects = report.objects,
        intact = report.intact,
        repaired = report.repaired,
        missing = report.missing.len(),
        "vault: shard repair done"
    );
}

fn group_missing(missing: &[(vigil_protocol::Hash32, u32)]) -> BTreeMap<vigil_protocol::Hash32, Vec<u32>> {
    let mut grouped: BTreeMap<_, Vec<u32>> = BTreeMap::new();
    for (object, stripe) in missing {
        grouped.entry(*object).or_default().push(*stripe);
    }
    grouped
}

/// What a repair pass carries from batch to batch: the peers' answers, and the stores
/// that left a batch unanswered (not waited for again in this pass).
struct Pass {
    inbox: mpsc::Receiver<(NodeId, PeerShards)>,
    silent: std::collections::BTreeSet<NodeId>,
}

async fn repair_all(shared: &Arc<Shared>, inbox: mpsc::Receiver<(NodeId, PeerShards)>) -> Report {
    let mut pass = Pass { inbox, silent: Default::default() };
    let view = shared.view();
    let me = shared.keys.id();
    let held = tokio::task::spawn_blocking(move || vigil_core::capability::vault::stored_at(&view.ledger, &me))
        .await
        .unwrap_or_default();
    let mut report = Report { objects: held.len(), ..Report::default() };
    tracing::info!(objects = held.len(), "vault: checking the shards this node should hold");
    for (index, m) in held {
        let per = u64::from(super::api::most_per_request(m.shard_bytes));
        let stripes = m.stripes() as u64;
        let mut first = 0u64;
        while first < stripes {
            let count = per.min(stripes - first) as u32;
            repair_batch(shared, (index, &m), (first as u32, count), &mut pass, &mut report).await;
            first += u64::from(count);
        }
    }
    report
}

/// Stripes `first .. + count` of this node's shard `index` of `m`: checked in the
/// fragment store, and those lost or damaged rebuilt from the other stores.
async fn repair_batch(
    shared: &Shared,
    (index, m): (u8, &VaultManifest),
    (first, count): (u32, u32),
    pass: &mut Pass,
    report: &mut Report,
) {
    let key = ShardKey { owner: m.owner, object_id: m.object_id, index, stripe: first };
    let local = shared.vault.get(key, count).await.unwrap_or_default();
    let lost: Vec<u32> = (first..first + count)
        .filter(|s| {
            let held = local.get((s - first) as usize);
            held.map(|b| m.fragment_hash(*s, index) == Some(fragment_hash(b))) != Some(true)
        })
        .collect();
    report.intact += u64::from(count) - lost.len() as u64;
    if lost.is_empty() {
        return;
    }
    let (rebuilt, missing) = ask_stores(shared, (index, m), (first, count), &lost, pass).await;
    for (stripe, shard) in rebuilt {
        // The chain recorded this shard for this store: its owner's quota was met then.
        match shared.vault.put(ShardKey { stripe, ..key }, &[shard], u64::MAX).await {
            Ok(()) => report.repaired += 1,
            Err(e) => {
                tracing::warn!(error = %e, object = %m.object_id, stripe, "vault: could not store a rebuilt shard");
                report.missing.push((m.object_id, stripe));
            }
        }
    }
    report.missing.extend(missing.into_iter().map(|s| (m.object_id, s)));
}

/// Asks the other stores of `m` for their shards of the batch (those silent earlier in
/// this pass excepted) and rebuilds the `lost` stripes from their answers ([`rebuild`]),
/// until every lost stripe is rebuilt, every store asked has answered, or
/// [`SHARD_ANSWER_TIMEOUT`] is over.
async fn ask_stores(
    shared: &Shared,
    (index, m): (u8, &VaultManifest),
    (first, count): (u32, u32),
    lost: &[u32],
    pass: &mut Pass,
) -> (Vec<(u32, Vec<u8>)>, Vec<u32>) {
    let mut waiting = BTreeMap::new();
    for (j, store) in m.stores.iter().enumerate() {
        let Ok(j) = u8::try_from(j) else { continue };
        if j == index || pass.silent.contains(store) {
            continue;
        }
        let request = PeerShardRequest { object_id: m.object_id, index: j, first_stripe: first, count };
        shared.network.send(store, &Message::ShardRequest(request));
        waiting.insert(*store, j);
    }
    let mut answers = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + SHARD_ANSWER_TIMEOUT;
    let mut rebuilt = rebuild(m, index, lost, &answers);
    while !waiting.is_empty() && !rebuilt.1.is_empty() {
        let Ok(Some((from, answer))) = tokio::time::timeout_at(deadline, pass.inbox.recv()).await else { break };
        // Only the answer to this batch, from a store asked, about its own index.
        let expected = waiting.get(&from) == Some(&answer.index);
        if expected && answer.object_id == m.object_id && answer.first_stripe == first {
            waiting.remove(&from);
            answers.insert(from, answer);
            if answers.len() >= usize::from(m.threshold) {
                rebuilt = rebuild(m, index, lost, &answers);
            }
        }
    }
    if tokio::time::Instant::now() >= deadline {
        for store in waiting.keys() {
            tracing::warn!(peer = %store.short(), object = %m.object_id, "vault: a store did not answer for its shards");
            pass.silent.insert(*store);
        }
    }
    rebuilt
}

/// Rebuilds shard `index` of each `lost` stripe from the stores' answers: each answered
/// shard is used only if it is the one the manifest lists at its store's position, and
/// the rebuilt shard only if its hash is the manifest's. Returns the rebuilt shards and
/// the stripes left missing.
pub fn rebuild(
    m: &VaultManifest,
    index: u8,
    lost: &[u32],
    answers: &BTreeMap<NodeId, PeerShards>,
) -> (Vec<(u32, Vec<u8>)>, Vec<u32>) {
    let (k, n) = (usize::from(m.threshold), usize::from(m.fragments));
    let (mut rebuilt, mut missing) = (Vec::new(), Vec::new());
    for &stripe in lost {
        let intact: BTreeMap<u8, &[u8]> = answers
            .iter()
            .filter(|(from, a)| m.stores.get(usize::from(a.index)) == Some(*from))
            .filter_map(|(_, a)| {
                let bytes = a.shards.get(stripe.checked_sub(a.first_stripe)? as usize)?;
                (m.fragment_hash(stripe, a.index) == Some(fragment_hash(bytes))).then_some((a.index, bytes.as_slice()))
            })
            .collect();
        match erasure::rebuild_shard(k, n, &intact, index) {
            Ok(shard) if m.fragment_hash(stripe, index) == Some(fragment_hash(&shard)) => rebuilt.push((stripe, shard)),
            _ => missing.push(stripe),
        }
    }
    (rebuilt, missing)
}

/// Whether this start should repair the vault: the node recovers its state from its
/// peers (its shards went with its data), or its fragment store was created now on a
/// chain past genesis.
pub fn needed(recovering: bool, fragments_were_there: bool, height: vigil_protocol::Height) -> bool {
    recovering || (!fragments_were_there && height.0 > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_protocol::{Address, Hash32, UserId};

    /// A 3-stripe object over stores 1, 2, 3 (k = 2, n = 3), and its shards.
    fn object() -> (VaultManifest, Vec<Vec<Vec<u8>>>) {
        let stripes: Vec<Vec<Vec<u8>>> =
            (0..3u8).map(|s| erasure::encode(3, vec![vec![s; 8], vec![s ^ 0x5a; 8]]).expect("encode")).collect();
        let m = VaultManifest {
            object_id: Hash32([7; 32]),
            owner: Address([1; 20]),
            user_id: UserId::new("dana").expect("user id"),
            threshold: 2,
            fragments: 3,
            shard_bytes: 8,
            chunk_bytes: 8,
            plaintext_len: 40,
            ciphertext_len: 48,
            stores: (1..=3).map(|i| NodeId([i; 32])).collect(),
            fragment_hashes: stripes.iter().flatten().map(|s| fragment_hash(s)).collect(),
            label: String::new(),
        };
        (m, stripes)
    }

    fn answer(m: &VaultManifest, index: u8, shards: Vec<Vec<u8>>) -> (NodeId, PeerShards) {
        let from = m.stores[usize::from(index)];
        (from, PeerShards { object_id: m.object_id, index, first_stripe: 0, shards })
    }

    #[test]
    fn a_lost_shard_is_rebuilt_from_k_other_stores_and_checked() {
        let (m, stripes) = object();
        let column = |i: usize| stripes.iter().map(|s| s[i].clone()).collect::<Vec<_>>();
        let answers = BTreeMap::from([answer(&m, 1, column(1)), answer(&m, 2, column(2))]);
        let (rebuilt, missing) = rebuild(&m, 0, &[0, 1, 2], &answers);
        assert!(missing.is_empty());
        assert_eq!(rebuilt, (0..3).map(|s| (s as u32, stripes[s][0].clone())).collect::<Vec<_>>());
    }

    #[test]
    fn a_bad_or_misplaced_shard_is_not_used_and_the_stripe_is_reported_missing() {
        let (m, stripes) = object();
        let column = |i: usize| stripes.iter().map(|s| s[i].clone()).collect::<Vec<_>>();
        // Store 2 (index 1) lies about stripe 1; store 3 sends its shards as index 1's.
        let mut lying = column(1);
        lying[1][0] ^= 1;
        let (from3, mut misplaced) = answer(&m, 2, column(2));
        misplaced.index = 1;
        let answers = BTreeMap::from([answer(&m, 1, lying), (from3, misplaced)]);
        let (rebuilt, missing) = rebuild(&m, 0, &[0, 1, 2], &answers);
        assert!(rebuilt.is_empty(), "one honest shard per stripe is not k: {rebuilt:?}");
        assert_eq!(missing, vec![0, 1, 2]);

        // With store 3 honest, only the stripe store 2 lied about needs both others.
        let answers = BTreeMap::from([
            answer(&m, 1, {
                let mut c = column(1);
                c[1][0] ^= 1;
                c
            }),
            answer(&m, 2, column(2)),
        ]);
        let (rebuilt, missing) = rebuild(&m, 0, &[0, 1, 2], &answers);
        assert_eq!(rebuilt.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(missing, vec![1]);
    }

    #[test]
    fn repair_runs_after_a_recovery_or_when_the_fragment_store_is_new_on_a_running_chain() {
        use vigil_protocol::Height;
        assert!(needed(true, true, Height(0)));
        assert!(needed(false, false, Height(9)));
        assert!(!needed(false, false, Height(0)), "a new chain has nothing to repair");
        assert!(!needed(false, true, Height(9)));
    }
}
