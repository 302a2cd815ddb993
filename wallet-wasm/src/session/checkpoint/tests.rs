use serde_json::{json, Value};
use vigil_api::{BlockProof, CheckpointProof, ValidatorsProof};
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{
    CheckpointDigest, ConsensusMode, Hash32, Height, SecretKey, SetChange, StableCheckpoint, ValidatorSet,
};

use super::*;
use crate::client::tests::{block_on, forwarded, Script};
use crate::light::tests::{certify, fixture, header};
use crate::light::{PinKind, Start, CHECKPOINT_AGE_MAX_BLOCKS};
use crate::session::tests::session;

const AT: u64 = 128;

fn checkpoint(set: &ValidatorSet, keys: &[SecretKey], signers: usize, state_root: u8) -> StableCheckpoint {
    let digest = CheckpointDigest {
        chain_id: vigil_protocol::ChainId::new("vigil-test").unwrap(),
        height: Height(AT),
        block_hash: Hash32([1; 32]),
        state_root: Hash32([state_root; 32]),
        chunk_root: Hash32([3; 32]),
        chunk_count: 1,
        next_validator_set_hash: set.hash(),
        next_mode: ConsensusMode::Bft,
    };
    crate::light::checkpoint::tests::signed(&digest, set, keys, signers)
}

fn served(stable: &StableCheckpoint, set: &ValidatorSet) -> Value {
    serde_json::to_value(CheckpointProof {
        checkpoint_bcs: to_bytes(stable).into(),
        validators_bcs: to_bytes(set).into(),
    })
    .unwrap()
}

fn validators(set: &ValidatorSet, changes: &[SetChange]) -> Value {
    serde_json::to_value(ValidatorsProof {
        height: Height(AT),
        validators_bcs: to_bytes(set).into(),
        changes_bcs: to_bytes(&changes.to_vec()).into(),
    })
    .unwrap()
}

/// A node's newest height and its certified header at it.
fn newest(set: &ValidatorSet, keys: &[SecretKey], height: u64) -> [Value; 2] {
    let certified = certify(set, keys, header(set, height, Hash32([9; 32]), set), 3);
    let block =
        BlockProof { tx_hashes: vec![], certified_header_bcs: to_bytes(&certified).into(), justification_bcs: None };
    [json!({ "height": height }), serde_json::to_value(block).unwrap()]
}

fn not_found() -> Value {
    json!({ "error": { "code": "NOT_FOUND", "message": "no stable checkpoint yet" } })
}

#[test]
fn the_session_starts_from_the_pinned_checkpoint_and_bounds_its_age() {
    let (set, keys, _) = fixture();
    let stable = checkpoint(&set, &keys, 3, 2);
    let script = Script::default();
    let mut s = session(&script);
    let nodes = s.nodes();
    let [status, block] = newest(&set, &keys, AT + 40);
    script.answers.borrow_mut().extend([
        // The first node has no checkpoint yet; the second serves it.
        forwarded(&nodes[0], 404, &not_found()),
        forwarded(&nodes[1], 200, &served(&stable, &set)),
        forwarded(&nodes[0], 200, &validators(&set, &[])),
        // Another node than the one that served it proves the newest height.
        forwarded(&nodes[0], 200, &status),
        forwarded(&nodes[0], 200, &block),
    ]);
    let start = block_on(s.start_from_checkpoint(&CheckpointPin::Hash(stable.digest.hash()), 64)).unwrap();
    assert!(script.answers.borrow().is_empty());
    assert_eq!((start.height, start.digest_hash, start.pin), (Height(AT), stable.digest.hash(), PinKind::Hash));
    assert_eq!((start.newest_height, start.age_blocks), (Height(AT + 40), 40));
    assert_eq!(s.light.start(), &Start::Checkpoint(start));
    assert_eq!(s.light.first_height(), Height(AT));
}

#[test]
fn a_checkpoint_too_far_behind_the_newest_header_is_refused_and_the_session_kept() {
    let (set, keys, _) = fixture();
    let stable = checkpoint(&set, &keys, 3, 2);
    let script = Script::default();
    let mut s = session(&script);
    let nodes = s.nodes();
    let max = CHECKPOINT_AGE_MAX_BLOCKS;
    let [status, block] = newest(&set, &keys, AT + max + 1);
    script.answers.borrow_mut().extend([
        forwarded(&nodes[0], 200, &served(&stable, &set)),
        // The set changes up to it (none), then the changes after it.
        forwarded(&nodes[0], 200, &validators(&set, &[])),
        forwarded(&nodes[0], 200, &validators(&set, &[])),
        forwarded(&nodes[1], 200, &status),
        forwarded(&nodes[1], 200, &block),
    ]);
    let refused = block_on(s.start_from_checkpoint(&CheckpointPin::Set(set.clone()), max)).unwrap_err();
    assert_eq!(
        refused,
        WalletError::Light(LightError::CheckpointTooOld {
            height: Height(AT),
            newest: Height(AT + max + 1),
            age: max + 1,
            max
        })
    );
    assert_eq!(refused.code(), "CHECKPOINT_TOO_OLD");
    assert!(refused.to_string().contains("start from a newer checkpoint or from the genesis set"), "{refused}");
    assert!(matches!(s.light.start(), Start::Genesis { .. }), "the session keeps the client it had");
    assert_eq!(s.light.first_height(), Height(1));
}

/// A node serving a forged checkpoint cannot stop the start: the next one is asked.
/// When every node serves one that does not verify, the first refusal is the error.
#[test]
fn a_forged_checkpoint_is_passed_over_and_a_wrong_pin_refused_by_every_node() {
    let (set, keys, _) = fixture();
    let good = checkpoint(&set, &keys, 3, 2);
    let mut forged = good.clone();
    forged.signatures[0] = forged.signatures[1];
    let few = checkpoint(&set, &keys, 2, 2);
    let script = Script::default();
    let mut s = session(&script);
    let nodes = s.nodes();
    let [status, block] = newest(&set, &keys, AT + 3);
    script.answers.borrow_mut().extend([
        forwarded(&nodes[0], 200, &served(&forged, &set)),
        forwarded(&nodes[1], 200, &served(&few, &set)),
        forwarded(&nodes[2], 200, &served(&good, &set)),
        forwarded(&nodes[0], 200, &validators(&set, &[])),
        forwarded(&nodes[0], 200, &status),
        forwarded(&nodes[0], 200, &block),
    ]);
    let start = block_on(s.start_from_checkpoint(&CheckpointPin::Hash(good.digest.hash()), 64)).unwrap();
    assert_eq!(start.age_blocks, 3);

    let script = Script::default();
    let mut s = session(&script);
    let pinned = Hash32([0xee; 32]);
    script.answers.borrow_mut().extend(nodes.iter().map(|n| forwarded(n, 200, &served(&good, &set))));
    let refused = block_on(s.start_from_checkpoint(&CheckpointPin::Hash(pinned), 64)).unwrap_err();
    assert_eq!(refused.code(), "PINNED_HASH_MISMATCH");
    assert_eq!(script.requests.borrow().len(), 4, "every node was asked for the pinned one");

    let script = Script::default();
    let mut s = session(&script);
    script.answers.borrow_mut().extend(nodes.iter().map(|n| forwarded(n, 200, &served(&few, &set))));
    let refused = block_on(s.start_from_checkpoint(&CheckpointPin::Hash(few.digest.hash()), 64)).unwrap_err();
    assert_eq!(refused.code(), "BAD_CHECKPOINT");
    assert!(matches!(s.light.start(), Start::Genesis { .. }));
}

#[test]
fn no_checkpoint_yet_is_its_own_error() {
    let script = Script::default();
    let mut s = session(&script);
    let nodes = s.nodes();
    script.answers.borrow_mut().extend(nodes.iter().map(|n| forwarded(n, 404, &not_found())));
    let refused = block_on(s.start_from_checkpoint(&CheckpointPin::Hash(Hash32([1; 32])), 64)).unwrap_err();
    assert_eq!(refused, WalletError::NoCheckpoint);
    assert_eq!(refused.code(), "NO_CHECKPOINT");
}

/// A node no gateway routes to (jailed since genesis) is not asked for the checkpoint.
#[test]
fn a_node_no_gateway_routes_to_is_not_asked() {
    let (set, keys, _) = fixture();
    let good = checkpoint(&set, &keys, 3, 2);
    let script = Script::default();
    let mut s = session(&script);
    let nodes = s.nodes();
    for gateway in [0, 1] {
        s.gateway_routes(gateway, &nodes[1..]);
    }
    script.answers.borrow_mut().extend(nodes[1..].iter().map(|n| forwarded(n, 200, &served(&good, &set))));
    let refused = block_on(s.start_from_checkpoint(&CheckpointPin::Hash(Hash32([0xee; 32])), 64)).unwrap_err();
    assert_eq!(refused.code(), "PINNED_HASH_MISMATCH");
    let asked: Vec<String> = script
        .requests
        .borrow()
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["target"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(asked, nodes[1..].iter().map(ToString::to_string).collect::<Vec<_>>());
}
