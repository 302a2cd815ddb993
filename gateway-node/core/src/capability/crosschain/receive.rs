//! `ReceivePacket`: the destination's step. The packet is proven committed in the
//! source's state at a header this chain's client of the source verified; it is refused
//! once its timeout passed (a height of this chain, or a height of the source this
//! chain's client has verified, counting the header the packet carries), and once its
//! receipt exists. The receiver is credited: a voucher of the source's coin minted, or — the coin coming home — this
//! chain's coin released from the escrow it holds for the source, never more than that
//! escrow (a source cannot release what it was never sent). The receipt names the
//! relayer, who is paid on the source when the acknowledgement settles it.

use vigil_protocol::crosschain::{Channel, PacketReceipt, ReceivePacket};
use vigil_protocol::{PublicKey, StateKey, TxStatus};

use super::send::write_vouchers;
use super::{credit, executing, keep_header, proven_root, usable_client, vouchers, ProvenRoot, Refused, Step};
use crate::capability::{Capability, ReadState};
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

fn check(recv: &ReceivePacket, ledger: &Ledger, state: &impl ReadState) -> Result<ProvenRoot, Refused> {
    let packet = &recv.packet;
    packet.check().map_err(Refused::Packet)?;
    if &packet.destination != ledger.chain_id() {
        return Err(Refused::WrongDestination(packet.destination.clone()));
    }
    let client = usable_client(state, &packet.source)?;
    let proven = proven_root(state, &client, &recv.proof)?;
    packet.verify_committed(&proven.root, recv.proof.height, &recv.proof.proof).map_err(Refused::Packet)?;
    // The client as this transaction leaves it: a carried header counts already.
    let source_newest = proven.keep.as_ref().map_or(client.verifier.newest(), |(_, _, c)| c.verifier.newest());
    let at = executing(state);
    if packet.timeout.passed(at, source_newest) {
        return Err(Refused::TimedOut { timeout: packet.timeout, at, source_newest });
    }
    if state.get::<PacketReceipt>(&packet.receipt_key()).is_some() {
        return Err(Refused::AlreadyReceived);
    }
    Ok(proven)
}

impl Capability for ReceivePacket {
    type Checked = Step<ProvenRoot>;

    fn admit(&self, ledger: &Ledger, _sender: &PublicKey) -> Result<(), Rejection> {
        check(self, ledger, ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Step<ProvenRoot>, TxInvalid> {
        Step::of(check(self, cx.ledger(), cx))
    }

    fn apply(&self, step: Step<ProvenRoot>, cx: &mut TxContext<'_>) -> TxStatus {
        let proven = match step {
            Step::Go(proven) => proven,
            Step::Fail(code) => return TxStatus::Failed(code),
        };
        if let Some((height, header, client)) = proven.keep {
            keep_header(cx, client, height, header);
        }
        let packet = &self.packet;
        let channel_key = StateKey::Channel(packet.source.clone());
        let mut channel: Channel = cx.read(&channel_key).unwrap_or_default();
        let credited = if packet.returns_home() {
            match channel.escrowed.checked_sub(packet.amount) {
                Some(left) if credit(cx, packet.receiver, packet.amount) => {
                    channel.escrowed = left;
                    true
                }
                _ => false,
            }
        } else {
            let held = vouchers(cx, &packet.source, packet.receiver);
            match (held.checked_add(packet.amount), channel.vouchers.checked_add(packet.amount)) {
                (Some(held), Some(out)) => {
                    write_vouchers(cx, &packet.source, packet.receiver, held);
                    channel.vouchers = out;
                    true
                }
                _ => false,
            }
        };
        let receipt = PacketReceipt { relayer: cx.sender(), credited, height: executing(cx) };
        cx.write(packet.receipt_key(), &receipt);
        cx.write(channel_key, &channel);
        TxStatus::Success
    }
}
