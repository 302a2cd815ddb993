//! Audits of a target object's data (SPEC C6, patent 7; the shapes are in
//! `vigil_protocol::audit`).
//!
//! - [`target`]: `RegisterTarget` (by its owner, naming a validator that keeps its
//!   records), `RecordTrade` (by the owner) and `ConfirmTrade` (by the counterparty).
//! - [`report`]: `SubmitAudit` (by the owner: a period's digests and one claim per
//!   counterparty, each counterparty with a confirmed trade in the period named, none
//!   other) and `AuditNotice` (by a counterparty of the audit, once: confirmed or refused
//!   naming its claim), which settle the audit as the chain's condition says.
//!
//! What another transaction of the same block can change (a trade confirmed twice, a
//! second notice, an audit agreed or past its deadline, a period submitted twice, a
//! trade confirmed that changes a period's counterparties) fails the transaction in the
//! block, its fee paid and nothing else changed; everything else may not be in a block.
//! Admission refuses both, each with its code.

use vigil_protocol::audit::{Target, TargetId};
use vigil_protocol::{Address, FailureCode, Height, StateKey};

use crate::capability::crosschain::Step;
use crate::capability::ReadState;
use crate::consensus::Rejection;
use crate::execution::TxInvalid;

pub mod report;
pub mod target;

#[cfg(test)]
mod tests;

/// Why an audit payload is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    UnknownTarget(TargetId),
    Target(String),
    NotTheOwner,
    UnknownTrade(u64),
    Trade(String),
    TradeConfirmed,
    Audit(String),
    Claims(String),
    PeriodTaken { next_from: Height },
    UnknownAudit(u64),
    NotACounterparty,
    AlreadyNoted,
    WrongPeriod(String),
    Closed(String),
}

impl Refused {
    pub(crate) fn rejection(self) -> Rejection {
        match self {
            Refused::UnknownTarget(id) => Rejection::UnknownTarget(id.to_string()),
            Refused::Target(why) => Rejection::InvalidTarget(why),
            Refused::NotTheOwner => Rejection::InvalidTarget("only the target's owner sends this".into()),
            Refused::UnknownTrade(n) => Rejection::InvalidTrade(format!("the target has no trade {n}")),
            Refused::Trade(why) => Rejection::InvalidTrade(why),
            Refused::TradeConfirmed => Rejection::InvalidTrade("the trade is confirmed already".into()),
            Refused::Audit(why) => Rejection::InvalidAudit(why),
            Refused::Claims(why) => Rejection::ClaimsMismatch(why),
            Refused::PeriodTaken { next_from } => Rejection::InvalidAudit(format!(
                "periods are audited one after the other: the next starts at height {next_from}"
            )),
            Refused::UnknownAudit(n) => Rejection::UnknownAudit(format!("the target has no audit {n}")),
            Refused::NotACounterparty => Rejection::NotACounterparty,
            Refused::AlreadyNoted => Rejection::DuplicateNotice,
            Refused::WrongPeriod(why) => Rejection::WrongPeriod(why),
            Refused::Closed(why) => Rejection::AuditClosed(why),
        }
    }

    /// In a block: what another transaction of the block can cause fails the
    /// transaction (its fee paid); the rest may not be in a block.
    pub(crate) fn in_block(self) -> Result<FailureCode, TxInvalid> {
        match self {
            Refused::TradeConfirmed => Ok(FailureCode::TradeAlreadyConfirmed),
            Refused::AlreadyNoted => Ok(FailureCode::AlreadyNoted),
            Refused::Closed(_) => Ok(FailureCode::AuditClosed),
            Refused::PeriodTaken { .. } | Refused::Claims(_) => Ok(FailureCode::AuditClaimsChanged),
            other => Err(TxInvalid::Audit(other.rejection().to_string())),
        }
    }
}

/// A check in a block: go on with what was checked, or fail with a code.
fn step<T>(checked: Result<T, Refused>) -> Result<Step<T>, TxInvalid> {
    match checked {
        Ok(t) => Ok(Step::Go(t)),
        Err(refused) => refused.in_block().map(Step::Fail),
    }
}

/// The height a payload executes at, on the state `state` reads.
fn executing(state: &impl ReadState) -> Height {
    state.height().next()
}

/// The target `id`, sent to by its owner `sender`.
fn owned_target(state: &impl ReadState, id: &TargetId, sender: &Address) -> Result<Target, Refused> {
    let target: Target = state.get(&StateKey::Target(*id)).ok_or(Refused::UnknownTarget(*id))?;
    if target.owner != *sender {
        return Err(Refused::NotTheOwner);
    }
    Ok(target)
}
