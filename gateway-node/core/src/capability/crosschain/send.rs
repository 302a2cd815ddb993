//! `CrossTransfer`: the source's step. This chain's coin is escrowed in the channel (it
//! backs the vouchers the destination mints); a voucher of the destination's coin going
//! home is burnt here. The relayer's fee is held. The packet is written at
//! `Packet(destination, sequence)` — the commitment the destination proves — until an
//! acknowledgement or a timeout removes it; `SentPacket(sender, nonce)` says which
//! packet the transaction sent, for its wallet to follow.

use vigil_protocol::crosschain::{Channel, CrossAsset, CrossTransfer, PacketError, SentPacket};
use vigil_protocol::{Amount, FailureCode, PublicKey, StateKey, TxStatus};

use super::{executing, usable_client, vouchers, Refused};
use crate::capability::{Capability, ReadState};
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

fn check(send: &CrossTransfer, ledger: &Ledger, state: &impl ReadState) -> Result<Channel, Refused> {
    if &send.to_chain == ledger.chain_id() {
        return Err(Refused::Packet(PacketError::SameChain(send.to_chain.clone())));
    }
    if send.amount.0 == 0 {
        return Err(Refused::Packet(PacketError::ZeroAmount));
    }
    send.timeout.check().map_err(Refused::Packet)?;
    let client = usable_client(state, &send.to_chain)?;
    let (newest, at) = (client.verifier.newest(), executing(state));
    let timeout = send.timeout;
    if timeout.height.0 != 0 && timeout.height <= newest {
        return Err(Refused::TimeoutPassed(format!(
            "the timeout height {} is not above the destination's newest height this chain verified, {newest}: it would time out at once",
            timeout.height
        )));
    }
    if timeout.source_height.0 != 0 && timeout.source_height <= at {
        return Err(Refused::TimeoutPassed(format!(
            "the timeout's source height {} is not above this chain's height {at}",
            timeout.source_height
        )));
    }
    state.get(&StateKey::Channel(send.to_chain.clone())).ok_or_else(|| Refused::NoConnection(send.to_chain.clone()))
}

impl Capability for CrossTransfer {
    type Checked = Channel;

    fn spend(&self) -> u64 {
        match self.asset {
            CrossAsset::Native => self.amount.0.saturating_add(self.relayer_fee.0),
            CrossAsset::Voucher => self.relayer_fee.0,
        }
    }

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check(self, ledger, ledger).map_err(Refused::rejection)?;
        let held = vouchers(ledger, &self.to_chain, vigil_protocol::Address::from_public_key(sender));
        if self.asset == CrossAsset::Voucher && held < self.amount {
            return Err(Rejection::InsufficientBalance { balance: held.0, needed: self.amount.0 });
        }
        Ok(())
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Channel, TxInvalid> {
        check(self, cx.ledger(), cx).map_err(|r| TxInvalid::CrossChain(r.rejection().to_string()))
    }

    fn apply(&self, mut channel: Channel, cx: &mut TxContext<'_>) -> TxStatus {
        let mut sender = cx.sender_account();
        let from = cx.sender();
        let taken = match self.asset {
            CrossAsset::Native => self.amount.checked_add(self.relayer_fee),
            CrossAsset::Voucher => Some(self.relayer_fee),
        };
        let Some(balance) = taken.and_then(|t| sender.balance.checked_sub(t)) else {
            return TxStatus::Failed(FailureCode::InsufficientBalance);
        };
        let Some(fees_held) = channel.fees_held.checked_add(self.relayer_fee) else {
            return TxStatus::Failed(FailureCode::Overflow);
        };
        match self.asset {
            CrossAsset::Native => match channel.escrowed.checked_add(self.amount) {
                Some(escrowed) => channel.escrowed = escrowed,
                None => return TxStatus::Failed(FailureCode::Overflow),
            },
            CrossAsset::Voucher => {
                let held = vouchers(cx, &self.to_chain, from);
                let (Some(left), Some(out)) =
                    (held.checked_sub(self.amount), channel.vouchers.checked_sub(self.amount))
                else {
                    return TxStatus::Failed(FailureCode::InsufficientBalance);
                };
                write_vouchers(cx, &self.to_chain, from, left);
                channel.vouchers = out;
            }
        }
        let sequence = channel.next_sequence;
        let packet = self.packet(cx.ledger().chain_id(), from, sequence);
        channel.fees_held = fees_held;
        channel.next_sequence = sequence.saturating_add(1);
        sender.balance = balance;
        cx.set_sender_account(sender);
        // The sender's nonce is used already: this transaction's is the one before.
        let nonce = sender.nonce.0.saturating_sub(1);
        let sent = SentPacket { destination: self.to_chain.clone(), sequence };
        cx.write(StateKey::SentPacket(from, nonce), &sent);
        cx.write(packet.commitment_key(), &packet);
        cx.write(StateKey::Channel(self.to_chain.clone()), &channel);
        TxStatus::Success
    }
}

/// Writes `to`'s vouchers of `origin`'s coin (none: the entry removed).
pub(super) fn write_vouchers(
    cx: &mut TxContext<'_>,
    origin: &vigil_protocol::ChainId,
    to: vigil_protocol::Address,
    amount: Amount,
) {
    let key = StateKey::Voucher(origin.clone(), to);
    if amount.0 == 0 {
        cx.remove(key);
    } else {
        cx.write(key, &amount);
    }
}
