//! The API described as OpenAPI 3.1, served at `/v1/openapi.json`: the public routes
//! only (`/metrics` is on the node's loopback admin listener, not part of this API).

use serde_json::{json, Value};
use vigil_api::ErrorCode;

/// A response that is the error document, with the codes it may carry in `description`.
pub(crate) fn error_doc(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

/// The paths of several modules' documents as one `paths` object.
pub(crate) fn merge_paths(parts: impl IntoIterator<Item = Value>) -> Value {
    let mut paths = serde_json::Map::new();
    for part in parts {
        if let Value::Object(part) = part {
            paths.extend(part);
        }
    }
    Value::Object(paths)
}

pub fn document() -> Value {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    let paths = merge_paths([
        own_paths(),
        crate::api::tx::openapi_paths(),
        crate::api::batch::openapi_paths(),
        crate::api::chain::openapi_paths(),
        crate::capability::openapi_paths(),
    ]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Vigil node API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Submit signed transactions and read certified, provable chain data. Every signed or certified object is also returned as BCS hex (`*_bcs`), the exact bytes a light client verifies."
        },
        "paths": paths,
        "components": { "schemas": {
            "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": { "code": { "type": "string", "enum": codes, "description": "vigil_api::ErrorCode: each code has one HTTP status" }, "message": { "type": "string" } } } } },
            "SignedTransaction": { "type": "object", "required": ["tx", "signature"], "properties": {
                "tx": { "type": "object", "required": ["chain_id", "sender", "nonce", "fee", "payload"], "properties": {
                    "chain_id": { "type": "string" }, "sender": { "type": "string", "description": "Ed25519 public key, hex" },
                    "nonce": { "type": "integer" }, "fee": { "type": "integer" },
                    "payload": { "type": "object", "description": "{\"Transfer\": {\"to\": \"vigil1…\", \"amount\": n}} or {\"FaultEvidence\": …}" } } },
                "signature": { "type": "string", "description": "Ed25519 signature over \"vigil/v1/sign/tx\" ‖ 0 ‖ BCS(tx), hex" } } },
            "ReceiptResponse": { "type": "object", "properties": {
                "tx_hash": { "type": "string" }, "status": { "type": "string", "enum": ["committed"] },
                "receipt": { "type": "object", "description": "SignedReceipt" },
                "receipt_bcs": { "type": "string", "description": "BCS SignedReceipt, hex" } } },
            "TxBatchAnswer": { "type": "object", "required": ["results"], "properties": {
                "results": { "type": "array", "items": { "type": "object", "required": ["tx_hash"], "properties": {
                    "tx_hash": { "type": "string" },
                    "status": { "type": "string", "enum": ["committed", "pending"], "description": "absent when refused" },
                    "receipt_bcs": { "type": "string", "description": "BCS SignedReceipt, hex (committed)" },
                    "error": { "type": "object", "required": ["code", "message"], "properties": { "code": { "type": "string", "enum": codes }, "message": { "type": "string" } } } } } } } }
        }}
    })
}

/// The routes that are no module's own: any state entry, this document, the sealed
/// ends of the gateway's modes, the liveness probe.
fn own_paths() -> Value {
    json!({
        "/v1/state/{key}": { "get": {
                "summary": "Any state entry with its Merkle proof (present or absent) against the certified header of the same height",
                "parameters": [{ "name": "key", "in": "path", "required": true, "schema": { "type": "string", "description": "BCS StateKey, hex" } }],
                "responses": { "200": { "description": "`height`, `state_key_bcs`, `value_bcs` (null when absent), `proof_bcs` (StateProof), `certified_header_bcs`" }, "400": error_doc("BAD_STATE_KEY") }
            }},
        "/v1/states": { "post": {
                "summary": "Several state entries at once (at most 256), each with its Merkle proof against the certified header of the one height they are all read at",
                "requestBody": { "content": { "application/json": { "schema": { "type": "object", "required": ["keys_bcs"], "properties": { "keys_bcs": { "type": "array", "maxItems": 256, "items": { "type": "string", "description": "BCS StateKey, hex" } }, "after": { "type": "integer", "minimum": 0, "description": "answer once a height above this is committed (waits at most 1000 ms)" } } } } } },
                "responses": { "200": { "description": "`height`, `entries` (each `state_key_bcs`, `value_bcs` or null, `proof_bcs`) in the order asked, `certified_header_bcs`" }, "400": error_doc("BAD_STATE_KEY, MALFORMED") }
            }},
        "/v1/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3 document" } } } },
        "/v1/ohttp-keys": { "get": { "summary": "Key configuration for sealed requests (RFC 9458); its key is this node's X25519 key in the validator set", "responses": { "200": { "description": "application/ohttp-keys" } } } },
        "/v1/link": { "post": { "summary": "Opens a forwarding-link session (a gateway's): HPKE base mode to this node's X25519 key in the validator set; the body is the 32-byte encapsulated key, the answer this node's fresh nonce and a tag only the key's holder can make", "requestBody": { "content": { "application/vigil-link-open": {} } }, "responses": { "200": { "description": "application/vigil-link-res: the confirmation" }, "400": { "description": "BAD_OPENING: not an encapsulated key to this node", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }, "415": { "description": "Not application/vigil-link-open" } } } },
        "/v1/link/requests": { "post": { "summary": "Up to 64 link requests at once (a gateway's, when requests to this node queue up): a 4-byte big-endian length and the BCS of the list of sealed requests, each as /v1/link/request takes it; each is served as if it came alone, and its answer streams back as soon as it is ready: a 4-byte length and the BCS of its index in the batch, the HTTP status and the body /v1/link/request would have answered", "requestBody": { "content": { "application/vigil-link-batch": {} } }, "responses": { "200": { "description": "application/vigil-link-answers: one frame per request, in the order they finish" }, "400": { "description": "CANNOT_OPEN: not a batch (framing, or 0 or more than 64 requests, or over 1 MiB)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }, "415": { "description": "Not application/vigil-link-batch" } } } },
        "/v1/link/request": { "post": { "summary": "A request to this API sealed under a link session's key (session id and counter, then ChaCha20-Poly1305 around Binary HTTP); the answer comes back sealed under the session's answer key and the same counter", "requestBody": { "content": { "application/vigil-link-req": {} } }, "responses": { "200": { "description": "application/vigil-link-res" }, "400": { "description": "CANNOT_OPEN: altered in transit, or another session's", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }, "404": { "description": "UNKNOWN_SESSION: expired, or this node restarted; open another (the request was not served)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }, "409": { "description": "REPLAYED: the counter was used or fell below the window (not served)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }, "415": { "description": "Not application/vigil-link-req" } } } },
        "/v1/sealed": { "post": { "summary": "A request to this API sealed to this node (Oblivious HTTP: HPKE X25519-HKDF-SHA256 / HKDF-SHA256 / ChaCha20-Poly1305 around Binary HTTP); the answer comes back sealed", "requestBody": { "content": { "message/ohttp-req": {} } }, "responses": { "200": { "description": "message/ohttp-res" }, "400": { "description": "Does not open with this node's key (another key, or altered in transit)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }, "415": { "description": "Not message/ohttp-req" } } } },
        "/healthz": { "get": { "summary": "Liveness probe", "responses": { "200": { "description": "ok" } } } }
    })
}

#[cfg(test)]
mod tests {
    use vigil_api::ErrorCode;

    /// Every code a description names is one the API has, with the status it is
    /// listed under: the prose cannot drift from `vigil_api::ErrorCode`.
    #[test]
    fn every_code_named_is_an_api_code_under_its_status() {
        let doc = super::document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    let text = response["description"].as_str().unwrap_or_default();
                    let words = text.split(|c: char| !(c.is_ascii_uppercase() || c == '_'));
                    for word in words.filter(|w| w.len() > 3 && w.contains('_')) {
                        let code = ErrorCode::ALL.iter().find(|c| c.as_str() == word);
                        let code = code.unwrap_or_else(|| panic!("{method} {path} {status}: {word} is no ErrorCode"));
                        assert_eq!(code.status().to_string(), *status, "{method} {path}: {word}");
                    }
                }
            }
        }
        let listed = &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"];
        assert_eq!(listed.as_array().unwrap().len(), ErrorCode::ALL.len());
    }
    /// Issue 14: `/metrics` is an operator's route on the admin listener, not public API.
    #[test]
    fn the_document_lists_public_routes_only() {
        let doc = super::document();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.contains_key("/v1/tx") && paths.contains_key("/healthz"));
        assert!(!paths.contains_key("/metrics"), "{:?}", paths.keys().collect::<Vec<_>>());
    }

    /// OpenAPI 3 (§4.8.12.1): every template in a path is a declared, required path
    /// parameter of each of its operations, and nothing else is declared in the path.
    /// The node's routes with templates are all documented.
    #[test]
    fn every_path_template_is_a_declared_parameter() {
        let doc = super::document();
        let paths = doc["paths"].as_object().unwrap();
        for route in [
            "/v1/tx/{hash}",
            "/v1/blocks/{height}",
            "/v1/blocks/{height}/receipts/{index}",
            "/v1/accounts/{address}",
            "/v1/state/{key}",
            "/v1/states",
            "/v1/certs/{serial}",
            "/v1/certs/by-key/{key}",
            "/v1/vault/store",
            "/v1/vault/fetch",
        ] {
            assert!(paths.contains_key(route), "{route} is served but not documented");
        }
        for (path, item) in paths {
            let templates: Vec<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
            for (method, op) in item.as_object().unwrap() {
                let declared: Vec<&str> = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| p["in"] == "path")
                            .inspect(|p| {
                                assert_eq!(p["required"], true, "{method} {path}: path parameters are required")
                            })
                            .filter_map(|p| p["name"].as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                let mut want = templates.clone();
                let mut got = declared.clone();
                want.sort();
                got.sort();
                assert_eq!(got, want, "{method} {path}");
                assert!(op["responses"].is_object(), "{method} {path} has responses");
            }
        }
    }
}
