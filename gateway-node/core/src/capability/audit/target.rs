//! Target objects and their trades.
//!
//! - `RegisterTarget`: a valid name and two dimensions, a holder in the validator set, a
//!   name its owner has not used; the target's periods start at its registration.
//! - `RecordTrade`: by the target's owner, with another account; numbered in order.
//! - `ConfirmTrade`: by the trade's counterparty, once.

use vigil_protocol::audit::{ConfirmTrade, RecordTrade, RegisterTarget, Target, TargetId, Trade};
use vigil_protocol::{Address, PublicKey, StateKey, TxStatus};

use super::{executing, owned_target, step, Refused};
use crate::capability::crosschain::Step;
use crate::capability::{Capability, ReadState};
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

fn check_register(
    register: &RegisterTarget,
    owner: &Address,
    state: &impl ReadState,
    ledger: &Ledger,
) -> Result<TargetId, Refused> {
    register.check().map_err(|e| Refused::Target(e.to_string()))?;
    if ledger.validators().get(&register.holder).is_none() {
        return Err(Refused::Target(format!(
            "node {} is not a validator: a target's records are kept by one",
            register.holder
        )));
    }
    let id = TargetId::of(owner, &register.name);
    if state.get::<Target>(&StateKey::Target(id)).is_some() {
        return Err(Refused::Target(format!("this account has a target named `{}` already", register.name)));
    }
    Ok(id)
}

impl Capability for RegisterTarget {
    type Checked = TargetId;

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check_register(self, &Address::from_public_key(sender), ledger, ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<TargetId, TxInvalid> {
        check_register(self, &cx.sender(), cx, cx.ledger()).map_err(|e| TxInvalid::Audit(e.rejection().to_string()))
    }

    fn apply(&self, id: TargetId, cx: &mut TxContext<'_>) -> TxStatus {
        let at = executing(cx);
        let target = Target {
            owner: cx.sender(),
            owner_key: cx.sender_key(),
            name: self.name.clone(),
            holder: self.holder,
            dimensions: self.dimensions.clone(),
            registered_at: at,
            trades: 0,
            trades_audited: 0,
            audits: 0,
            next_from: at,
        };
        cx.write(StateKey::Target(id), &target);
        TxStatus::Success
    }
}

fn check_record(trade: &RecordTrade, sender: &Address, state: &impl ReadState) -> Result<Target, Refused> {
    let target = owned_target(state, &trade.target, sender)?;
    trade.check(&target.owner).map_err(|e| Refused::Target(e.to_string()))?;
    Ok(target)
}

impl Capability for RecordTrade {
    type Checked = Target;

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check_record(self, &Address::from_public_key(sender), ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Target, TxInvalid> {
        check_record(self, &cx.sender(), cx).map_err(|e| TxInvalid::Audit(e.rejection().to_string()))
    }

    fn apply(&self, mut target: Target, cx: &mut TxContext<'_>) -> TxStatus {
        let trade = Trade {
            counterparty: self.counterparty,
            quantity: self.quantity,
            amount: self.amount,
            reference: self.reference.clone(),
            recorded_at: executing(cx),
            confirmed_at: None,
        };
        cx.write(StateKey::Trade(self.target, target.trades), &trade);
        target.trades += 1;
        cx.write(StateKey::Target(self.target), &target);
        TxStatus::Success
    }
}

fn check_confirm(confirm: &ConfirmTrade, sender: &Address, state: &impl ReadState) -> Result<Trade, Refused> {
    let key = StateKey::Trade(confirm.target, confirm.trade);
    let trade: Trade = state.get(&key).ok_or(Refused::UnknownTrade(confirm.trade))?;
    if trade.counterparty != *sender {
        return Err(Refused::Trade("only the trade's counterparty confirms it".into()));
    }
    if trade.confirmed_at.is_some() {
        return Err(Refused::TradeConfirmed);
    }
    Ok(trade)
}

impl Capability for ConfirmTrade {
    type Checked = Step<Trade>;

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check_confirm(self, &Address::from_public_key(sender), ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Step<Trade>, TxInvalid> {
        step(check_confirm(self, &cx.sender(), cx))
    }

    fn apply(&self, checked: Step<Trade>, cx: &mut TxContext<'_>) -> TxStatus {
        let mut trade = match checked {
            Step::Go(trade) => trade,
            Step::Fail(code) => return TxStatus::Failed(code),
        };
        trade.confirmed_at = Some(executing(cx));
        cx.write(StateKey::Trade(self.target, self.trade), &trade);
        TxStatus::Success
    }
}
