//! Certificate requests, the centers' verdicts on them, and the certificates' records.
//!
//! - **Request** ([`CertRequest`]): the subject, the applicant's Ed25519 key, the
//!   validity asked for, and the identification claims — sealed to each center's
//!   long-term X25519 key (`claims`, HPKE), only their digest readable on chain. The
//!   applicant's key signs the request (its proof of possession, bound to the chain).
//! - **Verdicts** ([`CertVerdict`]): each center checks the applicant (its claims, its
//!   own policy, the validity against its clock) and approves, or rejects with a reason,
//!   in a transaction signed by its identity key. With t approvals the certificate's
//!   to-be-signed bytes are fixed and a signing session opens among the approvers; once
//!   approval can no longer reach t, the request is rejected.
//! - **Record** ([`CertAccount`]): an issued certificate is held by an account whose
//!   type is its state ([`CertKind`]: valid, frozen, revoked; expired is judged against
//!   a certified header's time), at `StateKey::Certificate(serial)`.

use serde::{Deserialize, Serialize};

use crate::crypto::{PublicKey, SecretKey, Signature};
use crate::encoding::to_bytes;
use crate::hash::{hash_value, Domain, Hash32};
use crate::{Address, ChainId, Height};

/// Longest validity a certificate may ask for (five years).
pub const VALIDITY_MAX_S: u64 = 5 * 366 * 86_400;
/// Largest sealed claims (one center's copy, ciphertext and tag).
pub const SEALED_CLAIMS_BYTES_MAX: usize = 4 * 1024;
/// Most claims a request carries, and the longest name and value of one.
pub const CLAIMS_MAX: usize = 16;
pub const CLAIM_NAME_LEN_MAX: usize = 64;
pub const CLAIM_VALUE_LEN_MAX: usize = 1024;
/// Longest reason a center gives for a rejection.
pub const REASON_LEN_MAX: usize = 256;
/// Most requests waiting for verdicts at once.
pub const PENDING_REQUESTS_MAX: usize = 1024;
/// The least fee of a request (it costs the centers work).
pub const CERT_REQUEST_FEE_MIN: u64 = 10;
/// Longest common name and organisation (RFC 5280's `ub-common-name`, `ub-organization-name`).
pub const NAME_PART_LEN_MAX: usize = 64;
/// Seconds from 1970 to 9999-12-31T23:59:59Z: the root's end, and the latest any
/// certificate may end (RFC 5280's "no well-defined expiration").
pub const NO_EXPIRATION_S: u64 = 253_402_300_799;
/// The organisation of the consortium root.
pub const ROOT_ORGANIZATION: &str = "Vigil consortium";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuanceError {
    #[error("a name part must be 1 to {NAME_PART_LEN_MAX} characters, without control characters")]
    Name,
    #[error("the validity must start before it ends, last at most {VALIDITY_MAX_S} s and end by 9999-12-31")]
    Validity,
    #[error("the request must carry the claims sealed to each of the {centers} centers, each at most {SEALED_CLAIMS_BYTES_MAX} bytes")]
    SealedClaims { centers: usize },
    #[error("the applicant key's signature over the request does not verify (no proof of possession)")]
    NoProofOfPossession,
    #[error("a rejection or a vote must give a reason of 1 to {REASON_LEN_MAX} characters")]
    Reason,
    #[error("at most {CLAIMS_MAX} claims, names of 1 to {CLAIM_NAME_LEN_MAX} and values of at most {CLAIM_VALUE_LEN_MAX} characters")]
    Claims,
}

fn name_part_ok(s: &str) -> bool {
    !s.is_empty() && s.chars().count() <= NAME_PART_LEN_MAX && !s.chars().any(char::is_control)
}

/// A certificate's subject (or issuer): a common name and an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub common_name: String,
    pub organization: Option<String>,
}

impl Subject {
    pub fn check(&self) -> Result<(), IssuanceError> {
        if name_part_ok(&self.common_name) && self.organization.as_deref().is_none_or(name_part_ok) {
            Ok(())
        } else {
            Err(IssuanceError::Name)
        }
    }

    /// The consortium root's subject on chain `chain`.
    pub fn root(chain: &ChainId) -> Subject {
        Subject {
            common_name: format!("{chain} authentication centers"),
            organization: Some(ROOT_ORGANIZATION.to_string()),
        }
    }
}

/// One identification claim (e.g. `email`, `registration-number`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub name: String,
    pub value: String,
}

/// What an applicant tells the centers about itself; sealed to each, never public.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityClaims {
    pub claims: Vec<Claim>,
}

impl IdentityClaims {
    pub fn check(&self) -> Result<(), IssuanceError> {
        let ok = |c: &Claim| {
            !c.name.is_empty()
                && c.name.chars().count() <= CLAIM_NAME_LEN_MAX
                && c.value.chars().count() <= CLAIM_VALUE_LEN_MAX
        };
        if self.claims.len() <= CLAIMS_MAX && self.claims.iter().all(ok) {
            Ok(())
        } else {
            Err(IssuanceError::Claims)
        }
    }

    /// What the chain shows of them.
    pub fn digest(&self) -> Hash32 {
        hash_value(Domain::CertClaims, self)
    }

    /// The value of the first claim named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.claims.iter().find(|c| c.name == name).map(|c| c.value.as_str())
    }
}

/// The claims sealed to one center (HPKE: the encapsulated key, then ciphertext and tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedClaims {
    #[serde(with = "crate::bytes")]
    pub enc: [u8; 32],
    pub ciphertext: Vec<u8>,
}

/// What the applicant's key signs: every field of the request but the signature, the
/// chain and the account that submits it (a request cannot be replayed on another chain,
/// nor submitted again by someone else).
#[derive(Serialize)]
struct SignedRequest<'a> {
    chain: &'a ChainId,
    requester: &'a Address,
    subject: &'a Subject,
    applicant_key: &'a PublicKey,
    not_before_s: u64,
    not_after_s: u64,
    claims_digest: &'a Hash32,
    sealed_claims: &'a [SealedClaims],
}

/// A request for a certificate (payload `CertRequest`), by anyone who pays its fee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRequest {
    pub subject: Subject,
    pub applicant_key: PublicKey,
    /// The validity asked for, in seconds since the Unix epoch (the centers check the
    /// start against their clocks).
    pub not_before_s: u64,
    pub not_after_s: u64,
    pub claims_digest: Hash32,
    /// One per center, in the set's order.
    pub sealed_claims: Vec<SealedClaims>,
    /// The applicant key's signature over the rest (proof of possession).
    pub possession: Signature,
}

/// The fields of a request before the applicant signs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFields {
    /// The account that will submit (and pay for) the request.
    pub requester: Address,
    pub subject: Subject,
    pub not_before_s: u64,
    pub not_after_s: u64,
    pub claims_digest: Hash32,
    pub sealed_claims: Vec<SealedClaims>,
}

impl CertRequest {
    /// The request signed by the applicant's key.
    pub fn sign(chain: &ChainId, fields: RequestFields, applicant: &SecretKey) -> CertRequest {
        let applicant_key = applicant.public_key();
        let message = Self::message(chain, &fields, &applicant_key);
        CertRequest {
            subject: fields.subject,
            applicant_key,
            not_before_s: fields.not_before_s,
            not_after_s: fields.not_after_s,
            claims_digest: fields.claims_digest,
            sealed_claims: fields.sealed_claims,
            possession: applicant.sign(Domain::CertRequestSignature, &message),
        }
    }

    fn message(chain: &ChainId, f: &RequestFields, key: &PublicKey) -> Vec<u8> {
        to_bytes(&SignedRequest {
            chain,
            requester: &f.requester,
            subject: &f.subject,
            applicant_key: key,
            not_before_s: f.not_before_s,
            not_after_s: f.not_after_s,
            claims_digest: &f.claims_digest,
            sealed_claims: &f.sealed_claims,
        })
    }

    fn fields(&self, requester: Address) -> RequestFields {
        RequestFields {
            requester,
            subject: self.subject.clone(),
            not_before_s: self.not_before_s,
            not_after_s: self.not_after_s,
            claims_digest: self.claims_digest,
            sealed_claims: self.sealed_claims.clone(),
        }
    }

    /// The request's shape for a set of `centers`: names, validity, one sealed copy of
    /// the claims per center.
    pub fn check(&self, centers: usize) -> Result<(), IssuanceError> {
        self.subject.check()?;
        let length = self.not_after_s.saturating_sub(self.not_before_s);
        if length == 0 || length > VALIDITY_MAX_S || self.not_after_s > NO_EXPIRATION_S {
            return Err(IssuanceError::Validity);
        }
        if self.sealed_claims.len() != centers
            || self.sealed_claims.iter().any(|s| s.ciphertext.len() > SEALED_CLAIMS_BYTES_MAX)
        {
            return Err(IssuanceError::SealedClaims { centers });
        }
        Ok(())
    }

    /// The applicant key's signature, for `chain` and the account `requester` that
    /// submitted the request.
    pub fn verify_possession(&self, chain: &ChainId, requester: &Address) -> Result<(), IssuanceError> {
        let message = Self::message(chain, &self.fields(*requester), &self.applicant_key);
        self.applicant_key
            .verify(Domain::CertRequestSignature, &message, &self.possession)
            .map_err(|_| IssuanceError::NoProofOfPossession)
    }
}

/// A center's decision on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Approve,
    Reject(String),
}

/// A center's verdict (payload `CertVerdict`, signed by the center's identity key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertVerdict {
    pub request: u64,
    pub verdict: Verdict,
}

impl CertVerdict {
    pub fn check(&self) -> Result<(), IssuanceError> {
        match &self.verdict {
            Verdict::Reject(why) if why.trim().is_empty() || why.chars().count() > REASON_LEN_MAX => {
                Err(IssuanceError::Reason)
            }
            _ => Ok(()),
        }
    }
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestStatus {
    /// Waiting for verdicts.
    Pending,
    /// Approved by t centers at height `approved`: the certificate is fixed (its serial,
    /// the approvers' names it carries) and its signing session is under way among the
    /// approvers still in the set (`approvers`: positions in the set in force, updated
    /// when the set changes).
    Signing {
        serial: [u8; 16],
        approvers: Vec<u16>,
        names: Vec<String>,
        approved: Height,
    },
    Issued {
        serial: [u8; 16],
    },
    /// Enough centers rejected that approval cannot reach the threshold.
    Rejected,
}

/// A request on chain (at `StateKey::CertRequest(id)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRequestRecord {
    pub id: u64,
    pub request: CertRequest,
    /// The account that sent (and paid for) the request.
    pub requester: Address,
    pub submitted: Height,
    /// One per center, in the set's order.
    pub verdicts: Vec<Option<Verdict>>,
    pub status: RequestStatus,
}

impl CertRequestRecord {
    /// The centers that approved, ascending.
    pub fn approvers(&self) -> Vec<u16> {
        (0u16..).zip(&self.verdicts).filter(|(_, v)| **v == Some(Verdict::Approve)).map(|(i, _)| i).collect()
    }

    /// How many centers rejected.
    pub fn rejections(&self) -> usize {
        self.verdicts.iter().filter(|v| matches!(v, Some(Verdict::Reject(_)))).count()
    }
}

/// The requests' bookkeeping (at `StateKey::CertRequests`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertRequests {
    pub next_id: u64,
    /// Requests still waiting for verdicts or their signature, oldest first.
    pub pending: Vec<u64>,
}

/// A certificate's serial from its 32 hex digits (`None`: not a serial this chain makes).
pub fn parse_serial(text: &str) -> Option<[u8; 16]> {
    hex::decode(text).ok().and_then(|b| b.try_into().ok())
}

/// A certificate's state, as the type of the account that holds its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertKind {
    Valid,
    Frozen,
    Revoked,
}

/// An issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRecord {
    pub serial: [u8; 16],
    pub der: Vec<u8>,
    pub subject: Subject,
    pub subject_key: PublicKey,
    pub not_after_s: u64,
    /// The request it answers.
    pub request: u64,
    /// The names of the centers that approved it (those it names), in set order.
    pub approvers: Vec<String>,
    /// The height of its t-th approval, and of its issue.
    pub approved: Height,
    pub issued: Height,
}

/// The account holding a certificate's record (at `StateKey::Certificate(serial)`): its
/// type first, so the state says what the certificate may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertAccount {
    pub kind: CertKind,
    pub record: CertificateRecord,
    /// Each change of type (newest last, at most [`KIND_CHANGES_MAX`]).
    pub changes: Vec<KindChange>,
}

/// Most changes of type an account keeps.
pub const KIND_CHANGES_MAX: usize = 16;

/// A certificate's account changed type by t centers' votes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindChange {
    pub to: CertKind,
    pub height: Height,
    /// The centers whose votes made it, ascending.
    pub voters: Vec<u16>,
    /// The reason the vote that completed it gave.
    pub reason: String,
}

/// What the centers may vote to do to a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CertAction {
    Freeze,
    Unfreeze,
    Revoke,
}

impl CertAction {
    /// The type a certificate of type `kind` takes when the action passes (`None`: the
    /// action does not apply: only a valid certificate freezes, only a frozen one
    /// unfreezes, a revoked one never changes).
    pub fn from_kind(self, kind: CertKind) -> Option<CertKind> {
        match (self, kind) {
            (CertAction::Freeze, CertKind::Valid) => Some(CertKind::Frozen),
            (CertAction::Unfreeze, CertKind::Frozen) => Some(CertKind::Valid),
            (CertAction::Revoke, CertKind::Valid | CertKind::Frozen) => Some(CertKind::Revoked),
            _ => None,
        }
    }
}

/// A center's vote to freeze, unfreeze or revoke a certificate (payload `CertAction`,
/// signed by the center's identity key); t votes for one action apply it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertActionVote {
    pub serial: [u8; 16],
    pub action: CertAction,
    pub reason: String,
}

impl CertActionVote {
    pub fn check(&self) -> Result<(), IssuanceError> {
        if self.reason.trim().is_empty() || self.reason.chars().count() > REASON_LEN_MAX {
            return Err(IssuanceError::Reason);
        }
        Ok(())
    }
}

/// The votes not yet applied on one certificate (at `StateKey::CertVotes(serial)`): per
/// action, the centers that voted for it, ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertVotes {
    /// The set in force when they were cast: votes cast under another set (positions
    /// that may name other centers now) count for nothing.
    pub set: Hash32,
    pub votes: Vec<(CertAction, Vec<u16>)>,
}

/// What a certificate's state is at a certified header's time (in JSON: `"valid"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertState {
    Valid,
    Frozen,
    Revoked,
    Expired,
}

impl CertAccount {
    /// The state at `header_time_s` (a certified header's time): revoked and frozen as the
    /// account's type says, else expired once its validity ended.
    pub fn state_at(&self, header_time_s: u64) -> CertState {
        match self.kind {
            CertKind::Revoked => CertState::Revoked,
            CertKind::Frozen => CertState::Frozen,
            CertKind::Valid if header_time_s > self.record.not_after_s => CertState::Expired,
            CertKind::Valid => CertState::Valid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUESTER: Address = Address([3; 20]);

    fn fields() -> RequestFields {
        RequestFields {
            requester: REQUESTER,
            subject: Subject { common_name: "alice".into(), organization: Some("Acme".into()) },
            not_before_s: 1_800_000_000,
            not_after_s: 1_800_000_000 + 86_400,
            claims_digest: IdentityClaims::default().digest(),
            sealed_claims: vec![SealedClaims { enc: [1; 32], ciphertext: vec![2; 48] }; 3],
        }
    }

    #[test]
    fn a_request_is_signed_for_one_chain_and_every_field_counts() {
        let chain = ChainId::new("vigil-a").unwrap();
        let key = SecretKey::from_seed([7; 32]);
        let request = CertRequest::sign(&chain, fields(), &key);
        request.check(3).unwrap();
        request.verify_possession(&chain, &REQUESTER).unwrap();
        let other = ChainId::new("vigil-b").unwrap();
        assert_eq!(request.verify_possession(&other, &REQUESTER), Err(IssuanceError::NoProofOfPossession));
        let replayed = request.verify_possession(&chain, &Address([4; 20]));
        assert_eq!(replayed, Err(IssuanceError::NoProofOfPossession), "submitted by another account");
        let mut altered = request.clone();
        altered.not_after_s += 1;
        assert_eq!(altered.verify_possession(&chain, &REQUESTER), Err(IssuanceError::NoProofOfPossession));
        let mut another_key = request.clone();
        another_key.applicant_key = SecretKey::from_seed([8; 32]).public_key();
        assert_eq!(another_key.verify_possession(&chain, &REQUESTER), Err(IssuanceError::NoProofOfPossession));
        assert_eq!(request.check(4), Err(IssuanceError::SealedClaims { centers: 4 }));
    }

    #[test]
    fn a_request_asks_for_a_bounded_validity_and_names_it_can_carry() {
        let chain = ChainId::new("vigil-a").unwrap();
        let key = SecretKey::from_seed([7; 32]);
        for (nb, na) in [(10, 10), (10, 5), (0, VALIDITY_MAX_S + 1), (NO_EXPIRATION_S, NO_EXPIRATION_S + 1)] {
            let r = CertRequest::sign(&chain, RequestFields { not_before_s: nb, not_after_s: na, ..fields() }, &key);
            assert_eq!(r.check(3), Err(IssuanceError::Validity), "{nb}..{na}");
        }
        let long = Subject { common_name: "x".repeat(NAME_PART_LEN_MAX + 1), organization: None };
        let r = CertRequest::sign(&chain, RequestFields { subject: long, ..fields() }, &key);
        assert_eq!(r.check(3), Err(IssuanceError::Name));
        let bad = CertVerdict { request: 0, verdict: Verdict::Reject(" ".into()) };
        assert_eq!(bad.check(), Err(IssuanceError::Reason));
    }

    #[test]
    fn a_certificates_state_is_its_accounts_type_and_expiry_is_judged_at_the_headers_time() {
        let record = CertificateRecord {
            serial: [0x41; 16],
            der: vec![],
            subject: Subject { common_name: "alice".into(), organization: None },
            subject_key: SecretKey::from_seed([1; 32]).public_key(),
            not_after_s: 100,
            request: 0,
            approvers: vec!["a".into(), "b".into(), "c".into()],
            approved: Height(4),
            issued: Height(5),
        };
        let account = |kind| CertAccount { kind, record: record.clone(), changes: vec![] };
        assert_eq!(account(CertKind::Valid).state_at(100), CertState::Valid);
        assert_eq!(account(CertKind::Valid).state_at(101), CertState::Expired);
        assert_eq!(account(CertKind::Frozen).state_at(50), CertState::Frozen);
        assert_eq!(account(CertKind::Revoked).state_at(101), CertState::Revoked);
    }

    #[test]
    fn a_serial_is_32_hex_digits() {
        assert_eq!(parse_serial(&"41".repeat(16)), Some([0x41; 16]));
        for bad in ["", "41", &"41".repeat(17), &"zz".repeat(16)] {
            assert_eq!(parse_serial(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_a_valid_certificate_freezes_only_a_frozen_one_unfreezes_and_revoked_is_final() {
        use CertAction::*;
        use CertKind::*;
        assert_eq!(Freeze.from_kind(Valid), Some(Frozen));
        assert_eq!(Unfreeze.from_kind(Frozen), Some(Valid));
        assert_eq!(Revoke.from_kind(Frozen), Some(Revoked));
        assert_eq!(Revoke.from_kind(Valid), Some(Revoked));
        for action in [Freeze, Unfreeze, Revoke] {
            assert_eq!(action.from_kind(Revoked), None);
        }
        assert_eq!(Freeze.from_kind(Frozen), None);
        assert_eq!(Unfreeze.from_kind(Valid), None);
    }
}
