//! Sealed requests to one node: Oblivious HTTP (RFC 9458), i.e. HPKE (RFC 9180) with
//! X25519-HKDF-SHA256, HKDF-SHA256 and ChaCha20-Poly1305 around a Binary HTTP message
//! (RFC 9292), through the `ohttp` and `bhttp` crates.
//!
//! The recipient key is the node's X25519 key published in the validator set, so a
//! client that trusts the set needs nothing else to seal a request that only that node
//! can open, and whose answer only the client can open. The gateway seals with it in
//! forwarding mode; the wallet seals with it itself in oblivious mode, and the gateway
//! then relays bytes it cannot read. Standard OHTTP clients can use the same endpoint:
//! [`key_config_list`] is the `application/ohttp-keys` document of a node.

use std::io::Cursor;

use bhttp::{Message, Mode};
use ohttp::hpke::{Aead, Kdf, Kem};
use ohttp::{ClientRequest, ClientResponse, KeyConfig, SymmetricSuite};

use crate::crypto::EncryptionKey;

/// Key identifier of a node's key configuration (one key per node).
pub const KEY_ID: u8 = 1;
/// HPKE KEM: DHKEM(X25519, HKDF-SHA256).
pub const KEM_ID: u16 = 0x0020;
/// HPKE KDF: HKDF-SHA256.
pub const KDF_ID: u16 = 0x0001;
/// HPKE AEAD: ChaCha20-Poly1305.
pub const AEAD_ID: u16 = 0x0003;
/// Media types of the sealed messages and of the key configuration (RFC 9458 §9).
pub const REQUEST_MEDIA_TYPE: &str = "message/ohttp-req";
pub const RESPONSE_MEDIA_TYPE: &str = "message/ohttp-res";
pub const KEYS_MEDIA_TYPE: &str = "application/ohttp-keys";
/// Largest plaintext request or response carried sealed.
pub const SEALED_BODY_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Largest sealed request a node accepts, and answer a gateway reads: the plaintext limit
/// plus HPKE's and the framing's overhead.
pub const SEALED_REQUEST_MAX_BYTES: usize = SEALED_BODY_MAX_BYTES + 1024;

/// Why sealing, opening or decoding a sealed message failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The bytes were not sealed to this key, or were changed on the way.
    #[error("cannot open the sealed message (wrong key, or altered in transit): {0}")]
    Open(String),
    #[error("cannot seal the message: {0}")]
    Seal(String),
    #[error("the opened message is not a valid Binary HTTP {0}")]
    Format(&'static str),
    #[error("the message is {0} bytes; at most {SEALED_BODY_MAX_BYTES} are carried sealed")]
    TooLarge(usize),
}

/// The symmetric suites a node accepts.
pub fn suites() -> Vec<SymmetricSuite> {
    vec![SymmetricSuite::new(Kdf::HkdfSha256, Aead::ChaCha20Poly1305)]
}

/// Server-side key configuration derived from a node's 32-byte encryption seed with
/// HPKE's `DeriveKeyPair`; its public key is the node's published [`EncryptionKey`].
pub fn server_config(seed: &[u8; 32]) -> Result<KeyConfig, SealError> {
    KeyConfig::derive(KEY_ID, Kem::X25519Sha256, suites(), seed).map_err(|e| SealError::Seal(e.to_string()))
}

/// One key configuration (RFC 9458 §3.1) for a node's published key.
pub fn key_config(key: &EncryptionKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(41);
    out.push(KEY_ID);
    out.extend_from_slice(&KEM_ID.to_be_bytes());
    out.extend_from_slice(&key.0);
    out.extend_from_slice(&4u16.to_be_bytes());
    out.extend_from_slice(&KDF_ID.to_be_bytes());
    out.extend_from_slice(&AEAD_ID.to_be_bytes());
    out
}

/// The `application/ohttp-keys` document for a node's published key (RFC 9458 §3.2:
/// each configuration prefixed by its 2-byte length).
pub fn key_config_list(key: &EncryptionKey) -> Vec<u8> {
    let config = key_config(key);
    let mut out = Vec::with_capacity(config.len() + 2);
    out.extend_from_slice(&(config.len() as u16).to_be_bytes());
    out.extend_from_slice(&config);
    out
}

/// A plain HTTP request as carried inside a sealed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainRequest {
    pub method: String,
    /// Path and query, e.g. `/v1/tx?wait=true`.
    pub path: String,
    /// Header fields (lower-case names).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A plain HTTP response as carried inside a sealed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl PlainRequest {
    pub fn new(method: &str, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Self {
        let headers = content_type.map(|c| vec![("content-type".to_string(), c.to_string())]).unwrap_or_default();
        Self { method: method.to_string(), path: path.to_string(), headers, body }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Binary HTTP, known-length form.
    pub fn to_bhttp(&self) -> Result<Vec<u8>, SealError> {
        if self.body.len() > SEALED_BODY_MAX_BYTES {
            return Err(SealError::TooLarge(self.body.len()));
        }
        let mut m = Message::request(
            self.method.as_bytes().to_vec(),
            b"https".to_vec(),
            Vec::new(),
            self.path.as_bytes().to_vec(),
        );
        for (name, value) in &self.headers {
            m.put_header(name.as_bytes(), value.as_bytes());
        }
        m.write_content(&self.body);
        write(&m)
    }

    pub fn from_bhttp(bytes: &[u8]) -> Result<Self, SealError> {
        let m = read(bytes, "request")?;
        let c = m.control();
        let text = |b: Option<&[u8]>| {
            b.and_then(|b| std::str::from_utf8(b).ok()).map(str::to_string).ok_or(SealError::Format("request"))
        };
        Ok(Self { method: text(c.method())?, path: text(c.path())?, headers: fields(&m)?, body: m.content().to_vec() })
    }
}

impl PlainResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn to_bhttp(&self) -> Result<Vec<u8>, SealError> {
        if self.body.len() > SEALED_BODY_MAX_BYTES {
            return Err(SealError::TooLarge(self.body.len()));
        }
        // 1xx are informational in Binary HTTP, never a final answer.
        if !(200..=599).contains(&self.status) {
            return Err(SealError::Format("response"));
        }
        let status = bhttp::StatusCode::try_from(self.status).map_err(|_| SealError::Format("response"))?;
        let mut m = Message::response(status);
        for (name, value) in &self.headers {
            m.put_header(name.as_bytes(), value.as_bytes());
        }
        m.write_content(&self.body);
        write(&m)
    }

    pub fn from_bhttp(bytes: &[u8]) -> Result<Self, SealError> {
        let m = read(bytes, "response")?;
        let status = m.control().status().ok_or(SealError::Format("response"))?.code();
        Ok(Self { status, headers: fields(&m)?, body: m.content().to_vec() })
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn write(m: &Message) -> Result<Vec<u8>, SealError> {
    let mut out = Vec::new();
    m.write_bhttp(Mode::KnownLength, &mut out).map_err(|e| SealError::Seal(e.to_string()))?;
    Ok(out)
}

fn read(bytes: &[u8], what: &'static str) -> Result<Message, SealError> {
    if bytes.len() > SEALED_BODY_MAX_BYTES + 64 * 1024 {
        return Err(SealError::TooLarge(bytes.len()));
    }
    Message::read_bhttp(&mut Cursor::new(bytes)).map_err(|_| SealError::Format(what))
}

fn fields(m: &Message) -> Result<Vec<(String, String)>, SealError> {
    m.header()
        .iter()
        .map(|f| match (std::str::from_utf8(f.name()), std::str::from_utf8(f.value())) {
            (Ok(n), Ok(v)) => Ok((n.to_ascii_lowercase(), v.to_string())),
            _ => Err(SealError::Format("header field")),
        })
        .collect()
}

/// Opens the sealed answer to one request; only the sealer holds it.
pub struct Opener(ClientResponse);

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opener(<secret>)")
    }
}

impl Opener {
    pub fn open(self, sealed: &[u8]) -> Result<PlainResponse, SealError> {
        let plain = self.0.decapsulate(sealed).map_err(|e| SealError::Open(e.to_string()))?;
        PlainResponse::from_bhttp(&plain)
    }
}

/// Seals `request` to the node whose published key is `key`: the bytes to send as
/// `message/ohttp-req`, and what opens the answer.
pub fn seal(key: &EncryptionKey, request: &PlainRequest) -> Result<(Vec<u8>, Opener), SealError> {
    let client = ClientRequest::from_encoded_config(&key_config(key)).map_err(|e| SealError::Seal(e.to_string()))?;
    let (sealed, response) = client.encapsulate(&request.to_bhttp()?).map_err(|e| SealError::Seal(e.to_string()))?;
    Ok((sealed, Opener(response)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(seed: u8) -> (ohttp::Server, EncryptionKey) {
        let config = server_config(&[seed; 32]).unwrap();
        let encoded = config.encode().unwrap();
        // The derived configuration is exactly the one built from the public key alone.
        let key = EncryptionKey(encoded[3..35].try_into().unwrap());
        assert_eq!(encoded, key_config(&key));
        (ohttp::Server::new(config).unwrap(), key)
    }

    #[test]
    fn a_sealed_request_opens_at_its_node_and_the_answer_at_its_sealer() {
        let (server, key) = node(7);
        let request = PlainRequest::new("POST", "/v1/tx?wait=true", Some("application/octet-stream"), vec![1, 2, 3]);
        let (sealed, opener) = seal(&key, &request).unwrap();
        let (plain, responder) = server.decapsulate(&sealed).unwrap();
        assert_eq!(PlainRequest::from_bhttp(&plain).unwrap(), request);
        let answer = PlainResponse {
            status: 202,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{}".to_vec(),
        };
        let sealed_answer = responder.encapsulate(&answer.to_bhttp().unwrap()).unwrap();
        assert_eq!(opener.open(&sealed_answer).unwrap(), answer);
    }

    #[test]
    fn another_node_cannot_open_and_a_flipped_bit_is_detected() {
        let (_, key) = node(7);
        let (other, _) = node(8);
        let (sealed, _) = seal(&key, &PlainRequest::new("GET", "/v1/status", None, vec![])).unwrap();
        assert!(other.decapsulate(&sealed).is_err());
        let (server, _) = node(7);
        for i in [0, 7, 40, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert!(server.decapsulate(&tampered).is_err(), "byte {i}");
        }
    }

    #[test]
    fn truncated_or_mistyped_plaintext_is_a_format_error() {
        let request = PlainRequest::new("GET", "/v1/status", None, vec![]).to_bhttp().unwrap();
        assert_eq!(PlainRequest::from_bhttp(&request[..request.len() / 2]), Err(SealError::Format("request")));
        assert_eq!(PlainResponse::from_bhttp(&request), Err(SealError::Format("response")));
        assert_eq!(PlainRequest::from_bhttp(b""), Err(SealError::Format("request")));
    }

    #[test]
    fn the_key_list_is_the_length_prefixed_configuration() {
        let key = EncryptionKey([9; 32]);
        let list = key_config_list(&key);
        assert_eq!(&list[..2], &41u16.to_be_bytes());
        assert_eq!(&list[2..], key_config(&key).as_slice());
        assert_eq!(ohttp::KeyConfig::decode_list(&list).unwrap().len(), 1);
    }
}
