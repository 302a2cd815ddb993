//! Transfers: move an amount from the sender to another account.
//!
//! A transfer the sender cannot cover, or one that would overflow the recipient's
//! balance, fails (its fee is still paid); a transfer to oneself only pays the fee.

use vigil_protocol::{FailureCode, Transfer, TxStatus};

use super::Capability;
use crate::execution::{TxContext, TxInvalid};

impl Capability for Transfer {
    type Checked = ();

    fn spend(&self) -> u64 {
        self.amount.0
    }

    fn validate(&self, _cx: &TxContext<'_>) -> Result<(), TxInvalid> {
        Ok(())
    }

    fn apply(&self, (): (), cx: &mut TxContext<'_>) -> TxStatus {
        let mut sender = cx.sender_account();
        let Some(after) = sender.balance.checked_sub(self.amount) else {
            return TxStatus::Failed(FailureCode::InsufficientBalance);
        };
        if self.to == cx.sender() {
            return TxStatus::Success;
        }
        let mut to = cx.account(&self.to);
        let Some(credited) = to.balance.checked_add(self.amount) else {
            return TxStatus::Failed(FailureCode::Overflow);
        };
        sender.balance = after;
        to.balance = credited;
        cx.set_account(self.to, to);
        cx.set_sender_account(sender);
        TxStatus::Success
    }
}

#[cfg(test)]
mod tests {
    use vigil_protocol::*;

    use crate::execution::testkit::*;
    use crate::execution::*;

    #[test]
    fn transfer_moves_funds_charges_the_fee_and_bumps_the_nonce() {
        let f = fixture();
        let mut ledger = Ledger::genesis(&f.genesis).unwrap();
        let (b, exec) = block(&ledger, vec![transfer(&f, 0, 100)]);
        assert_eq!(exec.entries[0].status, TxStatus::Success);
        ledger.commit(&b, exec).unwrap();
        let alice = ledger.account(&Address::from_public_key(&f.alice.public_key()));
        assert_eq!(alice, AccountState { balance: Amount(899), nonce: Nonce(1) });
        assert_eq!(ledger.account(&f.bob).balance, Amount(100));
        assert_eq!(ledger.height(), Height(1));
    }

    #[test]
    fn a_failed_transfer_pays_its_fee_and_uses_its_nonce() {
        let f = fixture();
        let mut ledger = Ledger::genesis(&f.genesis).unwrap();
        let alice = Address::from_public_key(&f.alice.public_key());
        let (b, exec) = block(&ledger, vec![transfer(&f, 0, 1_000)]);
        assert_eq!(exec.entries[0].status, TxStatus::Failed(FailureCode::InsufficientBalance));
        ledger.commit(&b, exec).unwrap();
        assert_eq!(ledger.account(&alice), AccountState { balance: Amount(999), nonce: Nonce(1) });
        assert_eq!(ledger.account(&f.bob).balance, Amount(0));
    }
}
