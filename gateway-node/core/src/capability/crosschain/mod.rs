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

use std::collections::{BTreeMap, BTreeSet};

use vigil_protocol::crosschain::{
    Batch, ClientState, ConnectionError, ForeignHeader, PacketError, PacketTimeout, ProofAt,
};
use vigil_protocol::{Address, Amount, ChainId, FailureCode, Hash32, Height, PublicKey, StateKey, TxStatus};

use crate::capability::{Capability, ReadState};
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

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

/// The roots of the other chain's state that a batch's proofs are against, as its
/// elements are checked in order: a height the client keeps, or one whose header an
/// element carried (verified by the client, as an update would, and then kept). An
/// element at a height a former one gave needs no header; one it carries must be that
/// same block.
pub struct Roots {
    /// The client as the batch leaves it (carried headers recorded).
    pub client: ClientState,
    /// Each height used so far: its block hash and state root.
    seen: BTreeMap<Height, (vigil_protocol::BlockHash, Hash32)>,
    /// Headers carried and verified, to keep.
    pub keep: Vec<(Height, ForeignHeader)>,
}

impl Roots {
    fn new(client: ClientState) -> Self {
        Self { client, seen: BTreeMap::new(), keep: Vec::new() }
    }

    /// The root `at` is against.
    fn root(&mut self, state: &impl ReadState, at: &ProofAt) -> Result<Hash32, Refused> {
        let carried = at.header.as_ref().map(|h| h.header.hash());
        let known = self.seen.get(&at.height).copied().or_else(|| {
            let kept: Option<ForeignHeader> =
                state.get(&StateKey::ForeignHeader(self.client.chain().clone(), at.height));
            kept.map(|k| (k.block_hash, k.state_root))
        });
        if let Some((hash, root)) = known {
            if carried.is_some_and(|c| c != hash) {
                return Err(Refused::Connection(ConnectionError::ConflictingHeader(at.height)));
            }
            self.seen.insert(at.height, (hash, root));
            return Ok(root);
        }
        let Some(header) = &at.header else {
            return Err(Refused::UnknownProofHeight(self.client.chain().clone(), at.height));
        };
        if header.header.height != at.height {
            let (proof_height, header) = (at.height, header.header.height);
            return Err(Refused::Packet(PacketError::HeaderHeight { proof_height, header }));
        }
        let update = vigil_protocol::crosschain::UpdateClient {
            chain: self.client.chain().clone(),
            changes: Vec::new(),
            header: (**header).clone(),
        };
        self.client = self.client.checked_update(&update, executing(state)).map_err(Refused::Connection)?;
        let kept = ForeignHeader::of(header);
        self.seen.insert(at.height, (kept.block_hash, kept.state_root));
        self.keep.push((at.height, kept));
        Ok(header.header.state_root)
    }

    /// Writes the headers carried and the client, if any header was carried.
    fn write(self, cx: &mut TxContext<'_>) {
        if self.keep.is_empty() {
            return;
        }
        let mut client = self.client;
        for (height, header) in self.keep {
            keep_one(cx, &mut client, height, header);
        }
        cx.write(StateKey::Connection(client.chain().clone()), &client);
    }
}

/// The packets of a batch, with what its checks found: the index of each to act on,
/// and the roots (headers to keep).
pub struct Checked {
    pub roots: Roots,
    pub go: Vec<usize>,
}

/// Checks each element of `batch` in order (`check(element, roots)`: `Ok(Ok(()))` to act
/// on it, `Ok(Err(why))` to pass over it — received or settled already, past its timeout
/// —, `Err` refuses the whole batch), each packet once. A batch with nothing to act on is
/// refused with the reason its first element was passed over.
fn check_batch<T>(
    items: &[T],
    client: ClientState,
    packet: impl Fn(&T) -> &vigil_protocol::crosschain::Packet,
    mut check: impl FnMut(&T, &mut Roots) -> Result<Result<(), Refused>, Refused>,
) -> Result<Checked, Refused> {
    let mut roots = Roots::new(client);
    let (mut go, mut seen, mut passed) = (Vec::new(), BTreeSet::new(), None);
    for (i, item) in items.iter().enumerate() {
        let sequence = packet(item).sequence;
        if !seen.insert(sequence) {
            return Err(Refused::Packet(PacketError::TwiceInBatch(sequence)));
        }
        match check(item, &mut roots)? {
            Ok(()) => go.push(i),
            Err(why) => {
                passed.get_or_insert(why);
            }
        }
    }
    match passed {
        Some(why) if go.is_empty() => Err(why),
        _ => Ok(Checked { roots, go }),
    }
}

/// One step a relayer's batch carries (receive, acknowledge, time out): how a batch of it
/// is checked, and what it does for each packet it acts on.
pub(crate) trait PacketStep: Sized {
    fn check(batch: &Batch<Self>, ledger: &Ledger, state: &impl ReadState) -> Result<Checked, Refused>;
    fn act(&self, cx: &mut TxContext<'_>);
}

impl<T: PacketStep> Capability for Batch<T> {
    type Checked = Step<Checked>;

    fn admit(&self, ledger: &Ledger, _sender: &PublicKey) -> Result<(), Rejection> {
        T::check(self, ledger, ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Step<Checked>, TxInvalid> {
        Step::of(T::check(self, cx.ledger(), cx))
    }

    fn apply(&self, step: Step<Checked>, cx: &mut TxContext<'_>) -> TxStatus {
        let Checked { roots, go } = match step {
            Step::Go(checked) => checked,
            Step::Fail(code) => return TxStatus::Failed(code),
        };
        roots.write(cx);
        for item in go.iter().filter_map(|i| self.0.get(*i)) {
            item.act(cx);
        }
        TxStatus::Success
    }
}

/// The first packet's of a batch (a batch holds at least one: checked before).
fn first<T>(batch: &Batch<T>) -> Result<&T, Refused> {
    batch.0.first().ok_or(Refused::Packet(PacketError::BatchSize(0)))
}

/// Keeps a verified header of `client`'s chain in the state (the oldest kept forgotten
/// past the bound); the caller writes the client.
fn keep_one(cx: &mut TxContext<'_>, client: &mut ClientState, height: Height, header: ForeignHeader) {
    let chain = client.chain().clone();
    let forgotten = client.keep(height);
    if !forgotten.contains(&height) {
        cx.write(StateKey::ForeignHeader(chain.clone(), height), &header);
    }
    for old in forgotten.into_iter().filter(|h| *h != height) {
        cx.remove(StateKey::ForeignHeader(chain.clone(), old));
    }
}

/// Keeps a verified header and writes the client (an update's).
fn keep_header(cx: &mut TxContext<'_>, mut client: ClientState, height: Height, header: ForeignHeader) {
    keep_one(cx, &mut client, height, header);
    cx.write(StateKey::Connection(client.chain().clone()), &client);
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
