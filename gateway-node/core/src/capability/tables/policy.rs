//! Who may write a table's rows ([`WritePolicy`]): its owner, the accounts it lists (and
//! the owner), or any key holding a certificate of the chain's authentication centers
//! whose account is valid — a frozen or revoked certificate writes nothing.
//!
//! Execution has no clock, so a certificate's expiry is not judged here: a certificate
//! past its validity still writes until the centers revoke it (readers judge expiry
//! against a certified header's time, as the wallet does for certificates).

use vigil_protocol::authcenter::{CertAccount, CertKind};
use vigil_protocol::tables::{TableRecord, WritePolicy};
use vigil_protocol::{Address, PublicKey, StateKey};

use super::Refused;
use crate::capability::ReadState;

/// Whether the table's policy in force lets `writer` write.
pub(crate) fn may_write(record: &TableRecord, writer: &PublicKey, state: &impl ReadState) -> Result<(), Refused> {
    let account = Address::from_public_key(writer);
    let policy = record.schema().map(|s| &s.policy).ok_or(Refused::Table("the table has no schema".into()))?;
    match policy {
        WritePolicy::Owner if account == record.owner => Ok(()),
        WritePolicy::Owner => Err(Refused::Policy("only the table's owner writes its rows".into())),
        WritePolicy::Listed(writers) if account == record.owner || writers.contains(&account) => Ok(()),
        WritePolicy::Listed(_) => Err(Refused::Policy(format!("account {account} is not among the table's writers"))),
        WritePolicy::CertificateHolder => certified(writer, state),
    }
}

/// A valid certificate for `writer`, or why there is none.
fn certified(writer: &PublicKey, state: &impl ReadState) -> Result<(), Refused> {
    let serials: Vec<[u8; 16]> = state.get(&StateKey::CertificatesOf(*writer)).unwrap_or_default();
    let kinds: Vec<CertKind> = serials
        .iter()
        .filter_map(|s| state.get::<CertAccount>(&StateKey::Certificate(*s)))
        .filter(|a| a.record.subject_key == *writer)
        .map(|a| a.kind)
        .collect();
    if kinds.contains(&CertKind::Valid) {
        return Ok(());
    }
    let why = if kinds.contains(&CertKind::Frozen) {
        "the writer's certificate is frozen: a table that needs a certificate takes rows only from a valid one"
    } else if kinds.contains(&CertKind::Revoked) {
        "the writer's certificate is revoked: a table that needs a certificate takes rows only from a valid one"
    } else {
        "the table takes rows only from keys holding a certificate of this chain's authentication centers; request one first"
    };
    Err(Refused::Policy(why.into()))
}
