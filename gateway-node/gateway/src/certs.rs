//! `GET /v1/certs/root.pem`: the consortium's root certificate at the gateway's own,
//! stable address (what an operator gives `openssl verify -CAfile`). Asked of the
//! configured nodes in turn; the first answer that is a well-formed certificate signed by
//! its own key is passed on. That it is *the chain's* root is for a client that must not
//! trust the gateway to check: the wallet reads it with a proof against a certified header.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use vigil_api::ErrorCode;
use vigil_protocol::sealed::PlainRequest;
use vigil_protocol::x509::{pem_to_der, Certificate};

use super::{Gateway, GatewayError};

/// The node API path of the root certificate (the same path as the gateway's).
pub const ROOT_PEM_PATH: &str = "/v1/certs/root.pem";

pub(super) async fn root_pem(State(gw): State<Arc<Gateway>>) -> Result<Response, GatewayError> {
    let request = PlainRequest::new("GET", ROOT_PEM_PATH, None, vec![]);
    let mut last = GatewayError::new(ErrorCode::NodeUnavailable, "no node answered with the root certificate");
    for (id, _) in gw.registry.configured() {
        match gw.forward_one(*id, &request).await {
            Ok(answer) if answer.status == 200 && self_signed(&answer.body) => {
                let content_type = answer.header("content-type").unwrap_or("application/pem-certificate-chain");
                return Ok(([(header::CONTENT_TYPE, content_type.to_string())], answer.body).into_response());
            }
            Ok(answer) if answer.status == 404 => {
                last = GatewayError::new(
                    ErrorCode::NotFound,
                    "the root certificate is not signed yet: the authentication centers sign it once their key generation ends",
                );
            }
            Ok(_) => {}
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Whether `pem` is one certificate whose signature verifies against its own key.
fn self_signed(pem: &[u8]) -> bool {
    let Some(der) = std::str::from_utf8(pem).ok().and_then(|t| pem_to_der(t).ok()) else { return false };
    Certificate::from_der(&der).is_ok_and(|c| c.verify(&c.subject_key).is_ok())
}
