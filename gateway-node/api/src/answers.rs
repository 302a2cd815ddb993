//! The parts of the node's answers a client verifies: the BCS bytes of what is signed or
//! certified (hex on the wire), and what it checks them against. The node writes these
//! types into its answers (beside fields for people: headers, certificates, sets as
//! JSON) and the wallet reads them back, so neither names a field in a string.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use vigil_protocol::{Height, TxHash};

/// Bytes on the wire as lowercase hex (a BCS encoding, a proof).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hex(pub Vec<u8>);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&vigil_protocol::to_hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        hex::decode(text.as_ref()).map(Hex).map_err(|_| serde::de::Error::custom("not hex"))
    }
}

impl From<Vec<u8>> for Hex {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

crate::answer! {
/// `GET /v1/accounts/{address}` and `GET /v1/state/{key}`: a state entry with its proof
/// against the certified header of the height the ledger last executed.
pub struct ProvenState {
    pub height: Height,
    /// BCS `StateKey`.
    pub state_key_bcs: Hex,
    /// The value (`None`: absent, and the proof shows it).
    pub value_bcs: Option<Hex>,
    /// BCS `StateProof`.
    pub proof_bcs: Hex,
    /// BCS `CertifiedHeader` at `height` (`None` until the chain certified a block).
    pub certified_header_bcs: Option<Hex>,
}
}

/// Most keys one `POST /v1/states` may ask for.
pub const STATE_KEYS_MAX: usize = 256;

/// Longest a `POST /v1/states` with `after` waits for a newer height.
pub const STATES_WAIT_MAX_MS: u64 = 1000;

/// `POST /v1/states`: several state entries at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatesRequest {
    /// BCS `StateKey`s (at most [`STATE_KEYS_MAX`]).
    pub keys_bcs: Vec<Hex>,
    /// Read at a height above this one: the node answers as soon as it committed one, or
    /// after [`STATES_WAIT_MAX_MS`] with what it has (a follower's long poll instead of
    /// polling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
}

crate::answer! {
/// One entry of a [`ProvenStates`].
pub struct ProvenEntry {
    /// BCS `StateKey`.
    pub state_key_bcs: Hex,
    /// The value (`None`: absent, and the proof shows it).
    pub value_bcs: Option<Hex>,
    /// BCS `StateProof`.
    pub proof_bcs: Hex,
}
}

crate::answer! {
/// `POST /v1/states`: the entries asked for, in the order asked, each with its proof
/// against the one certified header of `height` — a consistent picture of the state at
/// one height, which reads one at a time cannot give while the chain moves.
pub struct ProvenStates {
    pub height: Height,
    pub entries: Vec<ProvenEntry>,
    /// BCS `CertifiedHeader` at `height` (`None` until the chain certified a block).
    pub certified_header_bcs: Option<Hex>,
}
}

crate::answer! {
/// `GET /v1/certs/{serial}` and `GET /v1/certs/by-key/{public_key}`: certificates as PEM
/// (for people and `openssl`) and what proves them — their accounts (whose type is each
/// certificate's state), the key's list, the centers' group key and set — against one
/// certified header.
pub struct CertsAnswer {
    pub certificates_pem: Vec<String>,
    pub proven: ProvenStates,
}
}

crate::answer! {
/// `GET /v1/blocks/{height}`: what a light client checks of a committed block.
pub struct BlockProof {
    /// The block's transactions, by id (their root is the header's `tx_root`).
    pub tx_hashes: Vec<TxHash>,
    /// BCS `CertifiedHeader`.
    pub certified_header_bcs: Hex,
    /// Fast blocks: BCS `Justification` of the certified proposal (what forensics needs
    /// to trace a fork to its validators).
    pub justification_bcs: Option<Hex>,
}
}

crate::answer! {
/// `GET /v1/blocks/{height}/receipts/{index}`: the receipt entry the block certifies at
/// a position, with its Merkle proof against the header's receipts root.
pub struct ReceiptProof {
    pub height: Height,
    pub index: u64,
    /// BCS `ReceiptEntry`.
    pub entry_bcs: Hex,
    /// BCS Merkle inclusion proof.
    pub proof_bcs: Hex,
    /// BCS `CertifiedHeader`.
    pub certified_header_bcs: Hex,
}
}

crate::answer! {
/// `GET /v1/validators`: the set in force and the certified changes since genesis.
pub struct ValidatorsProof {
    pub height: Height,
    /// BCS `ValidatorSet`.
    pub validators_bcs: Hex,
    /// BCS `Vec<SetChange>`: each certified by the set before it.
    pub changes_bcs: Hex,
}
}

crate::answer! {
/// `POST /v1/tx` (committed) and `GET /v1/tx/{hash}`: this node's signed receipt.
pub struct ReceiptAnswer {
    pub tx_hash: TxHash,
    /// BCS `SignedReceipt`.
    pub receipt_bcs: Hex,
    /// With 409 `ALREADY_COMMITTED`: why the transaction was not admitted again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::ErrorDetail>,
}
}

crate::answer! {
/// The height a node says it has committed (`GET /v1/status`).
pub struct StatusHeight {
    pub height: Height,
}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_travel_as_hex_and_anything_else_is_refused() {
        assert_eq!(serde_json::to_string(&Hex(vec![0, 0xab])).unwrap(), "\"00ab\"");
        assert_eq!(serde_json::from_str::<Hex>("\"00ab\"").unwrap(), Hex(vec![0, 0xab]));
        assert!(serde_json::from_str::<Hex>("\"0g\"").is_err());
        assert!(serde_json::from_str::<Hex>("12").is_err());
    }

    #[test]
    fn a_state_answer_without_a_certified_header_reads_as_none() {
        let v = serde_json::json!({
            "height": 0, "state_key_bcs": "00", "value_bcs": null, "proof_bcs": "01",
            "certified_header_bcs": null, "balance": 5
        });
        let s: ProvenState = serde_json::from_value(v).unwrap();
        assert_eq!((s.value_bcs, s.certified_header_bcs), (None, None));
    }
}

crate::answer! {
/// `GET /v1/checkpoints/latest`: what a client checks of a stable checkpoint.
pub struct CheckpointProof {
    /// BCS `StableCheckpoint`: the digest and a quorum of signatures by the set it names.
    pub checkpoint_bcs: Hex,
    /// BCS `ValidatorSet`: the set the digest names (its hash is in the digest), which
    /// signed it and certifies the next height.
    pub validators_bcs: Hex,
}
}
