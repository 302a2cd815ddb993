//! Light-client checks against a trusted validator set.
//!
//! Decoding a validator set decompresses every public key, which costs about as much as
//! a third of a signature check; a wallet decodes its trusted set once and keeps it, so
//! [`TrustedSet`] is the unit the wallet (and the QC benchmark) works with.

use vigil_protocol::encoding::{self, DecodeError};
use vigil_protocol::{BlockError, CertifiedHeader, Hash32, QcError, QuorumCert, ValidatorSet};

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
}

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
mod tests {
    use super::*;
    use vigil_protocol::encoding::to_bytes;
    use vigil_protocol::{ChainId, EncryptionKey, Height, NodeId, SecretKey, ValidatorInfo, View, VoteData, VoteKind};

    fn fixture() -> (ValidatorSet, Vec<SecretKey>, VoteData) {
        let keys: Vec<SecretKey> = (1..=4u8).map(|i| SecretKey::from_seed([i; 32])).collect();
        let set = ValidatorSet::new(
            keys.iter().map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey([0; 32]))).collect(),
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

    #[test]
    fn garbage_bytes_are_a_decode_error() {
        let (set, _, _) = fixture();
        let trusted = TrustedSet::from_bytes_unpinned(&to_bytes(&set)).unwrap();
        assert!(matches!(trusted.verify_quorum_cert(&[1, 2, 3]), Err(LightError::Decode(_))));
        assert!(matches!(TrustedSet::from_bytes_unpinned(&[0xff; 10]), Err(LightError::Decode(_))));
    }
}
