//! The centers' threshold signing sessions (FROST, RFC 9591) as the chain runs them.
//!
//! - **Nonce commitments ahead.** Each participant publishes batches of round-1 nonce
//!   commitments ([`NonceCommitments`]) before anything needs signing; the chain queues
//!   them ([`NonceQueue`], at most [`NONCES_AHEAD_MAX`] unused), numbered so the center
//!   knows which secret nonces each one stands for.
//! - **Sessions opened by execution.** When something must be signed (the root
//!   certificate once the group key is ready; a certificate once t centers approved it),
//!   execution fixes the message and opens a [`SigningSession`]: the first t eligible
//!   centers that have an unused commitment (in center order, starting at a place that
//!   turns with the session's id, so the work is shared), one commitment of each
//!   taken off its queue for good (a nonce is never used twice). If fewer than t have
//!   one, the purpose waits ([`SigningState::waiting`]) and opens as commitments arrive.
//! - **Shares.** Each chosen center sends its signature share ([`SignatureShare`]); the
//!   chain checks it against the center's verifying share (a share that does not verify
//!   is refused and names its center), and with the last one aggregates the signature.
//! - **Timeout in heights.** A session not complete [`SIGNING_TIMEOUT_HEIGHTS`] after it
//!   opened may be restarted by any participant ([`SigningMessage::Restart`]): the centers
//!   that withheld their share are left out of the purpose's next sessions — unless that
//!   leaves fewer than t to choose from, when the oldest exclusions are lifted first (a
//!   center that was down for a while is chosen again rather than the purpose stalling).

use serde::{Deserialize, Serialize};

use crate::hash::Hash32;
use crate::ids::Height;

/// Most commitments one [`NonceCommitments`] carries.
pub const NONCE_BATCH_MAX: usize = 32;
/// Most unused commitments the chain keeps for one center.
pub const NONCES_AHEAD_MAX: usize = 64;
/// Heights after its opening at which an incomplete session may be restarted.
pub const SIGNING_TIMEOUT_HEIGHTS: u64 = 32;
/// Most purposes waiting for commitments at once.
pub const WAITING_MAX: usize = 256;

/// One round-1 nonce commitment (hiding and binding points), numbered per center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceCommitment {
    pub seq: u64,
    pub hiding: [u8; 32],
    pub binding: [u8; 32],
}

/// A batch of a center's nonce commitments; the first is numbered `first_seq`, which
/// must be the center's next number on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceCommitments {
    pub set: Hash32,
    pub first_seq: u64,
    /// (hiding, binding) points.
    pub commitments: Vec<([u8; 32], [u8; 32])>,
}

/// A center's unused commitments on chain (at `StateKey::Nonces(center)`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceQueue {
    /// The number the center's next commitment gets.
    pub next: u64,
    /// Oldest first.
    pub unused: Vec<NonceCommitment>,
}

/// What a session signs for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SigningPurpose {
    /// The consortium's root certificate.
    Root,
    /// The certificate a request (by id) was approved for, signed by its approvers.
    Certificate(u64),
}

/// One signing session (at `StateKey::SigningSession(id)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSession {
    pub id: u64,
    pub purpose: SigningPurpose,
    /// The exact bytes signed (a to-be-signed certificate's DER).
    pub message: Vec<u8>,
    /// The chosen centers, ascending; `commitments[k]` and `shares[k]` are `signers[k]`'s.
    pub signers: Vec<u16>,
    pub commitments: Vec<NonceCommitment>,
    pub shares: Vec<Option<[u8; 32]>>,
    pub opened: Height,
    /// Centers that withheld their share in an earlier session of the same purpose, oldest
    /// first (those a session may leave out).
    pub withheld: Vec<u16>,
    pub outcome: SessionOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionOutcome {
    Open,
    /// Every share in: the group's signature (R ‖ z).
    Signed(#[serde(with = "crate::bytes")] [u8; 64]),
    /// Restarted after its timeout as session `next` (or waiting for commitments).
    Restarted {
        next: Option<u64>,
    },
}

/// A purpose waiting for enough centers with commitments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    pub purpose: SigningPurpose,
    pub message: Vec<u8>,
    pub withheld: Vec<u16>,
}

/// The sessions' bookkeeping (at `StateKey::Signing`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningState {
    pub next_id: u64,
    /// Oldest first.
    pub waiting: Vec<Waiting>,
    /// The sessions open now, oldest first (what the centers look at; each holds one
    /// commitment of each of its t signers, so there are at most
    /// `centers × NONCES_AHEAD_MAX / t` of them).
    pub open: Vec<u64>,
}

/// A chosen center's signature share for session `session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureShare {
    pub session: u64,
    pub share: [u8; 32],
}

/// One message of the signing sessions, as a transaction carries it (from a center).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningMessage {
    Commitments(NonceCommitments),
    Share(SignatureShare),
    /// Restart session `0` after its timeout.
    Restart(u64),
}

/// The consortium's certificate authority (at `StateKey::CertAuthority`): written at
/// genesis on a chain with centers, its root once the centers signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertAuthority {
    /// The root's validity start: the genesis time, in seconds.
    pub not_before_s: u64,
    /// The root certificate's DER, once signed.
    pub root: Option<Vec<u8>>,
}
