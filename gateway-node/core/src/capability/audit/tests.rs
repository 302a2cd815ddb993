//! Audits on a real `Ledger`: a supplier (Alice's target) and three counterparties, every
//! rule and every refusal.

use vigil_protocol::audit::*;
use vigil_protocol::*;

use crate::capability::admit;
use crate::consensus::Rejection;
use crate::execution::testkit::*;
use crate::execution::*;

/// A ledger where Alice's target "supplier" (held by validator 0) traded with three
/// funded counterparties, and the nonces each key has used.
struct Net {
    f: Fixture,
    ledger: Ledger,
    buyers: Vec<SecretKey>,
    nonces: std::collections::BTreeMap<Address, u64>,
    target: TargetId,
}

fn addr(key: &SecretKey) -> Address {
    Address::from_public_key(&key.public_key())
}

impl Net {
    fn new(condition: AuditCondition) -> Net {
        let mut f = fixture();
        let buyers: Vec<SecretKey> = (60..63u8).map(|i| SecretKey::from_seed([i; 32])).collect();
        f.genesis.accounts.extend(buyers.iter().map(|k| (addr(k), Amount(1_000))));
        f.genesis.accounts.sort();
        f.genesis.audit = condition;
        let ledger = Ledger::genesis(&f.genesis).unwrap();
        let target = TargetId::of(&addr(&f.alice), "supplier");
        let mut net = Net { f, ledger, buyers, nonces: Default::default(), target };
        let holder = net.ledger.validators().validators()[0].id;
        let register =
            RegisterTarget { name: "supplier".into(), holder, dimensions: ["production".into(), "shipments".into()] };
        assert_eq!(net.run_alice(vec![Payload::RegisterTarget(Box::new(register))]), [TxStatus::Success]);
        net
    }

    fn signed(&mut self, key: &SecretKey, payload: Payload) -> SignedTransaction {
        let nonce = self.nonces.entry(addr(key)).or_default();
        let t = tx(&self.f, key, *nonce, payload);
        *nonce += 1;
        t
    }

    /// Commits one block of `txs` (each admissible when signed); their statuses.
    fn run(&mut self, txs: Vec<(SecretKey, Payload)>) -> Vec<TxStatus> {
        let signed: Vec<SignedTransaction> = txs.into_iter().map(|(k, p)| self.signed(&k, p)).collect();
        let (b, exec) = block(&self.ledger, signed);
        self.ledger.commit(&b, exec.clone()).unwrap();
        exec.entries.iter().map(|e| e.status).collect()
    }

    fn run_alice(&mut self, payloads: Vec<Payload>) -> Vec<TxStatus> {
        let alice = self.f.alice.clone();
        self.run(payloads.into_iter().map(|p| (alice.clone(), p)).collect())
    }

    /// Admission's verdict on `payload` from `key`.
    fn admit(&self, key: &SecretKey, payload: &Payload) -> Result<(), Rejection> {
        admit(payload, &self.ledger, &key.public_key())
    }

    fn empty_block(&mut self) {
        let (b, exec) = block(&self.ledger, vec![]);
        self.ledger.commit(&b, exec).unwrap();
    }

    fn target(&self) -> Target {
        self.ledger.state(&StateKey::Target(self.target)).unwrap()
    }

    fn audit(&self, n: u64) -> AuditRecord {
        self.ledger.state(&StateKey::Audit(self.target, n)).unwrap()
    }

    /// Alice records a trade with buyer `i`, and the buyer confirms it.
    fn trade(&mut self, i: usize, quantity: u64, amount: u64) {
        let trade = self.target().trades;
        let counterparty = addr(&self.buyers[i]);
        let record =
            RecordTrade { target: self.target, counterparty, quantity, amount, reference: format!("po-{trade}") };
        assert_eq!(self.run_alice(vec![Payload::RecordTrade(Box::new(record))]), [TxStatus::Success]);
        let confirm = Payload::ConfirmTrade(ConfirmTrade { target: self.target, trade });
        assert_eq!(self.run(vec![(self.buyers[i].clone(), confirm)]), [TxStatus::Success]);
    }

    /// An audit of the period from the target's next height through the last committed
    /// one, claiming `claims` (one row each), the deadline `deadline_in` heights on.
    fn submission(&self, claims: Vec<Claim>, deadline_in: u64) -> SubmitAudit {
        let to = self.ledger.height();
        let rows = claims.iter().map(|c| c.rows).sum();
        SubmitAudit {
            target: self.target,
            period: AuditPeriod { from: self.target().next_from, to },
            data: [
                DataDigest { from_seq: 0, count: 3, root: Hash32([1; 32]) },
                DataDigest { from_seq: 0, count: rows, root: Hash32([2; 32]) },
            ],
            claims,
            deadline: Height(to.0 + deadline_in),
        }
    }

    fn claims(&self, figures: &[(usize, u64, u64)]) -> Vec<Claim> {
        let mut claims: Vec<Claim> = figures
            .iter()
            .map(|&(i, quantity, amount)| Claim { counterparty: addr(&self.buyers[i]), quantity, amount, rows: 1 })
            .collect();
        claims.sort_by_key(|c| c.counterparty);
        claims
    }

    /// Buyer `i`'s place among the claims of audit `n`.
    fn claim_index(&self, n: u64, i: usize) -> u32 {
        self.audit(n).claim_of(&addr(&self.buyers[i])).unwrap().0 as u32
    }

    fn notice(&self, n: u64, notice: Notice) -> Payload {
        let period = self.audit(n).submitted.period;
        Payload::AuditNotice(Box::new(AuditNotice { target: self.target, audit: n, period, notice }))
    }
}

/// A supplier that shipped to all three buyers, audited.
fn audited(condition: AuditCondition) -> Net {
    let mut net = Net::new(condition);
    net.trade(0, 10, 100);
    net.trade(1, 20, 200);
    net.trade(2, 5, 700);
    let submit = net.submission(net.claims(&[(0, 10, 100), (1, 20, 200), (2, 5, 700)]), 20);
    assert_eq!(net.run_alice(vec![Payload::SubmitAudit(Box::new(submit))]), [TxStatus::Success]);
    net
}

#[test]
fn an_honest_audit_is_agreed_once_every_counterparty_confirms() {
    let mut net = audited(AuditCondition::default());
    let target = net.target();
    assert_eq!((target.audits, target.trades_audited), (1, 3));
    assert_eq!(net.audit(0).trades, [0, 3], "the trades its counterparties find theirs among");
    assert_eq!(target.next_from, net.audit(0).submitted.period.to.next(), "the next period starts after this one");
    for i in 0..2 {
        assert_eq!(net.run(vec![(net.buyers[i].clone(), net.notice(0, Notice::Confirm))]), [TxStatus::Success]);
        assert_eq!(net.audit(0).status, AuditStatus::Pending, "{} of 3 confirmed", i + 1);
    }
    assert_eq!(net.run(vec![(net.buyers[2].clone(), net.notice(0, Notice::Confirm))]), [TxStatus::Success]);
    let at = net.ledger.height();
    assert_eq!(net.audit(0).status, AuditStatus::Agreed { at }, "agreed in the block of the last confirmation");
    assert_eq!(net.audit(0).confirmations.len(), 3);
    // Agreed, it takes no more notices.
    let late = net.notice(0, Notice::Confirm);
    assert!(matches!(net.admit(&net.buyers[0], &late), Err(Rejection::AuditClosed(_))));
}

#[test]
fn a_refusal_disputes_the_audit_naming_the_claim() {
    let mut net = audited(AuditCondition::default());
    let claim = net.claim_index(0, 1);
    let refuse = Notice::Refuse { claim, reason: "shipped 18, not 20".into() };
    assert_eq!(net.run(vec![(net.buyers[1].clone(), net.notice(0, refuse))]), [TxStatus::Success]);
    let record = net.audit(0);
    assert_eq!(record.status, AuditStatus::Disputed { at: net.ledger.height() });
    assert_eq!(record.refusals.len(), 1);
    assert_eq!((record.refusals[0].claim, record.refusals[0].reason.as_str()), (claim, "shipped 18, not 20"));
    assert_eq!(record.refusals[0].counterparty, addr(&net.buyers[1]));
}

#[test]
fn a_fraction_weighted_by_volume_agrees_without_a_small_refusal_and_disputes_on_a_large_one() {
    // Three quarters of the volume: buyer 2 (700 of 1,000) and one more agree it.
    let mut net = audited(AuditCondition { num: 3, den: 4 });
    let small = Notice::Refuse { claim: net.claim_index(0, 0), reason: "wrong".into() };
    assert_eq!(net.run(vec![(net.buyers[0].clone(), net.notice(0, small))]), [TxStatus::Success]);
    assert_eq!(net.audit(0).status, AuditStatus::Pending, "900 of 1,000 may still confirm");
    assert_eq!(net.run(vec![(net.buyers[2].clone(), net.notice(0, Notice::Confirm))]), [TxStatus::Success]);
    assert_eq!(net.audit(0).status, AuditStatus::Pending, "700 of 1,000 is below three quarters");
    assert_eq!(net.run(vec![(net.buyers[1].clone(), net.notice(0, Notice::Confirm))]), [TxStatus::Success]);
    assert!(matches!(net.audit(0).status, AuditStatus::Agreed { .. }), "900 of 1,000");

    let mut net = audited(AuditCondition { num: 3, den: 4 });
    let large = Notice::Refuse { claim: net.claim_index(0, 2), reason: "not invoiced".into() };
    assert_eq!(net.run(vec![(net.buyers[2].clone(), net.notice(0, large))]), [TxStatus::Success]);
    assert!(
        matches!(net.audit(0).status, AuditStatus::Disputed { .. }),
        "300 of 1,000 left cannot reach three quarters"
    );
}

#[test]
fn an_inflated_claim_weighs_what_the_chain_counted_not_what_the_target_claims() {
    // Buyer 0 traded 100 of 1,000; the owner claims 1,000,000 for it, to let a friendly
    // buyer 0 agree the audit alone under a three-quarters condition.
    let mut net = Net::new(AuditCondition { num: 3, den: 4 });
    net.trade(0, 10, 100);
    net.trade(1, 20, 200);
    net.trade(2, 5, 700);
    let submit = net.submission(net.claims(&[(0, 10, 1_000_000), (1, 20, 200), (2, 5, 700)]), 20);
    assert_eq!(net.run_alice(vec![Payload::SubmitAudit(Box::new(submit))]), [TxStatus::Success]);
    assert_eq!(net.audit(0).volumes.iter().sum::<u64>(), 1_000, "the volumes the chain counted");
    assert_eq!(net.run(vec![(net.buyers[0].clone(), net.notice(0, Notice::Confirm))]), [TxStatus::Success]);
    assert_eq!(net.audit(0).status, AuditStatus::Pending, "100 of 1,000 is not three quarters");
}

#[test]
fn below_the_condition_it_stays_pending_and_expires_at_its_deadline() {
    let mut net = audited(AuditCondition::default());
    assert_eq!(net.run(vec![(net.buyers[0].clone(), net.notice(0, Notice::Confirm))]), [TxStatus::Success]);
    let deadline = net.audit(0).submitted.deadline;
    while net.ledger.height() < deadline {
        assert_eq!(net.audit(0).status_at(net.ledger.height().next()), AuditStatus::Pending);
        net.empty_block();
    }
    let record = net.audit(0);
    assert_eq!(record.status_at(net.ledger.height().next()), AuditStatus::Expired { at: deadline.next() });
    let late = net.notice(0, Notice::Confirm);
    assert!(matches!(net.admit(&net.buyers[1], &late), Err(Rejection::AuditClosed(_))), "no notice past the deadline");
}

#[test]
fn notices_from_outsiders_twice_or_about_another_period_are_refused() {
    let mut net = audited(AuditCondition::default());
    let outsider = SecretKey::from_seed([99; 32]);
    assert_eq!(net.admit(&outsider, &net.notice(0, Notice::Confirm)), Err(Rejection::NotACounterparty));
    assert_eq!(net.admit(&net.f.alice, &net.notice(0, Notice::Confirm)), Err(Rejection::NotACounterparty));
    let mut other =
        AuditNotice { target: net.target, audit: 0, period: net.audit(0).submitted.period, notice: Notice::Confirm };
    other.period.to = other.period.to.next();
    assert!(matches!(
        net.admit(&net.buyers[0], &Payload::AuditNotice(Box::new(other))),
        Err(Rejection::WrongPeriod(_))
    ));
    let unknown = AuditNotice {
        audit: 7,
        ..AuditNotice { target: net.target, audit: 0, period: net.audit(0).submitted.period, notice: Notice::Confirm }
    };
    assert!(matches!(
        net.admit(&net.buyers[0], &Payload::AuditNotice(Box::new(unknown))),
        Err(Rejection::UnknownAudit(_))
    ));
    // A refusal names the sender's own claim, with a reason.
    let theirs = Notice::Refuse { claim: net.claim_index(0, 1), reason: "no".into() };
    assert!(matches!(net.admit(&net.buyers[0], &net.notice(0, theirs)), Err(Rejection::InvalidAudit(_))));
    let mute = Notice::Refuse { claim: net.claim_index(0, 0), reason: String::new() };
    assert!(matches!(net.admit(&net.buyers[0], &net.notice(0, mute)), Err(Rejection::InvalidAudit(_))));
    // Twice in one block: the second fails in the block, and only one counts.
    let confirm = net.notice(0, Notice::Confirm);
    let buyer = net.buyers[0].clone();
    let statuses = net.run(vec![(buyer.clone(), confirm.clone()), (buyer.clone(), confirm.clone())]);
    assert_eq!(statuses, [TxStatus::Success, TxStatus::Failed(FailureCode::AlreadyNoted)]);
    assert_eq!(net.audit(0).confirmations.len(), 1);
    assert_eq!(net.admit(&buyer, &confirm), Err(Rejection::DuplicateNotice));
}

#[test]
fn claims_must_name_exactly_the_period_s_counterparties_and_match_the_digest() {
    let mut net = Net::new(AuditCondition::default());
    net.trade(0, 10, 100);
    net.trade(1, 20, 200);
    // A trade recorded and never confirmed is not one both sides hold: no claim for it.
    let unconfirmed = RecordTrade {
        target: net.target,
        counterparty: addr(&net.buyers[2]),
        quantity: 1,
        amount: 1,
        reference: "x".into(),
    };
    assert_eq!(net.run_alice(vec![Payload::RecordTrade(Box::new(unconfirmed))]), [TxStatus::Success]);
    let alice = net.f.alice.clone();
    let submit = |s: SubmitAudit| Payload::SubmitAudit(Box::new(s));
    let missing = net.submission(net.claims(&[(0, 10, 100)]), 20);
    assert!(
        matches!(net.admit(&alice, &submit(missing)), Err(Rejection::ClaimsMismatch(why)) if why.contains("no claim names it"))
    );
    let extra = net.submission(net.claims(&[(0, 10, 100), (1, 20, 200), (2, 1, 1)]), 20);
    assert!(
        matches!(net.admit(&alice, &submit(extra)), Err(Rejection::ClaimsMismatch(why)) if why.contains("no confirmed trade"))
    );
    let mut rows = net.submission(net.claims(&[(0, 10, 100), (1, 20, 200)]), 20);
    rows.data[1].count += 1;
    assert!(
        matches!(net.admit(&alice, &submit(rows)), Err(Rejection::ClaimsMismatch(why)) if why.contains("digest holds 3"))
    );
    let mut unordered = net.submission(net.claims(&[(0, 10, 100), (1, 20, 200)]), 20);
    unordered.claims.reverse();
    assert!(matches!(net.admit(&alice, &submit(unordered)), Err(Rejection::InvalidAudit(_))));
    let mut gap = net.submission(net.claims(&[(0, 10, 100), (1, 20, 200)]), 20);
    gap.period.from = gap.period.from.next();
    assert!(
        matches!(net.admit(&alice, &submit(gap)), Err(Rejection::InvalidAudit(why)) if why.contains("one after the other"))
    );
    let mut open = net.submission(net.claims(&[(0, 10, 100), (1, 20, 200)]), 20);
    open.period.to = net.ledger.height().next();
    open.deadline = Height(open.period.to.0 + 5);
    assert!(
        matches!(net.admit(&alice, &submit(open)), Err(Rejection::InvalidAudit(why)) if why.contains("must have ended"))
    );
    let buyer = net.buyers[0].clone();
    let good = net.submission(net.claims(&[(0, 10, 100), (1, 20, 200)]), 20);
    assert!(
        matches!(net.admit(&buyer, &submit(good.clone())), Err(Rejection::InvalidTarget(_))),
        "only the owner submits"
    );
    let before = net.ledger.state_root().unwrap();
    assert_eq!(before, net.ledger.state_root().unwrap(), "refusals change nothing");
    assert_eq!(net.run_alice(vec![submit(good.clone())]), [TxStatus::Success]);
    assert_eq!(net.target().trades_audited, 3, "the unconfirmed trade is past, not audited");
    // The same period again: refused; in one block, the second fails.
    assert!(matches!(net.admit(&alice, &submit(good)), Err(Rejection::InvalidAudit(_))));
}

#[test]
fn targets_and_trades_refuse_what_does_not_fit() {
    let mut net = Net::new(AuditCondition::default());
    let alice = net.f.alice.clone();
    let buyer = net.buyers[0].clone();
    let holder = net.ledger.validators().validators()[0].id;
    let register = |name: &str, holder: NodeId| {
        Payload::RegisterTarget(Box::new(RegisterTarget {
            name: name.into(),
            holder,
            dimensions: ["a".into(), "b".into()],
        }))
    };
    assert!(
        matches!(net.admit(&alice, &register("supplier", holder)), Err(Rejection::InvalidTarget(why)) if why.contains("already"))
    );
    assert!(
        matches!(net.admit(&alice, &register("other", NodeId([7; 32]))), Err(Rejection::InvalidTarget(why)) if why.contains("not a validator"))
    );
    assert!(matches!(net.admit(&alice, &register("", holder)), Err(Rejection::InvalidTarget(_))));
    let trade = |counterparty: Address, quantity: u64| {
        Payload::RecordTrade(Box::new(RecordTrade {
            target: net.target,
            counterparty,
            quantity,
            amount: 0,
            reference: "r".into(),
        }))
    };
    assert!(matches!(net.admit(&buyer, &trade(addr(&alice), 1)), Err(Rejection::InvalidTarget(_))), "not the owner");
    assert!(matches!(net.admit(&alice, &trade(addr(&buyer), 0)), Err(Rejection::InvalidTarget(_))), "an empty trade");
    assert!(matches!(net.admit(&alice, &trade(addr(&alice), 1)), Err(Rejection::InvalidTarget(_))), "with itself");
    let unknown = TargetId(Hash32([3; 32]));
    let stray = Payload::RecordTrade(Box::new(RecordTrade {
        target: unknown,
        counterparty: addr(&buyer),
        quantity: 1,
        amount: 1,
        reference: String::new(),
    }));
    assert!(matches!(net.admit(&alice, &stray), Err(Rejection::UnknownTarget(_))));
    assert_eq!(net.run_alice(vec![trade(addr(&buyer), 4)]), [TxStatus::Success]);
    let confirm = Payload::ConfirmTrade(ConfirmTrade { target: net.target, trade: 0 });
    assert!(matches!(net.admit(&net.buyers[1], &confirm), Err(Rejection::InvalidTrade(_))), "not its counterparty");
    let other = Payload::ConfirmTrade(ConfirmTrade { target: net.target, trade: 9 });
    assert!(matches!(net.admit(&buyer, &other), Err(Rejection::InvalidTrade(_))), "no such trade");
    let statuses = net.run(vec![(buyer.clone(), confirm.clone()), (buyer.clone(), confirm.clone())]);
    assert_eq!(statuses, [TxStatus::Success, TxStatus::Failed(FailureCode::TradeAlreadyConfirmed)]);
    assert!(matches!(net.admit(&buyer, &confirm), Err(Rejection::InvalidTrade(_))));
}

#[test]
fn records_sign_and_digest_as_counterparties_check_them() {
    let owner = SecretKey::from_seed([50; 32]);
    let target = TargetId::of(&addr(&owner), "supplier");
    let buyer = addr(&SecretKey::from_seed([60; 32]));
    let rows: Vec<SignedRecord> = (0..5u64)
        .map(|seq| {
            Record {
                target,
                dimension: Dimension::Second,
                seq,
                at: Height(3),
                counterparty: Some(buyer),
                quantity: seq,
                amount: 10,
                memo: String::new(),
            }
            .sign(&owner)
        })
        .collect();
    assert_eq!(SignedRecord::verify_all(&rows, &owner.public_key()), Ok(()));
    let digest = DataDigest::of(0, &rows).unwrap();
    assert_eq!(digest.count, 5);
    let mut forged = rows.clone();
    forged[3].record.quantity += 1;
    assert_eq!(SignedRecord::verify_all(&forged, &owner.public_key()), Err(RecordError::Signature(3)));
    assert_ne!(DataDigest::of(0, &forged).unwrap().root, digest.root, "a changed row changes the root");
    assert_eq!(DataDigest::of(1, &rows[1..]).unwrap().count, 4);
    assert!(matches!(DataDigest::of(0, &rows[1..]), Err(RecordError::Sequence { want: 0, got: 1 })));
    let first = Record {
        target,
        dimension: Dimension::First,
        seq: 0,
        at: Height(1),
        counterparty: Some(buyer),
        quantity: 1,
        amount: 0,
        memo: String::new(),
    };
    assert!(matches!(first.check(), Err(RecordError::Counterparty(..))), "a first-dimension row names no counterparty");
}
