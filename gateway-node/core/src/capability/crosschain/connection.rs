//! A connection's client: opened by governance, moved by anyone's certified headers,
//! frozen by anyone's proof of a fork.
//!
//! Opening checks the approvals against the set in force at the executing height, so a
//! quorum of a retired set opens nothing; an approval is for one opening (the count of
//! openings before it) and valid through a height, so it is never replayed. A connection open and usable is not opened
//! twice; a frozen or expired one may be opened again by a new quorum: the client is
//! replaced (the headers the old one kept are forgotten with it), the channel — its
//! sequences, escrow and vouchers — stays.

use vigil_protocol::crosschain::{
    Channel, ClientState, ConnectionError, ForeignHeader, FreezeClient, OpenConnection, UpdateClient, CONNECTIONS_MAX,
};
use vigil_protocol::{ChainId, PublicKey, StateKey, TxStatus};

use super::{client, executing, keep_header, Refused, Step};
use crate::capability::{Capability, ReadState};
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

/// What an opening replaces: nothing, or a closed client (frozen or expired).
pub struct Opening {
    replaced: Option<ClientState>,
}

fn check_open(open: &OpenConnection, ledger: &Ledger, state: &impl ReadState) -> Result<Opening, Refused> {
    let at = executing(state);
    open.verify(ledger.chain_id(), at, ledger.validators_at(at)).map_err(Refused::Connection)?;
    let chain = &open.proposal.counterparty;
    let old: Option<ClientState> = state.get(&StateKey::Connection(chain.clone()));
    let expected = old.as_ref().map_or(0, |c| c.openings);
    if open.proposal.opening != expected {
        return Err(Refused::Connection(ConnectionError::Opening { expected, found: open.proposal.opening }));
    }
    match old {
        Some(old) if old.usable(at).is_ok() => Err(Refused::ConnectionExists(chain.clone())),
        Some(old) => Ok(Opening { replaced: Some(old) }),
        None => {
            let open: Vec<ChainId> = state.get(&StateKey::Connections).unwrap_or_default();
            if open.len() >= CONNECTIONS_MAX {
                return Err(Refused::TooManyConnections);
            }
            Ok(Opening { replaced: None })
        }
    }
}

impl Capability for OpenConnection {
    type Checked = Opening;

    fn admit(&self, ledger: &Ledger, _sender: &PublicKey) -> Result<(), Rejection> {
        check_open(self, ledger, ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Opening, TxInvalid> {
        check_open(self, cx.ledger(), cx).map_err(|r| TxInvalid::CrossChain(r.rejection().to_string()))
    }

    fn apply(&self, Opening { replaced }: Opening, cx: &mut TxContext<'_>) -> TxStatus {
        let chain = self.proposal.counterparty.clone();
        match &replaced {
            Some(old) => {
                for height in old.headers.iter().copied() {
                    cx.remove(StateKey::ForeignHeader(chain.clone(), height));
                }
            }
            None => {
                let mut open: Vec<ChainId> = cx.read(&StateKey::Connections).unwrap_or_default();
                open.push(chain.clone());
                cx.write(StateKey::Connections, &open);
                cx.write(StateKey::Channel(chain.clone()), &Channel { next_sequence: 1, ..Channel::default() });
            }
        }
        let mut client = self.proposal.client(executing(cx));
        if let Some(old) = &replaced {
            // What the old client's newest height decided (timeouts by source height) stays.
            client.verifier.newest_at_least(old.verifier.newest());
        }
        cx.write(StateKey::Connection(chain), &client);
        TxStatus::Success
    }
}

/// An update the client takes: the client after it, and the header to keep.
pub struct Update {
    client: ClientState,
    header: ForeignHeader,
}

fn check_update(update: &UpdateClient, state: &impl ReadState) -> Result<Update, Refused> {
    let client = client(state, &update.chain)?;
    let next = client.checked_update(update, executing(state)).map_err(Refused::Connection)?;
    let height = update.header.header.height;
    let header = ForeignHeader::of(&update.header);
    let kept: Option<ForeignHeader> = state.get(&StateKey::ForeignHeader(update.chain.clone(), height));
    if kept.is_some_and(|k| k.block_hash != header.block_hash) {
        return Err(Refused::Connection(ConnectionError::ConflictingHeader(height)));
    }
    Ok(Update { client: next, header })
}

impl Capability for UpdateClient {
    type Checked = Step<Update>;

    fn admit(&self, ledger: &Ledger, _sender: &PublicKey) -> Result<(), Rejection> {
        check_update(self, ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Step<Update>, TxInvalid> {
        Step::of(check_update(self, cx))
    }

    fn apply(&self, step: Step<Update>, cx: &mut TxContext<'_>) -> TxStatus {
        match step {
            Step::Go(Update { client, header }) => {
                keep_header(cx, client, self.header.header.height, header);
                TxStatus::Success
            }
            Step::Fail(code) => TxStatus::Failed(code),
        }
    }
}

fn check_freeze(freeze: &FreezeClient, state: &impl ReadState) -> Result<ClientState, Refused> {
    let mut client = client(state, &freeze.chain)?;
    if client.verifier.frozen().is_some() {
        return Err(Refused::Connection(ConnectionError::Frozen(freeze.chain.clone())));
    }
    let (first, second) = (freeze.evidence.first.clone(), freeze.evidence.second.clone());
    client
        .verifier
        .freeze(first, second)
        .map_err(|source| Refused::Connection(ConnectionError::Header { chain: freeze.chain.clone(), source }))?;
    Ok(client)
}

impl Capability for FreezeClient {
    type Checked = Step<ClientState>;

    fn admit(&self, ledger: &Ledger, _sender: &PublicKey) -> Result<(), Rejection> {
        check_freeze(self, ledger).map(drop).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Step<ClientState>, TxInvalid> {
        Step::of(check_freeze(self, cx))
    }

    fn apply(&self, step: Step<ClientState>, cx: &mut TxContext<'_>) -> TxStatus {
        match step {
            Step::Go(client) => {
                cx.write(StateKey::Connection(self.chain.clone()), &client);
                TxStatus::Success
            }
            Step::Fail(code) => TxStatus::Failed(code),
        }
    }
}
