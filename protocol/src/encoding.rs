//! Canonical encoding: BCS for everything that is signed, hashed or sent between nodes.
//!
//! BCS has exactly one encoding per value, so `decode(encode(x)) == x` and
//! `encode(decode(b)) == b` for every accepted `b`. Decoding never panics: malformed,
//! truncated, oversized or trailing bytes all give a [`DecodeError`].

use serde::{de::DeserializeOwned, Serialize};

/// BCS's own nesting limit for containers; we never need more than a few levels.
const CONTAINER_DEPTH_MAX: usize = 64;

/// Why bytes could not be decoded into the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("input of {size_bytes} bytes exceeds the limit of {limit_bytes} bytes")]
    TooLarge { size_bytes: usize, limit_bytes: usize },
    #[error("malformed {type_name}: {reason}")]
    Malformed { type_name: &'static str, reason: String },
}

/// Encodes a value canonically.
///
/// BCS fails only on constructs this crate never uses (floats, nesting deeper than
/// 500 levels), so a failure is a programming error in a type definition, not bad
/// input; it is reported loudly instead of producing bytes that would hash wrongly.
#[allow(clippy::expect_used)]
pub fn to_bytes<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    bcs::to_bytes(value).expect("protocol types are always BCS-encodable")
}

/// Decodes canonical bytes with the crate-wide size limit.
pub fn from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    from_bytes_limited(bytes, crate::limits::MESSAGE_SIZE_MAX_BYTES)
}

/// Decodes canonical bytes, refusing inputs longer than `limit_bytes`.
pub fn from_bytes_limited<T: DeserializeOwned>(bytes: &[u8], limit_bytes: usize) -> Result<T, DecodeError> {
    if bytes.len() > limit_bytes {
        return Err(DecodeError::TooLarge { size_bytes: bytes.len(), limit_bytes });
    }
    bcs::from_bytes_with_limit(bytes, CONTAINER_DEPTH_MAX)
        .map_err(|e| DecodeError::Malformed { type_name: short_type_name::<T>(), reason: e.to_string() })
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}
