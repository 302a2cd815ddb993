//! An applicant's identification claims sealed to each center's long-term X25519 key
//! (HPKE base mode, X25519-HKDF-SHA256 / HKDF-SHA256 / ChaCha20-Poly1305), bound by the
//! associated data to the claims' digest and the recipient's position: a copy cannot be
//! moved to another center or another request, and the chain, which sees the digest
//! only, holds every center to the same claims.

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{CryptoRng, RngCore};
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};

use super::issuance::{IdentityClaims, SealedClaims, SEALED_CLAIMS_BYTES_MAX};
use super::share::ShareKey;
use crate::crypto::EncryptionKey;
use crate::encoding::{from_bytes_limited, to_bytes};
use crate::hash::Hash32;

/// HPKE `info` of sealed claims (apart from the key generation's shares).
pub const CLAIMS_INFO: &[u8] = b"vigil cert claims v1";
/// ChaCha20-Poly1305's tag.
const TAG_BYTES: usize = 16;

type Kem = X25519HkdfSha256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("the center's key is not a valid X25519 key")]
    BadKey,
    #[error("the claims do not open with this center's key (sealed to another, altered, or moved)")]
    Open,
    #[error("the opened claims do not match the request's digest")]
    Digest,
    #[error("the claims are too large to seal (at most {SEALED_CLAIMS_BYTES_MAX} bytes sealed)")]
    TooLarge,
    #[error("cannot seal the claims")]
    Seal,
}

fn aad(digest: &Hash32, center: u16) -> [u8; 34] {
    let mut out = [0u8; 34];
    out[..32].copy_from_slice(&digest.0);
    out[32..].copy_from_slice(&center.to_be_bytes());
    out
}

/// `claims` sealed to center `center`, whose long-term key is `to`.
pub fn seal_claims<R: CryptoRng + RngCore>(
    to: &EncryptionKey,
    center: u16,
    claims: &IdentityClaims,
    rng: &mut R,
) -> Result<SealedClaims, ClaimsError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&to.0).map_err(|_| ClaimsError::BadKey)?;
    let mut body = zeroize::Zeroizing::new(to_bytes(claims));
    if body.len() + TAG_BYTES > SEALED_CLAIMS_BYTES_MAX {
        return Err(ClaimsError::TooLarge);
    }
    let (enc, tag) = hpke::single_shot_seal_in_place_detached::<ChaCha20Poly1305, HkdfSha256, Kem, R>(
        &OpModeS::Base,
        &pk,
        CLAIMS_INFO,
        &mut body[..],
        &aad(&claims.digest(), center),
        rng,
    )
    .map_err(|_| ClaimsError::Seal)?;
    let enc: [u8; 32] = enc.to_bytes().as_slice().try_into().map_err(|_| ClaimsError::Seal)?;
    let mut ciphertext = body.to_vec();
    ciphertext.extend_from_slice(&tag.to_bytes());
    Ok(SealedClaims { enc, ciphertext })
}

/// Center `center` opens its copy with its long-term key and checks it against `digest`.
pub fn open_claims(
    key: &ShareKey,
    center: u16,
    digest: &Hash32,
    sealed: &SealedClaims,
) -> Result<IdentityClaims, ClaimsError> {
    let split = sealed.ciphertext.len().checked_sub(TAG_BYTES).ok_or(ClaimsError::Open)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc).map_err(|_| ClaimsError::Open)?;
    let tag = hpke::aead::AeadTag::<ChaCha20Poly1305>::from_bytes(&sealed.ciphertext[split..])
        .map_err(|_| ClaimsError::Open)?;
    let mut body = zeroize::Zeroizing::new(sealed.ciphertext[..split].to_vec());
    hpke::single_shot_open_in_place_detached::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeR::Base,
        key.hpke_secret(),
        &enc,
        CLAIMS_INFO,
        &mut body[..],
        &aad(digest, center),
        &tag,
    )
    .map_err(|_| ClaimsError::Open)?;
    let claims: IdentityClaims = from_bytes_limited(&body, SEALED_CLAIMS_BYTES_MAX).map_err(|_| ClaimsError::Open)?;
    if claims.digest() != *digest {
        return Err(ClaimsError::Digest);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authcenter::issuance::Claim;
    use crate::authcenter::share::tests::Counter;

    #[test]
    fn claims_open_only_for_their_center_and_their_digest() {
        let claims =
            IdentityClaims { claims: vec![Claim { name: "email".into(), value: "alice@acme.example".into() }] };
        let (k0, k1) = (ShareKey::from_seed(&[1; 32]), ShareKey::from_seed(&[2; 32]));
        let sealed = seal_claims(&k0.public_key(), 0, &claims, &mut Counter(0)).unwrap();
        assert_eq!(open_claims(&k0, 0, &claims.digest(), &sealed).unwrap(), claims);
        assert_eq!(open_claims(&k1, 0, &claims.digest(), &sealed), Err(ClaimsError::Open), "another center's key");
        assert_eq!(open_claims(&k0, 1, &claims.digest(), &sealed), Err(ClaimsError::Open), "moved to another slot");
        let other = IdentityClaims::default().digest();
        assert_eq!(open_claims(&k0, 0, &other, &sealed), Err(ClaimsError::Open), "another request's digest");
        let mut altered = sealed.clone();
        altered.ciphertext[0] ^= 1;
        assert_eq!(open_claims(&k0, 0, &claims.digest(), &altered), Err(ClaimsError::Open));
        altered.ciphertext.truncate(3);
        assert_eq!(open_claims(&k0, 0, &claims.digest(), &altered), Err(ClaimsError::Open), "shorter than a tag");
    }
}
