//! A target object's records: rows of its two dimensions its owner signs, kept at its
//! node, never on chain; what the chain holds of a period's rows is their
//! [`DataDigest`] (how many, from which, and their Merkle root), which anyone holding the
//! rows checks them against.

use serde::{Deserialize, Serialize};

use crate::encoding::to_bytes;
use crate::hash::{hash_value, Domain};
use crate::limits::RECORD_MEMO_LEN_MAX;
use crate::{Address, Hash32, Height, PublicKey, SecretKey, Signature};

use super::TargetId;

/// Which of a target's two dimensions a record measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Dimension {
    First,
    Second,
}

impl Dimension {
    pub const BOTH: [Dimension; 2] = [Dimension::First, Dimension::Second];

    pub fn index(self) -> usize {
        match self {
            Dimension::First => 0,
            Dimension::Second => 1,
        }
    }
}

/// One row of a target's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub target: TargetId,
    pub dimension: Dimension,
    /// Its place among the dimension's rows, from 0, none skipped.
    pub seq: u64,
    /// The height it belongs to (which audit period holds it).
    pub at: Height,
    /// Whom it concerns: every second-dimension row names the counterparty it was traded
    /// with; a first-dimension row names none.
    pub counterparty: Option<Address>,
    pub quantity: u64,
    pub amount: u64,
    pub memo: String,
}

/// Why a record is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record {0}: its memo is at most {RECORD_MEMO_LEN_MAX} bytes of printable text")]
    Memo(u64),
    #[error("record {0}: a {1:?}-dimension row {2}")]
    Counterparty(u64, Dimension, &'static str),
    #[error("record {0}: not signed by the target's owner")]
    Signature(u64),
    #[error("records of another target or dimension are mixed in (record {0})")]
    Mixed(u64),
    #[error("record {got} is out of order: {want} comes next")]
    Sequence { want: u64, got: u64 },
}

impl Record {
    pub fn check(&self) -> Result<(), RecordError> {
        if self.memo.len() > RECORD_MEMO_LEN_MAX || self.memo.chars().any(char::is_control) {
            return Err(RecordError::Memo(self.seq));
        }
        match (self.dimension, self.counterparty) {
            (Dimension::First, Some(_)) => {
                Err(RecordError::Counterparty(self.seq, Dimension::First, "names no counterparty"))
            }
            (Dimension::Second, None) => {
                Err(RecordError::Counterparty(self.seq, Dimension::Second, "names its counterparty"))
            }
            _ => Ok(()),
        }
    }

    pub fn sign(self, key: &SecretKey) -> SignedRecord {
        let signature = key.sign(Domain::AuditRecord, &to_bytes(&self));
        SignedRecord { record: self, signature }
    }
}

/// A record with its owner's signature: it stands on its own, wherever it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRecord {
    pub record: Record,
    pub signature: Signature,
}

impl SignedRecord {
    /// The leaf of a digest's Merkle root.
    pub fn leaf(&self) -> Hash32 {
        hash_value(Domain::AuditRecordLeaf, self)
    }

    /// Whether `owner` signed every record: one batch (true for none).
    pub fn verify_all(records: &[SignedRecord], owner: &PublicKey) -> Result<(), RecordError> {
        let bodies: Vec<Vec<u8>> = records.iter().map(|r| to_bytes(&r.record)).collect();
        Self::verify_bodies(records, &bodies.iter().map(Vec::as_slice).collect::<Vec<_>>(), owner)
    }

    /// Whether `owner` signed each of `records`, whose bodies' encodings are `messages`.
    fn verify_bodies(records: &[SignedRecord], messages: &[&[u8]], owner: &PublicKey) -> Result<(), RecordError> {
        let signatures: Vec<Signature> = records.iter().map(|r| r.signature).collect();
        let keys = vec![*owner; records.len()];
        if crate::crypto::verify_batch(Domain::AuditRecord, messages, &signatures, &keys).is_ok() {
            return Ok(());
        }
        // Name the first bad one.
        let bad =
            records.iter().zip(messages).find(|(r, m)| owner.verify(Domain::AuditRecord, m, &r.signature).is_err());
        Err(RecordError::Signature(bad.map_or(0, |(r, _)| r.record.seq)))
    }

    /// [`SignedRecord::verify_all`], and each record's [`SignedRecord::leaf`]: each
    /// record encoded once (its body is its encoding without the signature's).
    pub fn verify_with_leaves(records: &[SignedRecord], owner: &PublicKey) -> Result<Vec<Hash32>, RecordError> {
        let encoded: Vec<Vec<u8>> = records.iter().map(to_bytes).collect();
        let signature_len = records.first().map_or(0, |r| to_bytes(&r.signature).len());
        let messages: Vec<&[u8]> = encoded.iter().map(|e| &e[..e.len().saturating_sub(signature_len)]).collect();
        Self::verify_bodies(records, &messages, owner)?;
        Ok(encoded.iter().map(|e| crate::hash::hash(Domain::AuditRecordLeaf, e)).collect())
    }
}

/// What the chain keeps of a run of one dimension's rows: the first's place, how many,
/// and the Merkle root of their leaves in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DataDigest {
    pub from_seq: u64,
    pub count: u64,
    pub root: Hash32,
}

impl DataDigest {
    /// The digest of `records`, a run of one target's dimension from `from_seq` (checked:
    /// one target and dimension, consecutive places from `from_seq`).
    pub fn of(from_seq: u64, records: &[SignedRecord]) -> Result<DataDigest, RecordError> {
        if let Some(first) = records.first() {
            for (i, r) in records.iter().enumerate() {
                let want = from_seq.saturating_add(i as u64);
                if r.record.target != first.record.target || r.record.dimension != first.record.dimension {
                    return Err(RecordError::Mixed(r.record.seq));
                }
                if r.record.seq != want {
                    return Err(RecordError::Sequence { want, got: r.record.seq });
                }
            }
        }
        let leaves: Vec<Hash32> = records.iter().map(SignedRecord::leaf).collect();
        Ok(DataDigest { from_seq, count: records.len() as u64, root: crate::merkle::root(&leaves) })
    }
}

/// `POST /v1/audit/records` at a target's node: a run of one dimension's records, each
/// signed by the key that registered the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordUpload {
    pub records: Vec<SignedRecord>,
}
