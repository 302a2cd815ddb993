//! An audit of one period of a target's data: what its owner submits (the digests and a
//! claim per counterparty), the counterparties' notices, and how it ends — agreed once
//! the confirmations meet the chain's [`AuditCondition`], disputed once refusals make
//! that unreachable, expired when neither happened by its deadline.

use serde::{Deserialize, Serialize};

use crate::limits::{AUDIT_CLAIMS_MAX, AUDIT_DEADLINE_HEIGHTS_MAX, AUDIT_PERIOD_HEIGHTS_MAX, AUDIT_REASON_LEN_MAX};
use crate::{Address, Height};

use super::{DataDigest, TargetId};

/// The heights an audit covers, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPeriod {
    pub from: Height,
    pub to: Height,
}

impl AuditPeriod {
    pub fn contains(&self, h: Height) -> bool {
        self.from <= h && h <= self.to
    }
}

impl std::fmt::Display for AuditPeriod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "heights {} to {}", self.from.0, self.to.0)
    }
}

/// What the owner claims about one counterparty for the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub counterparty: Address,
    /// Shipped to it (the period's confirmed trades with it, summed).
    pub quantity: u64,
    /// Invoiced to it.
    pub amount: u64,
    /// Its rows among the period's second-dimension rows.
    pub rows: u64,
}

/// An audit as its owner submits it (sent by the target's owner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitAudit {
    pub target: TargetId,
    pub period: AuditPeriod,
    /// The period's first- and second-dimension rows.
    pub data: [DataDigest; 2],
    /// One per counterparty with a confirmed trade in the period, in address order.
    pub claims: Vec<Claim>,
    /// The last height a notice counts at.
    pub deadline: Height,
}

/// Why an audit or a notice is refused (before any state is read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("the period ends before it starts, or spans more than {AUDIT_PERIOD_HEIGHTS_MAX} heights")]
    Period,
    #[error("1 to {AUDIT_CLAIMS_MAX} claims, one per counterparty, in address order")]
    Claims,
    #[error("the claims name {claimed} second-dimension rows, the digest holds {digest}")]
    RowsMismatch { claimed: u64, digest: u64 },
    #[error("the deadline must be after the period and at most {AUDIT_DEADLINE_HEIGHTS_MAX} heights after it")]
    Deadline,
    #[error("a refusal's reason is 1 to {AUDIT_REASON_LEN_MAX} bytes of printable text")]
    Reason,
}

impl SubmitAudit {
    pub fn check(&self) -> Result<(), AuditError> {
        let p = self.period;
        if p.to < p.from || p.to.0 - p.from.0 >= AUDIT_PERIOD_HEIGHTS_MAX {
            return Err(AuditError::Period);
        }
        let ordered = self.claims.windows(2).all(|w| matches!(w, [a, b] if a.counterparty < b.counterparty));
        if self.claims.is_empty() || self.claims.len() > AUDIT_CLAIMS_MAX || !ordered {
            return Err(AuditError::Claims);
        }
        let claimed = self.claims.iter().fold(0u64, |n, c| n.saturating_add(c.rows));
        let digest = self.data[1].count;
        if claimed != digest {
            return Err(AuditError::RowsMismatch { claimed, digest });
        }
        if self.deadline <= p.to || self.deadline.0 - p.to.0 > AUDIT_DEADLINE_HEIGHTS_MAX {
            return Err(AuditError::Deadline);
        }
        Ok(())
    }
}

/// What a counterparty says about an audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notice {
    /// The claim about it matches its own records and the target's rows.
    Confirm,
    /// The claim at `claim` (its own) does not match, and why.
    Refuse { claim: u32, reason: String },
}

/// A counterparty's notice about an audit (sent by the counterparty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditNotice {
    pub target: TargetId,
    pub audit: u64,
    /// The period it checked: a notice about another period is refused.
    pub period: AuditPeriod,
    pub notice: Notice,
}

impl AuditNotice {
    pub fn check(&self) -> Result<(), AuditError> {
        match &self.notice {
            Notice::Refuse { reason, .. }
                if reason.is_empty() || reason.len() > AUDIT_REASON_LEN_MAX || reason.chars().any(char::is_control) =>
            {
                Err(AuditError::Reason)
            }
            _ => Ok(()),
        }
    }
}

/// The chain's rule for agreeing an audit (genesis): the confirmed counterparties'
/// weight (their volume in the period, as the chain counted it) must reach `num / den`
/// of all the counterparties' weight.
/// `1 / 1`, the default: every counterparty with a trade in the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCondition {
    pub num: u32,
    pub den: u32,
}

impl Default for AuditCondition {
    fn default() -> Self {
        AuditCondition { num: 1, den: 1 }
    }
}

impl AuditCondition {
    /// A fraction from above 0 to 1.
    pub fn check(&self) -> Result<(), String> {
        if self.num == 0 || self.den == 0 || self.num > self.den {
            return Err(format!(
                "the audit condition {}/{} is not a fraction above 0 and at most 1",
                self.num, self.den
            ));
        }
        Ok(())
    }

    /// Whether `weight` of `total` meets it (a period with no counterparty: at once).
    pub fn met(&self, weight: u128, total: u128) -> bool {
        weight * u128::from(self.den.max(1)) >= total * u128::from(self.num.min(self.den.max(1)))
    }
}

/// A refusal kept in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub counterparty: Address,
    pub claim: u32,
    pub reason: String,
    pub at: Height,
}

/// How an audit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditStatus {
    Pending,
    Agreed {
        at: Height,
    },
    Disputed {
        at: Height,
    },
    /// Not agreed by its deadline (read from a pending record past it: see
    /// [`AuditRecord::status_at`]).
    Expired {
        at: Height,
    },
}

/// An audit as the state keeps it (`StateKey::Audit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub submitted: SubmitAudit,
    pub submitted_at: Height,
    /// The target's trades the period holds, by number: from the first, up to (not
    /// including) the second. A counterparty finds its own among them.
    pub trades: [u64; 2],
    /// Each claim's counterparty's volume in the period as the chain counted it (the
    /// amounts of its trades confirmed by the period's end), in the claims' order: the
    /// condition's weights, never the figures the target claims (which an owner could
    /// inflate for a friendly counterparty).
    pub volumes: Vec<u64>,
    pub condition: AuditCondition,
    /// Who confirmed, and when, in the order the notices came.
    pub confirmations: Vec<(Address, Height)>,
    pub refusals: Vec<Refusal>,
    /// `Pending`, `Agreed` or `Disputed` as the last notice left it; `Expired` is read.
    pub status: AuditStatus,
}

impl AuditRecord {
    pub fn new(
        submitted: SubmitAudit,
        at: Height,
        trades: [u64; 2],
        volumes: Vec<u64>,
        condition: AuditCondition,
    ) -> AuditRecord {
        let mut record = AuditRecord {
            submitted,
            submitted_at: at,
            trades,
            volumes,
            condition,
            confirmations: vec![],
            refusals: vec![],
            status: AuditStatus::Pending,
        };
        record.settle(at);
        record
    }

    /// Its status at height `at`: a record pending past its deadline has expired.
    pub fn status_at(&self, at: Height) -> AuditStatus {
        match self.status {
            AuditStatus::Pending if at > self.submitted.deadline => {
                AuditStatus::Expired { at: self.submitted.deadline.next() }
            }
            status => status,
        }
    }

    /// The claim about `counterparty`, and its place.
    pub fn claim_of(&self, counterparty: &Address) -> Option<(usize, &Claim)> {
        self.submitted.claims.iter().enumerate().find(|(_, c)| c.counterparty == *counterparty)
    }

    /// Whether `counterparty` has sent its notice.
    pub fn noted(&self, counterparty: &Address) -> bool {
        self.confirmations.iter().any(|(a, _)| a == counterparty)
            || self.refusals.iter().any(|r| r.counterparty == *counterparty)
    }

    /// Records `counterparty`'s notice at height `at` (checked before: a counterparty of
    /// the audit, its first notice, the claim its own) and settles the status.
    pub fn note(&mut self, counterparty: Address, notice: &Notice, at: Height) {
        match notice {
            Notice::Confirm => self.confirmations.push((counterparty, at)),
            Notice::Refuse { claim, reason } => {
                self.refusals.push(Refusal { counterparty, claim: *claim, reason: reason.clone(), at })
            }
        }
        self.settle(at);
    }

    /// Claim `i`'s weight: its counterparty's volume, and at least 1, so a counterparty
    /// with nothing invoiced still counts.
    fn weight(&self, i: usize) -> u128 {
        u128::from(self.volumes.get(i).copied().unwrap_or(0)).max(1)
    }

    fn weight_of(&self, parties: impl Iterator<Item = Address>) -> u128 {
        parties.filter_map(|a| self.claim_of(&a)).map(|(i, _)| self.weight(i)).sum()
    }

    /// Agreed once the confirmations meet the condition; disputed once what is not
    /// refused cannot meet it any more.
    fn settle(&mut self, at: Height) {
        if self.status != AuditStatus::Pending {
            return;
        }
        let total: u128 = (0..self.submitted.claims.len()).map(|i| self.weight(i)).sum();
        let confirmed = self.weight_of(self.confirmations.iter().map(|(a, _)| *a));
        let refused = self.weight_of(self.refusals.iter().map(|r| r.counterparty));
        if self.condition.met(confirmed, total) {
            self.status = AuditStatus::Agreed { at };
        } else if !self.condition.met(total - refused, total) {
            self.status = AuditStatus::Disputed { at };
        }
    }
}
