//! `Acknowledge` and `Timeout`: the source's last step. Either removes the packet's
//! commitment, so a packet is settled once: acknowledged on the destination's receipt
//! (the relayer the receipt names paid the fee; a receipt that says the destination
//! could not credit refunds instead), or refunded on a destination state at or past the
//! timeout height that proves no receipt — which, since the destination receives
//! nothing from that height on, it never will have.

use vigil_protocol::crosschain::{Acknowledge, Channel, Packet, ProofAt, Timeout};
use vigil_protocol::{PublicKey, StateKey, TxStatus};

use super::send::write_vouchers;
use super::{credit, keep_header, proven_root, usable_client, vouchers, ProvenRoot, Refused, Step};
use crate::capability::{Capability, ReadState};
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

/// The packet is this chain's, still outstanding and the very one committed; returns the
/// root its proof is checked against.
fn outstanding(packet: &Packet, at: &ProofAt, ledger: &Ledger, state: &impl ReadState) -> Result<ProvenRoot, Refused> {
    packet.check().map_err(Refused::Packet)?;
    if &packet.source != ledger.chain_id() {
        return Err(Refused::Invalid(format!("the packet was sent by chain `{}`, not this one", packet.source)));
    }
    let client = usable_client(state, &packet.destination)?;
    let channel: Channel = state.get(&StateKey::Channel(packet.destination.clone())).unwrap_or_default();
    if packet.sequence == 0 || packet.sequence >= channel.next_sequence {
        return Err(Refused::Invalid(format!(
            "this chain never sent packet {} to `{}`",
            packet.sequence, packet.destination
        )));
    }
    let proven = proven_root(state, &client, at)?;
    match state.get::<Packet>(&packet.commitment_key()) {
        None => Err(Refused::NotPending),
        Some(committed) if committed != *packet => {
            Err(Refused::Invalid("the packet differs from the one this chain committed at its sequence".into()))
        }
        Some(_) => Ok(proven),
    }
}

fn check_ack(ack: &Acknowledge, ledger: &Ledger, state: &impl ReadState) -> Result<ProvenRoot, Refused> {
    let proven = outstanding(&ack.packet, &ack.proof, ledger, state)?;
    let at = &ack.proof;
    ack.packet.verify_received(&ack.receipt, &proven.root, at.height, &at.proof).map_err(Refused::Packet)?;
    Ok(proven)
}

fn check_timeout(timeout: &Timeout, ledger: &Ledger, state: &impl ReadState) -> Result<ProvenRoot, Refused> {
    let proven = outstanding(&timeout.packet, &timeout.proof, ledger, state)?;
    let at = &timeout.proof;
    let client = timeout.client.as_deref();
    timeout.packet.verify_timed_out(&proven.root, at.height, &at.proof, client).map_err(Refused::Packet)?;
    Ok(proven)
}

/// Removes the packet's commitment and settles its coin: the fee paid to `relayer`, or
/// (none) the amount and the fee back to the sender.
fn settle(cx: &mut TxContext<'_>, proven: ProvenRoot, packet: &Packet, relayer: Option<vigil_protocol::Address>) {
    if let Some((height, header, client)) = proven.keep {
        keep_header(cx, client, height, header);
    }
    cx.remove(packet.commitment_key());
    let channel_key = StateKey::Channel(packet.destination.clone());
    let mut channel: Channel = cx.read(&channel_key).unwrap_or_default();
    // The fee was added when the packet was sent and is taken out once: it is there.
    channel.fees_held = channel.fees_held.checked_sub(packet.relayer_fee).unwrap_or_default();
    let fee_to = relayer.unwrap_or(packet.sender);
    let fee_paid = credit(cx, fee_to, packet.relayer_fee);
    debug_assert!(fee_paid, "a fee held fits in any balance it was taken from");
    if relayer.is_none() {
        if packet.returns_home() {
            // The voucher burnt when it was sent is minted again.
            let held = vouchers(cx, &packet.destination, packet.sender);
            write_vouchers(cx, &packet.destination, packet.sender, held.checked_add(packet.amount).unwrap_or(held));
            channel.vouchers = channel.vouchers.checked_add(packet.amount).unwrap_or(channel.vouchers);
        } else {
            channel.escrowed = channel.escrowed.checked_sub(packet.amount).unwrap_or_default();
            credit(cx, packet.sender, packet.amount);
        }
    }
    cx.write(channel_key, &channel);
}

impl Capability for Acknowledge {
    type Checked = Step<ProvenRoot>;

    fn admit(&self, ledger: &Ledger, _sender: &PublicKey) -> Result<(), Rejection> {
        check_ack(self, ledger, ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Step<ProvenRoot>, TxInvalid> {
        Step::of(check_ack(self, cx.ledger(), cx))
    }

    fn apply(&self, step: Step<ProvenRoot>, cx: &mut TxContext<'_>) -> TxStatus {
        match step {
            Step::Go(proven) => {
                let relayer = self.receipt.credited.then_some(self.receipt.relayer);
                settle(cx, proven, &self.packet, relayer);
                TxStatus::Success
            }
            Step::Fail(code) => TxStatus::Failed(code),
        }
    }
}

impl Capability for Timeout {
    type Checked = Step<ProvenRoot>;

    fn admit(&self, ledger: &Ledger, _sender: &PublicKey) -> Result<(), Rejection> {
        check_timeout(self, ledger, ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Step<ProvenRoot>, TxInvalid> {
        Step::of(check_timeout(self, cx.ledger(), cx))
    }

    fn apply(&self, step: Step<ProvenRoot>, cx: &mut TxContext<'_>) -> TxStatus {
        match step {
            Step::Go(proven) => {
                settle(cx, proven, &self.packet, None);
                TxStatus::Success
            }
            Step::Fail(code) => TxStatus::Failed(code),
        }
    }
}
