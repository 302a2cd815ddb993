//! `ReceivePacket`: the destination's step, for a batch of packets from one source. Each
//! packet is proven committed in the source's state at a header this chain's client of
//! the source verified (kept, or carried in the batch). A packet past its timeout (a
//! height of this chain, or a height of the source this chain's client has verified,
//! counting the headers the batch carries), or received already, is passed over; a batch
//! with none to receive fails. Each receiver is credited: a voucher of the source's coin
//! minted, or — the coin coming home — this chain's coin released from the escrow it
//! holds for the source, never more than that escrow (a source cannot release what it
//! was never sent). Each receipt names the relayer, who is paid on the source when the
//! acknowledgement settles it.

use vigil_protocol::crosschain::{Batch, Channel, PacketError, PacketReceipt, ReceivePacket};
use vigil_protocol::StateKey;

use super::send::write_vouchers;
use super::{check_batch, credit, executing, first, usable_client, vouchers, Checked, PacketStep, Refused};
use crate::capability::ReadState;
use crate::execution::{Ledger, TxContext};

fn check(batch: &Batch<ReceivePacket>, ledger: &Ledger, state: &impl ReadState) -> Result<Checked, Refused> {
    batch.check().map_err(Refused::Packet)?;
    let source = &first(batch)?.packet.source;
    let client = usable_client(state, source)?;
    let at = executing(state);
    check_batch(
        &batch.0,
        client,
        |r| &r.packet,
        |r, roots| {
            let packet = &r.packet;
            packet.check().map_err(Refused::Packet)?;
            if &packet.destination != ledger.chain_id() {
                return Err(Refused::WrongDestination(packet.destination.clone()));
            }
            if &packet.source != source {
                return Err(Refused::Packet(PacketError::MixedChains(packet.source.clone())));
            }
            let root = roots.root(state, &r.proof)?;
            packet.verify_committed(&root, r.proof.height, &r.proof.proof).map_err(Refused::Packet)?;
            // The client as this transaction leaves it: headers it carries count already.
            let source_newest = roots.client.verifier.newest();
            if packet.timeout.passed(at, source_newest) {
                return Ok(Err(Refused::TimedOut { timeout: packet.timeout, at, source_newest }));
            }
            if state.get::<PacketReceipt>(&packet.receipt_key()).is_some() {
                return Ok(Err(Refused::AlreadyReceived));
            }
            Ok(Ok(()))
        },
    )
}

impl PacketStep for ReceivePacket {
    fn check(batch: &Batch<Self>, ledger: &Ledger, state: &impl ReadState) -> Result<Checked, Refused> {
        check(batch, ledger, state)
    }

    fn act(&self, cx: &mut TxContext<'_>) {
        receive(cx, self);
    }
}

/// Credits one packet's receiver and writes its receipt.
fn receive(cx: &mut TxContext<'_>, r: &ReceivePacket) {
    let packet = &r.packet;
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
}
