//! The only module with `#[wasm_bindgen]`: camelCase names, errors as JS `Error`s whose
//! message starts with a stable code. Grows into the npm package's API.

use wasm_bindgen::prelude::*;

use crate::light::{LightError, TrustedSet};

fn js_error(e: LightError) -> JsError {
    let code = match &e {
        LightError::Decode(_) => "DECODE",
        LightError::Certificate(_) => "BAD_CERTIFICATE",
        LightError::Header(_) => "BAD_HEADER",
        LightError::UntrustedSet { .. } => "UNTRUSTED_SET",
    };
    JsError::new(&format!("{code}: {e}"))
}

/// A decoded, trusted validator set.
#[wasm_bindgen(js_name = TrustedValidatorSet)]
pub struct JsTrustedSet(TrustedSet);

#[wasm_bindgen(js_class = TrustedValidatorSet)]
impl JsTrustedSet {
    /// Decodes BCS bytes of a validator set; with `pinnedHashHex`, accepts it only if
    /// it has that hash.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8], pinned_hash_hex: Option<String>) -> Result<JsTrustedSet, JsError> {
        match pinned_hash_hex {
            Some(hex) => {
                let pinned = hex.parse().map_err(|_| JsError::new("BAD_HASH: pinned hash must be 64 hex digits"))?;
                TrustedSet::from_bytes_pinned(bytes, &pinned).map(Self).map_err(js_error)
            }
            None => TrustedSet::from_bytes_unpinned(bytes).map(Self).map_err(js_error),
        }
    }

    /// Number of validators.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.0.set().len()
    }

    /// Verifies BCS bytes of a quorum certificate; returns the number of signers.
    #[wasm_bindgen(js_name = verifyQuorumCert)]
    pub fn verify_quorum_cert(&self, qc_bytes: &[u8]) -> Result<usize, JsError> {
        self.0.verify_quorum_cert(qc_bytes).map(|qc| qc.signatures.len()).map_err(js_error)
    }
}
