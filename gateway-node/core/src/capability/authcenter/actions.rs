//! Freezing, unfreezing and revoking a certificate: each takes t centers' votes
//! ([`CertActionVote`], from centers only, one per center and action, with a reason),
//! and changes the type of the account that holds the certificate's record — which is
//! its state. Only a valid certificate freezes, only a frozen one unfreezes, and a
//! revoked one never changes again.

use vigil_protocol::authcenter::issuance::KIND_CHANGES_MAX;
use vigil_protocol::authcenter::{AuthCenterSet, CertAccount, CertActionVote, CertVotes, KindChange};
use vigil_protocol::{PublicKey, StateKey, TxStatus};

use super::{Capability, ReadState};
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

/// What a block's check of a vote found.
pub struct CheckedVote {
    center: u16,
    threshold: usize,
    account: Box<CertAccount>,
    votes: CertVotes,
}

fn check(vote: &CertActionVote, sender: &PublicKey, state: &impl ReadState) -> Result<CheckedVote, Rejection> {
    let set: AuthCenterSet = state.get(&StateKey::AuthCenters).ok_or(Rejection::NotACenter)?;
    let center = set.index_of(sender).ok_or(Rejection::NotACenter)?;
    vote.check().map_err(|e| Rejection::InvalidCertAction(e.to_string()))?;
    let account: CertAccount = state
        .get(&StateKey::Certificate(vote.serial))
        .ok_or_else(|| Rejection::InvalidCertAction("no certificate has that serial".into()))?;
    if vote.action.from_kind(account.kind).is_none() {
        return Err(Rejection::InvalidCertAction(format!(
            "{:?} does not apply to a {:?} certificate",
            vote.action, account.kind
        )));
    }
    let mut votes: CertVotes = state.get(&StateKey::CertVotes(vote.serial)).unwrap_or_default();
    if votes.set != set.hash() {
        votes = CertVotes { set: set.hash(), votes: Vec::new() };
    }
    let voted = votes.votes.iter().any(|(a, voters)| *a == vote.action && voters.contains(&center));
    if voted {
        return Err(Rejection::DuplicateVerdict { center });
    }
    Ok(CheckedVote { center, threshold: usize::from(set.threshold), account: Box::new(account), votes })
}

fn apply(vote: &CertActionVote, checked: CheckedVote, cx: &mut TxContext<'_>) {
    let CheckedVote { center, threshold, mut account, mut votes } = checked;
    if !votes.votes.iter().any(|(a, _)| *a == vote.action) {
        votes.votes.push((vote.action, Vec::new()));
    }
    let mut passed = None;
    for (action, voters) in &mut votes.votes {
        if *action == vote.action {
            voters.push(center);
            voters.sort_unstable();
            passed = (voters.len() >= threshold).then(|| voters.clone());
        }
    }
    if let (Some(voters), Some(to)) = (passed, vote.action.from_kind(account.kind)) {
        account.kind = to;
        let height = cx.ledger().height().next();
        account.changes.push(KindChange { to, height, voters, reason: vote.reason.clone() });
        if account.changes.len() > KIND_CHANGES_MAX {
            account.changes.remove(0);
        }
        // The type changed: votes cast for the old one start over.
        votes.votes.clear();
        cx.write(StateKey::Certificate(vote.serial), &*account);
    }
    cx.write(StateKey::CertVotes(vote.serial), &votes);
}

impl Capability for CertActionVote {
    type Checked = CheckedVote;

    fn fee_min(&self) -> u64 {
        0
    }

    fn priority(&self) -> bool {
        true
    }

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        check(self, sender, ledger).map(|_| ())
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<CheckedVote, TxInvalid> {
        check(self, &cx.sender_key(), cx).map_err(|r| TxInvalid::Certificate(r.to_string()))
    }

    fn apply(&self, checked: CheckedVote, cx: &mut TxContext<'_>) -> TxStatus {
        apply(self, checked, cx);
        TxStatus::Success
    }
}
