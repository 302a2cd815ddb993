use vigil_protocol::encoding::to_bytes;
use vigil_protocol::ConsensusMode;
use vigil_protocol::{
    CheckpointDigest, CheckpointError, Domain, NodeId, QcError, SecretKey, SignerBitmap, StableCheckpoint,
};

use super::*;
use crate::light::tests::{certify, fixture, header};

const AT: u64 = 64;

fn chain() -> ChainId {
    ChainId::new("vigil-test").unwrap()
}

fn digest(names: &ValidatorSet, mode: ConsensusMode) -> CheckpointDigest {
    CheckpointDigest {
        chain_id: chain(),
        height: Height(AT),
        block_hash: Hash32([1; 32]),
        state_root: Hash32([2; 32]),
        chunk_root: Hash32([3; 32]),
        chunk_count: 1,
        next_validator_set_hash: names.hash(),
        next_mode: mode,
    }
}

/// `digest` signed by the first `signers` validators of `set`, in set order, without
/// asking for a quorum (so an under-signed one can be made).
pub(crate) fn signed(
    digest: &CheckpointDigest,
    set: &ValidatorSet,
    keys: &[SecretKey],
    signers: usize,
) -> StableCheckpoint {
    let mut bitmap = SignerBitmap::empty(set.len());
    let mut signatures = Vec::new();
    for (i, v) in set.validators().iter().enumerate().take(signers) {
        let key = keys.iter().find(|k| NodeId::from_public_key(&k.public_key()) == v.id).unwrap();
        bitmap.set(i);
        signatures.push(digest.sign(v.id, key).signature);
    }
    StableCheckpoint { digest: digest.clone(), signers: bitmap, signatures }
}

fn by_hash(stable: &StableCheckpoint, set: &ValidatorSet) -> Result<LightClient, LightError> {
    let pin = CheckpointPin::Hash(stable.digest.hash());
    LightClient::from_checkpoint(chain(), &pin, &to_bytes(stable), &to_bytes(set), None)
}

fn start(lc: &LightClient) -> &CheckpointStart {
    match lc.start() {
        Start::Checkpoint(c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_checkpoint_with_the_pinned_hash_starts_the_client_at_its_height() {
    let (set, keys, _) = fixture();
    let named = certify(&set, &keys, header(&set, AT, Hash32([9; 32]), &set), 3);
    let mut d = digest(&set, ConsensusMode::Bft);
    d.block_hash = named.header.hash();
    let stable = signed(&d, &set, &keys, 3);
    let mut lc = by_hash(&stable, &set).unwrap();
    let c = start(&lc);
    assert_eq!((c.height, c.digest_hash, c.pin, c.signers), (Height(AT), stable.digest.hash(), PinKind::Hash, 3));
    assert_eq!(c.pinned_set_hash, None);
    assert_eq!(lc.first_height(), Height(AT));
    assert_eq!(lc.newest_height(), Height(AT));
    assert_eq!(lc.current_set(), &set);
    lc.accept_header(&to_bytes(&certify(&set, &keys, header(&set, AT + 5, Hash32([9; 32]), &set), 3))).unwrap();
    // The block the checkpoint names is accepted by its hash (the chain may not have
    // gone further yet); another block at that height, or any below it, is not.
    let (_, v) = lc.accept_header(&to_bytes(&named)).unwrap();
    assert!(v.method.starts_with(&format!("block {AT} named by stable checkpoint #{AT}")), "{}", v.method);
    assert_eq!(v.signers.len(), 3);
    let other = certify(&set, &keys, header(&set, AT, Hash32([8; 32]), &set), 3);
    assert_eq!(lc.accept_header(&to_bytes(&other)), Err(LightError::NotCheckpointBlock { height: Height(AT) }));
    let below = certify(&set, &keys, header(&set, AT - 1, Hash32([9; 32]), &set), 3);
    assert_eq!(
        lc.accept_header(&to_bytes(&below)),
        Err(LightError::BeforeStart { height: Height(AT - 1), from: Height(AT) })
    );
    // The checkpoint's Bft says no Fast header above it.
    let mut fast = header(&set, AT + 6, Hash32([9; 32]), &set);
    fast.mode = ConsensusMode::Fast;
    let fast = certify(&set, &keys, fast, 3);
    assert!(matches!(lc.accept_header(&to_bytes(&fast)), Err(LightError::ModeRegression { .. })));
    let json = serde_json::to_value(lc.start()).unwrap();
    assert_eq!((json["from"].as_str(), json["pin"].as_str()), (Some("checkpoint"), Some("hash")));
    assert_eq!(json["digestHash"].as_str(), Some(stable.digest.hash().to_string().as_str()));
}

/// The pinned set is genesis's: the checkpoint's set is reached through the certified
/// change at height 10; afterwards only the changes after the checkpoint are followed.
#[test]
fn a_checkpoint_is_reached_from_a_pinned_set_by_certified_changes() {
    let (genesis, keys, _) = fixture();
    let smaller = genesis.without(&genesis.validators()[3].id).unwrap();
    let smallest = smaller.without(&smaller.validators()[2].id).unwrap();
    let before = SetChange {
        certified: certify(&genesis, &keys, header(&genesis, 10, Hash32([7; 32]), &smaller), 3),
        next: smaller.clone(),
    };
    let after = SetChange {
        certified: certify(&smaller, &keys, header(&smaller, AT + 10, Hash32([7; 32]), &smallest), 3),
        next: smallest.clone(),
    };
    let changes = to_bytes(&vec![before.clone(), after]);
    let stable = signed(&digest(&smaller, ConsensusMode::Bft), &smaller, &keys, 3);
    let from = |pinned: &ValidatorSet, changes: &[u8]| {
        let pin = CheckpointPin::Set(pinned.clone());
        // The set served beside it is not what a pinned set is checked with.
        LightClient::from_checkpoint(chain(), &pin, &to_bytes(&stable), &to_bytes(&genesis), Some(changes))
    };
    let mut lc = from(&genesis, &changes).unwrap();
    let c = start(&lc);
    assert_eq!((c.pin, c.pinned_set_hash, c.set_changes_followed), (PinKind::Set, Some(genesis.hash()), 1));
    assert_eq!(c.validator_set_hash, smaller.hash());
    assert_eq!(lc.current_set(), &smaller);
    assert!(lc.follow(&changes).unwrap(), "the change after the checkpoint is followed");
    assert_eq!(lc.current_set(), &smallest);
    assert!(!lc.follow(&changes).unwrap());

    // A set the app ships (the one after the change at 10) needs no change to follow.
    let lc = from(&smaller, &changes).unwrap();
    assert_eq!(start(&lc).set_changes_followed, 0);

    // Changes hidden (none given): genesis's set does not lead to the one named.
    assert!(matches!(
        from(&genesis, &to_bytes(&Vec::<SetChange>::new())),
        Err(LightError::CheckpointSetNotReached { .. })
    ));
    // A change not certified by the set before it leads nowhere.
    let mut forged = before;
    forged.certified = certify(&smaller, &keys, header(&smaller, 10, Hash32([7; 32]), &smaller), 3);
    forged.certified.header.next_validator_set_hash = smaller.hash();
    assert!(matches!(from(&genesis, &to_bytes(&vec![forged])), Err(LightError::SetChanges(_))));
}

#[test]
fn too_few_or_forged_signatures_are_refused() {
    let (set, keys, _) = fixture();
    let d = digest(&set, ConsensusMode::Bft);
    let few = signed(&d, &set, &keys, 2);
    assert!(matches!(
        by_hash(&few, &set),
        Err(LightError::Checkpoint(CheckpointError::Certificate(QcError::NoQuorum { .. })))
    ));
    // The quorum is that of the mode the digest names (a majority in Fast mode).
    by_hash(&signed(&digest(&set, ConsensusMode::Fast), &set, &keys, 3), &set).unwrap();

    let bad_signature = Err(LightError::Checkpoint(CheckpointError::Certificate(QcError::BadSignature)));
    let mut forged = signed(&d, &set, &keys, 3);
    forged.signatures[1] = keys[1].sign(Domain::VoteSignature, &to_bytes(&d));
    assert_eq!(by_hash(&forged, &set).map(|_| ()), bad_signature);
    // A digest altered after signing, pinned by its new hash, is not what was signed.
    let mut altered = signed(&d, &set, &keys, 3);
    altered.digest.state_root = Hash32([8; 32]);
    assert_eq!(by_hash(&altered, &set).map(|_| ()), bad_signature);
}

#[test]
fn another_chain_another_set_or_another_hash_is_refused() {
    let (set, keys, _) = fixture();
    let stable = signed(&digest(&set, ConsensusMode::Bft), &set, &keys, 3);

    let mut elsewhere = digest(&set, ConsensusMode::Bft);
    elsewhere.chain_id = ChainId::new("vigil-other").unwrap();
    let foreign = signed(&elsewhere, &set, &keys, 3);
    assert!(matches!(by_hash(&foreign, &set), Err(LightError::WrongChain { .. })));

    // The set served with it is not the one its digest names.
    let smaller = set.without(&set.validators()[3].id).unwrap();
    assert!(matches!(by_hash(&stable, &smaller), Err(LightError::Checkpoint(CheckpointError::OtherSet { .. }))));

    let pinned = Hash32([0xaa; 32]);
    let wrong =
        LightClient::from_checkpoint(chain(), &CheckpointPin::Hash(pinned), &to_bytes(&stable), &to_bytes(&set), None);
    assert_eq!(
        wrong.map(|_| ()),
        Err(LightError::PinnedHashMismatch { pinned, served: stable.digest.hash(), height: Height(AT) })
    );

    let garbage = LightClient::from_checkpoint(chain(), &CheckpointPin::Hash(pinned), &[1, 2, 3], &[], None);
    assert!(matches!(garbage, Err(LightError::Decode(_))));
}
