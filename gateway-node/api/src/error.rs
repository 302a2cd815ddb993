//! The error document: `{"error": {"code": "STALE_NONCE", "message": "…"}}`.

use serde::{Deserialize, Serialize};

/// The API's error document, `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: &str) -> Self {
        Self { error: ErrorDetail { code: code.to_string(), message: message.to_string() } }
    }
}
