use vigil_protocol::evidence::SignedStatement;
use vigil_protocol::{
    Amount, EncryptionKey, P2pKey, Receipt, SecretKey, Transaction, Transfer, ValidatorInfo, VoteData, VoteKind,
};

use vigil_protocol::limits::{FEE_MIN, REGISTER_USER_FEE_MIN};

use super::*;

struct Fixture {
    genesis: Genesis,
    validator_keys: Vec<SecretKey>,
    alice: SecretKey,
    bob: Address,
}

fn fixture() -> Fixture {
    let validator_keys: Vec<SecretKey> = (1..=4u8).map(|i| SecretKey::from_seed([i; 32])).collect();
    let validators = ValidatorSet::new(
        validator_keys
            .iter()
            .map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey([0; 32]), P2pKey([0xff; 32])))
            .collect(),
    )
    .unwrap();
    let alice = SecretKey::from_seed([50; 32]);
    let bob = Address::from_public_key(&SecretKey::from_seed([51; 32]).public_key());
    let mut accounts = vec![(Address::from_public_key(&alice.public_key()), Amount(1_000))];
    accounts.extend(validators.validators().iter().map(|v| (v.account, Amount(0))));
    accounts.sort();
    let genesis = Genesis {
        chain_id: ChainId::new("vigil-test").unwrap(),
        validators,
        accounts,
        mode: ConsensusMode::Fast,
        time_ms: 0,
        vault: Default::default(),
    };
    Fixture { genesis, validator_keys, alice, bob }
}

fn tx(f: &Fixture, key: &SecretKey, nonce: u64, payload: Payload) -> SignedTransaction {
    Transaction {
        chain_id: f.genesis.chain_id.clone(),
        sender: key.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(fee_min(&payload).max(1)),
        payload,
    }
    .sign(key)
}

fn transfer(f: &Fixture, nonce: u64, amount: u64) -> SignedTransaction {
    tx(f, &f.alice, nonce, Payload::Transfer(Transfer { to: f.bob, amount: Amount(amount) }))
}

fn block(ledger: &Ledger, txs: Vec<SignedTransaction>) -> (Block, Execution) {
    let exec = ledger.execute(&txs).unwrap();
    let proposer = ledger.validators().validators()[0].id;
    let header = ledger.build_header(&exec, View(0), proposer, 0);
    (Block { header, txs }, exec)
}

fn equivocation(f: &Fixture, ledger: &Ledger, offender_index: usize) -> FaultEvidence {
    let v = &ledger.validators().validators()[offender_index];
    let key = f.validator_keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == v.id).unwrap();
    let vote = |b: u8| {
        VoteData {
            chain_id: f.genesis.chain_id.clone(),
            height: Height(1),
            view: View(0),
            block_hash: Hash32([b; 32]),
            kind: VoteKind::Ack,
        }
        .sign(v.id, key)
    };
    FaultEvidence::Equivocation { first: SignedStatement::Vote(vote(1)), second: SignedStatement::Vote(vote(2)) }
}

#[test]
fn transfer_moves_funds_charges_the_fee_and_bumps_the_nonce() {
    let f = fixture();
    let mut ledger = Ledger::genesis(&f.genesis).unwrap();
    let (b, exec) = block(&ledger, vec![transfer(&f, 0, 100)]);
    assert_eq!(exec.entries[0].status, TxStatus::Success);
    ledger.commit(&b, exec).unwrap();
    let alice = ledger.account(&Address::from_public_key(&f.alice.public_key()));
    assert_eq!(alice, AccountState { balance: Amount(899), nonce: Nonce(1) });
    assert_eq!(ledger.account(&f.bob).balance, Amount(100));
    assert_eq!(ledger.height(), Height(1));
}

#[test]
fn a_failed_transfer_pays_its_fee_and_uses_its_nonce() {
    let f = fixture();
    let mut ledger = Ledger::genesis(&f.genesis).unwrap();
    let alice = Address::from_public_key(&f.alice.public_key());
    let (b, exec) = block(&ledger, vec![transfer(&f, 0, 1_000)]);
    assert_eq!(exec.entries[0].status, TxStatus::Failed(FailureCode::InsufficientBalance));
    ledger.commit(&b, exec).unwrap();
    assert_eq!(ledger.account(&alice), AccountState { balance: Amount(999), nonce: Nonce(1) });
    assert_eq!(ledger.account(&f.bob).balance, Amount(0));
}

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
    let same =
        FaultEvidence::Equivocation { first: SignedStatement::Receipt(r.clone()), second: SignedStatement::Receipt(r) };
    let err = ledger.execute(&[tx(&f, &f.alice, 0, Payload::FaultEvidence(Box::new(same)))]).unwrap_err();
    assert_eq!(err, ExecuteError::Tx { index: 0, why: TxInvalid::Evidence(FailureCode::InvalidEvidence) });
}

fn manifest(f: &Fixture, ledger: &Ledger, owner: Address, user: &str, id: u8) -> VaultManifest {
    let cfg = f.genesis.vault;
    let object_id = Hash32([id; 32]);
    let len = 1000u64;
    VaultManifest {
        object_id,
        owner,
        user_id: vigil_protocol::UserId::new(user).unwrap(),
        threshold: cfg.threshold,
        fragments: cfg.fragments,
        shard_bytes: cfg.shard_bytes,
        chunk_bytes: cfg.chunk_bytes,
        plaintext_len: 900,
        ciphertext_len: len,
        stores: cfg.stores(&object_id, ledger.validators()).unwrap(),
        fragment_hashes: vec![Hash32([1; 32]); cfg.stripes(len) as usize * usize::from(cfg.fragments)],
        label: "notes.txt".into(),
    }
}

#[test]
fn vault_users_and_manifests_are_recorded_only_for_their_owner() {
    let f = fixture();
    let mut ledger = Ledger::genesis(&f.genesis).unwrap();
    let alice = Address::from_public_key(&f.alice.public_key());
    let carol_key = SecretKey::from_seed([52; 32]);
    let carol = Address::from_public_key(&carol_key.public_key());
    // Carol needs funds for fees.
    let (b, exec) =
        block(&ledger, vec![tx(&f, &f.alice, 0, Payload::Transfer(Transfer { to: carol, amount: Amount(100) }))]);
    ledger.commit(&b, exec).unwrap();

    let register = |key: &SecretKey, nonce, user: &str| {
        tx(&f, key, nonce, Payload::RegisterUser(vigil_protocol::UserId::new(user).unwrap()))
    };
    let good = manifest(&f, &ledger, alice, "alice", 7);
    let mut wrong_shape = manifest(&f, &ledger, alice, "alice", 8);
    wrong_shape.fragment_hashes.pop();
    let txs = vec![
        // Registration and manifest in one block: the second sees the first.
        register(&f.alice, 1, "alice"),
        tx(&f, &f.alice, 2, Payload::CommitManifest(Box::new(good.clone()))),
        // Carol cannot take Alice's id, nor record a manifest under it or for Alice.
        register(&carol_key, 0, "alice"),
        tx(&f, &carol_key, 1, Payload::CommitManifest(Box::new(manifest(&f, &ledger, carol, "alice", 9)))),
        tx(&f, &carol_key, 2, Payload::CommitManifest(Box::new(manifest(&f, &ledger, alice, "alice", 10)))),
        // The same object twice, and a manifest that does not fit the configuration.
        tx(&f, &f.alice, 3, Payload::CommitManifest(Box::new(good.clone()))),
        tx(&f, &f.alice, 4, Payload::CommitManifest(Box::new(wrong_shape))),
        // Re-registering one's own id is harmless.
        register(&f.alice, 5, "alice"),
    ];
    let (b, exec) = block(&ledger, txs);
    let statuses: Vec<TxStatus> = exec.entries.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        vec![
            TxStatus::Success,
            TxStatus::Success,
            TxStatus::Failed(FailureCode::UserIdTaken),
            TxStatus::Failed(FailureCode::UnknownUser),
            TxStatus::Failed(FailureCode::UnknownUser),
            TxStatus::Failed(FailureCode::DuplicateObject),
            TxStatus::Failed(FailureCode::BadManifest),
            TxStatus::Success,
        ]
    );
    ledger.commit(&b, exec).unwrap();
    let (value, proof) = ledger.prove(&StateKey::Manifest(good.object_id)).unwrap();
    let root = ledger.state_root().unwrap();
    proof.verify(&root, &StateKey::Manifest(good.object_id), value.as_deref()).unwrap();
    assert_eq!(vigil_protocol::encoding::from_bytes::<VaultManifest>(&value.unwrap()).unwrap(), good);
    let (list, _) = ledger.prove(&StateKey::Objects(alice)).unwrap();
    assert_eq!(vigil_protocol::encoding::from_bytes::<Vec<Hash32>>(&list.unwrap()).unwrap(), vec![good.object_id]);
    let (cfg, _) = ledger.prove(&StateKey::VaultConfig).unwrap();
    assert_eq!(vigil_protocol::encoding::from_bytes::<VaultConfig>(&cfg.unwrap()).unwrap(), f.genesis.vault);
}
