//! What to carry in one direction, from what the source and the destination proved.
//! Pure: the views in, the transactions' payloads out.
//!
//! For each packet the source still holds:
//! - its receipt is on the destination: **acknowledge** it on the source;
//! - no receipt, and the destination's state has passed the timeout: **time it out** on
//!   the source (with the destination's client of the source when the timeout is by
//!   source height);
//! - no receipt, and the receive would land past the timeout: if the source's header
//!   would pass it, **update** the destination's client with that header, so the timeout
//!   becomes provable; else wait for the destination to pass its height;
//! - else **receive** it on the destination, proven at the source's header.
//!
//! The destination's client is also updated when the source's validator set changed
//! beyond what it followed (a header of the new set would be refused without the
//! changes), and when it nears its expiry.

use std::collections::BTreeMap;

use serde::Serialize;
use vigil_protocol::crosschain::{
    Acknowledge, Batch, ClientState, Packet, PacketReceipt, ProofAt, ReceivePacket, Timeout, UpdateClient,
    PACKETS_PER_TX_MAX, UPDATE_CHANGES_MAX,
};
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::limits::TRANSACTION_SIZE_MAX_BYTES;
use vigil_protocol::{CertifiedHeader, ChainId, Height, Payload, SetChange, StateProof};

/// The source's side: its packets still outstanding, each proven at its header.
#[derive(Debug, Clone)]
pub struct SourceView {
    pub chain: ChainId,
    /// The newest certified header read (what an update carries).
    pub header: CertifiedHeader,
    pub packets: Vec<(Packet, ProofAt)>,
    /// Every certified validator-set change of the source since genesis.
    pub set_changes: Vec<SetChange>,
}

/// The destination's side of one packet, proven at one of its heights.
#[derive(Debug, Clone)]
pub struct Destination {
    pub receipt: Option<PacketReceipt>,
    /// The receipt (or its absence) proven.
    pub proof: ProofAt,
    /// The destination's client of the source, proven in the same state.
    pub client: Option<(ClientState, StateProof)>,
}

/// What a carried transaction does, for the log and to avoid carrying it twice at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Update,
    Receive(u64),
    Acknowledge(u64),
    Timeout(u64),
}

/// One thing to carry.
#[derive(Debug, Clone)]
pub enum Item {
    Update(UpdateClient),
    Receive(ReceivePacket),
    Acknowledge(Acknowledge),
    Timeout(Timeout),
}

/// What to carry to each chain of the direction, packet by packet.
#[derive(Debug, Default)]
pub struct Plan {
    pub to_destination: Vec<(Step, Item)>,
    pub to_source: Vec<(Step, Item)>,
}

/// Room a transaction takes beside its batch (chain, sender, nonce, fee, signature, the
/// payload's tag and the batch's length); generous, so a batch within
/// [`BATCH_BYTES_MAX`] always makes a transaction within the chain's size limit.
pub const ENVELOPE_BYTES_MAX: usize = 1024;
/// Most bytes one batch's packets may encode to.
pub const BATCH_BYTES_MAX: usize = TRANSACTION_SIZE_MAX_BYTES - ENVELOPE_BYTES_MAX;

/// `items` as transactions: an update alone, packets of one step in batches at one proof
/// height, each of at most `PACKETS_PER_TX_MAX` packets and [`BATCH_BYTES_MAX`] bytes
/// (proofs and the clients timeouts carry are large: a full batch of them would be
/// refused as too large), only the first of each batch carrying the header (the others
/// are checked against the root it gave). Each transaction with the steps it carries.
pub fn batches(items: Vec<(Step, Item)>) -> Vec<(Vec<Step>, Payload)> {
    let mut out = Vec::new();
    let mut receives: BTreeMap<Height, Vec<(Step, ReceivePacket)>> = BTreeMap::new();
    let mut acks: BTreeMap<Height, Vec<(Step, Acknowledge)>> = BTreeMap::new();
    let mut timeouts: BTreeMap<Height, Vec<(Step, Timeout)>> = BTreeMap::new();
    for (step, item) in items {
        match item {
            Item::Update(u) => out.push((vec![step], Payload::UpdateClient(Box::new(u)))),
            Item::Receive(r) => receives.entry(r.proof.height).or_default().push((step, r)),
            Item::Acknowledge(a) => acks.entry(a.proof.height).or_default().push((step, a)),
            Item::Timeout(t) => timeouts.entry(t.proof.height).or_default().push((step, t)),
        }
    }
    out.extend(grouped(receives, |r| &mut r.proof, |b| Payload::ReceivePacket(Box::new(b))));
    out.extend(grouped(acks, |a| &mut a.proof, |b| Payload::Acknowledge(Box::new(b))));
    out.extend(grouped(timeouts, |t| &mut t.proof, |b| Payload::Timeout(Box::new(b))));
    out
}

fn grouped<T: Serialize>(
    by_height: BTreeMap<Height, Vec<(Step, T)>>,
    proof: impl Fn(&mut T) -> &mut ProofAt,
    payload: impl Fn(Batch<T>) -> Payload,
) -> Vec<(Vec<Step>, Payload)> {
    let mut out = Vec::new();
    for (_, items) in by_height {
        let mut header = None;
        let (mut steps, mut batch, mut bytes) = (Vec::new(), Vec::new(), 0);
        for (step, mut item) in items {
            // The proofs at one height share its header: the first of a batch carries it.
            let own = proof(&mut item).header.take();
            header = header.or(own);
            let mut size = to_bytes(&item).len();
            let full = batch.len() == PACKETS_PER_TX_MAX || bytes + size > BATCH_BYTES_MAX;
            if !batch.is_empty() && full {
                out.push((std::mem::take(&mut steps), payload(Batch(std::mem::take(&mut batch)))));
                bytes = 0;
            }
            if batch.is_empty() {
                proof(&mut item).header = header.clone();
                size = to_bytes(&item).len();
            }
            bytes += size;
            steps.push(step);
            batch.push(item);
        }
        if !batch.is_empty() {
            out.push((steps, payload(Batch(batch))));
        }
    }
    out
}

/// What to carry for `source.packets`, `destinations` holding the destination's side of
/// each (in the same order). `client` is the destination's client of the source and
/// `destination_height` the height it was proven at, the newest read.
pub fn plan(
    source: &SourceView,
    destinations: &[Destination],
    client: Option<&ClientState>,
    destination_height: Height,
) -> Plan {
    let mut out = Plan::default();
    let mut update = client.is_some_and(|c| needs_update(c, source, destination_height));
    let source_height = source.header.header.height;
    for ((packet, proof), dest) in source.packets.iter().zip(destinations) {
        let seq = packet.sequence;
        let client_newest = dest.client.as_ref().map_or(Height(0), |(c, _)| c.verifier.newest());
        let at = dest.proof.height;
        if let Some(receipt) = &dest.receipt {
            let ack = Acknowledge { packet: packet.clone(), receipt: receipt.clone(), proof: dest.proof.clone() };
            out.to_source.push((Step::Acknowledge(seq), Item::Acknowledge(ack)));
        } else if packet.timeout.passed(at, client_newest) {
            let by_height = packet.timeout.height.0 != 0 && at >= packet.timeout.height;
            let client = if by_height { None } else { dest.client.clone().map(Box::new) };
            let timeout = Timeout { packet: packet.clone(), proof: dest.proof.clone(), client };
            out.to_source.push((Step::Timeout(seq), Item::Timeout(timeout)));
        } else if packet.timeout.passed(destination_height.next(), client_newest.max(source_height)) {
            // Received now it would be refused; once the destination knows the source
            // moved past the timeout, the timeout is provable.
            update |= packet.timeout.source_height.0 != 0 && source_height >= packet.timeout.source_height;
        } else {
            let receive = ReceivePacket { packet: packet.clone(), proof: proof.clone() };
            out.to_destination.push((Step::Receive(seq), Item::Receive(receive)));
        }
    }
    if update {
        let followed_from = client.map_or(Height(0), |c| c.verifier.followed_from());
        let pending = source.set_changes.iter().filter(|c| c.certified.header.height >= followed_from);
        let update = update_of(&source.chain, pending, &source.header);
        out.to_destination.insert(0, (Step::Update, Item::Update(update)));
    }
    out
}

/// An update carrying the `pending` set changes (oldest first) and `newest`, the
/// source's newest header. When they do not all fit in one transaction (at most
/// `UPDATE_CHANGES_MAX` changes, [`BATCH_BYTES_MAX`] bytes: a change carries a whole
/// validator set), the update takes those that fit and ends at the last one's own
/// header, which the set before it certified: the client can check it with what it
/// follows by then, and the next update goes on from there.
fn update_of<'a>(
    chain: &ChainId,
    pending: impl Iterator<Item = &'a SetChange>,
    newest: &CertifiedHeader,
) -> UpdateClient {
    let newest_bytes = to_bytes(newest).len();
    let (mut changes, mut bytes, mut all) = (Vec::new(), 0, true);
    for change in pending {
        let size = to_bytes(change).len();
        let header_bytes = newest_bytes.max(to_bytes(&change.certified).len());
        let fits = changes.len() < UPDATE_CHANGES_MAX && bytes + size + header_bytes <= BATCH_BYTES_MAX;
        // One change too large for any transaction still goes alone: it cannot be cut.
        if !fits && !changes.is_empty() {
            all = false;
            break;
        }
        bytes += size;
        changes.push(change.clone());
    }
    let header = match changes.last() {
        Some(last) if !all => last.certified.clone(),
        _ => newest.clone(),
    };
    UpdateClient { chain: chain.clone(), changes, header }
}

/// The destination's client lacks set changes of the source, or is past half its expiry.
fn needs_update(client: &ClientState, source: &SourceView, destination_height: Height) -> bool {
    let followed_from = client.verifier.followed_from();
    let behind = source.set_changes.iter().any(|c| c.certified.header.height >= followed_from);
    let half = client.settings.expiry_heights / 2;
    behind || destination_height.0 >= client.updated_at.0.saturating_add(half)
}

#[cfg(test)]
mod tests {
    use vigil_protocol::crosschain::{ConnectionProposal, ConnectionSettings, PacketTimeout};
    use vigil_protocol::encoding::from_bytes;
    use vigil_protocol::*;

    use super::*;

    fn chain(name: &str) -> ChainId {
        ChainId::new(name).unwrap()
    }

    fn set() -> ValidatorSet {
        let key = SecretKey::from_seed([1; 32]);
        ValidatorSet::new(vec![ValidatorInfo::new("v", key.public_key(), EncryptionKey([1; 32]), P2pKey([2; 32]))])
            .unwrap()
    }

    fn header(height: u64) -> CertifiedHeader {
        let header = BlockHeader {
            chain_id: chain("src"),
            height: Height(height),
            view: View(0),
            parent_hash: Hash32([0; 32]),
            tx_root: Hash32([0; 32]),
            receipts_root: Hash32([0; 32]),
            state_root: Hash32([0; 32]),
            validator_set_hash: set().hash(),
            next_validator_set_hash: set().hash(),
            mode: ConsensusMode::Fast,
            proposer: set().validators()[0].id,
            time_ms: 0,
        };
        let data = VoteData {
            chain_id: chain("src"),
            height: Height(height),
            view: View(0),
            block_hash: header.hash(),
            kind: VoteKind::Ack,
        };
        CertifiedHeader { header, cert: QuorumCert { data, signers: SignerBitmap::empty(1), signatures: vec![] } }
    }

    fn proof(height: u64) -> ProofAt {
        ProofAt { height: Height(height), proof: from_bytes(&[0, 0]).unwrap(), header: Some(Box::new(header(height))) }
    }

    fn packet(sequence: u64, timeout: PacketTimeout) -> Packet {
        Packet {
            source: chain("src"),
            destination: chain("dst"),
            sequence,
            sender: Address::from_public_key(&SecretKey::from_seed([3; 32]).public_key()),
            receiver: Address::from_public_key(&SecretKey::from_seed([4; 32]).public_key()),
            asset: chain("src"),
            amount: Amount(5),
            relayer_fee: Amount(1),
            timeout,
        }
    }

    /// The destination's connection to the source, trusting `root` from height 1.
    fn proposal(root: &ValidatorSet, fast_final: bool) -> ConnectionProposal {
        ConnectionProposal {
            chain_id: chain("dst"),
            counterparty: chain("src"),
            root_set: root.clone(),
            root_from: Height(1),
            settings: ConnectionSettings { fast_final, expiry_heights: 1_000 },
            approving_set: set().hash(),
            opening: 0,
            valid_through: Height(10),
        }
    }

    /// The destination's client of the source, having verified it up to `newest`.
    fn client(newest: u64) -> ClientState {
        let mut client = proposal(&set(), true).client(Height(1));
        client.verifier.newest_at_least(Height(newest));
        client
    }

    /// The size of a transaction carrying `payload`, signed.
    fn signed_size(payload: Payload) -> usize {
        let key = SecretKey::from_seed([9; 32]);
        let tx = Transaction {
            chain_id: chain("dst"),
            sender: key.public_key(),
            nonce: Nonce(u64::MAX),
            fee: Amount(u64::MAX),
            payload,
        };
        to_bytes(&tx.sign(&key)).len()
    }

    fn dest(receipt: bool, at: u64, newest: u64) -> Destination {
        let receipt = receipt.then(|| PacketReceipt {
            relayer: packet(1, by_height(9)).sender,
            credited: true,
            height: Height(3),
        });
        Destination { receipt, proof: proof(at), client: Some((client(newest), from_bytes(&[0, 0]).unwrap())) }
    }

    fn by_height(h: u64) -> PacketTimeout {
        PacketTimeout { height: Height(h), source_height: Height(0) }
    }

    fn by_source(h: u64) -> PacketTimeout {
        PacketTimeout { height: Height(0), source_height: Height(h) }
    }

    fn steps(items: &[(Step, Item)]) -> Vec<Step> {
        items.iter().map(|(s, _)| *s).collect()
    }

    #[test]
    fn each_packet_is_received_acknowledged_timed_out_or_waits_by_what_both_chains_proved() {
        let source = SourceView {
            chain: chain("src"),
            header: header(20),
            packets: vec![
                (packet(1, by_height(50)), proof(20)), // received already: acknowledge
                (packet(2, by_height(10)), proof(20)), // destination at 12, no receipt: time out
                (packet(3, by_source(15)), proof(20)), // the client saw 16: time out with it
                (packet(4, by_height(50)), proof(20)), // receive
                (packet(5, by_height(13)), proof(20)), // lands at 13, past its timeout: wait
            ],
            set_changes: vec![],
        };
        let dests =
            [dest(true, 12, 16), dest(false, 12, 16), dest(false, 12, 16), dest(false, 12, 16), dest(false, 12, 16)];
        let plan = plan(&source, &dests, Some(&client(16)), Height(12));
        assert_eq!(steps(&plan.to_source), [Step::Acknowledge(1), Step::Timeout(2), Step::Timeout(3)]);
        assert_eq!(steps(&plan.to_destination), [Step::Receive(4)]);
        let timeouts: Vec<bool> = plan
            .to_source
            .iter()
            .filter_map(|(_, p)| match p {
                Item::Timeout(t) => Some(t.client.is_some()),
                _ => None,
            })
            .collect();
        assert_eq!(timeouts, [false, true], "the client's proof only where the source height decides");
    }

    /// Packets at one proof height go in batches of at most the bound, the header carried
    /// by the first of each only; an update goes alone, first.
    #[test]
    fn packets_are_batched_by_height_with_one_header_each() {
        let receive = |seq: u64, height: u64| {
            (
                Step::Receive(seq),
                Item::Receive(ReceivePacket { packet: packet(seq, by_height(99)), proof: proof(height) }),
            )
        };
        let mut items: Vec<(Step, Item)> = (1..=40).map(|s| receive(s, 20)).collect();
        items.push(receive(41, 21));
        let update = UpdateClient { chain: chain("src"), changes: vec![], header: header(21) };
        items.insert(0, (Step::Update, Item::Update(update)));
        let txs = batches(items);
        let sizes: Vec<usize> = txs.iter().map(|(steps, _)| steps.len()).collect();
        assert_eq!(sizes, [1, PACKETS_PER_TX_MAX, 40 - PACKETS_PER_TX_MAX, 1]);
        for (_, payload) in &txs[1..] {
            let Payload::ReceivePacket(batch) = payload else { panic!("{payload:?}") };
            let carried: Vec<bool> = batch.0.iter().map(|r| r.proof.header.is_some()).collect();
            assert!(carried[0] && carried[1..].iter().all(|c| !c), "{carried:?}");
        }
    }

    /// Timeouts by source height each carry the destination's client of the source, with
    /// its whole validator set: a full batch of those would be refused as too large, so
    /// batches are cut by size too, every step kept, in order.
    #[test]
    fn batches_stay_within_the_transaction_size_limit() {
        let validators = (0..100u8)
            .map(|i| {
                let key = SecretKey::from_seed([i; 32]);
                ValidatorInfo::new(
                    format!("validator-{i}"),
                    key.public_key(),
                    EncryptionKey([i; 32]),
                    P2pKey([i.wrapping_add(128); 32]),
                )
            })
            .collect();
        let large = ValidatorSet::new(validators).unwrap();
        let client = Box::new((proposal(&large, true).client(Height(1)), from_bytes(&[0, 0]).unwrap()));
        let items: Vec<(Step, Item)> = (1..=40)
            .map(|seq| {
                let timeout =
                    Timeout { packet: packet(seq, by_source(15)), proof: proof(20), client: Some(client.clone()) };
                (Step::Timeout(seq), Item::Timeout(timeout))
            })
            .collect();
        let txs = batches(items);
        assert!(txs.len() > 2, "40 timeouts of this size need more than two transactions, got {}", txs.len());
        let mut carried = Vec::new();
        for (steps, payload) in txs {
            let Payload::Timeout(batch) = &payload else { panic!("{payload:?}") };
            assert!(batch.0[0].proof.header.is_some(), "each batch's first proof carries the header");
            assert!(batch.check().is_ok());
            let size = signed_size(payload);
            assert!(size <= TRANSACTION_SIZE_MAX_BYTES, "a transaction of {size} bytes would be refused");
            carried.extend(steps);
        }
        assert_eq!(carried, (1..=40).map(Step::Timeout).collect::<Vec<_>>());
    }

    /// `n` validators (keys from `seed`) and their keys.
    fn signed_set(n: u8, seed: u8) -> (ValidatorSet, Vec<SecretKey>) {
        let keys: Vec<SecretKey> = (0..n).map(|i| SecretKey::from_seed([seed.wrapping_add(i); 32])).collect();
        let infos = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let i = i as u8;
                ValidatorInfo::new(format!("v{seed}-{i}"), k.public_key(), EncryptionKey([i; 32]), P2pKey([!i; 32]))
            })
            .collect();
        (ValidatorSet::new(infos).unwrap(), keys)
    }

    /// A Bft header of the source at `height`, certified by all of `set`, naming `next`.
    fn certified(set: &(ValidatorSet, Vec<SecretKey>), height: u64, next: &ValidatorSet) -> CertifiedHeader {
        let mut header = header(height).header;
        (header.mode, header.validator_set_hash, header.next_validator_set_hash) =
            (ConsensusMode::Bft, set.0.hash(), next.hash());
        header.proposer = set.0.validators()[0].id;
        let data = VoteData {
            chain_id: chain("src"),
            height: Height(height),
            view: View(0),
            block_hash: header.hash(),
            kind: VoteKind::Precommit,
        };
        let votes: Vec<Vote> = set.1.iter().map(|k| data.sign(NodeId::from_public_key(&k.public_key()), k)).collect();
        CertifiedHeader { header, cert: QuorumCert::from_votes(data, &votes, &set.0).unwrap() }
    }

    /// Many set changes since the destination's client last followed (more than one update
    /// may carry, or larger than one transaction): updates carry what fits, each ending at a
    /// header the client can check, until it follows the source's set in force. Each
    /// update passes the chain's own check and fits in a transaction.
    #[test]
    fn set_changes_beyond_one_update_are_carried_over_several() {
        for (validators, changes) in [(4, UPDATE_CHANGES_MAX as u64 + 5), (100, 5)] {
            let sets = [signed_set(validators, 1), signed_set(validators, 128)];
            let set_changes: Vec<SetChange> = (1..=changes)
                .map(|i| {
                    let (from, to) = (&sets[(i as usize + 1) % 2], &sets[i as usize % 2]);
                    SetChange { certified: certified(from, i * 10, &to.0), next: to.0.clone() }
                })
                .collect();
            let in_force = &sets[changes as usize % 2];
            let newest = certified(in_force, changes * 10 + 5, &in_force.0);
            let source = SourceView { chain: chain("src"), header: newest.clone(), packets: vec![], set_changes };
            let mut client = proposal(&sets[0].0, false).client(Height(1));
            let mut updates = 0;
            while let Some((Step::Update, Item::Update(update))) =
                plan(&source, &[], Some(&client), Height(2)).to_destination.into_iter().next()
            {
                assert!(update.changes.len() <= UPDATE_CHANGES_MAX);
                let done = update.header == newest;
                client = client.checked_update(&update, Height(2)).expect("the chain takes each update");
                let size = signed_size(Payload::UpdateClient(Box::new(update)));
                assert!(size <= TRANSACTION_SIZE_MAX_BYTES, "an update of {size} bytes would be refused");
                updates += 1;
                if done {
                    break;
                }
                assert!(updates < 10, "the updates do not converge");
            }
            assert!(updates > 1, "{validators} validators, {changes} changes: more than one update");
            assert_eq!(client.verifier.current_set(), &in_force.0);
            assert_eq!(client.verifier.newest(), newest.header.height);
        }
    }

    /// A packet whose source-height timeout the source passed but the destination's
    /// client has not seen: receiving it would be refused, so the client is updated
    /// first (then the timeout is provable); an idle client nearing its expiry too.
    #[test]
    fn the_destinations_client_is_updated_when_a_timeout_or_its_expiry_needs_it() {
        let source = SourceView {
            chain: chain("src"),
            header: header(20),
            packets: vec![(packet(1, by_source(18)), proof(20))],
            set_changes: vec![],
        };
        let plan1 = plan(&source, &[dest(false, 12, 10)], Some(&client(10)), Height(12));
        assert_eq!(steps(&plan1.to_destination), [Step::Update]);
        assert!(plan1.to_source.is_empty());
        // Nothing outstanding, the client past half its expiry: updated to stay alive.
        let idle = SourceView { packets: vec![], ..source };
        assert_eq!(steps(&plan(&idle, &[], Some(&client(10)), Height(499)).to_destination), []);
        assert_eq!(steps(&plan(&idle, &[], Some(&client(10)), Height(501)).to_destination), [Step::Update]);
    }
}
