//! A complaint: a participant shows the chain that the share another sent it is bad.
//!
//! The complainer reveals the secret of its share key for this attempt (and nothing
//! else: the key served only to receive this attempt's shares). The chain checks that
//! the secret is the key the complainer published in its round 1, opens the accused's
//! share to the complainer with it, and checks the share against the accused's
//! commitments (frost-core's `SecretShare::verify`). A share that does not open, does
//! not decode or does not match upholds the complaint: the accused is excluded, the
//! failure recorded with both names, and a new attempt starts among the other
//! participants (their old packages no longer count). A complaint against a share that
//! matches is refused — a center cannot talk the chain into excluding an honest one.
//! A participant that confirmed the attempt has said every share it got was good, so it
//! may no longer complain about one.

use frost_ed25519::keys::{SecretShare, SigningShare};
use vigil_protocol::authcenter::share::{ShareKey, ShareLabel};
use vigil_protocol::authcenter::{DkgComplaint, DkgFailure, DkgState};
use vigil_protocol::StateKey;

use super::keygen::{commitment, identifier};
use super::{ReadState, Scope};
use crate::execution::TxContext;

/// An upheld complaint: the key generation's state once it is recorded.
pub struct Upheld {
    state: DkgState,
    accused: u16,
    complainer: u16,
}

pub(crate) fn check(complaint: &DkgComplaint, scope: Scope, state: &impl ReadState) -> Result<Upheld, String> {
    let (me, accused) = (scope.sender, complaint.accused);
    if accused == me || scope.participants.binary_search(&accused).is_err() {
        return Err(format!("center {accused} is not another participant of this attempt"));
    }
    if scope.state.confirmed.binary_search(&me).is_ok() {
        return Err(format!("center {me} confirmed this attempt: every share it got was good"));
    }
    let mine = scope.round1(me, state).ok_or("the complainer has published no share key in this attempt")?;
    let theirs = scope.round1(accused, state).ok_or("the accused has no round 1 in this attempt")?;
    let package = scope.round2(accused, state).ok_or("the accused has sent no shares in this attempt")?;
    let key = ShareKey::from_secret(&complaint.share_secret).map_err(|e| e.to_string())?;
    if key.public_key() != mine.share_key {
        return Err("the revealed secret is not the complainer's share key".into());
    }
    let sealed = package
        .share_for(&scope.participants, accused, me)
        .ok_or("the accused's package has no share for the complainer")?;
    let label = ShareLabel { set: complaint.set, attempt: complaint.attempt, sender: accused, recipient: me };
    let good = key.open(sealed, &label).ok().is_some_and(|share| {
        let (Ok(share), Ok(commitment), Ok(me)) =
            (SigningShare::deserialize(&share[..]), commitment(&theirs, scope.set.threshold), identifier(me))
        else {
            return false;
        };
        SecretShare::new(me, share, commitment).verify().is_ok()
    });
    if good {
        return Err(format!("center {accused}'s share to center {me} matches its commitments"));
    }
    Ok(Upheld { state: scope.state, accused, complainer: me })
}

pub(crate) fn apply(upheld: Upheld, cx: &mut TxContext<'_>) {
    let Upheld { mut state, accused, complainer } = upheld;
    let height = cx.ledger().height().next();
    state.failures.push(DkgFailure { attempt: state.attempt, accused, complainer, height });
    if let Err(at) = state.excluded.binary_search(&accused) {
        state.excluded.insert(at, accused);
    }
    state.attempt = state.attempt.saturating_add(1);
    state.confirmed.clear();
    cx.write(StateKey::Dkg, &state);
}
