//! What each kind of transaction does: one module per capability, each with its
//! admission rules and its execution, behind one trait ([`Capability`]).
//!
//! Admission (the mempool) and execution (a block) ask a payload through
//! `with_capability!`, the one place that names every payload kind: a new capability
//! is a module here and one line there (and its payload variant in `vigil-protocol`).
//!
//! | module | payloads | state it writes |
//! |---|---|---|
//! | [`transfer`] | `Transfer` | the recipient's `Account` |
//! | [`evidence`] | `FaultEvidence` | `Consensus` (the offender jailed, the next height Bft) |
//! | [`vault`] | `RegisterUser`, `CommitManifest` | `User`, `Manifest`, `Objects` |
//! | [`checkpoint`] | `RecordCheckpoint` | `Checkpoint` (the newest stable checkpoint) |
//! | [`authcenter`] | `Dkg` (rounds 1 and 2, complaint, confirmation) | `DkgRound1`, `DkgRound2` (each center's), `Dkg`, `GroupKey` (once every participant confirmed) |
//! | [`authcenter::signing`] | `Signing` (nonce commitments, signature shares, restarts) | `Nonces`, `SigningSession`, `Signing`, `CertAuthority` (the root, once signed), `Certificate` and `CertificatesOf` (an issued certificate) |
//! | [`authcenter::issuance`] | `CertRequest`, `CertVerdict` | `CertRequests`, `CertRequest` (with each center's verdict); a signing session once t approved |
//! | [`authcenter::change`] | `CenterChange` (votes; the resharing's ready keys, deals, complaints, confirmations, timeouts) | `CenterSetVotes`, `CenterChange`, `ReshareReady`, `ReshareDeal`; at the end `AuthCenters`, `GroupKey` (same key, new shares), `Nonces` |
//! | [`tables::schema`] | `CreateTable`, `AlterTable` | `Table` (owner, schema versions, deposit), `TableRoot`, `TableNames` |
//! | [`tables::rows`] | `WriteRow` (insert, update, delete; signed by its writer) | `Row` (the key's latest write and count), `RowVersion` (the write before), `TableRoot` (and the table's ordered map) |
//! | [`crosschain::connection`] | `OpenConnection` (a quorum of the set in force), `UpdateClient`, `FreezeClient` | `Connection` (the client of the other chain), `ForeignHeader` (its newest verified headers), `Channel`, `Connections` |
//! | [`crosschain::send`] | `CrossTransfer` | the sender's account (escrowed) or `Voucher` (burnt), `Packet`, `Channel` |
//! | [`crosschain::receive`] | `ReceivePacket` (proven in the source's state) | `PacketReceipt`, `Voucher` or the receiver's account, `Channel` |
//! | [`crosschain::settle`] | `Acknowledge`, `Timeout` | `Packet` removed, the relayer's or sender's account, `Voucher`, `Channel` |
//! | [`audit::target`] | `RegisterTarget`, `RecordTrade`, `ConfirmTrade` | `Target`, `Trade` |
//! | [`audit::report`] | `SubmitAudit`, `AuditNotice` | `Audit` (with each counterparty's notice), `Target` (its next period) |
//! | [`authcenter::actions`] | `CertAction` (a center's vote to freeze, unfreeze, revoke) | `CertVotes`; `Certificate` (its account's type) once t voted |
//!
//! Every transaction, whatever its payload, first pays its fee and uses its nonce
//! (`execution`), so a transaction included once can never be included again.

use serde::de::DeserializeOwned;
use vigil_protocol::limits::FEE_MIN;
use vigil_protocol::{Height, Payload, PublicKey, StateKey, TxStatus};

use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

pub mod audit;
pub mod authcenter;
pub mod checkpoint;
pub mod crosschain;
pub mod evidence;
pub mod tables;
pub mod transfer;
pub mod vault;

/// One payload kind's rules.
///
/// Execution runs in two steps so that a transaction that may not be in a block
/// changes nothing: [`Capability::validate`] reads only and may refuse the transaction
/// ([`TxInvalid`]: a block holding it is invalid); [`Capability::apply`] cannot refuse
/// any more, it writes the payload's effects and says whether it succeeded (a failed
/// transaction is still recorded: its fee is paid and its nonce used).
pub trait Capability {
    /// What [`Capability::validate`] found, handed to [`Capability::apply`].
    type Checked;

    /// The smallest fee this payload pays.
    fn fee_min(&self) -> u64 {
        FEE_MIN
    }

    /// What this payload takes from the sender's balance beyond the fee, at most.
    fn spend(&self) -> u64 {
        0
    }

    /// Whether the mempool takes it ahead of the others.
    fn priority(&self) -> bool {
        false
    }

    /// Admission's checks beyond chain, signature, nonce, fee and balance, on the
    /// committed `ledger`: what is refused here is never pooled.
    fn admit(&self, _ledger: &Ledger, _sender: &PublicKey) -> Result<(), Rejection> {
        Ok(())
    }

    /// Whether the transaction may be in a block at all, on the state `cx` holds.
    fn validate(&self, cx: &TxContext<'_>) -> Result<Self::Checked, TxInvalid>;

    /// Its effects on the state `cx` holds.
    fn apply(&self, checked: Self::Checked, cx: &mut TxContext<'_>) -> TxStatus;
}

/// Reads of the state a message is checked against: the committed ledger at admission,
/// the block so far in execution.
pub(crate) trait ReadState {
    fn get<T: DeserializeOwned>(&self, key: &StateKey) -> Option<T>;
    /// The newest committed height (the message executes at the next).
    fn height(&self) -> Height;
}

impl ReadState for Ledger {
    fn get<T: DeserializeOwned>(&self, key: &StateKey) -> Option<T> {
        self.state(key)
    }
    fn height(&self) -> Height {
        Ledger::height(self)
    }
}

impl ReadState for TxContext<'_> {
    fn get<T: DeserializeOwned>(&self, key: &StateKey) -> Option<T> {
        self.read(key)
    }
    fn height(&self) -> Height {
        self.ledger().height()
    }
}

/// Runs `$body` with `$c` bound to the payload's capability (`&impl Capability`): the
/// registration of every payload kind.
macro_rules! with_capability {
    ($payload:expr, |$c:ident| $body:expr) => {
        match $payload {
            Payload::Transfer($c) => $body,
            Payload::FaultEvidence($c) => $body,
            Payload::RegisterUser($c) => $body,
            Payload::CommitManifest($c) => $body,
            Payload::RecordCheckpoint($c) => $body,
            Payload::Dkg($c) => $body,
            Payload::Signing($c) => $body,
            Payload::CertRequest($c) => $body,
            Payload::CertVerdict($c) => $body,
            Payload::CertAction($c) => $body,
            Payload::CenterChange($c) => $body,
            Payload::CreateTable($c) => $body,
            Payload::AlterTable($c) => $body,
            Payload::WriteRow($c) => $body,
            Payload::OpenConnection($c) => $body,
            Payload::UpdateClient($c) => $body,
            Payload::FreezeClient($c) => $body,
            Payload::CrossTransfer($c) => $body,
            Payload::ReceivePacket($c) => $body,
            Payload::Acknowledge($c) => $body,
            Payload::Timeout($c) => $body,
            Payload::RegisterTarget($c) => $body,
            Payload::RecordTrade($c) => $body,
            Payload::ConfirmTrade($c) => $body,
            Payload::SubmitAudit($c) => $body,
            Payload::AuditNotice($c) => $body,
        }
    };
}

/// The smallest fee `payload` pays ([`FEE_MIN`]; evidence may be free, registering a
/// user id costs more).
pub fn fee_min(payload: &Payload) -> u64 {
    with_capability!(payload, |c| c.fee_min())
}

/// What `payload` takes from the sender's balance beyond the fee, at most.
pub fn spend(payload: &Payload) -> u64 {
    with_capability!(payload, |c| c.spend())
}

/// Whether the mempool takes `payload` ahead of the others (fault evidence).
pub fn priority(payload: &Payload) -> bool {
    with_capability!(payload, |c| c.priority())
}

/// Admission's payload-specific checks.
pub fn admit(payload: &Payload, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
    with_capability!(payload, |c| c.admit(ledger, sender))
}

/// Checks, then executes `payload` on the state `cx` holds; on `Err` nothing changed.
pub(crate) fn execute(payload: &Payload, cx: &mut TxContext<'_>) -> Result<TxStatus, TxInvalid> {
    with_capability!(payload, |c| c.validate(cx).map(|checked| c.apply(checked, cx)))
}
