//! Issue 21 on a real devnet: a supplier (a target object held by node 0) and three
//! buyers. Trades recorded by the supplier and confirmed by each buyer; the supplier's
//! production and shipment records kept at node 0; audits checked by each buyer against
//! its own confirmed trades and the supplier's rows. An honest audit agreed; one buyer
//! whose records contradict a claim disputes it, naming the claim; below the condition
//! the audit stays pending, then expires; a forged, outsider, repeated or misdirected
//! notice, claims that do not match the digest, and forged or misdirected records are
//! refused with their codes.

use std::time::{Duration, Instant};

use vigil_api::{ErrorBody, ErrorCode};
use vigil_e2e::{Native, TestNet};
use vigil_protocol::audit::*;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{
    Address, Amount, ConsensusMode, Height, NodeId, Nonce, Payload, SecretKey, StateKey, Transaction,
};
use vigil_wallet::session::audit::{check_claim, claims_of, Figures};
use vigil_wallet::session::Session;

fn key(i: u8) -> SecretKey {
    SecretKey::from_seed([0xa0 + i; 32])
}

fn addr(k: &SecretKey) -> Address {
    Address::from_public_key(&k.public_key())
}

/// The supplier (key 0), three buyers (1 to 3) and an outsider (4), each a session.
struct Parties {
    net: TestNet,
    sessions: Vec<Session<Native>>,
    target: TargetId,
    holder: NodeId,
}

impl Parties {
    fn s(&mut self, i: usize) -> &mut Session<Native> {
        &mut self.sessions[i]
    }

    /// A trade of the supplier with buyer `b`, confirmed by the buyer: the trade.
    async fn trade(&mut self, b: u8, quantity: u64, amount: u64) -> anyhow::Result<Trade> {
        let target = self.target;
        let (t, _) = self.s(0).target(&target).await?;
        let number = t.map(|t| t.trades).unwrap_or_default();
        let record =
            RecordTrade { target, counterparty: addr(&key(b)), quantity, amount, reference: format!("po-{number}") };
        self.s(0).record_trade(&key(0), record).await?;
        self.s(usize::from(b)).confirm_trade(&key(b), target, number).await?;
        // Read back by the buyer's session, which reads at least its own confirmation's height.
        let (trade, _) = self.s(usize::from(b)).proven::<Trade>(&StateKey::Trade(target, number)).await?;
        trade.ok_or_else(|| anyhow::anyhow!("trade {number} not proven"))
    }

    /// The supplier's rows for `trades` (one shipment row each, `lie` added to buyer
    /// `liar`'s quantity) and `production` production rows, uploaded to node 0; the
    /// audit of the period through the newest height, its claims from the rows, due
    /// `deadline_in` heights after the period.
    async fn submit(
        &mut self,
        trades: &[Trade],
        production: u64,
        lie: Option<(u8, u64)>,
        deadline_in: u64,
    ) -> anyhow::Result<(u64, SubmitAudit)> {
        let target_id = self.target;
        let (target, _) = self.s(0).target(&target_id).await?;
        let target = target.ok_or_else(|| anyhow::anyhow!("no target"))?;
        let holder = self.holder;
        let first_from = self.s(0).records_kept(&holder, &target_id, Dimension::First).await?;
        let second_from =
            self.s(0).read_records(&holder, &target_id, Dimension::Second, 0, u64::MAX).await?.len() as u64;
        let from = target.next_from;
        let rows_first: Vec<SignedRecord> = (0..production)
            .map(|i| {
                Record {
                    target: target_id,
                    dimension: Dimension::First,
                    seq: first_from + i,
                    at: from,
                    counterparty: None,
                    quantity: 100 + i,
                    amount: 0,
                    memo: format!("batch {i}"),
                }
                .sign(&key(0))
            })
            .collect();
        let rows_second: Vec<SignedRecord> = trades
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let extra = match lie {
                    Some((b, by)) if addr(&key(b)) == t.counterparty => by,
                    _ => 0,
                };
                Record {
                    target: target_id,
                    dimension: Dimension::Second,
                    seq: second_from + i as u64,
                    at: t.recorded_at,
                    counterparty: Some(t.counterparty),
                    quantity: t.quantity + extra,
                    amount: t.amount,
                    memo: t.reference.clone(),
                }
                .sign(&key(0))
            })
            .collect();
        for rows in [&rows_first, &rows_second] {
            if !rows.is_empty() {
                self.s(0).upload_records(&holder, rows).await?;
            }
        }
        let to = period_end(self.s(0), trades).await?;
        let mut claims = claims_of(trades, &rows_second, to);
        if let Some((b, by)) = lie {
            for c in claims.iter_mut().filter(|c| c.counterparty == addr(&key(b))) {
                c.quantity += by;
            }
        }
        let audit = SubmitAudit {
            target: target_id,
            period: AuditPeriod { from, to },
            data: [DataDigest::of(first_from, &rows_first)?, DataDigest::of(second_from, &rows_second)?],
            claims,
            deadline: Height(to.0 + deadline_in),
        };
        self.s(0).submit_audit(&key(0), audit.clone()).await?;
        Ok((target.audits, audit))
    }

    /// Buyer `b` checks audit `n` and sends what it found.
    async fn check_and_send(&mut self, b: u8, n: u64) -> anyhow::Result<Notice> {
        let target = self.target;
        Ok(self.s(usize::from(b)).note_audit(&key(b), target, n).await?.notice)
    }
}

/// A period's end at which every one of `trades` is confirmed: the newest height, read
/// from a node at or past their confirmations.
async fn period_end(s: &mut Session<Native>, trades: &[Trade]) -> anyhow::Result<Height> {
    let confirmed = trades.iter().filter_map(|t| t.confirmed_at).max().unwrap_or_default();
    let after = confirmed.0.checked_sub(1).map(Height);
    Ok(s.proofs_after(&[StateKey::Consensus], after).await?.height())
}

/// `payload` signed by `key` (or by a wrong key, `forge`) with its next nonce, posted to
/// node 0 as is: the node's code.
async fn refusal(p: &mut Parties, signer: u8, payload: Payload, forge: bool) -> anyhow::Result<ErrorCode> {
    let k = key(signer);
    let nonce = p.s(0).account(&addr(&k)).await?.nonce;
    let tx = Transaction {
        chain_id: vigil_protocol::ChainId::new("vigil-e2e")?,
        sender: k.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(1),
        payload,
    };
    let mut signed = tx.sign(&k);
    if forge {
        signed.signature = key(9).sign(vigil_protocol::hash::Domain::TransactionSignature, b"not this transaction");
    }
    let r = p
        .net
        .http
        .post(p.net.url(0, "/v1/tx"))
        .header("content-type", "application/octet-stream")
        .body(to_bytes(&signed))
        .send()
        .await?;
    let error: ErrorBody = r.json().await?;
    Ok(error.error.code)
}

/// A process stopped when dropped (the test failing on the way included).
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `vigil auditor` for buyer 3, watching `target`.
fn start_auditor(net: &TestNet, target: TargetId) -> anyhow::Result<Stopped> {
    let dir = net.devnet.genesis.parent().ok_or_else(|| anyhow::anyhow!("no devnet dir"))?.join("auditor");
    std::fs::create_dir_all(&dir)?;
    vigil_server::keys::save_account_key(&dir.join("buyer.key"), &key(3))?;
    let cfg = vigil::auditor::AuditorConfig {
        name: "buyer-3".into(),
        chain: vigil_relayer::config::ChainEndpoint {
            genesis_file: net.devnet.genesis.clone(),
            gateways: vec![net.devnet.gateway.url.clone()],
            ca_cert: net.devnet.gateway.ca_cert.clone(),
            key_file: dir.join("buyer.key"),
            local_address: None,
        },
        targets: vec![target],
        poll_ms: 200,
    };
    let config = dir.join("auditor.toml");
    cfg.save(&config)?;
    let log = std::fs::File::create(dir.join("auditor.log"))?;
    Ok(Stopped(
        std::process::Command::new(vigil_e2e::vigil_bin()?)
            .args(["auditor", "--config"])
            .arg(&config)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audits_are_agreed_disputed_left_pending_and_refuse_bad_input() -> anyhow::Result<()> {
    let accounts = (0..5u8).map(|i| (addr(&key(i)), Amount(1_000_000))).collect();
    let net = TestNet::start_with(4, 0, ConsensusMode::Fast, accounts).await?;
    let http = net.gateway_client()?;
    net.wait_for_gateway(&http, Duration::from_secs(30)).await?;
    let sessions = (0..5).map(|_| net.wallet_session(&http)).collect::<anyhow::Result<Vec<_>>>()?;
    let holder = net.devnet.nodes[0].id;
    let mut p = Parties { net, sessions, target: TargetId(vigil_protocol::Hash32([0; 32])), holder };
    let (target, _) =
        p.s(0).register_target(&key(0), "acme", holder, ["production".into(), "shipments".into()]).await?;
    p.target = target;

    // Buyer 3 answers through `vigil auditor`, a process of its own.
    let auditor = start_auditor(&p.net, target)?;

    // An honest period: every buyer confirms, and the audit is agreed.
    let trades = vec![
        p.trade(1, 10, 100).await?,
        p.trade(1, 5, 50).await?,
        p.trade(2, 20, 400).await?,
        p.trade(3, 1, 900).await?,
    ];
    let (n, audit) = p.submit(&trades, 6, None, 400).await?;
    for b in 1..=2 {
        assert_eq!(p.check_and_send(b, n).await?, Notice::Confirm, "buyer {b}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(p.s(4).audit(&target, n).await?.status, AuditStatus::Agreed { .. }) {
        anyhow::ensure!(Instant::now() < deadline, "the auditor never confirmed audit {n}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(auditor);
    let view = p.s(4).audit(&target, n).await?;
    assert!(view.record.confirmations.iter().any(|(a, _)| *a == addr(&key(3))), "buyer 3's auditor confirmed");
    let last = view.record.confirmations.iter().map(|(_, h)| *h).max().unwrap_or_default();
    assert_eq!(view.status, AuditStatus::Agreed { at: last }, "agreed in the block of the last confirmation");
    assert!(view.verification.method.contains("quorum certificate"), "{}", view.verification.method);
    assert_eq!(view.record.submitted.claims.len(), 3);

    // Bad input against the agreed audit and its target, each refused with its code.
    let confirm = |n: u64, period: AuditPeriod| {
        Payload::AuditNotice(Box::new(AuditNotice { target, audit: n, period, notice: Notice::Confirm }))
    };
    assert_eq!(refusal(&mut p, 4, confirm(n, audit.period), false).await?, ErrorCode::NotACounterparty);
    assert_eq!(refusal(&mut p, 1, confirm(n, audit.period), false).await?, ErrorCode::AuditClosed);
    assert_eq!(refusal(&mut p, 1, confirm(n, audit.period), true).await?, ErrorCode::BadSignature);

    // A period with a lie about buyer 2: buyer 2's own trades contradict the claim.
    let trades = vec![p.trade(1, 7, 70).await?, p.trade(2, 10, 100).await?];
    let (n2, audit2) = p.submit(&trades, 2, Some((2, 2)), 400).await?;
    assert_eq!(p.check_and_send(1, n2).await?, Notice::Confirm);
    let mut wrong = audit2.period;
    wrong.to = wrong.to.next();
    assert_eq!(refusal(&mut p, 2, confirm(n2, wrong), false).await?, ErrorCode::WrongPeriod);
    assert_eq!(refusal(&mut p, 1, confirm(n2, audit2.period), false).await?, ErrorCode::DuplicateNotice);
    let refused = p.check_and_send(2, n2).await?;
    let Notice::Refuse { claim, reason } = refused else { anyhow::bail!("buyer 2 confirmed a lie") };
    assert!(reason.contains("my confirmed trades say 10"), "{reason}");
    let view = p.s(4).audit(&target, n2).await?;
    assert!(matches!(view.status, AuditStatus::Disputed { .. }), "{:?}", view.status);
    assert_eq!(view.record.refusals[0].claim, claim);
    assert_eq!(
        view.record.submitted.claims[claim as usize].counterparty,
        addr(&key(2)),
        "the refusal names buyer 2's claim"
    );

    // Claims that do not match the digest, or leave a buyer out: refused, nothing changed.
    let trades3 = vec![p.trade(3, 2, 20).await?, p.trade(1, 3, 30).await?];
    let (next_from, _) = (p.s(0).target(&target).await?.0.map(|t| t.next_from).unwrap_or_default(), ());
    let to = period_end(p.s(0), &trades3).await?;
    let mut claims = claims_of(&trades3, &[], to);
    let digest = DataDigest { from_seq: 0, count: 1, root: vigil_protocol::Hash32([7; 32]) };
    let bad = SubmitAudit {
        target,
        period: AuditPeriod { from: next_from, to },
        data: [digest, digest],
        claims: claims.clone(),
        deadline: Height(to.0 + 50),
    };
    assert_eq!(
        refusal(&mut p, 0, Payload::SubmitAudit(Box::new(bad.clone())), false).await?,
        ErrorCode::ClaimsMismatch
    );
    claims.truncate(1);
    let short = SubmitAudit { claims, data: [digest, DataDigest { count: 0, ..digest }], ..bad };
    assert_eq!(refusal(&mut p, 0, Payload::SubmitAudit(Box::new(short)), false).await?, ErrorCode::ClaimsMismatch);
    assert_eq!(p.s(0).target(&target).await?.0.map(|t| t.audits), Some(2), "no audit was added");

    // Below the condition: one of two buyers confirms; pending, then expired.
    let (n3, _) = p.submit(&trades3, 0, None, 8).await?;
    assert_eq!(p.check_and_send(3, n3).await?, Notice::Confirm);
    assert_eq!(p.s(4).audit(&target, n3).await?.status, AuditStatus::Pending, "one of two confirmed");
    let deadline = Instant::now() + Duration::from_secs(60);
    let expired = loop {
        let status = p.s(4).audit(&target, n3).await?.status;
        if matches!(status, AuditStatus::Expired { .. }) {
            break status;
        }
        anyhow::ensure!(Instant::now() < deadline, "audit {n3} still {status:?}");
        // Blocks come with transactions: a transfer moves the chain on.
        p.s(4).transfer(&key(4), addr(&key(3)), 1, 1).await?;
    };
    assert!(matches!(expired, AuditStatus::Expired { .. }));
    let period3 = p.s(4).audit(&target, n3).await?.record.submitted.period;
    assert_eq!(refusal(&mut p, 1, confirm(n3, period3), false).await?, ErrorCode::AuditClosed);

    // Records: forged ones, or sent to a node that does not hold the target, are refused.
    let seq = p.s(0).records_kept(&holder, &target, Dimension::First).await?;
    let mut forged = Record {
        target,
        dimension: Dimension::First,
        seq,
        at: Height(1),
        counterparty: None,
        quantity: 1,
        amount: 0,
        memo: String::new(),
    }
    .sign(&key(0));
    forged.record.quantity = 2;
    let upload = |records: Vec<SignedRecord>| to_bytes(&RecordUpload { records });
    let post = |node: usize, body: Vec<u8>| {
        let url = p.net.url(node, "/v1/audit/records");
        let http = p.net.http.clone();
        async move {
            let r = http.post(url).header("content-type", "application/octet-stream").body(body).send().await?;
            let e: ErrorBody = r.json().await?;
            anyhow::Ok(e.error.code)
        }
    };
    assert_eq!(post(0, upload(vec![forged.clone()])).await?, ErrorCode::BadRecord);
    let honest = Record { quantity: 2, ..forged.record.clone() }.sign(&key(0));
    assert_eq!(post(1, upload(vec![honest.clone()])).await?, ErrorCode::NotTheHolder);
    let gap = Record { seq: seq + 1, ..honest.record.clone() }.sign(&key(0));
    assert_eq!(post(0, upload(vec![gap])).await?, ErrorCode::BadRecord, "out of sequence");
    let kept = p.s(0).read_records(&holder, &target, Dimension::First, 0, u64::MAX).await?;
    assert_eq!(kept.len() as u64, seq, "nothing refused was kept");
    let counted = |outcome: &str| format!("vigil_audit_records_total{{outcome=\"{outcome}\"}}");
    assert_eq!(p.net.metric(0, &counted("refused")).await?, 2.0, "the operator sees the refused records");
    assert!(p.net.metric(0, &counted("kept")).await? >= seq as f64);

    // The claim check itself: what a buyer compares, with the reason it gives.
    let claim = Claim { counterparty: addr(&key(1)), quantity: 3, amount: 30, rows: 1 };
    let own = Figures { quantity: 3, amount: 30, count: 1 };
    assert_eq!(check_claim(&claim, &own, &own), Ok(()));
    assert!(check_claim(&claim, &Figures { quantity: 4, ..own }, &own).is_err());
    Ok(())
}
