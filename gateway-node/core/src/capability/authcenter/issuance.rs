//! Certificate requests and the centers' verdicts, as the chain checks and records them
//! (the shapes and their rules are described in `vigil_protocol::authcenter::issuance`).
//!
//! - A request ([`CertRequest`]) is taken once the consortium's root is signed: its
//!   shape for the center set, the applicant key's proof of possession for this chain and
//!   the account that submits it,
//!   room among the pending requests. It pays [`CERT_REQUEST_FEE_MIN`].
//! - A verdict ([`CertVerdict`]) only from a center, one per center and request, while
//!   the request is undecided. The t-th approval fixes the certificate — its serial from
//!   the request, the approvers it names — and opens its signing session among the
//!   approvers ([`super::session`]); the rejection that leaves fewer than t centers able
//!   to approve rejects the request.

use vigil_protocol::authcenter::certificate::{serial_from, Tbs};
use vigil_protocol::authcenter::issuance::{CERT_REQUEST_FEE_MIN, PENDING_REQUESTS_MAX};
use vigil_protocol::authcenter::{
    AuthCenterSet, CertAuthority, CertRequest, CertRequestRecord, CertRequests, CertVerdict, GroupKey, RequestStatus,
    SealedClaims, SigningPurpose, Subject, Waiting,
};
use vigil_protocol::hash::{hash_value, Domain};
use vigil_protocol::{Address, ChainId, PublicKey, StateKey, TxStatus};

use super::{session, Capability, ReadState};
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

/// Why a request or a verdict is refused (each its own error code at the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    Request(String),
    NoProofOfPossession,
    NotACenter,
    Duplicate { center: u16 },
    Verdict(String),
}

impl Refused {
    fn rejection(self) -> Rejection {
        match self {
            Refused::Request(why) => Rejection::InvalidCertRequest(why),
            Refused::NoProofOfPossession => Rejection::NoProofOfPossession,
            Refused::NotACenter => Rejection::NotACenter,
            Refused::Duplicate { center } => Rejection::DuplicateVerdict { center },
            Refused::Verdict(why) => Rejection::InvalidVerdict(why),
        }
    }

    fn invalid(self) -> TxInvalid {
        TxInvalid::Certificate(self.rejection().to_string())
    }
}

/// The chain's centers, its group key and its signed root: what issuing needs.
fn authority(state: &impl ReadState) -> Result<(AuthCenterSet, GroupKey), Refused> {
    let set: AuthCenterSet =
        state.get(&StateKey::AuthCenters).ok_or(Refused::Request("this chain has no authentication centers".into()))?;
    let key: GroupKey = state
        .get(&StateKey::GroupKey)
        .ok_or(Refused::Request("the centers' key is not ready yet; retry in a few blocks".into()))?;
    let root = state.get::<CertAuthority>(&StateKey::CertAuthority).and_then(|a| a.root);
    if root.is_none() {
        return Err(Refused::Request("the consortium's root is not signed yet; retry in a few blocks".into()));
    }
    Ok((set, key))
}

fn check_request(
    request: &CertRequest,
    chain: &ChainId,
    requester: &Address,
    state: &impl ReadState,
) -> Result<(), Refused> {
    let (set, _) = authority(state)?;
    request.check(set.centers.len()).map_err(|e| Refused::Request(e.to_string()))?;
    request.verify_possession(chain, requester).map_err(|_| Refused::NoProofOfPossession)?;
    let requests: CertRequests = state.get(&StateKey::CertRequests).unwrap_or_default();
    if requests.pending.len() >= PENDING_REQUESTS_MAX {
        return Err(Refused::Request(format!(
            "{PENDING_REQUESTS_MAX} requests are waiting for the centers; retry later"
        )));
    }
    Ok(())
}

impl Capability for CertRequest {
    type Checked = ();

    fn fee_min(&self) -> u64 {
        CERT_REQUEST_FEE_MIN
    }

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        let requester = Address::from_public_key(sender);
        check_request(self, ledger.chain_id(), &requester, ledger).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<(), TxInvalid> {
        check_request(self, cx.ledger().chain_id(), &cx.sender(), cx).map_err(Refused::invalid)
    }

    fn apply(&self, (): (), cx: &mut TxContext<'_>) -> TxStatus {
        let centers = cx.read::<AuthCenterSet>(&StateKey::AuthCenters).map_or(0, |s| s.centers.len());
        let mut requests: CertRequests = cx.read(&StateKey::CertRequests).unwrap_or_default();
        let id = requests.next_id;
        let record = CertRequestRecord {
            id,
            request: self.clone(),
            requester: cx.sender(),
            submitted: cx.ledger().height().next(),
            verdicts: vec![None; centers],
            status: RequestStatus::Pending,
        };
        cx.write(StateKey::CertRequest(id), &record);
        requests.next_id = id.saturating_add(1);
        requests.pending.push(id);
        cx.write(StateKey::CertRequests, &requests);
        TxStatus::Success
    }
}

/// What a block's check of a verdict found.
pub struct CheckedVerdict {
    center: u16,
    record: Box<CertRequestRecord>,
    set: AuthCenterSet,
    key: GroupKey,
}

fn check_verdict(verdict: &CertVerdict, sender: &PublicKey, state: &impl ReadState) -> Result<CheckedVerdict, Refused> {
    let set: AuthCenterSet = state.get(&StateKey::AuthCenters).ok_or(Refused::NotACenter)?;
    let center = set.index_of(sender).ok_or(Refused::NotACenter)?;
    verdict.check().map_err(|e| Refused::Verdict(e.to_string()))?;
    let key: GroupKey =
        state.get(&StateKey::GroupKey).ok_or(Refused::Verdict("the centers' key is not ready".into()))?;
    let record: CertRequestRecord = state
        .get(&StateKey::CertRequest(verdict.request))
        .ok_or_else(|| Refused::Verdict(format!("no certificate request {}", verdict.request)))?;
    if !matches!(record.status, RequestStatus::Pending | RequestStatus::Signing { .. }) {
        return Err(Refused::Verdict(format!("request {} is decided already", verdict.request)));
    }
    match record.verdicts.get(usize::from(center)) {
        Some(None) => Ok(CheckedVerdict { center, record: Box::new(record), set, key }),
        Some(Some(_)) => Err(Refused::Duplicate { center }),
        None => Err(Refused::Verdict("the request predates this center".into())),
    }
}

/// The certificate a request approved by `approvers` is issued as: serial from the
/// request, issuer the consortium root, the subject, validity and key asked for, and the
/// chain and the approvers' names in its issuance extension. The centers rebuild it to
/// check what they sign.
pub fn certificate_tbs(chain: &ChainId, record: &CertRequestRecord) -> Option<Tbs> {
    let RequestStatus::Signing { serial, names, .. } = &record.status else { return None };
    Some(Tbs {
        serial: *serial,
        issuer: Subject::root(chain),
        subject: record.request.subject.clone(),
        not_before_s: record.request.not_before_s,
        not_after_s: record.request.not_after_s,
        subject_key: record.request.applicant_key,
        ca: false,
        issuance: Some((chain.to_string(), names.clone())),
    })
}

/// A request's serial: from the chain, its id and the request itself.
fn serial_of(chain: &ChainId, record: &CertRequestRecord) -> [u8; 16] {
    serial_from(&hash_value(Domain::CertificateSerial, &(chain, record.id, &record.request)))
}

/// A decided request no longer carries its sealed claims (the digest stays), nor waits.
pub(crate) fn settle(record: &mut CertRequestRecord, cx: &mut TxContext<'_>) {
    record.request.sealed_claims = Vec::<SealedClaims>::new();
    let mut requests: CertRequests = cx.read(&StateKey::CertRequests).unwrap_or_default();
    requests.pending.retain(|&id| id != record.id);
    cx.write(StateKey::CertRequests, &requests);
}

fn apply_verdict(verdict: &CertVerdict, checked: CheckedVerdict, cx: &mut TxContext<'_>) {
    let CheckedVerdict { center, mut record, set, key } = checked;
    if let Some(slot) = record.verdicts.get_mut(usize::from(center)) {
        *slot = Some(verdict.verdict.clone());
    }
    let t = usize::from(set.threshold);
    let mut fixed = None;
    if record.status == RequestStatus::Pending {
        let approvers = record.approvers();
        if approvers.len() == t {
            let chain = cx.ledger().chain_id().clone();
            let approved = cx.ledger().height().next();
            let names = approvers
                .iter()
                .filter_map(|&c| set.centers.get(usize::from(c)).map(|info| info.name.clone()))
                .collect();
            let serial = serial_of(&chain, &record);
            record.status = RequestStatus::Signing { serial, approvers, names, approved };
            fixed = certificate_tbs(&chain, &record).and_then(|tbs| tbs.der().ok());
        } else if set.centers.len().saturating_sub(record.rejections()) < t {
            record.status = RequestStatus::Rejected;
            settle(&mut record, cx);
        }
    }
    // Written first: the session's signers are read from the record (its approvers).
    cx.write(StateKey::CertRequest(record.id), &*record);
    if let Some(der) = fixed {
        let waiting = Waiting { purpose: SigningPurpose::Certificate(record.id), message: der, withheld: Vec::new() };
        session::start(waiting, &key, cx);
    }
}

impl Capability for CertVerdict {
    type Checked = CheckedVerdict;

    fn fee_min(&self) -> u64 {
        0
    }

    fn priority(&self) -> bool {
        true
    }

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check_verdict(self, sender, ledger).map(|_| ()).map_err(Refused::rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<CheckedVerdict, TxInvalid> {
        check_verdict(self, &cx.sender_key(), cx).map_err(Refused::invalid)
    }

    fn apply(&self, checked: CheckedVerdict, cx: &mut TxContext<'_>) -> TxStatus {
        apply_verdict(self, checked, cx);
        TxStatus::Success
    }
}
