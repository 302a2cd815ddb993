//! Two chains in one test, each a real `Ledger` whose blocks are certified by its own
//! validators: a connection each way, then packets carried between them as a relayer
//! would, and every way a Byzantine relayer, client or chain can try to break exactly
//! once or conservation.

use std::collections::BTreeMap;

use vigil_protocol::crosschain::*;
use vigil_protocol::verifier::ConflictingHeaders;
use vigil_protocol::*;

use crate::capability::admit;
use crate::consensus::Rejection;
use crate::execution::testkit::*;
use crate::execution::*;

struct Chain {
    f: Fixture,
    ledger: Ledger,
    /// The newest block's certified header.
    header: Option<CertifiedHeader>,
    /// Transactions built and not yet run, per sender (their nonces follow the ledger's).
    pending: BTreeMap<Address, u64>,
}

fn relayer() -> SecretKey {
    SecretKey::from_seed([60; 32])
}

fn addr(key: &SecretKey) -> Address {
    Address::from_public_key(&key.public_key())
}

fn bob() -> SecretKey {
    SecretKey::from_seed([61; 32])
}

impl Chain {
    fn new(name: &str, first: u8, mode: ConsensusMode) -> Self {
        let mut f = fixture_on(name, first);
        f.genesis.mode = mode;
        let ledger = Ledger::genesis(&f.genesis).unwrap();
        let mut chain = Chain { f, ledger, header: None, pending: BTreeMap::new() };
        let alice = chain.f.alice.clone();
        let fund = [relayer(), bob()]
            .iter()
            .map(|k| chain.tx(&alice, Payload::Transfer(Transfer { to: addr(k), amount: Amount(100) })))
            .collect();
        assert_eq!(chain.run(fund), vec![TxStatus::Success; 2]);
        chain
    }

    fn id(&self) -> ChainId {
        self.f.genesis.chain_id.clone()
    }

    fn tx(&mut self, key: &SecretKey, payload: Payload) -> SignedTransaction {
        let pending = self.pending.entry(addr(key)).or_default();
        let signed = tx(&self.f, key, self.ledger.account(&addr(key)).nonce.0 + *pending, payload);
        *pending += 1;
        signed
    }

    /// Commits `txs` as one block (each must be allowed in a block) and certifies it.
    fn run(&mut self, txs: Vec<SignedTransaction>) -> Vec<TxStatus> {
        let (b, exec) = block(&self.ledger, txs);
        let statuses = exec.entries.iter().map(|e| e.status).collect();
        self.pending.clear();
        self.header = Some(self.certify(b.header.clone(), 3));
        self.ledger.commit(&b, exec).unwrap();
        statuses
    }

    fn empty(&mut self, blocks: usize) {
        for _ in 0..blocks {
            self.run(vec![]);
        }
    }

    fn certify(&self, header: BlockHeader, signers: usize) -> CertifiedHeader {
        let kind = match header.mode {
            ConsensusMode::Fast => VoteKind::Ack,
            ConsensusMode::Bft => VoteKind::Precommit,
        };
        let data = VoteData {
            chain_id: header.chain_id.clone(),
            height: header.height,
            view: header.view,
            block_hash: header.hash(),
            kind,
        };
        let set = self.ledger.validators_at(header.height);
        let votes: Vec<Vote> = set.validators()[..signers]
            .iter()
            .map(|v| {
                let key = self.f.validator_keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == v.id);
                data.sign(v.id, key.unwrap())
            })
            .collect();
        let cert = QuorumCert::from_votes(data.clone(), &votes, set).unwrap_or_else(|_| {
            let mut signers_bitmap = SignerBitmap::empty(set.len());
            (0..signers).for_each(|i| signers_bitmap.set(i));
            QuorumCert { data, signers: signers_bitmap, signatures: votes.iter().map(|v| v.signature).collect() }
        });
        CertifiedHeader { header, cert }
    }

    /// `key` proven at the newest height, the certified header carried.
    fn prove(&self, key: &StateKey) -> ProofAt {
        let (_, proof) = self.ledger.prove(key).unwrap();
        let header = self.header.clone().unwrap();
        ProofAt { height: header.header.height, proof, header: Some(Box::new(header)) }
    }

    fn get<T: serde::de::DeserializeOwned>(&self, key: &StateKey) -> Option<T> {
        self.ledger.state(key)
    }

    fn balance(&self, key: &SecretKey) -> u64 {
        self.ledger.account(&addr(key)).balance.0
    }

    fn vouchers(&self, origin: &Chain, key: &SecretKey) -> u64 {
        self.get::<Amount>(&StateKey::Voucher(origin.id(), addr(key))).unwrap_or_default().0
    }

    fn channel(&self, other: &Chain) -> Channel {
        self.get(&StateKey::Channel(other.id())).unwrap()
    }

    /// Admission's answer; a refused transaction is dropped (its nonce free again).
    fn admit(&mut self, signed: &SignedTransaction) -> Result<(), Rejection> {
        let answer = admit(&signed.tx.payload, &self.ledger, &signed.tx.sender);
        if answer.is_err() {
            self.pending.remove(&Address::from_public_key(&signed.tx.sender));
        }
        answer
    }

    /// This chain's governance opening a connection to `other` (3 of its 4 validators).
    fn approve(&self, other: &Chain, settings: ConnectionSettings, signers: usize) -> OpenConnection {
        let set = self.ledger.validators_at(self.ledger.height().next());
        let proposal = ConnectionProposal {
            chain_id: self.id(),
            counterparty: other.id(),
            root_set: other.f.genesis.validators.clone(),
            root_from: Height(1),
            settings,
            approving_set: set.hash(),
            opening: self.get::<ClientState>(&StateKey::Connection(other.id())).map_or(0, |c| c.openings),
            valid_through: Height(self.ledger.height().0 + 100),
        };
        let approvals: Vec<(NodeId, Signature)> = self.f.validator_keys[..signers]
            .iter()
            .map(|k| (NodeId::from_public_key(&k.public_key()), proposal.sign(k)))
            .collect();
        OpenConnection::new(proposal, &approvals, set).unwrap()
    }

    fn open(&mut self, other: &Chain, settings: ConnectionSettings) {
        let open = self.approve(other, settings, 3);
        let alice = self.f.alice.clone();
        let signed = self.tx(&alice, Payload::OpenConnection(Box::new(open)));
        assert_eq!(self.run(vec![signed]), vec![TxStatus::Success]);
    }

    /// Alice sends `amount` of `asset` to Bob on `to`; returns the packet committed.
    fn send(&mut self, to: &Chain, asset: CrossAsset, amount: u64, timeout_in: u64) -> Packet {
        let who = if asset == CrossAsset::Native { self.f.alice.clone() } else { bob() };
        let send = CrossTransfer {
            to_chain: to.id(),
            to: addr(&bob()),
            asset,
            amount: Amount(amount),
            relayer_fee: Amount(5),
            timeout: PacketTimeout { height: Height(to.ledger.height().0 + timeout_in), source_height: Height(0) },
        };
        let signed = self.tx(&who, Payload::CrossTransfer(Box::new(send)));
        let nonce = signed.tx.nonce.0;
        assert_eq!(self.run(vec![signed]), vec![TxStatus::Success]);
        let sent: SentPacket = self.get(&StateKey::SentPacket(addr(&who), nonce)).unwrap();
        assert_eq!((&sent.destination, sent.sequence), (&to.id(), self.channel(to).next_sequence - 1));
        self.get(&StateKey::Packet(to.id(), sent.sequence)).unwrap()
    }

    fn receive_tx(&mut self, from: &Chain, packet: &Packet) -> SignedTransaction {
        let recv = ReceivePacket { packet: packet.clone(), proof: from.prove(&packet.commitment_key()) };
        self.tx(&relayer(), Payload::ReceivePacket(Box::new(Batch(vec![recv]))))
    }

    fn ack_tx(&mut self, to: &Chain, packet: &Packet) -> SignedTransaction {
        let receipt: PacketReceipt = to.get(&packet.receipt_key()).unwrap();
        let ack = Acknowledge { packet: packet.clone(), receipt, proof: to.prove(&packet.receipt_key()) };
        self.tx(&relayer(), Payload::Acknowledge(Box::new(Batch(vec![ack]))))
    }
}

fn fast_final() -> ConnectionSettings {
    ConnectionSettings { fast_final: true, expiry_heights: 1_000 }
}

/// Two Fast-mode chains, each with a client of the other that acts on Fast headers.
fn connected() -> (Chain, Chain) {
    let (mut a, mut b) =
        (Chain::new("chain-a", 1, ConsensusMode::Fast), Chain::new("chain-b", 11, ConsensusMode::Fast));
    a.open(&b, fast_final());
    b.open(&a, fast_final());
    (a, b)
}

/// Escrowed on one chain = vouchers on the other, once nothing is in flight.
fn conserved(a: &Chain, b: &Chain) {
    assert_eq!(a.channel(b).escrowed, b.channel(a).vouchers, "A's coin escrowed on A = its vouchers on B");
    assert_eq!(b.channel(a).escrowed, a.channel(b).vouchers, "B's coin escrowed on B = its vouchers on A");
}

#[test]
fn a_transfer_goes_across_is_acknowledged_and_comes_back_home() {
    let (mut a, mut b) = connected();
    let alice = a.f.alice.clone();
    let (alice_before, relayer_before) = (a.balance(&alice), a.balance(&relayer()));
    let packet = a.send(&b, CrossAsset::Native, 100, 50);
    assert_eq!(a.balance(&alice), alice_before - 100 - 5 - 1, "amount, relayer fee and the transaction's fee");
    assert_eq!((a.channel(&b).escrowed, a.channel(&b).fees_held), (Amount(100), Amount(5)));
    let recv = b.receive_tx(&a, &packet);
    assert_eq!(b.run(vec![recv]), vec![TxStatus::Success]);
    assert_eq!(b.vouchers(&a, &bob()), 100);
    let receipt: PacketReceipt = b.get(&packet.receipt_key()).unwrap();
    assert_eq!((receipt.relayer, receipt.credited), (addr(&relayer()), true));
    let ack = a.ack_tx(&b, &packet);
    assert_eq!(a.run(vec![ack]), vec![TxStatus::Success]);
    assert_eq!(a.get::<Packet>(&packet.commitment_key()), None, "settled: the commitment is gone");
    assert_eq!(a.balance(&relayer()), relayer_before + 5 - 1, "the delivering relayer paid, less its own fee");
    conserved(&a, &b);

    // Bob sends 40 of his vouchers home to himself on A: burnt on B, released on A.
    let home = b.send(&a, CrossAsset::Voucher, 40, 50);
    assert_eq!((home.asset.clone(), b.vouchers(&a, &bob())), (a.id(), 60));
    let recv = a.receive_tx(&b, &home);
    assert_eq!(a.run(vec![recv]), vec![TxStatus::Success]);
    assert_eq!(a.balance(&bob()), 100 + 40, "A's own coin released from escrow");
    let ack = b.ack_tx(&a, &home);
    assert_eq!(b.run(vec![ack]), vec![TxStatus::Success]);
    assert_eq!(a.channel(&b).escrowed, Amount(60));
    conserved(&a, &b);
}

/// Exactly once: a second receive, a second acknowledgement, a timeout after the
/// acknowledgement — each refused at admission, and in a block a failure that pays its
/// fee and changes nothing else.
#[test]
fn a_packet_is_received_once_and_settled_once() {
    let (mut a, mut b) = connected();
    let packet = a.send(&b, CrossAsset::Native, 100, 50);
    let (first, second) = (b.receive_tx(&a, &packet), b.receive_tx(&a, &packet));
    assert_eq!(
        b.run(vec![first, second]),
        vec![TxStatus::Success, TxStatus::Failed(FailureCode::PacketAlreadyReceived)]
    );
    let again = b.receive_tx(&a, &packet);
    assert_eq!(b.admit(&again), Err(Rejection::PacketAlreadyReceived));
    assert_eq!(b.vouchers(&a, &bob()), 100, "credited once");
    let (ack1, ack2) = (a.ack_tx(&b, &packet), a.ack_tx(&b, &packet));
    assert_eq!(a.run(vec![ack1, ack2]), vec![TxStatus::Success, TxStatus::Failed(FailureCode::PacketNotPending)]);
    b.empty(50);
    let timeout = Timeout { packet: packet.clone(), proof: b.prove(&packet.receipt_key()), client: None };
    let timeout = a.tx(&relayer(), Payload::Timeout(Box::new(Batch(vec![timeout]))));
    assert_eq!(a.admit(&timeout), Err(Rejection::PacketNotPending));
    conserved(&a, &b);
}

/// A destination that never received the packet by its timeout height proves the
/// receipt absent, and the source refunds; it refuses the packet from that height on,
/// and a timeout proven while the receipt exists, or below the timeout, is refused.
#[test]
fn a_packet_not_received_by_its_timeout_is_refunded_and_never_received() {
    let (mut a, mut b) = connected();
    let alice = a.f.alice.clone();
    let before = a.balance(&alice);
    let packet = a.send(&b, CrossAsset::Native, 100, 3);
    let early = Timeout { packet: packet.clone(), proof: b.prove(&packet.receipt_key()), client: None };
    let early = a.tx(&relayer(), Payload::Timeout(Box::new(Batch(vec![early]))));
    assert!(
        matches!(a.admit(&early), Err(Rejection::InvalidPacket(m)) if m.contains("has not passed the packet's timeout"))
    );
    b.empty(3);
    let late = b.receive_tx(&a, &packet);
    assert!(matches!(b.admit(&late), Err(Rejection::PacketTimedOut(_))));
    assert_eq!(b.run(vec![late]), vec![TxStatus::Failed(FailureCode::PacketTimedOut)]);
    assert_eq!(b.get::<PacketReceipt>(&packet.receipt_key()), None);
    let timeout = Timeout { packet: packet.clone(), proof: b.prove(&packet.receipt_key()), client: None };
    let timeout = a.tx(&relayer(), Payload::Timeout(Box::new(Batch(vec![timeout]))));
    assert_eq!(a.run(vec![timeout]), vec![TxStatus::Success]);
    assert_eq!(a.balance(&alice), before - 1, "amount and relayer fee refunded; the sending fee spent");
    conserved(&a, &b);

    // A packet received in time: its timeout cannot be proven, whatever the height.
    let packet = a.send(&b, CrossAsset::Native, 10, 3);
    let recv = b.receive_tx(&a, &packet);
    assert_eq!(b.run(vec![recv]), vec![TxStatus::Success]);
    b.empty(3);
    let lie = Timeout { packet: packet.clone(), proof: b.prove(&packet.receipt_key()), client: None };
    let lie = a.tx(&relayer(), Payload::Timeout(Box::new(Batch(vec![lie]))));
    assert!(matches!(a.admit(&lie), Err(Rejection::BadPacketProof(_))));
    assert!(matches!(a.ledger.execute(&[lie]), Err(ExecuteError::Tx { why: TxInvalid::CrossChain(_), .. })));
}

/// A Byzantine relayer's forgeries: a header its chain's quorum did not certify, a
/// header of another set, a packet the source never committed, a proof against a root
/// it does not fit. Each is refused with its code, and the state is unchanged.
#[test]
fn forged_headers_packets_and_proofs_are_refused_and_change_nothing() {
    let (mut a, mut b) = connected();
    let packet = a.send(&b, CrossAsset::Native, 100, 50);
    let root = b.ledger.state_root();
    let honest = a.prove(&packet.commitment_key());
    type Attempt = (&'static str, ReceivePacket, fn(&Rejection) -> bool);
    let attempts: Vec<Attempt> = vec![
        (
            "a header two validators signed",
            ReceivePacket {
                packet: packet.clone(),
                proof: ProofAt {
                    header: Some(Box::new(a.certify(a.header.clone().unwrap().header, 2))),
                    ..honest.clone()
                },
            },
            |r| matches!(r, Rejection::BadHeader(_)),
        ),
        (
            "a header signed by strangers",
            ReceivePacket {
                packet: packet.clone(),
                proof: ProofAt { header: Some(Box::new(signed_by_strangers(&a))), ..honest.clone() },
            },
            |r| matches!(r, Rejection::BadHeader(_)),
        ),
        (
            "a packet never committed (amount raised)",
            ReceivePacket { packet: Packet { amount: Amount(1_000), ..packet.clone() }, proof: honest.clone() },
            |r| matches!(r, Rejection::BadPacketProof(_)),
        ),
        (
            "a proof of another key",
            ReceivePacket {
                packet: packet.clone(),
                proof: ProofAt { proof: a.ledger.prove(&StateKey::Channel(b.id())).unwrap().1, ..honest.clone() },
            },
            |r| matches!(r, Rejection::BadPacketProof(_)),
        ),
        (
            "no header, none kept",
            ReceivePacket { packet: packet.clone(), proof: ProofAt { header: None, ..honest.clone() } },
            |r| matches!(r, Rejection::UnknownProofHeight { .. }),
        ),
        (
            "a packet for another chain",
            ReceivePacket {
                packet: Packet { destination: ChainId::new("chain-c").unwrap(), ..packet.clone() },
                proof: honest.clone(),
            },
            |r| matches!(r, Rejection::InvalidPacket(_)),
        ),
        (
            "a packet from a chain with no connection",
            ReceivePacket {
                packet: Packet {
                    source: ChainId::new("chain-c").unwrap(),
                    asset: ChainId::new("chain-c").unwrap(),
                    ..packet.clone()
                },
                proof: honest.clone(),
            },
            |r| matches!(r, Rejection::NoConnection(_)),
        ),
    ];
    for (what, recv, expected) in attempts {
        let signed = b.tx(&relayer(), Payload::ReceivePacket(Box::new(Batch(vec![recv]))));
        let refused = b.admit(&signed).expect_err(what);
        assert!(expected(&refused), "{what}: {refused:?}");
        if !matches!(refused, Rejection::UnknownProofHeight { .. }) {
            assert!(b.ledger.execute(std::slice::from_ref(&signed)).is_err(), "{what}: may not be in a block");
        }
    }
    assert_eq!(b.ledger.state_root(), root, "nothing changed");
    let honest = b.receive_tx(&a, &packet);
    assert_eq!(b.run(vec![honest]), vec![TxStatus::Success], "the honest delivery still goes through");
}

/// `chain`'s newest header, naming and certified by a set of strangers.
fn signed_by_strangers(chain: &Chain) -> CertifiedHeader {
    let stranger = Chain::new("chain-a", 30, ConsensusMode::Fast);
    let mut header = chain.header.clone().unwrap().header;
    header.validator_set_hash = stranger.ledger.validators().hash();
    stranger.certify(header, 3)
}

/// By default a connection acts on Bft-certified headers only: a Fast chain's packets
/// wait (the header is refused) — the setting is the connection's.
#[test]
fn a_connection_acts_on_fast_headers_only_where_its_setting_says_so() {
    let (mut a, mut b) = (Chain::new("chain-a", 1, ConsensusMode::Fast), Chain::new("chain-b", 11, ConsensusMode::Bft));
    a.open(&b, ConnectionSettings::default());
    b.open(&a, ConnectionSettings::default());
    let packet = a.send(&b, CrossAsset::Native, 100, 50);
    let recv = b.receive_tx(&a, &packet);
    assert!(matches!(b.admit(&recv), Err(Rejection::BadHeader(m)) if m.contains("Fast")));
    // The other way, from the Bft chain, goes through.
    let back = {
        let b_alice = b.f.alice.clone();
        let signed = b.tx(
            &b_alice,
            Payload::CrossTransfer(Box::new(CrossTransfer {
                to_chain: a.id(),
                to: addr(&bob()),
                asset: CrossAsset::Native,
                amount: Amount(7),
                relayer_fee: Amount(0),
                timeout: PacketTimeout { height: Height(a.ledger.height().0 + 50), ..Default::default() },
            })),
        );
        assert_eq!(b.run(vec![signed]), vec![TxStatus::Success]);
        b.get::<Packet>(&StateKey::Packet(a.id(), 1)).unwrap()
    };
    let recv = a.receive_tx(&b, &back);
    assert_eq!(a.run(vec![recv]), vec![TxStatus::Success]);
    assert_eq!(a.vouchers(&b, &bob()), 7);
}

/// Governance: a connection opens only with a quorum of the set in force, once; a
/// client nobody updates expires and acts on nothing; two conflicting certified headers
/// freeze it, with the evidence kept; a frozen or expired one may be opened again.
#[test]
fn opening_expiry_and_freezing_of_a_connection() {
    let (mut a, mut b) =
        (Chain::new("chain-a", 1, ConsensusMode::Fast), Chain::new("chain-b", 11, ConsensusMode::Fast));
    let alice = a.f.alice.clone();
    let short = a.approve(&b, fast_final(), 2);
    let short = a.tx(&alice, Payload::OpenConnection(Box::new(short)));
    assert!(matches!(a.admit(&short), Err(Rejection::InvalidConnection(m)) if m.contains("quorum")));
    let foreign = b.approve(&a, fast_final(), 3);
    let foreign = a.tx(&alice, Payload::OpenConnection(Box::new(foreign)));
    assert!(matches!(a.admit(&foreign), Err(Rejection::InvalidConnection(_))));
    let replayed = a.approve(&b, ConnectionSettings { fast_final: true, expiry_heights: 10 }, 3);
    a.open(&b, ConnectionSettings { fast_final: true, expiry_heights: 10 });
    let twice = a.approve(&b, fast_final(), 3);
    let twice = a.tx(&alice, Payload::OpenConnection(Box::new(twice)));
    assert!(matches!(a.admit(&twice), Err(Rejection::ConnectionExists(_))));
    b.open(&a, fast_final());

    // Expiry: eleven heights without an update.
    a.empty(11);
    let send = CrossTransfer {
        to_chain: b.id(),
        to: addr(&bob()),
        asset: CrossAsset::Native,
        amount: Amount(1),
        relayer_fee: Amount(0),
        timeout: PacketTimeout { height: Height(100), ..Default::default() },
    };
    let expired = a.tx(&alice, Payload::CrossTransfer(Box::new(send.clone())));
    assert!(matches!(a.admit(&expired), Err(Rejection::ClientExpired(_))));
    let update = UpdateClient { chain: b.id(), changes: vec![], header: b.header.clone().unwrap() };
    let update = a.tx(&relayer(), Payload::UpdateClient(Box::new(update)));
    assert!(matches!(a.admit(&update), Err(Rejection::ClientExpired(_))));
    assert_eq!(a.run(vec![update]), vec![TxStatus::Failed(FailureCode::ConnectionClosed)]);
    let replay = a.tx(&alice, Payload::OpenConnection(Box::new(replayed)));
    assert!(
        matches!(a.admit(&replay), Err(Rejection::InvalidConnection(m)) if m.contains("opening number 0")),
        "the first opening's approval does not open the expired connection again"
    );
    a.open(&b, fast_final());
    let update = UpdateClient { chain: b.id(), changes: vec![], header: b.header.clone().unwrap() };
    let update = a.tx(&relayer(), Payload::UpdateClient(Box::new(update)));
    assert_eq!(a.run(vec![update]), vec![TxStatus::Success], "opened again, it takes updates");
    assert_eq!(a.get::<ClientState>(&StateKey::Connection(b.id())).unwrap().openings, 2);

    // Freezing: B's validators certify two blocks at one height.
    let first = b.header.clone().unwrap();
    let mut other = first.header.clone();
    other.state_root = Hash32([7; 32]);
    let second = b.certify(other, 3);
    let evidence = ConflictingHeaders { first: first.clone(), second };
    let not_conflicting = ConflictingHeaders { first: first.clone(), second: first.clone() };
    let bad =
        a.tx(&relayer(), Payload::FreezeClient(Box::new(FreezeClient { chain: b.id(), evidence: not_conflicting })));
    assert!(matches!(a.admit(&bad), Err(Rejection::BadHeader(_))));
    let freeze =
        a.tx(&relayer(), Payload::FreezeClient(Box::new(FreezeClient { chain: b.id(), evidence: evidence.clone() })));
    assert_eq!(a.run(vec![freeze]), vec![TxStatus::Success]);
    let client: ClientState = a.get(&StateKey::Connection(b.id())).unwrap();
    assert_eq!(client.verifier.frozen(), Some(&evidence), "the evidence is in the state");
    let frozen = a.tx(&alice, Payload::CrossTransfer(Box::new(send)));
    assert!(matches!(a.admit(&frozen), Err(Rejection::ClientFrozen(_))));
}

/// A randomized run: transfers both ways, some delivered, some delivered twice, some
/// left to time out, acknowledgements and timeouts as they become possible. Afterwards every
/// packet is settled exactly once and the coin of each chain is conserved.
#[test]
fn a_randomized_run_settles_every_packet_once_and_conserves_both_coins() {
    let (mut a, mut b) = connected();
    // Bob gets coin on B to send too.
    let b_alice = b.f.alice.clone();
    let fund = b.tx(&b_alice, Payload::Transfer(Transfer { to: addr(&bob()), amount: Amount(300) }));
    b.run(vec![fund]);
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut outstanding: Vec<(bool, Packet)> = Vec::new(); // (from a, packet)
    for _ in 0..60 {
        let from_a = next() % 2 == 0;
        let (src, dst) = if from_a { (&mut a, &mut b) } else { (&mut b, &mut a) };
        let asset =
            if next() % 3 == 0 && src.vouchers(dst, &bob()) >= 3 { CrossAsset::Voucher } else { CrossAsset::Native };
        let native_ok =
            asset == CrossAsset::Voucher || src.balance(&if from_a { src.f.alice.clone() } else { bob() }) > 20;
        if !native_ok {
            continue;
        }
        let timeout_in = 2 + next() % 6;
        outstanding.push((from_a, src.send(dst, asset, 1 + next() % 3, timeout_in)));
        // Deliver some packets, maybe twice; let others wait.
        let pick = (next() as usize) % outstanding.len();
        let (pa, packet) = outstanding[pick].clone();
        let (src, dst) = if pa { (&mut a, &mut b) } else { (&mut b, &mut a) };
        if dst.get::<PacketReceipt>(&packet.receipt_key()).is_none()
            && dst.ledger.height().next() < packet.timeout.height
        {
            let recv = dst.receive_tx(src, &packet);
            let again = dst.receive_tx(src, &packet);
            let statuses = dst.run(if next() % 2 == 0 { vec![recv, again] } else { vec![recv] });
            assert_eq!(statuses[0], TxStatus::Success);
        }
        // Settle what can be settled, in a random order of the two ways.
        settle_all(&mut a, &mut b, &mut outstanding);
        a.empty(1);
        b.empty(1);
    }
    for _ in 0..10 {
        a.empty(1);
        b.empty(1);
        settle_all(&mut a, &mut b, &mut outstanding);
    }
    assert!(outstanding.is_empty(), "{} packets left unsettled", outstanding.len());
    conserved(&a, &b);
}

/// Acknowledges every received packet and times out every expired one.
fn settle_all(a: &mut Chain, b: &mut Chain, outstanding: &mut Vec<(bool, Packet)>) {
    let mut left = Vec::new();
    for (from_a, packet) in std::mem::take(outstanding) {
        let (src, dst) = if from_a { (&mut *a, &mut *b) } else { (&mut *b, &mut *a) };
        if dst.get::<PacketReceipt>(&packet.receipt_key()).is_some() {
            let ack = src.ack_tx(dst, &packet);
            assert_eq!(src.run(vec![ack]), vec![TxStatus::Success]);
        } else if dst.ledger.height() >= packet.timeout.height {
            let timeout = Timeout { packet: packet.clone(), proof: dst.prove(&packet.receipt_key()), client: None };
            let timeout = src.tx(&relayer(), Payload::Timeout(Box::new(Batch(vec![timeout]))));
            assert_eq!(src.run(vec![timeout]), vec![TxStatus::Success]);
        } else {
            left.push((from_a, packet));
        }
    }
    *outstanding = left;
}

/// A destination stopped for a while: the packet's timeout is a source height, so once
/// the destination is back and its client of the source is updated past it, it refuses
/// the packet — even proven at an older source header — and its state proves the source
/// may refund (no receipt, and its client's newest source height, in one state).
#[test]
fn a_destination_back_after_the_source_passed_the_timeout_refuses_and_the_source_refunds() {
    let (mut a, mut b) = connected();
    let alice = a.f.alice.clone();
    let before = a.balance(&alice);
    let send = CrossTransfer {
        to_chain: b.id(),
        to: addr(&bob()),
        asset: CrossAsset::Native,
        amount: Amount(50),
        relayer_fee: Amount(2),
        timeout: PacketTimeout { height: Height(0), source_height: Height(a.ledger.height().0 + 3) },
    };
    let signed = a.tx(&alice, Payload::CrossTransfer(Box::new(send)));
    assert_eq!(a.run(vec![signed]), vec![TxStatus::Success]);
    let packet: Packet = a.get(&StateKey::Packet(b.id(), 1)).unwrap();
    let early_proof = a.prove(&packet.commitment_key());
    // B is stopped; A moves past the timeout. B comes back and a relayer carries A's newest.
    a.empty(4);
    let late = b.receive_tx(&a, &packet);
    assert!(matches!(b.admit(&late), Err(Rejection::PacketTimedOut(m)) if m.contains("source height")));
    let update = UpdateClient { chain: a.id(), changes: vec![], header: a.header.clone().unwrap() };
    let update = b.tx(&relayer(), Payload::UpdateClient(Box::new(update)));
    assert_eq!(b.run(vec![update]), vec![TxStatus::Success]);
    // An older proof, from before the timeout, is refused just the same now.
    let old = ReceivePacket { packet: packet.clone(), proof: early_proof };
    let old = b.tx(&relayer(), Payload::ReceivePacket(Box::new(Batch(vec![old]))));
    assert!(matches!(b.admit(&old), Err(Rejection::PacketTimedOut(_))));
    // Without B's client in the proof, the timeout is not shown.
    let bare = Timeout { packet: packet.clone(), proof: b.prove(&packet.receipt_key()), client: None };
    let bare = a.tx(&relayer(), Payload::Timeout(Box::new(Batch(vec![bare]))));
    assert!(matches!(a.admit(&bare), Err(Rejection::InvalidPacket(m)) if m.contains("has not passed")));
    let client_key = StateKey::Connection(a.id());
    let client: ClientState = b.get(&client_key).unwrap();
    let client_proof = b.ledger.prove(&client_key).unwrap().1;
    let mut forged = client.clone();
    forged.verifier.newest_at_least(Height(1_000_000));
    let lie = Timeout {
        packet: packet.clone(),
        proof: b.prove(&packet.receipt_key()),
        client: Some(Box::new((forged, client_proof.clone()))),
    };
    let lie = a.tx(&relayer(), Payload::Timeout(Box::new(Batch(vec![lie]))));
    assert!(matches!(a.admit(&lie), Err(Rejection::BadPacketProof(_))));
    let timeout = Timeout {
        packet: packet.clone(),
        proof: b.prove(&packet.receipt_key()),
        client: Some(Box::new((client, client_proof))),
    };
    let timeout = a.tx(&relayer(), Payload::Timeout(Box::new(Batch(vec![timeout]))));
    assert_eq!(a.run(vec![timeout]), vec![TxStatus::Success]);
    assert_eq!(a.balance(&alice), before - 1, "refunded, the sending fee spent");
    conserved(&a, &b);
}

/// A relayer's batch: packets received together, the header carried once (the later
/// proofs at that height only name it); one received already is passed over and the
/// rest credited; a packet twice in one batch, or one forged among honest ones, and the
/// whole batch may not be in a block.
#[test]
fn a_batch_carries_one_header_passes_over_what_was_done_and_refuses_forgeries_whole() {
    let (mut a, mut b) = connected();
    let packets: Vec<Packet> = (1..=4).map(|n| a.send(&b, CrossAsset::Native, n, 50)).collect();
    let first = b.receive_tx(&a, &packets[0]);
    assert_eq!(b.run(vec![first]), vec![TxStatus::Success]);
    let proof = |p: &Packet, carry: bool| {
        let mut at = a.prove(&p.commitment_key());
        if !carry {
            at.header = None;
        }
        ReceivePacket { packet: p.clone(), proof: at }
    };
    let twice = Batch(vec![proof(&packets[1], true), proof(&packets[1], false)]);
    let twice = b.tx(&relayer(), Payload::ReceivePacket(Box::new(twice)));
    assert!(matches!(b.admit(&twice), Err(Rejection::InvalidPacket(m)) if m.contains("twice")));
    let mut forged = proof(&packets[2], false);
    forged.packet.amount = Amount(1_000);
    let mixed = Batch(vec![proof(&packets[1], true), forged]);
    let mixed = b.tx(&relayer(), Payload::ReceivePacket(Box::new(mixed)));
    assert!(matches!(b.admit(&mixed), Err(Rejection::BadPacketProof(_))));
    assert!(b.ledger.execute(&[mixed]).is_err(), "a forgery among honest packets: none of it");
    let batch: Vec<ReceivePacket> = packets.iter().enumerate().map(|(i, p)| proof(p, i == 0)).collect();
    let batch = b.tx(&relayer(), Payload::ReceivePacket(Box::new(Batch(batch))));
    assert_eq!(b.run(vec![batch]), vec![TxStatus::Success]);
    assert_eq!(b.vouchers(&a, &bob()), 1 + 2 + 3 + 4, "packet 1 credited once, the others by the batch");
    let again = proof(&packets[3], true);
    let acks: Vec<Acknowledge> = packets
        .iter()
        .map(|p| {
            let receipt: PacketReceipt = b.get(&p.receipt_key()).unwrap();
            Acknowledge { packet: p.clone(), receipt, proof: b.prove(&p.receipt_key()) }
        })
        .collect();
    let acks = a.tx(&relayer(), Payload::Acknowledge(Box::new(Batch(acks))));
    assert_eq!(a.run(vec![acks]), vec![TxStatus::Success]);
    let again = b.tx(&relayer(), Payload::ReceivePacket(Box::new(Batch(vec![again]))));
    assert_eq!(b.admit(&again), Err(Rejection::PacketAlreadyReceived), "nothing left to receive");
    let empty = b.tx(&relayer(), Payload::ReceivePacket(Box::new(Batch(vec![]))));
    assert!(matches!(b.admit(&empty), Err(Rejection::InvalidPacket(_))));
    conserved(&a, &b);
}
