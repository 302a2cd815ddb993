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
            return Err(LightError::UntrustedSet {
                expected: *pinned,
                found: set.hash(),
            });
        }
        Ok(Self { set })
    }

    /// Decodes a set without a pin (for tools and benchmarks that built the set themselves).
    pub fn from_bytes_unpinned(bytes: &[u8]) -> Result<Self, LightError> {
        Ok(Self {
            set: encoding::from_bytes(bytes)?,
        })
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
