//! Transactions: what an account asks the chain to do, signed by the account's key.
//!
//! The signed bytes are `Domain::TransactionSignature || 0 || BCS(Transaction)`, and the
//! transaction carries the chain id and the sender's nonce, so a signature is valid
//! once, on one chain. The transaction's id ([`TxHash`]) is the hash of the same body.

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::crypto::{CryptoError, PublicKey, SecretKey, Signature};
use crate::encoding::{self, DecodeError};
use crate::evidence::FaultEvidence;
use crate::hash::{hash, hash_value, Domain, TxHash};
use crate::ids::{Amount, ChainId, Nonce};
use crate::limits::TRANSACTION_SIZE_MAX_BYTES;
use crate::transfer::Transfer;

/// Why a transaction is not acceptable, before any state is consulted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    #[error("transaction signature does not verify for its sender")]
    BadSignature,
    #[error("the row's signature does not verify for its writer")]
    BadRowSignature,
    #[error("transaction is for chain `{found}`, this is `{expected}`")]
    WrongChain { expected: ChainId, found: ChainId },
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// What a transaction does: one variant per payload kind, each defined in its
/// capability's module ([`crate::transfer`], [`crate::evidence`], [`crate::vault`]). New
/// capabilities add variants at the end (BCS encodes the variant index, so existing
/// variants keep their encoding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    Transfer(Transfer),
    /// Proof that a validator misbehaved; once committed, the chain switches to Bft
    /// mode and jails the offender.
    FaultEvidence(Box<FaultEvidence>),
    /// Binds a user id to the sender's account and key (for the vault).
    RegisterUser(crate::UserId),
    /// Records a stored object's manifest (the sender must own it and its user id).
    CommitManifest(Box<crate::VaultManifest>),
    /// Records a stable checkpoint (a quorum's signed digest) in the state.
    RecordCheckpoint(Box<crate::StableCheckpoint>),
    /// A message of the authentication centers' key generation (sent by a center).
    Dkg(Box<crate::authcenter::DkgMessage>),
    /// A message of the centers' threshold signing sessions (sent by a center).
    Signing(Box<crate::authcenter::SigningMessage>),
    /// A request for a certificate, signed by the applicant's key (sent by anyone who pays).
    CertRequest(Box<crate::authcenter::CertRequest>),
    /// A center's verdict on a certificate request (sent by a center).
    CertVerdict(crate::authcenter::CertVerdict),
    /// A center's vote to freeze, unfreeze or revoke a certificate (sent by a center).
    CertAction(crate::authcenter::CertActionVote),
    /// A vote or resharing message of a change of the center set (sent by a center of
    /// the set in force or of the proposed one).
    CenterChange(Box<crate::authcenter::CenterChangeMessage>),
    /// Creates a table owned by the sender (it pays a deposit the table holds).
    CreateTable(Box<crate::tables::CreateTable>),
    /// A new version of a table's schema (nullable columns added; by its owner).
    AlterTable(Box<crate::tables::AlterTable>),
    /// Inserts, updates or deletes a row, signed by its writer (the sender).
    WriteRow(Box<crate::tables::SignedRow>),
    /// Opens this chain's light client of another chain (a quorum of the validator set
    /// in force approves).
    OpenConnection(Box<crate::crosschain::OpenConnection>),
    /// Moves a light client forward: set changes and a certified header (anyone).
    UpdateClient(Box<crate::crosschain::UpdateClient>),
    /// Freezes a light client on two conflicting certified headers (anyone).
    FreezeClient(Box<crate::crosschain::FreezeClient>),
    /// Sends coin to an account on another chain.
    CrossTransfer(Box<crate::crosschain::CrossTransfer>),
    /// Delivers packets from another chain, proven in its state (a relayer).
    ReceivePacket(Box<crate::crosschain::Batch<crate::crosschain::ReceivePacket>>),
    /// Settles sent packets on the destination's receipts (a relayer).
    Acknowledge(Box<crate::crosschain::Batch<crate::crosschain::Acknowledge>>),
    /// Refunds sent packets the destination never received by their timeout (a relayer).
    Timeout(Box<crate::crosschain::Batch<crate::crosschain::Timeout>>),
    /// Registers a target object of audits owned by the sender.
    RegisterTarget(Box<crate::audit::RegisterTarget>),
    /// A target's trade with a counterparty (sent by the target's owner).
    RecordTrade(Box<crate::audit::RecordTrade>),
    /// A counterparty's confirmation of a trade (sent by the counterparty).
    ConfirmTrade(crate::audit::ConfirmTrade),
    /// An audit of a period of a target's data (sent by the target's owner).
    SubmitAudit(Box<crate::audit::SubmitAudit>),
    /// A counterparty's confirmation or refusal of an audit (sent by the counterparty).
    AuditNotice(Box<crate::audit::AuditNotice>),
}

impl Payload {
    /// A signed row the payload carries: its writer's signature is checked with the
    /// transaction's, wherever a transaction's signature is (a transaction whose row
    /// does not verify is not a validly signed transaction).
    pub fn signed_row(&self) -> Option<&crate::tables::SignedRow> {
        match self {
            Payload::WriteRow(row) => Some(row),
            _ => None,
        }
    }
}

/// The signed body of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub chain_id: ChainId,
    pub sender: PublicKey,
    pub nonce: Nonce,
    pub fee: Amount,
    pub payload: Payload,
}

impl Transaction {
    /// The transaction's id.
    pub fn hash(&self) -> TxHash {
        hash_value(Domain::Transaction, self)
    }

    pub fn sender_address(&self) -> Address {
        Address::from_public_key(&self.sender)
    }

    /// Signs with `key`. The caller is responsible for `key` matching `self.sender`;
    /// a mismatch yields a transaction that [`SignedTransaction::verify`] rejects.
    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        let signature = key.sign(Domain::TransactionSignature, &encoding::to_bytes(&self));
        SignedTransaction { tx: self, signature }
    }
}

/// A transaction with its sender's signature: what clients submit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransaction {
    pub tx: Transaction,
    pub signature: Signature,
}

impl SignedTransaction {
    pub fn hash(&self) -> TxHash {
        self.tx.hash()
    }

    /// Checks the signature against the sender key inside the transaction, then the
    /// signature of a row it carries against the row's writer.
    pub fn verify(&self) -> Result<(), TransactionError> {
        self.tx
            .sender
            .verify(Domain::TransactionSignature, &encoding::to_bytes(&self.tx), &self.signature)
            .map_err(|_: CryptoError| TransactionError::BadSignature)?;
        match self.tx.payload.signed_row() {
            Some(row) if !row.verify() => Err(TransactionError::BadRowSignature),
            _ => Ok(()),
        }
    }

    /// Checks the chain id, then the signature.
    pub fn verify_for_chain(&self, chain_id: &ChainId) -> Result<(), TransactionError> {
        if &self.tx.chain_id != chain_id {
            return Err(TransactionError::WrongChain { expected: chain_id.clone(), found: self.tx.chain_id.clone() });
        }
        self.verify()
    }

    /// Decodes a submitted transaction, refusing anything over the transaction size limit.
    pub fn decode(bytes: &[u8]) -> Result<Self, TransactionError> {
        Ok(encoding::from_bytes_limited(bytes, TRANSACTION_SIZE_MAX_BYTES)?)
    }

    /// The id of an encoded signed transaction, read without decoding its payload: the
    /// bytes must be `BCS(Transaction) || BCS(Signature)`, their head a valid chain id and
    /// sender key, and the signature the sender's over the body. Equal to
    /// [`Self::hash`] of the decoded transaction for every signed transaction.
    ///
    /// For code that only needs the id (the wallet's `transactionHash`): it spares the
    /// decoder of every payload kind, and a body that is not what its sender signed is
    /// refused where a decode would accept it. A payload is not checked to be well formed,
    /// so a sender who signs bytes that do not decode gets an id for them; nodes refuse
    /// such a transaction at submission.
    pub fn hash_encoded(bytes: &[u8]) -> Result<TxHash, TransactionError> {
        if bytes.len() > TRANSACTION_SIZE_MAX_BYTES {
            return Err(
                DecodeError::TooLarge { size_bytes: bytes.len(), limit_bytes: TRANSACTION_SIZE_MAX_BYTES }.into()
            );
        }
        let short = || {
            TransactionError::Decode(DecodeError::Malformed {
                type_name: "SignedTransaction",
                reason: "too short for a transaction and its signature".into(),
            })
        };
        let split = bytes.len().checked_sub(SIGNATURE_ENCODED_LEN).ok_or_else(short)?;
        let (body, signature) = bytes.split_at(split);
        let signature: Signature = encoding::from_bytes(signature)?;
        // The head: the chain id (its length one ULEB128 byte, as ids are shorter than
        // 128 bytes) and the sender's key.
        let chain_id_len = usize::from(*body.first().ok_or_else(short)?);
        let head = body.get(..1 + chain_id_len + PUBLIC_KEY_ENCODED_LEN).ok_or_else(short)?;
        let (_, sender): (ChainId, PublicKey) = encoding::from_bytes(head)?;
        sender
            .verify(Domain::TransactionSignature, body, &signature)
            .map_err(|_: CryptoError| TransactionError::BadSignature)?;
        Ok(hash(Domain::Transaction, body))
    }
}

/// Bytes a signature takes at the end of an encoded signed transaction: its length (64,
/// one ULEB128 byte) and the 64 bytes.
const SIGNATURE_ENCODED_LEN: usize = 1 + 64;
/// Bytes the sender's key takes in an encoded transaction: its length and the 32 bytes.
const PUBLIC_KEY_ENCODED_LEN: usize = 1 + 32;
const _: () = assert!(crate::limits::CHAIN_ID_LEN_MAX < 128, "a chain id's length is one ULEB128 byte");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{chain, transfer};

    #[test]
    fn signed_transfer_verifies() {
        let (tx, _) = transfer(1, 0);
        tx.verify_for_chain(&chain()).unwrap();
    }

    #[test]
    fn changing_any_signed_field_breaks_the_signature() {
        let (tx, _) = transfer(1, 0);
        let mut t = tx.clone();
        t.tx.nonce = Nonce(1);
        assert_eq!(t.verify(), Err(TransactionError::BadSignature));
        let mut t = tx.clone();
        t.tx.fee = Amount(0);
        assert_eq!(t.verify(), Err(TransactionError::BadSignature));
        let mut t = tx;
        t.tx.chain_id = ChainId::new("other").unwrap();
        assert_eq!(t.verify(), Err(TransactionError::BadSignature));
    }

    #[test]
    fn transaction_for_another_chain_is_rejected() {
        let (tx, _) = transfer(1, 0);
        let other = ChainId::new("vigil-mainnet").unwrap();
        assert!(matches!(tx.verify_for_chain(&other), Err(TransactionError::WrongChain { .. })));
    }

    #[test]
    fn signature_by_another_key_is_rejected() {
        let (tx, _) = transfer(1, 0);
        let forged = tx.tx.clone().sign(&SecretKey::from_seed([99; 32]));
        assert_eq!(forged.verify(), Err(TransactionError::BadSignature));
    }

    #[test]
    fn oversized_transaction_bytes_are_refused_before_decoding() {
        let bytes = vec![0u8; TRANSACTION_SIZE_MAX_BYTES + 1];
        assert!(matches!(
            SignedTransaction::decode(&bytes),
            Err(TransactionError::Decode(DecodeError::TooLarge { .. }))
        ));
    }

    #[test]
    fn the_id_read_from_the_bytes_is_the_decoded_transactions() {
        for seed in 1..6 {
            let (tx, _) = transfer(seed, u64::from(seed) * 1000);
            let bytes = encoding::to_bytes(&tx);
            assert_eq!(SignedTransaction::hash_encoded(&bytes), Ok(tx.hash()));
            // The layout the reader assumes: the signature last, the key after the chain id.
            assert_eq!(encoding::to_bytes(&tx.signature).len(), SIGNATURE_ENCODED_LEN);
            assert_eq!(encoding::to_bytes(&tx.tx.sender).len(), PUBLIC_KEY_ENCODED_LEN);
        }
        // Another payload kind, the longest chain id and the largest nonce.
        let key = SecretKey::from_seed([5; 32]);
        let body = Transaction {
            chain_id: ChainId::new("c".repeat(crate::limits::CHAIN_ID_LEN_MAX)).unwrap(),
            sender: key.public_key(),
            nonce: Nonce(u64::MAX),
            fee: Amount(0),
            payload: Payload::RegisterUser(crate::UserId::new("alice").unwrap()),
        };
        let tx = body.sign(&key);
        assert_eq!(SignedTransaction::hash_encoded(&encoding::to_bytes(&tx)), Ok(tx.hash()));
    }

    #[test]
    fn an_id_is_refused_for_bytes_their_sender_did_not_sign() {
        let (tx, _) = transfer(1, 0);
        let bytes = encoding::to_bytes(&tx);
        // Any byte changed: the head no longer decodes, or the signature no longer verifies.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert!(SignedTransaction::hash_encoded(&b).is_err(), "byte {i} changed");
        }
        // Cut anywhere, or grown by a byte.
        for len in 0..bytes.len() {
            assert!(SignedTransaction::hash_encoded(&bytes[..len]).is_err(), "cut to {len}");
        }
        let mut longer = bytes.clone();
        longer.insert(40, 0);
        assert!(SignedTransaction::hash_encoded(&longer).is_err());
        // Signed by another key than the sender's.
        let forged = encoding::to_bytes(&tx.tx.clone().sign(&SecretKey::from_seed([99; 32])));
        assert_eq!(SignedTransaction::hash_encoded(&forged), Err(TransactionError::BadSignature));
        let huge = vec![0u8; TRANSACTION_SIZE_MAX_BYTES + 1];
        assert!(matches!(
            SignedTransaction::hash_encoded(&huge),
            Err(TransactionError::Decode(DecodeError::TooLarge { .. }))
        ));
    }

    #[test]
    fn tx_hash_ignores_the_signature_but_covers_the_body() {
        let (a, _) = transfer(1, 0);
        let (b, _) = transfer(1, 1);
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash(), a.tx.hash());
    }
}
