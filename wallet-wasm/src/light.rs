//! Light-client checks against a trusted validator set.
//!
//! Decoding a validator set decompresses every public key, which costs about as much as
//! a third of a signature check; a wallet decodes its trusted set once and keeps it, so
//! [`TrustedSet`] is the unit the wallet (and the QC benchmark) works with.
//!
//! A light client starts from the pinned genesis set ([`LightClient::new`]) or from a
//! stable checkpoint ([`checkpoint`]: verified against a pinned set or a pinned digest
//! hash), and follows the certified set changes after its start.

pub mod checkpoint;

pub use checkpoint::{CheckpointPin, CheckpointStart, PinKind, Start, CHECKPOINT_AGE_MAX_BLOCKS};

use std::collections::BTreeMap;

use serde::Serialize;
use vigil_protocol::encoding::{self, DecodeError};
use vigil_protocol::verifier::{HeaderError, HeaderVerifier};
use vigil_protocol::{
    AccountState, Address, BlockError, CertifiedHeader, ChainId, CheckpointError, ConsensusMode, Hash32, Height,
    NodeId, QcError, QuorumCert, SetChange, SetChangeError, SignedReceipt, StateError, StateKey, StateProof,
    ValidatorSet,
};

/// Verified headers kept (the newest ones).
pub const HEADERS_CACHED_MAX: usize = 256;
/// How far (in blocks) proven state may be behind the newest header this client has
/// verified. A node or gateway that answers with an older certified state (an old
/// balance, an old nonce) is refused rather than believed.
pub const STATE_LAG_MAX_BLOCKS: u64 = 120;

/// Why a light-client check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LightError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("quorum certificate rejected: {0}")]
    Certificate(#[from] QcError),
    #[error("certified header rejected: {0}")]
    Header(#[from] BlockError),
    #[error("validator set hash is {found}, the pinned hash is {expected}")]
    UntrustedSet { expected: Hash32, found: Hash32 },
    #[error("the header is for chain `{found}`, this wallet follows `{expected}`")]
    WrongChain { expected: ChainId, found: ChainId },
    #[error("the header was certified by validator set {0}, which this client has not followed to; follow the set changes first")]
    UnknownSet(Hash32),
    #[error("validator-set changes rejected: {0}")]
    SetChanges(#[from] SetChangeError),
    #[error("state proof rejected: {0}")]
    Proof(#[from] StateError),
    #[error("the proven state value is not an account")]
    NotAnAccount,
    #[error("receipt signature is not valid for node {0}")]
    BadReceiptSignature(NodeId),
    #[error("node {0} is not a validator of the trusted set")]
    NotAValidator(NodeId),
    #[error("these validator-set changes contradict the ones already followed")]
    ConflictingSetHistory,
    #[error("header {height} is signed by set {found}, but the set in force at that height is {expected}")]
    SetNotInForce { height: Height, expected: Hash32, found: Hash32 },
    #[error("header {height} is in {found} mode, but the chain was in {other} mode at height {other_height}: modes only go from Fast to Bft")]
    ModeRegression { height: Height, found: ConsensusMode, other: ConsensusMode, other_height: Height },
    #[error("the state is from height {height}, more than {max} blocks behind height {newest} already verified; ask another node")]
    StaleState { height: Height, newest: Height, max: u64 },
    #[error("header {height} is before height {from}, where this client started from a checkpoint: it trusts no set before it")]
    BeforeStart { height: Height, from: Height },
    #[error("header {height} is not the block the checkpoint this client started from names at that height")]
    NotCheckpointBlock { height: Height },
    #[error("checkpoint rejected: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the checkpoint served is #{height} with hash {served}, not the pinned {pinned}; check the pinned hash, pin the newer checkpoint's hash after checking it, or start from the genesis set")]
    PinnedHashMismatch { pinned: Hash32, served: Hash32, height: Height },
    #[error("the checkpoint names validator set {named}, but the certified set changes from the pinned set {pinned} lead to {reached} at its height")]
    CheckpointSetNotReached { pinned: Hash32, named: Hash32, reached: Hash32 },
    #[error("checkpoint #{height} is {age} blocks behind height {newest} verified, more than {max}: start from a newer checkpoint or from the genesis set")]
    CheckpointTooOld { height: Height, newest: Height, age: u64, max: u64 },
    /// The verifier's refusals the wallet's own reads do not meet (a frozen verifier, a
    /// Fast header where only Bft counts).
    #[error(transparent)]
    Verifier(HeaderError),
}

/// How a result was verified: shown to users next to the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// What was checked, in words.
    pub method: String,
    /// Height of the certified header the result rests on (if any).
    pub height: Option<Height>,
    /// Hash of the validator set whose signatures were checked.
    pub validator_set_hash: Hash32,
    /// Validators whose signatures were verified.
    pub signers: Vec<NodeId>,
    /// The certified header's own time (ms since the Unix epoch): how old the result is.
    pub header_time_ms: Option<u64>,
    /// A second node's newest certified height, verified, so that an old state is not
    /// shown as current (`None`: not checked, or no other node could prove one).
    pub cross_check: Option<CrossCheck>,
}

/// A newer (or equal) height another node proved with a certified header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrossCheck {
    pub node: NodeId,
    pub height: Height,
}

/// An account state proven against a certified header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedAccount {
    pub address: Address,
    pub balance: u64,
    pub nonce: u64,
    pub verification: Verification,
}

/// A light client: trusts a pinned genesis validator set (or a checkpoint's), follows
/// certified set changes, accepts headers only with a valid certificate of their set,
/// and state only with a proof against an accepted header.
#[derive(Debug, Clone)]
pub struct LightClient {
    /// The sets followed from the one it started from (genesis's, or the one a
    /// checkpoint names), and what the headers accepted fixed: the one header verifier
    /// of `vigil_protocol`, as other chains' clients use it. State more than
    /// [`STATE_LAG_MAX_BLOCKS`] below its newest height is refused.
    verifier: HeaderVerifier,
    /// How it started (shown to users).
    start: Start,
    /// The block the checkpoint it started from names, if it did.
    anchor: Option<checkpoint::Anchor>,
    headers: BTreeMap<Height, CertifiedHeader>,
}

impl From<HeaderError> for LightError {
    fn from(e: HeaderError) -> Self {
        match e {
            HeaderError::WrongChain { expected, found } => LightError::WrongChain { expected, found },
            HeaderError::UnknownSet(found) => LightError::UnknownSet(found),
            HeaderError::SetNotInForce { height, expected, found } => {
                LightError::SetNotInForce { height, expected, found }
            }
            HeaderError::ModeRegression { height, found, other, other_height } => {
                LightError::ModeRegression { height, found, other, other_height }
            }
            HeaderError::Header(e) => LightError::Header(e),
            HeaderError::SetChanges(e) => LightError::SetChanges(e),
            HeaderError::ConflictingSetHistory => LightError::ConflictingSetHistory,
            HeaderError::Stale { height, newest, max } => LightError::StaleState { height, newest, max },
            other @ (HeaderError::FastNotFinal(_) | HeaderError::Frozen(_) | HeaderError::NotConflicting) => {
                LightError::Verifier(other)
            }
        }
    }
}

impl LightClient {
    /// Starts from the genesis validator set (BCS), accepted only if it hashes to `pinned`.
    pub fn new(chain_id: ChainId, genesis_set_bcs: &[u8], pinned: &Hash32) -> Result<Self, LightError> {
        let trusted = TrustedSet::from_bytes_pinned(genesis_set_bcs, pinned)?;
        Ok(Self::rooted(chain_id, trusted.set, Start::Genesis { validator_set_hash: *pinned }, Height(1)))
    }

    /// A client trusting `root` for the heights from `from` on (none below).
    fn rooted(chain_id: ChainId, root: ValidatorSet, start: Start, from: Height) -> Self {
        Self { verifier: HeaderVerifier::new(chain_id, root, from), start, anchor: None, headers: BTreeMap::new() }
    }

    /// How this client started: from genesis, or from which checkpoint and pin.
    pub fn start(&self) -> &Start {
        &self.start
    }

    /// The first height this client can verify a header at: 1 from genesis, the
    /// checkpoint's height from a checkpoint (its block by the hash the checkpoint
    /// signs; the heights above by the sets followed from the one it names).
    pub fn first_height(&self) -> Height {
        self.anchor.as_ref().map_or(self.root_from(), |a| a.height)
    }

    /// The first height the root set certifies.
    fn root_from(&self) -> Height {
        self.verifier.root_from()
    }

    /// The highest height this client has verified a header for.
    pub fn newest_height(&self) -> Height {
        self.verifier.newest()
    }

    pub fn chain_id(&self) -> &ChainId {
        self.verifier.chain_id()
    }

    /// The newest validator set followed.
    pub fn current_set(&self) -> &ValidatorSet {
        self.verifier.current_set()
    }

    /// Follows the chain's set changes since genesis (BCS `Vec<SetChange>`, as a node's
    /// `/v1/validators` gives them). Each must be certified by the set before it. A
    /// shorter list than already followed changes nothing. Returns whether the set moved.
    /// A client started from a checkpoint follows only the changes made at or after its
    /// first height (those before it led to the checkpoint's set).
    pub fn follow(&mut self, changes_bcs: &[u8]) -> Result<bool, LightError> {
        let changes: Vec<SetChange> = encoding::from_bytes(changes_bcs)?;
        Ok(self.verifier.follow(&changes)?)
    }

    /// The followed set that certifies blocks at `height`.
    pub fn set_at(&self, height: Height) -> Option<&ValidatorSet> {
        self.verifier.set_at(height)
    }

    /// Verifies a certified header (BCS) against the set in force at its height
    /// (batch Ed25519) and caches it. Only that set counts: a set retired at a height
    /// (jailed validators among them) can certify nothing above it, and beyond the last
    /// change followed only the current set signs. Modes go only from Fast to Bft.
    pub fn accept_header(&mut self, certified_bcs: &[u8]) -> Result<(CertifiedHeader, Verification), LightError> {
        let ch: CertifiedHeader = encoding::from_bytes(certified_bcs)?;
        let height = ch.header.height;
        let verification = if height < self.root_from() {
            // Below the sets it follows: only the block a checkpoint it started from names
            // (the verifier checks the chain of every header above).
            let chain = self.chain_id();
            if ch.header.chain_id != *chain {
                return Err(LightError::WrongChain { expected: chain.clone(), found: ch.header.chain_id.clone() });
            }
            self.verifier.check_mode(height, ch.header.mode)?;
            self.anchored(&ch)?
        } else {
            self.certified_by_set(&ch)?
        };
        self.verifier.record(height, ch.header.mode);
        self.headers.insert(ch.header.height, ch.clone());
        while self.headers.len() > HEADERS_CACHED_MAX {
            self.headers.pop_first();
        }
        Ok((ch, verification))
    }

    /// A header's certificate by the set in force at its height, verified.
    fn certified_by_set(&self, ch: &CertifiedHeader) -> Result<Verification, LightError> {
        let set = self.verifier.verify(ch)?;
        Ok(Verification {
            method: format!(
                "{:?} quorum certificate of {} of {} validators on header {} (batch Ed25519)",
                ch.cert.data.kind,
                ch.cert.signatures.len(),
                set.len(),
                ch.header.height
            ),
            height: Some(ch.header.height),
            validator_set_hash: set.hash(),
            signers: ch.cert.signer_ids(set).collect(),
            header_time_ms: Some(ch.header.time_ms),
            cross_check: None,
        })
    }

    /// A verified header from the cache.
    pub fn header(&self, height: Height) -> Option<&CertifiedHeader> {
        self.headers.get(&height)
    }

    pub fn latest_header(&self) -> Option<&CertifiedHeader> {
        self.headers.last_key_value().map(|(_, h)| h)
    }

    /// Verifies an account's state: the certified header, then the Merkle proof of the
    /// value (or of its absence: a new account) against the header's state root.
    pub fn verify_account(
        &mut self,
        address: &Address,
        value_bcs: Option<&[u8]>,
        proof_bcs: &[u8],
        certified_bcs: &[u8],
    ) -> Result<VerifiedAccount, LightError> {
        let verification = self.verify_state(&StateKey::Account(*address), value_bcs, proof_bcs, certified_bcs)?;
        let state: AccountState = match value_bcs {
            Some(v) => encoding::from_bytes(v).map_err(|_| LightError::NotAnAccount)?,
            None => AccountState::default(),
        };
        Ok(VerifiedAccount { address: *address, balance: state.balance.0, nonce: state.nonce.0, verification })
    }

    /// Verifies that a certified header's state holds `value_bcs` (or nothing) at `key`.
    pub fn verify_state(
        &mut self,
        key: &StateKey,
        value_bcs: Option<&[u8]>,
        proof_bcs: &[u8],
        certified_bcs: &[u8],
    ) -> Result<Verification, LightError> {
        let mut verification = self.check_states(&[(key, value_bcs, proof_bcs)], certified_bcs)?;
        let kind = if value_bcs.is_some() { "membership" } else { "non-membership" };
        verification.method = format!("{}; Merkle {kind} proof against its state root", verification.method);
        Ok(verification)
    }

    /// Verifies several entries `(key, value, proof)` against one certified header: the
    /// header's quorum once, each entry's proof (membership or absence) against its root.
    pub fn verify_states(
        &mut self,
        entries: &[ProvenEntry<'_>],
        certified_bcs: &[u8],
    ) -> Result<Verification, LightError> {
        let mut verification = self.check_states(entries, certified_bcs)?;
        let plural = if entries.len() == 1 { "entry" } else { "entries" };
        verification.method =
            format!("{}; Merkle proofs of {} {plural} against its state root", verification.method, entries.len());
        Ok(verification)
    }

    fn check_states(&mut self, entries: &[ProvenEntry<'_>], certified_bcs: &[u8]) -> Result<Verification, LightError> {
        let (ch, verification) = self.accept_header(certified_bcs)?;
        self.verifier.fresh(ch.header.height, STATE_LAG_MAX_BLOCKS)?;
        for (key, value_bcs, proof_bcs) in entries {
            let proof: StateProof = encoding::from_bytes(proof_bcs)?;
            proof.verify(&ch.header.state_root, key, *value_bcs)?;
        }
        Ok(verification)
    }

    /// Verifies a node's signed receipt (BCS) against the current set.
    pub fn verify_receipt(&self, receipt_bcs: &[u8]) -> Result<SignedReceipt, LightError> {
        let r: SignedReceipt = encoding::from_bytes(receipt_bcs)?;
        let node = r.receipt.node;
        let info = self.current_set().get(&node).ok_or(LightError::NotAValidator(node))?;
        r.verify(&info.consensus_key).map_err(|_| LightError::BadReceiptSignature(node))?;
        if r.receipt.chain_id != *self.chain_id() {
            return Err(LightError::WrongChain {
                expected: self.chain_id().clone(),
                found: r.receipt.chain_id.clone(),
            });
        }
        Ok(r)
    }
}

/// A state entry as a node proves it: the key, its value (`None`: absent) and the proof
/// (BCS `StateProof`).
pub type ProvenEntry<'a> = (&'a StateKey, Option<&'a [u8]>, &'a [u8]);

/// A validator set the wallet has decided to trust (pinned by hash at genesis, then
/// followed through certified changes).
#[derive(Debug, Clone)]
pub struct TrustedSet {
    set: ValidatorSet,
}

impl TrustedSet {
    /// Decodes a set and accepts it only if it hashes to `pinned`.
    pub fn from_bytes_pinned(bytes: &[u8], pinned: &Hash32) -> Result<Self, LightError> {
        let set: ValidatorSet = encoding::from_bytes(bytes)?;
        if &set.hash() != pinned {
            return Err(LightError::UntrustedSet { expected: *pinned, found: set.hash() });
        }
        Ok(Self { set })
    }

    /// Decodes a set without a pin (for tools and benchmarks that built the set themselves).
    pub fn from_bytes_unpinned(bytes: &[u8]) -> Result<Self, LightError> {
        Ok(Self { set: encoding::from_bytes(bytes)? })
    }

    pub fn set(&self) -> &ValidatorSet {
        &self.set
    }

    /// Decodes and verifies a quorum certificate (batch Ed25519).
    pub fn verify_quorum_cert(&self, qc_bytes: &[u8]) -> Result<QuorumCert, LightError> {
        let qc: QuorumCert = encoding::from_bytes(qc_bytes)?;
        qc.verify(&self.set)?;
        Ok(qc)
    }

    /// Decodes and verifies a certified header.
    pub fn verify_certified_header(&self, bytes: &[u8]) -> Result<CertifiedHeader, LightError> {
        let ch: CertifiedHeader = encoding::from_bytes(bytes)?;
        ch.verify(&self.set)?;
        Ok(ch)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use vigil_protocol::encoding::to_bytes;
    use vigil_protocol::{EncryptionKey, P2pKey, SecretKey, ValidatorInfo, View, VoteData, VoteKind};

    pub(crate) fn fixture() -> (ValidatorSet, Vec<SecretKey>, VoteData) {
        let keys: Vec<SecretKey> = (1..=4u8).map(|i| SecretKey::from_seed([i; 32])).collect();
        let set = ValidatorSet::new(
            keys.iter()
                .map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey([0; 32]), P2pKey([0xff; 32])))
                .collect(),
        )
        .unwrap();
        let data = VoteData {
            chain_id: ChainId::new("vigil-test").unwrap(),
            height: Height(1),
            view: View(0),
            block_hash: Hash32([5; 32]),
            kind: VoteKind::Precommit,
        };
        (set, keys, data)
    }

    fn qc(set: &ValidatorSet, keys: &[SecretKey], data: &VoteData, signers: usize) -> QuorumCert {
        let votes: Vec<_> =
            keys[..signers].iter().map(|k| data.sign(NodeId::from_public_key(&k.public_key()), k)).collect();
        QuorumCert::from_votes(data.clone(), &votes, set).unwrap()
    }

    #[test]
    fn pinned_set_with_another_hash_is_refused() {
        let (set, _, _) = fixture();
        let bytes = to_bytes(&set);
        TrustedSet::from_bytes_pinned(&bytes, &set.hash()).unwrap();
        let wrong = Hash32([0; 32]);
        assert!(matches!(TrustedSet::from_bytes_pinned(&bytes, &wrong), Err(LightError::UntrustedSet { .. })));
    }

    #[test]
    fn trusted_set_verifies_a_quorum_and_rejects_a_tampered_one() {
        let (set, keys, data) = fixture();
        let trusted = TrustedSet::from_bytes_pinned(&to_bytes(&set), &set.hash()).unwrap();
        let good = qc(&set, &keys, &data, 3);
        assert_eq!(trusted.verify_quorum_cert(&to_bytes(&good)).unwrap(), good);
        let mut bad = good;
        bad.data.height = Height(2);
        assert_eq!(trusted.verify_quorum_cert(&to_bytes(&bad)), Err(LightError::Certificate(QcError::BadSignature)));
    }

    pub(crate) fn header(
        set: &ValidatorSet,
        height: u64,
        state_root: Hash32,
        next: &ValidatorSet,
    ) -> vigil_protocol::BlockHeader {
        vigil_protocol::BlockHeader {
            chain_id: ChainId::new("vigil-test").unwrap(),
            height: Height(height),
            view: View(0),
            parent_hash: Hash32([1; 32]),
            tx_root: Hash32([2; 32]),
            receipts_root: Hash32([3; 32]),
            state_root,
            validator_set_hash: set.hash(),
            next_validator_set_hash: next.hash(),
            mode: vigil_protocol::ConsensusMode::Bft,
            proposer: set.validators()[0].id,
            time_ms: 0,
        }
    }

    pub(crate) fn certify(
        set: &ValidatorSet,
        keys: &[SecretKey],
        header: vigil_protocol::BlockHeader,
        signers: usize,
    ) -> CertifiedHeader {
        let data = VoteData {
            chain_id: header.chain_id.clone(),
            height: header.height,
            view: header.view,
            block_hash: header.hash(),
            kind: match header.mode {
                ConsensusMode::Fast => VoteKind::Ack,
                ConsensusMode::Bft => VoteKind::Precommit,
            },
        };
        let votes: Vec<_> = set.validators()[..signers]
            .iter()
            .map(|v| {
                let k = keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == v.id).unwrap();
                data.sign(v.id, k)
            })
            .collect();
        let cert = QuorumCert::from_votes(data.clone(), &votes, set).unwrap_or_else(|_| {
            let mut bitmap = vigil_protocol::SignerBitmap::empty(set.len());
            (0..signers).for_each(|i| bitmap.set(i));
            QuorumCert { data, signers: bitmap, signatures: votes.iter().map(|v| v.signature).collect() }
        });
        CertifiedHeader { header, cert }
    }

    fn client(set: &ValidatorSet) -> LightClient {
        LightClient::new(ChainId::new("vigil-test").unwrap(), &to_bytes(set), &set.hash()).unwrap()
    }

    #[test]
    fn headers_need_a_quorum_of_the_set_that_certified_them() {
        let (set, keys, _) = fixture();
        let mut lc = client(&set);
        let good = certify(&set, &keys, header(&set, 5, Hash32([9; 32]), &set), 3);
        let (_, v) = lc.accept_header(&to_bytes(&good)).unwrap();
        assert_eq!(v.signers.len(), 3);
        assert_eq!(v.height, Some(Height(5)));
        assert!(lc.header(Height(5)).is_some());
        let few = certify(&set, &keys, header(&set, 6, Hash32([9; 32]), &set), 2);
        assert!(matches!(lc.accept_header(&to_bytes(&few)), Err(LightError::Header(BlockError::Certificate(_)))));
        let mut changed = good;
        changed.header.state_root = Hash32([8; 32]);
        assert!(matches!(lc.accept_header(&to_bytes(&changed)), Err(LightError::Header(_))));
        assert!(lc.header(Height(6)).is_none(), "rejected headers are not cached");
    }

    #[test]
    fn a_new_set_is_trusted_only_through_a_certified_change() {
        let (set, keys, _) = fixture();
        let smaller = set.without(&set.validators()[3].id).unwrap();
        let mut lc = client(&set);
        let by_new = certify(&smaller, &keys, header(&smaller, 9, Hash32([9; 32]), &smaller), 3);
        assert!(matches!(lc.accept_header(&to_bytes(&by_new)), Err(LightError::UnknownSet(_))));
        let change = SetChange {
            certified: certify(&set, &keys, header(&set, 4, Hash32([7; 32]), &smaller), 3),
            next: smaller.clone(),
        };
        assert!(lc.follow(&to_bytes(&vec![change.clone()])).unwrap());
        assert_eq!(lc.current_set(), &smaller);
        lc.accept_header(&to_bytes(&by_new)).unwrap();
        assert!(!lc.follow(&to_bytes(&Vec::<SetChange>::new())).unwrap(), "a shorter history changes nothing");
        let mut forged = change;
        forged.next = set.without(&set.validators()[0].id).unwrap();
        assert!(lc.follow(&to_bytes(&vec![forged])).is_err());
        assert_eq!(lc.current_set(), &smaller);
    }

    /// Finding 4 of the soundness review: on 35b51aa `accept_header` took any set it
    /// had ever followed, so validators jailed out of the set (a majority of the old
    /// one) certified a header at height 1,000,000 and the wallet showed it verified.
    #[test]
    fn a_retired_set_certifies_nothing_above_its_last_height() {
        let (set, keys, _) = fixture();
        let smaller = set.without(&set.validators()[3].id).unwrap();
        let mut lc = client(&set);
        let change = SetChange {
            certified: certify(&set, &keys, header(&set, 4, Hash32([7; 32]), &smaller), 3),
            next: smaller.clone(),
        };
        lc.follow(&to_bytes(&vec![change])).unwrap();
        // The old set still certifies heights up to 4 (evidence and history need them).
        lc.accept_header(&to_bytes(&certify(&set, &keys, header(&set, 3, Hash32([1; 32]), &set), 3))).unwrap();
        let late = certify(&set, &keys, header(&set, 1_000_000, Hash32([6; 32]), &set), 4);
        assert!(matches!(
            lc.accept_header(&to_bytes(&late)),
            Err(LightError::SetNotInForce { height: Height(1_000_000), .. })
        ));
        // Nor does the new set certify heights before it took over.
        let early = certify(&smaller, &keys, header(&smaller, 2, Hash32([6; 32]), &smaller), 3);
        assert!(matches!(lc.accept_header(&to_bytes(&early)), Err(LightError::SetNotInForce { .. })));
        lc.accept_header(&to_bytes(&certify(&smaller, &keys, header(&smaller, 9, Hash32([6; 32]), &smaller), 3)))
            .unwrap();
    }

    #[test]
    fn modes_only_go_from_fast_to_bft() {
        let (set, keys, _) = fixture();
        let mut lc = client(&set);
        let at = |height: u64, mode: ConsensusMode| {
            let mut h = header(&set, height, Hash32([height as u8; 32]), &set);
            h.mode = mode;
            to_bytes(&certify(&set, &keys, h, 3))
        };
        lc.accept_header(&at(5, ConsensusMode::Fast)).unwrap();
        lc.accept_header(&at(10, ConsensusMode::Bft)).unwrap();
        lc.accept_header(&at(7, ConsensusMode::Fast)).unwrap();
        assert!(matches!(lc.accept_header(&at(11, ConsensusMode::Fast)), Err(LightError::ModeRegression { .. })));
        assert!(matches!(lc.accept_header(&at(4, ConsensusMode::Bft)), Err(LightError::ModeRegression { .. })));
    }

    /// Finding 5: on 35b51aa any older certified state was accepted after a newer
    /// header, so a node could show an old balance and make the wallet sign an old nonce.
    #[test]
    fn state_far_behind_the_newest_verified_height_is_refused() {
        let (set, keys, _) = fixture();
        let alice = Address([0xa1; 20]);
        let value = to_bytes(&AccountState { balance: vigil_protocol::Amount(500), nonce: vigil_protocol::Nonce(3) });
        let mut tree = vigil_protocol::StateTree::new();
        let root = tree.apply(0, [(StateKey::Account(alice), Some(value.clone()))]).unwrap();
        let (_, proof) = tree.get_with_proof(&StateKey::Account(alice), 0).unwrap();
        let at = |height: u64| to_bytes(&certify(&set, &keys, header(&set, height, root, &set), 3));
        let mut lc = client(&set);
        lc.accept_header(&at(500)).unwrap();
        assert_eq!(lc.newest_height(), Height(500));
        let old = 500 - STATE_LAG_MAX_BLOCKS - 1;
        assert!(matches!(
            lc.verify_account(&alice, Some(&value), &to_bytes(&proof), &at(old)),
            Err(LightError::StaleState { .. })
        ));
        lc.verify_account(&alice, Some(&value), &to_bytes(&proof), &at(old + 1)).unwrap();
    }

    #[test]
    fn account_state_is_accepted_only_with_a_proof_against_a_certified_root() {
        let (set, keys, _) = fixture();
        let alice = Address([0xa1; 20]);
        let value = to_bytes(&AccountState { balance: vigil_protocol::Amount(500), nonce: vigil_protocol::Nonce(3) });
        let mut tree = vigil_protocol::StateTree::new();
        let root = tree.apply(0, [(StateKey::Account(alice), Some(value.clone()))]).unwrap();
        let certified = to_bytes(&certify(&set, &keys, header(&set, 1, root, &set), 3));
        let (_, proof) = tree.get_with_proof(&StateKey::Account(alice), 0).unwrap();
        let mut lc = client(&set);
        let a = lc.verify_account(&alice, Some(&value), &to_bytes(&proof), &certified).unwrap();
        assert_eq!((a.balance, a.nonce), (500, 3));
        assert!(a.verification.method.contains("membership"));
        // A node claiming another balance, or hiding the account, is caught by the proof.
        let more = to_bytes(&AccountState { balance: vigil_protocol::Amount(5_000), nonce: vigil_protocol::Nonce(3) });
        assert!(matches!(
            lc.verify_account(&alice, Some(&more), &to_bytes(&proof), &certified),
            Err(LightError::Proof(_))
        ));
        assert!(matches!(lc.verify_account(&alice, None, &to_bytes(&proof), &certified), Err(LightError::Proof(_))));
        let bob = Address([0xb0; 20]);
        let (none, absent) = tree.get_with_proof(&StateKey::Account(bob), 0).unwrap();
        assert_eq!(none, None);
        let b = lc.verify_account(&bob, None, &to_bytes(&absent), &certified).unwrap();
        assert_eq!(b.balance, 0);
        assert!(b.verification.method.contains("non-membership"));
    }

    /// Entries read together are held to one header: each proof against its root, so one
    /// entry changed, swapped with another's proof or hidden fails the whole read.
    #[test]
    fn entries_read_together_each_need_their_proof_against_the_one_header() {
        let (set, keys, _) = fixture();
        let (a, b, c) = (StateKey::Account(Address([1; 20])), StateKey::Dkg, StateKey::GroupKey);
        let mut tree = vigil_protocol::StateTree::new();
        let root = tree.apply(0, [(a.clone(), Some(vec![1, 2])), (b.clone(), Some(vec![3]))]).unwrap();
        let certified = to_bytes(&certify(&set, &keys, header(&set, 1, root, &set), 3));
        let proof = |k: &StateKey| to_bytes(&tree.get_with_proof(k, 0).unwrap().1);
        let (pa, pb, pc) = (proof(&a), proof(&b), proof(&c));
        let mut lc = client(&set);
        let v =
            lc.verify_states(&[(&a, Some(&[1, 2]), &pa), (&b, Some(&[3]), &pb), (&c, None, &pc)], &certified).unwrap();
        assert!(v.method.contains("Merkle proofs of 3 entries"), "{}", v.method);
        assert_eq!(v.height, Some(Height(1)));
        let (pa, pb) = (pa.as_slice(), pb.as_slice());
        let forgeries: [[ProvenEntry<'_>; 2]; 3] = [
            [(&a, Some(&[1, 2]), pa), (&b, Some(&[4]), pb)],
            [(&a, Some(&[1, 2]), pb), (&b, Some(&[3]), pa)],
            [(&a, Some(&[1, 2]), pa), (&b, None, pb)],
        ];
        for forged in forgeries {
            assert!(matches!(lc.verify_states(&forged, &certified), Err(LightError::Proof(_))));
        }
    }

    #[test]
    fn receipts_must_be_signed_by_a_trusted_validator() {
        let (set, keys, _) = fixture();
        let lc = client(&set);
        let node = NodeId::from_public_key(&keys[0].public_key());
        let receipt = vigil_protocol::Receipt {
            chain_id: ChainId::new("vigil-test").unwrap(),
            height: Height(3),
            block_hash: Hash32([6; 32]),
            tx_index: 0,
            entry: vigil_protocol::ReceiptEntry {
                tx_hash: Hash32([4; 32]),
                status: vigil_protocol::TxStatus::Success,
                result_hash: Hash32([5; 32]),
            },
            node,
        };
        let signed = receipt.clone().sign(&keys[0]);
        assert_eq!(lc.verify_receipt(&to_bytes(&signed)).unwrap(), signed);
        let forged = vigil_protocol::SignedReceipt { signature: receipt.clone().sign(&keys[1]).signature, ..signed };
        assert_eq!(lc.verify_receipt(&to_bytes(&forged)), Err(LightError::BadReceiptSignature(node)));
        let outsider = SecretKey::from_seed([77; 32]);
        let mut r = receipt;
        r.node = NodeId::from_public_key(&outsider.public_key());
        assert!(matches!(lc.verify_receipt(&to_bytes(&r.sign(&outsider))), Err(LightError::NotAValidator(_))));
    }

    #[test]
    fn garbage_bytes_are_a_decode_error() {
        let (set, _, _) = fixture();
        let trusted = TrustedSet::from_bytes_unpinned(&to_bytes(&set)).unwrap();
        assert!(matches!(trusted.verify_quorum_cert(&[1, 2, 3]), Err(LightError::Decode(_))));
        assert!(matches!(TrustedSet::from_bytes_unpinned(&[0xff; 10]), Err(LightError::Decode(_))));
    }
}
