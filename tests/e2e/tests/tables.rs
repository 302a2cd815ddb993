//! Issue 19 on a real devnet: a table created from a schema, signed rows written through
//! the wallet (checked against the proven schema before signing) and straight to a node
//! (checked there): every bad input refused with its code and nothing changed; pages of
//! a scan proven complete, and a page with a row removed, added or moved refused; a
//! key's history; a schema change that keeps old rows readable; rows that survive a
//! `kill -9` and restart, and a node restored from its peers' snapshot serving the same
//! scan proofs as the others.

use std::ops::Bound;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value as Json};
use vigil_api::{ErrorBody, ErrorCode, ScanAnswer, ScanRequest};
use vigil_e2e::{Native, TestNet};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::tables::*;
use vigil_protocol::{Address, Amount, ChainId, ConsensusMode, Nonce, Payload, SecretKey, Transaction};
use vigil_wallet::session::tables::{verify_scan_answer, ScanBounds};
use vigil_wallet::session::Session;

const TABLE: &str = "orders";
/// Blocks between checkpoints on this test's chain, so a snapshot holds the table soon.
const INTERVAL: u64 = 16;

fn schema() -> TableSchema {
    let col = |name: &str, ty| Column { name: name.into(), ty, nullable: false, max_len: None, min: None, max: None };
    TableSchema {
        name: TABLE.into(),
        columns: vec![
            col("id", ColumnType::U64),
            Column { max_len: Some(16), ..col("sku", ColumnType::String) },
            Column { min: Some(0), max: Some(1000), ..col("qty", ColumnType::I64) },
            Column { min: Some(0), ..col("price", ColumnType::Decimal { scale: 2 }) },
            col("at", ColumnType::Timestamp),
            Column { nullable: true, max_len: Some(64), ..col("note", ColumnType::Bytes) },
        ],
        primary_key: vec![0],
        policy: WritePolicy::Owner,
    }
}

fn order(id: u64) -> Map<String, Json> {
    let o = json!({ "id": id, "sku": format!("sku-{id}"), "qty": id % 7, "price": format!("{id}.25"), "at": 1_700_000_000_000u64 + id });
    o.as_object().cloned().unwrap_or_default()
}

fn with(mut o: Map<String, Json>, column: &str, value: Json) -> Map<String, Json> {
    o.insert(column.into(), value);
    o
}

/// `payload` signed by `key` with its next nonce, sent to node 0 as is: the node's code.
async fn node_refusal(
    net: &TestNet,
    s: &mut Session<Native>,
    key: &SecretKey,
    payload: Payload,
) -> anyhow::Result<ErrorCode> {
    let nonce = s.account(&Address::from_public_key(&key.public_key())).await?.nonce;
    let fee = vigil_core::capability::fee_min(&payload);
    let tx = Transaction {
        chain_id: ChainId::new("vigil-e2e")?,
        sender: key.public_key(),
        nonce: Nonce(nonce),
        fee: Amount(fee),
        payload,
    }
    .sign(key);
    post_raw(net, to_bytes(&tx)).await
}

async fn post_raw(net: &TestNet, body: Vec<u8>) -> anyhow::Result<ErrorCode> {
    let r = net
        .http
        .post(net.url(0, "/v1/tx"))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    let error: ErrorBody = r.json().await?;
    anyhow::ensure!(status == error.error.code.status(), "{status} for {:?}", error.error.code);
    Ok(error.error.code)
}

fn row(chain: &ChainId, key: &SecretKey, op: RowOp, values: Vec<Value>) -> Payload {
    Payload::WriteRow(Box::new(RowBody { chain: chain.clone(), table: TABLE.into(), op, values }.sign(key)))
}

fn values(id: u64, qty: i64) -> Vec<Value> {
    vec![
        Value::U64(id),
        Value::String("x".into()),
        Value::I64(qty),
        Value::Decimal(100),
        Value::Timestamp(1),
        Value::Null,
    ]
}

/// Node `node`'s scan answer for the whole table, `limit` rows.
async fn scan_answer(net: &TestNet, node: usize, limit: u32) -> anyhow::Result<(ScanRequest, ScanAnswer)> {
    let request = ScanRequest::new(&KeyRange { from: Bound::Unbounded, to: Bound::Unbounded }, limit);
    let r = net.http.post(net.url(node, &format!("/v1/tables/{TABLE}/scan"))).json(&request).send().await?;
    anyhow::ensure!(r.status() == 200, "node {node} answered {}", r.status());
    Ok((request, r.json().await?))
}

/// Node `node`'s answer and node 0's at one height: the same rows and the same proof.
async fn same_scan_as_node_0(net: &TestNet, node: usize) -> anyhow::Result<ScanAnswer> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // A node just started may not listen yet, or not hold the table yet.
        let (Ok((_, ours)), (_, theirs)) = (scan_answer(net, node, 100).await, scan_answer(net, 0, 100).await?) else {
            anyhow::ensure!(Instant::now() < deadline, "node {node} does not serve the table");
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if ours.proven.height == theirs.proven.height {
            assert_eq!(ours.rows_bcs, theirs.rows_bcs, "node {node}: the same rows");
            assert_eq!(ours.proof_bcs, theirs.proof_bcs, "node {node}: the same range proof");
            assert_eq!(ours.proven.entries[1].value_bcs, theirs.proven.entries[1].value_bcs, "the same root");
            return Ok(ours);
        }
        anyhow::ensure!(Instant::now() < deadline, "node {node} never at node 0's height");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_on_a_real_devnet_refuse_bad_input_prove_scans_and_survive_restarts_and_restores() -> anyhow::Result<()>
{
    let mut net = TestNet::start_configured(4, 0, ConsensusMode::Fast, Vec::new(), |d| {
        let mut g: Json = serde_json::from_slice(&std::fs::read(&d.genesis)?)?;
        g["checkpoints"] = json!({ "interval": INTERVAL, "chunk_bytes": 64 * 1024 });
        std::fs::write(&d.genesis, serde_json::to_vec_pretty(&g)?)?;
        Ok(())
    })
    .await?;
    let http = net.gateway_client()?;
    net.wait_for_gateway(&http, Duration::from_secs(30)).await?;
    let mut s = net.wallet_session(&http)?;
    let chain = ChainId::new("vigil-e2e")?;
    let owner = net.devnet.faucet()?;

    s.create_table(&owner, schema()).await?;
    for id in (1..=20).rev() {
        s.write_row(&owner, TABLE, RowOp::Insert, &order(id)).await?;
    }
    let before = s.table(TABLE).await?;
    assert_eq!(before.rows, 20);

    // Every bad input, in the wallet (before anything is signed) and at a node.
    let code = |e: vigil_wallet::session::WalletError| e.code();
    let mut refused = Vec::new();
    for (what, table, op, object) in [
        ("unknown table", "nope", RowOp::Insert, order(30)),
        ("unknown column", TABLE, RowOp::Insert, with(order(30), "colour", json!("red"))),
        ("missing column", TABLE, RowOp::Insert, {
            let mut o = order(30);
            o.remove("sku");
            o
        }),
        ("wrong type", TABLE, RowOp::Insert, with(order(30), "qty", json!("many"))),
        ("constraint", TABLE, RowOp::Insert, with(order(30), "qty", json!(1001))),
        ("too long", TABLE, RowOp::Insert, with(order(30), "note", json!("ab".repeat(65)))),
        ("duplicate key", TABLE, RowOp::Insert, order(3)),
        ("update of a missing row", TABLE, RowOp::Update, order(30)),
        ("delete of a missing row", TABLE, RowOp::Delete, json!({ "id": 30 }).as_object().cloned().unwrap_or_default()),
    ] {
        let e = s.write_row(&owner, table, op, &object).await.expect_err(what);
        refused.push((what, code(e)));
    }
    let expected = [
        "UNKNOWN_TABLE",
        "INVALID_ROW",
        "INVALID_ROW",
        "INVALID_ROW",
        "INVALID_ROW",
        "INVALID_ROW",
        "DUPLICATE_KEY",
        "MISSING_ROW",
        "MISSING_ROW",
    ];
    assert_eq!(refused.iter().map(|(_, c)| c.as_str()).collect::<Vec<_>>(), expected, "{refused:?}");

    let other = SecretKey::from_seed([0x77; 32]);
    s.transfer(&owner, Address::from_public_key(&other.public_key()), 1_000, 1).await?;
    let mut unknown = values(40, 1);
    unknown.truncate(5);
    let Payload::WriteRow(mut forged) = row(&chain, &owner, RowOp::Insert, values(41, 1)) else { unreachable!() };
    forged.body.values[2] = Value::I64(2);
    let oversize = vec![
        Value::U64(42),
        Value::String("x".into()),
        Value::I64(1),
        Value::Decimal(1),
        Value::Timestamp(1),
        Value::Bytes(vec![7; 9000]),
    ];
    let mut wrong_type = values(43, 1);
    wrong_type[3] = Value::U64(1);
    let at_node = [
        (
            &owner,
            Payload::WriteRow(Box::new(
                RowBody { chain: chain.clone(), table: "nope".into(), op: RowOp::Insert, values: values(40, 1) }
                    .sign(&owner),
            )),
            ErrorCode::UnknownTable,
        ),
        (&owner, row(&chain, &owner, RowOp::Insert, unknown), ErrorCode::InvalidRow),
        (&owner, row(&chain, &owner, RowOp::Insert, wrong_type), ErrorCode::InvalidRow),
        (&owner, row(&chain, &owner, RowOp::Insert, values(44, -1)), ErrorCode::InvalidRow),
        (&owner, row(&chain, &owner, RowOp::Insert, oversize), ErrorCode::InvalidRow),
        (&owner, row(&chain, &owner, RowOp::Insert, values(3, 1)), ErrorCode::DuplicateKey),
        (&owner, row(&chain, &owner, RowOp::Update, values(45, 1)), ErrorCode::MissingRow),
        (&owner, row(&chain, &other, RowOp::Insert, values(46, 1)), ErrorCode::NotTheWriter),
        (&owner, Payload::WriteRow(forged), ErrorCode::BadRowSignature),
        (&other, row(&chain, &other, RowOp::Insert, values(47, 1)), ErrorCode::WriteRefused),
    ];
    for (i, (key, payload, expected)) in at_node.into_iter().enumerate() {
        assert_eq!(node_refusal(&net, &mut s, key, payload).await?, expected, "write {i} at the node");
    }
    assert_eq!(post_raw(&net, vec![0xde, 0xad, 0xbe, 0xef]).await?, ErrorCode::Malformed, "garbage bytes");
    // A row over the row bound though each value fits its column: in the wallet and at a node.
    let blob = |name: &str| Column {
        name: name.into(),
        ty: ColumnType::Bytes,
        nullable: false,
        max_len: Some(4096),
        min: None,
        max: None,
    };
    let mut blobs = schema();
    blobs.name = "blobs".into();
    blobs.columns = vec![blobs.columns[0].clone(), blob("a"), blob("b"), blob("c")];
    s.create_table(&owner, blobs).await?;
    let big = json!("ab".repeat(3000));
    let row_over = json!({ "id": 1, "a": big, "b": big, "c": big }).as_object().cloned().unwrap_or_default();
    let e = s.write_row(&owner, "blobs", RowOp::Insert, &row_over).await.expect_err("a row over the bound");
    assert!(e.code() == "INVALID_ROW" && e.to_string().contains("a row is at most 8192 bytes"), "{e}");
    let big = Value::Bytes(vec![0xab; 3000]);
    let body = RowBody {
        chain: chain.clone(),
        table: "blobs".into(),
        op: RowOp::Insert,
        values: vec![Value::U64(1), big.clone(), big.clone(), big],
    };
    assert_eq!(
        node_refusal(&net, &mut s, &owner, Payload::WriteRow(Box::new(body.sign(&owner)))).await?,
        ErrorCode::InvalidRow
    );
    let after = s.table(TABLE).await?;
    assert_eq!((after.rows, &after.root), (20, &before.root), "nothing changed");

    // Pages of 7: every row once, in key order, each page proven complete.
    let mut ids = Vec::new();
    let mut bounds = ScanBounds::default();
    loop {
        let page = s.scan_rows(TABLE, &bounds, 7).await?;
        assert!(page.complete && page.method.contains("range proof"), "{}", page.method);
        ids.extend(page.rows.iter().map(|r| r.values["id"].as_u64().unwrap_or(0)));
        match page.next {
            Some(next) => bounds.after = Some(hex::decode(next)?),
            None => break,
        }
    }
    assert_eq!(ids, (1..=20).collect::<Vec<_>>());
    let five_to_nine = ScanBounds { from: Some(key_only(&order(5))), to: Some(key_only(&order(9))), after: None };
    let page = s.scan_rows(TABLE, &five_to_nine, 50).await?;
    assert_eq!(page.rows.len(), 5, "ids 5 to 9");

    // A node's page with one row removed, one added, two swapped: refused offline.
    let (request, answer) = scan_answer(&net, 1, 10).await?;
    let check =
        |s: &mut Session<Native>, a: ScanAnswer| verify_scan_answer(&mut s.light, TABLE, &request.range(), 10, a);
    assert_eq!(check(&mut s, answer.clone())?.rows.len(), 10);
    let mut removed = answer.clone();
    removed.rows_bcs.remove(4);
    let mut added = answer.clone();
    added.rows_bcs.insert(3, added.rows_bcs[2].clone());
    let mut swapped = answer.clone();
    swapped.rows_bcs.swap(1, 2);
    for (what, tampered) in [("removed", removed), ("added", added), ("swapped", swapped)] {
        let e = check(&mut s, tampered).expect_err(what);
        assert_eq!(e.code(), "BAD_PROOF", "{what}: {e}");
    }

    // A key's history; a deleted row proven absent, its delete in the history.
    s.write_row(&owner, TABLE, RowOp::Update, &with(order(5), "qty", json!(999))).await?;
    s.write_row(&owner, TABLE, RowOp::Delete, &key_only(&order(6))).await?;
    let five = s.get_row(TABLE, &key_only(&order(5))).await?.row.expect("row 5");
    assert_eq!(five.values["qty"], json!(999));
    let history = s.row_history(TABLE, &hex::decode(&five.key)?, None).await?;
    assert_eq!(history.total, 2);
    assert_eq!(history.versions[0].values["qty"], json!(5));
    assert!(s.get_row(TABLE, &key_only(&order(6))).await?.row.is_none(), "proven absent");
    let six = s.row_history(TABLE, &6u64.to_be_bytes(), None).await?;
    assert_eq!(six.versions.iter().map(|v| v.op).collect::<Vec<_>>(), vec![RowOp::Insert, RowOp::Delete]);

    // A new version of the schema: old rows read the new column as null.
    let mut next = schema();
    next.columns.push(Column {
        name: "tag".into(),
        ty: ColumnType::String,
        nullable: true,
        max_len: Some(8),
        min: None,
        max: None,
    });
    s.alter_table(&owner, next).await?;
    s.write_row(&owner, TABLE, RowOp::Insert, &with(order(21), "tag", json!("new"))).await?;
    let old = s.get_row(TABLE, &key_only(&order(1))).await?.row.expect("row 1");
    assert_eq!((old.values["tag"].clone(), old.values["sku"].clone()), (Json::Null, json!("sku-1")));

    // kill -9 and restart: the rows are there, served with the same proofs.
    let exe = vigil_e2e::vigil_bin()?;
    let node2 = net.devnet.nodes[2].clone();
    {
        let (_, child) = &mut net.running.children[2];
        child.kill()?;
        child.wait()?;
    }
    net.running.children[2].1 = net.devnet.spawn_node(&exe, &node2)?;
    let restarted = same_scan_as_node_0(&net, 2).await?;
    assert_eq!(restarted.rows_bcs.len(), 20, "20 rows, one deleted, one added");

    // A node restored from its peers' snapshot serves the same proofs: transfers carry
    // the chain past a checkpoint that holds every row, then node 3 loses its data.
    let written = net.height(0).await?;
    let faucet = net.devnet.faucet()?;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        s.transfer(&faucet, Address([0xa1; 20]), 1, 1).await?;
        let (status, v) = net.get(0, "/v1/checkpoints/latest").await?;
        let stable: Option<vigil_protocol::StableCheckpoint> = (status == 200)
            .then(|| from_bytes(&hex::decode(v["checkpoint_bcs"].as_str().unwrap_or("")).ok()?).ok())
            .flatten();
        if stable.is_some_and(|c| c.digest.height.0 > written) {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "no stable checkpoint past height {written}");
    }
    let node3 = net.devnet.nodes[3].clone();
    {
        let (_, child) = &mut net.running.children[3];
        child.kill()?;
        child.wait()?;
    }
    std::fs::remove_dir_all(node3.config.parent().expect("node dir").join("data"))?;
    net.running.children[3].1 = net.devnet.spawn_node_with(&exe, &node3, &["--recover"])?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok((200, st)) = net.get(3, "/v1/status").await {
            if st["recovering"] == false && st["height"].as_u64().unwrap_or(0) > written {
                break;
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "node 3 did not restore");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = std::fs::read_to_string(net.devnet.dir.join("node-3/node.log"))?;
    assert!(log.contains("recovering from its peers' stable checkpoint"), "restored from a snapshot:\n{log}");
    let restored = same_scan_as_node_0(&net, 3).await?;
    assert_eq!(restored.rows_bcs, restarted.rows_bcs);
    Ok(())
}

/// An order's key columns only.
fn key_only(o: &Map<String, Json>) -> Map<String, Json> {
    o.iter().filter(|(k, _)| *k == "id").map(|(k, v)| (k.clone(), v.clone())).collect()
}
