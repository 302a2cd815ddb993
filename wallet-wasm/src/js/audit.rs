//! Audits in the JS API (SPEC C6): a supplier's side (`registerTarget`, `recordTrade`,
//! `uploadRecords`, `submitAudit`), a counterparty's (`confirmTrade`, `checkAudit`,
//! `noteAudit`: its own check, then its notice), and anyone's (`audit`: the record with
//! its notices proven against a certified header). Quantities and amounts are `bigint`s
//! going in; figures read back are numbers (refused above 2^53 − 1).

use js_sys::{Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use vigil_protocol::audit::{AuditStatus, Dimension, Notice, Record, RecordTrade, TargetId};
use vigil_protocol::{Address, Height, NodeId};

use super::{busy, error, key_error, to_js, wallet_error, whole, VigilClient, Wallet};
use crate::session::audit::{AuditCheck, AuditView};

/// The TypeScript of this part of the API (emitted into the package's declarations).
#[wasm_bindgen(typescript_custom_section)]
const AUDIT_TYPES: &str = r#"
/** How an audit stands: `expired` once a pending audit's deadline passed. */
export type AuditStatusName = 'pending' | 'agreed' | 'disputed' | 'expired';

/** An audit as the chain holds it, proven (`VigilClient.audit`). */
export interface AuditReport {
  target: string;
  number: number;
  status: AuditStatusName;
  /** The height it was agreed, disputed or expired at. */
  settledAt: number | null;
  period: { from: number; to: number };
  deadline: number;
  claims: { counterparty: string; quantity: number; amount: number; rows: number }[];
  confirmations: { counterparty: string; height: number }[];
  refusals: { counterparty: string; claim: number; reason: string; height: number }[];
  /** How it was verified: a certified header, its height and signers. */
  verification: Verification;
}

/** A counterparty's check of an audit's claim about it (`VigilClient.checkAudit`). */
export interface AuditCheckReport {
  /** What it found: the claim confirmed, or refused with why. */
  verdict: 'confirm' | 'refuse';
  /** The refused claim's place, and why (null when confirmed). */
  claim: number | null;
  reason: string | null;
  /** Its own confirmed trades in the period, summed (proven on chain). */
  own: { quantity: number; amount: number; count: number };
  /** The target's rows about it, summed (checked against the audit's digest and signatures). */
  rows: { quantity: number; amount: number; count: number };
  recordsChecked: number;
  verification: Verification;
}

/** A row of a target's data, as `uploadRecords` takes it. */
export interface RecordInput {
  /** The height it belongs to (which period holds it). */
  at: number;
  /** Second-dimension rows name their counterparty; first-dimension rows none. */
  counterparty?: string;
  quantity: bigint;
  amount: bigint;
  memo?: string;
}
"#;

/// A trade's or an audit's number: a whole number a JS number holds exactly.
fn whole_number(n: f64, what: &str) -> Result<u64, JsValue> {
    if n < 0.0 || n.fract() != 0.0 || n > 9_007_199_254_740_991.0 {
        return Err(error("BAD_OPTIONS", format!("{what} is a whole number (0 for the first)")));
    }
    Ok(n as u64)
}

fn target_id(text: &str) -> Result<TargetId, JsValue> {
    text.parse().map_err(|_| error("BAD_TARGET", "a target id is 64 hex digits"))
}

fn dimension(text: &str) -> Result<Dimension, JsValue> {
    match text {
        "first" => Ok(Dimension::First),
        "second" => Ok(Dimension::Second),
        other => Err(error("BAD_OPTIONS", format!("a dimension is 'first' or 'second', not '{other}'"))),
    }
}

fn field(o: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    Reflect::get(o, &name.into()).map_err(|_| error("BAD_OPTIONS", format!("`{name}` could not be read")))
}

fn text_field(o: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    let v = field(o, name)?;
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string().map(Some).ok_or_else(|| error("BAD_OPTIONS", format!("`{name}` must be a string")))
}

fn number_field(o: &JsValue, name: &str) -> Result<u64, JsValue> {
    match field(o, name)?.as_f64() {
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 => Ok(n as u64),
        _ => Err(error("BAD_OPTIONS", format!("`{name}` must be a whole number"))),
    }
}

fn address_field(o: &JsValue, name: &str) -> Result<Option<Address>, JsValue> {
    text_field(o, name)?.map(|a| Address::parse(&a).map_err(|e| error("BAD_ADDRESS", e))).transpose()
}

/// A figure that must fit a JS number.
fn small(v: u64) -> Result<u64, JsValue> {
    if v > 9_007_199_254_740_991 {
        return Err(error("INTERNAL", format!("{v} can't be represented as a JavaScript number")));
    }
    Ok(v)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Figures {
    quantity: u64,
    amount: u64,
    count: u64,
}

fn figures(f: &crate::session::audit::Figures) -> Result<Figures, JsValue> {
    Ok(Figures { quantity: small(f.quantity)?, amount: small(f.amount)?, count: f.count })
}

fn audit_to_js(v: &AuditView) -> Result<JsValue, JsValue> {
    let (status, settled) = match v.status {
        AuditStatus::Pending => ("pending", None),
        AuditStatus::Agreed { at } => ("agreed", Some(at.0)),
        AuditStatus::Disputed { at } => ("disputed", Some(at.0)),
        AuditStatus::Expired { at } => ("expired", Some(at.0)),
    };
    let s = &v.record.submitted;
    let claims: Vec<_> = s
        .claims
        .iter()
        .map(|c| serde_json::json!({ "counterparty": c.counterparty.to_string(), "quantity": c.quantity, "amount": c.amount, "rows": c.rows }))
        .collect();
    let confirmations: Vec<_> = v
        .record
        .confirmations
        .iter()
        .map(|(a, h)| serde_json::json!({ "counterparty": a.to_string(), "height": h.0 }))
        .collect();
    let refusals: Vec<_> = v
        .record
        .refusals
        .iter()
        .map(|r| serde_json::json!({ "counterparty": r.counterparty.to_string(), "claim": r.claim, "reason": r.reason, "height": r.at.0 }))
        .collect();
    to_js(&serde_json::json!({
        "target": v.target.to_string(),
        "number": v.number,
        "status": status,
        "settledAt": settled,
        "period": { "from": s.period.from.0, "to": s.period.to.0 },
        "deadline": s.deadline.0,
        "claims": claims,
        "confirmations": confirmations,
        "refusals": refusals,
        "verification": v.verification,
    }))
}

fn check_to_js(c: &AuditCheck) -> Result<JsValue, JsValue> {
    let (verdict, claim, reason) = match &c.notice {
        Notice::Confirm => ("confirm", None, None),
        Notice::Refuse { claim, reason } => ("refuse", Some(*claim), Some(reason.clone())),
    };
    to_js(&serde_json::json!({
        "verdict": verdict,
        "claim": claim,
        "reason": reason,
        "own": figures(&c.own)?,
        "rows": figures(&c.rows)?,
        "recordsChecked": c.records_checked,
        "verification": c.verification,
    }))
}

#[wasm_bindgen]
impl VigilClient {
    /// Registers a target object owned by `wallet`'s account `index`: `{ name, holder
    /// (the node id that keeps its records), dimensions: [first, second] }`; resolves to
    /// its id (hex) once committed.
    #[wasm_bindgen(
        js_name = registerTarget,
        unchecked_return_type = "Promise<string>"
    )]
    pub fn register_target(
        &self,
        wallet: &Wallet,
        index: u32,
        #[wasm_bindgen(unchecked_param_type = "{ name: string; holder: string; dimensions: [string, string] }")]
        options: JsValue,
    ) -> Promise {
        let shared = self.session.clone();
        let account = wallet.0.account(index);
        future_to_promise(async move {
            let account = account.map_err(key_error)?;
            let name = text_field(&options, "name")?.ok_or_else(|| error("BAD_OPTIONS", "`name` is needed"))?;
            let holder: NodeId = text_field(&options, "holder")?
                .ok_or_else(|| error("BAD_OPTIONS", "`holder` (a node id) is needed"))?
                .parse()
                .map_err(|_| error("BAD_OPTIONS", "`holder` is a node id: 64 hex digits"))?;
            let dims = field(&options, "dimensions")?;
            let dim = |i: u32| js_sys::Reflect::get_u32(&dims, i).ok().and_then(|v| v.as_string());
            let (Some(first), Some(second)) = (dim(0), dim(1)) else {
                return Err(error("BAD_OPTIONS", "`dimensions` is two names, e.g. ['production', 'shipments']"));
            };
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let (id, _) =
                s.register_target(&account.key, &name, holder, [first, second]).await.map_err(wallet_error)?;
            Ok(JsValue::from_str(&id.to_string()))
        })
    }

    /// Records a trade of the target (by its owner): `{ target, counterparty, quantity,
    /// amount, reference }` (quantity and amount `bigint`s).
    #[wasm_bindgen(js_name = recordTrade)]
    pub fn record_trade(&self, wallet: &Wallet, index: u32, options: JsValue) -> Promise {
        let shared = self.session.clone();
        let account = wallet.0.account(index);
        future_to_promise(async move {
            let account = account.map_err(key_error)?;
            let target = target_id(&text_field(&options, "target")?.unwrap_or_default())?;
            let counterparty = address_field(&options, "counterparty")?
                .ok_or_else(|| error("BAD_ADDRESS", "`counterparty` is needed"))?;
            let quantity = whole("quantity", field(&options, "quantity")?.unchecked_into())?;
            let amount = whole("amount", field(&options, "amount")?.unchecked_into())?;
            let reference = text_field(&options, "reference")?.unwrap_or_default();
            let trade = RecordTrade { target, counterparty, quantity, amount, reference };
            let mut s = shared.try_hold().ok_or_else(busy)?;
            to_js(&s.record_trade(&account.key, trade).await.map_err(wallet_error)?)
        })
    }

    /// Confirms trade number `trade` of `target` (by its counterparty).
    #[wasm_bindgen(js_name = confirmTrade)]
    pub fn confirm_trade(&self, wallet: &Wallet, index: u32, target: String, trade: f64) -> Promise {
        let shared = self.session.clone();
        let account = wallet.0.account(index);
        future_to_promise(async move {
            let account = account.map_err(key_error)?;
            let target = target_id(&target)?;
            let trade = whole_number(trade, "a trade's number")?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            to_js(&s.confirm_trade(&account.key, target, trade).await.map_err(wallet_error)?)
        })
    }

    /// Signs rows of `target`'s `dimension` ('first' | 'second') with the owner's key
    /// (`wallet`'s account `index`) and sends them to the target's node, after those it
    /// keeps; resolves to how many it keeps now.
    #[wasm_bindgen(js_name = uploadRecords, unchecked_return_type = "Promise<number>")]
    pub fn upload_records(
        &self,
        wallet: &Wallet,
        index: u32,
        target: String,
        dimension_name: String,
        #[wasm_bindgen(unchecked_param_type = "RecordInput[]")] rows: js_sys::Array,
    ) -> Promise {
        let shared = self.session.clone();
        let account = wallet.0.account(index);
        future_to_promise(async move {
            let account = account.map_err(key_error)?;
            let target = target_id(&target)?;
            let dimension = dimension(&dimension_name)?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let (t, _) = s.target(&target).await.map_err(wallet_error)?;
            let t = t.ok_or_else(|| error("UNKNOWN_TARGET", "no target object has that id (proven absent)"))?;
            let kept = s.records_kept(&t.holder, &target, dimension).await.map_err(wallet_error)?;
            let mut signed = Vec::new();
            for (i, row) in rows.iter().enumerate() {
                let record = Record {
                    target,
                    dimension,
                    seq: kept + i as u64,
                    at: Height(number_field(&row, "at")?),
                    counterparty: address_field(&row, "counterparty")?,
                    quantity: whole("quantity", field(&row, "quantity")?.unchecked_into())?,
                    amount: whole("amount", field(&row, "amount")?.unchecked_into())?,
                    memo: text_field(&row, "memo")?.unwrap_or_default(),
                };
                record.check().map_err(|e| error("BAD_RECORD", e))?;
                signed.push(record.sign(&account.key));
            }
            let stored = s.upload_records(&t.holder, &signed).await.map_err(wallet_error)?;
            Ok(JsValue::from_f64(stored as f64))
        })
    }

    /// Submits the audit of `target`'s next period, through the newest certified height
    /// (by its owner): the digests of the rows its node keeps for the period, and one
    /// claim per counterparty from the period's confirmed trades; due `deadlineBlocks`
    /// after the period. Resolves to the audit's number.
    #[wasm_bindgen(js_name = submitAudit, unchecked_return_type = "Promise<number>")]
    pub fn submit_audit(&self, wallet: &Wallet, index: u32, target: String, deadline_blocks: f64) -> Promise {
        let shared = self.session.clone();
        let account = wallet.0.account(index);
        future_to_promise(async move {
            let account = account.map_err(key_error)?;
            let target = target_id(&target)?;
            if !(1.0..=100_000.0).contains(&deadline_blocks) || deadline_blocks.fract() != 0.0 {
                return Err(error("BAD_OPTIONS", "deadlineBlocks is a whole number from 1 to 100000"));
            }
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let (number, audit) = s.prepare_audit(&target, deadline_blocks as u64).await.map_err(wallet_error)?;
            s.submit_audit(&account.key, audit).await.map_err(wallet_error)?;
            Ok(JsValue::from_f64(number as f64))
        })
    }

    /// Audit `number` of `target`, proven against a certified header (an `AuditReport`).
    #[wasm_bindgen(unchecked_return_type = "Promise<AuditReport>")]
    pub fn audit(&self, target: String, number: f64) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            let (target, number) = (target_id(&target)?, whole_number(number, "an audit's number")?);
            let mut s = shared.try_hold().ok_or_else(busy)?;
            audit_to_js(&s.audit(&target, number).await.map_err(wallet_error)?)
        })
    }

    /// `wallet`'s account `index` checks the claim of audit `number` of `target` about
    /// it: against its own confirmed trades (proven) and the target's rows (read from its
    /// node, checked against the audit's digests and signatures). Sends nothing.
    #[wasm_bindgen(js_name = checkAudit, unchecked_return_type = "Promise<AuditCheckReport>")]
    pub fn check_audit(&self, wallet: &Wallet, index: u32, target: String, number: f64) -> Promise {
        let shared = self.session.clone();
        let account = wallet.0.account(index);
        future_to_promise(async move {
            let account = account.map_err(key_error)?;
            let (target, number) = (target_id(&target)?, whole_number(number, "an audit's number")?);
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let check = s.check_audit(&account.address(), &target, number).await.map_err(wallet_error)?;
            check_to_js(&check)
        })
    }

    /// [`checkAudit`], then its verdict sent as the account's notice (confirmed, or
    /// refused naming the claim); resolves to the check.
    #[wasm_bindgen(js_name = noteAudit, unchecked_return_type = "Promise<AuditCheckReport>")]
    pub fn note_audit(&self, wallet: &Wallet, index: u32, target: String, number: f64) -> Promise {
        let shared = self.session.clone();
        let account = wallet.0.account(index);
        future_to_promise(async move {
            let account = account.map_err(key_error)?;
            let (target, number) = (target_id(&target)?, whole_number(number, "an audit's number")?);
            let mut s = shared.try_hold().ok_or_else(busy)?;
            check_to_js(&s.note_audit(&account.key, target, number).await.map_err(wallet_error)?)
        })
    }
}
