//! Cross-chain transfer between two Vigil chains (SPEC C8, patent 1): the shapes both
//! chains, the relayer and the wallet share.
//!
//! - [`connection`]: a chain's light client of another, kept in its state: opened by a
//!   governance transaction a quorum of this chain's validators signs
//!   ([`OpenConnection`]), kept current by anyone's [`UpdateClient`] (certified set
//!   changes and a certified header, checked by the one
//!   [`HeaderVerifier`](crate::verifier::HeaderVerifier)), frozen by two conflicting
//!   certified headers ([`FreezeClient`]), expired when no one updated it for a while.
//! - [`packet`]: a transfer's packet and its four steps: [`CrossTransfer`] (escrow or
//!   burn on the source, the packet committed in its state), [`ReceivePacket`] (proven
//!   against the source's verified header: a voucher minted or an escrow released, a
//!   receipt written), [`Acknowledge`] (the receipt proven on the destination: final),
//!   [`Timeout`] (the receipt proven absent at a destination height past the timeout:
//!   refund).
//!
//! Exactly once comes from the chains' own state, never from a relayer: a receipt exists
//! once, a commitment is removed once, and a destination past the timeout height
//! receives nothing, so a packet is either credited and acknowledged or refunded.

pub mod connection;
pub mod packet;

pub use connection::{
    ClientState, ConnectionError, ConnectionProposal, ConnectionSettings, ForeignHeader, FreezeClient, OpenConnection,
    UpdateClient,
};
pub use packet::{
    Acknowledge, Batch, Channel, CrossAsset, CrossTransfer, Packet, PacketError, PacketReceipt, PacketTimeout, ProofAt,
    ReceivePacket, SentPacket, Timeout,
};

/// The newest foreign headers a connection keeps; a packet is proven against one of them.
pub const FOREIGN_HEADERS_MAX: usize = 64;
/// Set changes one [`UpdateClient`] may carry.
pub const UPDATE_CHANGES_MAX: usize = 16;
/// Most packets one relayer transaction carries (each with its proof, about 1 KB: a
/// transaction stays well within its size bound).
pub const PACKETS_PER_TX_MAX: usize = 32;
/// Connections one chain may hold.
pub const CONNECTIONS_MAX: usize = 64;
