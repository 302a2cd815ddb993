//! What a target object's node answers about the records it keeps (audits, SPEC C6).

use crate::answers::Hex;

crate::answer! {
/// `POST /v1/audit/records`: how many records of the dimension the node keeps now.
pub struct RecordsStored {
    pub stored: u64,
}
}

crate::answer! {
/// `GET /v1/audit/records/{target}/{dimension}?from=&count=`: a run of a target's
/// records as its node keeps them, and how many it keeps in all. Nothing here is
/// proven: a reader checks each record's signature by the target's owner, and the run
/// against a digest the chain holds.
pub struct RecordsAnswer {
    pub from: u64,
    /// BCS `Vec<SignedRecord>`.
    pub records_bcs: Hex,
    pub total: u64,
}
}
