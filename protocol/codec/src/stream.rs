//! An object's chunked encryption: XChaCha20-Poly1305 in the STREAM construction of the
//! `aead` crate (`StreamBE32`: a 19-byte nonce prefix, a big-endian chunk counter and a
//! last-chunk flag), so chunks cannot be reordered, dropped or truncated.
//!
//! Layout: `nonce prefix (19 bytes) ‖ chunk₀ ‖ … ‖ chunkₘ`, each chunk its plaintext
//! (`chunk_bytes`, the last one shorter, possibly empty) and a 16-byte tag. Each chunk is
//! sealed and opened in place in the output (one copy of the bytes, no buffer per chunk).

use chacha20poly1305::aead::stream::{NewStream, StreamBE32, StreamPrimitive};
use chacha20poly1305::aead::{Buffer, KeyInit};
use chacha20poly1305::XChaCha20Poly1305;
use zeroize::Zeroizing;

/// Bytes of the STREAM nonce prefix for XChaCha20-Poly1305 (24 − 5).
pub const NONCE_PREFIX_BYTES: usize = 19;
/// Bytes of each chunk's tag.
pub const TAG_BYTES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// A chunk's tag does not check, or the chunks were cut, reordered or dropped.
    #[error("the ciphertext is damaged or not under this key (authentication failed)")]
    Unauthentic,
    /// More chunks than the STREAM counter numbers.
    #[error("more than 2³² chunks")]
    TooManyChunks,
}

/// Ciphertext bytes for `plaintext_len` bytes in chunks of `chunk_bytes`.
pub fn sealed_len(plaintext_len: u64, chunk_bytes: u32) -> u64 {
    let chunk = u64::from(chunk_bytes.max(1));
    let chunks = (plaintext_len / chunk) + 1; // the last chunk may be empty
    NONCE_PREFIX_BYTES as u64 + plaintext_len + chunks * TAG_BYTES as u64
}

/// Seals `plaintext` under `key` and `prefix`, each chunk bound to `aad`, calling
/// `progress(done, total)` per chunk.
pub fn seal(
    key: &[u8; 32],
    prefix: &[u8; NONCE_PREFIX_BYTES],
    aad: &[u8],
    chunk_bytes: u32,
    plaintext: &[u8],
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Vec<u8>, StreamError> {
    let chunk = chunk_bytes.max(1) as usize;
    let stream = StreamBE32::from_aead(XChaCha20Poly1305::new(key.into()), prefix.into());
    let mut out = Vec::with_capacity(sealed_len(plaintext.len() as u64, chunk_bytes) as usize);
    out.extend_from_slice(prefix);
    let total = plaintext.len() as u64;
    let mut pieces = plaintext.chunks(chunk);
    // A plaintext of whole chunks ends with an empty last one.
    let count = plaintext.len() / chunk + 1;
    for position in 0..count {
        let piece = pieces.next().unwrap_or_default();
        let start = out.len();
        out.extend_from_slice(piece);
        let at = u32::try_from(position).map_err(|_| StreamError::TooManyChunks)?;
        stream
            .encrypt_in_place(at, position + 1 == count, aad, &mut Tail { out: &mut out, start })
            .map_err(|_| StreamError::TooManyChunks)?;
        progress(((position + 1) * chunk).min(plaintext.len()) as u64, total);
    }
    Ok(out)
}

/// Opens what [`seal`] made; any change, truncation or reordering fails.
pub fn open(
    key: &[u8; 32],
    aad: &[u8],
    chunk_bytes: u32,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, StreamError> {
    if ciphertext.len() < NONCE_PREFIX_BYTES + TAG_BYTES {
        return Err(StreamError::Unauthentic);
    }
    let (prefix, body) = ciphertext.split_at(NONCE_PREFIX_BYTES);
    let stream = StreamBE32::from_aead(XChaCha20Poly1305::new(key.into()), prefix.into());
    let sealed_chunk = (chunk_bytes.max(1) as usize).saturating_add(TAG_BYTES);
    // A full-size final chunk is followed by an empty last one: every chunk but the last
    // is full, so the count is the rounded-up division with at least one.
    let count = body.len().div_ceil(sealed_chunk).max(1);
    let mut out = Zeroizing::new(Vec::with_capacity(body.len()));
    for (position, piece) in body.chunks(sealed_chunk).enumerate() {
        let start = out.len();
        out.extend_from_slice(piece);
        let at = u32::try_from(position).map_err(|_| StreamError::TooManyChunks)?;
        stream
            .decrypt_in_place(at, position + 1 == count, aad, &mut Tail { out: &mut out, start })
            .map_err(|_| StreamError::Unauthentic)?;
    }
    Ok(out)
}

/// The end of `out` from `start`, as the `aead` crate's in-place buffer: a chunk is
/// sealed or opened where it lies in the output.
struct Tail<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl AsRef<[u8]> for Tail<'_> {
    fn as_ref(&self) -> &[u8] {
        self.out.get(self.start..).unwrap_or_default()
    }
}

impl AsMut<[u8]> for Tail<'_> {
    fn as_mut(&mut self) -> &mut [u8] {
        self.out.get_mut(self.start..).unwrap_or_default()
    }
}

impl Buffer for Tail<'_> {
    fn extend_from_slice(&mut self, other: &[u8]) -> chacha20poly1305::aead::Result<()> {
        self.out.extend_from_slice(other);
        Ok(())
    }

    fn truncate(&mut self, len: usize) {
        self.out.truncate(self.start + len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20poly1305::aead::stream::EncryptorBE32;
    use chacha20poly1305::aead::Payload;

    /// The in-place chunks are the `aead` crate's own `EncryptorBE32` output, byte for
    /// byte, for every way a plaintext can end against the chunk size.
    #[test]
    fn sealed_bytes_are_the_aead_crates_stream() {
        let (key, prefix, aad) = ([7u8; 32], [9u8; NONCE_PREFIX_BYTES], [1u8; 32]);
        for len in [0usize, 1, 99, 100, 101, 200, 1000] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
            let mut calls = 0;
            let ours = seal(&key, &prefix, &aad, 100, &plain, &mut |done, total| {
                calls += 1;
                assert!(done <= total);
            })
            .unwrap();
            assert_eq!(calls, len / 100 + 1);
            let mut enc = EncryptorBE32::from_aead(XChaCha20Poly1305::new((&key).into()), (&prefix).into());
            let mut theirs = prefix.to_vec();
            let mut rest = plain.as_slice();
            while rest.len() >= 100 {
                let (this, next) = rest.split_at(100);
                theirs.extend(enc.encrypt_next(Payload { msg: this, aad: &aad }).unwrap());
                rest = next;
            }
            theirs.extend(enc.encrypt_last(Payload { msg: rest, aad: &aad }).unwrap());
            assert_eq!(ours, theirs, "len {len}");
            assert_eq!(ours.len() as u64, sealed_len(len as u64, 100));
            assert_eq!(open(&key, &aad, 100, &ours).unwrap().as_slice(), plain.as_slice());
        }
    }

    #[test]
    fn any_change_cut_or_other_binding_fails() {
        let (key, prefix, aad) = ([7u8; 32], [9u8; NONCE_PREFIX_BYTES], [1u8; 32]);
        let plain = vec![3u8; 350];
        let ct = seal(&key, &prefix, &aad, 100, &plain, &mut |_, _| {}).unwrap();
        for at in [0, 20, ct.len() - 1] {
            let mut bad = ct.clone();
            bad[at] ^= 1;
            assert_eq!(open(&key, &aad, 100, &bad), Err(StreamError::Unauthentic), "byte {at}");
        }
        // Cut after whole chunks: the last-chunk flag catches it.
        assert_eq!(open(&key, &aad, 100, &ct[..19 + 116 * 2]), Err(StreamError::Unauthentic));
        assert_eq!(open(&key, &aad, 100, &ct[..10]), Err(StreamError::Unauthentic));
        // Two chunks swapped.
        let mut swapped = ct[..19].to_vec();
        swapped.extend_from_slice(&ct[19 + 116..19 + 232]);
        swapped.extend_from_slice(&ct[19..19 + 116]);
        swapped.extend_from_slice(&ct[19 + 232..]);
        assert_eq!(open(&key, &aad, 100, &swapped), Err(StreamError::Unauthentic));
        assert!(open(&[8u8; 32], &aad, 100, &ct).is_err());
        assert!(open(&key, &[2u8; 32], 100, &ct).is_err());
        assert!(open(&key, &aad, 99, &ct).is_err());
    }
}
