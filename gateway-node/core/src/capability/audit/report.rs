//! Audits and the notices about them.
//!
//! - `SubmitAudit`: by the target's owner, for the period that starts where the last one
//!   ended (the first at the target's registration) and ends before the height it
//!   executes at; the claims name exactly the counterparties of the period's trades
//!   confirmed by its end (at most [`AUDIT_TRADES_PER_PERIOD_MAX`] trades read), and their
//!   rows add up to the second data's digest; the deadline not passed. The audit is
//!   numbered, and the target's next period starts after this one.
//! - `AuditNotice`: by a counterparty the audit has a claim about, about the audit's own
//!   period, once, while the audit is pending and its deadline not passed; a refusal
//!   names the sender's own claim. The audit settles as the chain's condition says.

use std::collections::{BTreeMap, BTreeSet};

use vigil_protocol::audit::{
    AuditCondition, AuditNotice, AuditRecord, AuditStatus, Notice, SubmitAudit, Target, Trade,
};
use vigil_protocol::limits::AUDIT_TRADES_PER_PERIOD_MAX;
use vigil_protocol::{Address, PublicKey, StateKey, TxStatus};

use super::{executing, owned_target, step, Refused};
use crate::capability::crosschain::Step;
use crate::capability::{Capability, ReadState};
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

/// The counterparties of the trades from the target's first unaudited one through the
/// period's end that were confirmed by then, with their volume (amounts summed), and the
/// first trade after the period.
fn period_counterparties(
    target: &Target,
    submit: &SubmitAudit,
    state: &impl ReadState,
) -> Result<(BTreeMap<Address, u64>, u64), Refused> {
    let mut parties = BTreeMap::new();
    let mut next = target.trades_audited;
    while next < target.trades {
        if next - target.trades_audited >= AUDIT_TRADES_PER_PERIOD_MAX {
            return Err(Refused::Audit(format!(
                "the period holds more than {AUDIT_TRADES_PER_PERIOD_MAX} trades: audit a shorter one"
            )));
        }
        let trade: Trade = state.get(&StateKey::Trade(submit.target, next)).ok_or(Refused::UnknownTrade(next))?;
        if trade.recorded_at > submit.period.to {
            break;
        }
        // Confirmed by the period's end: what the claims rest on is final at its last
        // height, whatever is confirmed between then and this audit's execution.
        if trade.confirmed_at.is_some_and(|h| h <= submit.period.to) {
            let volume: &mut u64 = parties.entry(trade.counterparty).or_default();
            *volume = volume.saturating_add(trade.amount);
        }
        next += 1;
    }
    Ok((parties, next))
}

/// What a submitted audit changes: the target moved on, where its trades stand, and
/// each claim's counterparty's volume as counted here.
pub struct Submitted {
    target: Target,
    trades_audited: u64,
    volumes: Vec<u64>,
}

fn check_submit(submit: &SubmitAudit, sender: &Address, state: &impl ReadState) -> Result<Submitted, Refused> {
    submit.check().map_err(|e| match e {
        e @ vigil_protocol::audit::AuditError::RowsMismatch { .. } => Refused::Claims(e.to_string()),
        e => Refused::Audit(e.to_string()),
    })?;
    let target = owned_target(state, &submit.target, sender)?;
    let at = executing(state);
    if submit.period.from != target.next_from {
        return Err(Refused::PeriodTaken { next_from: target.next_from });
    }
    if submit.period.to >= at {
        return Err(Refused::Audit(format!(
            "the period must have ended: it ends at height {}, the chain executes height {at}",
            submit.period.to
        )));
    }
    if submit.deadline < at {
        return Err(Refused::Audit(format!("the deadline (height {}) has passed", submit.deadline)));
    }
    let (parties, trades_audited) = period_counterparties(&target, submit, state)?;
    let claimed: BTreeSet<Address> = submit.claims.iter().map(|c| c.counterparty).collect();
    if let Some(missing) = parties.keys().find(|a| !claimed.contains(a)) {
        return Err(Refused::Claims(format!("{missing} traded with the target in the period, and no claim names it")));
    }
    if let Some(extra) = claimed.iter().find(|a| !parties.contains_key(a)) {
        return Err(Refused::Claims(format!("{extra} has no confirmed trade with the target in the period")));
    }
    let volumes = submit.claims.iter().map(|c| parties.get(&c.counterparty).copied().unwrap_or(0)).collect();
    Ok(Submitted { target, trades_audited, volumes })
}

impl Capability for SubmitAudit {
    type Checked = Step<Submitted>;

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check_submit(self, &Address::from_public_key(sender), ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Step<Submitted>, TxInvalid> {
        step(check_submit(self, &cx.sender(), cx))
    }

    fn apply(&self, checked: Step<Submitted>, cx: &mut TxContext<'_>) -> TxStatus {
        let Submitted { mut target, trades_audited, volumes } = match checked {
            Step::Go(s) => s,
            Step::Fail(code) => return TxStatus::Failed(code),
        };
        let condition: AuditCondition = cx.read(&StateKey::AuditCondition).unwrap_or_default();
        let trades = [target.trades_audited, trades_audited];
        let record = AuditRecord::new(self.clone(), executing(cx), trades, volumes, condition);
        cx.write(StateKey::Audit(self.target, target.audits), &record);
        target.audits += 1;
        target.trades_audited = trades_audited;
        target.next_from = self.period.to.next();
        cx.write(StateKey::Target(self.target), &target);
        TxStatus::Success
    }
}

fn check_notice(notice: &AuditNotice, sender: &Address, state: &impl ReadState) -> Result<AuditRecord, Refused> {
    notice.check().map_err(|e| Refused::Audit(e.to_string()))?;
    let key = StateKey::Audit(notice.target, notice.audit);
    let record: AuditRecord = state.get(&key).ok_or(Refused::UnknownAudit(notice.audit))?;
    let period = record.submitted.period;
    if notice.period != period {
        return Err(Refused::WrongPeriod(format!("audit {} is of {period}, not {}", notice.audit, notice.period)));
    }
    let (index, _) = record.claim_of(sender).ok_or(Refused::NotACounterparty)?;
    if let Notice::Refuse { claim, .. } = notice.notice {
        if claim as usize != index {
            return Err(Refused::Audit(format!(
                "a counterparty refuses the claim about it: claim {index}, not {claim}"
            )));
        }
    }
    match record.status_at(executing(state)) {
        AuditStatus::Pending => {}
        status => return Err(Refused::Closed(format!("audit {} is no longer pending: {status:?}", notice.audit))),
    }
    if record.noted(sender) {
        return Err(Refused::AlreadyNoted);
    }
    Ok(record)
}

impl Capability for AuditNotice {
    type Checked = Step<AuditRecord>;

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check_notice(self, &Address::from_public_key(sender), ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Step<AuditRecord>, TxInvalid> {
        step(check_notice(self, &cx.sender(), cx))
    }

    fn apply(&self, checked: Step<AuditRecord>, cx: &mut TxContext<'_>) -> TxStatus {
        let mut record = match checked {
            Step::Go(record) => record,
            Step::Fail(code) => return TxStatus::Failed(code),
        };
        record.note(cx.sender(), &self.notice, executing(cx));
        cx.write(StateKey::Audit(self.target, self.audit), &record);
        TxStatus::Success
    }
}
