//! Generates a table scan's answer natively — a state holding a table and its rows, a
//! header certified by 3 of 4 validators, the page's range proof — and checks the
//! committed copy (`tests/vectors/scan.json`) is current (golden file). The wasm test in
//! `wasm.rs` verifies the same answer in headless Chromium, and refuses it with a row
//! removed, added or moved.
#![cfg(not(target_arch = "wasm32"))]

use std::ops::Bound;

use serde_json::json;
use vigil_api::{Hex, ProvenEntry, ProvenStates, ScanAnswer, ScanRequest};
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::tables::ordered::OrderedMap;
use vigil_protocol::tables::*;
use vigil_protocol::*;

const TABLE: &str = "fruit";
const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/scan.json");

fn seed(i: u8) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[0] = i;
    s[31] = 0x7b;
    s
}

fn generate() -> serde_json::Value {
    let chain = ChainId::new("vigil-vectors").unwrap();
    let keys: Vec<SecretKey> = (1..=4).map(|i| SecretKey::from_seed(seed(i))).collect();
    let set = ValidatorSet::new(
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                ValidatorInfo::new(format!("org-{i}"), k.public_key(), EncryptionKey([1; 32]), P2pKey([2; 32]))
            })
            .collect(),
    )
    .unwrap();
    let writer = SecretKey::from_seed(seed(50));
    let col = |name: &str, ty| Column { name: name.into(), ty, nullable: false, max_len: None, min: None, max: None };
    let schema = TableSchema {
        name: TABLE.into(),
        columns: vec![col("id", ColumnType::U64), col("name", ColumnType::String)],
        primary_key: vec![0],
        policy: WritePolicy::Owner,
    };
    let record = TableRecord {
        owner: Address::from_public_key(&writer.public_key()),
        versions: vec![schema.clone()],
        created: Height(1),
        deposit: Amount(500),
    };
    let mut map = OrderedMap::default();
    let mut changes = vec![(StateKey::Table(TABLE.into()), Some(to_bytes(&record)))];
    let mut stored = Vec::new();
    for (id, name) in [(4u64, "pear"), (1, "apple"), (9, "quince"), (2, "fig"), (7, "lime"), (5, "plum")] {
        let values = vec![Value::U64(id), Value::String(name.into())];
        let body = RowBody { chain: chain.clone(), table: TABLE.into(), op: RowOp::Insert, values: values.clone() };
        let row = StoredRow { row: body.sign(&writer), written: Height(2) };
        let key = key_of(&schema, &values).unwrap();
        map.insert(&key, row.hash());
        let entry = RowEntry { latest: row.clone(), versions: 1 };
        changes.push((StateKey::Row(TABLE.into(), key.clone()), Some(to_bytes(&entry))));
        stored.push((key, row));
    }
    let root = TableRoot { root: map.root(), rows: map.len() as u64 };
    changes.push((StateKey::TableRoot(TABLE.into()), Some(to_bytes(&root))));
    let mut state = StateTree::new();
    let state_root = state.apply(0, changes).unwrap();

    let header = BlockHeader {
        chain_id: chain.clone(),
        height: Height(3),
        view: View(0),
        parent_hash: Hash32([0x11; 32]),
        tx_root: Block::tx_root(&[]),
        receipts_root: Block::receipts_root(&[]),
        state_root,
        validator_set_hash: set.hash(),
        next_validator_set_hash: set.hash(),
        mode: ConsensusMode::Bft,
        proposer: set.validators()[0].id,
        time_ms: 1_790_000_000_000,
    };
    let data = VoteData {
        chain_id: chain,
        height: header.height,
        view: header.view,
        block_hash: header.hash(),
        kind: VoteKind::Precommit,
    };
    let key_for = |id: NodeId| keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == id).unwrap();
    let votes: Vec<Vote> = set.validators()[..3].iter().map(|v| data.sign(v.id, key_for(v.id))).collect();
    let cert = QuorumCert::from_votes(data, &votes, &set).unwrap();
    let certified = CertifiedHeader { header, cert };

    // Rows from id 2 on, 4 at most: a full page, proven up to its last row (id 7).
    let range = KeyRange { from: Bound::Included(2u64.to_be_bytes().to_vec()), to: Bound::Unbounded };
    let (rows, _, proof) = map.scan(&range, 4);
    let entries = [StateKey::Table(TABLE.into()), StateKey::TableRoot(TABLE.into())]
        .iter()
        .map(|k| {
            let (value, proof) = state.get_with_proof(k, 0).unwrap();
            ProvenEntry { state_key_bcs: Hex(to_bytes(k)), value_bcs: value.map(Hex), proof_bcs: Hex(to_bytes(&proof)) }
        })
        .collect();
    let rows_bcs =
        rows.iter().map(|(k, _)| Hex(to_bytes(&stored.iter().find(|(key, _)| key == k).unwrap().1))).collect();
    let answer = ScanAnswer {
        proven: ProvenStates { height: Height(3), entries, certified_header_bcs: Some(Hex(to_bytes(&certified))) },
        rows_bcs,
        proof_bcs: Hex(to_bytes(&proof)),
    };
    json!({
        "chain_id": "vigil-vectors",
        "validator_set_hex": hex::encode(to_bytes(&set)),
        "validator_set_hash_hex": set.hash().to_string(),
        "table": TABLE,
        "request": ScanRequest::new(&range, 4),
        "answer": answer,
    })
}

#[test]
fn the_committed_scan_vector_is_what_native_code_produces() {
    let fresh = generate();
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(PATH, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
        return;
    }
    let committed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    assert_eq!(committed, fresh, "the scan's encoding changed: rerun with UPDATE_VECTORS=1 if that is intended");
}
