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

    /// The chain's certified validator-set changes since genesis, as a node lists them
    /// (each is checked where it is used: by this session's light client, or by the other
    /// chain's client when an update carries it).
    pub async fn set_changes(&self) -> Result<Vec<SetChange>, WalletError> {
        let validators: ValidatorsProof = self.read("/v1/validators").await?.1.parse()?;
        from_bytes(&validators.changes_bcs.0).map_err(|e| WalletError::BadAnswer(format!("set changes: {e}")))
    }

    /// This chain's client of `chain` and its channel with it, proven.
    pub async fn connection(&mut self, chain: &ChainId) -> Result<(Option<ClientState>, Option<Channel>), WalletError> {
        let keys = [StateKey::Connection(chain.clone()), StateKey::Channel(chain.clone())];
        let proven = self.proofs_after(&keys, None).await?;
        Ok((proven.value(0)?, proven.value(1)?))
    }

    /// Sends coin across: signed with the sender's proven nonce and submitted to every
    /// node; once committed, the packet it sent (its sequence proven at
    /// `SentPacket(sender, nonce)`, the rest from the transfer signed). `packet` is
    /// `None` when no node committed it.
    pub async fn cross_transfer(
        &mut self,
        key: &SecretKey,
        transfer: CrossTransfer,
        fee: u64,
    ) -> Result<CrossSent, WalletError> {
        let tx = self.sign(key, Payload::CrossTransfer(Box::new(transfer.clone())), fee).await?;
        let report = self.submit_everywhere(key, &tx).await?;
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

/// Where a sent packet stands: its commitment proven on the source (by `source`'s light
/// client), its receipt on the destination (by `destination`'s). The source is read
/// first, so a packet settled in between reads as received, never as refunded; a source
/// node that has not seen the send yet (its channel's next sequence not past the packet)
/// reads as sent.
pub async fn packet_step<T: Platform>(
    source: &mut Session<T>,
    destination: &mut Session<T>,
    packet: &Packet,
) -> Result<PacketStep, WalletError> {
    let keys = [packet.commitment_key(), StateKey::Channel(packet.destination.clone())];
    let read = source.proofs_after(&keys, None).await?;
    let (committed, channel) = (read.value::<Packet>(0)?, read.value::<Channel>(1)?);
    // A node behind the one that committed the send has not seen it yet: not settled.
    if channel.is_none_or(|c| c.next_sequence <= packet.sequence) {
        return Ok(PacketStep::Sent);
    }
    let receipt = destination.proofs_after(&[packet.receipt_key()], None).await?.value::<PacketReceipt>(0)?;
    Ok(match (committed.is_some(), receipt) {
        (true, None) => PacketStep::Sent,
        (true, Some(receipt)) => PacketStep::Received(receipt),
        (false, Some(receipt)) => PacketStep::Acknowledged(receipt),
        (false, None) => PacketStep::Refunded,
    })
}
