//! The web wallet's reads and sends for audits (SPEC C6), on the wallet's chain session:
//! a supplier's (its target, trades, rows, audits) and a counterparty's (confirming a
//! trade, checking an audit's claim about it, sending its notice). Every read verified
//! in this tab against a certified header.

use vigil_protocol::audit::{Dimension, Record, RecordTrade, Target, TargetId};
use vigil_protocol::{Address, Height, NodeId, SecretKey};
use vigil_wallet::session::audit::{AuditCheck, AuditView};

use crate::chain::Chain;
use crate::error::UiError;

/// A row as the form gives it.
#[derive(Debug, Clone)]
pub struct RowInput {
    pub dimension: Dimension,
    pub counterparty: Option<Address>,
    pub quantity: u64,
    pub amount: u64,
    pub memo: String,
}

impl Chain {
    /// Registers a target owned by `key`'s account, its records kept by `holder`.
    pub async fn register_target(
        &self,
        key: &SecretKey,
        name: &str,
        holder: NodeId,
        dimensions: [String; 2],
    ) -> Result<TargetId, UiError> {
        let mut s = self.session.hold().await;
        Ok(s.register_target(key, name, holder, dimensions).await?.0)
    }

    /// A target, proven (`None`: proven absent).
    pub async fn target(&self, id: &TargetId) -> Result<Option<Target>, UiError> {
        let mut s = self.session.hold().await;
        Ok(s.target(id).await?.0)
    }

    /// Records a trade of `target` with `counterparty`; its number.
    pub async fn record_trade(&self, key: &SecretKey, trade: RecordTrade) -> Result<u64, UiError> {
        let mut s = self.session.hold().await;
        let number = s.target(&trade.target).await?.0.map(|t| t.trades).unwrap_or_default();
        s.record_trade(key, trade).await?;
        Ok(number)
    }

    /// Confirms trade `number` of `target` (as its counterparty).
    pub async fn confirm_trade(&self, key: &SecretKey, target: TargetId, number: u64) -> Result<(), UiError> {
        let mut s = self.session.hold().await;
        s.confirm_trade(key, target, number).await?;
        Ok(())
    }

    /// Signs a row of `target` at the newest certified height and sends it to the
    /// target's node after those it keeps; how many of its dimension it keeps now.
    pub async fn upload_row(&self, key: &SecretKey, target: TargetId, row: RowInput) -> Result<u64, UiError> {
        let mut s = self.session.hold().await;
        let t = s.target(&target).await?.0.ok_or(UiError::NoTarget)?;
        let at: Height = s.proofs_after(&[vigil_protocol::StateKey::Consensus], None).await?.height();
        let seq = s.records_kept(&t.holder, &target, row.dimension).await?;
        let record = Record {
            target,
            dimension: row.dimension,
            seq,
            at,
            counterparty: row.counterparty,
            quantity: row.quantity,
            amount: row.amount,
            memo: row.memo,
        };
        record.check().map_err(|e| UiError::Browser(e.to_string()))?;
        Ok(s.upload_records(&t.holder, &[record.sign(key)]).await?)
    }

    /// Submits the audit of `target`'s next period through the newest certified height;
    /// its number.
    pub async fn submit_audit(&self, key: &SecretKey, target: TargetId, deadline_blocks: u64) -> Result<u64, UiError> {
        let mut s = self.session.hold().await;
        let (number, audit) = s.prepare_audit(&target, deadline_blocks).await?;
        s.submit_audit(key, audit).await?;
        Ok(number)
    }

    /// Audit `number` of `target`, proven.
    pub async fn audit(&self, target: TargetId, number: u64) -> Result<AuditView, UiError> {
        let mut s = self.session.hold().await;
        Ok(s.audit(&target, number).await?)
    }

    /// `me`'s check of audit `number`'s claim about it; with `send`, its notice sent too.
    pub async fn check_audit(
        &self,
        key: &SecretKey,
        target: TargetId,
        number: u64,
        send: bool,
    ) -> Result<AuditCheck, UiError> {
        let mut s = self.session.hold().await;
        if send {
            return Ok(s.note_audit(key, target, number).await?);
        }
        Ok(s.check_audit(&Address::from_public_key(&key.public_key()), &target, number).await?)
    }
}
