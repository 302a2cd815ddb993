//! A key generation share sealed to its recipient, and opened again — by the recipient,
//! or by anyone once the recipient revealed its key in a complaint.
//!
//! HPKE (RFC 9180) base mode, single shot: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//! ChaCha20-Poly1305, the same suite as the rest of the system. The associated data
//! names the center set, the attempt, the sender and the recipient, so a share moved to
//! another place (another attempt, another sender's package, another recipient's slot)
//! does not open.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{CryptoRng, RngCore};
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

use super::dkg::{SealedShare, SEALED_SHARE_BYTES};
use crate::crypto::EncryptionKey;
use crate::hash::Hash32;

/// The generator traits [`seal`] takes (rand_core 0.9, HPKE's generation).
pub use hpke::rand_core;

/// A rand_core 0.6 generator (the generation FROST and the rest of the workspace use)
/// as the rand_core 0.9 generator [`seal`] takes.
pub struct Rng06<R>(pub R);

impl<R: ::rand_core::RngCore + ::rand_core::CryptoRng> rand_core::RngCore for Rng06<R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.0.fill_bytes(dst)
    }
}

impl<R: ::rand_core::RngCore + ::rand_core::CryptoRng> rand_core::CryptoRng for Rng06<R> {}

/// HPKE `info` of a sealed share: binds the key to this use.
pub const SHARE_INFO: &[u8] = b"vigil dkg share v1";

type Kem = X25519HkdfSha256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("the recipient's share key is not a valid X25519 key")]
    BadKey,
    #[error("the share does not open with this key (not sealed to it, or altered, or moved)")]
    Open,
    #[error("cannot seal the share")]
    Seal,
}

/// Where a sealed share belongs: what its associated data names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareLabel {
    pub set: Hash32,
    pub attempt: u32,
    pub sender: u16,
    pub recipient: u16,
}

impl ShareLabel {
    fn aad(&self) -> [u8; 40] {
        let mut out = [0u8; 40];
        out[..32].copy_from_slice(&self.set.0);
        out[32..36].copy_from_slice(&self.attempt.to_be_bytes());
        out[36..38].copy_from_slice(&self.sender.to_be_bytes());
        out[38..].copy_from_slice(&self.recipient.to_be_bytes());
        out
    }
}

/// Whether `key` is a key shares can be sealed to: a point of the curve (not of its
/// twist) outside the small subgroup. Every key [`ShareKey`] makes is; a center that
/// publishes another could never be sent its shares, so the chain refuses it.
pub fn usable(key: &EncryptionKey) -> bool {
    curve25519_dalek::montgomery::MontgomeryPoint(key.0).to_edwards(0).is_some_and(|p| !p.is_small_order())
}

/// Seals `share` to the participant whose key for this attempt is `to`.
pub fn seal<R: CryptoRng + RngCore>(
    to: &EncryptionKey,
    label: &ShareLabel,
    share: &[u8; 32],
    rng: &mut R,
) -> Result<SealedShare, ShareError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&to.0).map_err(|_| ShareError::BadKey)?;
    let mut body = Zeroizing::new(*share);
    let (enc, tag) = hpke::single_shot_seal_in_place_detached::<ChaCha20Poly1305, HkdfSha256, Kem, R>(
        &OpModeS::Base,
        &pk,
        SHARE_INFO,
        &mut body[..],
        &label.aad(),
        rng,
    )
    .map_err(|_| ShareError::Seal)?;
    let enc: [u8; 32] = enc.to_bytes().as_slice().try_into().map_err(|_| ShareError::Seal)?;
    let mut ciphertext = [0u8; SEALED_SHARE_BYTES];
    ciphertext[..32].copy_from_slice(&body[..]);
    ciphertext[32..].copy_from_slice(&tag.to_bytes());
    Ok(SealedShare { enc, ciphertext })
}

/// A participant's X25519 key for one attempt of the key generation.
pub struct ShareKey(<Kem as hpke::Kem>::PrivateKey);

impl std::fmt::Debug for ShareKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareKey(<secret>)")
    }
}

impl ShareKey {
    /// The key derived from a fresh 32-byte seed (HPKE's `DeriveKeyPair`).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(Kem::derive_keypair(seed).0)
    }

    /// The key whose secret a complaint revealed.
    pub fn from_secret(secret: &[u8; 32]) -> Result<Self, ShareError> {
        <Kem as hpke::Kem>::PrivateKey::from_bytes(secret).map(Self).map_err(|_| ShareError::BadKey)
    }

    /// The secret's bytes (what a complaint reveals).
    pub fn secret(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&self.0.to_bytes());
        out
    }

    /// The key the other participants seal to (published in the round-1 package).
    /// The key as HPKE holds it (for the claims sealed to a center's long-term key).
    pub(crate) fn hpke_secret(&self) -> &<Kem as hpke::Kem>::PrivateKey {
        &self.0
    }

    pub fn public_key(&self) -> EncryptionKey {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&Kem::sk_to_pk(&self.0).to_bytes());
        EncryptionKey(bytes)
    }

    /// Opens a share sealed to this key at `label`'s place.
    pub fn open(&self, sealed: &SealedShare, label: &ShareLabel) -> Result<Zeroizing<[u8; 32]>, ShareError> {
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc).map_err(|_| ShareError::Open)?;
        let tag = hpke::aead::AeadTag::<ChaCha20Poly1305>::from_bytes(&sealed.ciphertext[32..])
            .map_err(|_| ShareError::Open)?;
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&sealed.ciphertext[..32]);
        hpke::single_shot_open_in_place_detached::<ChaCha20Poly1305, HkdfSha256, Kem>(
            &OpModeR::Base,
            &self.0,
            &enc,
            SHARE_INFO,
            &mut out[..],
            &label.aad(),
            &tag,
        )
        .map_err(|_| ShareError::Open)?;
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A deterministic generator for the sealing tests (an LCG: not for keys).
    pub(crate) struct Counter(pub u64);
    impl RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            for b in dst {
                *b = (self.next_u64() >> 33) as u8;
            }
        }
    }
    impl CryptoRng for Counter {}

    #[test]
    fn a_share_opens_only_with_its_key_at_its_place() {
        let key = ShareKey::from_seed(&[7; 32]);
        let label = ShareLabel { set: Hash32([1; 32]), attempt: 0, sender: 2, recipient: 4 };
        let sealed = seal(&key.public_key(), &label, &[9; 32], &mut Counter(1)).unwrap();
        assert_eq!(*key.open(&sealed, &label).unwrap(), [9; 32]);

        // The revealed secret opens it just the same (what a complaint relies on).
        let revealed = ShareKey::from_secret(&key.secret()).unwrap();
        assert_eq!(revealed.public_key(), key.public_key());
        assert_eq!(*revealed.open(&sealed, &label).unwrap(), [9; 32]);

        assert!(usable(&key.public_key()));
        assert!(!usable(&EncryptionKey([0; 32])), "the identity");
        assert!(
            !usable(&EncryptionKey({
                let mut b = [0; 32];
                b[0] = 1;
                b
            })),
            "order 4"
        );

        let other = ShareKey::from_seed(&[8; 32]);
        assert_eq!(other.open(&sealed, &label), Err(ShareError::Open));
        for moved in [
            ShareLabel { attempt: 1, ..label },
            ShareLabel { sender: 3, ..label },
            ShareLabel { recipient: 0, ..label },
            ShareLabel { set: Hash32([2; 32]), ..label },
        ] {
            assert_eq!(key.open(&sealed, &moved), Err(ShareError::Open), "{moved:?}");
        }
        let mut altered = sealed.clone();
        altered.ciphertext[5] ^= 1;
        assert_eq!(key.open(&altered, &label), Err(ShareError::Open));
    }
}
