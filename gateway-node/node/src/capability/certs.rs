//! Certificates at the node: `GET /v1/certs/root.pem`, the consortium's root certificate
//! (self-signed by a threshold of the authentication centers) as PEM, at a URL that does
//! not change — what `openssl verify -CAfile root.pem` is given. It is served from the
//! state; a client that must not trust this node reads `CertAuthority` at
//! `/v1/state/{key}` with its proof, as the wallet does.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use vigil_api::ErrorCode;
use vigil_protocol::authcenter::CertAuthority;
use vigil_protocol::x509::der_to_pem;
use vigil_protocol::StateKey;

use crate::api::{ApiError, ApiResult};
use crate::openapi::error_doc;
use crate::service::Shared;

/// The media type of a PEM certificate (RFC 7468, section 5.1's registration).
pub const PEM_CONTENT_TYPE: &str = "application/pem-certificate-chain";

pub fn routes() -> Router<Arc<Shared>> {
    let routes = Router::new().route("/v1/certs/root.pem", get(root_pem));
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

/// This module's routes in the OpenAPI document (`crate::openapi`).
pub fn openapi_paths() -> Value {
    json!({
        "/v1/certs/root.pem": { "get": {
            "summary": "The consortium's root certificate (X.509 v3, Ed25519, self-signed by a threshold of the authentication centers) as PEM: the CA file for `openssl verify`",
            "responses": {
                "200": { "description": "PEM (application/pem-certificate-chain)" },
                "404": error_doc("NOT_FOUND (no centers on this chain, or the root is not signed yet)")
            }
        }}
    })
}
