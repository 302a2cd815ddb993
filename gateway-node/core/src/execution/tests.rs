use vigil_protocol::{Amount, Payload, SecretKey, Transaction, Transfer};

use vigil_protocol::limits::{FEE_MIN, REGISTER_USER_FEE_MIN};

use super::testkit::*;
use super::*;

/// Finding 1 of the soundness review: on 35b51aa a failed transaction kept its nonce, so
/// a Byzantine proposer (or a race) could commit the same signed transaction again, and
/// the two honest receipts for it jailed honest validators. Now a block that repeats a
/// committed transaction is invalid, failed or not.
#[test]
fn a_committed_transaction_can_never_be_committed_again() {
    let f = fixture();
    let mut ledger = Ledger::genesis(&f.genesis).unwrap();
    let failing = transfer(&f, 0, 5_000);
    let (b, exec) = block(&ledger, vec![failing.clone()]);
    ledger.commit(&b, exec).unwrap();
    let err = ledger.execute(std::slice::from_ref(&failing)).unwrap_err();
    assert_eq!(err, ExecuteError::Tx { index: 0, why: TxInvalid::Nonce { expected: 1, found: 0 } });
    let mut replay = b.clone();
    replay.header.height = Height(2);
    replay.header.parent_hash = ledger.last_hash();
    assert!(matches!(
        ledger.check_block(&replay),
        Err(BlockInvalid::Tx { index: 0, why: TxInvalid::Nonce { expected: 1, found: 0 } })
    ));
    // Twice in one block: the second copy has a used nonce.
    let ledger = Ledger::genesis(&f.genesis).unwrap();
    assert!(matches!(ledger.execute(&[failing.clone(), failing]), Err(ExecuteError::Tx { index: 1, .. })));
}

#[test]
fn transactions_that_cannot_pay_their_fee_make_the_block_invalid() {
    let f = fixture();
    let ledger = Ledger::genesis(&f.genesis).unwrap();
    let broke = SecretKey::from_seed([60; 32]);
    let unfunded = tx(&f, &broke, 0, Payload::Transfer(Transfer { to: f.bob, amount: Amount(0) }));
    assert_eq!(ledger.execute(&[unfunded]).unwrap_err(), ExecuteError::Tx { index: 0, why: TxInvalid::CannotPayFee });
    let mut free = Transaction {
        chain_id: f.genesis.chain_id.clone(),
        sender: f.alice.public_key(),
        nonce: Nonce(0),
        fee: Amount(0),
        payload: Payload::Transfer(Transfer { to: f.bob, amount: Amount(1) }),
    };
    let err = ledger.execute(&[free.clone().sign(&f.alice)]).unwrap_err();
    assert_eq!(err, ExecuteError::Tx { index: 0, why: TxInvalid::FeeTooLow { min: FEE_MIN, found: 0 } });
    // Registering a user id costs more than the minimum.
    free.payload = Payload::RegisterUser(vigil_protocol::UserId::new("squatter").unwrap());
    free.fee = Amount(FEE_MIN);
    let err = ledger.execute(&[free.sign(&f.alice)]).unwrap_err();
    assert_eq!(
        err,
        ExecuteError::Tx { index: 0, why: TxInvalid::FeeTooLow { min: REGISTER_USER_FEE_MIN, found: FEE_MIN } }
    );
}

#[test]
fn a_proposer_leaves_out_what_may_not_be_in_a_block() {
    let f = fixture();
    let ledger = Ledger::genesis(&f.genesis).unwrap();
    let candidates = vec![transfer(&f, 0, 10), transfer(&f, 0, 20), transfer(&f, 5, 1), transfer(&f, 1, 10)];
    let left_out_ids = [candidates[1].hash(), candidates[2].hash()];
    let (exec, kept, left_out) = ledger.execute_admissible(candidates.clone()).unwrap();
    assert_eq!(kept, vec![candidates[0].clone(), candidates[3].clone()]);
    assert_eq!(left_out, left_out_ids);
    assert_eq!(exec, ledger.execute(&kept).unwrap());
}

#[test]
fn block_with_a_lying_state_root_is_rejected() {
    let f = fixture();
    let ledger = Ledger::genesis(&f.genesis).unwrap();
    let (mut b, _) = block(&ledger, vec![transfer(&f, 0, 10)]);
    ledger.check_block(&b).unwrap();
    b.header.state_root = Hash32([0xaa; 32]);
    assert_eq!(ledger.check_block(&b), Err(BlockInvalid::Mismatch("state_root")));
}

#[test]
fn block_with_a_lying_receipt_is_rejected() {
    let f = fixture();
    let ledger = Ledger::genesis(&f.genesis).unwrap();
    let (mut b, exec) = block(&ledger, vec![transfer(&f, 0, 10)]);
    let mut entries = exec.entries.clone();
    entries[0].status = TxStatus::Failed(FailureCode::InsufficientBalance);
    b.header.receipts_root = Block::receipts_root(&entries);
    assert_eq!(ledger.check_block(&b), Err(BlockInvalid::Mismatch("receipts_root")));
}

#[test]
fn block_with_a_forged_transaction_signature_is_rejected() {
    let f = fixture();
    let ledger = Ledger::genesis(&f.genesis).unwrap();
    let mut t = transfer(&f, 0, 10);
    t.signature = transfer(&f, 1, 10).signature;
    let (b, _) = block(&ledger, vec![t]);
    assert_eq!(ledger.check_block(&b), Err(BlockInvalid::BadTransaction));
}

/// A wiped store finds the objects it must rebuild shards of by scanning the state: every
/// committed manifest that names it, with its position, and nothing else.
#[test]
fn a_store_finds_every_manifest_that_names_it_in_the_state() {
    use crate::capability::vault::stored_at;
    use vigil_protocol::{UserId, VaultConfig, VaultManifest};
    let f = fixture();
    let mut ledger = Ledger::genesis(&f.genesis).unwrap();
    let user = UserId::new("alice").unwrap();
    let cfg = VaultConfig::default();
    let set = ledger.validators().clone();
    let manifest = |id: u8| {
        let object_id = Hash32([id; 32]);
        VaultManifest {
            object_id,
            owner: Address::from_public_key(&f.alice.public_key()),
            user_id: user.clone(),
            threshold: cfg.threshold,
            fragments: cfg.fragments,
            shard_bytes: cfg.shard_bytes,
            chunk_bytes: cfg.chunk_bytes,
            plaintext_len: 10,
            ciphertext_len: 100,
            stores: cfg.stores(&object_id, &set).unwrap(),
            fragment_hashes: vec![Hash32([id; 32]); usize::from(cfg.fragments)],
            label: String::new(),
        }
    };
    let (a, b) = (manifest(0), manifest(1));
    let txs = vec![
        tx(&f, &f.alice, 0, Payload::RegisterUser(user.clone())),
        tx(&f, &f.alice, 1, Payload::CommitManifest(Box::new(a.clone()))),
        tx(&f, &f.alice, 2, Payload::CommitManifest(Box::new(b.clone()))),
    ];
    let (blk, exec) = block(&ledger, txs);
    assert!(exec.entries.iter().all(|e| e.status == TxStatus::Success), "{:?}", exec.entries);
    ledger.commit(&blk, exec).unwrap();
    let view = ledger.view();
    for v in set.validators() {
        let mut expected: Vec<(u8, Hash32)> = [&a, &b]
            .into_iter()
            .filter_map(|m| Some((m.stores.iter().position(|s| *s == v.id)? as u8, m.object_id)))
            .collect();
        let mut found: Vec<(u8, Hash32)> = stored_at(&view, &v.id).iter().map(|(i, m)| (*i, m.object_id)).collect();
        expected.sort();
        found.sort();
        assert_eq!(found, expected, "store {}", v.id);
    }
    assert!(stored_at(&view, &NodeId([0xee; 32])).is_empty());
}
