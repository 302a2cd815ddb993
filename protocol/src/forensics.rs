//! Fork forensics: from two certified blocks at one height, the validators that caused
//! the fork, each with two of its own signed statements that cannot both be honest.
//!
//! Beyond Fast mode's bound (Byzantine validators at least as many as two Fast quorums
//! share, e.g. one of 7) two blocks can be certified at one height. The statements that
//! certified and justified them then contain the proof (the accountable-safety argument
//! of the "BFT protocol forensics" line of work):
//! - both certificates at one view: the validators in both signed two acks for one slot;
//! - at views `low < high`: the higher block's proposal was justified either by its
//!   parent's certificate at `high` (a validator in both signed an ack at `high` one
//!   height below and an ack at `low` here: its view went back, [`crate::fast::acks_regress`]),
//!   or by a quorum of promises for `high`. A validator in both that promised `high`
//!   while hiding its ack at `low` contradicts itself ([`crate::fast::ack_and_promise_conflict`]);
//!   if every such promise reports something at least as high, the top claim is backed by
//!   a proposal at a view above `low` with a justification of its own, and the same
//!   argument applies one level down (checked recursively, as far as the justification
//!   goes).
//!
//! So the search gathers every signed statement both blocks carry (certificate votes,
//! promises and leader acks of the justifications, down to their roots) and tries each
//! pair of one signer's statements as [`FaultEvidence`] with the chain's own
//! [`FaultEvidence::verify`]. Whatever it returns is sound by construction: an honest
//! validator never signs two conflicting statements, whichever fork it is on. The
//! walk is bounded ([`FORENSICS_STATEMENTS_MAX`]), deterministic, and needs no trust in
//! whoever sent the blocks.

use std::collections::BTreeMap;

use crate::evidence::{FaultEvidence, SignedStatement};
use crate::fast::{Justification, JUSTIFICATION_DEPTH_MAX};
use crate::ids::{ChainId, NodeId};
use crate::validator::ValidatorSet;
use crate::vote::{QuorumCert, Vote};

/// Most signed statements gathered from the two blocks (a justification nests at most
/// [`JUSTIFICATION_DEPTH_MAX`] levels, each a quorum of promises and its backings).
pub const FORENSICS_STATEMENTS_MAX: usize = 8_192;

/// What a node holds of a certified block: its certificate and, for a Fast block, the
/// justification of the proposal that was certified.
#[derive(Debug, Clone, Copy)]
pub struct CertifiedProposal<'a> {
    pub cert: &'a QuorumCert,
    pub justification: Option<&'a Justification>,
}

/// The votes a certificate carries, one per signer (judged by `set`).
pub fn certificate_votes(cert: &QuorumCert, set: &ValidatorSet) -> Vec<Vote> {
    cert.signers
        .indices()
        .zip(&cert.signatures)
        .filter_map(|(i, signature)| {
            set.by_index(i).map(|v| Vote { data: cert.data.clone(), voter: v.id, signature: *signature })
        })
        .collect()
}

/// Evidence against every validator whose statements in `a` and `b` (two certified
/// blocks at one height, for different blocks) conflict: at most one per validator, in
/// the set's order. `set` is the validator set in force at that height. Empty if the
/// blocks do not conflict or carry no proof (e.g. a Bft fork across rounds, or a Fast
/// block whose justification the holder did not keep).
pub fn fork_evidence(
    chain_id: &ChainId,
    set: &ValidatorSet,
    a: CertifiedProposal<'_>,
    b: CertifiedProposal<'_>,
) -> Vec<FaultEvidence> {
    if a.cert.data.height != b.cert.data.height || a.cert.data.block_hash == b.cert.data.block_hash {
        return Vec::new();
    }
    let mut gathered = Gathered::default();
    for side in [a, b] {
        gathered.certificate(side.cert, set);
        if let Some(j) = side.justification {
            gathered.justification(j, set, 0);
        }
    }
    let mut found = Vec::new();
    for (voter, statements) in &gathered.by_signer {
        if let Some(evidence) = first_conflict(chain_id, set, statements) {
            debug_assert_eq!(evidence.accused(), *voter);
            found.push(evidence);
        }
    }
    found
}

/// The first pair of one signer's statements that the chain accepts as evidence.
fn first_conflict(chain_id: &ChainId, set: &ValidatorSet, statements: &[SignedStatement]) -> Option<FaultEvidence> {
    for (i, first) in statements.iter().enumerate() {
        for second in &statements[i + 1..] {
            if !first.may_conflict_with(second) {
                continue;
            }
            let evidence = FaultEvidence::Equivocation { first: first.clone(), second: second.clone() };
            if evidence.verify(chain_id, set).is_ok() {
                return Some(evidence);
            }
        }
    }
    None
}

/// Signed statements by signer (in the set's canonical order), without repeats.
#[derive(Default)]
struct Gathered {
    by_signer: BTreeMap<NodeId, Vec<SignedStatement>>,
    count: usize,
}

impl Gathered {
    fn add(&mut self, statement: SignedStatement) {
        if self.count >= FORENSICS_STATEMENTS_MAX {
            return;
        }
        let list = self.by_signer.entry(statement.signer()).or_default();
        if !list.contains(&statement) {
            list.push(statement);
            self.count += 1;
        }
    }

    fn certificate(&mut self, cert: &QuorumCert, set: &ValidatorSet) {
        for vote in certificate_votes(cert, set) {
            self.add(SignedStatement::Vote(vote));
        }
    }

    fn justification(&mut self, j: &Justification, set: &ValidatorSet, depth: usize) {
        if depth > JUSTIFICATION_DEPTH_MAX || self.count >= FORENSICS_STATEMENTS_MAX {
            return;
        }
        match j {
            Justification::Genesis => {}
            Justification::Parent(qc) => self.certificate(qc, set),
            Justification::Promises { promises, backings } => {
                for p in promises {
                    self.add(SignedStatement::Promise(p.clone()));
                }
                for backing in backings {
                    self.add(SignedStatement::Vote(backing.leader_ack.clone()));
                    self.justification(&backing.justification, set, depth + 1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
