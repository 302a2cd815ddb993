//! Stable checkpoints recorded on chain (patent 8's "eigenvalue", kept in the shared
//! data): a `RecordCheckpoint` transaction carries a stable checkpoint — a digest and a
//! quorum of signatures by the set that certifies the height after it — and, if it is
//! newer than the one recorded, writes it at `StateKey::Checkpoint`, where any light
//! client proves it against a certified header. Free and pooled first, like evidence;
//! submitted by one validator of the set after each checkpoint settles (see
//! `consensus::checkpoints`).
//!
//! A checkpoint that does not verify against the set of its height (as the committed
//! history has it) may not be in a block at all, so a Byzantine proposer cannot record
//! a forged one; one no newer than the recorded one is kept in the block but changes
//! nothing (`StaleCheckpoint`), so two validators recording the same checkpoint never
//! make a block invalid.

use vigil_protocol::{FailureCode, StableCheckpoint, StateKey, TxStatus};

use super::Capability;
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

/// What a checked checkpoint does.
pub enum Record {
    /// Newer than the recorded one: it replaces it.
    New,
    /// Not newer: a no-op that fails.
    Stale,
}

/// The checkpoint is of a committed height and a quorum of the set of the height after
/// it (in `ledger`'s history) signed it.
fn check(checkpoint: &StableCheckpoint, ledger: &Ledger) -> Result<(), String> {
    let height = checkpoint.digest.height;
    if height > ledger.height() {
        return Err(format!("height {height} is not committed yet (the chain is at {})", ledger.height()));
    }
    checkpoint.verify(ledger.chain_id(), ledger.validators_at(height.next())).map_err(|e| e.to_string())
}

fn newer(checkpoint: &StableCheckpoint, recorded: Option<StableCheckpoint>) -> bool {
    recorded.is_none_or(|r| checkpoint.digest.height > r.digest.height)
}

impl Capability for StableCheckpoint {
    type Checked = Record;

    fn fee_min(&self) -> u64 {
        0
    }

    fn priority(&self) -> bool {
        true
    }

    fn admit(&self, ledger: &Ledger, _sender: &vigil_protocol::PublicKey) -> Result<(), Rejection> {
        check(self, ledger).map_err(Rejection::InvalidCheckpoint)?;
        if !newer(self, ledger.state(&StateKey::Checkpoint)) {
            return Err(Rejection::StaleCheckpoint);
        }
        Ok(())
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<Record, TxInvalid> {
        check(self, cx.ledger()).map_err(TxInvalid::Checkpoint)?;
        Ok(if newer(self, cx.read(&StateKey::Checkpoint)) { Record::New } else { Record::Stale })
    }

    fn apply(&self, record: Record, cx: &mut TxContext<'_>) -> TxStatus {
        match record {
            Record::New => {
                cx.write(StateKey::Checkpoint, self);
                TxStatus::Success
            }
            Record::Stale => TxStatus::Failed(FailureCode::StaleCheckpoint),
        }
    }
}

#[cfg(test)]
mod tests {
    use vigil_protocol::*;

    use crate::consensus::Rejection;
    use crate::execution::testkit::*;
    use crate::execution::*;

    /// A checkpoint at `height` signed by the first `signers` validators (a quorum).
    fn signed(f: &Fixture, ledger: &Ledger, height: Height, signers: usize) -> StableCheckpoint {
        let set = ledger.validators_at(height.next());
        let digest = CheckpointDigest {
            chain_id: f.genesis.chain_id.clone(),
            height,
            block_hash: ledger.last_hash(),
            state_root: Hash32([2; 32]),
            chunk_root: Hash32([3; 32]),
            chunk_count: 1,
            next_validator_set_hash: set.hash(),
            next_mode: ledger.mode(),
        };
        let votes: Vec<CheckpointVote> = f
            .validator_keys
            .iter()
            .take(signers)
            .map(|k| digest.sign(NodeId::from_public_key(&k.public_key()), k))
            .collect();
        StableCheckpoint::from_verified_votes(digest, &votes, set).unwrap()
    }

    fn record(f: &Fixture, nonce: u64, c: &StableCheckpoint) -> SignedTransaction {
        tx(f, &f.alice, nonce, Payload::RecordCheckpoint(Box::new(c.clone())))
    }

    fn two_blocks(f: &Fixture) -> Ledger {
        let mut ledger = Ledger::genesis(&f.genesis).unwrap();
        for n in 0..2 {
            let (b, e) = block(&ledger, vec![transfer(f, n, 1)]);
            ledger.commit(&b, e).unwrap();
        }
        ledger
    }

    #[test]
    fn a_stable_checkpoint_is_recorded_proven_and_never_replaced_by_an_older_one() {
        let f = fixture();
        let mut ledger = two_blocks(&f);
        let (at1, at2) = (signed(&f, &ledger, Height(1), 3), signed(&f, &ledger, Height(2), 3));
        let (b, e) = block(&ledger, vec![record(&f, 2, &at2)]);
        assert_eq!(e.entries[0].status, TxStatus::Success);
        ledger.commit(&b, e).unwrap();
        let (value, proof) = ledger.prove(&StateKey::Checkpoint).unwrap();
        proof.verify(&ledger.state_root().unwrap(), &StateKey::Checkpoint, value.as_deref()).unwrap();
        let recorded: StableCheckpoint = encoding::from_bytes(&value.unwrap()).unwrap();
        assert_eq!(recorded, at2);
        // An older one (or the same again): pooled nowhere, and in a block a failed no-op.
        let older = Payload::RecordCheckpoint(Box::new(at1.clone()));
        assert_eq!(
            crate::capability::admit(&older, &ledger, &SecretKey::from_seed([9; 32]).public_key()),
            Err(Rejection::StaleCheckpoint)
        );
        let (b, e) = block(&ledger, vec![record(&f, 3, &at1), record(&f, 4, &at2)]);
        assert!(e.entries.iter().all(|r| r.status == TxStatus::Failed(FailureCode::StaleCheckpoint)));
        ledger.commit(&b, e).unwrap();
        assert_eq!(ledger.state::<StableCheckpoint>(&StateKey::Checkpoint), Some(at2));
    }

    #[test]
    fn a_forged_short_or_premature_checkpoint_may_not_be_in_a_block() {
        let f = fixture();
        let ledger = two_blocks(&f);
        let mut forged = signed(&f, &ledger, Height(2), 3);
        forged.digest.state_root = Hash32([9; 32]);
        let mut short = signed(&f, &ledger, Height(2), 3);
        short.signatures.pop();
        let premature = signed(&f, &ledger, Height(3), 3);
        for (c, what) in [(forged, "signature"), (short, "quorum"), (premature, "not committed")] {
            let refused = crate::capability::admit(
                &Payload::RecordCheckpoint(Box::new(c.clone())),
                &ledger,
                &SecretKey::from_seed([9; 32]).public_key(),
            );
            assert!(matches!(refused, Err(Rejection::InvalidCheckpoint(_))), "{what}: {refused:?}");
            assert!(
                matches!(
                    ledger.execute(&[record(&f, 2, &c)]),
                    Err(ExecuteError::Tx { index: 0, why: TxInvalid::Checkpoint(_) })
                ),
                "{what}"
            );
        }
    }
}
