use std::ops::Bound;

use vigil_protocol::authcenter::{CertAccount, CertKind, CertificateRecord, Subject};
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::tables::record::TABLE_DEPOSIT;
use vigil_protocol::tables::row::ROW_BYTES_MAX;
use vigil_protocol::tables::*;
use vigil_protocol::*;

use crate::capability::admit;
use crate::consensus::Rejection;
use crate::execution::testkit::*;
use crate::execution::*;

fn col(name: &str, ty: ColumnType) -> Column {
    Column { name: name.into(), ty, nullable: false, max_len: None, min: None, max: None }
}

fn schema(policy: WritePolicy) -> TableSchema {
    TableSchema {
        name: "orders".into(),
        columns: vec![
            col("id", ColumnType::U64),
            Column { max_len: Some(8), ..col("item", ColumnType::String) },
            Column { min: Some(0), max: Some(100_000), ..col("price", ColumnType::Decimal { scale: 2 }) },
            Column { nullable: true, ..col("note", ColumnType::Bytes) },
        ],
        primary_key: vec![0],
        policy,
    }
}

fn values(id: u64, item: &str, price: i128) -> Vec<Value> {
    vec![Value::U64(id), Value::String(item.into()), Value::Decimal(price), Value::Null]
}

fn row(f: &Fixture, key: &SecretKey, op: RowOp, values: Vec<Value>) -> Payload {
    let body = RowBody { chain: f.genesis.chain_id.clone(), table: "orders".into(), op, values };
    Payload::WriteRow(Box::new(body.sign(key)))
}

fn create(policy: WritePolicy) -> Payload {
    Payload::CreateTable(Box::new(CreateTable { schema: schema(policy) }))
}

/// Commits `txs` as one block; every one must be admissible.
fn commit(ledger: &mut Ledger, txs: Vec<SignedTransaction>) -> Execution {
    let (b, exec) = block(ledger, txs);
    ledger.commit(&b, exec.clone()).unwrap();
    exec
}

fn key(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

/// A ledger with Alice's table `orders` (policy `policy`) and rows 1..=3.
fn with_table(f: &Fixture, policy: WritePolicy) -> Ledger {
    let mut ledger = Ledger::genesis(&f.genesis).unwrap();
    let a = &f.alice;
    let exec = commit(
        &mut ledger,
        vec![
            tx(f, a, 0, create(policy)),
            tx(f, a, 1, row(f, a, RowOp::Insert, values(1, "apple", 120))),
            tx(f, a, 2, row(f, a, RowOp::Insert, values(3, "pear", 90))),
            tx(f, a, 3, row(f, a, RowOp::Insert, values(2, "fig", 300))),
        ],
    );
    assert!(exec.entries.iter().all(|e| e.status == TxStatus::Success));
    ledger
}

/// What a scan of the committed `orders` proves, checked as a client does: the root from
/// the state, the page against it.
fn scan(ledger: &Ledger, range: &KeyRange, limit: usize) -> Result<Page, RangeError> {
    let view = ledger.view();
    let root: TableRoot = view.state(&StateKey::TableRoot("orders".into())).unwrap();
    let (rows, _, proof) = view.table_map("orders").unwrap().scan(range, limit);
    verify_page(&root.root, range, limit, rows, &proof)
}

fn everything() -> KeyRange {
    KeyRange { from: Bound::Unbounded, to: Bound::Unbounded }
}

#[test]
fn rows_are_written_signed_proven_in_order_and_their_history_kept() {
    let f = fixture();
    let mut ledger = with_table(&f, WritePolicy::Owner);
    let alice = Address::from_public_key(&f.alice.public_key());
    let record: TableRecord = ledger.state(&StateKey::Table("orders".into())).unwrap();
    assert_eq!((record.owner, record.deposit), (alice, Amount(TABLE_DEPOSIT)));
    let fees = 10 + 3;
    assert_eq!(ledger.account(&alice).balance, Amount(1_000 - TABLE_DEPOSIT - fees), "deposit and fees paid");

    let page = scan(&ledger, &everything(), 10).unwrap();
    assert_eq!(page.rows.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), vec![key(1), key(2), key(3)]);
    assert_eq!(page.next, None, "a short page ends the scan");
    let entry: RowEntry = ledger.state(&StateKey::Row("orders".into(), key(2))).unwrap();
    assert_eq!(entry.versions, 1, "a first insert: one write, one entry");
    let stored = entry.row().unwrap().clone();
    assert!(stored.row.verify(), "the row's signature stands on its own");
    assert_eq!(stored.hash(), page.rows[1].1);

    let a = &f.alice;
    commit(
        &mut ledger,
        vec![
            tx(&f, a, 4, row(&f, a, RowOp::Update, values(2, "fig", 310))),
            tx(&f, a, 5, row(&f, a, RowOp::Delete, vec![Value::U64(1), Value::Null, Value::Null, Value::Null])),
        ],
    );
    let page = scan(&ledger, &everything(), 10).unwrap();
    assert_eq!(page.rows.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), vec![key(2), key(3)]);
    let one: RowEntry = ledger.state(&StateKey::Row("orders".into(), key(1))).unwrap();
    assert!(one.row().is_none(), "deleted: the delete is the key's latest write");
    assert_eq!((one.versions, one.latest.row.body.op), (2, RowOp::Delete));
    let two: RowEntry = ledger.state(&StateKey::Row("orders".into(), key(2))).unwrap();
    assert_eq!(two.versions, 2);
    let first: StoredRow = ledger.state(&StateKey::RowVersion("orders".into(), key(2), 0)).unwrap();
    assert_eq!((first.written, two.latest.written), (Height(1), Height(2)));
    assert_eq!(two.latest.row.body.values[2], Value::Decimal(310));
    assert_eq!(first.row.body.values[2], Value::Decimal(300), "the write before, in the key's history");
    let root: TableRoot = ledger.state(&StateKey::TableRoot("orders".into())).unwrap();
    assert_eq!(root.rows, 2);

    // Inserted again after its delete: the key's history keeps all three writes, and a
    // restored ledger rebuilds the same map (the delete's entry is no row).
    let with_deleted = with_state(&f, &ledger, vec![]).unwrap();
    assert_eq!(scan(&with_deleted, &everything(), 10).unwrap(), scan(&ledger, &everything(), 10).unwrap());
    commit(&mut ledger, vec![tx(&f, a, 6, row(&f, a, RowOp::Insert, values(1, "plum", 80)))]);
    let one: RowEntry = ledger.state(&StateKey::Row("orders".into(), key(1))).unwrap();
    assert_eq!((one.versions, one.row().map(|r| r.written)), (3, Some(Height(3))));
    let ops: Vec<RowOp> = (0..2)
        .map(|n| ledger.state::<StoredRow>(&StateKey::RowVersion("orders".into(), key(1), n)).unwrap().row.body.op)
        .collect();
    assert_eq!(ops, [RowOp::Insert, RowOp::Delete]);
}

#[test]
fn a_page_with_a_row_left_out_added_or_moved_is_refused() {
    let f = fixture();
    let ledger = with_table(&f, WritePolicy::Owner);
    let view = ledger.view();
    let root: TableRoot = view.state(&StateKey::TableRoot("orders".into())).unwrap();
    let range = everything();
    let (rows, _, proof) = view.table_map("orders").unwrap().scan(&range, 10);
    let mut left_out = rows.clone();
    left_out.remove(1);
    assert!(verify_page(&root.root, &range, 10, left_out, &proof).is_err());
    let mut added = rows.clone();
    added.push((key(9), Hash32([9; 32])));
    assert!(verify_page(&root.root, &range, 10, added, &proof).is_err());
    let mut moved = rows.clone();
    moved.swap(0, 1);
    assert!(verify_page(&root.root, &range, 10, moved, &proof).is_err());
    assert!(verify_page(&root.root, &range, 10, rows, &proof).is_ok());
}

/// `payload` sent by `key` is refused at admission with `expected`, and a block holding
/// it is invalid: nothing changes.
fn refused(f: &Fixture, ledger: &Ledger, key: &SecretKey, payload: Payload, expected: Rejection) {
    let nonce = ledger.account(&Address::from_public_key(&key.public_key())).nonce.0;
    let signed = tx(f, key, nonce, payload);
    assert_eq!(admit(&signed.tx.payload, ledger, &key.public_key()), Err(expected.clone()), "{expected}");
    let root = ledger.state_root().unwrap();
    assert!(matches!(ledger.execute(&[signed]), Err(ExecuteError::Tx { index: 0, why: TxInvalid::Table(_) })));
    assert_eq!(ledger.state_root().unwrap(), root);
}

#[test]
fn every_bad_write_is_refused_with_its_rule_and_changes_nothing() {
    let f = fixture();
    let ledger = with_table(&f, WritePolicy::Owner);
    let a = &f.alice;
    let unknown = RowBody {
        chain: f.genesis.chain_id.clone(),
        table: "nope".into(),
        op: RowOp::Insert,
        values: values(5, "x", 1),
    };
    refused(
        &f,
        &ledger,
        a,
        Payload::WriteRow(Box::new(unknown.clone().sign(a))),
        Rejection::UnknownTable("nope".into()),
    );
    let mut wrong_type = values(5, "x", 1);
    wrong_type[1] = Value::U64(5);
    let invalid = |why: &str| Rejection::InvalidRow(why.into());
    refused(
        &f,
        &ledger,
        a,
        row(&f, a, RowOp::Insert, wrong_type),
        invalid("column `item`: a string value is expected"),
    );
    refused(
        &f,
        &ledger,
        a,
        row(&f, a, RowOp::Insert, values(5, "too long!", 1)),
        invalid("column `item`: at most 8 long"),
    );
    refused(
        &f,
        &ledger,
        a,
        row(&f, a, RowOp::Insert, values(5, "x", -1)),
        invalid("column `price`: outside its range"),
    );
    refused(
        &f,
        &ledger,
        a,
        row(&f, a, RowOp::Insert, values(5, "x", 1)[..3].to_vec()),
        invalid("the table has 4 columns; the row gives 3 values"),
    );
    let mut oversize = values(5, "x", 1);
    oversize[3] = Value::Bytes(vec![0; 9000]);
    refused(&f, &ledger, a, row(&f, a, RowOp::Insert, oversize), invalid("column `note`: at most 4096 long"));
    refused(&f, &ledger, a, row(&f, a, RowOp::Insert, values(1, "dup", 1)), Rejection::DuplicateKey);
    refused(&f, &ledger, a, row(&f, a, RowOp::Update, values(7, "x", 1)), Rejection::MissingRow);
    let delete_missing = vec![Value::U64(7), Value::Null, Value::Null, Value::Null];
    refused(&f, &ledger, a, row(&f, a, RowOp::Delete, delete_missing), Rejection::MissingRow);
}

#[test]
fn a_row_over_the_row_bound_is_refused_though_each_value_fits_its_column() {
    let f = fixture();
    let mut ledger = Ledger::genesis(&f.genesis).unwrap();
    let a = &f.alice;
    let blob = |name: &str| Column { max_len: Some(4096), ..col(name, ColumnType::Bytes) };
    let blobs = TableSchema {
        name: "blobs".into(),
        columns: vec![col("id", ColumnType::U64), blob("a"), blob("b"), blob("c")],
        primary_key: vec![0],
        policy: WritePolicy::Owner,
    };
    commit(&mut ledger, vec![tx(&f, a, 0, Payload::CreateTable(Box::new(CreateTable { schema: blobs })))]);
    let big = Value::Bytes(vec![7; 3000]);
    let body = RowBody {
        chain: f.genesis.chain_id.clone(),
        table: "blobs".into(),
        op: RowOp::Insert,
        values: vec![Value::U64(1), big.clone(), big.clone(), big],
    };
    let too_big = Payload::WriteRow(Box::new(body.sign(a)));
    refused(&f, &ledger, a, too_big, Rejection::InvalidRow(format!("a row is at most {ROW_BYTES_MAX} bytes")));
}

#[test]
fn another_writer_and_another_chain_are_refused_and_change_nothing() {
    let f = fixture();
    let ledger = with_table(&f, WritePolicy::Owner);
    let a = &f.alice;
    let invalid = |why: &str| Rejection::InvalidRow(why.into());
    let ok = RowBody {
        chain: f.genesis.chain_id.clone(),
        table: "orders".into(),
        op: RowOp::Insert,
        values: values(5, "x", 1),
    };
    // A row signed by Carol, submitted by Alice; and Carol writing Alice's table.
    let carol = SecretKey::from_seed([60; 32]);
    refused(&f, &ledger, a, Payload::WriteRow(Box::new(ok.clone().sign(&carol))), Rejection::NotTheWriter);
    let mut funded = ledger.clone();
    let carol_address = Address::from_public_key(&carol.public_key());
    commit(&mut funded, vec![tx(&f, a, 4, Payload::Transfer(Transfer { to: carol_address, amount: Amount(50) }))]);
    refused(
        &f,
        &funded,
        &carol,
        Payload::WriteRow(Box::new(ok.clone().sign(&carol))),
        Rejection::WriteRefused("only the table's owner writes its rows".into()),
    );
    // A row for another chain.
    let mut other_chain = ok.clone();
    other_chain.chain = ChainId::new("elsewhere").unwrap();
    refused(
        &f,
        &ledger,
        a,
        Payload::WriteRow(Box::new(other_chain.sign(a))),
        invalid("the row is signed for chain `elsewhere`"),
    );
}

#[test]
fn a_row_whose_signature_does_not_verify_is_not_a_validly_signed_transaction() {
    let f = fixture();
    let body = RowBody {
        chain: f.genesis.chain_id.clone(),
        table: "orders".into(),
        op: RowOp::Insert,
        values: values(5, "x", 1),
    };
    let mut signed_row = body.sign(&f.alice);
    signed_row.body.values[1] = Value::String("y".into());
    let signed = tx(&f, &f.alice, 0, Payload::WriteRow(Box::new(signed_row)));
    assert_eq!(signed.verify(), Err(TransactionError::BadRowSignature));
    assert!(!verify_transactions(&[&signed]), "a block holding it does not verify");
}

#[test]
fn bad_schemas_and_changes_are_refused_and_a_new_version_keeps_old_rows_readable() {
    let f = fixture();
    let mut ledger = with_table(&f, WritePolicy::Owner);
    let a = &f.alice;
    let again = create(WritePolicy::Owner);
    refused(
        &f,
        &ledger,
        a,
        again,
        Rejection::InvalidTable("a table named `orders` exists already; choose another name".into()),
    );
    let mut no_key = schema(WritePolicy::Owner);
    no_key.name = "other".into();
    no_key.primary_key = vec![];
    let invalid = Rejection::InvalidTable("the primary key is 1 to 4 distinct columns of the table".into());
    refused(&f, &ledger, a, Payload::CreateTable(Box::new(CreateTable { schema: no_key })), invalid);

    let mut next = schema(WritePolicy::Owner);
    next.columns.push(Column { nullable: true, ..col("tag", ColumnType::String) });
    let mut not_nullable = next.clone();
    not_nullable.columns[4].nullable = false;
    let evolution = Rejection::InvalidTable("a new version may only add nullable columns at the end".into());
    refused(&f, &ledger, a, Payload::AlterTable(Box::new(AlterTable { schema: not_nullable })), evolution);
    commit(&mut ledger, vec![tx(&f, a, 4, Payload::AlterTable(Box::new(AlterTable { schema: next })))]);
    let record: TableRecord = ledger.state(&StateKey::Table("orders".into())).unwrap();
    assert_eq!(record.versions.len(), 2);
    let old: RowEntry = ledger.state(&StateKey::Row("orders".into(), key(1))).unwrap();
    assert_eq!(record.read(&old.latest.row.body.values)[4], Value::Null, "an old row reads the new column as null");
    // A write under the new version needs the new width; an old-width one names it.
    refused(
        &f,
        &ledger,
        a,
        row(&f, a, RowOp::Insert, values(8, "x", 1)),
        Rejection::InvalidRow("the table has 5 columns; the row gives 4 values".into()),
    );
    let mut wide = values(8, "kiwi", 1);
    wide.push(Value::String("fresh".into()));
    commit(&mut ledger, vec![tx(&f, a, 5, row(&f, a, RowOp::Insert, wide))]);
    assert_eq!(scan(&ledger, &everything(), 10).unwrap().rows.len(), 4);
}

#[test]
fn a_listed_policy_admits_its_accounts_and_the_owner_only() {
    let f = fixture();
    let carol = SecretKey::from_seed([60; 32]);
    let dave = SecretKey::from_seed([61; 32]);
    let listed = WritePolicy::Listed(vec![Address::from_public_key(&carol.public_key())]);
    let mut ledger = with_table(&f, listed);
    let a = &f.alice;
    let fund = |to: &SecretKey, nonce| {
        tx(
            &f,
            a,
            nonce,
            Payload::Transfer(Transfer { to: Address::from_public_key(&to.public_key()), amount: Amount(50) }),
        )
    };
    commit(&mut ledger, vec![fund(&carol, 4), fund(&dave, 5)]);
    commit(&mut ledger, vec![tx(&f, &carol, 0, row(&f, &carol, RowOp::Insert, values(20, "plum", 5)))]);
    let dave_address = Address::from_public_key(&dave.public_key());
    refused(
        &f,
        &ledger,
        &dave,
        row(&f, &dave, RowOp::Insert, values(21, "plum", 5)),
        Rejection::WriteRefused(format!("account {dave_address} is not among the table's writers")),
    );
}

/// `ledger`'s state with `changes` written on top as the next height (what a chain that
/// issued, froze or revoked a certificate holds), as a node restores it.
fn with_state(f: &Fixture, ledger: &Ledger, changes: Vec<(StateKey, Option<Vec<u8>>)>) -> Result<Ledger, LedgerError> {
    let (mut meta, records) = ledger.snapshot();
    let mut tree = StateTree::restore(meta.height.0, records.values).unwrap();
    meta.height = meta.height.next();
    tree.apply(meta.height.0, changes).unwrap();
    Ledger::restore(&f.genesis, meta, tree)
}

fn certificate(holder: &SecretKey, kind: CertKind) -> Vec<(StateKey, Option<Vec<u8>>)> {
    let serial = [0x41; 16];
    let record = CertificateRecord {
        serial,
        der: vec![],
        subject: Subject { common_name: "carol".into(), organization: None },
        subject_key: holder.public_key(),
        not_after_s: u64::MAX,
        request: 0,
        approvers: vec![],
        approved: Height(1),
        issued: Height(1),
    };
    vec![
        (StateKey::CertificatesOf(holder.public_key()), Some(to_bytes(&vec![serial]))),
        (StateKey::Certificate(serial), Some(to_bytes(&CertAccount { kind, record, changes: vec![] }))),
    ]
}

#[test]
fn a_certificate_policy_takes_a_valid_certificate_and_refuses_a_frozen_or_revoked_one() {
    let f = fixture();
    let carol = SecretKey::from_seed([60; 32]);
    let mut ledger = Ledger::genesis(&f.genesis).unwrap();
    let a = &f.alice;
    let fund = Payload::Transfer(Transfer { to: Address::from_public_key(&carol.public_key()), amount: Amount(50) });
    // The owner too writes only with a certificate: the table starts empty.
    commit(&mut ledger, vec![tx(&f, a, 0, create(WritePolicy::CertificateHolder)), tx(&f, a, 1, fund)]);
    let write = || row(&f, &carol, RowOp::Insert, values(30, "plum", 5));
    let refusal = |what: &str| {
        Rejection::WriteRefused(format!(
            "the writer's certificate is {what}: a table that needs a certificate takes rows only from a valid one"
        ))
    };
    refused(
        &f,
        &ledger,
        &carol,
        write(),
        Rejection::WriteRefused("the table takes rows only from keys holding a certificate of this chain's authentication centers; request one first".into()),
    );
    refused(
        &f,
        &with_state(&f, &ledger, certificate(&carol, CertKind::Revoked)).unwrap(),
        &carol,
        write(),
        refusal("revoked"),
    );
    refused(
        &f,
        &with_state(&f, &ledger, certificate(&carol, CertKind::Frozen)).unwrap(),
        &carol,
        write(),
        refusal("frozen"),
    );
    let mut valid = with_state(&f, &ledger, certificate(&carol, CertKind::Valid)).unwrap();
    let exec = commit(&mut valid, vec![tx(&f, &carol, 0, write())]);
    assert_eq!(exec.entries[0].status, TxStatus::Success);
}

#[test]
fn a_restored_ledger_rebuilds_each_table_from_its_rows_and_refuses_rows_that_do_not_give_its_root() {
    let f = fixture();
    let ledger = with_table(&f, WritePolicy::Owner);
    let restored = with_state(&f, &ledger, vec![]).unwrap();
    let (ours, theirs) = (ledger.view(), restored.view());
    assert_eq!(ours.table_map("orders").unwrap().root(), theirs.table_map("orders").unwrap().root());
    assert_eq!(scan(&restored, &everything(), 2).unwrap(), scan(&ledger, &everything(), 2).unwrap(), "same pages");

    // A row leaf changed behind the root's back: the ledger does not start on it.
    let mut forged: RowEntry = ledger.state(&StateKey::Row("orders".into(), key(2))).unwrap();
    forged.latest.written = Height(9);
    let changed = vec![(StateKey::Row("orders".into(), key(2)), Some(to_bytes(&forged)))];
    assert!(matches!(with_state(&f, &ledger, changed), Err(LedgerError::StoredStateMismatch(_))));
    // A row at another key than its own is not a row of the table: the rebuilt root is
    // the stored one, and the stray value is served as nothing but state.
    let stray = vec![(StateKey::RowVersion("orders".into(), key(2), 7), Some(to_bytes(&forged)))];
    assert!(with_state(&f, &ledger, stray).is_ok());
}
