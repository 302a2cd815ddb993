//! Deterministic execution: the state transition every node runs for every block.
//!
//! Every transaction pays its fee and uses its sender's nonce here; what its payload
//! does is its capability's ([`crate::capability`]: transfers, fault evidence, the
//! vault), run through a [`TxContext`]. The resulting state lives in the authenticated
//! [`StateTree`] (one version per height) whose root goes in the block header.
//!
//! Must not read clocks, randomness or anything but its inputs: two nodes that execute
//! the same block on the same state get the same roots, byte for byte.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vigil_protocol::crypto::verify_batch;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::hash::{hash_value, Domain};
use vigil_protocol::tables::ordered::OrderedMap;
use vigil_protocol::{
    Address, Block, BlockHash, BlockHeader, ChainId, CheckpointDigest, ConsensusMode, FailureCode, Genesis, Hash32,
    Height, NodeId, Nonce, PreparedVersion, ReceiptEntry, SignedTransaction, StateKey, StateProof, StateTree, TxHash,
    TxStatus, ValidatorSet, View,
};

/// Accounts kept in the ledger's read cache before it starts over.
const RECENT_ACCOUNTS_MAX: usize = 1 << 20;

pub use crate::capability::evidence::VALIDATORS_MIN;
pub use crate::capability::fee_min;
pub use context::TxContext;
pub use tables::TableMaps;
pub use view::LedgerView;
pub use vigil_protocol::AccountState;

use context::Changes;

mod context;
mod tables;
mod view;

/// The consensus configuration in the state (key [`StateKey::Consensus`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusState {
    pub mode: ConsensusMode,
    /// The active validator set.
    pub validators: ValidatorSet,
    /// Validators removed for a proven fault, in the order they were jailed.
    pub jailed: Vec<NodeId>,
    /// `(first height, set)` for every set the chain has had, oldest first; the last is
    /// `validators`. In the authenticated state, so a node restored from a snapshot
    /// judges old evidence by the same sets as every other node.
    pub history: Vec<(Height, ValidatorSet)>,
}

impl ConsensusState {
    /// The state a chain starts with.
    pub fn genesis(mode: ConsensusMode, validators: ValidatorSet) -> Self {
        Self { mode, history: vec![(Height(1), validators.clone())], validators, jailed: Vec::new() }
    }

    /// Makes `set` the active set from height `from` on (a later change at the same
    /// height replaces the earlier one: two offenders jailed in one block).
    pub fn change_validators(&mut self, from: Height, set: ValidatorSet) {
        match self.history.last_mut() {
            Some((h, last)) if *h == from => *last = set.clone(),
            _ => self.history.push((from, set.clone())),
        }
        self.validators = set;
    }

    /// The set that certified (or will certify) blocks at `height`.
    pub fn validators_at(&self, height: Height) -> &ValidatorSet {
        self.history.iter().rev().find(|(from, _)| *from <= height).map(|(_, set)| set).unwrap_or(&self.validators)
    }
}

/// Why a block cannot be accepted (as opposed to a transaction that fails inside it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockInvalid {
    #[error("block is for height {found}, expected {expected}")]
    Height { expected: Height, found: Height },
    #[error("block does not extend the last committed block")]
    Parent,
    #[error("block header field `{0}` does not match this node's execution")]
    Mismatch(&'static str),
    #[error("block body: {0}")]
    Body(#[from] vigil_protocol::BlockError),
    #[error("a transaction in the block has a bad signature or another chain's id")]
    BadTransaction,
    #[error("proposer {0} is not a validator")]
    UnknownProposer(NodeId),
    #[error("transaction {index} may not be in a block: {why}")]
    Tx { index: usize, why: TxInvalid },
}

/// Why a transaction may not be in a block at all. A block holding one is invalid, so
/// it is never recorded: its nonce stays unused and no receipt names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxInvalid {
    #[error("nonce {found} is not the account's next nonce {expected}")]
    Nonce { expected: u64, found: u64 },
    #[error("fee {found} is below the minimum {min}")]
    FeeTooLow { min: u64, found: u64 },
    #[error("the sender cannot pay the fee")]
    CannotPayFee,
    #[error("the account has used every nonce")]
    NonceExhausted,
    #[error("fault evidence proves nothing new: {0:?}")]
    Evidence(FailureCode),
    #[error("the checkpoint does not verify: {0}")]
    Checkpoint(String),
    #[error("the key generation package is refused: {0}")]
    DkgPackage(String),
    #[error("the change of the center set is refused: {0}")]
    CenterChange(String),
    #[error("the signing message is refused: {0}")]
    Signing(String),
    #[error("{0}")]
    Certificate(String),
    #[error("{0}")]
    Table(String),
    #[error("{0}")]
    CrossChain(String),
    #[error("{0}")]
    Audit(String),
}

/// Why executing a list of transactions as a block failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecuteError {
    #[error("transaction {index} may not be in a block: {why}")]
    Tx { index: usize, why: TxInvalid },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Why the ledger could not be built or updated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("genesis lists account {0} twice")]
    DuplicateGenesisAccount(Address),
    #[error("genesis: {0}")]
    BadGenesis(String),
    #[error("state tree: {0}")]
    State(#[from] vigil_protocol::StateError),
    #[error("block {height} does not match the execution it was committed with")]
    ExecutionMismatch { height: Height },
    #[error("stored state does not fit: {0}")]
    StoredStateMismatch(&'static str),
}

/// The result of executing a block's transactions on the committed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub height: Height,
    pub entries: Vec<ReceiptEntry>,
    pub state_root: Hash32,
    pub receipts_root: Hash32,
    /// Consensus configuration for the next height.
    pub next: ConsensusState,
    /// Accounts after the block (also written in `prepared`).
    accounts: BTreeMap<Address, AccountState>,
    /// The ordered maps of the tables the block wrote, after it.
    tables: BTreeMap<String, OrderedMap>,
    /// The state version, computed once here and written as is on commit.
    prepared: PreparedVersion,
}

/// What a block changed so far besides its state changes: accounts, the consensus
/// configuration for the next height, the tables' ordered maps.
type BlockSoFar<'a> =
    (&'a mut BTreeMap<Address, AccountState>, &'a mut ConsensusState, &'a mut BTreeMap<String, OrderedMap>);

/// A block being executed one transaction at a time on the committed state.
struct BlockBuilder<'a> {
    ledger: &'a Ledger,
    accounts: BTreeMap<Address, AccountState>,
    next: ConsensusState,
    tables: BTreeMap<String, OrderedMap>,
    changes: Changes,
    entries: Vec<ReceiptEntry>,
}

impl<'a> BlockBuilder<'a> {
    fn new(ledger: &'a Ledger) -> Self {
        Self {
            ledger,
            accounts: BTreeMap::new(),
            next: ledger.consensus.clone(),
            tables: BTreeMap::new(),
            changes: BTreeMap::new(),
            entries: Vec::new(),
        }
    }

    /// Applies one transaction; on `Err` nothing changed.
    fn apply(&mut self, tx: &SignedTransaction, tx_hash: TxHash) -> Result<(), TxInvalid> {
        // `apply_tx` changes `accounts` and `next` only once it cannot fail any more.
        let mut touched: Vec<(StateKey, Option<Vec<u8>>)> = Vec::new();
        let block = (&mut self.accounts, &mut self.next, &mut self.tables);
        let status = self.ledger.apply_tx(tx, block, &self.changes, &mut touched)?;
        let result_hash = hash_value(Domain::ExecutionResult, &(&status, &touched));
        self.changes.extend(touched);
        self.entries.push(ReceiptEntry { tx_hash, status, result_hash });
        Ok(())
    }

    fn finish(self) -> Result<Execution, LedgerError> {
        let height = self.ledger.height().next();
        let prepared = self.ledger.tree.prepare(height.0, self.changes)?;
        Ok(Execution {
            height,
            receipts_root: Block::receipts_root(&self.entries),
            state_root: prepared.root(),
            entries: self.entries,
            next: self.next,
            accounts: self.accounts,
            tables: self.tables,
            prepared,
        })
    }
}

/// What the ledger keeps besides the state tree; stored with every commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerMeta {
    /// Height of the last committed block (0 before block 1).
    pub height: Height,
    pub last_hash: BlockHash,
}

/// What one commit adds to a node's database besides the block: the new state version
/// and the ledger's metadata after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCommit {
    pub version: PreparedVersion,
    pub meta: LedgerMeta,
}

/// The committed state of one node. Accounts and the consensus configuration are read
/// from the authenticated tree itself, so what is proven is what is used.
#[derive(Debug, Clone)]
pub struct Ledger {
    chain_id: ChainId,
    meta: LedgerMeta,
    consensus: ConsensusState,
    tree: StateTree,
    /// Every table's ordered map at the committed height (derived from `tree`).
    tables: TableMaps,
    /// Accounts written since this ledger was built, as the tree holds them at the
    /// committed height: a read cache (every read on the hot path goes through it).
    recent: BTreeMap<Address, AccountState>,
}

/// Batch-verifies transaction signatures, and the signatures of the rows they carry
/// (true if all are valid, or there are none).
pub fn verify_transactions(txs: &[&SignedTransaction]) -> bool {
    if txs.is_empty() {
        return true;
    }
    let bodies: Vec<Vec<u8>> = txs.iter().map(|t| to_bytes(&t.tx)).collect();
    let messages: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    let signatures: Vec<_> = txs.iter().map(|t| t.signature).collect();
    let keys: Vec<_> = txs.iter().map(|t| t.tx.sender).collect();
    if verify_batch(Domain::TransactionSignature, &messages, &signatures, &keys).is_err() {
        return false;
    }
    let rows: Vec<_> = txs.iter().filter_map(|t| t.tx.payload.signed_row()).collect();
    vigil_protocol::tables::SignedRow::verify_all(&rows)
}

fn encode_change<T: Serialize>(value: &T) -> Option<Vec<u8>> {
    Some(to_bytes(value))
}

/// The reads of the committed chain a [`Ledger`] and its frozen [`LedgerView`] share,
/// for a type with `chain_id`, `meta` and `consensus` fields.
macro_rules! committed_reads {
    ($ty:ty) => {
        impl $ty {
            pub fn chain_id(&self) -> &ChainId {
                &self.chain_id
            }
            /// Height of the last committed block (0 before block 1).
            pub fn height(&self) -> Height {
                self.meta.height
            }
            pub fn last_hash(&self) -> BlockHash {
                self.meta.last_hash
            }
            pub fn mode(&self) -> ConsensusMode {
                self.consensus.mode
            }
            /// The set that certifies the next block.
            pub fn validators(&self) -> &ValidatorSet {
                &self.consensus.validators
            }
            pub fn consensus_state(&self) -> &ConsensusState {
                &self.consensus
            }
            /// `(first height, set)` for every set the chain has had, oldest first.
            pub fn set_history(&self) -> &[(Height, ValidatorSet)] {
                &self.consensus.history
            }
            /// The set that certified (or will certify) blocks at `height`.
            pub fn validators_at(&self, height: Height) -> &ValidatorSet {
                self.consensus.validators_at(height)
            }
        }
    };
}
pub(crate) use committed_reads;

committed_reads!(Ledger);

impl Ledger {
    /// The state before block 1.
    pub fn genesis(genesis: &Genesis) -> Result<Self, LedgerError> {
        genesis.vault.check().map_err(|e| LedgerError::BadGenesis(e.to_string()))?;
        if let Some(centers) = &genesis.authcenters {
            centers.check().map_err(|e| LedgerError::BadGenesis(e.to_string()))?;
        }
        genesis.audit.check().map_err(LedgerError::BadGenesis)?;
        let mut accounts = BTreeMap::new();
        for (address, balance) in &genesis.accounts {
            if accounts.insert(*address, AccountState { balance: *balance, nonce: Nonce(0) }).is_some() {
                return Err(LedgerError::DuplicateGenesisAccount(*address));
            }
        }
        let consensus = ConsensusState::genesis(genesis.mode, genesis.validators.clone());
        let mut tree = StateTree::new();
        let mut changes: Vec<(StateKey, Option<Vec<u8>>)> =
            accounts.iter().map(|(a, s)| (StateKey::Account(*a), encode_change(s))).collect();
        changes.push((StateKey::Consensus, encode_change(&consensus)));
        changes.push((StateKey::VaultConfig, encode_change(&genesis.vault)));
        // Written only when not the default, so a chain without audits keeps its state.
        if genesis.audit != vigil_protocol::audit::AuditCondition::default() {
            changes.push((StateKey::AuditCondition, encode_change(&genesis.audit)));
        }
        if let Some(centers) = &genesis.authcenters {
            changes.push((StateKey::AuthCenters, encode_change(centers)));
            let authority =
                vigil_protocol::authcenter::CertAuthority { not_before_s: genesis.time_ms / 1000, root: None };
            changes.push((StateKey::CertAuthority, encode_change(&authority)));
        }
        tree.apply(0, changes)?;
        Ok(Self {
            chain_id: genesis.chain_id.clone(),
            meta: LedgerMeta { height: Height(0), last_hash: genesis.hash() },
            consensus,
            tree,
            tables: TableMaps::default(),
            recent: BTreeMap::new(),
        })
    }

    /// The ledger as a node stored it: its metadata and its state tree (restored from
    /// the database's records). Checks that they fit together and fit `genesis`.
    pub fn restore(genesis: &Genesis, meta: LedgerMeta, tree: StateTree) -> Result<Self, LedgerError> {
        if tree.latest_version() != Some(meta.height.0) {
            return Err(LedgerError::StoredStateMismatch("the state tree's newest version is not the stored height"));
        }
        let consensus = Self::stored_consensus(genesis, &tree, meta.height)?;
        let tables = TableMaps::rebuild(&tree.snapshot())?;
        Ok(Self { chain_id: genesis.chain_id.clone(), meta, consensus, tree, tables, recent: BTreeMap::new() })
    }

    /// The ledger at a stable checkpoint, from the state tree rebuilt from its snapshot
    /// (whose root the caller checked against the checkpoint's): the consensus
    /// configuration, the set history included, is read from that state.
    pub fn from_checkpoint(genesis: &Genesis, digest: &CheckpointDigest, tree: StateTree) -> Result<Self, LedgerError> {
        if digest.chain_id != genesis.chain_id {
            return Err(LedgerError::StoredStateMismatch("the checkpoint is another chain's"));
        }
        if tree.latest_version() != Some(digest.height.0) || tree.root(digest.height.0)? != digest.state_root {
            return Err(LedgerError::StoredStateMismatch("the rebuilt state is not the checkpoint's"));
        }
        let consensus = Self::stored_consensus(genesis, &tree, digest.height)?;
        if consensus.validators.hash() != digest.next_validator_set_hash || consensus.mode != digest.next_mode {
            return Err(LedgerError::StoredStateMismatch("the state's validator set or mode is not the checkpoint's"));
        }
        let meta = LedgerMeta { height: digest.height, last_hash: digest.block_hash };
        let tables = TableMaps::rebuild(&tree.snapshot())?;
        Ok(Self { chain_id: genesis.chain_id.clone(), meta, consensus, tree, tables, recent: BTreeMap::new() })
    }

    /// The consensus configuration a stored or restored state holds at `height`.
    fn stored_consensus(genesis: &Genesis, tree: &StateTree, height: Height) -> Result<ConsensusState, LedgerError> {
        let consensus = tree
            .get(&StateKey::Consensus, height.0)
            .and_then(|bytes| vigil_protocol::encoding::from_bytes::<ConsensusState>(&bytes).ok())
            .ok_or(LedgerError::StoredStateMismatch("the state holds no readable consensus configuration"))?;
        if consensus.history.first().map(|(h, set)| (*h, set)) != Some((Height(1), &genesis.validators)) {
            return Err(LedgerError::StoredStateMismatch("the validator-set history does not start at genesis"));
        }
        if consensus.history.last().map(|(_, set)| set) != Some(&consensus.validators) {
            return Err(LedgerError::StoredStateMismatch("the validator-set history does not end at the active set"));
        }
        Ok(consensus)
    }

    /// Everything to store for this ledger at once (a database that held only blocks).
    pub fn snapshot(&self) -> (LedgerMeta, vigil_protocol::StateRecords) {
        (self.meta.clone(), self.tree.records())
    }

    /// An account at the committed height (all zero if it never received anything).
    pub fn account(&self, address: &Address) -> AccountState {
        if let Some(a) = self.recent.get(address) {
            return *a;
        }
        self.tree
            .get(&StateKey::Account(*address), self.height().0)
            .and_then(|bytes| vigil_protocol::encoding::from_bytes(&bytes).ok())
            .unwrap_or_default()
    }
    /// The committed state, frozen (O(1)): what a checkpoint's snapshot is cut from.
    pub fn state_snapshot(&self) -> vigil_protocol::StateSnapshot {
        self.tree.snapshot()
    }

    pub fn state_root(&self) -> Result<Hash32, LedgerError> {
        Ok(self.tree.root(self.height().0)?)
    }

    /// A state entry at the committed height, decoded (`None` if absent or unreadable).
    pub fn state<T: serde::de::DeserializeOwned>(&self, key: &StateKey) -> Option<T> {
        self.tree.get(key, self.height().0).and_then(|b| vigil_protocol::encoding::from_bytes(&b).ok())
    }

    /// A state entry at the committed height with its proof against that height's root.
    pub fn prove(&self, key: &StateKey) -> Result<(Option<Vec<u8>>, StateProof), LedgerError> {
        Ok(self.tree.get_with_proof(key, self.height().0)?)
    }

    /// Executes `txs` as the next block on the committed state, without changing it.
    /// Signatures must already be checked (see [`Ledger::check_block`]). A transaction
    /// that may not be in a block makes the whole execution fail.
    pub fn execute(&self, txs: &[SignedTransaction]) -> Result<Execution, ExecuteError> {
        self.execute_hashed(txs, &txs.iter().map(SignedTransaction::hash).collect::<Vec<_>>())
    }

    /// What a proposer can put in its next block: `candidates` in order, leaving out
    /// each transaction that may not be in a block (wrong nonce, unpaid fee, evidence
    /// that proves nothing new). Returns the execution of those kept, the kept ones and
    /// the ids of those left out.
    pub fn execute_admissible(
        &self,
        candidates: Vec<SignedTransaction>,
    ) -> Result<(Execution, Vec<SignedTransaction>, Vec<TxHash>), LedgerError> {
        let mut block = BlockBuilder::new(self);
        let (mut kept, mut left_out) = (Vec::with_capacity(candidates.len()), Vec::new());
        for tx in candidates {
            let hash = tx.hash();
            match block.apply(&tx, hash) {
                Ok(()) => kept.push(tx),
                Err(_) => left_out.push(hash),
            }
        }
        Ok((block.finish()?, kept, left_out))
    }

    /// [`Ledger::execute`] with the transactions' ids already computed (in order).
    fn execute_hashed(&self, txs: &[SignedTransaction], hashes: &[TxHash]) -> Result<Execution, ExecuteError> {
        let mut block = BlockBuilder::new(self);
        for (index, (tx, tx_hash)) in txs.iter().zip(hashes).enumerate() {
            block.apply(tx, *tx_hash).map_err(|why| ExecuteError::Tx { index, why })?;
        }
        Ok(block.finish()?)
    }

    /// Applies one transaction. `Err` means the transaction may not be in a block at
    /// all (wrong nonce, fee below the minimum or not payable, or its capability's
    /// check refused it): a block holding one is invalid. Otherwise the sender pays the
    /// fee and uses the nonce whatever the payload does, so a transaction that was
    /// included once can never be included again, failed or not.
    fn apply_tx(
        &self,
        signed: &SignedTransaction,
        (accounts, next, tables): BlockSoFar<'_>,
        earlier: &Changes,
        touched: &mut Vec<(StateKey, Option<Vec<u8>>)>,
    ) -> Result<TxStatus, TxInvalid> {
        let tx = &signed.tx;
        let from = tx.sender_address();
        let mut sender = accounts.get(&from).copied().unwrap_or_else(|| self.account(&from));
        if tx.nonce != sender.nonce {
            return Err(TxInvalid::Nonce { expected: sender.nonce.0, found: tx.nonce.0 });
        }
        let min = fee_min(&tx.payload);
        if tx.fee.0 < min {
            return Err(TxInvalid::FeeTooLow { min, found: tx.fee.0 });
        }
        sender.balance = sender.balance.checked_sub(tx.fee).ok_or(TxInvalid::CannotPayFee)?;
        sender.nonce = Nonce(sender.nonce.0.checked_add(1).ok_or(TxInvalid::NonceExhausted)?);
        let mut cx = TxContext::new(self, (from, tx.sender, sender), (accounts, next, tables), earlier, touched);
        let status = crate::capability::execute(&tx.payload, &mut cx)?;
        let sender = cx.into_sender_account();
        accounts.insert(from, sender);
        touched.push((StateKey::Account(from), encode_change(&sender)));
        Ok(status)
    }

    /// The header a proposer builds for the transactions executed as `exec`.
    pub fn build_header(&self, exec: &Execution, view: View, proposer: NodeId, time_ms: u64) -> BlockHeader {
        BlockHeader {
            chain_id: self.chain_id.clone(),
            height: exec.height,
            view,
            parent_hash: self.meta.last_hash,
            tx_root: Block::tx_root_of(&exec.entries.iter().map(|e| e.tx_hash).collect::<Vec<_>>()),
            receipts_root: exec.receipts_root,
            state_root: exec.state_root,
            validator_set_hash: self.consensus.validators.hash(),
            next_validator_set_hash: exec.next.validators.hash(),
            mode: self.consensus.mode,
            proposer,
            time_ms,
        }
    }

    /// Checks a proposed block completely: position, body, every signature, and that
    /// re-executing it gives exactly the roots, set and mode its header claims.
    pub fn check_block(&self, block: &Block) -> Result<Execution, BlockInvalid> {
        self.check_block_skipping(block, |_, _| false)
    }

    /// [`Ledger::check_block`], trusting the signatures of transactions for which
    /// `already_verified` says so (a node's own mempool, whose entries it verified on
    /// admission), so each node checks each signature once.
    pub fn check_block_skipping(
        &self,
        block: &Block,
        already_verified: impl Fn(&SignedTransaction, &TxHash) -> bool,
    ) -> Result<Execution, BlockInvalid> {
        let h = &block.header;
        let expected = self.height().next();
        if h.height != expected {
            return Err(BlockInvalid::Height { expected, found: h.height });
        }
        if h.parent_hash != self.meta.last_hash {
            return Err(BlockInvalid::Parent);
        }
        if h.chain_id != self.chain_id {
            return Err(BlockInvalid::Mismatch("chain_id"));
        }
        if h.mode != self.consensus.mode {
            return Err(BlockInvalid::Mismatch("mode"));
        }
        if h.validator_set_hash != self.consensus.validators.hash() {
            return Err(BlockInvalid::Mismatch("validator_set_hash"));
        }
        if self.consensus.validators.get(&h.proposer).is_none() {
            return Err(BlockInvalid::UnknownProposer(h.proposer));
        }
        let hashes: Vec<TxHash> = block.txs.iter().map(SignedTransaction::hash).collect();
        block.check_body_hashed(&hashes)?;
        if block.txs.iter().any(|t| t.tx.chain_id != self.chain_id) {
            return Err(BlockInvalid::BadTransaction);
        }
        let unverified: Vec<&SignedTransaction> =
            block.txs.iter().zip(&hashes).filter(|(t, h)| !already_verified(t, h)).map(|(t, _)| t).collect();
        if !verify_transactions(&unverified) {
            return Err(BlockInvalid::BadTransaction);
        }
        let exec = self.execute_hashed(&block.txs, &hashes).map_err(|e| match e {
            ExecuteError::Tx { index, why } => BlockInvalid::Tx { index, why },
            ExecuteError::Ledger(_) => BlockInvalid::Mismatch("state_root"),
        })?;
        if exec.state_root != h.state_root {
            return Err(BlockInvalid::Mismatch("state_root"));
        }
        if exec.receipts_root != h.receipts_root {
            return Err(BlockInvalid::Mismatch("receipts_root"));
        }
        if exec.next.validators.hash() != h.next_validator_set_hash {
            return Err(BlockInvalid::Mismatch("next_validator_set_hash"));
        }
        Ok(exec)
    }

    /// Commits a block with the execution [`Ledger::check_block`] or
    /// [`Ledger::execute`] produced for it; returns what to store for it.
    pub fn commit(&mut self, block: &Block, exec: Execution) -> Result<StateCommit, LedgerError> {
        let height = block.header.height;
        if height != self.height().next() || exec.height != height || exec.state_root != block.header.state_root {
            return Err(LedgerError::ExecutionMismatch { height });
        }
        let root = self.tree.write(&exec.prepared)?;
        debug_assert_eq!(root, exec.state_root);
        if self.recent.len() > RECENT_ACCOUNTS_MAX {
            self.recent.clear();
        }
        self.recent.extend(exec.accounts);
        self.tables.extend(exec.tables);
        self.consensus = exec.next;
        self.meta.height = height;
        self.meta.last_hash = block.header.hash();
        Ok(StateCommit { version: exec.prepared, meta: self.meta.clone() })
    }
}

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;
