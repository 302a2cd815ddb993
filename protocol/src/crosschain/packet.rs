//! A cross-chain transfer's packet and its four steps.
//!
//! | step | chain | state |
//! |---|---|---|
//! | [`CrossTransfer`] | source | the amount escrowed (this chain's coin) or the voucher burnt (the destination's coin going home), the relayer's fee held; the packet at `Packet(destination, sequence)` |
//! | [`ReceivePacket`] | destination | the packet proven in the source's state at a verified header; a voucher minted, or the escrow released; `PacketReceipt(source, sequence)` |
//! | [`Acknowledge`] | source | the receipt proven in the destination's state; the packet removed, the fee paid to the relayer the receipt names (or, if the destination could not credit, a refund) |
//! | [`Timeout`] | source | a destination header at or past the timeout height whose state proves no receipt: refund, the packet removed |

use serde::{Deserialize, Serialize};

use super::ClientState;
use crate::address::Address;
use crate::block::CertifiedHeader;
use crate::encoding::to_bytes;
use crate::hash::Hash32;
use crate::ids::{Amount, ChainId, Height};
use crate::state::{StateError, StateKey, StateProof};

/// Why a packet or its proof is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("the amount must be above zero")]
    ZeroAmount,
    #[error("a packet goes from one chain to another, not to `{0}` itself")]
    SameChain(ChainId),
    #[error("the packet moves chain `{asset}`'s coin between `{source_chain}` and `{destination}`: only either chain's own coin moves between them")]
    ForeignAsset { asset: ChainId, source_chain: ChainId, destination: ChainId },
    #[error("the proof does not show what it claims in the other chain's state at height {height}: {source}")]
    BadProof { height: Height, source: StateError },
    #[error("the proof is at height {proof_height}, but the header it carries is of height {header}")]
    HeaderHeight { proof_height: Height, header: Height },
    #[error("the destination's state at height {proof_height} has not passed the packet's timeout ({timeout}): the packet may still be received")]
    TimeoutNotReached { proof_height: Height, timeout: PacketTimeout },
    #[error("a packet needs a timeout: a destination height, a source height, or both")]
    NoTimeout,
    #[error("a relayer's transaction carries 1 to {max} packets; {0} given", max = super::PACKETS_PER_TX_MAX)]
    BatchSize(usize),
    #[error("packet {0} is twice in one transaction")]
    TwiceInBatch(u64),
    #[error("a relayer's transaction carries packets between one pair of chains; `{0}` is another")]
    MixedChains(ChainId),
}

/// When a packet stops being receivable: at a destination height, or once the
/// destination's client of the source has verified a source header at a source height —
/// the source's blocks as the clock, so a destination that was stopped for a while
/// learns, once back and updated, that the packet's time is over. `Height(0)`: not set;
/// at least one is. Whichever passes first counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketTimeout {
    pub height: Height,
    pub source_height: Height,
}

impl PacketTimeout {
    pub fn check(&self) -> Result<(), PacketError> {
        if self.height.0 == 0 && self.source_height.0 == 0 {
            return Err(PacketError::NoTimeout);
        }
        Ok(())
    }

    /// Whether a destination executing at `at`, whose client of the source has verified
    /// source heights up to `source_newest`, has passed it.
    pub fn passed(&self, at: Height, source_newest: Height) -> bool {
        (self.height.0 != 0 && at >= self.height) || (self.source_height.0 != 0 && source_newest >= self.source_height)
    }
}

impl std::fmt::Display for PacketTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.height.0, self.source_height.0) {
            (0, s) => write!(f, "source height {s}"),
            (h, 0) => write!(f, "destination height {h}"),
            (h, s) => write!(f, "destination height {h} or source height {s}"),
        }
    }
}

/// Which coin a [`CrossTransfer`] moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrossAsset {
    /// This chain's own coin: escrowed here, a voucher of it minted there.
    Native,
    /// The destination chain's coin, held here as a voucher: burnt here, released from
    /// the destination's escrow there.
    Voucher,
}

/// Sends `amount` to `to` on `to_chain`; the sender pays `relayer_fee` (in this chain's
/// coin) to whichever relayer gets it credited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossTransfer {
    pub to_chain: ChainId,
    pub to: Address,
    pub asset: CrossAsset,
    pub amount: Amount,
    pub relayer_fee: Amount,
    pub timeout: PacketTimeout,
}

impl CrossTransfer {
    /// The packet it commits, sent by `sender` from `source` as the channel's `sequence`.
    pub fn packet(&self, source: &ChainId, sender: Address, sequence: u64) -> Packet {
        let asset = match self.asset {
            CrossAsset::Native => source.clone(),
            CrossAsset::Voucher => self.to_chain.clone(),
        };
        Packet {
            source: source.clone(),
            destination: self.to_chain.clone(),
            sequence,
            sender,
            receiver: self.to,
            asset,
            amount: self.amount,
            relayer_fee: self.relayer_fee,
            timeout: self.timeout,
        }
    }
}

/// What the source commits and the destination receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packet {
    pub source: ChainId,
    pub destination: ChainId,
    /// Its place among the source's packets to the destination, from 1.
    pub sequence: u64,
    pub sender: Address,
    pub receiver: Address,
    /// The chain whose coin moves (the source's or the destination's).
    pub asset: ChainId,
    pub amount: Amount,
    pub relayer_fee: Amount,
    pub timeout: PacketTimeout,
}

impl Packet {
    /// Its shape: two chains, one of their coins, an amount.
    pub fn check(&self) -> Result<(), PacketError> {
        if self.source == self.destination {
            return Err(PacketError::SameChain(self.source.clone()));
        }
        if self.asset != self.source && self.asset != self.destination {
            return Err(PacketError::ForeignAsset {
                asset: self.asset.clone(),
                source_chain: self.source.clone(),
                destination: self.destination.clone(),
            });
        }
        if self.amount.0 == 0 {
            return Err(PacketError::ZeroAmount);
        }
        self.timeout.check()
    }

    /// Whether the coin goes back to the chain it is from (released from escrow there).
    pub fn returns_home(&self) -> bool {
        self.asset == self.destination
    }

    /// Where the source keeps it while it is outstanding.
    pub fn commitment_key(&self) -> StateKey {
        StateKey::Packet(self.destination.clone(), self.sequence)
    }

    /// Where the destination writes its receipt.
    pub fn receipt_key(&self) -> StateKey {
        StateKey::PacketReceipt(self.source.clone(), self.sequence)
    }

    /// The packet is committed in the source's state whose root is `root` (at `height`).
    pub fn verify_committed(&self, root: &Hash32, height: Height, proof: &StateProof) -> Result<(), PacketError> {
        proof
            .verify(root, &self.commitment_key(), Some(&to_bytes(self)))
            .map_err(|source| PacketError::BadProof { height, source })
    }

    /// `receipt` is the destination's receipt of the packet in its state at `root`.
    pub fn verify_received(
        &self,
        receipt: &PacketReceipt,
        root: &Hash32,
        height: Height,
        proof: &StateProof,
    ) -> Result<(), PacketError> {
        proof
            .verify(root, &self.receipt_key(), Some(&to_bytes(receipt)))
            .map_err(|source| PacketError::BadProof { height, source })
    }

    /// The destination's state at `height` (root `root`) holds no receipt of the packet
    /// and has passed its timeout — by its height, or by its client of the source, which
    /// `client` proves in the same state —, so it never will: it receives nothing past
    /// the timeout.
    pub fn verify_timed_out(
        &self,
        root: &Hash32,
        height: Height,
        proof: &StateProof,
        client: Option<&(ClientState, StateProof)>,
    ) -> Result<(), PacketError> {
        let bad = |source| PacketError::BadProof { height, source };
        proof.verify(root, &self.receipt_key(), None).map_err(bad)?;
        let source_newest = match client {
            Some((client, proof)) => {
                let key = StateKey::Connection(self.source.clone());
                proof.verify(root, &key, Some(&to_bytes(client))).map_err(bad)?;
                client.verifier.newest()
            }
            None => Height(0),
        };
        // `at` = `height`: a receipt written at the proof's height would be in its state.
        if !self.timeout.passed(height, source_newest) {
            return Err(PacketError::TimeoutNotReached { proof_height: height, timeout: self.timeout });
        }
        Ok(())
    }
}

/// The destination's record that it received a packet (`StateKey::PacketReceipt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketReceipt {
    /// The account of the relayer that delivered it (paid the fee on the source).
    pub relayer: Address,
    /// Whether the receiver was credited (not, if the destination could not: the source
    /// refunds).
    pub credited: bool,
    /// The destination's height that received it.
    pub height: Height,
}

/// A proof in the other chain's state at one of its heights. The header of that height
/// is either kept by this chain's client already, or carried here: then the client
/// verifies it (as an [`super::UpdateClient`] would) and keeps it, so a relayer needs
/// no update of its own before each packet, and the packets after it in the block only
/// compare its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofAt {
    pub height: Height,
    pub proof: StateProof,
    pub header: Option<Box<CertifiedHeader>>,
}

/// Delivers a packet to its destination, proven in the source's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivePacket {
    pub packet: Packet,
    pub proof: ProofAt,
}

/// Settles a packet on its source: the destination's receipt, proven in its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledge {
    pub packet: Packet,
    pub receipt: PacketReceipt,
    pub proof: ProofAt,
}

/// Refunds a packet on its source: the destination's state, past the timeout, proves no
/// receipt. A timeout by source height also carries the destination's client of the
/// source, proven in that same state (its newest verified source height).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeout {
    pub packet: Packet,
    pub proof: ProofAt,
    pub client: Option<Box<(ClientState, StateProof)>>,
}

/// A relayer's transaction: one step (receive, acknowledge, time out) for up to
/// [`super::PACKETS_PER_TX_MAX`] packets between the same two chains, in order. The
/// first proof at a height carries that height's header; the later ones at the same
/// height need not (they are checked against the root it gave), so a batch costs one
/// certificate check per height, not per packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch<T>(pub Vec<T>);

impl<T> Batch<T> {
    /// Its size is within bounds: at least one packet, at most the bound.
    pub fn check(&self) -> Result<(), PacketError> {
        let n = self.0.len();
        if n == 0 || n > super::PACKETS_PER_TX_MAX {
            return Err(PacketError::BatchSize(n));
        }
        Ok(())
    }
}

/// Where a transfer's packet went (`StateKey::SentPacket`): with the transfer the sender
/// signed, it gives the packet itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentPacket {
    pub destination: ChainId,
    pub sequence: u64,
}

/// A chain's side of its traffic with another (`StateKey::Channel`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// The sequence of the next packet sent.
    pub next_sequence: u64,
    /// This chain's coin held for the other chain (its vouchers there, and packets on
    /// their way).
    pub escrowed: Amount,
    /// Relayers' fees held for packets outstanding.
    pub fees_held: Amount,
    /// The other chain's coin in vouchers here.
    pub vouchers: Amount,
}
