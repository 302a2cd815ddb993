//! A chain's light client of another chain, kept in its own state.
//!
//! **Opening** is governance: an [`OpenConnection`] counts only with the signatures of a
//! Bft quorum (more than two thirds of the power) of this chain's validator set in
//! force, over a [`ConnectionProposal`] that names this chain, the other chain, the set
//! trusted there and from which height, the connection's settings, and the approving
//! set itself (so approvals gathered under a set that has since changed count for
//! nothing). **Updating** is anyone's: an [`UpdateClient`] carries the other chain's
//! certified set changes since the client last followed and one certified header, which
//! the client's [`HeaderVerifier`] accepts or refuses. **Freezing** too: a
//! [`FreezeClient`] carries two conflicting certified headers, kept as evidence. A client
//! nobody updated for [`ConnectionSettings::expiry_heights`] of this chain's heights
//! has **expired**: the sets it trusts may have retired long ago and sold their keys,
//! so it acts on nothing until governance opens it again.

use serde::{Deserialize, Serialize};

use crate::block::{CertifiedHeader, SetChange};
use crate::crypto::{verify_batch, SecretKey, Signature};
use crate::encoding::to_bytes;
use crate::hash::{BlockHash, Domain, Hash32};
use crate::ids::{ChainId, Height, NodeId};
use crate::validator::{ConsensusMode, ValidatorSet};
use crate::verifier::{ConflictingHeaders, HeaderError, HeaderVerifier};
use crate::vote::{QcError, SignerBitmap};

/// The fewest heights a client may go without an update before it expires.
pub const EXPIRY_HEIGHTS_MIN: u64 = 10;
/// The most.
pub const EXPIRY_HEIGHTS_MAX: u64 = 10_000_000;
/// What `vigil` proposes unless told otherwise: about a day at a block a second.
pub const EXPIRY_HEIGHTS_DEFAULT: u64 = 100_000;

/// Why a connection's message is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    #[error("a chain cannot open a connection to itself")]
    SameChain,
    #[error("the proposal is for chain `{found}`, this chain is `{expected}`")]
    WrongChain { expected: ChainId, found: ChainId },
    #[error("the proposal was approved under validator set {found}, but the set in force is {expected}: gather the approvals again")]
    ApprovingSet { expected: Hash32, found: Hash32 },
    #[error("the approvals are not a quorum of this chain's validators: {0}")]
    Approval(#[from] QcError),
    #[error("expiry_heights must be between {EXPIRY_HEIGHTS_MIN} and {EXPIRY_HEIGHTS_MAX}; {0} given")]
    Expiry(u64),
    #[error("the trusted set must certify from height 1 or above")]
    RootHeight,
    #[error("the approval is for opening number {found} of this connection, but the next is number {expected}")]
    Opening { expected: u64, found: u64 },
    #[error(
        "the approval was valid through height {valid_through}; this chain is at {at}: gather the approvals again"
    )]
    ApprovalExpired { valid_through: Height, at: Height },
    #[error("an update carries at most {max} set changes; {found} given: send them in several updates")]
    TooManyChanges { found: usize, max: usize },
    #[error("the header of chain `{chain}` is refused: {source}")]
    Header { chain: ChainId, source: HeaderError },
    #[error("the client of chain `{0}` is frozen: two conflicting certified headers prove that chain forked")]
    Frozen(ChainId),
    #[error("the client of chain `{chain}` expired: it was last updated at height {updated_at}, more than {expiry_heights} heights ago; governance must open the connection again")]
    Expired { chain: ChainId, updated_at: Height, expiry_heights: u64 },
    #[error("a header at height {0} is kept already and differs from this one: the other chain forked; send both in a FreezeClient")]
    ConflictingHeader(Height),
}

/// What a connection lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSettings {
    /// Whether packets are acted on under the other chain's Fast-mode headers. Default
    /// no: a Fast block is final only while the other chain's faults stay within Fast
    /// mode's bound, so Bft-certified headers alone are acted on.
    pub fast_final: bool,
    /// This chain's heights after the last update at which the client expires.
    pub expiry_heights: u64,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self { fast_final: false, expiry_heights: EXPIRY_HEIGHTS_DEFAULT }
    }
}

/// What this chain's validators approve when they open a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionProposal {
    /// This chain (where the client is kept).
    pub chain_id: ChainId,
    /// The chain followed.
    pub counterparty: ChainId,
    /// The set trusted there, and the first height it certifies (its genesis set from
    /// 1, or the set a stable checkpoint of it names from the height after).
    pub root_set: ValidatorSet,
    pub root_from: Height,
    pub settings: ConnectionSettings,
    /// The hash of this chain's validator set whose quorum approves.
    pub approving_set: Hash32,
    /// How many times a connection to `counterparty` was opened before (0 the first
    /// time): an approval opens once, and is never replayed to open a closed connection
    /// again with a root set that may since have retired.
    pub opening: u64,
    /// This chain's last height at which the approval may be used.
    pub valid_through: Height,
}

impl ConnectionProposal {
    /// Its shape alone: two chains, settings in bounds.
    pub fn check(&self) -> Result<(), ConnectionError> {
        if self.chain_id == self.counterparty {
            return Err(ConnectionError::SameChain);
        }
        if self.root_from.0 == 0 {
            return Err(ConnectionError::RootHeight);
        }
        let expiry = self.settings.expiry_heights;
        if !(EXPIRY_HEIGHTS_MIN..=EXPIRY_HEIGHTS_MAX).contains(&expiry) {
            return Err(ConnectionError::Expiry(expiry));
        }
        Ok(())
    }

    /// A validator's approval.
    pub fn sign(&self, key: &SecretKey) -> Signature {
        key.sign(Domain::ConnectionApproval, &to_bytes(self))
    }

    /// The client it opens, as of this chain's height `at`.
    pub fn client(&self, at: Height) -> ClientState {
        ClientState {
            verifier: HeaderVerifier::new(self.counterparty.clone(), self.root_set.clone(), self.root_from),
            settings: self.settings,
            updated_at: at,
            headers: Vec::new(),
            openings: self.opening.saturating_add(1),
        }
    }
}

/// A proposal with a quorum's approvals: the governance transaction's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenConnection {
    pub proposal: ConnectionProposal,
    /// Which validators of the approving set signed (canonical index order).
    pub signers: SignerBitmap,
    /// One signature per set bit, in ascending index order.
    pub signatures: Vec<Signature>,
}

impl OpenConnection {
    /// Gathers approvals (`(validator, signature)`, unchecked here) into a payload; a
    /// validator's second approval counts once, a stranger's is refused.
    pub fn new(
        proposal: ConnectionProposal,
        approvals: &[(NodeId, Signature)],
        set: &ValidatorSet,
    ) -> Result<Self, ConnectionError> {
        let mut by_index: Vec<Option<Signature>> = vec![None; set.len()];
        for (id, signature) in approvals {
            let index = set.index_of(id).ok_or(QcError::UnknownVoter(*id))?;
            if let Some(slot) = by_index.get_mut(index) {
                *slot = Some(*signature);
            }
        }
        let (signers, signatures) = SignerBitmap::aggregate(by_index);
        Ok(Self { proposal, signers, signatures })
    }

    /// The proposal is well formed, for `chain_id` at height `at`, approved under `set`
    /// (the set in force) by a Bft quorum of it whose every signature verifies.
    pub fn verify(&self, chain_id: &ChainId, at: Height, set: &ValidatorSet) -> Result<(), ConnectionError> {
        let p = &self.proposal;
        p.check()?;
        if at > p.valid_through {
            return Err(ConnectionError::ApprovalExpired { valid_through: p.valid_through, at });
        }
        if &p.chain_id != chain_id {
            return Err(ConnectionError::WrongChain { expected: chain_id.clone(), found: p.chain_id.clone() });
        }
        if p.approving_set != set.hash() {
            return Err(ConnectionError::ApprovingSet { expected: set.hash(), found: p.approving_set });
        }
        self.signers.check_quorum(self.signatures.len(), set, ConsensusMode::Bft)?;
        let message = to_bytes(p);
        let messages = vec![message.as_slice(); self.signatures.len()];
        let keys: Vec<_> = self.signers.indices().filter_map(|i| set.by_index(i)).map(|v| v.consensus_key).collect();
        verify_batch(Domain::ConnectionApproval, &messages, &self.signatures, &keys)
            .map_err(|_| ConnectionError::Approval(QcError::BadSignature))
    }
}

/// What a chain keeps of another at `StateKey::Connection(chain)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientState {
    pub verifier: HeaderVerifier,
    pub settings: ConnectionSettings,
    /// This chain's height of the opening or the last update.
    pub updated_at: Height,
    /// The other chain's heights whose headers are kept (`StateKey::ForeignHeader`),
    /// ascending, at most [`super::FOREIGN_HEADERS_MAX`].
    pub headers: Vec<Height>,
    /// How many times the connection was opened, this time included.
    pub openings: u64,
}

impl ClientState {
    pub fn chain(&self) -> &ChainId {
        self.verifier.chain_id()
    }

    /// Whether packets may be acted on at this chain's height `at`: not frozen, not
    /// expired.
    pub fn usable(&self, at: Height) -> Result<(), ConnectionError> {
        if self.verifier.frozen().is_some() {
            return Err(ConnectionError::Frozen(self.chain().clone()));
        }
        let expiry_heights = self.settings.expiry_heights;
        if at.0 > self.updated_at.0.saturating_add(expiry_heights) {
            return Err(ConnectionError::Expired {
                chain: self.chain().clone(),
                updated_at: self.updated_at,
                expiry_heights,
            });
        }
        Ok(())
    }

    /// Checks an update (changing nothing): the changes followed from where the client
    /// stands, then the header under the set in force at its height, final by the
    /// connection's setting. Returns the client as the update leaves it (not yet
    /// holding the header's height in `headers`: the caller decides what is kept).
    pub fn checked_update(&self, update: &UpdateClient, at: Height) -> Result<ClientState, ConnectionError> {
        self.usable(at)?;
        if update.changes.len() > super::UPDATE_CHANGES_MAX {
            return Err(ConnectionError::TooManyChanges {
                found: update.changes.len(),
                max: super::UPDATE_CHANGES_MAX,
            });
        }
        let chain = self.chain().clone();
        let refused = |source| ConnectionError::Header { chain: chain.clone(), source };
        let mut next = self.clone();
        next.verifier.extend(&update.changes).map_err(refused)?;
        let header = &update.header;
        next.verifier.verify_final(header, self.settings.fast_final).map_err(refused)?;
        next.verifier.record(header.header.height, header.header.mode);
        next.updated_at = at;
        Ok(next)
    }

    /// Keeps `height` among the headers: returns the heights to forget (the oldest past
    /// the bound; `height` itself when it is older than every kept one and none is free).
    pub fn keep(&mut self, height: Height) -> Vec<Height> {
        if let Err(at) = self.headers.binary_search(&height) {
            self.headers.insert(at, height);
        }
        let over = self.headers.len().saturating_sub(super::FOREIGN_HEADERS_MAX);
        self.headers.drain(..over).collect()
    }
}

/// What a chain keeps of another's verified header (`StateKey::ForeignHeader`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignHeader {
    pub block_hash: BlockHash,
    pub state_root: Hash32,
    pub mode: ConsensusMode,
    pub time_ms: u64,
}

impl ForeignHeader {
    pub fn of(header: &CertifiedHeader) -> Self {
        let h = &header.header;
        Self { block_hash: h.hash(), state_root: h.state_root, mode: h.mode, time_ms: h.time_ms }
    }
}

/// Anyone's update of a client: the other chain's certified set changes since the last
/// followed (those already followed are skipped) and one certified header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateClient {
    pub chain: ChainId,
    pub changes: Vec<SetChange>,
    pub header: CertifiedHeader,
}

/// Anyone's proof that the followed chain forked: two conflicting certified headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeClient {
    pub chain: ChainId,
    pub evidence: ConflictingHeaders,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{certified_header, chain, validators};

    fn proposal(set: &ValidatorSet, counterparty: &ValidatorSet) -> ConnectionProposal {
        ConnectionProposal {
            chain_id: ChainId::new("home").unwrap(),
            counterparty: chain(),
            root_set: counterparty.clone(),
            root_from: Height(1),
            settings: ConnectionSettings { fast_final: true, expiry_heights: 50 },
            approving_set: set.hash(),
            opening: 0,
            valid_through: Height(100),
        }
    }

    fn approvals(p: &ConnectionProposal, set: &ValidatorSet, keys: &[SecretKey], n: usize) -> Vec<(NodeId, Signature)> {
        set.validators()[..n].iter().map(|v| (v.id, p.sign(crate::testutil::key_of(keys, v.id)))).collect()
    }

    /// Only a Bft quorum of the set in force opens a connection: fewer signers, a forged
    /// signature, another chain's proposal, or a set since replaced are each refused.
    #[test]
    fn a_connection_opens_only_with_a_quorum_of_the_set_in_force() {
        let (set, keys) = validators(4);
        let (other, _) = validators(5);
        let home = ChainId::new("home").unwrap();
        let p = proposal(&set, &other);
        let open = OpenConnection::new(p.clone(), &approvals(&p, &set, &keys, 3), &set).unwrap();
        assert_eq!(open.verify(&home, Height(1), &set), Ok(()));
        let two = OpenConnection::new(p.clone(), &approvals(&p, &set, &keys, 2), &set).unwrap();
        assert!(matches!(two.verify(&home, Height(1), &set), Err(ConnectionError::Approval(QcError::NoQuorum { .. }))));
        let mut forged = open.clone();
        forged.proposal.settings.expiry_heights = 60;
        assert_eq!(forged.verify(&home, Height(1), &set), Err(ConnectionError::Approval(QcError::BadSignature)));
        assert!(matches!(open.verify(&chain(), Height(1), &set), Err(ConnectionError::WrongChain { .. })));
        let smaller = set.without(&set.validators()[3].id).unwrap();
        assert!(matches!(open.verify(&home, Height(1), &smaller), Err(ConnectionError::ApprovingSet { .. })));
        assert!(matches!(open.verify(&home, Height(101), &set), Err(ConnectionError::ApprovalExpired { .. })));
        let mut itself = p.clone();
        itself.counterparty = home.clone();
        assert_eq!(itself.check(), Err(ConnectionError::SameChain));
    }

    /// An update moves the client and its expiry; a frozen or expired client takes none.
    #[test]
    fn a_client_expires_without_updates_and_a_frozen_one_takes_none() {
        let (set, keys) = validators(4);
        let (other, other_keys) = validators(4);
        let mut client = proposal(&set, &other).client(Height(10));
        let header = certified_header(&other, &other_keys, Height(5), ConsensusMode::Fast, 3);
        let update = UpdateClient { chain: chain(), changes: vec![], header: header.clone() };
        assert!(matches!(client.checked_update(&update, Height(61)), Err(ConnectionError::Expired { .. })));
        let next = client.checked_update(&update, Height(60)).unwrap();
        assert_eq!((next.updated_at, next.verifier.newest()), (Height(60), Height(5)));
        let forged = certified_header(&other, &other_keys, Height(6), ConsensusMode::Fast, 2);
        let refused = client.checked_update(&UpdateClient { header: forged, ..update.clone() }, Height(60));
        assert!(matches!(refused, Err(ConnectionError::Header { .. })));
        let mut conflicting = header.header.clone();
        conflicting.state_root = Hash32([7; 32]);
        let conflicting = crate::testutil::certify(&other, &other_keys, conflicting, 3);
        client.verifier.freeze(header, conflicting).unwrap();
        assert_eq!(client.usable(Height(11)), Err(ConnectionError::Frozen(chain())));
        let _ = keys;
    }

    #[test]
    fn the_newest_headers_are_kept_and_the_oldest_forgotten() {
        let (set, _) = validators(4);
        let mut client = proposal(&set, &set).client(Height(1));
        for h in 1..=super::super::FOREIGN_HEADERS_MAX as u64 {
            assert!(client.keep(Height(h * 2)).is_empty());
        }
        assert_eq!(client.keep(Height(1)), vec![Height(1)], "older than every kept one: not kept");
        assert_eq!(client.keep(Height(1_000)), vec![Height(2)]);
        assert!(client.keep(Height(1_000)).is_empty(), "kept already");
        assert_eq!(client.headers.len(), super::super::FOREIGN_HEADERS_MAX);
    }
}
