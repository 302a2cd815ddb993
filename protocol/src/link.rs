//! The forwarding link from a gateway to one node: a key agreed once per session with
//! HPKE (RFC 9180) to the node's published encryption key, then one ChaCha20-Poly1305
//! seal per request and per answer.
//!
//! Per-request Oblivious HTTP ([`crate::sealed`]) costs the gateway two X25519
//! operations and the node one on every request. On the link, the gateway runs HPKE's
//! base-mode `SetupS` once (`enc` goes to the node, which runs `SetupR` with its private
//! key) and both sides export the same three values from the HPKE context: the session
//! id, the request key and the answer key. Every request is then sealed to the node under
//! the request key with a fresh counter, and its answer under the answer key with the
//! same counter: the content is still readable by that node alone (only it holds the
//! private key), and the answer by that gateway alone.
//!
//! - **The node proves its key once.** Its answer to the opening is a fresh nonce of its
//!   own and a tag over it under the answer key ([`PendingSession::confirm`]): a node
//!   without the registered private key cannot make one.
//! - **The node's nonce is in every key**, so an opening replayed by an eavesdropper
//!   makes a session with other keys, in which no recorded request opens.
//! - **No replay.** The node keeps a sliding window of the counters it accepted
//!   ([`ReplayWindow`], [`REPLAY_WINDOW`] wide, as IPsec and WireGuard do): requests
//!   travel over a pool of connections and may arrive out of order, but none is served
//!   twice, and an answer is sealed under a counter exactly once.
//! - **No swapped answers.** The answer is bound to its request's session id and
//!   counter (nonce and associated data), so an answer moved to another request of the
//!   same session does not open.
//! - **Bounded.** A session carries at most [`SESSION_MESSAGES_MAX`] requests and lives
//!   at most [`SESSION_LIFETIME_MS`]; the gateway then opens another, and a node
//!   forgets it soon after.
//!
//! The plaintext inside is the same Binary HTTP message as in OHTTP
//! ([`crate::sealed::PlainRequest`], [`crate::sealed::PlainResponse`]).

use hpke::aead::ChaCha20Poly1305 as HpkeChaCha;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::rand_core::{CryptoRng, RngCore};
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use zeroize::Zeroizing;

use crate::crypto::EncryptionKey;

/// HPKE `info` of a link session: binds the agreed key to this use.
pub const SESSION_INFO: &[u8] = b"vigil forwarding link v1";
/// Bytes of HPKE's encapsulated key (`enc`) for X25519: the body of an opening.
pub const ENC_BYTES: usize = 32;
/// Bytes of a session id.
pub const SESSION_ID_BYTES: usize = 16;
/// Bytes of a request counter on the wire (big-endian).
pub const COUNTER_BYTES: usize = 8;
/// The header of a sealed request: session id, then counter.
pub const HEADER_BYTES: usize = SESSION_ID_BYTES + COUNTER_BYTES;
/// Bytes of the node's fresh nonce in its confirmation.
pub const NODE_NONCE_BYTES: usize = 32;
/// Bytes ChaCha20-Poly1305 adds (its tag).
pub const TAG_BYTES: usize = 16;
/// Counters a node still accepts below the highest one it has seen.
pub const REPLAY_WINDOW: u64 = 8192;
/// Requests one session carries before the gateway opens another.
pub const SESSION_MESSAGES_MAX: u64 = 1 << 32;
/// How long the gateway uses a session before it opens another.
pub const SESSION_LIFETIME_MS: u64 = 10 * 60 * 1000;
/// Counter reserved for the node's confirmation of an opening (never a request's).
const CONFIRM_COUNTER: u64 = u64::MAX;

/// Media types: an opening (`enc`), a sealed request, a sealed answer or confirmation.
pub const OPEN_MEDIA_TYPE: &str = "application/vigil-link-open";
pub const REQUEST_MEDIA_TYPE: &str = "application/vigil-link-req";
pub const RESPONSE_MEDIA_TYPE: &str = "application/vigil-link-res";

const EXPORT_ID: &[u8] = b"vigil link session id";
const EXPORT_REQUEST_KEY: &[u8] = b"vigil link request key";
const EXPORT_RESPONSE_KEY: &[u8] = b"vigil link response key";
const AAD_REQUEST: &[u8] = b"vigil link request";
const AAD_RESPONSE: &[u8] = b"vigil link response";
const AAD_CONFIRM: &[u8] = b"vigil link confirm";

/// Why a link message could not be made or used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the node's published encryption key is not a valid X25519 key")]
    BadNodeKey,
    #[error("the opening is not an X25519 encapsulated key, or does not open with this node's key")]
    BadOpening,
    #[error("the message is too short to be a sealed link message")]
    Truncated,
    /// Sealed under another key, or changed on the way.
    #[error("the sealed message does not open: another session's key, or altered in transit")]
    CannotOpen,
    #[error("the node's confirmation does not open: the node does not hold its registered key")]
    NotConfirmed,
    /// The counter was accepted already, or fell below the replay window.
    #[error("counter {0} was used already or is older than the replay window")]
    Replayed(u64),
    #[error("the session has carried all the requests it may")]
    Exhausted,
    #[error("cannot seal the message")]
    Seal,
}

/// The codes a node refuses link messages with, in the API's error document; the
/// gateway acts on the first two (see each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// 404: the node does not know the session (expired, or the node restarted): open
    /// another and send the request again (it was not served).
    UnknownSession,
    /// 409: the counter was seen, or is below the window: send again under a new
    /// counter (it was not served).
    Replayed,
    /// 400: the request does not open under the session's key.
    CannotOpen,
    /// 400: the opening is not an encapsulated key to this node.
    BadOpening,
}

impl LinkRefusal {
    /// Every refusal (their API codes: `vigil_api::ErrorCode`, through `vigil-server`).
    pub const ALL: [Self; 4] = [Self::UnknownSession, Self::Replayed, Self::CannotOpen, Self::BadOpening];
}

/// A session's id: public (it names the session on the wire), derived from its secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub [u8; SESSION_ID_BYTES]);

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionId({})", hex::encode(&self.0[..4]))
    }
}

/// The two directions' keys of one session: ChaCha20-Poly1305 (RFC 8439) from ring,
/// whose cost on a short message is a fraction of a pure-Rust one's; every forwarded
/// request is sealed and opened once at each end.
struct Keys {
    id: SessionId,
    request: LessSafeKey,
    response: LessSafeKey,
}

/// One direction's AEAD key.
fn aead_key(bytes: &[u8; 32]) -> Result<LessSafeKey, LinkError> {
    let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).map_err(|_| LinkError::Seal)?;
    Ok(LessSafeKey::new(key))
}

impl Keys {
    /// The session's values, exported from the HPKE context with the node's nonce in
    /// each exporter context: a replayed opening gets a fresh nonce, so other keys.
    fn export<C: ExportCtx>(ctx: &C, node_nonce: &[u8; NODE_NONCE_BYTES]) -> Result<Self, LinkError> {
        let mut id = [0u8; SESSION_ID_BYTES];
        ctx.export_into(EXPORT_ID, node_nonce, &mut id)?;
        let mut request = Zeroizing::new([0u8; 32]);
        ctx.export_into(EXPORT_REQUEST_KEY, node_nonce, request.as_mut())?;
        let mut response = Zeroizing::new([0u8; 32]);
        ctx.export_into(EXPORT_RESPONSE_KEY, node_nonce, response.as_mut())?;
        Ok(Self { id: SessionId(id), request: aead_key(&request)?, response: aead_key(&response)? })
    }

    fn header(&self, counter: u64) -> [u8; HEADER_BYTES] {
        let mut h = [0u8; HEADER_BYTES];
        h[..SESSION_ID_BYTES].copy_from_slice(&self.id.0);
        h[SESSION_ID_BYTES..].copy_from_slice(&counter.to_be_bytes());
        h
    }

    fn aad(label: &[u8], header: &[u8; HEADER_BYTES]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(label.len() + HEADER_BYTES);
        aad.extend_from_slice(label);
        aad.extend_from_slice(header);
        aad
    }

    /// Seals `plain` under `key` with the header's counter as the nonce, appending the
    /// ciphertext and its tag to `out`.
    fn seal_into(
        key: &LessSafeKey,
        label: &[u8],
        header: &[u8; HEADER_BYTES],
        plain: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), LinkError> {
        let start = out.len();
        out.extend_from_slice(plain);
        let tag = key
            .seal_in_place_separate_tag(nonce(header), Aad::from(Self::aad(label, header)), &mut out[start..])
            .map_err(|_| LinkError::Seal)?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    fn open(key: &LessSafeKey, label: &[u8], header: &[u8; HEADER_BYTES], sealed: &[u8]) -> Result<Vec<u8>, LinkError> {
        let Some(plain_len) = sealed.len().checked_sub(TAG_BYTES) else {
            return Err(LinkError::Truncated);
        };
        let mut plain = sealed.to_vec();
        key.open_in_place(nonce(header), Aad::from(Self::aad(label, header)), &mut plain)
            .map_err(|_| LinkError::CannotOpen)?;
        plain.truncate(plain_len);
        Ok(plain)
    }
}

/// ChaCha20-Poly1305's 96-bit nonce: 32 zero bits, then the 64-bit counter. The keys
/// are the session's own, so (key, nonce) never repeats.
fn nonce(header: &[u8; HEADER_BYTES]) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&header[SESSION_ID_BYTES..]);
    Nonce::assume_unique_for_key(n)
}

/// What both HPKE context kinds can export.
trait ExportCtx {
    fn export_raw(&self, context: &[u8], out: &mut [u8]) -> Result<(), hpke::HpkeError>;

    /// HPKE `Export(label ‖ node nonce, L)`.
    fn export_into(&self, label: &[u8], node_nonce: &[u8], out: &mut [u8]) -> Result<(), LinkError> {
        let mut context = Vec::with_capacity(label.len() + node_nonce.len());
        context.extend_from_slice(label);
        context.extend_from_slice(node_nonce);
        self.export_raw(&context, out).map_err(|_| LinkError::Seal)
    }
}

impl ExportCtx for hpke::aead::AeadCtxS<HpkeChaCha, HkdfSha256, X25519HkdfSha256> {
    fn export_raw(&self, context: &[u8], out: &mut [u8]) -> Result<(), hpke::HpkeError> {
        self.export(context, out)
    }
}

impl ExportCtx for hpke::aead::AeadCtxR<HpkeChaCha, HkdfSha256, X25519HkdfSha256> {
    fn export_raw(&self, context: &[u8], out: &mut [u8]) -> Result<(), hpke::HpkeError> {
        self.export(context, out)
    }
}

/// The node's confirmation of an opening: its fresh nonce, then the answer key's seal
/// of nothing, bound to that nonce (only a holder of the node's private key can make it).
fn confirmation(keys: &Keys, node_nonce: &[u8; NODE_NONCE_BYTES]) -> Result<Vec<u8>, LinkError> {
    let mut out = Vec::with_capacity(NODE_NONCE_BYTES + TAG_BYTES);
    out.extend_from_slice(node_nonce);
    Keys::seal_into(&keys.response, &confirm_label(node_nonce), &keys.header(CONFIRM_COUNTER), &[], &mut out)?;
    Ok(out)
}

/// The confirmation's associated-data label: the nonce it confirms is in it.
fn confirm_label(node_nonce: &[u8; NODE_NONCE_BYTES]) -> Vec<u8> {
    [AAD_CONFIRM, node_nonce.as_slice()].concat()
}

/// A session the gateway has opened and the node has not confirmed yet.
pub struct PendingSession {
    ctx: hpke::aead::AeadCtxS<HpkeChaCha, HkdfSha256, X25519HkdfSha256>,
}

impl std::fmt::Debug for PendingSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingSession(<secret>)")
    }
}

impl PendingSession {
    /// Opens a session to the node whose published key is `node_key`: the pending
    /// session, and the opening to send (as [`OPEN_MEDIA_TYPE`]).
    pub fn new<R: CryptoRng + RngCore>(node_key: &EncryptionKey, rng: &mut R) -> Result<(Self, Vec<u8>), LinkError> {
        let pk =
            <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(&node_key.0).map_err(|_| LinkError::BadNodeKey)?;
        let (enc, ctx) =
            hpke::setup_sender::<HpkeChaCha, HkdfSha256, X25519HkdfSha256, R>(&OpModeS::Base, &pk, SESSION_INFO, rng)
                .map_err(|_| LinkError::BadNodeKey)?;
        Ok((Self { ctx }, enc.to_bytes().to_vec()))
    }

    /// Checks the node's confirmation and derives the session from it.
    pub fn confirm(self, confirmation_bytes: &[u8]) -> Result<SenderSession, LinkError> {
        if confirmation_bytes.len() != NODE_NONCE_BYTES + TAG_BYTES {
            return Err(LinkError::NotConfirmed);
        }
        let mut node_nonce = [0u8; NODE_NONCE_BYTES];
        node_nonce.copy_from_slice(&confirmation_bytes[..NODE_NONCE_BYTES]);
        let keys = Keys::export(&self.ctx, &node_nonce)?;
        let header = keys.header(CONFIRM_COUNTER);
        let sealed = &confirmation_bytes[NODE_NONCE_BYTES..];
        match Keys::open(&keys.response, &confirm_label(&node_nonce), &header, sealed) {
            Ok(plain) if plain.is_empty() => {}
            _ => return Err(LinkError::NotConfirmed),
        }
        Ok(SenderSession { keys, next: std::sync::atomic::AtomicU64::new(0) })
    }
}

/// The gateway's end of one session with one node.
pub struct SenderSession {
    keys: Keys,
    next: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for SenderSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderSession").field("id", &self.keys.id).finish_non_exhaustive()
    }
}

impl SenderSession {
    pub fn id(&self) -> SessionId {
        self.keys.id
    }

    /// Seals one request (Binary HTTP bytes) under the next counter: the bytes to send as
    /// [`REQUEST_MEDIA_TYPE`], and the counter its answer is sealed under.
    pub fn seal(&self, plain: &[u8]) -> Result<(Vec<u8>, u64), LinkError> {
        let counter = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if counter >= SESSION_MESSAGES_MAX {
            return Err(LinkError::Exhausted);
        }
        let header = self.keys.header(counter);
        let mut out = Vec::with_capacity(HEADER_BYTES + plain.len() + TAG_BYTES);
        out.extend_from_slice(&header);
        Keys::seal_into(&self.keys.request, AAD_REQUEST, &header, plain, &mut out)?;
        Ok((out, counter))
    }

    /// Opens the answer to the request sealed under `counter`.
    pub fn open_answer(&self, counter: u64, sealed: &[u8]) -> Result<Vec<u8>, LinkError> {
        Keys::open(&self.keys.response, AAD_RESPONSE, &self.keys.header(counter), sealed)
    }

    /// Whether the session has carried all the requests it may.
    pub fn exhausted(&self) -> bool {
        self.next.load(std::sync::atomic::Ordering::Relaxed) >= SESSION_MESSAGES_MAX
    }
}

/// A node's private key for link openings (derived from its encryption seed exactly as
/// its OHTTP configuration is, so both answer to the same published key).
pub struct LinkKey(<X25519HkdfSha256 as hpke::Kem>::PrivateKey);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(<secret>)")
    }
}

impl LinkKey {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(X25519HkdfSha256::derive_keypair(seed).0)
    }

    /// The key a gateway seals openings to.
    pub fn public_key(&self) -> EncryptionKey {
        let pk = X25519HkdfSha256::sk_to_pk(&self.0);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&pk.to_bytes());
        EncryptionKey(bytes)
    }

    /// Accepts an opening: the node's end of the session, and the confirmation to send
    /// back (as [`RESPONSE_MEDIA_TYPE`]). The node's fresh nonce goes into every key.
    pub fn accept<R: CryptoRng + RngCore>(
        &self,
        opening: &[u8],
        rng: &mut R,
    ) -> Result<(ReceiverSession, Vec<u8>), LinkError> {
        if opening.len() != ENC_BYTES {
            return Err(LinkError::BadOpening);
        }
        let enc =
            <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(opening).map_err(|_| LinkError::BadOpening)?;
        let ctx = hpke::setup_receiver::<HpkeChaCha, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &self.0,
            &enc,
            SESSION_INFO,
        )
        .map_err(|_| LinkError::BadOpening)?;
        let mut node_nonce = [0u8; NODE_NONCE_BYTES];
        rng.fill_bytes(&mut node_nonce);
        let keys = Keys::export(&ctx, &node_nonce)?;
        let confirmation = confirmation(&keys, &node_nonce)?;
        Ok((ReceiverSession { keys }, confirmation))
    }
}

/// The session id and counter a sealed request names, read before anything is opened.
pub fn read_header(sealed: &[u8]) -> Result<(SessionId, u64), LinkError> {
    if sealed.len() < HEADER_BYTES + TAG_BYTES {
        return Err(LinkError::Truncated);
    }
    let mut id = [0u8; SESSION_ID_BYTES];
    id.copy_from_slice(&sealed[..SESSION_ID_BYTES]);
    let mut counter = [0u8; COUNTER_BYTES];
    counter.copy_from_slice(&sealed[SESSION_ID_BYTES..HEADER_BYTES]);
    Ok((SessionId(id), u64::from_be_bytes(counter)))
}

/// The node's end of one session. It opens requests and seals their answers; which
/// counters it has accepted is the caller's [`ReplayWindow`], checked before opening and
/// marked after, so that a forgery cannot move it.
pub struct ReceiverSession {
    keys: Keys,
}

impl std::fmt::Debug for ReceiverSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverSession").field("id", &self.keys.id).finish_non_exhaustive()
    }
}

impl ReceiverSession {
    pub fn id(&self) -> SessionId {
        self.keys.id
    }

    /// Opens a sealed request of this session: its counter and plaintext.
    pub fn open(&self, sealed: &[u8]) -> Result<(u64, Vec<u8>), LinkError> {
        let (id, counter) = read_header(sealed)?;
        if id != self.keys.id || counter >= SESSION_MESSAGES_MAX {
            return Err(LinkError::CannotOpen);
        }
        let header = self.keys.header(counter);
        let plain = Keys::open(&self.keys.request, AAD_REQUEST, &header, &sealed[HEADER_BYTES..])?;
        Ok((counter, plain))
    }

    /// Seals the answer to the request opened under `counter`. Call it once per counter:
    /// the replay window makes sure a counter is opened only once.
    pub fn seal_answer(&self, counter: u64, plain: &[u8]) -> Result<Vec<u8>, LinkError> {
        let mut out = Vec::with_capacity(plain.len() + TAG_BYTES);
        Keys::seal_into(&self.keys.response, AAD_RESPONSE, &self.keys.header(counter), plain, &mut out)?;
        Ok(out)
    }
}

/// The counters a node has accepted on one session: the highest, and a bitmap of the
/// [`REPLAY_WINDOW`] below it (RFC 6479's idea, one bit per counter).
#[derive(Clone)]
pub struct ReplayWindow {
    /// One past the highest counter accepted (0: none yet).
    top: u64,
    bits: Box<[u64]>,
}

const WORDS: usize = (REPLAY_WINDOW / 64) as usize;
const _: () = assert!(REPLAY_WINDOW % 64 == 0 && REPLAY_WINDOW > 0);

impl Default for ReplayWindow {
    fn default() -> Self {
        Self { top: 0, bits: vec![0u64; WORDS].into_boxed_slice() }
    }
}

impl std::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayWindow").field("top", &self.top).finish_non_exhaustive()
    }
}

impl ReplayWindow {
    fn slot(counter: u64) -> (usize, u64) {
        let bit = counter % REPLAY_WINDOW;
        ((bit / 64) as usize, 1u64 << (bit % 64))
    }

    /// Whether `counter` may still be accepted (not seen, not below the window).
    pub fn check(&self, counter: u64) -> Result<(), LinkError> {
        if counter >= self.top {
            return Ok(());
        }
        if self.top - counter > REPLAY_WINDOW {
            return Err(LinkError::Replayed(counter));
        }
        let (word, mask) = Self::slot(counter);
        if self.bits[word] & mask != 0 {
            return Err(LinkError::Replayed(counter));
        }
        Ok(())
    }

    /// Records `counter` as accepted; refuses it if it was already (or fell out of the
    /// window since it was checked).
    pub fn mark(&mut self, counter: u64) -> Result<(), LinkError> {
        self.check(counter)?;
        if counter >= self.top {
            // Clear the slots of the counters the window moves past.
            let advance = counter + 1 - self.top;
            if advance >= REPLAY_WINDOW {
                self.bits.iter_mut().for_each(|w| *w = 0);
            } else {
                for c in self.top..=counter {
                    let (word, mask) = Self::slot(c);
                    self.bits[word] &= !mask;
                }
            }
            self.top = counter + 1;
        }
        let (word, mask) = Self::slot(counter);
        self.bits[word] |= mask;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TestRng(u64);
    impl RngCore for TestRng {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            // splitmix64: deterministic, for tests only.
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(8) {
                let v = self.next_u64().to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
        }
    }
    impl CryptoRng for TestRng {}

    fn pair(seed: u8) -> (SenderSession, ReceiverSession) {
        let node = LinkKey::from_seed(&[seed; 32]);
        let (pending, opening) = PendingSession::new(&node.public_key(), &mut TestRng(seed as u64)).unwrap();
        let (receiver, confirmation) = node.accept(&opening, &mut TestRng(1000 + seed as u64)).unwrap();
        let sender = pending.confirm(&confirmation).unwrap();
        assert_eq!(sender.id(), receiver.id());
        (sender, receiver)
    }

    /// The wire format is RFC 8439's ChaCha20-Poly1305 whatever implements it: a link
    /// sealed by another implementation (RustCrypto's, which the link used before ring)
    /// opens here, and the reverse, byte for byte, for empty to multi-block messages.
    #[test]
    fn the_seal_is_rfc_8439_chacha20_poly1305_byte_for_byte() {
        use chacha20poly1305::aead::{AeadInPlace, KeyInit};
        let key_bytes = [0x42u8; 32];
        let key = aead_key(&key_bytes).unwrap();
        let other = chacha20poly1305::ChaCha20Poly1305::new((&key_bytes).into());
        let mut header = [0u8; HEADER_BYTES];
        header[..SESSION_ID_BYTES].copy_from_slice(&[7; SESSION_ID_BYTES]);
        for (counter, len) in [(0u64, 0usize), (1, 1), (2, 63), (3, 64), (4, 1500), (u32::MAX as u64, 4097)] {
            header[SESSION_ID_BYTES..].copy_from_slice(&counter.to_be_bytes());
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            let mut ours = Vec::new();
            Keys::seal_into(&key, AAD_REQUEST, &header, &plain, &mut ours).unwrap();
            let mut n = [0u8; 12];
            n[4..].copy_from_slice(&counter.to_be_bytes());
            let mut theirs = plain.clone();
            let tag =
                other.encrypt_in_place_detached((&n).into(), &Keys::aad(AAD_REQUEST, &header), &mut theirs).unwrap();
            theirs.extend_from_slice(&tag);
            assert_eq!(ours, theirs, "{len} bytes under counter {counter}");
            assert_eq!(Keys::open(&key, AAD_REQUEST, &header, &theirs).unwrap(), plain);
            // Under the other direction's label, or with the tag cut, it does not open.
            assert_eq!(Keys::open(&key, AAD_RESPONSE, &header, &theirs).unwrap_err(), LinkError::CannotOpen);
            assert!(Keys::open(&key, AAD_REQUEST, &header, &theirs[..theirs.len() - 1]).is_err());
        }
        assert_eq!(Keys::open(&key, AAD_REQUEST, &header, &[0; TAG_BYTES - 1]).unwrap_err(), LinkError::Truncated);
    }

    #[test]
    fn the_link_key_is_the_nodes_published_ohttp_key() {
        let seed = [5u8; 32];
        let config = crate::sealed::server_config(&seed).unwrap().encode().unwrap();
        assert_eq!(&config[3..35], &LinkKey::from_seed(&seed).public_key().0);
    }

    #[test]
    fn a_request_opens_at_its_node_and_its_answer_at_its_gateway() {
        let (sender, receiver) = pair(1);
        for i in 0..3u8 {
            let (sealed, counter) = sender.seal(&[i; 40]).unwrap();
            assert_eq!(counter, i as u64);
            assert!(!sealed.windows(40).any(|w| w == [i; 40]), "the content travels sealed");
            let (c, plain) = receiver.open(&sealed).unwrap();
            assert_eq!((c, plain), (counter, vec![i; 40]));
            let answer = receiver.seal_answer(c, b"answer").unwrap();
            assert_eq!(sender.open_answer(counter, &answer).unwrap(), b"answer");
        }
    }

    #[test]
    fn only_the_holder_of_the_registered_key_confirms() {
        let node = LinkKey::from_seed(&[1; 32]);
        let impostor = LinkKey::from_seed(&[2; 32]);
        let (pending, opening) = PendingSession::new(&node.public_key(), &mut TestRng(9)).unwrap();
        let (_, confirmation) = impostor.accept(&opening, &mut TestRng(10)).unwrap();
        assert_eq!(pending.confirm(&confirmation).unwrap_err(), LinkError::NotConfirmed);
        assert_eq!(impostor.accept(&opening[..31], &mut TestRng(11)).unwrap_err(), LinkError::BadOpening);
        // A confirmation changed on the way (its nonce or its tag) is refused too.
        let (_, confirmation) = node.accept(&opening, &mut TestRng(12)).unwrap();
        for i in [0, NODE_NONCE_BYTES - 1, NODE_NONCE_BYTES, confirmation.len() - 1] {
            let (pending, opening) = PendingSession::new(&node.public_key(), &mut TestRng(9)).unwrap();
            let (_, mut c) = node.accept(&opening, &mut TestRng(12)).unwrap();
            assert_eq!(c, confirmation, "same randomness, same confirmation");
            c[i] ^= 1;
            assert_eq!(pending.confirm(&c).unwrap_err(), LinkError::NotConfirmed, "byte {i}");
        }
    }

    #[test]
    fn a_replayed_opening_makes_a_session_with_other_keys() {
        let node = LinkKey::from_seed(&[6; 32]);
        let (pending, opening) = PendingSession::new(&node.public_key(), &mut TestRng(6)).unwrap();
        let (first, confirmation) = node.accept(&opening, &mut TestRng(60)).unwrap();
        let sender = pending.confirm(&confirmation).unwrap();
        let (sealed, _) = sender.seal(b"POST /v1/tx").unwrap();
        first.open(&sealed).unwrap();
        // An eavesdropper replays the opening and the request: the node's fresh nonce
        // makes another session, which neither knows the request's id nor opens it.
        let (replayed, _) = node.accept(&opening, &mut TestRng(61)).unwrap();
        assert_ne!(replayed.id(), first.id());
        assert!(replayed.open(&sealed).is_err());
    }

    #[test]
    fn a_flipped_bit_anywhere_is_caught_and_answers_do_not_swap() {
        let (sender, receiver) = pair(3);
        let (sealed, counter) = sender.seal(b"GET /v1/status").unwrap();
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x40;
            assert!(receiver.open(&t).is_err(), "byte {i}");
        }
        let (other, other_counter) = sender.seal(b"GET /v1/genesis").unwrap();
        receiver.open(&other).unwrap();
        let answer = receiver.seal_answer(counter, b"status").unwrap();
        assert_eq!(sender.open_answer(other_counter, &answer), Err(LinkError::CannotOpen));
        let mut t = answer.clone();
        t[0] ^= 1;
        assert_eq!(sender.open_answer(counter, &t), Err(LinkError::CannotOpen));
        // A request sealed by the gateway does not open as an answer, nor the reverse.
        assert!(sender.open_answer(counter, &sealed[HEADER_BYTES..]).is_err());
    }

    #[test]
    fn the_window_accepts_each_counter_once_in_any_order_within_it() {
        let mut w = ReplayWindow::default();
        for c in [5, 3, 4, 0, 100, 7] {
            w.mark(c).unwrap();
        }
        for c in [5, 3, 4, 0, 100, 7] {
            assert_eq!(w.mark(c), Err(LinkError::Replayed(c)));
        }
        w.mark(1).unwrap();
        w.mark(REPLAY_WINDOW + 100).unwrap();
        // The window now holds the REPLAY_WINDOW counters below REPLAY_WINDOW + 101:
        // 100 fell out of it, 101 is its lowest and was not seen.
        assert_eq!(w.check(100), Err(LinkError::Replayed(100)));
        w.mark(101).unwrap();
        assert_eq!(w.check(99), Err(LinkError::Replayed(99)), "below the window");
        // Slots reused by the moved window do not carry old marks.
        w.mark(REPLAY_WINDOW + 5).unwrap();
        w.mark(3 * REPLAY_WINDOW).unwrap();
        w.mark(3 * REPLAY_WINDOW - 1).unwrap();
        assert_eq!(w.check(REPLAY_WINDOW + 5), Err(LinkError::Replayed(REPLAY_WINDOW + 5)));
    }

    #[test]
    fn a_session_stops_at_its_message_bound() {
        let (sender, _) = pair(4);
        sender.next.store(SESSION_MESSAGES_MAX, std::sync::atomic::Ordering::Relaxed);
        assert!(sender.exhausted());
        assert_eq!(sender.seal(b"x").unwrap_err(), LinkError::Exhausted);
    }
}
