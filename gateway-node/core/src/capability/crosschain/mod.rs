//! Cross-chain transfer (SPEC C8): this chain's light clients of other chains and the
//! packets between them (the shapes are in `vigil_protocol::crosschain`).
//!
//! - [`connection`]: `OpenConnection` (a quorum of the set in force approves),
//!   `UpdateClient` and `FreezeClient` (anyone).
//! - [`send`]: `CrossTransfer` — escrow or burn, the packet committed.
//! - [`receive`]: `ReceivePacket` — proven in the source's state, credited once.
//! - [`settle`]: `Acknowledge` and `Timeout` — the receipt proven present, or absent
//!   past the timeout; the packet removed once.
//!
//! What a relayer racing another relayer can meet in a block (the packet received or
//! settled already, the header its proof needs forgotten, the client frozen or expired,
//! the timeout reached) makes its transaction fail in the block — its fee paid, nothing
//! else changed — rather than keeping it out: a relayer's later nonces never wait on
//! it. Everything else (a forged header, a proof that does not verify, a malformed
//! packet) may not be in a block at all. Admission refuses both, each with its code.

use vigil_protocol::crosschain::{ClientState, ConnectionError, ForeignHeader, PacketError, PacketTimeout, ProofAt};
use vigil_protocol::{Address, Amount, ChainId, FailureCode, Hash32, Height, StateKey};

use crate::capability::ReadState;
use crate::consensus::Rejection;
use crate::execution::{TxContext, TxInvalid};

pub mod connection;
pub mod receive;
pub mod send;
pub mod settle;

/// Why a cross-chain payload is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    NoConnection(ChainId),
    ConnectionExists(ChainId),
    TooManyConnections,
    Connection(ConnectionError),
    Packet(PacketError),
    WrongDestination(ChainId),
    UnknownProofHeight(ChainId, Height),
    AlreadyReceived,
    NotPending,
    TimedOut { timeout: PacketTimeout, at: Height, source_newest: Height },
    TimeoutPassed(String),
    Invalid(String),
}

impl Refused {
    pub(crate) fn rejection(self) -> Rejection {
        match self {
            Refused::NoConnection(chain) => Rejection::NoConnection(chain),
            Refused::ConnectionExists(chain) => Rejection::ConnectionExists(chain),
            Refused::TooManyConnections => Rejection::InvalidConnection(format!(
                "this chain holds {} connections, as many as it may",
                vigil_protocol::crosschain::CONNECTIONS_MAX
            )),
            Refused::Connection(e @ (ConnectionError::Header { .. } | ConnectionError::ConflictingHeader(_))) => {
                Rejection::BadHeader(e.to_string())
            }
            Refused::Connection(e @ ConnectionError::Frozen(_)) => Rejection::ClientFrozen(e.to_string()),
            Refused::Connection(e @ ConnectionError::Expired { .. }) => Rejection::ClientExpired(e.to_string()),
            Refused::Connection(e) => Rejection::InvalidConnection(e.to_string()),
            Refused::Packet(e @ PacketError::BadProof { .. }) => Rejection::BadPacketProof(e.to_string()),
            Refused::Packet(e) => Rejection::InvalidPacket(e.to_string()),
            Refused::WrongDestination(chain) => {
                Rejection::InvalidPacket(format!("the packet is for chain `{chain}`, not this one"))
            }
            Refused::UnknownProofHeight(chain, height) => Rejection::UnknownProofHeight { chain, height },
            Refused::AlreadyReceived => Rejection::PacketAlreadyReceived,
            Refused::NotPending => Rejection::PacketNotPending,
            Refused::TimedOut { timeout, at, source_newest } => Rejection::PacketTimedOut(format!(
                "this chain is at height {at} and has verified the source up to height {source_newest}, past the packet's timeout ({timeout}): it is refunded on its source instead"
            )),
            Refused::TimeoutPassed(why) => Rejection::InvalidPacket(why),
            Refused::Invalid(why) => Rejection::InvalidPacket(why),
        }
    }

    /// In a block: what a racing relayer can meet fails the transaction (its fee paid);
    /// the rest may not be in a block.
    pub(crate) fn in_block(self) -> Result<FailureCode, TxInvalid> {
        match self {
            Refused::AlreadyReceived => Ok(FailureCode::PacketAlreadyReceived),
            Refused::NotPending => Ok(FailureCode::PacketNotPending),
            Refused::UnknownProofHeight(..) => Ok(FailureCode::UnknownProofHeight),
            Refused::Connection(ConnectionError::Frozen(_) | ConnectionError::Expired { .. }) => {
                Ok(FailureCode::ConnectionClosed)
            }
            Refused::TimedOut { .. } => Ok(FailureCode::PacketTimedOut),
            other => Err(TxInvalid::CrossChain(other.rejection().to_string())),
        }
    }
}

/// A payload's check in a block: go on with what was checked, or fail with a code.
pub enum Step<T> {
    Go(T),
    Fail(FailureCode),
}

impl<T> Step<T> {
    /// [`Step::Go`], or the refusal as a block takes it.
    pub(crate) fn of(checked: Result<T, Refused>) -> Result<Self, TxInvalid> {
        match checked {
            Ok(t) => Ok(Step::Go(t)),
            Err(refused) => refused.in_block().map(Step::Fail),
        }
    }
}

/// The height a payload executes at, on the state `state` reads.
fn executing(state: &impl ReadState) -> Height {
    state.height().next()
}

/// The client of `chain`, whatever its state.
fn client(state: &impl ReadState, chain: &ChainId) -> Result<ClientState, Refused> {
    state.get(&StateKey::Connection(chain.clone())).ok_or_else(|| Refused::NoConnection(chain.clone()))
}

/// The client of `chain`, if packets may be acted on now.
fn usable_client(state: &impl ReadState, chain: &ChainId) -> Result<ClientState, Refused> {
    let client = client(state, chain)?;
    client.usable(executing(state)).map_err(Refused::Connection)?;
    Ok(client)
}

/// The other chain's state root a proof is against, and the header to keep if the
/// proof carried one the client did not hold.
pub struct ProvenRoot {
    pub root: Hash32,
    pub keep: Option<(Height, ForeignHeader, ClientState)>,
}

/// The root of `chain`'s state at `at.height`: the kept header's (a carried one must be
/// that same block), or the carried header's once the client verifies it.
fn proven_root(state: &impl ReadState, client: &ClientState, at: &ProofAt) -> Result<ProvenRoot, Refused> {
    let chain = client.chain();
    let kept: Option<ForeignHeader> = state.get(&StateKey::ForeignHeader(chain.clone(), at.height));
    match (kept, &at.header) {
        (Some(kept), carried) => {
            if carried.as_ref().is_some_and(|h| h.header.hash() != kept.block_hash) {
                return Err(Refused::Connection(ConnectionError::ConflictingHeader(at.height)));
            }
            Ok(ProvenRoot { root: kept.state_root, keep: None })
        }
        (None, None) => Err(Refused::UnknownProofHeight(chain.clone(), at.height)),
        (None, Some(header)) => {
            if header.header.height != at.height {
                let (proof_height, header) = (at.height, header.header.height);
                return Err(Refused::Packet(PacketError::HeaderHeight { proof_height, header }));
            }
            let update = vigil_protocol::crosschain::UpdateClient {
                chain: chain.clone(),
                changes: Vec::new(),
                header: (**header).clone(),
            };
            let next = client.checked_update(&update, executing(state)).map_err(Refused::Connection)?;
            Ok(ProvenRoot { root: header.header.state_root, keep: Some((at.height, ForeignHeader::of(header), next)) })
        }
    }
}

/// Keeps a verified header of `client`'s chain (the oldest kept forgotten past the
/// bound) and writes the client.
fn keep_header(cx: &mut TxContext<'_>, mut client: ClientState, height: Height, header: ForeignHeader) {
    let chain = client.chain().clone();
    let forgotten = client.keep(height);
    if !forgotten.contains(&height) {
        cx.write(StateKey::ForeignHeader(chain.clone(), height), &header);
    }
    for old in forgotten.into_iter().filter(|h| *h != height) {
        cx.remove(StateKey::ForeignHeader(chain.clone(), old));
    }
    cx.write(StateKey::Connection(chain), &client);
}

/// Adds `amount` to `to`'s balance (the sender's too); false on overflow (nothing
/// changed).
fn credit(cx: &mut TxContext<'_>, to: Address, amount: Amount) -> bool {
    if amount.0 == 0 {
        return true;
    }
    let mut account = cx.account(&to);
    let Some(balance) = account.balance.checked_add(amount) else {
        return false;
    };
    account.balance = balance;
    if to == cx.sender() {
        cx.set_sender_account(account);
    } else {
        cx.set_account(to, account);
    }
    true
}

/// `to`'s vouchers of `origin`'s coin.
fn vouchers(state: &impl ReadState, origin: &ChainId, to: Address) -> Amount {
    state.get(&StateKey::Voucher(origin.clone(), to)).unwrap_or(Amount(0))
}

#[cfg(test)]
mod tests;
