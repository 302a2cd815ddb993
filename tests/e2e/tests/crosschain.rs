//! Issue 20 on two real devnets (`vigil devnet --chains 2`: 4 validators each, a gateway
//! each, the relayer): transfers both ways and back home, each step proven on its own
//! chain by the wallet core; a relayer killed mid-flight and restarted, and two relayers
//! racing, credit every transfer exactly once; a chain stopped makes transfers time out
//! and refund; forged headers and proofs are refused; both coins are conserved.

use std::time::{Duration, Instant};

use anyhow::Context;
use vigil_e2e::twonet::TwoNet;
use vigil_e2e::{seeded_key, Native};
use vigil_protocol::crosschain::{Channel, CrossAsset, CrossTransfer, Packet, PacketTimeout};
use vigil_protocol::{Address, Amount, ChainId, Height, SecretKey, StateKey};
use vigil_wallet::session::crosschain::{packet_step, PacketStep};
use vigil_wallet::session::Session;

const TAG: u8 = 0xc8;
const FUNDS: u64 = 1_000_000;

fn key(i: usize) -> SecretKey {
    seeded_key(TAG, i)
}

fn addr(k: &SecretKey) -> Address {
    Address::from_public_key(&k.public_key())
}

fn funded() -> Vec<(Address, Amount)> {
    (0..8).map(|i| (addr(&key(i)), Amount(FUNDS))).collect()
}

/// Sends `amount` of `asset` from `from` to `to` on the other chain, timing out 200
/// source heights on; the packet it committed.
async fn send(
    s: &mut Session<Native>,
    from: &SecretKey,
    to_chain: &ChainId,
    to: Address,
    asset: CrossAsset,
    amount: u64,
) -> anyhow::Result<Packet> {
    let height = s.proofs_after(&[StateKey::Consensus], None).await?.height();
    let transfer = CrossTransfer {
        to_chain: to_chain.clone(),
        to,
        asset,
        amount: Amount(amount),
        relayer_fee: Amount(3),
        timeout: PacketTimeout { height: Height(0), source_height: Height(height.0 + 200) },
    };
    let sent = s.cross_transfer(from, transfer, 1).await?;
    sent.packet.context("the transfer was not committed")
}

/// Waits until `packet` is settled on its source, returning its last step.
async fn settled(
    source: &mut Session<Native>,
    destination: &mut Session<Native>,
    packet: &Packet,
    limit: Duration,
) -> anyhow::Result<PacketStep> {
    let deadline = Instant::now() + limit;
    loop {
        let step = packet_step(source, destination, packet).await?;
        if matches!(step, PacketStep::Acknowledged(_) | PacketStep::Refunded) {
            return Ok(step);
        }
        anyhow::ensure!(Instant::now() < deadline, "packet {} still {step:?} after {limit:?}", packet.sequence);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `who`'s balance is `expected` (a node a block behind is read again).
async fn expect_balance(s: &mut Session<Native>, who: &SecretKey, expected: u64, what: &str) -> anyhow::Result<()> {
    let mut found = 0;
    for _ in 0..READ_TRIES {
        found = balance(s, who).await?;
        if found == expected {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{what}: the balance is {found}, not {expected}")
}

async fn balance(s: &mut Session<Native>, who: &SecretKey) -> anyhow::Result<u64> {
    Ok(s.account(&addr(who)).await?.balance)
}

/// Waits until `who` holds `expected` vouchers of `origin`'s coin (a node a block behind
/// is read again); fails with what it holds after a while.
async fn expect_vouchers(
    s: &mut Session<Native>,
    origin: &ChainId,
    who: &SecretKey,
    expected: u64,
) -> anyhow::Result<()> {
    let mut held = 0;
    for _ in 0..READ_TRIES {
        held = vouchers(s, origin, who).await?;
        if held == expected {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{} holds {held} vouchers of {origin}, not {expected}", addr(who))
}

async fn vouchers(s: &mut Session<Native>, origin: &ChainId, who: &SecretKey) -> anyhow::Result<u64> {
    let v: Option<Amount> = s.proofs_after(&[StateKey::Voucher(origin.clone(), addr(who))], None).await?.value(0)?;
    Ok(v.unwrap_or_default().0)
}

async fn channel(s: &mut Session<Native>, with: &ChainId) -> anyhow::Result<Channel> {
    s.proofs_after(&[StateKey::Channel(with.clone())], None).await?.value(0)?.context("no channel")
}

/// Once nothing is in flight: each chain's coin escrowed at home = its vouchers abroad,
/// and every relayer fee paid. (Read again while a node answering is a block behind the
/// last settlement; a real imbalance stays and fails.)
async fn conserved(a: &mut Session<Native>, b: &mut Session<Native>) -> anyhow::Result<()> {
    let (a_id, b_id) = (a.chain_id().clone(), b.chain_id().clone());
    let mut last = None;
    for _ in 0..READ_TRIES {
        let (on_a, on_b) = (channel(a, &b_id).await?, channel(b, &a_id).await?);
        let balanced = on_a.escrowed == on_b.vouchers
            && on_b.escrowed == on_a.vouchers
            && on_a.fees_held.0 == 0
            && on_b.fees_held.0 == 0;
        if balanced {
            return Ok(());
        }
        last = Some((on_a, on_b));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (on_a, on_b) = last.context("read")?;
    assert_eq!(on_a.escrowed, on_b.vouchers, "A's coin escrowed on A = its vouchers on B");
    assert_eq!(on_b.escrowed, on_a.vouchers, "B's coin escrowed on B = its vouchers on A");
    assert_eq!((on_a.fees_held, on_b.fees_held), (Amount(0), Amount(0)), "every relayer fee paid");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transfers_go_both_ways_and_come_back_home() -> anyhow::Result<()> {
    let net = TwoNet::start(funded()).await?;
    let (mut a, mut b) = (net.session(0).await?, net.session(1).await?);
    let (a_id, b_id) = (a.chain_id().clone(), b.chain_id().clone());
    let (alice, bob, carol) = (key(0), key(1), key(2));
    let limit = Duration::from_secs(30);

    // A's coin to Bob on B: escrowed on A, a voucher on B.
    let before = balance(&mut a, &alice).await?;
    let packet = send(&mut a, &alice, &b_id, addr(&bob), CrossAsset::Native, 1_000).await?;
    let step = settled(&mut a, &mut b, &packet, limit).await?;
    assert!(matches!(step, PacketStep::Acknowledged(ref r) if r.credited), "{step:?}");
    expect_vouchers(&mut b, &a_id, &bob, 1_000).await?;
    expect_balance(&mut a, &alice, before - 1_000 - 3 - 1, "amount, relayer fee, fee").await?;

    // B's coin to Carol on A, the other way.
    let packet = send(&mut b, &bob, &a_id, addr(&carol), CrossAsset::Native, 700).await?;
    settled(&mut b, &mut a, &packet, limit).await?;
    expect_vouchers(&mut a, &b_id, &carol, 700).await?;

    // Bob's vouchers of A's coin go home to Alice: burnt on B, released from A's escrow.
    let before = balance(&mut a, &alice).await?;
    let packet = send(&mut b, &bob, &a_id, addr(&alice), CrossAsset::Voucher, 400).await?;
    settled(&mut b, &mut a, &packet, limit).await?;
    expect_vouchers(&mut b, &a_id, &bob, 600).await?;
    expect_balance(&mut a, &alice, before + 400, "released from escrow").await?;
    conserved(&mut a, &mut b).await
}

/// Sends `count` transfers of `1..=count` from Alice on A to Bob on B, one after the
/// other (each committed before the next); their packets.
async fn send_many(
    a: &mut Session<Native>,
    b_id: &ChainId,
    count: u64,
    between: impl Fn(u64),
) -> anyhow::Result<Vec<Packet>> {
    let (alice, bob) = (key(0), key(1));
    let mut packets = Vec::new();
    for n in 1..=count {
        packets.push(send(a, &alice, b_id, addr(&bob), CrossAsset::Native, n).await?);
        between(n);
    }
    Ok(packets)
}

/// Every packet credited once: each acknowledged with a credited receipt, Bob's
/// vouchers exactly their sum, and both coins conserved.
async fn each_credited_once(net: &TwoNet, packets: &[Packet]) -> anyhow::Result<()> {
    let (mut a, mut b) = (net.session(0).await?, net.session(1).await?);
    for packet in packets {
        let step = settled(&mut a, &mut b, packet, Duration::from_secs(60)).await?;
        assert!(matches!(step, PacketStep::Acknowledged(ref r) if r.credited), "packet {}: {step:?}", packet.sequence);
    }
    let sum: u64 = packets.iter().map(|p| p.amount.0).sum();
    let a_id = a.chain_id().clone();
    let mut last_receipt = Height(0);
    for packet in packets {
        if let PacketStep::Acknowledged(r) = packet_step(&mut a, &mut b, packet).await? {
            last_receipt = last_receipt.max(r.height);
        }
    }
    let (held, _) = vouchers_since(&mut b, &a_id, &key(1), last_receipt).await?;
    assert_eq!(held, sum, "credited once each, never twice");
    conserved(&mut a, &mut b).await
}

/// The relayer is killed (SIGKILL) while transfers are on their way, and started
/// again: it keeps nothing, reads what is still to carry from the chains, and every
/// transfer completes exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relayer_killed_mid_flight_and_restarted_completes_every_transfer_once() -> anyhow::Result<()> {
    let mut net = TwoNet::start(funded()).await?;
    let (mut a, b) = (net.session(0).await?, net.session(1).await?);
    let b_id = b.chain_id().clone();
    let mut packets = send_many(&mut a, &b_id, 6, |_| {}).await?;
    net.kill("relayer")?;
    packets.extend(send_many(&mut a, &b_id, 6, |_| {}).await?);
    net.start_relayer("relayer", None)?;
    packets.extend(send_many(&mut a, &b_id, 3, |_| {}).await?);
    each_credited_once(&net, &packets).await
}

/// Two relayers with their own accounts carry the same packets at once: the chains'
/// receipts let one delivery through, the other fails paying its fee; no transfer is
/// credited twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relayers_racing_never_credit_twice() -> anyhow::Result<()> {
    let mut net = TwoNet::start(funded()).await?;
    net.start_relayer("relayer-2", Some(&key(7)))?;
    let (mut a, b) = (net.session(0).await?, net.session(1).await?);
    let b_id = b.chain_id().clone();
    let packets = send_many(&mut a, &b_id, 12, |_| {}).await?;
    each_credited_once(&net, &packets).await?;
    for name in ["relayer", "relayer-2"] {
        let log = std::fs::read_to_string(net.two.dir.join(name).join("relayer.log"))?;
        assert!(log.contains("carried"), "{name} carried nothing:\n{log}");
    }
    Ok(())
}

/// Chain B stopped: transfers sent from A cannot be received; A moves past their
/// timeout (a source height), B comes back, the relayer updates B's client of A — B
/// then refuses them — and proves on A that B never received them: refunded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_chain_makes_transfers_time_out_and_refund() -> anyhow::Result<()> {
    let mut net = TwoNet::start(funded()).await?;
    let (mut a, b) = (net.session(0).await?, net.session(1).await?);
    let (a_id, b_id) = (a.chain_id().clone(), b.chain_id().clone());
    let alice = key(0);
    assert!(!net.stop_chain(1).is_empty());
    let before = balance(&mut a, &alice).await?;
    let mut packets = Vec::new();
    for amount in [10, 20, 30] {
        let height = a.proofs_after(&[StateKey::Consensus], None).await?.height();
        let transfer = CrossTransfer {
            to_chain: b_id.clone(),
            to: addr(&key(1)),
            asset: CrossAsset::Native,
            amount: Amount(amount),
            relayer_fee: Amount(2),
            timeout: PacketTimeout { height: Height(0), source_height: Height(height.0 + 5) },
        };
        packets.push(a.cross_transfer(&alice, transfer, 1).await?.packet.context("not committed")?);
    }
    // A moves on (empty blocks) past every timeout.
    let last = packets.iter().map(|p| p.timeout.source_height).max().unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while a.proofs_after(&[StateKey::Consensus], None).await?.height() <= last {
        anyhow::ensure!(Instant::now() < deadline, "chain A did not reach height {last}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    net.restart_chain(1)?;
    let mut b = net.session(1).await?;
    for packet in &packets {
        let step = settled(&mut a, &mut b, packet, Duration::from_secs(60)).await?;
        assert_eq!(step, PacketStep::Refunded, "packet {}", packet.sequence);
    }
    expect_balance(&mut a, &alice, before - 3, "amounts and relayer fees back; three sending fees spent").await?;
    assert_eq!(vouchers(&mut b, &a_id, &key(1)).await?, 0, "B never credited them");
    conserved(&mut a, &mut b).await
}

/// `payload` signed by `key` with its next nonce, posted to node 0 of `net` as raw BCS:
/// `None` if committed (the node waited for it), else the node's error code.
async fn post(
    node_api: &str,
    s: &mut Session<Native>,
    key: &SecretKey,
    payload: vigil_protocol::Payload,
) -> anyhow::Result<Option<vigil_api::ErrorCode>> {
    // The nonce is read through the gateway, from any node: one a block behind the node
    // posted to gives a used nonce, and the transaction is signed again.
    for _ in 0..READ_TRIES {
        let nonce = s.account(&addr(key)).await?.nonce;
        let tx = vigil_protocol::Transaction {
            chain_id: s.chain_id().clone(),
            sender: key.public_key(),
            nonce: vigil_protocol::Nonce(nonce),
            fee: Amount(1),
            payload: payload.clone(),
        }
        .sign(key);
        let r = reqwest::Client::new()
            .post(format!("{node_api}/v1/tx?wait=true&timeout_ms=15000"))
            .header("content-type", "application/octet-stream")
            .body(vigil_protocol::encoding::to_bytes(&tx))
            .send()
            .await?;
        if r.status().is_success() {
            return Ok(None);
        }
        let status = r.status().as_u16();
        let error: vigil_api::ErrorBody = r.json().await?;
        anyhow::ensure!(status == error.error.code.status(), "{status} for {:?}", error.error.code);
        if error.error.code != vigil_api::ErrorCode::StaleNonce {
            return Ok(Some(error.error.code));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the sender's nonce read stale {READ_TRIES} times")
}

/// Reads through a gateway may come from a node a block behind another's answer.
const READ_TRIES: usize = 50;

/// Reads `who`'s vouchers until a read at or above `since` (a node behind is read again).
async fn vouchers_since(
    s: &mut Session<Native>,
    origin: &ChainId,
    who: &SecretKey,
    since: Height,
) -> anyhow::Result<(u64, Height)> {
    for _ in 0..READ_TRIES {
        let read = s.proofs_after(&[StateKey::Voucher(origin.clone(), addr(who))], Some(since)).await?;
        if read.height() >= since {
            return Ok((read.value::<Amount>(0)?.unwrap_or_default().0, read.height()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("no node answered at height {since} or above")
}

/// What a Byzantine relayer may try, sent straight to a node: a header whose content was
/// changed under its certificate, a header below quorum, a packet the source never
/// committed, a packet from a chain with no connection, a packet delivered twice, a
/// timeout while the receipt exists. Each is refused with its code and credits nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_headers_proofs_and_replays_are_refused_with_their_codes() -> anyhow::Result<()> {
    use vigil_api::ErrorCode;
    use vigil_protocol::crosschain::{Batch, ReceivePacket, Timeout};
    use vigil_protocol::{Payload, SignerBitmap};

    let mut net = TwoNet::start(funded()).await?;
    net.kill("relayer")?;
    let (mut a, mut b) = (net.session(0).await?, net.session(1).await?);
    let (a_id, b_id) = (a.chain_id().clone(), b.chain_id().clone());
    let (b_api, a_api) = (net.two.b.nodes[0].api_url.clone(), net.two.a.nodes[0].api_url.clone());
    let relayer = key(3);
    let packet = send(&mut a, &key(0), &b_id, addr(&key(1)), CrossAsset::Native, 50).await?;
    let proven = a.proofs_after(&[packet.commitment_key()], None).await?;
    let honest = proven.proof_at(0).context("a proof")?;
    let receive = |packet: &Packet, proof: &vigil_protocol::crosschain::ProofAt| {
        Payload::ReceivePacket(Box::new(Batch(vec![ReceivePacket { packet: packet.clone(), proof: proof.clone() }])))
    };

    let mut changed = honest.clone();
    if let Some(h) = changed.header.as_mut() {
        h.header.state_root = vigil_protocol::Hash32([7; 32]);
    }
    let mut short = honest.clone();
    if let Some(h) = short.header.as_mut() {
        let kept: Vec<usize> = h.cert.signers.indices().take(2).collect();
        let mut signers = SignerBitmap::empty(4);
        kept.iter().for_each(|i| signers.set(*i));
        h.cert.signers = signers;
        h.cert.signatures.truncate(2);
    }
    let raised = Packet { amount: Amount(5_000), ..packet.clone() };
    let c = ChainId::new("vigil-e2e-c")?;
    let stranger = Packet { source: c.clone(), asset: c, ..packet.clone() };
    let attempts = [
        ("a header changed under its certificate", receive(&packet, &changed), ErrorCode::BadHeader),
        ("a header below quorum", receive(&packet, &short), ErrorCode::BadHeader),
        ("a packet never committed", receive(&raised, &honest), ErrorCode::BadPacketProof),
        ("a chain with no connection", receive(&stranger, &honest), ErrorCode::NoConnection),
    ];
    for (what, payload, code) in attempts {
        assert_eq!(post(&b_api, &mut b, &relayer, payload).await?, Some(code), "{what}");
    }
    assert_eq!(vouchers(&mut b, &a_id, &key(1)).await?, 0, "nothing credited");

    assert_eq!(post(&b_api, &mut b, &relayer, receive(&packet, &honest)).await?, None, "the honest delivery");
    let deadline = Instant::now() + Duration::from_secs(10);
    let credited_at = loop {
        let (held, at) = vouchers_since(&mut b, &a_id, &key(1), Height(0)).await?;
        if held == 50 {
            break at;
        }
        anyhow::ensure!(Instant::now() < deadline, "the honest delivery was not credited: {held}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let replay = post(&b_api, &mut b, &relayer, receive(&packet, &honest)).await?;
    assert_eq!(replay, Some(ErrorCode::PacketAlreadyReceived));
    assert_eq!(vouchers_since(&mut b, &a_id, &key(1), credited_at).await?.0, 50, "credited once");

    let receipt = b.proofs_after(&[packet.receipt_key()], Some(credited_at)).await?;
    anyhow::ensure!(receipt.height() >= credited_at, "a node behind answered for the receipt");
    let timeout = Timeout { packet: packet.clone(), proof: receipt.proof_at(0).context("a proof")?, client: None };
    let refund = post(&a_api, &mut a, &relayer, Payload::Timeout(Box::new(Batch(vec![timeout])))).await?;
    assert_eq!(refund, Some(ErrorCode::BadPacketProof), "no timeout while the receipt exists");
    Ok(())
}

/// 1,000 transfers (`VIGIL_XFER_COUNT`) both ways from eight senders at once — A's and
/// B's coin, vouchers sent home, some with timeouts short enough to pass — while the
/// relayer is killed and restarted every two seconds. Afterwards nothing is in flight
/// and each chain's coin escrowed at home equals its vouchers abroad: no transfer was
/// credited twice, none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_randomized_run_with_relayer_crashes_conserves_both_coins() -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let total = vigil_e2e::env_or("VIGIL_XFER_COUNT", 1_000);
    let net = Arc::new(tokio::sync::Mutex::new(TwoNet::start_loaded(funded(), true).await?));
    let (a_id, b_id) = {
        let n = net.lock().await;
        (n.session(0).await?.chain_id().clone(), n.session(1).await?.chain_id().clone())
    };
    let done = Arc::new(AtomicBool::new(false));
    let crasher = {
        let (net, done) = (net.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(2_000)).await;
                let mut n = net.lock().await;
                let _ = n.kill("relayer");
                drop(n);
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = net.lock().await.start_relayer("relayer", None);
            }
        })
    };
    let mut senders = Vec::new();
    for sender in 0..8usize {
        let (chain, to_chain) = if sender < 4 { (0, b_id.clone()) } else { (1, a_id.clone()) };
        let mut s = net.lock().await.session(chain).await?;
        let to_chain: ChainId = to_chain;
        let count = total / 8 + u64::from((sender as u64) < total % 8);
        senders.push(async move {
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ sender as u64;
            let mut random = move |n: u64| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed % n
            };
            let me = key(sender);
            let origin = to_chain.clone();
            for _ in 0..count {
                let amount = 1 + random(20);
                let held = if random(3) == 0 { vouchers(&mut s, &origin, &me).await? } else { 0 };
                let asset = if held >= amount { CrossAsset::Voucher } else { CrossAsset::Native };
                let height = s.proofs_after(&[StateKey::Consensus], None).await?.height();
                let timeout = Height(height.0 + if random(10) == 0 { 40 } else { 5_000 });
                let transfer = CrossTransfer {
                    to_chain: to_chain.clone(),
                    to: addr(&key(random(8) as usize)),
                    asset,
                    amount: Amount(amount),
                    relayer_fee: Amount(random(3)),
                    timeout: PacketTimeout { height: Height(0), source_height: timeout },
                };
                let sent = s.cross_transfer(&me, transfer, 1).await?;
                let verdicts: Vec<_> = sent.report.nodes.iter().map(|n| format!("{:?}", n.verdict)).collect();
                sent.packet.with_context(|| format!("a transfer ({asset:?} {amount}) not committed: {verdicts:?}"))?;
            }
            anyhow::Ok(())
        });
    }
    // The wallet's sessions are single-threaded: the senders run as one task, interleaved.
    futures::future::try_join_all(senders).await?;
    done.store(true, Ordering::Relaxed);
    crasher.await?;
    let mut n = net.lock().await;
    if !n.running.children.iter().any(|(name, _)| name == "relayer") {
        n.start_relayer("relayer", None)?;
    }
    let (mut a, mut b) = (n.session(0).await?, n.session(1).await?);
    // Generous: this test may share two cores with the other two-chain tests.
    let deadline = Instant::now() + Duration::from_secs(240);
    let log = n.two.relayer.with_file_name("relayer.log");
    for (s, to) in [(&mut a, &b_id), (&mut b, &a_id)] {
        loop {
            let next = channel(s, to).await?.next_sequence;
            let mut open = 0;
            for from in (1..next).step_by(vigil_api::STATE_KEYS_MAX) {
                let (packets, _) = s.sent_packets(to, from, vigil_api::STATE_KEYS_MAX).await?;
                open += packets.iter().flatten().count();
            }
            if open == 0 {
                break;
            }
            if Instant::now() >= deadline {
                let tail = vigil::devnet::log_tail(&log, 40).join("\n");
                anyhow::bail!("{open} packets to {to} still outstanding; the relayer's log ends:\n{tail}");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let sent = channel(&mut a, &b_id).await?.next_sequence - 1 + channel(&mut b, &a_id).await?.next_sequence - 1;
    assert_eq!(sent, total, "every transfer committed a packet");
    // Timeouts by source height carry the client with its proof: batches of them must
    // still be within what a node admits.
    let relayer_log = std::fs::read_to_string(&log)?;
    assert!(!relayer_log.contains("TX_TOO_LARGE"), "the relayer built a transaction too large to admit");
    conserved(&mut a, &mut b).await
}
