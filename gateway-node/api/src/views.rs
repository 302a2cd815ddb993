//! The node's answers as a whole: what people and operators read (headers, sets,
//! balances as JSON) around the parts a client verifies ([`crate::answers`], flattened
//! in). The node writes these; the gateway's faucet and the web wallet read them back.
//! The wallet itself reads only the verified parts (unknown fields are ignored), so
//! none of these is compiled into it.

use serde::{Deserialize, Serialize};
use vigil_protocol::{
    Address, Amount, BlockHash, BlockHeader, ChainId, CheckpointDigest, ConsensusMode, Hash32, Height, NodeId, Nonce,
    QuorumCert, ReceiptEntry, SignedReceipt, TxHash, ValidatorSet, View,
};

use crate::answers::{BlockProof, CheckpointProof, ProvenState, ReceiptAnswer, ReceiptProof, ValidatorsProof};

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub name: String,
    pub node_id: NodeId,
    pub chain_id: ChainId,
    /// Committed and on disk: this node serves the block at this height.
    pub height: Height,
    pub mode: ConsensusMode,
    pub view: View,
    pub mempool_txs: u64,
    pub jailed: Vec<NodeId>,
    pub peers_connected: Vec<NodeId>,
    /// Fault injection (tests and demos only): this node signs wrong receipts.
    pub fault_injection: bool,
    /// Recovering its state from its peers' stable checkpoint: until it has, the state
    /// it serves is genesis's.
    #[serde(default)]
    pub recovering: bool,
    /// Restored from its peers: it signs nothing up to this height, the heights it may
    /// have signed at before it lost its data (0: never restored).
    #[serde(default)]
    pub abstains_through: Height,
}

/// `GET /v1/accounts/{address}`: the account's balance and nonce, and their proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountAnswer {
    pub address: Address,
    pub balance: Amount,
    pub nonce: Nonce,
    #[serde(flatten)]
    pub proven: ProvenState,
}

/// `GET /v1/blocks/{height}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockAnswer {
    pub height: Height,
    pub hash: BlockHash,
    pub header: BlockHeader,
    pub cert: QuorumCert,
    #[serde(flatten)]
    pub proof: BlockProof,
}

/// `GET /v1/blocks/{height}/receipts/{index}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptProofAnswer {
    pub entry: ReceiptEntry,
    #[serde(flatten)]
    pub proof: ReceiptProof,
}

/// `GET /v1/validators`: the set in force, its mode and the jailed, with the certified
/// changes a light client follows from genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorsAnswer {
    pub hash: vigil_protocol::Hash32,
    pub mode: ConsensusMode,
    pub validators: ValidatorSet,
    pub jailed: Vec<NodeId>,
    pub genesis_validator_set_hash: vigil_protocol::Hash32,
    #[serde(flatten)]
    pub proof: ValidatorsProof,
}

/// Whether a transaction's answer is its receipt or a promise of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    Committed,
    Pending,
}

/// `POST /v1/tx` (committed; 409 when it already was) and `GET /v1/tx/{hash}`: the
/// signed receipt as JSON for people, and what clients verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxAnswer {
    pub status: TxState,
    pub receipt: SignedReceipt,
    #[serde(flatten)]
    pub answer: ReceiptAnswer,
}

/// `POST /v1/tx` (202): admitted, not committed within the wait (or not waited for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxPending {
    pub tx_hash: TxHash,
    pub status: TxState,
}

/// `POST /v1/txs`: one outcome per transaction of the batch, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxBatchAnswer {
    pub results: Vec<TxOutcome>,
}

/// One transaction of a batch: committed (`status` committed, with this node's signed
/// receipt), pending (admitted, not committed within the wait) or refused (no status;
/// `error` is what `POST /v1/tx` would have answered for it alone). A transaction
/// already committed before is committed, with its receipt and `ALREADY_COMMITTED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOutcome {
    pub tx_hash: TxHash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TxState>,
    /// BCS `SignedReceipt`, when committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_bcs: Option<crate::Hex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::ErrorDetail>,
}

/// `POST /v1/vault/store`: how many fragments were stored, and their hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultStored {
    pub stored: u64,
    pub hashes: Vec<vigil_protocol::Hash32>,
}

/// `GET /v1/checkpoints/latest`: the newest stable checkpoint this node gathered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointAnswer {
    pub height: Height,
    /// The digest's id (what a user may pin).
    pub digest_hash: Hash32,
    pub digest: CheckpointDigest,
    /// The validators whose signatures it carries.
    pub signers: Vec<NodeId>,
    #[serde(flatten)]
    pub proof: CheckpointProof,
}
