//! The one rule every Ed25519 signature is judged by, single or batched: ZIP-215.
//!
//! `S` must be canonical (below ℓ), `R` must decode to a curve point, and the
//! *cofactored* equation `[8][S]B = [8]R + [8][k]A` must hold, `k = SHA-512(R ‖ A ‖ M)`.
//! It is the rule under which a batch accepts exactly what single checks accept
//! (<https://zips.z.cash/zip-0215>; "Taming the many EdDSAs", Chalkias et al. 2020), so a
//! transaction in a block, a vote in a certificate and the same statement quoted as
//! evidence get one answer from every node and every wallet. RFC 8032's cofactorless
//! single check and ed25519-dalek's batch disagree on a signature with a small-order
//! component (dalek's batch takes one in about eight batches), which a Byzantine signer
//! can make with its own key.
//!
//! Only the equation is here, on curve25519-dalek's group operations (the crate
//! ed25519-dalek signs with), without the 30 KB of basepoint tables a second Ed25519
//! crate would bring into the wallet's wasm. It is held to `ed25519-zebra`, the Zcash
//! Foundation's implementation of the rule, by the tests below and by a property test
//! on random, torsioned and corrupted signatures, single and batched.
//! Keys are parsed (and small-order keys refused) by [`crate::crypto::PublicKey`].

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

use crate::hash::Domain;

/// One signature ready for the equation: `R` decoded, `S` canonical, `k` hashed.
struct Prepared {
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

/// Decodes `R` and `S` and hashes `k`; `None` when `S ≥ ℓ` or `R` is not a point.
fn prepare(key_bytes: &[u8; 32], signature: &[u8; 64], message: &[u8]) -> Option<Prepared> {
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&signature[..32]);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&signature[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))?;
    let r = CompressedEdwardsY(r_bytes).decompress()?;
    let k = Scalar::from_bytes_mod_order_wide(
        &Sha512::new().chain_update(r_bytes).chain_update(key_bytes).chain_update(message).finalize().into(),
    );
    Some(Prepared { r, s, k })
}

/// `[8]([S]B − [k]A − R) = 0` for one signature by the key `a` (encoded as `key_bytes`).
pub(crate) fn verify(a: &EdwardsPoint, key_bytes: &[u8; 32], signature: &[u8; 64], message: &[u8]) -> bool {
    let Some(p) = prepare(key_bytes, signature, message) else { return false };
    let r_prime = EdwardsPoint::vartime_double_scalar_mul_basepoint(&p.k, &-a, &p.s);
    (p.r - r_prime).mul_by_cofactor().is_identity()
}

/// One signature of a batch: the key's point and encoding, the signature, the message.
pub(crate) type Item<'a> = (&'a EdwardsPoint, &'a [u8; 32], &'a [u8; 64], &'a [u8]);

/// `[8](−[Σ zᵢSᵢ]B + Σ [zᵢ]Rᵢ + Σ [zᵢkᵢ]Aᵢ) = 0` with 128-bit coefficients `zᵢ` drawn
/// from a hash of the whole batch: true when every signature verifies alone, false
/// otherwise except with probability about 2⁻¹²⁸. The answer is a function of the inputs
/// only (no randomness: the consensus core may call it), and no signer can aim its
/// signature at coefficients it cannot know before the batch is fixed.
pub(crate) fn verify_batch(items: &[Item<'_>]) -> bool {
    let mut seed = Sha512::new();
    seed.update(Domain::BatchVerificationSeed.tag().as_bytes());
    seed.update([0u8]);
    for (_, key_bytes, signature, message) in items {
        seed.update(key_bytes);
        seed.update(signature);
        seed.update((message.len() as u64).to_le_bytes());
        seed.update(message);
    }
    let seed = seed.finalize();

    let mut b_coeff = Scalar::ZERO;
    let mut coeffs = Vec::with_capacity(1 + 2 * items.len());
    let mut points = Vec::with_capacity(1 + 2 * items.len());
    coeffs.push(Scalar::ZERO);
    points.push(ED25519_BASEPOINT_POINT);
    for (i, (a, key_bytes, signature, message)) in items.iter().enumerate() {
        let Some(p) = prepare(key_bytes, signature, message) else { return false };
        let z_hash = Sha512::new().chain_update(seed).chain_update((i as u64).to_le_bytes()).finalize();
        let mut z_bytes = [0u8; 32];
        z_bytes[..16].copy_from_slice(&z_hash[..16]);
        let z = Scalar::from_bytes_mod_order(z_bytes);
        b_coeff -= z * p.s;
        coeffs.push(z);
        points.push(p.r);
        coeffs.push(z * p.k);
        points.push(**a);
    }
    coeffs[0] = b_coeff;
    EdwardsPoint::vartime_multiscalar_mul(&coeffs, &points).mul_by_cofactor().is_identity()
}

/// A signature a Byzantine signer can make with its own key: RFC 8032's, with the
/// small-order point `EIGHT_TORSION[torsion]` added to `R` (0: none).
#[cfg(test)]
pub(crate) fn torsioned_signature(seed: [u8; 32], torsion: usize, message: &[u8]) -> [u8; 64] {
    use curve25519_dalek::constants::EIGHT_TORSION;
    let expanded: [u8; 64] = Sha512::digest(seed).into();
    let mut a_bytes = [0u8; 32];
    a_bytes.copy_from_slice(&expanded[..32]);
    a_bytes[0] &= 248;
    a_bytes[31] &= 127;
    a_bytes[31] |= 64;
    let a = Scalar::from_bytes_mod_order(a_bytes);
    let public = (ED25519_BASEPOINT_POINT * a).compress().to_bytes();
    let r = Scalar::from_bytes_mod_order_wide(
        &Sha512::new().chain_update(&expanded[32..]).chain_update(message).finalize().into(),
    );
    let big_r = (ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[torsion % 8]).compress().to_bytes();
    let k = Scalar::from_bytes_mod_order_wide(
        &Sha512::new().chain_update(big_r).chain_update(public).chain_update(message).finalize().into(),
    );
    let s = r + k * a;
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&big_r);
    out[32..].copy_from_slice(s.as_bytes());
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: `ed25519-zebra`'s ZIP-215 check of one signature.
    fn reference(key_bytes: &[u8; 32], signature: &[u8; 64], message: &[u8]) -> bool {
        let Ok(key) = ed25519_zebra::VerificationKey::try_from(*key_bytes) else { return false };
        key.verify(&ed25519_zebra::Signature::from_bytes(signature), message).is_ok()
    }

    fn point(key_bytes: &[u8; 32]) -> EdwardsPoint {
        CompressedEdwardsY(*key_bytes).decompress().unwrap()
    }

    fn public(seed: [u8; 32]) -> [u8; 32] {
        ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes()
    }

    /// Every change a corrupting peer might try on a signature.
    #[derive(Debug, Clone)]
    enum Change {
        None,
        FlipBit(usize),
        /// `S + ℓ`: the same residue, a non-canonical encoding.
        AddEll,
        /// Some other 32 bytes as `R`.
        OtherR([u8; 32]),
        Zeroes,
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            Just(Change::None),
            (0usize..512).prop_map(Change::FlipBit),
            Just(Change::AddEll),
            any::<[u8; 32]>().prop_map(Change::OtherR),
            Just(Change::Zeroes),
        ]
    }

    fn apply(mut sig: [u8; 64], change: &Change) -> [u8; 64] {
        match change {
            Change::None => {}
            Change::FlipBit(bit) => sig[bit / 8] ^= 1 << (bit % 8),
            Change::AddEll => {
                let ell_minus_one = (-Scalar::ONE).to_bytes();
                let mut carry = 1u16;
                for (byte, ell) in sig[32..].iter_mut().zip(ell_minus_one) {
                    let v = *byte as u16 + ell as u16 + carry;
                    *byte = v as u8;
                    carry = v >> 8;
                }
            }
            Change::OtherR(r) => sig[..32].copy_from_slice(r),
            Change::Zeroes => sig = [0; 64],
        }
        sig
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Ours and the reference agree on every signature, honest, torsioned or
        /// corrupted; a batch of them passes exactly when each passes alone.
        #[test]
        fn agrees_with_ed25519_zebra_alone_and_in_batches(
            signers in proptest::collection::vec((any::<[u8; 32]>(), 0usize..8, any::<Vec<u8>>(), change()), 1..6),
        ) {
            let mut keys = Vec::new();
            let mut sigs = Vec::new();
            let mut all_pass = true;
            for (seed, torsion, message, change) in &signers {
                let key_bytes = public(*seed);
                let sig = apply(torsioned_signature(*seed, *torsion, message), change);
                let ours = verify(&point(&key_bytes), &key_bytes, &sig, message);
                prop_assert_eq!(ours, reference(&key_bytes, &sig, message), "torsion {} change {:?}", torsion, change);
                all_pass &= ours;
                keys.push((point(&key_bytes), key_bytes));
                sigs.push(sig);
            }
            let items: Vec<_> = signers
                .iter()
                .enumerate()
                .map(|(i, (_, _, message, _))| (&keys[i].0, &keys[i].1, &sigs[i], message.as_slice()))
                .collect();
            prop_assert_eq!(verify_batch(&items), all_pass);
        }
    }

    #[test]
    fn honest_and_torsioned_signatures_verify_corrupted_ones_do_not() {
        for torsion in 0..8 {
            let key_bytes = public([5; 32]);
            let sig = torsioned_signature([5; 32], torsion, b"m");
            assert!(verify(&point(&key_bytes), &key_bytes, &sig, b"m"), "torsion {torsion}");
            assert!(reference(&key_bytes, &sig, b"m"));
            assert!(!verify(&point(&key_bytes), &key_bytes, &sig, b"other"));
            assert!(!verify(&point(&key_bytes), &key_bytes, &apply(sig, &Change::AddEll), b"m"));
        }
        // Torsion 0 is RFC 8032's own signature, byte for byte.
        use ed25519_dalek::Signer;
        let dalek = ed25519_dalek::SigningKey::from_bytes(&[5; 32]).sign(b"m").to_bytes();
        assert_eq!(torsioned_signature([5; 32], 0, b"m"), dalek);
    }

    #[test]
    fn an_empty_batch_passes_and_one_bad_signature_fails_a_large_one() {
        assert!(verify_batch(&[]));
        let seeds: Vec<[u8; 32]> = (0..40u8).map(|i| [i; 32]).collect();
        let keys: Vec<_> = seeds.iter().map(|s| public(*s)).collect();
        let points: Vec<_> = keys.iter().map(point).collect();
        let mut sigs: Vec<_> = seeds.iter().map(|s| torsioned_signature(*s, 0, b"block")).collect();
        let items = |sigs: &Vec<[u8; 64]>| -> bool {
            let items: Vec<_> = (0..40).map(|i| (&points[i], &keys[i], &sigs[i], b"block".as_slice())).collect();
            verify_batch(&items)
        };
        assert!(items(&sigs));
        sigs[17][40] ^= 1;
        assert!(!items(&sigs));
    }
}
