//! Signing sessions opened, waiting and finished by execution (the rules are described
//! in `vigil_protocol::authcenter::signing`).
//!
//! A purpose (what must be signed, and the exact bytes) opens a session at once when t
//! eligible centers have an unused nonce commitment — the first t in center order, one
//! commitment of each taken off its queue for good — and otherwise waits, in order, until
//! commitments arrive. A finished session's signature is put to its purpose's use: the
//! root certificate is assembled and recorded.

use std::collections::BTreeMap;

use frost_ed25519::keys::{PublicKeyPackage, VerifyingShare};
use frost_ed25519::round1::{NonceCommitment as FrostCommitment, SigningCommitments};
use frost_ed25519::{SigningPackage, VerifyingKey};
use vigil_protocol::authcenter::certificate::{self, serial_from, Subject, Tbs, NO_EXPIRATION_S};
use vigil_protocol::authcenter::signing::WAITING_MAX;
use vigil_protocol::authcenter::{
    CertAccount, CertAuthority, CertKind, CertRequestRecord, CertificateRecord, GroupKey, NonceCommitment, NonceQueue,
    RequestStatus, SessionOutcome, SigningPurpose, SigningSession, SigningState, Waiting,
};
use vigil_protocol::hash::{hash, Domain};
use vigil_protocol::{ChainId, StateKey};

use super::keygen::identifier;
use crate::execution::TxContext;

/// The root certificate's to-be-signed fields: the consortium on chain `chain`, its key
/// the group key, valid from the genesis on. The centers rebuild it to check what they
/// sign.
pub fn root_tbs(chain: &ChainId, authority: &CertAuthority, key: &GroupKey) -> Tbs {
    Tbs {
        serial: serial_from(&hash(Domain::CertificateSerial, &key.key.to_bytes())),
        issuer: Subject::root(chain),
        subject: Subject::root(chain),
        not_before_s: authority.not_before_s,
        not_after_s: NO_EXPIRATION_S,
        subject_key: key.key,
        ca: true,
        issuance: None,
    }
}

/// The centers that may sign for `purpose`: for the root every holder of a share, for
/// a certificate those of them that approved its request (ascending) — or, when a change
/// of the set left fewer than t of them (a replaced center's verdicts are forgotten),
/// every holder.
fn eligible(purpose: &SigningPurpose, key: &GroupKey, cx: &TxContext<'_>) -> Vec<u16> {
    match purpose {
        SigningPurpose::Root => key.participants.clone(),
        SigningPurpose::Certificate(id) => {
            let record: Option<CertRequestRecord> = cx.read(&StateKey::CertRequest(*id));
            let approvers = record.map(|r| r.approvers()).unwrap_or_default();
            let eligible: Vec<u16> =
                key.participants.iter().copied().filter(|c| approvers.binary_search(c).is_ok()).collect();
            if eligible.len() < usize::from(key.threshold) {
                return key.participants.clone();
            }
            eligible
        }
    }
}

/// The centers a session may choose from: the eligible ones without those that withheld
/// (`withheld`, oldest first) — unless that leaves fewer than t, when the oldest
/// exclusions are lifted one by one (a center that was down for a while gets another
/// chance rather than the purpose waiting for ever).
pub fn pool(eligible: &[u16], withheld: &[u16], t: usize) -> Vec<u16> {
    let mut excluded = withheld;
    loop {
        let pool: Vec<u16> = eligible.iter().copied().filter(|c| !excluded.contains(c)).collect();
        match excluded.split_first() {
            Some((_, newer)) if pool.len() < t => excluded = newer,
            _ => return pool,
        }
    }
}

/// Opens a session for `waiting` if t of its eligible centers have a commitment: the
/// session (written, commitments taken), or `None`.
fn try_open(waiting: &Waiting, key: &GroupKey, id: u64, cx: &mut TxContext<'_>) -> Option<SigningSession> {
    let t = usize::from(key.threshold);
    let mut pool = pool(&eligible(&waiting.purpose, key, cx), &waiting.withheld, t);
    // Sessions start their choice at different centers, so their nonces are used evenly.
    if !pool.is_empty() {
        let turn = (id % pool.len() as u64) as usize;
        pool.rotate_left(turn);
    }
    let mut chosen: Vec<(u16, NonceQueue)> = Vec::with_capacity(t);
    for center in pool {
        if chosen.len() == t {
            break;
        }
        let queue: NonceQueue = cx.read(&StateKey::Nonces(center)).unwrap_or_default();
        if !queue.unused.is_empty() {
            chosen.push((center, queue));
        }
    }
    if chosen.len() < t {
        return None;
    }
    chosen.sort_by_key(|(center, _)| *center);
    let mut commitments = Vec::with_capacity(t);
    for (center, mut queue) in chosen.iter().cloned() {
        commitments.push(queue.unused.remove(0));
        cx.write(StateKey::Nonces(center), &queue);
    }
    let session = SigningSession {
        id,
        purpose: waiting.purpose.clone(),
        message: waiting.message.clone(),
        signers: chosen.iter().map(|(c, _)| *c).collect(),
        commitments,
        shares: vec![None; t],
        opened: cx.ledger().height().next(),
        withheld: waiting.withheld.clone(),
        outcome: SessionOutcome::Open,
    };
    cx.write(StateKey::SigningSession(id), &session);
    Some(session)
}

/// Something must be signed: a session opens now, or the purpose waits. The session's
/// id, if one opened.
pub(crate) fn start(waiting: Waiting, key: &GroupKey, cx: &mut TxContext<'_>) -> Option<u64> {
    let mut state: SigningState = cx.read(&StateKey::Signing).unwrap_or_default();
    let opened = try_open(&waiting, key, state.next_id, cx).map(|s| s.id);
    if let Some(id) = opened {
        state.next_id = state.next_id.saturating_add(1);
        state.open.push(id);
    } else if state.waiting.len() < WAITING_MAX {
        state.waiting.push(waiting);
    }
    cx.write(StateKey::Signing, &state);
    opened
}

/// Session `id` is over (signed or restarted): no longer open.
pub(crate) fn close(id: u64, cx: &mut TxContext<'_>) {
    let mut state: SigningState = cx.read(&StateKey::Signing).unwrap_or_default();
    state.open.retain(|&o| o != id);
    cx.write(StateKey::Signing, &state);
}

/// Commitments arrived: every waiting purpose that now can opens, oldest first.
pub(crate) fn retry_waiting(key: &GroupKey, cx: &mut TxContext<'_>) {
    let mut state: SigningState = cx.read(&StateKey::Signing).unwrap_or_default();
    let mut still = Vec::with_capacity(state.waiting.len());
    for waiting in std::mem::take(&mut state.waiting) {
        if let Some(session) = try_open(&waiting, key, state.next_id, cx) {
            state.next_id = state.next_id.saturating_add(1);
            state.open.push(session.id);
        } else {
            still.push(waiting);
        }
    }
    state.waiting = still;
    cx.write(StateKey::Signing, &state);
}

/// FROST's signing package of a session: its signers' commitments and its message.
pub fn signing_package(session: &SigningSession) -> Result<SigningPackage, String> {
    let mut commitments = BTreeMap::new();
    for (&center, c) in session.signers.iter().zip(&session.commitments) {
        commitments.insert(identifier(center)?, frost_commitments(c)?);
    }
    Ok(SigningPackage::new(commitments, &session.message))
}

/// A commitment as FROST reads it (each point valid and not the identity).
pub(crate) fn frost_commitments(c: &NonceCommitment) -> Result<SigningCommitments, String> {
    let point = |b: &[u8; 32]| FrostCommitment::deserialize(b).map_err(|e| format!("nonce commitment: {e}"));
    Ok(SigningCommitments::new(point(&c.hiding)?, point(&c.binding)?))
}

/// FROST's public key package of the group key.
pub fn public_key_package(key: &GroupKey) -> Result<PublicKeyPackage, String> {
    let mut shares = BTreeMap::new();
    for (&center, share) in key.participants.iter().zip(&key.verifying_shares) {
        shares.insert(identifier(center)?, VerifyingShare::deserialize(share).map_err(|e| e.to_string())?);
    }
    let group = VerifyingKey::deserialize(&key.key.to_bytes()).map_err(|e| e.to_string())?;
    Ok(PublicKeyPackage::new(shares, group, Some(key.threshold)))
}

/// A session's signature is in: put it to its purpose's use.
pub(crate) fn finish(session: &SigningSession, signature: &[u8; 64], cx: &mut TxContext<'_>) {
    // The message is a to-be-signed certificate execution built: it assembles.
    let Ok(der) = certificate::assemble(&session.message, signature) else { return };
    match session.purpose {
        SigningPurpose::Root => {
            let Some(mut authority) = cx.read::<CertAuthority>(&StateKey::CertAuthority) else { return };
            authority.root = Some(der);
            cx.write(StateKey::CertAuthority, &authority);
        }
        SigningPurpose::Certificate(id) => issue(id, der, cx),
    }
}

/// Most certificates listed for one key (`StateKey::CertificatesOf`): the newest kept.
pub const CERTIFICATES_PER_KEY_MAX: usize = 64;

/// A request's certificate is signed: its account (type `Valid`) holds the record, the
/// key's list names it, and the request is settled.
fn issue(id: u64, der: Vec<u8>, cx: &mut TxContext<'_>) {
    let Some(mut record) = cx.read::<CertRequestRecord>(&StateKey::CertRequest(id)) else { return };
    let RequestStatus::Signing { serial, names, approved, .. } = record.status.clone() else { return };
    let key = record.request.applicant_key;
    let account = CertAccount {
        changes: Vec::new(),
        kind: CertKind::Valid,
        record: CertificateRecord {
            serial,
            der,
            subject: record.request.subject.clone(),
            subject_key: key,
            not_after_s: record.request.not_after_s,
            request: id,
            approvers: names,
            approved,
            issued: cx.ledger().height().next(),
        },
    };
    cx.write(StateKey::Certificate(serial), &account);
    let mut mine: Vec<[u8; 16]> = cx.read(&StateKey::CertificatesOf(key)).unwrap_or_default();
    mine.push(serial);
    if mine.len() > CERTIFICATES_PER_KEY_MAX {
        mine.remove(0);
    }
    cx.write(StateKey::CertificatesOf(key), &mine);
    record.status = RequestStatus::Issued { serial };
    super::issuance::settle(&mut record, cx);
    cx.write(StateKey::CertRequest(id), &record);
}

#[cfg(test)]
mod pool_tests {
    use super::pool;

    #[test]
    fn withholders_are_left_out_unless_too_few_remain_then_the_oldest_come_back_first() {
        let eligible = [0, 1, 2, 3, 4];
        assert_eq!(pool(&eligible, &[], 3), vec![0, 1, 2, 3, 4]);
        assert_eq!(pool(&eligible, &[0], 3), vec![1, 2, 3, 4]);
        assert_eq!(pool(&eligible, &[0, 1], 3), vec![2, 3, 4]);
        assert_eq!(pool(&eligible, &[0, 1, 2], 3), vec![0, 3, 4], "0, the oldest, comes back");
        assert_eq!(pool(&[0, 1, 2, 3], &[1, 0], 3), vec![1, 2, 3], "1 withheld first, 0 since");
        assert_eq!(pool(&[0, 1, 2], &[0, 1, 2], 3), vec![0, 1, 2], "no spare center: all of them");
    }
}
