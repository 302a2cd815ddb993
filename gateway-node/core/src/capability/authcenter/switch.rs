//! The proposed set comes into force: every member confirmed its new share.
//!
//! - The set and the group key are replaced: the same key, the members' new verifying
//!   shares (`GroupKey::since` is the height after this block's). A session opened before
//!   may restart at once; its shares would no longer combine.
//! - Every nonce queue starts over, empty, at one number above every commitment any
//!   queue ever held: no center can be asked to answer a commitment it did not make, and
//!   no commitment number is ever given twice.
//! - Places whose center changed (replaced or removed) lose what the old center gave:
//!   its verdicts on requests still waiting and its place among a fixed certificate's
//!   signers (the certificate still names it: it did approve). Votes cast under the old
//!   set start over (`CertVotes::set`, `CenterSetVotes::current`). The waiting purposes
//!   forget who withheld.

use vigil_protocol::authcenter::change::{positions, CenterChange, ChangeOutcome};
use vigil_protocol::authcenter::{
    AuthCenterSet, CertRequestRecord, CertRequests, GroupKey, NonceQueue, RequestStatus, SigningState,
};
use vigil_protocol::StateKey;

use crate::execution::TxContext;

pub(crate) fn switch(change: &mut CenterChange, mut key: GroupKey, cx: &mut TxContext<'_>) {
    let Some(old) = cx.read::<AuthCenterSet>(&StateKey::AuthCenters) else { return };
    let height = cx.ledger().height().next();
    let new = change.proposed.clone();
    // Centers that stay keep their places (checked with the vote): a place is kept
    // when the same identity holds it in both sets.
    let moved_to = positions(&old, &new);
    let kept = |i: usize| moved_to.get(i).copied().flatten().is_some_and(|at| usize::from(at) == i);
    let places = old.centers.len().max(new.centers.len());
    let places16 = (0..places).filter_map(|i| u16::try_from(i).ok());
    let next =
        places16.clone().filter_map(|i| cx.read::<NonceQueue>(&StateKey::Nonces(i))).map(|q| q.next).max().unwrap_or(0);
    for i in places16 {
        cx.write(StateKey::Nonces(i), &NonceQueue { next, unused: Vec::new() });
    }
    let requests: CertRequests = cx.read(&StateKey::CertRequests).unwrap_or_default();
    for id in requests.pending {
        let Some(mut record) = cx.read::<CertRequestRecord>(&StateKey::CertRequest(id)) else { continue };
        record.verdicts.resize(new.centers.len(), None);
        for (i, verdict) in record.verdicts.iter_mut().enumerate() {
            if !kept(i) {
                *verdict = None;
            }
        }
        if let RequestStatus::Signing { approvers, .. } = &mut record.status {
            approvers.retain(|&c| kept(usize::from(c)));
        }
        cx.write(StateKey::CertRequest(id), &record);
    }
    let mut signing: SigningState = cx.read(&StateKey::Signing).unwrap_or_default();
    for waiting in &mut signing.waiting {
        waiting.withheld.clear();
    }
    cx.write(StateKey::Signing, &signing);
    // Every session opened in this block, before this transaction, was opened under the
    // old shares (none can open after it: the queues are empty): stale as well.
    key.since = height.next();
    cx.write(StateKey::AuthCenters, &new);
    cx.write(StateKey::GroupKey, &key);
    change.outcome = ChangeOutcome::Done(height);
}
