//! Ed25519 signatures with strict verification, batch verification for certificates,
//! and the X25519 public key each node publishes for HPKE.
//!
//! Every signature covers `Domain::tag || 0x00 || canonical bytes` (see [`Domain`]), so a
//! signature made for one purpose can never be replayed as another. Single signatures
//! are checked with `verify_strict` (rejects non-canonical and small-order points).
//! Batch verification is for quorum certificates, see [`verify_batch`].

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

use crate::bytes::byte_newtype;
use crate::hash::Domain;

/// Why a key or signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("public key is not a valid Ed25519 point")]
    InvalidPublicKey,
    #[error("public key has small order and cannot be trusted")]
    WeakPublicKey,
    #[error("signature does not verify for this key and message")]
    BadSignature,
    #[error("batch has {keys} keys, {messages} messages and {signatures} signatures")]
    BatchShape { keys: usize, messages: usize, signatures: usize },
}

/// An Ed25519 public key, checked to decompress on construction.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

/// Keys parsed before. Decompressing a point costs about a third of a signature check,
/// and a node decodes the same senders' and validators' keys again and again (client
/// submissions, gossip, proposals, votes), so valid keys are remembered. Bounded: the
/// map is emptied when full. A miss computes exactly what a hit returns.
static PARSED_KEYS: std::sync::Mutex<std::collections::BTreeMap<[u8; 32], VerifyingKey>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());
const PARSED_KEYS_MAX: usize = 16_384;

impl PublicKey {
    /// Parses 32 bytes, refusing points that do not decompress or that have small order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, CryptoError> {
        if let Some(key) = PARSED_KEYS.lock().ok().and_then(|m| m.get(bytes).copied()) {
            return Ok(Self(key));
        }
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| CryptoError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(CryptoError::WeakPublicKey);
        }
        if let Ok(mut m) = PARSED_KEYS.lock() {
            if m.len() >= PARSED_KEYS_MAX {
                m.clear();
            }
            m.insert(*bytes, key);
        }
        Ok(Self(key))
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Strictly verifies `signature` over `domain`-framed `message`.
    pub fn verify(&self, domain: Domain, message: &[u8], signature: &Signature) -> Result<(), CryptoError> {
        self.0.verify_strict(&domain.framed(message), &signature.0).map_err(|_| CryptoError::BadSignature)
    }
}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", hex::encode(&self.as_bytes()[..8]))
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.as_bytes()))
    }
}

impl std::str::FromStr for PublicKey {
    type Err = CryptoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| CryptoError::InvalidPublicKey)?;
        Self::from_bytes(&out)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::bytes::serialize(self.as_bytes(), s)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: [u8; 32] = crate::bytes::deserialize(d)?;
        Self::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 signature (64 bytes). Its validity is only known against a key and message.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(ed25519_dalek::Signature);

impl Signature {
    pub fn from_bytes(bytes: &[u8; 64]) -> Self {
        Self(ed25519_dalek::Signature::from_bytes(bytes))
    }
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0.to_bytes()
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.to_bytes()[..8]))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::bytes::serialize(&self.to_bytes(), s)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: [u8; 64] = crate::bytes::deserialize(d)?;
        Ok(Self::from_bytes(&bytes))
    }
}

/// An Ed25519 secret key. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// The key whose 32-byte seed is `seed` (RFC 8032 secret key).
    pub fn from_seed(mut seed: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&seed);
        seed.zeroize();
        Self(key)
    }

    /// A fresh key from the operating system's (or browser's) CSPRNG.
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut rand_core::OsRng))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The 32-byte seed, for keystores. Callers must zeroize what they keep.
    pub fn to_seed(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.0.to_bytes())
    }

    /// Signs `domain`-framed `message`.
    pub fn sign(&self, domain: Domain, message: &[u8]) -> Signature {
        Signature(self.0.sign(&domain.framed(message)))
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(<redacted>, public {:?})", self.public_key())
    }
}

/// Verifies many signatures at once (for quorum certificates).
///
/// Uses ed25519-dalek's randomized batch equation, roughly twice as fast per signature
/// as one-by-one verification. Batch verification is cofactored, so it accepts a
/// strict superset of what `verify_strict` accepts: only signatures crafted with a
/// small-order component differ, which an honest signer never produces and which
/// cannot forge an honest validator's vote. Nodes check each incoming vote with
/// [`PublicKey::verify`] before aggregating, so certificates built by honest nodes
/// pass both checks.
pub fn verify_batch(
    domain: Domain,
    messages: &[&[u8]],
    signatures: &[Signature],
    keys: &[PublicKey],
) -> Result<(), CryptoError> {
    if messages.len() != signatures.len() || keys.len() != signatures.len() {
        return Err(CryptoError::BatchShape {
            keys: keys.len(),
            messages: messages.len(),
            signatures: signatures.len(),
        });
    }
    let framed: Vec<Vec<u8>> = messages.iter().map(|m| domain.framed(m)).collect();
    let framed_refs: Vec<&[u8]> = framed.iter().map(Vec::as_slice).collect();
    let sigs: Vec<ed25519_dalek::Signature> = signatures.iter().map(|s| s.0).collect();
    let vks: Vec<VerifyingKey> = keys.iter().map(|k| k.0).collect();
    ed25519_dalek::verify_batch(&framed_refs, &sigs, &vks).map_err(|_| CryptoError::BadSignature)
}

byte_newtype!(
    /// A node's X25519 public key, published in the validator set; the gateway and the
    /// wallet seal requests to it with HPKE (RFC 9180).
    EncryptionKey,
    32
);

byte_newtype!(
    /// A node's X25519 Noise static key between nodes, published in the validator set
    /// beside (and distinct from) its [`EncryptionKey`]: a link is accepted only from a
    /// validator's published p2p key.
    P2pKey,
    32
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_verifies_only_in_its_domain() {
        let key = SecretKey::from_seed([1; 32]);
        let sig = key.sign(Domain::VoteSignature, b"m");
        key.public_key().verify(Domain::VoteSignature, b"m", &sig).unwrap();
        assert_eq!(key.public_key().verify(Domain::ReceiptSignature, b"m", &sig), Err(CryptoError::BadSignature));
    }

    #[test]
    fn rfc8032_test_vector_1_matches() {
        // RFC 8032 §7.1 TEST 1: our keys are plain Ed25519; only the signed bytes are framed.
        let seed: [u8; 32] = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
        let key = SecretKey::from_seed(seed);
        assert_eq!(key.public_key().to_string(), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    }

    #[test]
    fn remembered_keys_parse_as_before_and_bad_keys_are_never_remembered() {
        let good = SecretKey::from_seed([42; 32]).public_key().to_bytes();
        let mut identity = [0u8; 32];
        identity[0] = 1;
        for _ in 0..3 {
            assert_eq!(PublicKey::from_bytes(&good).unwrap().to_bytes(), good);
            assert_eq!(PublicKey::from_bytes(&identity), Err(CryptoError::WeakPublicKey));
        }
    }

    #[test]
    fn small_order_public_key_is_rejected() {
        // The identity point (y = 1) has order 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(CryptoError::WeakPublicKey));
    }

    #[test]
    fn batch_rejects_one_bad_signature() {
        let keys: Vec<_> = (0..5u8).map(|i| SecretKey::from_seed([i + 1; 32])).collect();
        let msgs: Vec<&[u8]> = vec![b"block"; 5];
        let mut sigs: Vec<_> = keys.iter().map(|k| k.sign(Domain::VoteSignature, b"block")).collect();
        let pks: Vec<_> = keys.iter().map(SecretKey::public_key).collect();
        verify_batch(Domain::VoteSignature, &msgs, &sigs, &pks).unwrap();
        sigs[3] = keys[3].sign(Domain::VoteSignature, b"other");
        assert_eq!(verify_batch(Domain::VoteSignature, &msgs, &sigs, &pks), Err(CryptoError::BadSignature));
    }

    #[test]
    fn secret_key_debug_is_redacted() {
        let key = SecretKey::from_seed([9; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&hex::encode([9u8; 32])));
    }
}
