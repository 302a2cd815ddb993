//! Cross-chain transfer from the wallet core (SPEC C8): what a sender, a watcher of a
//! transfer's steps and the relayer (built on this core) read and send. Every read is
//! proven against the chain's own certified header by this session's light client —
//! the one `HeaderVerifier` the chains' on-chain clients run too — and a proof handed to
//! the other chain carries that header, so the other chain checks it again itself.

use vigil_api::ValidatorsProof;
use vigil_protocol::crosschain::{Channel, ClientState, CrossTransfer, Packet, PacketReceipt, ProofAt, SentPacket};
use vigil_protocol::encoding::from_bytes;
use vigil_protocol::{Address, CertifiedHeader, ChainId, Height, Payload, SecretKey, SetChange, StateKey, StateProof};

use super::{Session, TransferReport, WalletError};
use crate::light::Verification;
use crate::platform::Platform;

/// Reads of a committed send's packet before giving up (a node a moment behind).
pub const SENT_READS_MAX: usize = 10;
/// A transfer's timeout when its sender names none: this many of the source chain's
/// blocks after its newest certified height (the destination's client of the source
/// must have seen that height for the packet to time out).
pub const TIMEOUT_BLOCKS_DEFAULT: u64 = 600;

/// State entries proven at one height, with their proofs and the certified header they
/// rest on: what a packet's proof on the other chain carries.
#[derive(Debug, Clone)]
pub struct ProvenProofs {
    pub header: CertifiedHeader,
    /// In the order asked (`None`: proven absent).
    pub values: Vec<Option<Vec<u8>>>,
    pub proofs: Vec<StateProof>,
    pub verification: Verification,
}

impl ProvenProofs {
    pub fn height(&self) -> Height {
        self.header.header.height
    }

    /// Entry `i`'s proof for the other chain, carrying the certified header (which the
    /// other chain's client verifies and keeps, unless it holds it already).
    pub fn proof_at(&self, i: usize) -> Option<ProofAt> {
        let proof = self.proofs.get(i)?.clone();
        Some(ProofAt { height: self.height(), proof, header: Some(Box::new(self.header.clone())) })
    }

    /// Entry `i` decoded (`Ok(None)`: proven absent).
    pub fn value<V: serde::de::DeserializeOwned>(&self, i: usize) -> Result<Option<V>, WalletError> {
        match self.values.get(i).and_then(Option::as_deref) {
            Some(bytes) => from_bytes(bytes).map(Some).map_err(|e| WalletError::BadAnswer(format!("state value: {e}"))),
            None => Ok(None),
        }
    }
}

/// This chain's connection to another, proven: its client of the other (`None`: no
/// connection) and its channel (`None`: nothing sent or received yet).
#[derive(Debug, Clone)]
pub struct ConnectionView {
    pub client: Option<ClientState>,
    pub channel: Option<Channel>,
    pub verification: Verification,
}

/// A cross-chain send: the nodes' receipts, and the packet it committed.
#[derive(Debug, Clone)]
pub struct CrossSent {
    pub report: TransferReport,
    pub packet: Option<Packet>,
}

/// Where one packet stands, each step proven on its own chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketStep {
    /// Committed on the source, not received on the destination yet.
    Sent,
    /// Received on the destination (credited or not), not yet settled on the source.
    Received(PacketReceipt),
    /// Settled on the source after the destination's receipt: final.
    Acknowledged(PacketReceipt),
    /// Settled on the source without a receipt: refunded.
    Refunded,
}

impl<T: Platform> Session<T> {
    /// `keys` proven at one height (above `after` if one is committed within the node's
    /// wait), with their proofs and the certified header.
    pub async fn proofs_after(
        &mut self,
        keys: &[StateKey],
        after: Option<Height>,
    ) -> Result<ProvenProofs, WalletError> {
        let proven = self.fetch_states(keys, after).await?;
        let header_bcs = proven.certified_header_bcs.clone();
        let proofs = proven
            .entries
            .iter()
            .map(|e| from_bytes::<StateProof>(&e.proof_bcs.0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| WalletError::BadAnswer(format!("state proof: {e}")))?;
        let (values, verification) = self.verify_proven(keys, proven)?;
        let header_bcs = header_bcs.ok_or_else(|| WalletError::BadAnswer("no certified header".into()))?;
        let header = from_bytes(&header_bcs.0).map_err(|e| WalletError::BadAnswer(format!("certified header: {e}")))?;
        Ok(ProvenProofs { header, values, proofs, verification })
    }

    /// The chain's newest certified height, proven (a header a node certified and this
    /// session verified): what a timeout in blocks counts from.
    pub async fn proven_height(&mut self) -> Result<Height, WalletError> {
        Ok(self.proofs_after(&[StateKey::Consensus], None).await?.height())
    }

    /// The chain's certified validator-set changes since genesis, as a node lists them
    /// (each is checked where it is used: by this session's light client, or by the other
    /// chain's client when an update carries it).
    pub async fn set_changes(&self) -> Result<Vec<SetChange>, WalletError> {
        let validators: ValidatorsProof = self.read("/v1/validators").await?.1.parse()?;
        from_bytes(&validators.changes_bcs.0).map_err(|e| WalletError::BadAnswer(format!("set changes: {e}")))
    }

    /// This chain's client of `chain` and its channel with it, proven.
    pub async fn connection(&mut self, chain: &ChainId) -> Result<ConnectionView, WalletError> {
        let keys = [StateKey::Connection(chain.clone()), StateKey::Channel(chain.clone())];
        let proven = self.proofs_after(&keys, None).await?;
        Ok(ConnectionView { client: proven.value(0)?, channel: proven.value(1)?, verification: proven.verification })
    }

    /// Sends coin across: signed with the sender's proven nonce and submitted to every
    /// node; once committed, the packet it sent (its sequence proven at
    /// `SentPacket(sender, nonce)`, the rest from the transfer signed). Refused by every
    /// node: the refusal's code (e.g. `NO_CONNECTION`); `packet` is `None` when no node
    /// committed it for another reason (no answer).
    pub async fn cross_transfer(
        &mut self,
        key: &SecretKey,
        transfer: CrossTransfer,
        fee: u64,
    ) -> Result<CrossSent, WalletError> {
        let tx = self.sign(key, Payload::CrossTransfer(Box::new(transfer.clone())), fee).await?;
        let report = self.submit_everywhere(key, &tx).await?;
        if let Some(refused) = report.refusal() {
            return Err(refused);
        }
        let sender = Address::from_public_key(&key.public_key());
        let key = StateKey::SentPacket(sender, tx.tx.nonce.0);
        let committed = report.nodes.iter().any(|n| n.verdict == crate::detector::Verdict::Agrees);
        let mut sent: Option<SentPacket> = None;
        // The node read may be a moment behind the ones that committed it.
        for _ in 0..SENT_READS_MAX {
            sent = self.proofs_after(std::slice::from_ref(&key), None).await?.value(0)?;
            if sent.is_some() || !committed {
                break;
            }
            self.client.sleep(200).await;
        }
        let packet = sent.map(|s| transfer.packet(self.chain_id(), sender, s.sequence));
        Ok(CrossSent { report, packet })
    }

    /// `address`'s vouchers of `origin`'s coin on this chain, proven.
    pub async fn vouchers(&mut self, origin: &ChainId, address: &Address) -> Result<(u64, Verification), WalletError> {
        let proven = self.proofs_after(&[StateKey::Voucher(origin.clone(), *address)], None).await?;
        let amount = proven.value::<vigil_protocol::Amount>(0)?.map_or(0, |a| a.0);
        Ok((amount, proven.verification))
    }

    /// The packets this chain sent to `to` from sequence `from` on (at most `count`),
    /// proven: `None` where settled (or never sent).
    pub async fn sent_packets(
        &mut self,
        to: &ChainId,
        from: u64,
        count: usize,
    ) -> Result<(Vec<Option<Packet>>, ProvenProofs), WalletError> {
        let keys: Vec<StateKey> =
            (from..from.saturating_add(count as u64)).map(|s| StateKey::Packet(to.clone(), s)).collect();
        let proven = self.proofs_after(&keys, None).await?;
        let packets = (0..keys.len()).map(|i| proven.value(i)).collect::<Result<_, _>>()?;
        Ok((packets, proven))
    }
}

/// A packet's step as a watcher sees it, with each chain's read verified against that
/// chain's own certified header (`destination`: `None` when only the source was read).
#[derive(Debug, Clone, PartialEq)]
pub struct PacketWatch {
    pub step: PacketStep,
    pub source: Verification,
    pub destination: Option<Verification>,
}

impl PacketWatch {
    /// Whether the transfer is over: acknowledged, or refunded (a receipt that did not
    /// credit is settled by a refund too).
    pub fn settled(&self) -> bool {
        matches!(self.step, PacketStep::Acknowledged(_) | PacketStep::Refunded)
    }

    /// Whether the sender got the coin back: refunded on a timeout, or acknowledged by a
    /// receipt that did not credit.
    pub fn refunded(&self) -> bool {
        matches!(self.step, PacketStep::Refunded | PacketStep::Acknowledged(PacketReceipt { credited: false, .. }))
    }
}

/// Where a sent packet stands: its commitment proven on the source (by `source`'s light
/// client), its receipt on the destination (by `destination`'s). The source is read
/// first, so a packet settled in between reads as received, never as refunded; a source
/// node that has not seen the send yet (its channel's next sequence not past the packet)
/// reads as sent. The sessions must be of the packet's two chains.
pub async fn watch_packet<T: Platform>(
    source: &mut Session<T>,
    destination: &mut Session<T>,
    packet: &Packet,
) -> Result<PacketWatch, WalletError> {
    for (role, session, chain) in
        [("source", &*source, &packet.source), ("destination", &*destination, &packet.destination)]
    {
        if session.chain_id() != chain {
            let (expected, found) = (chain.clone(), session.chain_id().clone());
            return Err(WalletError::PacketChain { role, expected, found });
        }
    }
    let keys = [packet.commitment_key(), StateKey::Channel(packet.destination.clone())];
    let read = source.proofs_after(&keys, None).await?;
    let (committed, channel) = (read.value::<Packet>(0)?, read.value::<Channel>(1)?);
    let at_source = read.verification;
    // A node behind the one that committed the send has not seen it yet: not settled.
    if channel.is_none_or(|c| c.next_sequence <= packet.sequence) {
        return Ok(PacketWatch { step: PacketStep::Sent, source: at_source, destination: None });
    }
    let read = destination.proofs_after(&[packet.receipt_key()], None).await?;
    let receipt = read.value::<PacketReceipt>(0)?;
    let step = match (committed.is_some(), receipt) {
        (true, None) => PacketStep::Sent,
        (true, Some(receipt)) => PacketStep::Received(receipt),
        (false, Some(receipt)) => PacketStep::Acknowledged(receipt),
        (false, None) => PacketStep::Refunded,
    };
    Ok(PacketWatch { step, source: at_source, destination: Some(read.verification) })
}

/// [`watch_packet`]'s step alone.
pub async fn packet_step<T: Platform>(
    source: &mut Session<T>,
    destination: &mut Session<T>,
    packet: &Packet,
) -> Result<PacketStep, WalletError> {
    Ok(watch_packet(source, destination, packet).await?.step)
}
