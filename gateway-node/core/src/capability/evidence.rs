//! Fault evidence: proof that a validator signed two statements that cannot both be
//! honest. Judged by the set in force at the evidence's height; once committed, the
//! offender is jailed (out of the set) and the chain runs in Bft mode from the next
//! height. Evidence that proves nothing new may not be in a block at all, which is what
//! lets valid evidence be free.

use vigil_protocol::{ConsensusMode, FailureCode, FaultEvidence, NodeId, TxStatus, ValidatorSet};

use super::Capability;
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

/// Fewest validators the chain keeps: jailing below this is refused.
pub const VALIDATORS_MIN: usize = 1;

/// What checked evidence changes: who is jailed, and the set without it.
pub struct Jailing {
    offender: NodeId,
    smaller: ValidatorSet,
}

impl Capability for FaultEvidence {
    type Checked = Jailing;

    fn fee_min(&self) -> u64 {
        0
    }

    fn priority(&self) -> bool {
        true
    }

    /// Evidence must prove a fault of a validator still in the set: invalid or
    /// repeated evidence is never pooled.
    fn admit(&self, ledger: &Ledger, _sender: &vigil_protocol::PublicKey) -> Result<(), Rejection> {
        if ledger.validators().get(&self.accused()).is_none() {
            return Err(Rejection::OffenderNotInSet);
        }
        let judged_by = ledger.validators_at(self.height());
        self.verify(ledger.chain_id(), judged_by).map_err(|e| Rejection::InvalidEvidence(e.to_string()))?;
        Ok(())
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Jailing, TxInvalid> {
        let ledger = cx.ledger();
        let set = ledger.validators_at(self.height());
        let offender =
            self.verify(ledger.chain_id(), set).map_err(|_| TxInvalid::Evidence(FailureCode::InvalidEvidence))?;
        let next = cx.consensus();
        if next.jailed.contains(&offender) || next.validators.get(&offender).is_none() {
            return Err(TxInvalid::Evidence(FailureCode::DuplicateEvidence));
        }
        match next.validators.without(&offender) {
            Ok(smaller) if smaller.len() >= VALIDATORS_MIN => Ok(Jailing { offender, smaller }),
            _ => Err(TxInvalid::Evidence(FailureCode::ValidatorSetTooSmall)),
        }
    }

    fn apply(&self, Jailing { offender, smaller }: Jailing, cx: &mut TxContext<'_>) -> TxStatus {
        let mut next = cx.consensus().clone();
        // The block at the ledger's next height holds this: the set changes after it.
        next.change_validators(cx.ledger().height().next().next(), smaller);
        next.jailed.push(offender);
        next.mode = ConsensusMode::Bft;
        cx.set_consensus(next);
        TxStatus::Success
    }
}

#[cfg(test)]
mod tests {
    use vigil_protocol::*;

    use crate::execution::testkit::*;
    use crate::execution::*;

    #[test]
    fn committed_evidence_jails_the_offender_and_switches_to_bft() {
        let f = fixture();
        let mut ledger = Ledger::genesis(&f.genesis).unwrap();
        let offender = ledger.validators().validators()[2].id;
        let ev = equivocation(&f, &ledger, 2);
        let (b, exec) = block(&ledger, vec![tx(&f, &f.alice, 0, Payload::FaultEvidence(Box::new(ev)))]);
        assert_eq!(exec.entries[0].status, TxStatus::Success);
        assert_eq!(b.header.mode, ConsensusMode::Fast, "the block carrying evidence is still Fast");
        assert_ne!(b.header.next_validator_set_hash, b.header.validator_set_hash);
        ledger.commit(&b, exec).unwrap();
        assert_eq!(ledger.mode(), ConsensusMode::Bft);
        assert_eq!(ledger.consensus_state().jailed, vec![offender]);
        assert!(ledger.validators().get(&offender).is_none());
        // The jailing is in the authenticated state, provable to a light client.
        let (value, proof) = ledger.prove(&StateKey::Consensus).unwrap();
        proof.verify(&ledger.state_root().unwrap(), &StateKey::Consensus, value.as_deref()).unwrap();
        let state: ConsensusState = vigil_protocol::encoding::from_bytes(&value.unwrap()).unwrap();
        assert_eq!(state.mode, ConsensusMode::Bft);
        // Old evidence is still judged by the set of its height.
        assert!(ledger.validators_at(Height(1)).get(&offender).is_some());
    }

    #[test]
    fn repeated_or_forged_evidence_may_not_be_in_a_block() {
        let f = fixture();
        let mut ledger = Ledger::genesis(&f.genesis).unwrap();
        let ev = equivocation(&f, &ledger, 1);
        let first = tx(&f, &f.alice, 0, Payload::FaultEvidence(Box::new(ev.clone())));
        let second = tx(&f, &f.alice, 1, Payload::FaultEvidence(Box::new(ev.clone())));
        assert_eq!(
            ledger.execute(&[first.clone(), second]).unwrap_err(),
            ExecuteError::Tx { index: 1, why: TxInvalid::Evidence(FailureCode::DuplicateEvidence) }
        );
        let (b, exec) = block(&ledger, vec![first]);
        ledger.commit(&b, exec).unwrap();

        let mut forged = equivocation(&f, &ledger, 0);
        if let FaultEvidence::Equivocation { second: SignedStatement::Vote(v), .. } = &mut forged {
            v.data.block_hash = Hash32([9; 32]);
        }
        let err = ledger.execute(&[tx(&f, &f.alice, 1, Payload::FaultEvidence(Box::new(forged)))]).unwrap_err();
        assert_eq!(err, ExecuteError::Tx { index: 0, why: TxInvalid::Evidence(FailureCode::InvalidEvidence) });
    }

    #[test]
    fn valid_evidence_may_be_free_even_from_an_unfunded_account() {
        let f = fixture();
        let ledger = Ledger::genesis(&f.genesis).unwrap();
        let reporter = SecretKey::from_seed([61; 32]);
        let ev = equivocation(&f, &ledger, 1);
        let free = Transaction {
            chain_id: f.genesis.chain_id.clone(),
            sender: reporter.public_key(),
            nonce: Nonce(0),
            fee: Amount(0),
            payload: Payload::FaultEvidence(Box::new(ev)),
        }
        .sign(&reporter);
        let exec = ledger.execute(&[free]).unwrap();
        assert_eq!(exec.entries[0].status, TxStatus::Success);
    }

    #[test]
    fn receipt_contradicting_a_block_is_judged_by_execution() {
        // Receipt evidence goes through the same `FaultEvidence::verify`; a receipt that
        // agrees with the chain proves nothing and fails as invalid evidence.
        let f = fixture();
        let ledger = Ledger::genesis(&f.genesis).unwrap();
        let v = &ledger.validators().validators()[0];
        let key = f.validator_keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == v.id).unwrap();
        let entry = ReceiptEntry { tx_hash: Hash32([1; 32]), status: TxStatus::Success, result_hash: Hash32([2; 32]) };
        let r = Receipt {
            chain_id: f.genesis.chain_id.clone(),
            height: Height(1),
            block_hash: Hash32([3; 32]),
            tx_index: 0,
            entry,
            node: v.id,
        }
        .sign(key);
        let same = FaultEvidence::Equivocation {
            first: SignedStatement::Receipt(r.clone()),
            second: SignedStatement::Receipt(r),
        };
        let err = ledger.execute(&[tx(&f, &f.alice, 0, Payload::FaultEvidence(Box::new(same)))]).unwrap_err();
        assert_eq!(err, ExecuteError::Tx { index: 0, why: TxInvalid::Evidence(FailureCode::InvalidEvidence) });
    }
}
