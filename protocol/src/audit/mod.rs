//! Audits of a target object's data, confirmed by the parties that transacted with it
//! (SPEC C6, patent 7).
//!
//! A target object (a supplier, say) is registered by its owner's account, naming the
//! node that keeps its data. Its data of two dimensions (first and second: production
//! records and shipment records) are [`record::SignedRecord`]s its owner signs, stored at
//! that node, in that node's own database; only their digests reach the chain. Its
//! transactions with its counterparties are on chain, recorded by both sides
//! ([`target::RecordTrade`] by the target's owner, [`target::ConfirmTrade`] by the
//! counterparty), so who transacted with whom, and what, is provable.
//!
//! For a period (a range of heights), the owner submits [`report::SubmitAudit`]: the
//! digests of the period's first and second data, and one claim per counterparty of the
//! period (what was shipped to it and invoiced, and which of the second data's rows are
//! its). Each counterparty checks the claim about it against its own records (the trades
//! it confirmed, proven on chain, never the target's word) and the target's rows (their
//! signatures, their digest), and sends a [`report::AuditNotice`]: confirmed, or refused
//! naming the claim. The chain's [`report::AuditCondition`] (a fraction of the
//! counterparties, weighted by volume; all of them by default) decides when the audit is
//! agreed; a refusal that makes it unreachable makes it disputed; not agreed by its
//! deadline, it has expired.
//!
//! - [`target`]: target objects and their trades.
//! - [`record`]: the off-chain records, their signatures and digests.
//! - [`report`]: an audit, the notices about it and how it ends.

pub mod record;
pub mod report;
pub mod target;

// proptest is a native dev-dependency only.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

pub use record::{DataDigest, Dimension, Record, RecordError, RecordUpload, SignedRecord};
pub use report::{
    AuditCondition, AuditError, AuditNotice, AuditPeriod, AuditRecord, AuditStatus, Claim, Notice, Refusal, SubmitAudit,
};
pub use target::{ConfirmTrade, RecordTrade, RegisterTarget, Target, TargetError, TargetId, Trade};
