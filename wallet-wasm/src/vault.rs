//! The vault's client-side half, no I/O: a per-object key derived from the wallet seed
//! (HKDF-SHA256), streaming chunked AEAD (XChaCha20-Poly1305 in the STREAM construction
//! of the `aead` crate: a nonce prefix, a chunk counter and a last-chunk flag, so chunks
//! cannot be reordered, dropped or truncated), erasure coding of the ciphertext into
//! stripes of n shards (Reed–Solomon, any k rebuild a stripe), and the rebuild that
//! checks every shard against the manifest's hashes first.
//!
//! Ciphertext layout: `nonce prefix (19 bytes) ‖ chunk₀ ‖ … ‖ chunkₘ`, each chunk its
//! plaintext (`chunk_bytes`, the last one shorter, possibly empty) plus a 16-byte tag;
//! the object id is every chunk's associated data.

use std::collections::BTreeMap;

use rand_core::CryptoRngCore;
use vigil_codec::stream;
use vigil_protocol::erasure::{self, ErasureError};
use vigil_protocol::vault::fragment_hash;
use vigil_protocol::{Address, Hash32, NodeId, UserId, VaultConfig, VaultManifest};
use zeroize::Zeroizing;

use crate::keys::WalletSeed;

/// Bytes of the STREAM nonce prefix (see [`vigil_codec::stream`]).
pub use vigil_codec::stream::NONCE_PREFIX_BYTES;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultClientError {
    #[error("the object is {len} bytes of ciphertext; the chain allows {max}")]
    TooLarge { len: u64, max: u64 },
    #[error("the ciphertext is damaged or not this wallet's (authentication failed)")]
    Decrypt,
    #[error("stripe {stripe}: only {have} of the {need} shards needed are intact")]
    NotEnoughShards { stripe: u32, have: usize, need: usize },
    #[error("erasure code: {0}")]
    Code(String),
    #[error("the manifest does not fit the chain's vault configuration: {0}")]
    Manifest(String),
}

/// The key of one object: HKDF-SHA256 of the wallet's entropy, bound to the object id.
/// Never leaves the wallet.
pub fn object_key(seed: &WalletSeed, object_id: &Hash32) -> Zeroizing<[u8; 32]> {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"vigil/v1/vault/object-key"), seed.entropy());
    let mut key = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's output limit.
    let _ = hk.expand(&object_id.0, key.as_mut());
    key
}

/// A new random object id.
pub fn new_object_id(rng: &mut impl CryptoRngCore) -> Hash32 {
    let mut id = [0u8; 32];
    rng.fill_bytes(&mut id);
    Hash32(id)
}

/// A random nonce for a vault request (see `vigil_protocol::RequestBinding`).
pub fn new_nonce(rng: &mut impl CryptoRngCore) -> u64 {
    rng.next_u64()
}

/// Ciphertext bytes for `plaintext_len` bytes in chunks of `chunk_bytes`.
pub fn ciphertext_len(plaintext_len: u64, chunk_bytes: u32) -> u64 {
    stream::sealed_len(plaintext_len, chunk_bytes)
}

/// Encrypts `plaintext` for `object_id` under a nonce prefix drawn from `rng`, calling
/// `progress(done, total)` per chunk.
pub fn encrypt(
    key: &[u8; 32],
    object_id: &Hash32,
    chunk_bytes: u32,
    plaintext: &[u8],
    rng: &mut impl CryptoRngCore,
    mut progress: impl FnMut(u64, u64),
) -> Result<Vec<u8>, VaultClientError> {
    let mut prefix = [0u8; NONCE_PREFIX_BYTES];
    rng.fill_bytes(&mut prefix);
    stream::seal(key, &prefix, &object_id.0, chunk_bytes, plaintext, &mut progress)
        .map_err(|_| VaultClientError::Decrypt)
}

/// Decrypts what [`encrypt`] made; any change, truncation or reordering fails.
pub fn decrypt(
    key: &[u8; 32],
    object_id: &Hash32,
    chunk_bytes: u32,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultClientError> {
    stream::open(key, &object_id.0, chunk_bytes, ciphertext).map_err(|_| VaultClientError::Decrypt)
}

/// Cuts `ciphertext` into stripes of `k × shard_bytes` (the last zero-padded) and codes
/// each into n shards: `k` originals, then `n − k` recovery shards.
pub fn split(cfg: &VaultConfig, ciphertext: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, VaultClientError> {
    let len = ciphertext.len() as u64;
    if len > cfg.object_bytes_max {
        return Err(VaultClientError::TooLarge { len, max: cfg.object_bytes_max });
    }
    let (k, n, shard) = (usize::from(cfg.threshold), usize::from(cfg.fragments), cfg.shard_bytes as usize);
    erasure::stripes(k, n, shard, ciphertext).map_err(|e| VaultClientError::Code(e.to_string()))
}

/// The manifest for `stripes` (as [`split`] made them).
#[allow(clippy::too_many_arguments)]
pub fn manifest(
    cfg: &VaultConfig,
    object_id: Hash32,
    owner: Address,
    user_id: UserId,
    stores: Vec<NodeId>,
    plaintext_len: u64,
    ciphertext_len: u64,
    stripes: &[Vec<Vec<u8>>],
    label: String,
) -> VaultManifest {
    VaultManifest {
        object_id,
        owner,
        user_id,
        threshold: cfg.threshold,
        fragments: cfg.fragments,
        shard_bytes: cfg.shard_bytes,
        chunk_bytes: cfg.chunk_bytes,
        plaintext_len,
        ciphertext_len,
        stores,
        fragment_hashes: stripes.iter().flat_map(|s| s.iter().map(|shard| fragment_hash(shard))).collect(),
        label,
    }
}

/// Rebuilds the ciphertext from the shards at hand (`stripe → index → bytes`), using
/// only shards whose hash the manifest lists at their position; returns the ciphertext
/// and how many shards were refused as tampered.
pub fn rebuild(
    m: &VaultManifest,
    shards: &BTreeMap<u32, BTreeMap<u8, Vec<u8>>>,
) -> Result<(Vec<u8>, usize), VaultClientError> {
    let (k, n) = (usize::from(m.threshold), usize::from(m.fragments));
    let mut out = Vec::with_capacity(m.stripes() * k * m.shard_bytes as usize);
    let mut refused = 0;
    let empty = BTreeMap::new();
    for s in 0..m.stripes() as u32 {
        let at = shards.get(&s).unwrap_or(&empty);
        let intact: BTreeMap<u8, &[u8]> = at
            .iter()
            .filter(|(i, bytes)| {
                let ok = m.fragment_hash(s, **i) == Some(fragment_hash(bytes));
                if !ok {
                    refused += 1;
                }
                ok
            })
            .map(|(i, b)| (*i, b.as_slice()))
            .collect();
        match erasure::originals(k, n, &intact) {
            Ok(originals) => originals.iter().for_each(|o| out.extend_from_slice(o)),
            Err(ErasureError::NotEnough { have, need }) => {
                return Err(VaultClientError::NotEnoughShards { stripe: s, have, need })
            }
            Err(e) => return Err(VaultClientError::Code(e.to_string())),
        }
    }
    out.truncate(m.ciphertext_len as usize);
    Ok((out, refused))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::XChaCha20Poly1305;
    use sha2::Digest;
    use vigil_codec::stream::TAG_BYTES;

    fn cfg() -> VaultConfig {
        VaultConfig { shard_bytes: 64, chunk_bytes: 100, ..VaultConfig::default() }
    }

    fn sealed(len: usize) -> (WalletSeed, Hash32, Vec<u8>, Vec<u8>) {
        let seed = WalletSeed::from_entropy(Zeroizing::new([3; 32]));
        let id = Hash32([5; 32]);
        let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let ct = encrypt(&object_key(&seed, &id), &id, cfg().chunk_bytes, &plain, &mut rng(4), |_, _| {}).unwrap();
        (seed, id, plain, ct)
    }

    fn rng(seed: u8) -> rand_chacha::ChaCha20Rng {
        rand_chacha::rand_core::SeedableRng::from_seed([seed; 32])
    }

    /// Known answers under injected randomness: the object key (HKDF-SHA256 of the
    /// entropy, bound to the object id) and the ciphertext, whose first chunk is also
    /// opened here with XChaCha20-Poly1305 alone (STREAM's nonce: the 19-byte prefix, the
    /// chunk counter big-endian, the last-chunk flag), so the format is the standard's.
    #[test]
    fn encryption_under_injected_randomness_gives_the_known_ciphertext() {
        let (seed, id, plain, ct) = sealed(250);
        let key = object_key(&seed, &id);
        assert_eq!(hex::encode(key.as_ref()), KAT_OBJECT_KEY);
        assert_eq!(hex::encode(sha2::Sha256::digest(&ct)), KAT_CIPHERTEXT_SHA256);
        assert_eq!(ct.len() as u64, ciphertext_len(250, cfg().chunk_bytes));
        let (prefix, rest) = ct.split_at(NONCE_PREFIX_BYTES);
        let mut rng4 = rng(4);
        let mut drawn = [0u8; NONCE_PREFIX_BYTES];
        rand_core::RngCore::fill_bytes(&mut rng4, &mut drawn);
        assert_eq!(prefix, drawn, "the nonce prefix is what the generator gave");
        let mut nonce = [0u8; 24];
        nonce[..NONCE_PREFIX_BYTES].copy_from_slice(prefix);
        let first = &rest[..cfg().chunk_bytes as usize + TAG_BYTES];
        let opened = XChaCha20Poly1305::new(key.as_ref().into())
            .decrypt((&nonce).into(), Payload { msg: first, aad: &id.0 })
            .expect("chunk 0 opens with the plain AEAD");
        assert_eq!(opened, plain[..cfg().chunk_bytes as usize]);
        let other = encrypt(&key, &id, cfg().chunk_bytes, &plain, &mut rng(5), |_, _| {}).unwrap();
        assert_ne!(other, ct, "another generator, another prefix");
    }

    const KAT_OBJECT_KEY: &str = "b2c20c2c109f99f199b729c52955b55a06be431a7e619b64e7fc98fba3948605";
    const KAT_CIPHERTEXT_SHA256: &str = "2e84388585cd23f6495505332f6d550b622d87c2ca04f948285694e7db7e272e";

    #[test]
    fn encryption_round_trips_and_rejects_any_change() {
        for len in [0, 1, 99, 100, 101, 1000] {
            let (seed, id, plain, ct) = sealed(len);
            assert_eq!(ct.len() as u64, ciphertext_len(len as u64, cfg().chunk_bytes), "len {len}");
            let key = object_key(&seed, &id);
            assert_eq!(decrypt(&key, &id, cfg().chunk_bytes, &ct).unwrap().as_slice(), plain.as_slice());
            // A 16-byte piece of the plaintext never shows (shorter pieces can by chance).
            if len >= 16 {
                assert!(!ct.windows(16).any(|w| w == &plain[..16]), "no plaintext in the ciphertext");
            }
            let mut bad = ct.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert_eq!(decrypt(&key, &id, cfg().chunk_bytes, &bad), Err(VaultClientError::Decrypt));
            // Truncated at a chunk boundary: the last-chunk flag catches it.
            if len > 200 {
                assert_eq!(decrypt(&key, &id, cfg().chunk_bytes, &ct[..19 + 116]), Err(VaultClientError::Decrypt));
            }
            // Another object's key, or the same bytes under another object id.
            assert!(decrypt(&object_key(&seed, &Hash32([6; 32])), &id, cfg().chunk_bytes, &ct).is_err());
            assert!(decrypt(&key, &Hash32([6; 32]), cfg().chunk_bytes, &ct).is_err());
        }
        let other = WalletSeed::from_entropy(Zeroizing::new([4; 32]));
        assert_ne!(*object_key(&other, &Hash32([5; 32])), *object_key(&sealed(0).0, &Hash32([5; 32])));
    }

    #[test]
    fn any_k_of_n_shards_rebuild_and_tampered_ones_are_refused() {
        let c = cfg();
        let (seed, id, plain, ct) = sealed(1000);
        let stripes = split(&c, &ct).unwrap();
        assert_eq!(stripes.len() as u64, c.stripes(ct.len() as u64));
        assert!(stripes.iter().all(|s| s.len() == 3 && s.iter().all(|x| x.len() == 64)));
        let stores = (0..3).map(|i| NodeId([i; 32])).collect();
        let m = manifest(
            &c,
            id,
            Address([1; 20]),
            UserId::new("u").unwrap(),
            stores,
            1000,
            ct.len() as u64,
            &stripes,
            String::new(),
        );
        assert_eq!(m.check(&c), Ok(()));
        let key = object_key(&seed, &id);
        // Every pair of the three stores is enough.
        for a in 0..3u8 {
            for b in (a + 1)..3u8 {
                let have: BTreeMap<u32, BTreeMap<u8, Vec<u8>>> = (0..stripes.len() as u32)
                    .map(|s| (s, [a, b].iter().map(|i| (*i, stripes[s as usize][*i as usize].clone())).collect()))
                    .collect();
                let (rebuilt, refused) = rebuild(&m, &have).unwrap();
                assert_eq!((rebuilt.as_slice(), refused), (ct.as_slice(), 0), "stores {a} and {b}");
                assert_eq!(decrypt(&key, &id, c.chunk_bytes, &rebuilt).unwrap().as_slice(), plain.as_slice());
            }
        }
        // A tampered shard is refused and another one used; too few intact is an error.
        let mut have: BTreeMap<u32, BTreeMap<u8, Vec<u8>>> = (0..stripes.len() as u32)
            .map(|s| (s, (0..3u8).map(|i| (i, stripes[s as usize][i as usize].clone())).collect()))
            .collect();
        have.get_mut(&0).unwrap().get_mut(&0).unwrap()[0] ^= 1;
        let (rebuilt, refused) = rebuild(&m, &have).unwrap();
        assert_eq!((rebuilt, refused), (ct.clone(), 1));
        have.get_mut(&0).unwrap().remove(&2);
        assert_eq!(rebuild(&m, &have), Err(VaultClientError::NotEnoughShards { stripe: 0, have: 1, need: 2 }));
    }

    #[test]
    fn empty_and_oversized_objects() {
        let c = cfg();
        let (_, _, _, ct) = sealed(0);
        assert_eq!(split(&c, &ct).unwrap().len(), 1);
        let big = vec![0u8; (c.object_bytes_max + 1) as usize];
        assert!(matches!(split(&c, &big), Err(VaultClientError::TooLarge { .. })));
    }
}
