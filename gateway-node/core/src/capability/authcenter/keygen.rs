//! Rounds 1 and 2 of the centers' key generation and its confirmation, as the chain
//! checks and records them.
//!
//! - Round 1: the package's commitments are t valid points, its proof of knowledge
//!   verifies for the sender's identifier (frost-core), its share key can be sealed to.
//! - Round 2: every participant's round 1 is in; one sealed share per other participant
//!   (their content only their recipients can check: a bad one is a complaint's matter).
//! - Confirm: every participant's round 2 is in, and the group key the sender computed
//!   is the chain's — the sum of the participants' secret commitments. With the last
//!   confirmation the key and every participant's verifying share are written, and the
//!   root certificate's signing session is started.

use std::collections::BTreeMap;

use frost_ed25519::keys::{PublicKeyPackage, VerifiableSecretSharingCommitment};
use frost_ed25519::{Identifier, Signature};
use vigil_protocol::authcenter::share::usable;
use vigil_protocol::authcenter::{
    AuthCenterSet, CertAuthority, DkgConfirm, DkgRound1, DkgRound2, DkgState, GroupKey, SigningPurpose, Waiting,
};
use vigil_protocol::{EncryptionKey, Hash32, Height, PublicKey, StateKey};

use super::{ReadState, Scope};
use crate::execution::TxContext;

/// FROST's identifier of center `index` (its position in the set, from 0).
pub fn identifier(index: u16) -> Result<Identifier, String> {
    Identifier::try_from(index.saturating_add(1)).map_err(|e| format!("center {index}: {e}"))
}

/// The package's commitment as FROST reads it (t points, each a valid group element).
pub(crate) fn commitment(package: &DkgRound1, threshold: u16) -> Result<VerifiableSecretSharingCommitment, String> {
    commitment_of(&package.commitment, threshold)
}

/// Commitments to a polynomial's t coefficients as FROST reads them.
pub fn commitment_of(points: &[[u8; 32]], threshold: u16) -> Result<VerifiableSecretSharingCommitment, String> {
    if points.len() != usize::from(threshold) {
        return Err(format!("{} commitments, the threshold is {threshold}", points.len()));
    }
    VerifiableSecretSharingCommitment::deserialize_whole(&points.concat()).map_err(|e| format!("commitment: {e}"))
}

/// A center's FROST round-1 package as the chain carries it (raw curve bytes), with the
/// key its shares are sealed to in this attempt.
pub fn to_chain(
    package: &frost_ed25519::keys::dkg::round1::Package,
    set: Hash32,
    attempt: u32,
    share_key: EncryptionKey,
) -> Result<DkgRound1, String> {
    let point = |b: Vec<u8>| -> Result<[u8; 32], String> { b.try_into().map_err(|_| "a point is 32 bytes".into()) };
    let commitment = package.commitment().serialize().map_err(|e| e.to_string())?;
    let proof = package.proof_of_knowledge().serialize().map_err(|e| e.to_string())?;
    Ok(DkgRound1 {
        set,
        attempt,
        commitment: commitment.into_iter().map(point).collect::<Result<_, _>>()?,
        proof_of_knowledge: proof.try_into().map_err(|_| "a proof is 64 bytes".to_string())?,
        share_key,
    })
}

/// A round-1 package read from the chain, as FROST's parts 2 and 3 take it.
pub fn from_chain(package: &DkgRound1, threshold: u16) -> Result<frost_ed25519::keys::dkg::round1::Package, String> {
    let proof = Signature::deserialize(&package.proof_of_knowledge).map_err(|e| format!("proof: {e}"))?;
    Ok(frost_ed25519::keys::dkg::round1::Package::new(commitment(package, threshold)?, proof))
}

/// The group key from the participants' round-1 commitments (`packages[k]` is
/// `participants[k]`'s).
pub fn group_key(set: &AuthCenterSet, participants: &[u16], packages: &[DkgRound1]) -> Result<GroupKey, String> {
    if participants.len() != packages.len() {
        return Err("one round-1 package per participant".into());
    }
    let mut commitments = Vec::with_capacity(packages.len());
    for (&index, package) in participants.iter().zip(packages) {
        commitments.push((identifier(index)?, commitment(package, set.threshold)?));
    }
    let by_id: BTreeMap<Identifier, &VerifiableSecretSharingCommitment> =
        commitments.iter().map(|(id, c)| (*id, c)).collect();
    let public = PublicKeyPackage::from_dkg_commitments(&by_id).map_err(|e| e.to_string())?;
    key_of(&public, participants, set.threshold)
}

/// The chain's record of a FROST public key package whose holders are `participants`.
pub fn key_of(public: &PublicKeyPackage, participants: &[u16], threshold: u16) -> Result<GroupKey, String> {
    let bytes32 = |v: Result<Vec<u8>, frost_ed25519::Error>| -> Result<[u8; 32], String> {
        v.map_err(|e| e.to_string())?.try_into().map_err(|_| "a point is 32 bytes".to_string())
    };
    let key = bytes32(public.verifying_key().serialize())?;
    let mut verifying_shares = Vec::with_capacity(participants.len());
    for &index in participants {
        let share =
            public.verifying_shares().get(&identifier(index)?).ok_or("a center's verifying share is missing")?;
        verifying_shares.push(bytes32(share.serialize())?);
    }
    Ok(GroupKey {
        key: PublicKey::from_bytes(&key).map_err(|e| e.to_string())?,
        participants: participants.to_vec(),
        verifying_shares,
        threshold,
        since: Height(0),
    })
}

pub(crate) fn check_round1(package: &DkgRound1, scope: &Scope, state: &impl ReadState) -> Result<u16, String> {
    let index = scope.sender;
    if scope.round1(index, state).is_some() {
        return Err(format!("center {index} published its round 1 of this attempt already"));
    }
    let commitment = commitment(package, scope.set.threshold)?;
    let proof = Signature::deserialize(&package.proof_of_knowledge).map_err(|e| format!("proof: {e}"))?;
    frost_core::keys::dkg::verify_proof_of_knowledge(identifier(index)?, &commitment, &proof)
        .map_err(|e| format!("center {index}'s proof of knowledge does not verify: {e}"))?;
    if !usable(&package.share_key) {
        return Err("the share key is not a key shares can be sealed to".into());
    }
    Ok(index)
}

pub(crate) fn check_round2(package: &DkgRound2, scope: &Scope, state: &impl ReadState) -> Result<u16, String> {
    let index = scope.sender;
    if let Err(missing) = scope.all_round1(state) {
        return Err(format!("round 2 waits for every round 1: center {missing}'s is missing"));
    }
    if scope.round2(index, state).is_some() {
        return Err(format!("center {index} published its round 2 of this attempt already"));
    }
    let expected = scope.participants.len() - 1;
    if package.shares.len() != expected {
        return Err(format!("{} shares; one for each of the {expected} other participants", package.shares.len()));
    }
    Ok(index)
}

/// A confirmation that may be recorded, and whether it completes the key generation.
pub struct Confirmed {
    state: DkgState,
    /// The group key, when this is the last participant's confirmation.
    ready: Option<GroupKey>,
}

pub(crate) fn check_confirm(confirm: &DkgConfirm, scope: Scope, state: &impl ReadState) -> Result<Confirmed, String> {
    let index = scope.sender;
    if let Some(missing) = scope.participants.iter().find(|&&i| scope.round2(i, state).is_none()) {
        return Err(format!("the confirmation waits for every round 2: center {missing}'s is missing"));
    }
    let Err(at) = scope.state.confirmed.binary_search(&index) else {
        return Err(format!("center {index} confirmed this attempt already"));
    };
    let packages = scope.all_round1(state).map_err(|i| format!("center {i}'s round 1 is missing"))?;
    let key = group_key(&scope.set, &scope.participants, &packages)?;
    if key.key != confirm.group_key {
        return Err(format!("center {index} names another group key than the participants' commitments make"));
    }
    let mut next = scope.state;
    next.confirmed.insert(at, index);
    let ready = (next.confirmed == scope.participants).then_some(key);
    Ok(Confirmed { state: next, ready })
}

pub(crate) fn apply_confirm(confirmed: Confirmed, cx: &mut TxContext<'_>) {
    cx.write(StateKey::Dkg, &confirmed.state);
    if let Some(mut key) = confirmed.ready {
        key.since = cx.ledger().height().next();
        cx.write(StateKey::GroupKey, &key);
        // The first thing the group key signs: the consortium's root certificate.
        let Some(authority) = cx.read::<CertAuthority>(&StateKey::CertAuthority) else { return };
        if let Ok(message) = super::session::root_tbs(cx.ledger().chain_id(), &authority, &key).der() {
            let waiting = Waiting { purpose: SigningPurpose::Root, message, withheld: Vec::new() };
            super::session::start(waiting, &key, cx);
        }
    }
}
