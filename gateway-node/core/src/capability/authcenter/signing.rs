//! The centers' signing messages, as the chain checks and records them: nonce
//! commitments published ahead, signature shares (each checked against its center's
//! verifying share by frost-core: one that does not verify is refused and names its
//! center), and the restart of a session past its timeout. Free and pooled first; only
//! a holder of a share of the ready group key may send one.

use std::collections::BTreeMap;

use frost_ed25519::round2::SignatureShare as FrostShare;
use frost_ed25519::VerifyingKey;
use vigil_protocol::authcenter::signing::{NONCES_AHEAD_MAX, NONCE_BATCH_MAX, SIGNING_TIMEOUT_HEIGHTS};
use vigil_protocol::authcenter::{
    AuthCenterSet, GroupKey, NonceCommitment, NonceCommitments, NonceQueue, SessionOutcome, SigningMessage,
    SigningSession, Waiting,
};
use vigil_protocol::{PublicKey, StateKey, TxStatus};

use super::keygen::identifier;
use super::session::{self, frost_commitments, public_key_package, signing_package};
use super::Capability;
use super::ReadState;
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

/// Why a signing message is refused: a share that does not verify names its center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    BadShare { center: u16 },
    Other(String),
}

impl From<String> for Refused {
    fn from(why: String) -> Self {
        Refused::Other(why)
    }
}

impl From<&str> for Refused {
    fn from(why: &str) -> Self {
        Refused::Other(why.to_string())
    }
}

/// What a block's check found, for execution.
pub enum Checked {
    Commitments { center: u16, queue: NonceQueue, key: GroupKey },
    Share { session: Box<SigningSession>, slot: usize, key: GroupKey },
    Restart { session: Box<SigningSession>, key: GroupKey },
}

/// The sender's position, if it holds a share of the ready group key, with the set.
fn signer(sender: &PublicKey, state: &impl ReadState) -> Result<(u16, GroupKey, AuthCenterSet), Refused> {
    let set: AuthCenterSet = state.get(&StateKey::AuthCenters).ok_or("this chain has no authentication centers")?;
    let center = set.index_of(sender).ok_or("the sender is not an authentication center")?;
    let key: GroupKey = state.get(&StateKey::GroupKey).ok_or("the centers' group key is not ready")?;
    if key.verifying_share(center).is_none() {
        return Err(format!("center {center} holds no share of the group key").into());
    }
    Ok((center, key, set))
}

fn open_session(id: u64, state: &impl ReadState) -> Result<SigningSession, Refused> {
    let session: SigningSession = state.get(&StateKey::SigningSession(id)).ok_or("no such signing session")?;
    if session.outcome != SessionOutcome::Open {
        return Err(format!("signing session {id} is over").into());
    }
    Ok(session)
}

fn check_commitments(
    batch: &NonceCommitments,
    (center, key, set): (u16, GroupKey, AuthCenterSet),
    state: &impl ReadState,
) -> Result<Checked, Refused> {
    if batch.set != set.hash() {
        return Err("the commitments are for another center set".into());
    }
    let mut queue: NonceQueue = state.get(&StateKey::Nonces(center)).unwrap_or_default();
    if batch.first_seq != queue.next {
        return Err(format!(
            "the batch starts at {}; center {center}'s next commitment is {}",
            batch.first_seq, queue.next
        )
        .into());
    }
    let n = batch.commitments.len();
    if n == 0 || n > NONCE_BATCH_MAX || queue.unused.len() + n > NONCES_AHEAD_MAX {
        return Err(format!("1 to {NONCE_BATCH_MAX} commitments a batch, at most {NONCES_AHEAD_MAX} unused").into());
    }
    for (k, (hiding, binding)) in batch.commitments.iter().enumerate() {
        let c = NonceCommitment { seq: queue.next.saturating_add(k as u64), hiding: *hiding, binding: *binding };
        frost_commitments(&c)?;
        queue.unused.push(c);
    }
    queue.next = queue.next.saturating_add(n as u64);
    Ok(Checked::Commitments { center, queue, key })
}

fn check_share(
    share: &vigil_protocol::authcenter::SignatureShare,
    center: u16,
    key: GroupKey,
    state: &impl ReadState,
) -> Result<Checked, Refused> {
    let session = open_session(share.session, state)?;
    if session.opened < key.since {
        return Err(
            format!("signing session {} was opened under shares no longer in force: restart it", session.id).into()
        );
    }
    let slot = session.signers.iter().position(|&c| c == center).ok_or("the sender is not a signer of this session")?;
    if session.shares.get(slot).is_some_and(Option::is_some) {
        return Err(format!("center {center} sent its share for this session already").into());
    }
    let bad = Refused::BadShare { center };
    let frost_share = FrostShare::deserialize(&share.share).map_err(|_| bad.clone())?;
    let verifying_share = key.verifying_share(center).ok_or("no verifying share")?;
    let verifying_share =
        frost_ed25519::keys::VerifyingShare::deserialize(&verifying_share).map_err(|e| e.to_string())?;
    let group = VerifyingKey::deserialize(&key.key.to_bytes()).map_err(|e| e.to_string())?;
    let package = signing_package(&session)?;
    frost_core::verify_signature_share(identifier(center)?, &verifying_share, &frost_share, &package, &group)
        .map_err(|_| bad)?;
    Ok(Checked::Share { session: Box::new(session), slot, key })
}

fn check(
    message: &SigningMessage,
    sender: &PublicKey,
    state: &impl ReadState,
    height: u64,
) -> Result<Checked, Refused> {
    let (center, key, set) = signer(sender, state)?;
    match message {
        SigningMessage::Commitments(batch) => check_commitments(batch, (center, key, set), state),
        SigningMessage::Share(share) => check_share(share, center, key, state),
        SigningMessage::Restart(id) => {
            let session = open_session(*id, state)?;
            let due = session.opened.0.saturating_add(SIGNING_TIMEOUT_HEIGHTS);
            // A session opened under shares no longer in force restarts at once.
            if height < due && session.opened >= key.since {
                return Err(format!("signing session {id} may be restarted from height {due}").into());
            }
            Ok(Checked::Restart { session: Box::new(session), key })
        }
    }
}

fn rejection(refused: Refused) -> Rejection {
    match refused {
        Refused::BadShare { center } => Rejection::InvalidSignatureShare { center },
        Refused::Other(why) => Rejection::InvalidSigning(why),
    }
}

fn invalid(refused: Refused) -> TxInvalid {
    match refused {
        Refused::BadShare { center } => {
            TxInvalid::Signing(format!("center {center}'s signature share does not verify"))
        }
        Refused::Other(why) => TxInvalid::Signing(why),
    }
}

/// The session with every share in: the group's signature, if they aggregate.
fn aggregate(session: &SigningSession, key: &GroupKey) -> Option<[u8; 64]> {
    let package = signing_package(session).ok()?;
    let mut shares = BTreeMap::new();
    for (&center, share) in session.signers.iter().zip(&session.shares) {
        shares.insert(identifier(center).ok()?, FrostShare::deserialize(share.as_ref()?).ok()?);
    }
    let signature = frost_ed25519::aggregate(&package, &shares, &public_key_package(key).ok()?).ok()?;
    signature.serialize().ok()?.try_into().ok()
}

impl Capability for SigningMessage {
    type Checked = Checked;

    fn fee_min(&self) -> u64 {
        0
    }

    fn priority(&self) -> bool {
        true
    }

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check(self, sender, ledger, ledger.height().next().0).map(|_| ()).map_err(rejection)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Checked, TxInvalid> {
        check(self, &cx.sender_key(), cx, cx.ledger().height().next().0).map_err(invalid)
    }

    fn apply(&self, checked: Checked, cx: &mut TxContext<'_>) -> TxStatus {
        match (self, checked) {
            (_, Checked::Commitments { center, queue, key }) => {
                cx.write(StateKey::Nonces(center), &queue);
                session::retry_waiting(&key, cx);
            }
            (SigningMessage::Share(share), Checked::Share { mut session, slot, key }) => {
                if let Some(mine) = session.shares.get_mut(slot) {
                    *mine = Some(share.share);
                }
                if session.shares.iter().all(Option::is_some) {
                    if let Some(signature) = aggregate(&session, &key) {
                        session.outcome = SessionOutcome::Signed(signature);
                        session::close(session.id, cx);
                        session::finish(&session, &signature, cx);
                    }
                }
                cx.write(StateKey::SigningSession(session.id), &*session);
            }
            (_, Checked::Restart { mut session, key }) => {
                // Oldest first: this session's withholders move to the end (none for a
                // session of shares no longer in force: its positions may name others).
                let stale = session.opened < key.since;
                let now: Vec<u16> = session
                    .signers
                    .iter()
                    .zip(&session.shares)
                    .filter(|(_, s)| s.is_none() && !stale)
                    .map(|(c, _)| *c)
                    .collect();
                let mut withheld: Vec<u16> = session.withheld.iter().copied().filter(|c| !now.contains(c)).collect();
                withheld.extend(now);
                if stale {
                    withheld.clear();
                }
                let waiting = Waiting { purpose: session.purpose.clone(), message: session.message.clone(), withheld };
                session::close(session.id, cx);
                session.outcome = SessionOutcome::Restarted { next: session::start(waiting, &key, cx) };
                cx.write(StateKey::SigningSession(session.id), &*session);
            }
            // `check` returns the variant of the message it was given.
            _ => {}
        }
        TxStatus::Success
    }
}
