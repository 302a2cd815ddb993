//! An audit as the Audits page shows it: its status in words, and one line per claim —
//! the counterparty, what is claimed, and its notice (confirmed at a height, refused with
//! its reason, or awaited). And the page's own input checks. Browser-free, tested natively.

use vigil_protocol::audit::{AuditStatus, TargetId};
use vigil_protocol::limits::AUDIT_DEADLINE_HEIGHTS_MAX;
use vigil_wallet::session::audit::AuditView;

use crate::error::InputError;
use crate::model::{short, units};

/// A claim's notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeState {
    Confirmed { at: u64 },
    Refused { reason: String, at: u64 },
    Awaited,
}

/// One claim's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimLine {
    pub counterparty: String,
    pub claimed: String,
    pub state: NoticeState,
}

/// The status in one word (its CSS class too) and in a sentence.
pub fn status_line(v: &AuditView) -> (&'static str, String) {
    let confirmed = v.record.confirmations.len();
    let claims = v.record.submitted.claims.len();
    match v.status {
        AuditStatus::Pending => (
            "pending",
            format!(
                "Pending: {confirmed} of {claims} counterparties confirmed; due by height {}",
                v.record.submitted.deadline.0
            ),
        ),
        AuditStatus::Agreed { at } => {
            ("agreed", format!("Agreed at height {}: the confirmations met the chain's condition", at.0))
        }
        AuditStatus::Disputed { at } => (
            "disputed",
            format!(
                "Disputed at height {}: {} refused, and the rest cannot meet the chain's condition",
                at.0,
                v.record.refusals.len()
            ),
        ),
        AuditStatus::Expired { at } => ("expired", format!("Expired at height {}: not agreed by its deadline", at.0)),
    }
}

/// One line per claim, in the audit's order.
pub fn claim_lines(v: &AuditView) -> Vec<ClaimLine> {
    v.record
        .submitted
        .claims
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let confirmed = v.record.confirmations.iter().find(|(a, _)| *a == c.counterparty);
            let refused = v.record.refusals.iter().find(|r| r.counterparty == c.counterparty && r.claim as usize == i);
            let state = match (confirmed, refused) {
                (Some((_, at)), _) => NoticeState::Confirmed { at: at.0 },
                (None, Some(r)) => NoticeState::Refused { reason: r.reason.clone(), at: r.at.0 },
                (None, None) => NoticeState::Awaited,
            };
            ClaimLine {
                counterparty: short(&c.counterparty.to_string()),
                claimed: format!("quantity {}, amount {}, {} rows", units(c.quantity), units(c.amount), c.rows),
                state,
            }
        })
        .collect()
}

/// A target id as typed.
pub fn target_id(text: &str) -> Result<TargetId, InputError> {
    text.trim().parse().map_err(|_| InputError::Audit("A target id is 64 hex digits.".into()))
}

/// A trade's or an audit's number as typed.
pub fn number(text: &str, what: &str) -> Result<u64, InputError> {
    text.trim()
        .parse()
        .map_err(|_| InputError::Audit(format!("The {what} number is a whole number (0 for the first).")))
}

/// The deadline as typed, in blocks after the period.
pub fn deadline_blocks(text: &str) -> Result<u64, InputError> {
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=AUDIT_DEADLINE_HEIGHTS_MAX).contains(&n) => Ok(n),
        _ => Err(InputError::Audit(format!(
            "The deadline is 1 to {AUDIT_DEADLINE_HEIGHTS_MAX} blocks after the period."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_protocol::audit::*;
    use vigil_protocol::{Address, Hash32, Height, NodeId};
    use vigil_wallet::light::Verification;

    fn a(i: u8) -> Address {
        Address([i; 20])
    }

    fn view(status: AuditStatus) -> AuditView {
        let claims = vec![
            Claim { counterparty: a(1), quantity: 10, amount: 1_000, rows: 1 },
            Claim { counterparty: a(2), quantity: 5, amount: 50, rows: 2 },
            Claim { counterparty: a(3), quantity: 1, amount: 9, rows: 1 },
        ];
        let submitted = SubmitAudit {
            target: TargetId(Hash32([1; 32])),
            period: AuditPeriod { from: Height(1), to: Height(9) },
            data: [DataDigest::default(); 2],
            claims,
            deadline: Height(40),
        };
        let mut record = AuditRecord::new(submitted, Height(10), [0, 3], vec![1_000, 50, 9], AuditCondition::default());
        record.confirmations.push((a(1), Height(12)));
        record.refusals.push(Refusal { counterparty: a(2), claim: 1, reason: "shipped 4".into(), at: Height(13) });
        record.status = status;
        let verification = Verification {
            method: "m".into(),
            height: Some(Height(14)),
            validator_set_hash: Hash32([0; 32]),
            signers: vec![NodeId([1; 32])],
            header_time_ms: None,
            cross_check: None,
        };
        AuditView { target: TargetId(Hash32([1; 32])), number: 0, record, status, verification }
    }

    #[test]
    fn each_claim_shows_its_notice() {
        let lines = claim_lines(&view(AuditStatus::Pending));
        assert_eq!(lines[0].state, NoticeState::Confirmed { at: 12 });
        assert_eq!(lines[1].state, NoticeState::Refused { reason: "shipped 4".into(), at: 13 });
        assert_eq!(lines[2].state, NoticeState::Awaited);
        assert_eq!(lines[0].claimed, "quantity 10, amount 1,000, 1 rows");
    }

    #[test]
    fn the_status_says_how_it_ended() {
        assert_eq!(
            status_line(&view(AuditStatus::Pending)),
            ("pending", "Pending: 1 of 3 counterparties confirmed; due by height 40".into())
        );
        assert_eq!(status_line(&view(AuditStatus::Agreed { at: Height(15) })).0, "agreed");
        assert!(status_line(&view(AuditStatus::Disputed { at: Height(13) })).1.contains("1 refused"));
        assert!(status_line(&view(AuditStatus::Expired { at: Height(41) })).1.starts_with("Expired at height 41"));
    }

    #[test]
    fn inputs_are_checked() {
        assert!(target_id("zz").is_err());
        assert_eq!(target_id(&"ab".repeat(32)).map(|t| t.0), Ok(Hash32([0xab; 32])));
        assert_eq!(number(" 3 ", "trade"), Ok(3));
        assert!(number("-1", "audit").is_err());
        assert_eq!(deadline_blocks("200"), Ok(200));
        assert!(deadline_blocks("0").is_err());
    }
}
