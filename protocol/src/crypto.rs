//! Ed25519 keys and signatures (ed25519-dalek signs), checked by one rule whether alone
//! or in a batch (ZIP-215, the `zip215` module), and the X25519 public key each node
//! publishes for HPKE.
//!
//! Every signature covers `Domain::tag || 0x00 || canonical bytes` (see [`Domain`]), so a
//! signature made for one purpose can never be replayed as another. Keys of small order
//! are refused when parsed (they would let anyone sign anything); a key is parsed once,
//! so every path refuses them alike.

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

    /// Verifies `signature` over `domain`-framed `message` by the ZIP-215 rule, the rule
    /// [`verify_batch`] applies too.
    pub fn verify(&self, domain: Domain, message: &[u8], signature: &Signature) -> Result<(), CryptoError> {
        let ok = crate::zip215::verify(
            &self.0.to_edwards(),
            self.as_bytes(),
            &signature.to_bytes(),
            &domain.framed(message),
        );
        if ok {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }
}

impl PublicKey {
    /// Verifies `signature` over `message` as it is, with no domain framing, by the same
    /// ZIP-215 rule: only for formats that fix what is signed themselves (an X.509
    /// certificate's TBS bytes, [`crate::x509`]).
    pub(crate) fn verify_unframed(&self, message: &[u8], signature: &Signature) -> Result<(), CryptoError> {
        if crate::zip215::verify(&self.0.to_edwards(), self.as_bytes(), &signature.to_bytes(), message) {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
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
        f.write_str(&crate::bytes::to_hex(self.as_bytes()))
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
    #[cfg(feature = "os-rng")]
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

/// Verifies many signatures at once (quorum certificates, a block's transactions), about
/// twice as fast per signature as one by one. The same rule as [`PublicKey::verify`]
/// (ZIP-215): the batch passes exactly when each signature would pass alone (except with
/// probability about 2⁻¹²⁸), and its answer depends on nothing but its inputs.
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
    let points: Vec<_> = keys.iter().map(|k| k.0.to_edwards()).collect();
    let sigs: Vec<[u8; 64]> = signatures.iter().map(Signature::to_bytes).collect();
    let items: Vec<_> =
        (0..keys.len()).map(|i| (&points[i], keys[i].as_bytes(), &sigs[i], framed[i].as_slice())).collect();
    if crate::zip215::verify_batch(&items) {
        Ok(())
    } else {
        Err(CryptoError::BadSignature)
    }
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

    /// Finding 12 of the soundness review: on 35b51aa single statements were checked
    /// cofactorless (`verify_strict`) and batches by ed25519-dalek's randomized equation,
    /// which takes a signature with a small-order component in about one batch of eight.
    /// A Byzantine validator's vote could then sit in one node's certificate and be refused
    /// by another node, or be refused as evidence. Now every path gives one answer.
    #[test]
    fn single_and_batched_checks_accept_exactly_the_same_signatures() {
        let domain = Domain::VoteSignature;
        let byzantine = SecretKey::from_seed([7; 32]);
        let honest: Vec<_> = (0..6u8).map(|i| SecretKey::from_seed([i + 20; 32])).collect();
        let odd = Signature::from_bytes(&crate::zip215::torsioned_signature([7; 32], 1, &domain.framed(b"vote")));
        let single = byzantine.public_key().verify(domain, b"vote", &odd).is_ok();
        assert!(single, "ZIP-215 is cofactored: a small-order component in R does not change the answer");
        // The same signature in 64 different certificates: the answer never changes.
        for round in 0..64u32 {
            let message = round.to_le_bytes();
            let others = &honest[..1 + round as usize % honest.len()];
            let mut keys: Vec<_> = others.iter().map(SecretKey::public_key).collect();
            let mut sigs: Vec<_> = others.iter().map(|k| k.sign(domain, &message)).collect();
            let mut messages: Vec<&[u8]> = vec![&message; others.len()];
            keys.push(byzantine.public_key());
            sigs.push(odd);
            messages.push(b"vote");
            assert_eq!(verify_batch(domain, &messages, &sigs, &keys).is_ok(), single, "batch {round} disagrees");
        }
        // Every one-bit change of either signature: single and batch agree on each.
        let fair = byzantine.sign(domain, b"vote");
        for base in [odd, fair] {
            for bit in 0..512 {
                let mut bytes = base.to_bytes();
                bytes[bit / 8] ^= 1 << (bit % 8);
                let changed = Signature::from_bytes(&bytes);
                let alone = byzantine.public_key().verify(domain, b"vote", &changed).is_ok();
                let batched = verify_batch(
                    domain,
                    &[b"vote", b"other"],
                    &[changed, honest[0].sign(domain, b"other")],
                    &[byzantine.public_key(), honest[0].public_key()],
                )
                .is_ok();
                assert_eq!(alone, batched, "bit {bit}");
                assert!(!alone, "a changed signature never verifies (bit {bit})");
            }
        }
    }

    #[test]
    fn rfc8032_test_vector_1_signs_as_published() {
        let seed: [u8; 32] = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
        // RFC 8032 §7.1 TEST 1 signs the empty message; ours are framed, so sign unframed
        // with the signer to pin the scheme, and check it by our rule.
        let raw = SigningKey::from_bytes(&seed).sign(b"");
        let key = SecretKey::from_seed(seed).public_key();
        assert!(crate::zip215::verify(&key.0.to_edwards(), key.as_bytes(), &raw.to_bytes(), b""));
        assert_eq!(
            hex::encode(raw.to_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn secret_key_debug_is_redacted() {
        let key = SecretKey::from_seed([9; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&hex::encode([9u8; 32])));
    }
}
