//! Certificates (C4) in the wallet: a certificate given as PEM or DER verified end to
//! end — its signature against the authentication centers' group key, its record on
//! chain (the account whose type is its state) with proofs against a certified header,
//! expiry judged at that header's time — and a certificate requested for a key: the
//! identification claims sealed here to each center, the request signed by the key
//! being certified, then followed on chain until the centers decide.

use serde::Serialize;
use vigil_api::{CertsAnswer, STATE_KEYS_MAX};
use vigil_protocol::authcenter::claims::seal_claims;
use vigil_protocol::authcenter::issuance::{RequestFields, CERT_REQUEST_FEE_MIN};
use vigil_protocol::authcenter::share::Rng06;
use vigil_protocol::authcenter::{
    AuthCenterSet, CertAccount, CertRequest, CertRequestRecord, CertRequests, CertState, GroupKey, IdentityClaims,
    RequestStatus, Subject, Verdict,
};
use vigil_protocol::encoding::from_bytes;
use vigil_protocol::x509::{pem_to_der, Certificate};
use vigil_protocol::{Height, Payload, SecretKey, StateKey};

use super::{verify_proven_with, Session, TransferReport, WalletError};
use crate::light::{LightClient, Verification};
use crate::platform::{Platform, PlatformRng};

/// Why a certificate does not verify (each its own code for JS).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertCheckError {
    #[error("not a certificate this wallet reads (X.509 v3, Ed25519): {0}")]
    Malformed(String),
    #[error("this chain has no authentication centers, or their key is not ready")]
    NoCenters,
    #[error("the certificate's signature does not verify against this chain's authentication centers' key: this consortium did not issue it (or it was altered)")]
    NotByConsortium,
    #[error("this chain holds no record of certificate {0}: not issued here")]
    NoRecord(String),
    #[error("the chain's record of serial {0} is another certificate")]
    Mismatch(String),
}

impl CertCheckError {
    pub fn code(&self) -> &'static str {
        match self {
            CertCheckError::Malformed(_) => "NOT_A_CERTIFICATE",
            CertCheckError::NoCenters => "NO_CENTERS",
            CertCheckError::NotByConsortium => "NOT_BY_CONSORTIUM",
            CertCheckError::NoRecord(_) => "NO_CERT_RECORD",
            CertCheckError::Mismatch(_) => "CERT_RECORD_MISMATCH",
        }
    }
}

/// A certificate verified against the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateReport {
    /// Hex.
    pub serial: String,
    pub subject: Subject,
    /// At the certified header's time: valid, frozen, revoked or expired.
    pub state: CertState,
    pub not_before_s: u64,
    pub not_after_s: u64,
    /// The centers that approved it, by name.
    pub approving_centers: Vec<String>,
    pub issued: Height,
    pub height: Option<Height>,
    /// What was checked, in words.
    pub method: String,
}

/// A submitted request, as the chain recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestReport {
    pub request_id: u64,
    pub transaction: TransferReport,
}

/// Where a request stands, for people: each center by name with its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    pub id: u64,
    /// `pending`, `signing` (approved by t centers, being signed), `issued`, `rejected`.
    pub status: &'static str,
    /// Hex, once the certificate is fixed.
    pub serial: Option<String>,
    pub verdicts: Vec<VerdictView>,
    pub subject: Subject,
    pub height: Option<Height>,
    pub method: String,
}

/// One center's verdict on a request (`verdict`: `approve`, `reject`, or none yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerdictView {
    pub center: String,
    pub verdict: Option<&'static str>,
    pub reason: Option<String>,
}

impl RequestView {
    fn of(record: &CertRequestRecord, set: &AuthCenterSet, verification: &Verification) -> RequestView {
        let (status, serial) = match &record.status {
            RequestStatus::Pending => ("pending", None),
            RequestStatus::Signing { serial, .. } => ("signing", Some(hex::encode(serial))),
            RequestStatus::Issued { serial } => ("issued", Some(hex::encode(serial))),
            RequestStatus::Rejected => ("rejected", None),
        };
        let verdicts = set
            .centers
            .iter()
            .zip(&record.verdicts)
            .map(|(c, v)| {
                let (verdict, reason) = match v {
                    None => (None, None),
                    Some(Verdict::Approve) => (Some("approve"), None),
                    Some(Verdict::Reject(why)) => (Some("reject"), Some(why.clone())),
                };
                VerdictView { center: c.name.clone(), verdict, reason }
            })
            .collect();
        RequestView {
            id: record.id,
            status,
            serial,
            verdicts,
            subject: record.request.subject.clone(),
            height: verification.height,
            method: verification.method.clone(),
        }
    }
}

/// The DER of `cert`, given as PEM text or as DER.
pub fn certificate_der(cert: &[u8]) -> Result<Vec<u8>, CertCheckError> {
    match std::str::from_utf8(cert) {
        Ok(text) if text.contains("-----BEGIN") => {
            pem_to_der(text).map_err(|e| CertCheckError::Malformed(e.to_string()))
        }
        _ => Ok(cert.to_vec()),
    }
}

fn decode<T: serde::de::DeserializeOwned>(value: &Option<Vec<u8>>) -> Result<Option<T>, WalletError> {
    value.as_deref().map(|b| from_bytes(b).map_err(|e| WalletError::BadAnswer(format!("state value: {e}")))).transpose()
}

impl<T: Platform> Session<T> {
    /// Verifies `cert` (PEM or DER): its signature against the centers' group key, its
    /// record with proofs against a certified header, its state at that header's time.
    pub async fn verify_certificate(&mut self, cert: &[u8]) -> Result<CertificateReport, WalletError> {
        let der = certificate_der(cert)?;
        let parsed = Certificate::from_der(&der).map_err(|e| CertCheckError::Malformed(e.to_string()))?;
        if parsed.serial.len() != 16 {
            // Not a serial this chain makes: no record to read.
            return Err(CertCheckError::NoRecord(hex::encode(parsed.serial)).into());
        }
        let answer: CertsAnswer = self.read(&format!("/v1/certs/{}", hex::encode(parsed.serial))).await?.1.parse()?;
        verify_certificate_answer(&mut self.light, &der, answer)
    }

    /// Requests a certificate for `applicant`'s key (which signs the request) with
    /// `claims` sealed to each center, paid by `payer`; the request's id once committed.
    pub async fn request_certificate(
        &mut self,
        payer: &SecretKey,
        applicant: &SecretKey,
        subject: Subject,
        claims: &IdentityClaims,
        validity_s: u64,
    ) -> Result<RequestReport, WalletError> {
        let (values, _) = self.proven_many(&[StateKey::AuthCenters]).await?;
        let set: AuthCenterSet = decode(&values[0])?.ok_or(CertCheckError::NoCenters)?;
        let mut rng = PlatformRng(self.client.platform());
        let sealed = (0u16..)
            .zip(&set.centers)
            .map(|(i, c)| seal_claims(&c.encryption_key, i, claims, &mut Rng06(&mut rng)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| WalletError::BadAnswer(format!("the claims cannot be sealed to the centers: {e}")))?;
        let now_s = self.client.platform().now_ms() / 1000;
        let fields = RequestFields {
            requester: vigil_protocol::Address::from_public_key(&payer.public_key()),
            subject,
            not_before_s: now_s,
            not_after_s: now_s.saturating_add(validity_s),
            claims_digest: claims.digest(),
            sealed_claims: sealed,
        };
        let request = CertRequest::sign(self.chain_id(), fields, applicant);
        let tx = self.sign(payer, Payload::CertRequest(Box::new(request.clone())), CERT_REQUEST_FEE_MIN).await?;
        let transaction = self.submit_everywhere(payer, &tx).await?;
        let request_id = self.find_request(&request).await?;
        Ok(RequestReport { request_id, transaction })
    }

    /// The id of `request` among the pending ones (newest first), proven.
    async fn find_request(&mut self, request: &CertRequest) -> Result<u64, WalletError> {
        let (values, _) = self.proven_many(&[StateKey::CertRequests]).await?;
        let requests: CertRequests = decode(&values[0])?.unwrap_or_default();
        for id in requests.pending.iter().rev() {
            let (record, _) = self.certificate_request(*id).await?;
            if record.is_some_and(|r| r.request.possession == request.possession) {
                return Ok(*id);
            }
        }
        Err(WalletError::BadAnswer("the committed request is not among the pending ones".into()))
    }

    /// A request for people: its status and each center's verdict by name, proven.
    pub async fn certificate_request_view(&mut self, id: u64) -> Result<RequestView, WalletError> {
        let (values, verification) = self.proven_many(&[StateKey::CertRequest(id), StateKey::AuthCenters]).await?;
        let record: CertRequestRecord =
            decode(&values[0])?.ok_or_else(|| WalletError::BadAnswer(format!("no certificate request {id}")))?;
        let set: AuthCenterSet = decode(&values[1])?.ok_or(CertCheckError::NoCenters)?;
        Ok(RequestView::of(&record, &set, &verification))
    }

    /// The requests still waiting for the centers (oldest first, at most `max`), each
    /// proven: what a center's operator reviews.
    pub async fn pending_certificate_requests(&mut self, max: usize) -> Result<Vec<RequestView>, WalletError> {
        let (values, _) = self.proven_many(&[StateKey::CertRequests, StateKey::AuthCenters]).await?;
        let requests: CertRequests = decode(&values[0])?.unwrap_or_default();
        let set: AuthCenterSet = decode(&values[1])?.ok_or(CertCheckError::NoCenters)?;
        let keys: Vec<StateKey> =
            requests.pending.iter().take(max.min(STATE_KEYS_MAX)).map(|&id| StateKey::CertRequest(id)).collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let (values, verification) = self.proven_many(&keys).await?;
        let mut views = Vec::with_capacity(values.len());
        for value in &values {
            if let Some(record) = decode::<CertRequestRecord>(value)? {
                views.push(RequestView::of(&record, &set, &verification));
            }
        }
        Ok(views)
    }

    /// A certificate of this chain as PEM, by serial (32 hex digits), as a node serves it;
    /// verify it with [`Session::verify_certificate`].
    pub async fn certificate_pem(&mut self, serial: &str) -> Result<String, WalletError> {
        let answer: CertsAnswer = self.read(&format!("/v1/certs/{serial}")).await?.1.parse()?;
        answer.certificates_pem.into_iter().next().ok_or_else(|| CertCheckError::NoRecord(serial.to_string()).into())
    }

    /// A request as the chain holds it (each center's verdict, its status), proven.
    pub async fn certificate_request(
        &mut self,
        id: u64,
    ) -> Result<(Option<CertRequestRecord>, Verification), WalletError> {
        let (values, verification) = self.proven_many(&[StateKey::CertRequest(id)]).await?;
        Ok((decode(&values[0])?, verification))
    }
}

/// Verifies `cert` (PEM or DER) with a node's answer for it (`GET /v1/certs/{serial}`),
/// offline: its signature against the centers' group key, its record with the proofs
/// against the answer's certified header (checked by `light`), its state at that
/// header's time. Nothing is cached: each call checks everything again.
pub fn verify_certificate_answer(
    light: &mut LightClient,
    cert: &[u8],
    answer: CertsAnswer,
) -> Result<CertificateReport, WalletError> {
    let der = certificate_der(cert)?;
    let parsed = Certificate::from_der(&der).map_err(|e| CertCheckError::Malformed(e.to_string()))?;
    let serial: [u8; 16] =
        parsed.serial.try_into().map_err(|_| CertCheckError::NoRecord(hex::encode(parsed.serial)))?;
    let serial_hex = hex::encode(serial);
    let keys = [StateKey::Certificate(serial), StateKey::GroupKey, StateKey::AuthCenters];
    let (values, verification) = verify_proven_with(light, &keys, answer.proven)?;
    let group: GroupKey = decode(&values[1])?.ok_or(CertCheckError::NoCenters)?;
    decode::<AuthCenterSet>(&values[2])?.ok_or(CertCheckError::NoCenters)?;
    parsed.verify(&group.key).map_err(|_| CertCheckError::NotByConsortium)?;
    let account: CertAccount = decode(&values[0])?.ok_or_else(|| CertCheckError::NoRecord(serial_hex.clone()))?;
    if account.record.der != der {
        return Err(CertCheckError::Mismatch(serial_hex).into());
    }
    Ok(report(&parsed, &account, &verification, serial_hex))
}

fn report(
    parsed: &Certificate<'_>,
    account: &CertAccount,
    verification: &Verification,
    serial: String,
) -> CertificateReport {
    let header_s = verification.header_time_ms.unwrap_or(0) / 1000;
    let names = account.record.approvers.clone();
    CertificateReport {
        serial,
        subject: account.record.subject.clone(),
        state: account.state_at(header_s),
        not_before_s: parsed.not_before_s,
        not_after_s: parsed.not_after_s,
        approving_centers: names,
        issued: account.record.issued,
        height: verification.height,
        method: format!(
            "{}; the certificate's Ed25519 signature verified against the centers' group key; its account's type read from the proven state, expiry judged at the header's time",
            verification.method
        ),
    }
}
