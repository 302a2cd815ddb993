//! `Acknowledge` and `Timeout`: the source's last step, for a batch of packets to one
//! destination. Either removes a packet's commitment, so a packet is settled once:
//! acknowledged on the destination's receipt (the relayer the receipt names paid the
//! fee; a receipt that says the destination could not credit refunds instead), or
//! refunded on a destination state past the timeout that proves no receipt — which,
//! since the destination receives nothing past it, it never will have. A packet settled
//! already is passed over; a batch with none to settle fails.

use vigil_protocol::crosschain::{Acknowledge, Batch, Channel, Packet, PacketError, ProofAt, Timeout};
use vigil_protocol::{ChainId, StateKey};

use super::send::write_vouchers;
use super::{check_batch, credit, first, usable_client, vouchers, Checked, PacketStep, Refused, Roots};
use crate::capability::ReadState;
use crate::execution::{Ledger, TxContext};

/// A packet of a batch to `destination`: this chain's, sent, the very one committed.
/// Returns the root its proof is checked against, or why it is passed over (settled).
fn outstanding(
    packet: &Packet,
    destination: &ChainId,
    at: &ProofAt,
    ledger: &Ledger,
    state: &impl ReadState,
    roots: &mut Roots,
) -> Result<Result<vigil_protocol::Hash32, Refused>, Refused> {
    packet.check().map_err(Refused::Packet)?;
    if &packet.source != ledger.chain_id() {
        return Err(Refused::Invalid(format!("the packet was sent by chain `{}`, not this one", packet.source)));
    }
    if &packet.destination != destination {
        return Err(Refused::Packet(PacketError::MixedChains(packet.destination.clone())));
    }
    let channel: Channel = state.get(&StateKey::Channel(packet.destination.clone())).unwrap_or_default();
    if packet.sequence == 0 || packet.sequence >= channel.next_sequence {
        return Err(Refused::Invalid(format!(
            "this chain never sent packet {} to `{}`",
            packet.sequence, packet.destination
        )));
    }
    let root = roots.root(state, at)?;
    match state.get::<Packet>(&packet.commitment_key()) {
        None => Ok(Err(Refused::NotPending)),
        Some(committed) if committed != *packet => {
            Err(Refused::Invalid("the packet differs from the one this chain committed at its sequence".into()))
        }
        Some(_) => Ok(Ok(root)),
    }
}

/// Checks a batch of acknowledgements or timeouts to one destination: each packet
/// outstanding (else passed over), then its proof by `verify` against its root.
fn check_settle<T>(
    batch: &Batch<T>,
    ledger: &Ledger,
    state: &impl ReadState,
    parts: impl Fn(&T) -> (&Packet, &ProofAt),
    verify: impl Fn(&T, &vigil_protocol::Hash32) -> Result<(), PacketError>,
) -> Result<Checked, Refused> {
    batch.check().map_err(Refused::Packet)?;
    let destination = &parts(first(batch)?).0.destination;
    let client = usable_client(state, destination)?;
    check_batch(
        &batch.0,
        client,
        |t| parts(t).0,
        |t, roots| {
            let (packet, at) = parts(t);
            let root = match outstanding(packet, destination, at, ledger, state, roots)? {
                Ok(root) => root,
                Err(passed) => return Ok(Err(passed)),
            };
            verify(t, &root).map_err(Refused::Packet)?;
            Ok(Ok(()))
        },
    )
}

/// Removes the packet's commitment and settles its coin: the fee paid to `relayer`, or
/// (none) the amount and the fee back to the sender.
fn settle(cx: &mut TxContext<'_>, packet: &Packet, relayer: Option<vigil_protocol::Address>) {
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

impl PacketStep for Acknowledge {
    fn check(batch: &Batch<Self>, ledger: &Ledger, state: &impl ReadState) -> Result<Checked, Refused> {
        check_settle(
            batch,
            ledger,
            state,
            |a| (&a.packet, &a.proof),
            |a, root| a.packet.verify_received(&a.receipt, root, a.proof.height, &a.proof.proof),
        )
    }

    fn act(&self, cx: &mut TxContext<'_>) {
        settle(cx, &self.packet, self.receipt.credited.then_some(self.receipt.relayer));
    }
}

impl PacketStep for Timeout {
    fn check(batch: &Batch<Self>, ledger: &Ledger, state: &impl ReadState) -> Result<Checked, Refused> {
        check_settle(
            batch,
            ledger,
            state,
            |t| (&t.packet, &t.proof),
            |t, root| t.packet.verify_timed_out(root, t.proof.height, &t.proof.proof, t.client.as_deref()),
        )
    }

    fn act(&self, cx: &mut TxContext<'_>) {
        settle(cx, &self.packet, None);
    }
}
