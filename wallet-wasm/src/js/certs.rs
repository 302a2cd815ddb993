//! Certificates in the JS API: a certificate (PEM text or DER bytes) verified against
//! the chain (`verifyCertificate`: `{ state, height, method, approvingCenters, … }`), a
//! certificate requested for a wallet account's key (`requestCertificate`), and a
//! request followed on chain with each center's verdict (`certificateRequest`).

use js_sys::Promise;
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use vigil_protocol::authcenter::issuance::{Claim, VALIDITY_MAX_S};
use vigil_protocol::authcenter::{IdentityClaims, Subject};

use super::{busy, error, key_error, to_js, wallet_error, VigilClient, Wallet};
use crate::session::certs::verify_certificate_answer;

/// The TypeScript of this part of the API (emitted into the package's declarations).
#[wasm_bindgen(typescript_custom_section)]
const CERT_TYPES: &str = r#"
/** A certificate's state at the certified header's time. */
export type CertificateState = 'valid' | 'frozen' | 'revoked' | 'expired';

/** A certificate verified against the chain (`VigilClient.verifyCertificate`). */
export interface CertificateReport {
  /** 32 hex digits. */
  serial: string;
  subject: { common_name: string; organization: string | null };
  state: CertificateState;
  notBeforeS: number;
  notAfterS: number;
  /** The centers that approved it, by name. */
  approvingCenters: string[];
  /** The height the certificate was issued at. */
  issued: number;
  /** The certified header the state was proven against. */
  height: number | null;
  /** What was checked, in words. */
  method: string;
}

/** `VigilClient.requestCertificate`'s options. */
export interface CertificateRequestOptions {
  commonName: string;
  organization?: string;
  /** Identification claims (name → value), sealed here to each center: only their digest is public. */
  claims?: Record<string, string>;
  validitySeconds: number;
}

/** A certificate request as the chain holds it (`VigilClient.certificateRequest`). */
export interface CertificateRequestView {
  id: number;
  status: 'pending' | 'signing' | 'issued' | 'rejected';
  serial: string | null;
  verdicts: { center: string; verdict: 'approve' | 'reject' | null; reason: string | null }[];
  subject: { common_name: string; organization: string | null };
  height: number | null;
  method: string;
}
"#;

/// `requestCertificate`'s options.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RequestOptions {
    common_name: String,
    #[serde(default)]
    organization: Option<String>,
    /// Name → value, sealed to each center.
    #[serde(default)]
    claims: std::collections::BTreeMap<String, String>,
    validity_seconds: u64,
}

/// A certificate given as PEM text or DER bytes.
fn certificate_bytes(certificate: JsValue) -> Result<Vec<u8>, JsValue> {
    match certificate.as_string() {
        Some(text) => Ok(text.into_bytes()),
        None if certificate.is_instance_of::<js_sys::Uint8Array>() => {
            Ok(js_sys::Uint8Array::from(certificate).to_vec())
        }
        None => Err(error("NOT_A_CERTIFICATE", "give the certificate as PEM text or DER bytes")),
    }
}

#[wasm_bindgen]
impl VigilClient {
    /// Verifies a certificate given as PEM text or DER bytes: its signature against the
    /// centers' group key, its record on chain with proofs against a certified header;
    /// resolves to `{ serial, subject, state ('valid'|'frozen'|'revoked'|'expired'),
    /// notBeforeS, notAfterS, approvingCenters, issued, height, method }`.
    #[wasm_bindgen(js_name = verifyCertificate, unchecked_return_type = "Promise<CertificateReport>")]
    pub fn verify_certificate(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] certificate: JsValue,
    ) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            let bytes = certificate_bytes(certificate)?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let r = s.verify_certificate(&bytes).await;
            to_js(&r.map_err(wallet_error)?)
        })
    }

    /// Verifies a certificate (PEM text or DER bytes) with a node's answer for it (the JSON
    /// of `GET /v1/certs/{serial}`), offline: the same checks as `verifyCertificate`, on
    /// data fetched by any means; nothing cached between calls.
    #[wasm_bindgen(js_name = verifyCertificateProof, unchecked_return_type = "CertificateReport")]
    pub fn verify_certificate_proof(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] certificate: JsValue,
        answer_json: &str,
    ) -> Result<JsValue, JsValue> {
        let bytes = certificate_bytes(certificate)?;
        let answer = serde_json::from_slice(answer_json.as_bytes()).map_err(|e| error("BAD_ANSWER", e))?;
        let mut s = self.session.try_hold().ok_or_else(busy)?;
        let r = verify_certificate_answer(&mut s.light, &bytes, answer);
        to_js(&r.map_err(wallet_error)?)
    }

    /// Requests a certificate for `wallet`'s account `index` (its key signs the request
    /// and pays the fee): `{ commonName, organization?, claims?: { name: value },
    /// validitySeconds }`; the claims are sealed here to each center. Resolves to
    /// `{ requestId, transaction }` once the request is committed.
    #[wasm_bindgen(
        js_name = requestCertificate,
        unchecked_return_type = "Promise<{ requestId: number; transaction: unknown }>"
    )]
    pub fn request_certificate(
        &self,
        wallet: &Wallet,
        index: u32,
        #[wasm_bindgen(unchecked_param_type = "CertificateRequestOptions")] options: JsValue,
    ) -> Promise {
        let shared = self.session.clone();
        let account = wallet.0.account(index);
        future_to_promise(async move {
            let account = account.map_err(key_error)?;
            let text = js_sys::JSON::stringify(&options).map(String::from).unwrap_or_default();
            let o: RequestOptions = serde_json::from_slice(text.as_bytes()).map_err(|e| error("BAD_OPTIONS", e))?;
            if o.validity_seconds == 0 || o.validity_seconds > VALIDITY_MAX_S {
                return Err(error("BAD_OPTIONS", format!("validitySeconds must be 1 to {VALIDITY_MAX_S}")));
            }
            let subject = Subject { common_name: o.common_name, organization: o.organization };
            subject.check().map_err(|e| error("BAD_OPTIONS", e))?;
            let claims =
                IdentityClaims { claims: o.claims.into_iter().map(|(name, value)| Claim { name, value }).collect() };
            claims.check().map_err(|e| error("BAD_OPTIONS", e))?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let r = s.request_certificate(&account.key, &account.key, subject, &claims, o.validity_seconds).await;
            to_js(&r.map_err(wallet_error)?)
        })
    }

    /// A certificate request as the chain holds it, proven: `{ id, status
    /// ('pending'|'signing'|'issued'|'rejected'), serial?, verdicts: [{ center, verdict
    /// ('approve'|'reject'|null), reason }], subject, height, method }`.
    #[wasm_bindgen(js_name = certificateRequest, unchecked_return_type = "Promise<CertificateRequestView>")]
    pub fn certificate_request(&self, id: f64) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            if id < 0.0 || id.fract() != 0.0 || id > 9_007_199_254_740_991.0 {
                return Err(error("BAD_OPTIONS", "a request id is a whole number"));
            }
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let r = s.certificate_request_view(id as u64).await;
            to_js(&r.map_err(wallet_error)?)
        })
    }
}
