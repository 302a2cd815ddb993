//! Audits (C6) in the wallet: what a target's owner sends (its registration, its trades,
//! its records to its node, an audit), what a counterparty confirms (its trades) and
//! checks (an audit's claim about it, against its own confirmed trades proven on chain
//! and the target's rows checked against the audit's digest, never the target's word),
//! and an audit with its notices proven against a certified header, for anyone.
//!
//! The checks themselves ([`check_run`], [`check_claim`]) are pure: the auditor role,
//! the npm package, the web wallet and the bench run the same ones.

use std::collections::BTreeMap;

use serde::Serialize;
use vigil_api::{RecordsAnswer, RecordsStored};
use vigil_protocol::audit::{
    AuditNotice, AuditPeriod, AuditRecord, AuditStatus, Claim, ConfirmTrade, DataDigest, Dimension, Notice,
    RecordTrade, RecordUpload, RegisterTarget, SignedRecord, SubmitAudit, Target, TargetId, Trade,
};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::limits::{RECORDS_PER_READ_MAX, RECORDS_PER_UPLOAD_MAX};
use vigil_protocol::sealed::PlainRequest;
use vigil_protocol::{Address, NodeId, Payload, PublicKey, SecretKey, StateKey};

use super::{node_error, Session, TransferReport, WalletError};
use crate::light::Verification;
use crate::platform::Platform;

/// An audit as the chain holds it, proven, with its status at the proven height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditView {
    pub target: TargetId,
    pub number: u64,
    pub record: AuditRecord,
    /// `Expired` once the proven height is past a pending audit's deadline.
    pub status: AuditStatus,
    pub verification: Verification,
}

/// A counterparty's verdict on an audit's claim about it, and what it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditCheck {
    /// What to send: confirmed, or refused naming the claim, with why.
    pub notice: Notice,
    /// The counterparty's own confirmed trades in the period, summed (proven on chain).
    pub own: Figures,
    /// The target's second-dimension rows about it, summed (their run checked against the
    /// audit's digest, each signed by the target's owner).
    pub rows: Figures,
    /// Rows checked in all (both dimensions), every signature verified.
    pub records_checked: u64,
    /// The audit's period, which a notice names.
    pub period: AuditPeriod,
    pub verification: Verification,
}

/// Quantity, amount and how many rows or trades.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub quantity: u64,
    pub amount: u64,
    pub count: u64,
}

impl Figures {
    fn add(&mut self, quantity: u64, amount: u64) {
        self.quantity = self.quantity.saturating_add(quantity);
        self.amount = self.amount.saturating_add(amount);
        self.count += 1;
    }
}

/// Checks a run of a target's rows against the digest an audit holds for it, a page at a
/// time as they arrive: the same rows in the same order (their Merkle root), each signed
/// by the target's owner (a batch per page), each of the audit's target and dimension
/// and inside its period.
pub struct RunCheck<'a> {
    owner: &'a PublicKey,
    digest: DataDigest,
    target: TargetId,
    dimension: Dimension,
    period: AuditPeriod,
    leaves: Vec<vigil_protocol::Hash32>,
}

impl<'a> RunCheck<'a> {
    pub fn new(
        owner: &'a PublicKey,
        digest: DataDigest,
        target: TargetId,
        dimension: Dimension,
        period: AuditPeriod,
    ) -> Self {
        RunCheck { owner, digest, target, dimension, period, leaves: Vec::new() }
    }

    /// The next page of the run.
    pub fn add(&mut self, page: &[SignedRecord]) -> Result<(), String> {
        for (i, r) in page.iter().enumerate() {
            let want = self.digest.from_seq + (self.leaves.len() + i) as u64;
            if r.record.target != self.target || r.record.dimension != self.dimension {
                return Err(format!("row {} is of another target or dimension", r.record.seq));
            }
            if r.record.seq != want {
                return Err(format!("row {} came where row {want} belongs", r.record.seq));
            }
            if !self.period.contains(r.record.at) {
                return Err(format!(
                    "row {} is of height {}, outside the period ({})",
                    r.record.seq, r.record.at, self.period
                ));
            }
        }
        let leaves = SignedRecord::verify_with_leaves(page, self.owner).map_err(|e| e.to_string())?;
        self.leaves.extend(leaves);
        Ok(())
    }

    /// Every row there, and their root the digest's.
    pub fn finish(self) -> Result<(), String> {
        if self.leaves.len() as u64 != self.digest.count {
            return Err(format!("the node gave {} rows, the digest holds {}", self.leaves.len(), self.digest.count));
        }
        if vigil_protocol::merkle::root(&self.leaves) != self.digest.root {
            return Err("the rows are not those the audit's digest holds (their Merkle root differs)".into());
        }
        Ok(())
    }
}

/// [`RunCheck`] of a whole run at once.
pub fn check_run(
    records: &[SignedRecord],
    owner: &PublicKey,
    digest: &DataDigest,
    target: &TargetId,
    dimension: Dimension,
    period: &AuditPeriod,
) -> Result<(), String> {
    let mut check = RunCheck::new(owner, *digest, *target, dimension, *period);
    check.add(records)?;
    check.finish()
}

/// The counterparty's check of `claim` (about `me`): it must equal the counterparty's own
/// confirmed trades in the period, and the target's rows about it (checked by
/// [`check_run`] before). The reason names what differs.
pub fn check_claim(claim: &Claim, own: &Figures, rows: &Figures) -> Result<(), String> {
    if (claim.quantity, claim.amount) != (own.quantity, own.amount) {
        return Err(format!(
            "the claim says quantity {} and amount {}; my confirmed trades say {} and {}",
            claim.quantity, claim.amount, own.quantity, own.amount
        ));
    }
    if (claim.quantity, claim.amount, claim.rows) != (rows.quantity, rows.amount, rows.count) {
        return Err(format!(
            "the claim says quantity {}, amount {} in {} rows; the target's rows say {}, {} in {}",
            claim.quantity, claim.amount, claim.rows, rows.quantity, rows.amount, rows.count
        ));
    }
    Ok(())
}

/// The claims of a period ending at `to` as the target's owner makes them: its trades
/// confirmed by then summed per counterparty, each with its rows among `rows` (the
/// period's second dimension).
pub fn claims_of(trades: &[Trade], rows: &[SignedRecord], to: vigil_protocol::Height) -> Vec<Claim> {
    let mut by: BTreeMap<Address, Claim> = BTreeMap::new();
    for t in trades.iter().filter(|t| confirmed_by(t, to)) {
        let c =
            by.entry(t.counterparty).or_insert(Claim { counterparty: t.counterparty, quantity: 0, amount: 0, rows: 0 });
        c.quantity = c.quantity.saturating_add(t.quantity);
        c.amount = c.amount.saturating_add(t.amount);
    }
    for r in rows {
        if let Some(c) = r.record.counterparty.and_then(|a| by.get_mut(&a)) {
            c.rows += 1;
        }
    }
    by.into_values().collect()
}

/// Whether `trade` was confirmed by height `to` (what an audit of a period ending there
/// counts).
pub fn confirmed_by(trade: &Trade, to: vigil_protocol::Height) -> bool {
    trade.confirmed_at.is_some_and(|h| h <= to)
}

/// Rows a counterparty's check reads at a time: small enough that the first page's
/// wait and the last page's check (the parts nothing overlaps) are short, large enough
/// that a page's request costs little beside its signatures.
pub const CHECK_PAGE_RECORDS: u64 = 1_000;

/// A dimension as the node's path names it.
fn dimension_name(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::First => "first",
        Dimension::Second => "second",
    }
}

/// A reason cut to what a notice carries (at a character's boundary).
fn clip(mut reason: String) -> String {
    let mut end = reason.len().min(vigil_protocol::limits::AUDIT_REASON_LEN_MAX);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason.truncate(end);
    reason
}

impl<T: Platform> Session<T> {
    /// Signs `payload` with the verified nonce and sends it to every node; a refusal by
    /// every node is that refusal's error.
    async fn send(&mut self, key: &SecretKey, payload: Payload) -> Result<TransferReport, WalletError> {
        let tx = self.sign(key, payload, vigil_protocol::limits::FEE_MIN).await?;
        let report = self.submit_everywhere(key, &tx).await?;
        match report.refusal() {
            Some(refused) => Err(refused),
            None => Ok(report),
        }
    }

    /// Registers a target owned by `key`'s account, its records kept by `holder`.
    pub async fn register_target(
        &mut self,
        key: &SecretKey,
        name: &str,
        holder: NodeId,
        dimensions: [String; 2],
    ) -> Result<(TargetId, TransferReport), WalletError> {
        let register = RegisterTarget { name: name.into(), holder, dimensions };
        let report = self.send(key, Payload::RegisterTarget(Box::new(register))).await?;
        Ok((TargetId::of(&Address::from_public_key(&key.public_key()), name), report))
    }

    /// Records a trade (by the target's owner).
    pub async fn record_trade(&mut self, key: &SecretKey, trade: RecordTrade) -> Result<TransferReport, WalletError> {
        self.send(key, Payload::RecordTrade(Box::new(trade))).await
    }

    /// Confirms trade `trade` of `target` (by its counterparty).
    pub async fn confirm_trade(
        &mut self,
        key: &SecretKey,
        target: TargetId,
        trade: u64,
    ) -> Result<TransferReport, WalletError> {
        self.send(key, Payload::ConfirmTrade(ConfirmTrade { target, trade })).await
    }

    /// Submits an audit (by the target's owner).
    pub async fn submit_audit(&mut self, key: &SecretKey, audit: SubmitAudit) -> Result<TransferReport, WalletError> {
        self.send(key, Payload::SubmitAudit(Box::new(audit))).await
    }

    /// [`Session::check_audit`] by `key`'s account, then its verdict sent as its notice.
    pub async fn note_audit(
        &mut self,
        key: &SecretKey,
        target: TargetId,
        number: u64,
    ) -> Result<AuditCheck, WalletError> {
        let check = self.check_audit(&Address::from_public_key(&key.public_key()), &target, number).await?;
        self.send_notice(key, target, number, check.period, check.notice.clone()).await?;
        Ok(check)
    }

    /// Sends a counterparty's notice about audit `number` of `target`, of `period`.
    pub async fn send_notice(
        &mut self,
        key: &SecretKey,
        target: TargetId,
        number: u64,
        period: AuditPeriod,
        notice: Notice,
    ) -> Result<TransferReport, WalletError> {
        let notice = AuditNotice { target, audit: number, period, notice };
        self.send(key, Payload::AuditNotice(Box::new(notice))).await
    }

    /// A target, proven.
    pub async fn target(&mut self, id: &TargetId) -> Result<(Option<Target>, Verification), WalletError> {
        self.proven(&StateKey::Target(*id)).await
    }

    /// Sends records to the target's node, in runs it takes at once, sealed to it; how
    /// many of the dimension it keeps after.
    pub async fn upload_records(&self, holder: &NodeId, records: &[SignedRecord]) -> Result<u64, WalletError> {
        let mut stored = 0;
        for run in records.chunks(RECORDS_PER_UPLOAD_MAX) {
            let body = to_bytes(&RecordUpload { records: run.to_vec() });
            let request = PlainRequest::new("POST", "/v1/audit/records", Some("application/octet-stream"), body);
            let r = self.send_sealed(holder, &request).await?;
            if r.status != 200 {
                return Err(node_error(r.status, &r.body));
            }
            stored = serde_json::from_slice::<RecordsStored>(&r.body)
                .map_err(|e| WalletError::BadAnswer(format!("records stored: {e}")))?
                .stored;
        }
        Ok(stored)
    }

    /// How many records of `target`'s `dimension` its node `holder` keeps (where the
    /// owner's next run starts).
    pub async fn records_kept(
        &self,
        holder: &NodeId,
        target: &TargetId,
        dimension: Dimension,
    ) -> Result<u64, WalletError> {
        let path = format!("/v1/audit/records/{target}/{}?from=0&count=0", dimension_name(dimension));
        Ok(self.read_from(holder, &path).await?.parse::<RecordsAnswer>()?.total)
    }

    /// The run of `count` records of `target`'s `dimension` from `from`, as its node
    /// `holder` keeps them (unchecked: see [`check_run`]).
    pub async fn read_records(
        &self,
        holder: &NodeId,
        target: &TargetId,
        dimension: Dimension,
        from: u64,
        count: u64,
    ) -> Result<Vec<SignedRecord>, WalletError> {
        let mut out: Vec<SignedRecord> = Vec::new();
        while (out.len() as u64) < count {
            let at = from + out.len() as u64;
            let want = (count - out.len() as u64).min(RECORDS_PER_READ_MAX as u64);
            let run = self.read_page(holder, target, dimension, at, want).await?;
            if run.is_empty() {
                break;
            }
            out.extend(run);
        }
        Ok(out)
    }

    /// The audit of `target`'s next period, through the newest certified height, as its
    /// owner makes it: the rows its node keeps after the last audit's, up to the first
    /// of a later height (their digests), one claim per counterparty from the period's
    /// confirmed trades (proven) with its rows among them; due `deadline_blocks` after
    /// the period. Its number too.
    pub async fn prepare_audit(
        &mut self,
        id: &TargetId,
        deadline_blocks: u64,
    ) -> Result<(u64, SubmitAudit), WalletError> {
        let target = self.target(id).await?.0.ok_or_else(|| WalletError::Node {
            status: 404,
            code: "UNKNOWN_TARGET".into(),
            message: "no target object has that id (proven absent)".into(),
        })?;
        let to = self.proofs_after(&[StateKey::Consensus], None).await?.height();
        let starts = match target.audits.checked_sub(1) {
            None => [0, 0],
            Some(last) => self.audit(id, last).await?.record.submitted.data.map(|d| d.from_seq + d.count),
        };
        let end = target.trades.min(target.trades_audited + vigil_protocol::limits::AUDIT_TRADES_PER_PERIOD_MAX);
        let keys: Vec<StateKey> = (target.trades_audited..end).map(|i| StateKey::Trade(*id, i)).collect();
        let mut trades = Vec::new();
        if !keys.is_empty() {
            for value in self.proven_many(&keys).await?.0.iter().flatten() {
                let trade: Trade = from_bytes(value).map_err(|e| WalletError::BadAnswer(format!("trade: {e}")))?;
                if trade.recorded_at <= to {
                    trades.push(trade);
                }
            }
        }
        let mut data = [DataDigest::default(); 2];
        let mut second = Vec::new();
        for dimension in Dimension::BOTH {
            let start = starts[dimension.index()];
            let kept = self.records_kept(&target.holder, id, dimension).await?;
            let mut rows = self.read_records(&target.holder, id, dimension, start, kept.saturating_sub(start)).await?;
            let within = rows.iter().position(|r| r.record.at > to).unwrap_or(rows.len());
            rows.truncate(within);
            data[dimension.index()] =
                DataDigest::of(start, &rows).map_err(|e| WalletError::BadAnswer(format!("the node's rows: {e}")))?;
            if dimension == Dimension::Second {
                second = rows;
            }
        }
        let audit = SubmitAudit {
            target: *id,
            period: AuditPeriod { from: target.next_from, to },
            data,
            claims: claims_of(&trades, &second, to),
            deadline: vigil_protocol::Height(to.0.saturating_add(deadline_blocks)),
        };
        Ok((target.audits, audit))
    }

    /// Reads `run`'s rows from the target's node a page at a time, each page checked while
    /// the next is on its way; the rows about `me` added to `rows`. How many were checked,
    /// or what is wrong with them (a node that does not answer is an error).
    async fn check_pages(
        &self,
        holder: &NodeId,
        run: &mut RunCheck<'_>,
        me: &Address,
        rows: &mut Figures,
    ) -> Result<Result<u64, String>, WalletError> {
        let (from, count, page) = (run.digest.from_seq, run.digest.count, CHECK_PAGE_RECORDS);
        let (target, dimension) = (run.target, run.dimension);
        let mut current =
            if count > 0 { self.read_page(holder, &target, dimension, from, page.min(count)).await? } else { vec![] };
        let mut done = 0u64;
        while !current.is_empty() {
            done += current.len() as u64;
            let left = count.saturating_sub(done);
            // The next page's request goes out first, then this page's signatures are
            // checked while it is on its way.
            let (next, checked) = if left > 0 {
                let fetch = self.read_page(holder, &target, dimension, from + done, page.min(left));
                let (next, checked) = futures_util::future::join(fetch, async { run.add(&current) }).await;
                (Some(next?), checked)
            } else {
                (None, run.add(&current))
            };
            if let Err(why) = checked {
                return Ok(Err(why));
            }
            for r in current.iter().filter(|r| r.record.counterparty == Some(*me)) {
                rows.add(r.record.quantity, r.record.amount);
            }
            current = next.unwrap_or_default();
        }
        Ok(Ok(done))
    }

    /// One page of a target's records as its node keeps them (at most
    /// [`RECORDS_PER_READ_MAX`]).
    async fn read_page(
        &self,
        holder: &NodeId,
        target: &TargetId,
        dimension: Dimension,
        from: u64,
        count: u64,
    ) -> Result<Vec<SignedRecord>, WalletError> {
        let path = format!("/v1/audit/records/{target}/{}?from={from}&count={count}", dimension_name(dimension));
        let answer: RecordsAnswer = self.read_from(holder, &path).await?.parse()?;
        from_bytes(&answer.records_bcs.0).map_err(|e| WalletError::BadAnswer(format!("records: {e}")))
    }

    /// Audit `number` of `target`, proven, with its status at the proven height.
    pub async fn audit(&mut self, target: &TargetId, number: u64) -> Result<AuditView, WalletError> {
        let (record, verification) = self.proven::<AuditRecord>(&StateKey::Audit(*target, number)).await?;
        let record = record.ok_or_else(|| WalletError::Node {
            status: 404,
            code: "UNKNOWN_AUDIT".into(),
            message: format!("the target has no audit {number} (proven absent)"),
        })?;
        let at = verification.height.unwrap_or_default().next();
        Ok(AuditView { target: *target, number, status: record.status_at(at), record, verification })
    }

    /// A counterparty's check of audit `number` of `target`: the claim about `me`
    /// against `me`'s own confirmed trades in the period (proven) and the target's rows
    /// (read from its node, checked against the audit's digests and signatures).
    pub async fn check_audit(
        &mut self,
        me: &Address,
        target_id: &TargetId,
        number: u64,
    ) -> Result<AuditCheck, WalletError> {
        let view = self.audit(target_id, number).await?;
        let (target, _) = self.target(target_id).await?;
        let target = target.ok_or_else(|| WalletError::BadAnswer("the audit's target is proven absent".into()))?;
        let record = &view.record;
        let (index, claim) = record.claim_of(me).ok_or_else(|| WalletError::Node {
            status: 403,
            code: "NOT_A_COUNTERPARTY".into(),
            message: "the audit has no claim about this account: it did not trade with the target in the period".into(),
        })?;
        let keys: Vec<StateKey> =
            (record.trades[0]..record.trades[1]).map(|i| StateKey::Trade(*target_id, i)).collect();
        let (values, _) = self.proven_many(&keys).await?;
        let mut own = Figures::default();
        for value in values.iter().flatten() {
            let trade: Trade = from_bytes(value).map_err(|e| WalletError::BadAnswer(format!("trade: {e}")))?;
            if trade.counterparty == *me && confirmed_by(&trade, record.submitted.period.to) {
                own.add(trade.quantity, trade.amount);
            }
        }
        let (period, data) = (record.submitted.period, record.submitted.data);
        let mut rows = Figures::default();
        let mut checked = 0;
        let mut problem = None;
        for dimension in Dimension::BOTH {
            let digest = data[dimension.index()];
            let mut run = RunCheck::new(&target.owner_key, digest, *target_id, dimension, period);
            match self.check_pages(&target.holder, &mut run, me, &mut rows).await? {
                Ok(n) => checked += n,
                Err(why) => {
                    problem.get_or_insert(format!("{dimension:?} rows: {why}"));
                    continue;
                }
            }
            if let Err(why) = run.finish() {
                problem.get_or_insert(format!("{dimension:?} rows: {why}"));
            }
        }
        let verdict = match problem {
            Some(why) => Err(why),
            None => check_claim(claim, &own, &rows),
        };
        let notice = match verdict {
            Ok(()) => Notice::Confirm,
            Err(reason) => Notice::Refuse { claim: index as u32, reason: clip(reason) },
        };
        Ok(AuditCheck { notice, own, rows, records_checked: checked, period, verification: view.verification })
    }
}
