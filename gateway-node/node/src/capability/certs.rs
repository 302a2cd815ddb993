//! Certificates at the node:
//!
//! - `GET /v1/certs/root.pem`: the consortium's root certificate (self-signed by a
//!   threshold of the authentication centers) as PEM, at a URL that does not change —
//!   what `openssl verify -CAfile root.pem` is given.
//! - `GET /v1/certs/{serial}` (32 hex digits) and `GET /v1/certs/by-key/{public_key}`:
//!   certificates as PEM with what proves them — each certificate's account (its type is
//!   the certificate's state), the key's list, the group key and the center set —
//!   against one certified header ([`CertsAnswer`]): what the wallet verifies.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_api::{CertsAnswer, ErrorCode};
use vigil_protocol::authcenter::issuance::parse_serial;
use vigil_protocol::authcenter::{CertAccount, CertAuthority};
use vigil_protocol::encoding::from_bytes;
use vigil_protocol::x509::der_to_pem;
use vigil_protocol::{PublicKey, StateKey};

use crate::api::{prove_states, ApiError, ApiResult};
use crate::openapi::error_doc;
use crate::service::Shared;

/// The media type of a PEM certificate (RFC 7468, section 5.1's registration).
pub const PEM_CONTENT_TYPE: &str = "application/pem-certificate-chain";

pub fn routes() -> Router<Arc<Shared>> {
    let routes = Router::new()
        .route("/v1/certs/root.pem", get(root_pem))
        .route("/v1/certs/by-key/{key}", get(by_key))
        .route("/v1/certs/{serial}", get(by_serial));
    crate::api::body_limit(routes, crate::api::API_BODY_MAX_BYTES)
}

async fn root_pem(State(shared): State<Arc<Shared>>) -> ApiResult<impl IntoResponse> {
    let view = shared.view();
    let authority: Option<CertAuthority> = view.ledger.state(&StateKey::CertAuthority);
    let root = authority.and_then(|a| a.root).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            "the root certificate is not signed yet: the authentication centers sign it once their key generation ends (a few blocks after they start)",
        )
    })?;
    Ok(([(header::CONTENT_TYPE, PEM_CONTENT_TYPE)], der_to_pem(&root)))
}

/// What proves any certificate of this chain: the group key that signs them and the set.
const AUTHORITY_KEYS: [StateKey; 2] = [StateKey::GroupKey, StateKey::AuthCenters];

fn answer(shared: &Shared, keys: Vec<StateKey>) -> ApiResult<Json<CertsAnswer>> {
    let proven = prove_states(shared, &keys)?;
    let certificates_pem = proven
        .entries
        .iter()
        .zip(&keys)
        .filter(|(_, k)| matches!(k, StateKey::Certificate(_)))
        .filter_map(|(e, _)| e.value_bcs.as_ref().and_then(|v| from_bytes::<CertAccount>(&v.0).ok()))
        .map(|account| der_to_pem(&account.record.der))
        .collect();
    Ok(Json(CertsAnswer { certificates_pem, proven }))
}

/// A certificate by serial: present (with its account) or proven absent.
async fn by_serial(State(shared): State<Arc<Shared>>, Path(serial): Path<String>) -> ApiResult<Json<CertsAnswer>> {
    let serial = parse_serial(&serial)
        .ok_or_else(|| ApiError::new(ErrorCode::Malformed, "a certificate's serial is 32 hex digits (16 bytes)"))?;
    answer(&shared, [StateKey::Certificate(serial)].into_iter().chain(AUTHORITY_KEYS).collect())
}

/// The certificates issued for a key (the newest
/// [`CERTIFICATES_PER_KEY_MAX`](vigil_core::capability::authcenter::session::CERTIFICATES_PER_KEY_MAX)).
async fn by_key(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult<Json<CertsAnswer>> {
    let key: PublicKey =
        key.parse().map_err(|_| ApiError::new(ErrorCode::Malformed, "a public key is 64 hex digits (Ed25519)"))?;
    let list = StateKey::CertificatesOf(key);
    let serials: Vec<[u8; 16]> = shared.view().ledger.state(&list).unwrap_or_default();
    let mut keys = vec![list];
    keys.extend(serials.into_iter().map(StateKey::Certificate));
    keys.extend(AUTHORITY_KEYS);
    answer(&shared, keys)
}

/// This module's routes in the OpenAPI document (`crate::openapi`).
pub fn openapi_paths() -> Value {
    json!({
        "/v1/certs/root.pem": { "get": {
            "summary": "The consortium's root certificate (X.509 v3, Ed25519, self-signed by a threshold of the authentication centers) as PEM: the CA file for `openssl verify`",
            "responses": {
                "200": { "description": "PEM (application/pem-certificate-chain)" },
                "404": error_doc("NOT_FOUND (no centers on this chain, or the root is not signed yet)")
            }
        }},
        "/v1/certs/{serial}": { "get": {
            "summary": "A certificate by serial with what proves it: its account (whose type is its state: valid, frozen, revoked), the centers' group key and set, each with its Merkle proof against one certified header",
            "parameters": [{ "name": "serial", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9a-f]{32}$" } }],
            "responses": {
                "200": { "description": "`certificates_pem` (empty when proven absent), `proven` (as POST /v1/states: Certificate(serial), GroupKey, AuthCenters)" },
                "400": error_doc("MALFORMED (not 32 hex digits)")
            }
        }},
        "/v1/certs/by-key/{key}": { "get": {
            "summary": "The certificates issued for an Ed25519 key (the newest 64) with what proves them",
            "parameters": [{ "name": "key", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[0-9a-f]{64}$" } }],
            "responses": {
                "200": { "description": "`certificates_pem`, `proven` (CertificatesOf(key), each Certificate(serial), GroupKey, AuthCenters)" },
                "400": error_doc("MALFORMED (not a public key)")
            }
        }}
    })
}
