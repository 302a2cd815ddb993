//! Property tests of the canonical encodings.
//!
//! For every protocol type: strategies that build valid values (real keys, real
//! signatures, real quorum certificates, real Merkle and state proofs); BCS and JSON
//! round trips; decoders that never panic on random or mutated bytes and that only
//! accept canonical bytes; and mutated signed values that either stay unchanged or stop
//! verifying.
#![cfg(not(target_arch = "wasm32"))]

use std::fmt::Debug;

use proptest::collection::vec as vec_of;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde::de::DeserializeOwned;
use serde::Serialize;
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::*;

/// Cases per property: enough to hit every variant many times, cheap in a debug build.
const CASES: u32 = 64;
/// Largest committee the strategies build.
const COMMITTEE_MAX: usize = 10;
/// Independent mutations of one valid encoding checked per case.
const MUTATIONS_PER_CASE: usize = 16;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(CASES)
}

// ---------------------------------------------------------------------------------------
// Strategies: leaves.
// ---------------------------------------------------------------------------------------

fn bytes32() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn hash32() -> impl Strategy<Value = Hash32> {
    bytes32().prop_map(Hash32)
}

fn node_id() -> impl Strategy<Value = NodeId> {
    bytes32().prop_map(NodeId)
}

fn encryption_key() -> impl Strategy<Value = EncryptionKey> {
    bytes32().prop_map(EncryptionKey)
}

fn p2p_key() -> impl Strategy<Value = P2pKey> {
    bytes32().prop_map(P2pKey)
}

fn address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address)
}

fn height() -> impl Strategy<Value = Height> {
    any::<u64>().prop_map(Height)
}

fn view() -> impl Strategy<Value = View> {
    any::<u64>().prop_map(View)
}

fn nonce() -> impl Strategy<Value = Nonce> {
    any::<u64>().prop_map(Nonce)
}

fn amount() -> impl Strategy<Value = Amount> {
    any::<u64>().prop_map(Amount)
}

prop_compose! {
    fn chain_id()(name in "[a-z0-9-]{1,32}") -> ChainId {
        ChainId::new(name).expect("the pattern only yields valid chain ids")
    }
}

prop_compose! {
    fn secret_key()(seed in bytes32()) -> SecretKey {
        SecretKey::from_seed(seed)
    }
}

fn public_key() -> impl Strategy<Value = PublicKey> {
    secret_key().prop_map(|key| key.public_key())
}

prop_compose! {
    /// A real signature by a random key, on random bytes, in any domain.
    fn signature()(
        key in secret_key(),
        domain in select(Domain::ALL.to_vec()),
        message in vec_of(any::<u8>(), 0..64),
    ) -> Signature {
        key.sign(domain, &message)
    }
}

fn consensus_mode() -> impl Strategy<Value = ConsensusMode> {
    prop_oneof![Just(ConsensusMode::Fast), Just(ConsensusMode::Bft)]
}

fn vote_kind() -> impl Strategy<Value = VoteKind> {
    prop_oneof![Just(VoteKind::Ack), Just(VoteKind::Prevote), Just(VoteKind::Precommit)]
}

fn failure_code() -> impl Strategy<Value = FailureCode> {
    select(vec![
        FailureCode::InsufficientBalance,
        FailureCode::InvalidNonce,
        FailureCode::InvalidEvidence,
        FailureCode::UnknownAccount,
        FailureCode::Overflow,
        FailureCode::DuplicateEvidence,
        FailureCode::ValidatorSetTooSmall,
    ])
}

fn tx_status() -> impl Strategy<Value = TxStatus> {
    prop_oneof![Just(TxStatus::Success), failure_code().prop_map(TxStatus::Failed)]
}

prop_compose! {
    fn receipt_entry()(tx_hash in hash32(), status in tx_status(), result_hash in hash32())
        -> ReceiptEntry
    {
        ReceiptEntry { tx_hash, status, result_hash }
    }
}

fn state_key() -> impl Strategy<Value = StateKey> {
    prop_oneof![
        3 => address().prop_map(StateKey::Account),
        1 => Just(StateKey::Consensus),
        1 => Just(StateKey::VaultConfig),
        1 => user_id().prop_map(StateKey::User),
        1 => hash32().prop_map(StateKey::Manifest),
        1 => address().prop_map(StateKey::Objects),
    ]
}

fn user_id() -> impl Strategy<Value = UserId> {
    "[a-z0-9.@_-]{1,64}".prop_map(|s| UserId::new(s).expect("the pattern is a valid user id"))
}

prop_compose! {
    fn vault_config()(
        fragments in any::<u8>(), threshold in any::<u8>(), shard_bytes in any::<u32>(),
        chunk_bytes in any::<u32>(), object_bytes_max in any::<u64>(), quota in any::<u64>(),
    ) -> VaultConfig {
        VaultConfig { fragments, threshold, shard_bytes, chunk_bytes, object_bytes_max, quota_bytes_per_account: quota }
    }
}

prop_compose! {
    fn vault_manifest()(
        object_id in hash32(), owner in address(), user_id in user_id(),
        threshold in any::<u8>(), fragments in any::<u8>(), shard_bytes in any::<u32>(), chunk_bytes in any::<u32>(),
        plaintext_len in any::<u64>(), ciphertext_len in any::<u64>(),
        stores in vec_of(node_id(), 0..5), fragment_hashes in vec_of(hash32(), 0..8), label in "[a-z. ]{0,12}",
    ) -> VaultManifest {
        VaultManifest {
            object_id, owner, user_id, threshold, fragments, shard_bytes, chunk_bytes, plaintext_len, ciphertext_len,
            stores, fragment_hashes, label,
        }
    }
}

prop_compose! {
    fn fragment_ref()(
        user_id in user_id(), owner in address(), object_id in hash32(), index in any::<u8>(), first_stripe in any::<u32>(),
    ) -> FragmentRef {
        FragmentRef { user_id, owner, object_id, index, first_stripe }
    }
}

prop_compose! {
    fn binding()(chain_id in chain_id(), node in node_id(), issued_ms in any::<u64>(), nonce in any::<u64>())
        -> RequestBinding {
        RequestBinding { chain_id, node, issued_ms, nonce }
    }
}

prop_compose! {
    fn store_request()(at in fragment_ref(), shards in vec_of(vec_of(any::<u8>(), 0..40), 0..4), binding in binding(),
        key in secret_key())
        -> StoreRequest {
        StoreRequest::sign(at, shards, binding, &key)
    }
}

prop_compose! {
    fn fetch_request()(at in fragment_ref(), count in any::<u32>(), binding in binding(), key in secret_key())
        -> FetchRequest {
        FetchRequest::sign(at, count, binding, &key)
    }
}

prop_compose! {
    fn user_record()(account in address(), key in public_key()) -> UserRecord {
        UserRecord { account, key }
    }
}

prop_compose! {
    fn transfer()(to in address(), amount in amount()) -> Transfer {
        Transfer { to, amount }
    }
}

prop_compose! {
    fn checkpoint_digest()(
        chain_id in chain_id(),
        height in height(),
        block_hash in hash32(),
        state_root in hash32(),
        chunk_root in hash32(),
        chunk_count in any::<u32>(),
        next_validator_set_hash in hash32(),
        next_mode in consensus_mode(),
    ) -> CheckpointDigest {
        CheckpointDigest { chain_id, height, block_hash, state_root, chunk_root, chunk_count, next_validator_set_hash, next_mode }
    }
}

prop_compose! {
    fn checkpoint_vote()(digest in checkpoint_digest(), key in secret_key()) -> CheckpointVote {
        digest.sign(NodeId::from_public_key(&key.public_key()), &key)
    }
}

prop_compose! {
    fn stable_checkpoint()(digest in checkpoint_digest(), signers in signer_bitmap(), signatures in vec_of(signature(), 0..4))
        -> StableCheckpoint {
        StableCheckpoint { digest, signers, signatures }
    }
}

prop_compose! {
    fn snapshot_chunk()(index in any::<u32>(), entries in vec_of((hash32(), vec_of(any::<u8>(), 0..40)), 0..6))
        -> SnapshotChunk {
        SnapshotChunk { index, entries }
    }
}

fn signer_bitmap() -> impl Strategy<Value = SignerBitmap> {
    vec_of(any::<u8>(), 0..=32)
        .prop_map(|bytes| SignerBitmap::try_from(bytes).expect("at most 32 bytes is within the bitmap limit"))
}

prop_compose! {
    fn vote_data()(
        chain_id in chain_id(),
        height in height(),
        view in view(),
        block_hash in hash32(),
        kind in vote_kind(),
    ) -> VoteData {
        VoteData { chain_id, height, view, block_hash, kind }
    }
}

prop_compose! {
    fn receipt()(
        chain_id in chain_id(),
        height in height(),
        block_hash in any::<[u8; 32]>(),
        tx_index in any::<u32>(),
        entry in receipt_entry(),
        node in node_id(),
    ) -> Receipt {
        Receipt { chain_id, height, block_hash: Hash32(block_hash), tx_index, entry, node }
    }
}

prop_compose! {
    /// A receipt signed by the node it names, with that node's key.
    fn signed_receipt_with_key()(receipt in receipt(), key in secret_key())
        -> (SignedReceipt, PublicKey)
    {
        let public = key.public_key();
        let receipt = Receipt { node: NodeId::from_public_key(&public), ..receipt };
        (receipt.sign(&key), public)
    }
}

fn signed_receipt() -> impl Strategy<Value = SignedReceipt> {
    signed_receipt_with_key().prop_map(|(receipt, _)| receipt)
}

prop_compose! {
    fn block_header()(
        chain_id in chain_id(),
        (height, view) in (height(), view()),
        [parent_hash, tx_root, receipts_root, state_root, validator_set_hash, next_validator_set_hash]
            in any::<[[u8; 32]; 6]>(),
        mode in consensus_mode(),
        proposer in node_id(),
        time_ms in any::<u64>(),
    ) -> BlockHeader {
        BlockHeader {
            chain_id,
            height,
            view,
            parent_hash: Hash32(parent_hash),
            tx_root: Hash32(tx_root),
            receipts_root: Hash32(receipts_root),
            state_root: Hash32(state_root),
            validator_set_hash: Hash32(validator_set_hash),
            next_validator_set_hash: Hash32(next_validator_set_hash),
            mode,
            proposer,
            time_ms,
        }
    }
}

prop_compose! {
    fn validator_info()(
        name in validator_name(),
        key in public_key(),
        encryption_key in encryption_key(),
        p2p_key in p2p_key(),
        power in 1..=u64::MAX,
    ) -> ValidatorInfo {
        ValidatorInfo { power, ..ValidatorInfo::new(name, key, encryption_key, p2p_key) }
    }
}

/// Display names of at most 12 printable characters (at most 48 bytes, under the limit).
fn validator_name() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

// ---------------------------------------------------------------------------------------
// Strategies: a committee, and what it signs.
// ---------------------------------------------------------------------------------------

/// A validator set with the secret keys of its members.
#[derive(Clone, Debug)]
struct Committee {
    chain: ChainId,
    set: ValidatorSet,
    /// `keys[i]` is the consensus key of `set.validators()[i]`.
    keys: Vec<SecretKey>,
}

impl Committee {
    fn vote(&self, index: usize, data: &VoteData) -> Vote {
        data.sign(self.set.validators()[index].id, &self.keys[index])
    }

    /// A certificate on `data` from the validators in `order` (indices past the set are
    /// skipped) until they hold a quorum, plus up to `extra` more signers.
    fn certify(&self, data: VoteData, order: &[usize], extra: usize) -> QuorumCert {
        let quorum = self.set.quorum_power(data.kind.mode());
        let mut power = 0u64;
        let mut extra_left = extra;
        let mut votes = Vec::new();
        for &i in order.iter().filter(|&&i| i < self.set.len()) {
            if power >= quorum {
                if extra_left == 0 {
                    break;
                }
                extra_left -= 1;
            }
            power += self.set.validators()[i].power;
            votes.push(self.vote(i, &data));
        }
        QuorumCert::from_votes(data, &votes, &self.set).expect("honest votes holding a quorum certify")
    }

    /// `digest`, re-targeted to this committee (as the set of the next height), signed by
    /// every member: a stable checkpoint in either mode.
    fn stabilize(&self, digest: CheckpointDigest) -> StableCheckpoint {
        let digest =
            CheckpointDigest { chain_id: self.chain.clone(), next_validator_set_hash: self.set.hash(), ..digest };
        let votes: Vec<CheckpointVote> =
            self.set.validators().iter().zip(&self.keys).map(|(v, k)| digest.sign(v.id, k)).collect();
        StableCheckpoint::from_verified_votes(digest, &votes, &self.set).expect("every member signed")
    }

    /// `header`, re-targeted to this committee and committed by a certificate of its
    /// mode, possibly from a later view.
    fn certify_header(&self, header: BlockHeader, later_view: u64, order: &[usize], extra: usize) -> CertifiedHeader {
        let header = BlockHeader { chain_id: self.chain.clone(), validator_set_hash: self.set.hash(), ..header };
        let kind = match header.mode {
            ConsensusMode::Fast => VoteKind::Ack,
            ConsensusMode::Bft => VoteKind::Precommit,
        };
        let data = VoteData {
            chain_id: header.chain_id.clone(),
            height: header.height,
            view: View(header.view.0.saturating_add(later_view)),
            block_hash: header.hash(),
            kind,
        };
        let cert = self.certify(data, order, extra);
        CertifiedHeader { header, cert }
    }
}

prop_compose! {
    /// 1 to `COMMITTEE_MAX` validators with distinct keys (seeds differ in their first
    /// byte), random names, encryption keys and small voting powers.
    fn committee()(
        chain in chain_id(),
        base_seed in bytes32(),
        members in vec_of((validator_name(), encryption_key(), p2p_key(), 1..=3u64), 1..=COMMITTEE_MAX),
    ) -> Committee {
        let mut members: Vec<(ValidatorInfo, SecretKey)> = members
            .into_iter()
            .enumerate()
            .map(|(i, (name, encryption_key, p2p_key, power))| {
                let mut seed = base_seed;
                seed[0] = u8::try_from(i).expect("committees are small");
                let key = SecretKey::from_seed(seed);
                let info = ValidatorInfo {
                    power,
                    ..ValidatorInfo::new(name, key.public_key(), encryption_key, p2p_key)
                };
                (info, key)
            })
            .collect();
        members.sort_by_key(|(info, _)| info.id);
        let keys = members.iter().map(|(_, key)| key.clone()).collect();
        let set = ValidatorSet::new(members.into_iter().map(|(info, _)| info).collect())
            .expect("distinct keys, positive power and short names make a valid set");
        Committee { chain, set, keys }
    }
}

/// An order in which validators sign (a permutation of every possible index).
fn signer_order() -> impl Strategy<Value = Vec<usize>> {
    Just((0..COMMITTEE_MAX).collect::<Vec<_>>()).prop_shuffle()
}

prop_compose! {
    /// A vote by a member of a committee.
    fn vote_in_committee()(c in committee(), data in vote_data(), who in any::<Index>())
        -> (Committee, Vote)
    {
        let data = VoteData { chain_id: c.chain.clone(), ..data };
        let vote = c.vote(who.index(c.set.len()), &data);
        (c, vote)
    }
}

fn vote() -> impl Strategy<Value = Vote> {
    vote_in_committee().prop_map(|(_, vote)| vote)
}

prop_compose! {
    fn promise()(
        chain_id in chain_id(),
        height in height(),
        view in view(),
        acked in proptest::option::of((view(), hash32())),
        key in secret_key(),
    ) -> Promise {
        let voter = NodeId::from_public_key(&key.public_key());
        PromiseData { chain_id, height, view, acked }.sign(voter, &key)
    }
}

fn justification() -> impl Strategy<Value = Justification> {
    let leaf = prop_oneof![
        Just(Justification::Genesis),
        quorum_cert_with_committee().prop_map(|(_, qc)| Justification::Parent(qc)),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        (vec_of(promise(), 0..4), vec_of((vote(), inner), 0..2)).prop_map(|(promises, backings)| {
            let backings =
                backings.into_iter().map(|(leader_ack, justification)| Backing { leader_ack, justification });
            Justification::Promises { promises, backings: backings.collect() }
        })
    })
}

fn signed_statement() -> impl Strategy<Value = SignedStatement> {
    prop_oneof![
        signed_receipt().prop_map(SignedStatement::Receipt),
        vote().prop_map(SignedStatement::Vote),
        promise().prop_map(SignedStatement::Promise),
    ]
}

prop_compose! {
    fn quorum_cert_with_committee()(
        c in committee(),
        data in vote_data(),
        order in signer_order(),
        extra in 0..3usize,
    ) -> (Committee, QuorumCert) {
        let data = VoteData { chain_id: c.chain.clone(), ..data };
        let qc = c.certify(data, &order, extra);
        (c, qc)
    }
}

prop_compose! {
    fn certified_header_with_committee()(
        c in committee(),
        header in block_header(),
        proposer in any::<Index>(),
        later_view in 0..2u64,
        order in signer_order(),
        extra in 0..3usize,
    ) -> (Committee, CertifiedHeader) {
        let header = BlockHeader {
            proposer: c.set.validators()[proposer.index(c.set.len())].id,
            ..header
        };
        let certified = c.certify_header(header, later_view, &order, extra);
        (c, certified)
    }
}

prop_compose! {
    /// Two conflicting statements by one validator: votes of one kind, height and view
    /// for two blocks, or receipts for one transaction with two outcomes.
    fn equivocation()(
        c in committee(),
        who in any::<Index>(),
        by_votes in any::<bool>(),
        data in vote_data(),
        other_block in hash32(),
        receipt in receipt(),
        other_entry in receipt_entry(),
    ) -> (Committee, FaultEvidence) {
        let i = who.index(c.set.len());
        let id = c.set.validators()[i].id;
        let (first, second) = if by_votes {
            let data = VoteData { chain_id: c.chain.clone(), ..data };
            let mut other = VoteData { block_hash: other_block, ..data.clone() };
            if other == data {
                other.block_hash.0[0] ^= 1;
            }
            (
                SignedStatement::Vote(c.vote(i, &data)),
                SignedStatement::Vote(c.vote(i, &other)),
            )
        } else {
            let receipt = Receipt { chain_id: c.chain.clone(), node: id, ..receipt };
            let mut other = Receipt {
                entry: ReceiptEntry { tx_hash: receipt.entry.tx_hash, ..other_entry },
                ..receipt.clone()
            };
            if other == receipt {
                other.entry.result_hash.0[0] ^= 1;
            }
            (
                SignedStatement::Receipt(receipt.sign(&c.keys[i])),
                SignedStatement::Receipt(other.sign(&c.keys[i])),
            )
        };
        (c, FaultEvidence::Equivocation { first, second })
    }
}

prop_compose! {
    /// A validator's receipt that contradicts the certified receipts root of its block.
    fn contradiction()(
        c in committee(),
        entries in vec_of(receipt_entry(), 1..6),
        position in any::<Index>(),
        liar in any::<Index>(),
        lie in receipt_entry(),
        header in block_header(),
        order in signer_order(),
        extra in 0..3usize,
    ) -> (Committee, ContradictedReceipt) {
        let i = position.index(entries.len());
        let header = BlockHeader { receipts_root: Block::receipts_root(&entries), ..header };
        let certified = c.certify_header(header, 0, &order, extra);
        let mut lie = ReceiptEntry { tx_hash: entries[i].tx_hash, ..lie };
        if lie == entries[i] {
            lie.result_hash.0[0] ^= 1;
        }
        let liar = liar.index(c.set.len());
        let receipt = Receipt {
            chain_id: c.chain.clone(),
            height: certified.header.height,
            block_hash: certified.header.hash(),
            tx_index: u32::try_from(i).expect("few entries"),
            entry: lie,
            node: c.set.validators()[liar].id,
        }
        .sign(&c.keys[liar]);
        let leaves: Vec<Hash32> = entries.iter().map(ReceiptEntry::leaf_hash).collect();
        let proof = merkle::prove(&leaves, i).expect("the position is in range");
        let contradicted = ContradictedReceipt {
            receipt,
            certified,
            certified_entry: entries[i].clone(),
            proof,
        };
        (c, contradicted)
    }
}

fn fault_evidence_with_committee() -> impl Strategy<Value = (Committee, FaultEvidence)> {
    prop_oneof![
        equivocation(),
        contradiction()
            .prop_map(|(c, contradicted)| { (c, FaultEvidence::ReceiptContradictsBlock(Box::new(contradicted)),) }),
    ]
}

fn fault_evidence() -> impl Strategy<Value = FaultEvidence> {
    fault_evidence_with_committee().prop_map(|(_, evidence)| evidence)
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        3 => transfer().prop_map(Payload::Transfer),
        1 => fault_evidence().prop_map(|evidence| Payload::FaultEvidence(Box::new(evidence))),
        1 => user_id().prop_map(Payload::RegisterUser),
        1 => vault_manifest().prop_map(|m| Payload::CommitManifest(Box::new(m))),
    ]
}

prop_compose! {
    /// A transaction and its sender's key.
    fn transaction_with_key()(
        chain_id in chain_id(),
        key in secret_key(),
        nonce in nonce(),
        fee in amount(),
        payload in payload(),
    ) -> (Transaction, SecretKey) {
        let tx = Transaction { chain_id, sender: key.public_key(), nonce, fee, payload };
        (tx, key)
    }
}

fn transaction() -> impl Strategy<Value = Transaction> {
    transaction_with_key().prop_map(|(tx, _)| tx)
}

fn signed_transaction() -> impl Strategy<Value = SignedTransaction> {
    transaction_with_key().prop_map(|(tx, key)| tx.sign(&key))
}

prop_compose! {
    /// A block whose header commits to its transactions.
    fn block()(header in block_header(), txs in vec_of(signed_transaction(), 0..4)) -> Block {
        let header = BlockHeader { tx_root: Block::tx_root(&txs), ..header };
        Block { header, txs }
    }
}

prop_compose! {
    fn genesis()(
        c in committee(),
        accounts in vec_of((address(), amount()), 0..5),
        mode in consensus_mode(),
        time_ms in any::<u64>(),
    ) -> Genesis {
        let mut accounts = accounts;
        accounts.sort_by_key(|(address, _)| *address);
        accounts.dedup_by_key(|(address, _)| *address);
        Genesis { chain_id: c.chain, validators: c.set, accounts, mode, time_ms, vault: Default::default(), checkpoints: Default::default(), authcenters: None, audit: Default::default() }
    }
}

/// A Merkle inclusion proof with the tree it was made from.
#[derive(Clone, Debug)]
struct ProvenLeaf {
    leaves: Vec<Hash32>,
    root: Hash32,
    proof: MerkleProof,
}

impl ProvenLeaf {
    fn leaf(&self) -> Hash32 {
        self.leaves[usize::try_from(self.proof.index).expect("small trees")]
    }
}

prop_compose! {
    fn proven_leaf()(leaves in vec_of(hash32(), 1..=20), at in any::<Index>()) -> ProvenLeaf {
        let proof = merkle::prove(&leaves, at.index(leaves.len()))
            .expect("the index is in range");
        let root = merkle::root(&leaves);
        ProvenLeaf { leaves, root, proof }
    }
}

/// A state proof with what it proves.
#[derive(Clone, Debug)]
struct ProvenState {
    root: Hash32,
    key: StateKey,
    value: Option<Vec<u8>>,
    proof: StateProof,
}

/// Values stored in the state tree.
fn state_value() -> impl Strategy<Value = Vec<u8>> {
    vec_of(any::<u8>(), 0..8)
}

prop_compose! {
    /// A membership proof (of a written key) or a non-membership proof (of a deleted or
    /// random key) from a small tree with two versions, against either version's root.
    ///
    /// Versions are 0 and 1: see `state_written_before_a_version_gap_survives_it` for
    /// why not arbitrary increasing versions.
    fn proven_state()(
        first in vec_of((state_key(), state_value()), 0..6),
        second in vec_of((state_key(), proptest::option::of(state_value())), 0..4),
        written in any::<bool>(),
        pick in any::<Index>(),
        other in state_key(),
        at_first_version in any::<bool>(),
    ) -> ProvenState {
        let written_keys: Vec<StateKey> =
            first.iter().map(|(k, _)| k).chain(second.iter().map(|(k, _)| k)).cloned().collect();
        let key = if written && !written_keys.is_empty() {
            written_keys[pick.index(written_keys.len())].clone()
        } else {
            other
        };
        let mut tree = StateTree::new();
        let root0 = tree
            .apply(0, first.into_iter().map(|(k, v)| (k, Some(v))))
            .expect("a fresh tree accepts version 0");
        let root1 = tree.apply(1, second).expect("version 1 follows version 0");
        let (version, root) = if at_first_version { (0, root0) } else { (1, root1) };
        let (value, proof) = tree.get_with_proof(&key, version).expect("the version exists");
        ProvenState { root, key, value, proof }
    }
}

// ---------------------------------------------------------------------------------------
// Mutations and checks.
// ---------------------------------------------------------------------------------------

/// A change to an encoding. Positions are relative to the encoding's length.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit {
        at: Index,
        bit: u8,
    },
    Replace {
        at: Index,
        byte: u8,
    },
    Insert {
        at: Index,
        byte: u8,
    },
    Append {
        byte: u8,
    },
    Truncate {
        len: Index,
    },
    /// Keep a prefix and continue with random bytes.
    Splice {
        at: Index,
        tail: Vec<u8>,
    },
}

impl Mutation {
    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        match self {
            Mutation::FlipBit { at, bit } if !out.is_empty() => {
                out[at.index(bytes.len())] ^= 1 << (bit % 8);
            }
            Mutation::Replace { at, byte } if !out.is_empty() => {
                out[at.index(bytes.len())] = *byte;
            }
            Mutation::FlipBit { .. } | Mutation::Replace { .. } => {}
            Mutation::Insert { at, byte } => out.insert(at.index(bytes.len() + 1), *byte),
            Mutation::Append { byte } => out.push(*byte),
            Mutation::Truncate { len } => out.truncate(len.index(bytes.len())),
            Mutation::Splice { at, tail } => {
                out.truncate(at.index(bytes.len() + 1));
                out.extend_from_slice(tail);
            }
        }
        out
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), any::<u8>()).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Replace { at, byte }),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        1 => any::<u8>().prop_map(|byte| Mutation::Append { byte }),
        1 => any::<Index>().prop_map(|len| Mutation::Truncate { len }),
        1 => (any::<Index>(), vec_of(any::<u8>(), 0..64))
            .prop_map(|(at, tail)| Mutation::Splice { at, tail }),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    vec_of(mutation(), MUTATIONS_PER_CASE)
}

fn flips() -> impl Strategy<Value = Vec<Mutation>> {
    vec_of((any::<Index>(), any::<u8>()).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }), MUTATIONS_PER_CASE)
}

fn replacements() -> impl Strategy<Value = Vec<Mutation>> {
    vec_of((any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Replace { at, byte }), MUTATIONS_PER_CASE)
}

fn insertions() -> impl Strategy<Value = Vec<Mutation>> {
    vec_of((any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }), MUTATIONS_PER_CASE)
}

fn splices() -> impl Strategy<Value = Vec<Mutation>> {
    vec_of(
        (any::<Index>(), vec_of(any::<u8>(), 0..64)).prop_map(|(at, tail)| Mutation::Splice { at, tail }),
        MUTATIONS_PER_CASE,
    )
}

/// Decodes `bytes`; if they are accepted, they must be the canonical encoding of what
/// they decode to (so no two byte strings decode to the same value).
fn decode_canonical<T>(bytes: &[u8]) -> Result<Option<T>, TestCaseError>
where
    T: Serialize + DeserializeOwned + Debug,
{
    match from_bytes::<T>(bytes) {
        Err(_) => Ok(None),
        Ok(value) => {
            let again = to_bytes(&value);
            prop_assert!(
                again == bytes,
                "accepted non-canonical bytes\n  input:   {}\n  decoded: {:?}\n  encodes: {}",
                hex::encode(bytes),
                value,
                hex::encode(&again)
            );
            Ok(Some(value))
        }
    }
}

/// Applies `mutation` to the encoding of a value and decodes the result canonically.
fn decode_mutant<T>(encoding: &[u8], mutation: &Mutation) -> Result<Option<T>, TestCaseError>
where
    T: Serialize + DeserializeOwned + Debug,
{
    decode_canonical(&mutation.apply(encoding))
}

fn check_bcs_round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let bytes = to_bytes(value);
    let decoded = from_bytes::<T>(&bytes).map_err(|e| TestCaseError::fail(format!("own encoding rejected: {e}")))?;
    prop_assert_eq!(&decoded, value);
    prop_assert_eq!(hex::encode(to_bytes(&decoded)), hex::encode(&bytes));
    Ok(())
}

fn check_json_round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let json = serde_json::to_string(value).map_err(|e| TestCaseError::fail(format!("JSON encoding failed: {e}")))?;
    let decoded = serde_json::from_str::<T>(&json)
        .map_err(|e| TestCaseError::fail(format!("own JSON rejected: {e}\n  {json}")))?;
    prop_assert_eq!(&decoded, value);
    let again =
        serde_json::to_string(&decoded).map_err(|e| TestCaseError::fail(format!("JSON encoding failed: {e}")))?;
    prop_assert_eq!(again, json);
    Ok(())
}

fn check_every_truncation_is_rejected<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + Debug,
{
    let bytes = to_bytes(value);
    for len in 0..bytes.len() {
        let result = from_bytes::<T>(&bytes[..len]);
        prop_assert!(result.is_err(), "the first {len} of {} bytes decoded: {:?}", bytes.len(), result);
    }
    Ok(())
}

fn check_appended_byte_is_rejected<T>(value: &T, byte: u8) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + Debug,
{
    let mut bytes = to_bytes(value);
    bytes.push(byte);
    let result = from_bytes::<T>(&bytes);
    prop_assert!(result.is_err(), "trailing byte {byte:#04x} accepted: {result:?}");
    Ok(())
}

fn check_mutants_decode_canonically<T>(value: &T, mutations: &[Mutation]) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + Debug,
{
    let bytes = to_bytes(value);
    for mutation in mutations {
        decode_mutant::<T>(&bytes, mutation)?;
    }
    Ok(())
}

/// The codec properties every protocol type must have. `$name: $type = $strategy;`
/// makes a module `$name` of tests drawing values from `$strategy`.
macro_rules! codec_properties {
    ($($name:ident: $type:ty = $strategy:expr;)+) => {$(
        mod $name {
            use super::*;

            proptest! {
                #![proptest_config(config())]

                #[test]
                fn bcs_round_trip_is_identity_and_canonical(value in $strategy) {
                    check_bcs_round_trip::<$type>(&value)?;
                }

                #[test]
                fn json_round_trip_is_identity(value in $strategy) {
                    check_json_round_trip::<$type>(&value)?;
                }

                #[test]
                fn random_bytes_are_rejected_or_canonical_without_panicking(
                    bytes in vec_of(any::<u8>(), 0..512)
                ) {
                    decode_canonical::<$type>(&bytes)?;
                }

                #[test]
                fn every_truncation_is_rejected(value in $strategy) {
                    check_every_truncation_is_rejected::<$type>(&value)?;
                }

                #[test]
                fn appended_trailing_byte_is_rejected(value in $strategy, byte in any::<u8>()) {
                    check_appended_byte_is_rejected::<$type>(&value, byte)?;
                }

                #[test]
                fn flipped_bit_is_rejected_or_decodes_canonically(
                    value in $strategy,
                    mutations in flips(),
                ) {
                    check_mutants_decode_canonically::<$type>(&value, &mutations)?;
                }

                #[test]
                fn replaced_byte_is_rejected_or_decodes_canonically(
                    value in $strategy,
                    mutations in replacements(),
                ) {
                    check_mutants_decode_canonically::<$type>(&value, &mutations)?;
                }

                #[test]
                fn inserted_byte_is_rejected_or_decodes_canonically(
                    value in $strategy,
                    mutations in insertions(),
                ) {
                    check_mutants_decode_canonically::<$type>(&value, &mutations)?;
                }

                #[test]
                fn valid_prefix_with_random_tail_is_rejected_or_decodes_canonically(
                    value in $strategy,
                    mutations in splices(),
                ) {
                    check_mutants_decode_canonically::<$type>(&value, &mutations)?;
                }
            }
        }
    )+};
}

codec_properties! {
    address: Address = address();
    transaction: Transaction = transaction();
    signed_transaction: SignedTransaction = signed_transaction();
    payload: Payload = payload();
    transfer: Transfer = transfer();
    block_header: BlockHeader = block_header();
    block: Block = block();
    certified_header: CertifiedHeader = certified_header_with_committee().prop_map(|(_, ch)| ch);
    vote: Vote = vote();
    vote_data: VoteData = vote_data();
    vote_kind: VoteKind = vote_kind();
    quorum_cert: QuorumCert = quorum_cert_with_committee().prop_map(|(_, qc)| qc);
    signer_bitmap: SignerBitmap = signer_bitmap();
    receipt: Receipt = receipt();
    signed_receipt: SignedReceipt = signed_receipt();
    receipt_entry: ReceiptEntry = receipt_entry();
    tx_status: TxStatus = tx_status();
    failure_code: FailureCode = failure_code();
    fault_evidence: FaultEvidence = fault_evidence();
    contradicted_receipt: ContradictedReceipt = contradiction().prop_map(|(_, c)| c);
    signed_statement: SignedStatement = signed_statement();
    validator_set: ValidatorSet = committee().prop_map(|c| c.set);
    validator_info: ValidatorInfo = validator_info();
    consensus_mode: ConsensusMode = consensus_mode();
    genesis: Genesis = genesis();
    merkle_proof: MerkleProof = proven_leaf().prop_map(|p| p.proof);
    state_proof: StateProof = proven_state().prop_map(|p| p.proof);
    state_key: StateKey = state_key();
    chain_id: ChainId = chain_id();
    checkpoint_digest: CheckpointDigest = checkpoint_digest();
    checkpoint_vote: CheckpointVote = checkpoint_vote();
    stable_checkpoint: StableCheckpoint = stable_checkpoint();
    snapshot_chunk: SnapshotChunk = snapshot_chunk();
    height: Height = height();
    view: View = view();
    nonce: Nonce = nonce();
    amount: Amount = amount();
    node_id: NodeId = node_id();
    hash32: Hash32 = hash32();
    public_key: PublicKey = public_key();
    signature: Signature = signature();
    encryption_key: EncryptionKey = encryption_key();
    p2p_key: P2pKey = p2p_key();
    user_id: UserId = user_id();
    user_record: UserRecord = user_record();
    vault_config: VaultConfig = vault_config();
    vault_manifest: VaultManifest = vault_manifest();
    fragment_ref: FragmentRef = fragment_ref();
    store_request: StoreRequest = store_request();
    fetch_request: FetchRequest = fetch_request();
    request_binding: RequestBinding = binding();
    promise: Promise = promise();
    justification: Justification = justification();
}

// ---------------------------------------------------------------------------------------
// The strategies build valid values.
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn generated_signed_transactions_verify_and_decode_within_the_size_limit(
        tx in signed_transaction()
    ) {
        prop_assert_eq!(tx.verify(), Ok(()));
        prop_assert_eq!(tx.verify_for_chain(&tx.tx.chain_id), Ok(()));
        prop_assert_eq!(SignedTransaction::decode(&to_bytes(&tx)), Ok(tx));
    }

    #[test]
    fn generated_receipts_and_votes_verify(
        (receipt, key) in signed_receipt_with_key(),
        (c, vote) in vote_in_committee(),
    ) {
        prop_assert_eq!(receipt.verify(&key), Ok(()));
        prop_assert_eq!(vote.verify(&c.set), Ok(()));
    }

    #[test]
    fn generated_certificates_verify_against_their_set(
        (c, qc) in quorum_cert_with_committee(),
        (c2, certified) in certified_header_with_committee(),
    ) {
        prop_assert_eq!(qc.verify(&c.set), Ok(()));
        prop_assert_eq!(certified.verify(&c2.set), Ok(()));
    }

    #[test]
    fn generated_fault_evidence_proves_its_accused_validator(
        (c, evidence) in fault_evidence_with_committee()
    ) {
        prop_assert_eq!(evidence.verify(&c.chain, &c.set), Ok(evidence.accused()));
    }

    #[test]
    fn generated_blocks_pass_the_body_check(block in block()) {
        prop_assert_eq!(block.check_body(), Ok(()));
    }

    #[test]
    fn generated_merkle_and_state_proofs_verify(leaf in proven_leaf(), state in proven_state()) {
        prop_assert_eq!(leaf.proof.verify(&leaf.leaf(), &leaf.root), Ok(()));
        prop_assert_eq!(
            state.proof.verify(&state.root, &state.key, state.value.as_deref()),
            Ok(())
        );
    }
}

// ---------------------------------------------------------------------------------------
// Mutated signed values stop verifying.
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_signed_transaction_that_decodes_is_unchanged_or_fails_verification(
        tx in signed_transaction(),
        mutations in mutations(),
    ) {
        let bytes = to_bytes(&tx);
        for mutation in &mutations {
            if let Some(mutant) = decode_mutant::<SignedTransaction>(&bytes, mutation)? {
                prop_assert!(
                    mutant == tx || mutant.verify().is_err(),
                    "{mutation:?} gave another transaction that verifies: {mutant:?}"
                );
            }
        }
    }

    #[test]
    fn mutated_quorum_cert_that_decodes_is_unchanged_or_fails_verification(
        (c, qc) in quorum_cert_with_committee(),
        mutations in mutations(),
    ) {
        let bytes = to_bytes(&qc);
        for mutation in &mutations {
            if let Some(mutant) = decode_mutant::<QuorumCert>(&bytes, mutation)? {
                prop_assert!(
                    mutant == qc || mutant.verify(&c.set).is_err(),
                    "{mutation:?} gave another certificate that verifies: {mutant:?}"
                );
            }
        }
    }

    #[test]
    fn mutated_stable_checkpoint_that_decodes_is_unchanged_or_fails_verification(
        c in committee(),
        digest in checkpoint_digest(),
        mutations in mutations(),
    ) {
        let stable = c.stabilize(digest);
        prop_assert!(stable.verify(&c.chain, &c.set).is_ok());
        let bytes = to_bytes(&stable);
        for mutation in &mutations {
            if let Some(mutant) = decode_mutant::<StableCheckpoint>(&bytes, mutation)? {
                prop_assert!(
                    mutant == stable || mutant.verify(&c.chain, &c.set).is_err(),
                    "{mutation:?} gave another checkpoint that verifies: {mutant:?}"
                );
            }
        }
    }

    #[test]
    fn mutated_signed_receipt_that_decodes_fails_verification_unless_unchanged(
        (receipt, key) in signed_receipt_with_key(),
        mutations in mutations(),
    ) {
        let bytes = to_bytes(&receipt);
        for mutation in &mutations {
            if let Some(mutant) = decode_mutant::<SignedReceipt>(&bytes, mutation)? {
                prop_assert!(
                    mutant == receipt || mutant.verify(&key).is_err(),
                    "{mutation:?} gave another receipt that verifies: {mutant:?}"
                );
            }
        }
    }

    #[test]
    fn mutated_vote_that_decodes_is_unchanged_or_fails_verification_against_the_set(
        (c, vote) in vote_in_committee(),
        mutations in mutations(),
    ) {
        let bytes = to_bytes(&vote);
        for mutation in &mutations {
            if let Some(mutant) = decode_mutant::<Vote>(&bytes, mutation)? {
                prop_assert!(
                    mutant == vote || mutant.verify(&c.set).is_err(),
                    "{mutation:?} gave another vote that verifies: {mutant:?}"
                );
            }
        }
    }

    #[test]
    fn mutated_certified_header_that_decodes_is_unchanged_or_fails_verification(
        (c, certified) in certified_header_with_committee(),
        mutations in mutations(),
    ) {
        let bytes = to_bytes(&certified);
        for mutation in &mutations {
            if let Some(mutant) = decode_mutant::<CertifiedHeader>(&bytes, mutation)? {
                prop_assert!(
                    mutant == certified || mutant.verify(&c.set).is_err(),
                    "{mutation:?} gave another certified header that verifies: {mutant:?}"
                );
            }
        }
    }

    #[test]
    fn mutated_fault_evidence_that_decodes_is_unchanged_or_proves_nothing(
        (c, evidence) in fault_evidence_with_committee(),
        mutations in mutations(),
    ) {
        let bytes = to_bytes(&evidence);
        for mutation in &mutations {
            if let Some(mutant) = decode_mutant::<FaultEvidence>(&bytes, mutation)? {
                prop_assert!(
                    mutant == evidence || mutant.verify(&c.chain, &c.set).is_err(),
                    "{mutation:?} gave other evidence that verifies: {mutant:?}"
                );
            }
        }
    }

    #[test]
    fn mutated_block_body_under_the_same_header_is_detected(
        block in block(),
        mutations in mutations(),
    ) {
        let bytes = to_bytes(&block);
        for mutation in &mutations {
            if let Some(mutant) = decode_mutant::<Block>(&bytes, mutation)? {
                if mutant.header == block.header && mutant != block {
                    prop_assert!(
                        mutant.check_body().is_err() || mutant.txs.iter().any(|t| t.verify().is_err()),
                        "{mutation:?} changed the body undetectably: {mutant:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn mutated_merkle_proof_that_still_verifies_proves_a_true_position(
        proven in proven_leaf(),
        mutations in mutations(),
    ) {
        let bytes = to_bytes(&proven.proof);
        let leaf = proven.leaf();
        for mutation in &mutations {
            if let Some(mutant) = decode_mutant::<MerkleProof>(&bytes, mutation)? {
                if mutant.verify(&leaf, &proven.root).is_ok() {
                    let index = usize::try_from(mutant.index).expect("verified index is small");
                    prop_assert_eq!(proven.leaves.get(index), Some(&leaf));
                    prop_assert_eq!(merkle::prove(&proven.leaves, index), Some(mutant));
                }
            }
        }
    }

    #[test]
    fn mutated_state_proof_that_decodes_is_unchanged_or_fails_verification(
        proven in proven_state(),
        mutations in mutations(),
    ) {
        let bytes = to_bytes(&proven.proof);
        for mutation in &mutations {
            if let Some(mutant) = decode_mutant::<StateProof>(&bytes, mutation)? {
                prop_assert!(
                    mutant == proven.proof
                        || mutant
                            .verify(&proven.root, &proven.key, proven.value.as_deref())
                            .is_err(),
                    "{mutation:?} gave another proof that verifies: {mutant:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// State versions: jmt builds version `v` on the root stored at `v - 1`, so a gap would
// silently start from an empty tree. `StateTree` refuses gaps with a typed error.
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_version_gap_is_refused_and_changes_nothing(
        first in vec_of((state_key(), state_value()), 1..6),
        second in vec_of((state_key(), state_value()), 0..4),
        version in 2..1_000u64,
    ) {
        let mut tree = StateTree::new();
        let root0 = tree.apply(0, first.iter().map(|(k, v)| (k.clone(), Some(v.clone())))).expect("v0");
        let changes = || second.iter().map(|(k, v)| (k.clone(), Some(v.clone())));
        prop_assert_eq!(tree.preview(version, changes()), Err(StateError::VersionGap { expected: 1, found: version }));
        prop_assert_eq!(tree.apply(version, changes()), Err(StateError::VersionGap { expected: 1, found: version }));
        prop_assert_eq!(tree.latest_version(), Some(0));
        prop_assert_eq!(tree.root(0), Ok(root0));
        for (key, value) in &first {
            let (now, proof) = tree.get_with_proof(key, 0).expect("v0 readable");
            prop_assert!(now.is_some());
            prop_assert!(proof.verify(&root0, key, now.as_deref()).is_ok(), "{:?} / {:?}", key, value);
        }
    }

    #[test]
    fn a_first_write_must_be_version_zero(version in 1..1_000u64) {
        let mut tree = StateTree::new();
        prop_assert_eq!(tree.apply(version, std::iter::empty()), Err(StateError::VersionGap { expected: 0, found: version }));
        prop_assert_eq!(tree.latest_version(), None);
        let root = tree.apply(0, std::iter::empty()).expect("v0");
        let (value, proof) = tree.get_with_proof(&StateKey::Consensus, 0).expect("proof at v0");
        prop_assert_eq!(value, None);
        prop_assert_eq!(proof.verify(&root, &StateKey::Consensus, None), Ok(()));
    }
}

// ---------------------------------------------------------------------------------------
// Sealed messages: the Binary HTTP inside is decoded from bytes anyone can seal to a
// node, so its decoders get random and mutated input; every message round-trips.
// ---------------------------------------------------------------------------------------

fn plain_request() -> impl Strategy<Value = sealed::PlainRequest> {
    (
        select(vec!["GET", "POST"]),
        "/v1/[a-z0-9/?=&]{0,40}",
        proptest::option::of(select(vec!["application/json", "application/octet-stream"])),
        vec_of(any::<u8>(), 0..300),
    )
        .prop_map(|(m, p, c, b)| sealed::PlainRequest::new(m, &p, c, b))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sealed_plaintexts_round_trip(request in plain_request(), status in 200..600u16, body in vec_of(any::<u8>(), 0..300)) {
        prop_assert_eq!(sealed::PlainRequest::from_bhttp(&request.to_bhttp().expect("encodes")), Ok(request));
        let response = sealed::PlainResponse { status, headers: vec![("content-type".into(), "application/json".into())], body };
        prop_assert_eq!(sealed::PlainResponse::from_bhttp(&response.to_bhttp().expect("encodes")), Ok(response));
    }

    #[test]
    fn sealed_plaintext_decoders_never_panic(bytes in vec_of(any::<u8>(), 0..200), request in plain_request(), at in any::<Index>(), bit in 0..8u8) {
        let _ = sealed::PlainRequest::from_bhttp(&bytes);
        let _ = sealed::PlainResponse::from_bhttp(&bytes);
        let mut mutated = request.to_bhttp().expect("encodes");
        let i = at.index(mutated.len());
        mutated[i] ^= 1 << bit;
        let _ = sealed::PlainRequest::from_bhttp(&mutated);
    }
}

proptest! {
    #![proptest_config(config())]

    /// Certificates come from users and peers: random bytes, random DER-looking bytes and
    /// random text are refused with a typed error, never a panic.
    #[test]
    fn certificate_readers_never_panic(bytes in vec_of(any::<u8>(), 0..600), text in ".{0,300}", seq_len in 0..255u8) {
        let _ = vigil_protocol::x509::Certificate::from_der(&bytes);
        let mut der_like = vec![0x30, 0x82, 0x01, seq_len, 0x30, 0x81, seq_len];
        der_like.extend_from_slice(&bytes);
        prop_assert!(vigil_protocol::x509::Certificate::from_der(&der_like).is_err());
        let pem = format!("-----BEGIN CERTIFICATE-----\n{text}\n-----END CERTIFICATE-----");
        if let Ok(der) = vigil_protocol::x509::pem_to_der(&pem) {
            let _ = vigil_protocol::x509::Certificate::from_der(&der);
        }
    }
}
