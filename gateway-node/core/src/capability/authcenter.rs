//! The authentication centers' key generation, with the chain as its broadcast channel
//! (SPEC C4; FROST, RFC 9591, Ed25519). `DkgRound1`: a center publishes its round-1
//! package — the commitments to its secret polynomial and a proof that it knows the
//! secret — once, for the center set in force. Free and pooled first (only the named
//! centers can send one, checked at admission). A package from anyone but a center, a
//! second one, one for another set, of the wrong shape or whose proof does not verify
//! may not be in a block at all. When the last center's package is in, the group key
//! (the sum of every center's secret commitment) and each center's verifying share are
//! derived from the commitments alone and written at `StateKey::GroupKey`: no process
//! ever held the key, and the chain knows it before any certificate is signed with it.

use std::collections::BTreeMap;

use frost_ed25519::keys::{PublicKeyPackage, VerifiableSecretSharingCommitment};
use frost_ed25519::{Identifier, Signature};
use vigil_protocol::authcenter::{AuthCenterSet, DkgRound1, GroupKey};
use vigil_protocol::{Hash32, PublicKey, StateKey, TxStatus};

use super::Capability;
use crate::consensus::Rejection;
use crate::execution::{Ledger, TxContext, TxInvalid};

/// FROST's identifier of center `index` (its position in the set, from 0).
pub fn identifier(index: u16) -> Result<Identifier, String> {
    Identifier::try_from(index.saturating_add(1)).map_err(|e| format!("center {index}: {e}"))
}

/// The package's commitment as FROST reads it (t points, each a valid group element).
fn commitment(package: &DkgRound1, threshold: u16) -> Result<VerifiableSecretSharingCommitment, String> {
    if package.commitment.len() != usize::from(threshold) {
        return Err(format!("{} commitments, the threshold is {threshold}", package.commitment.len()));
    }
    let whole: Vec<u8> = package.commitment.concat();
    VerifiableSecretSharingCommitment::deserialize_whole(&whole).map_err(|e| format!("commitment: {e}"))
}

/// What admission and a block check: the sender is a center of the set in force, the
/// package is for that set, it is the center's first, its shape and proof are right.
/// Returns the center's index.
fn check(
    package: &DkgRound1,
    sender: &PublicKey,
    set: Option<AuthCenterSet>,
    published: impl Fn(u16) -> bool,
) -> Result<u16, String> {
    let set = set.ok_or("this chain has no authentication centers")?;
    let index = set.index_of(sender).ok_or("the sender is not an authentication center")?;
    if package.set != set.hash() {
        return Err("the package is for another center set".into());
    }
    if published(index) {
        return Err(format!("center {index} published its round 1 already"));
    }
    let commitment = commitment(package, set.threshold)?;
    let proof = Signature::deserialize(&package.proof_of_knowledge).map_err(|e| format!("proof: {e}"))?;
    frost_core::keys::dkg::verify_proof_of_knowledge(identifier(index)?, &commitment, &proof)
        .map_err(|e| format!("center {index}'s proof of knowledge does not verify: {e}"))?;
    Ok(index)
}

/// A center's FROST round-1 package as the chain carries it (raw curve bytes).
pub fn to_chain(package: &frost_ed25519::keys::dkg::round1::Package, set: Hash32) -> Result<DkgRound1, String> {
    let point = |b: Vec<u8>| -> Result<[u8; 32], String> { b.try_into().map_err(|_| "a point is 32 bytes".into()) };
    let commitment = package.commitment().serialize().map_err(|e| e.to_string())?;
    let proof = package.proof_of_knowledge().serialize().map_err(|e| e.to_string())?;
    Ok(DkgRound1 {
        set,
        commitment: commitment.into_iter().map(point).collect::<Result<_, _>>()?,
        proof_of_knowledge: proof.try_into().map_err(|_| "a proof is 64 bytes".to_string())?,
    })
}

/// A round-1 package read from the chain, as FROST's part 2 takes it.
pub fn from_chain(package: &DkgRound1, threshold: u16) -> Result<frost_ed25519::keys::dkg::round1::Package, String> {
    let proof = Signature::deserialize(&package.proof_of_knowledge).map_err(|e| format!("proof: {e}"))?;
    Ok(frost_ed25519::keys::dkg::round1::Package::new(commitment(package, threshold)?, proof))
}

/// The group key from every center's round-1 commitment (`packages` in center order).
pub fn group_key(set: &AuthCenterSet, packages: &[DkgRound1]) -> Result<GroupKey, String> {
    let mut commitments = Vec::with_capacity(packages.len());
    for (index, package) in packages.iter().enumerate() {
        let index = u16::try_from(index).map_err(|e| e.to_string())?;
        commitments.push((identifier(index)?, commitment(package, set.threshold)?));
    }
    let by_id: BTreeMap<Identifier, &VerifiableSecretSharingCommitment> =
        commitments.iter().map(|(id, c)| (*id, c)).collect();
    let public = PublicKeyPackage::from_dkg_commitments(&by_id).map_err(|e| e.to_string())?;
    let bytes32 = |v: Result<Vec<u8>, frost_ed25519::Error>| -> Result<[u8; 32], String> {
        v.map_err(|e| e.to_string())?.try_into().map_err(|_| "a point is 32 bytes".to_string())
    };
    let key = bytes32(public.verifying_key().serialize())?;
    let mut verifying_shares = Vec::with_capacity(packages.len());
    for (id, _) in &commitments {
        let share = public.verifying_shares().get(id).ok_or("a center's verifying share is missing")?;
        verifying_shares.push(bytes32(share.serialize())?);
    }
    Ok(GroupKey {
        key: PublicKey::from_bytes(&key).map_err(|e| e.to_string())?,
        verifying_shares,
        threshold: set.threshold,
    })
}

impl Capability for DkgRound1 {
    type Checked = u16;

    fn fee_min(&self) -> u64 {
        0
    }

    fn priority(&self) -> bool {
        true
    }

    fn admit(&self, ledger: &Ledger, sender: &PublicKey) -> Result<(), Rejection> {
        let published = |i| ledger.state::<DkgRound1>(&StateKey::DkgRound1(i)).is_some();
        check(self, sender, ledger.state(&StateKey::AuthCenters), published)
            .map(|_| ())
            .map_err(Rejection::InvalidDkgPackage)
    }

    fn validate(&self, cx: &TxContext<'_>) -> Result<u16, TxInvalid> {
        let published = |i| cx.read::<DkgRound1>(&StateKey::DkgRound1(i)).is_some();
        check(self, &cx.sender_key(), cx.read(&StateKey::AuthCenters), published).map_err(TxInvalid::DkgPackage)
    }

    fn apply(&self, index: u16, cx: &mut TxContext<'_>) -> TxStatus {
        cx.write(StateKey::DkgRound1(index), self);
        let Some(set) = cx.read::<AuthCenterSet>(&StateKey::AuthCenters) else { return TxStatus::Success };
        let packages: Vec<DkgRound1> = (0..set.centers.len())
            .map_while(|i| cx.read::<DkgRound1>(&StateKey::DkgRound1(u16::try_from(i).ok()?)))
            .collect();
        if packages.len() == set.centers.len() {
            // Every package was checked as it came: the sum cannot fail on them.
            if let Ok(key) = group_key(&set, &packages) {
                cx.write(StateKey::GroupKey, &key);
            }
        }
        TxStatus::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::testkit::*;
    use crate::execution::{ExecuteError, Ledger};
    use frost_ed25519::keys::dkg;
    use rand_chacha::rand_core::SeedableRng;
    use vigil_protocol::authcenter::AuthCenterInfo;
    use vigil_protocol::{EncryptionKey, Payload, SecretKey};

    const N: u16 = 5;
    const T: u16 = 3;

    fn centers() -> (Vec<SecretKey>, AuthCenterSet) {
        let keys: Vec<SecretKey> = (0..N).map(|i| SecretKey::from_seed([0xc0 + i as u8; 32])).collect();
        let centers = keys
            .iter()
            .enumerate()
            .map(|(i, k)| AuthCenterInfo {
                name: format!("center-{i}"),
                identity_key: k.public_key(),
                encryption_key: EncryptionKey([i as u8 + 1; 32]),
            })
            .collect();
        (keys, AuthCenterSet { centers, threshold: T })
    }

    /// The centers' accounts pay the test transactions' fee.
    fn fund(f: &mut Fixture, keys: &[SecretKey]) {
        let funded = keys
            .iter()
            .map(|k| (vigil_protocol::Address::from_public_key(&k.public_key()), vigil_protocol::Amount(10)));
        f.genesis.accounts.extend(funded);
        f.genesis.accounts.sort();
    }

    /// A chain whose genesis names the centers (their accounts funded), at genesis.
    fn chain_with_centers() -> (Fixture, Vec<SecretKey>, AuthCenterSet, Ledger) {
        let mut f = fixture();
        let (keys, set) = centers();
        fund(&mut f, &keys);
        f.genesis.authcenters = Some(set.clone());
        let ledger = Ledger::genesis(&f.genesis).unwrap();
        (f, keys, set, ledger)
    }

    /// Every center's part 1, from seeded randomness.
    fn round1() -> Vec<(dkg::round1::SecretPackage, dkg::round1::Package)> {
        (0..N)
            .map(|i| {
                let rng = rand_chacha::ChaCha20Rng::seed_from_u64(u64::from(i));
                dkg::part1(identifier(i).unwrap(), N, T, rng).unwrap()
            })
            .collect()
    }

    /// The five centers publish their round 1 on chain; the chain's group key is the one
    /// each center computes at the end of the key generation.
    #[test]
    fn the_chain_derives_the_centers_group_key_from_their_round_1() {
        let (f, keys, set, mut ledger) = chain_with_centers();
        let packages = round1();
        for (i, (_, package)) in packages.iter().enumerate() {
            assert!(ledger.state::<GroupKey>(&StateKey::GroupKey).is_none(), "not before every center published");
            let payload = Payload::DkgRound1(Box::new(to_chain(package, set.hash()).unwrap()));
            let (b, exec) = block(&ledger, vec![tx(&f, &keys[i], 0, payload)]);
            assert_eq!(exec.entries[0].status, TxStatus::Success);
            ledger.commit(&b, exec).unwrap();
        }
        let on_chain: GroupKey = ledger.state(&StateKey::GroupKey).expect("written with the last round 1");

        // The centers finish the key generation among themselves (rounds 2 and 3).
        let all: BTreeMap<Identifier, dkg::round1::Package> =
            packages.iter().enumerate().map(|(i, (_, p))| (identifier(i as u16).unwrap(), p.clone())).collect();
        let others = |me: Identifier| -> BTreeMap<Identifier, dkg::round1::Package> {
            all.iter().filter(|(id, _)| **id != me).map(|(id, p)| (*id, p.clone())).collect()
        };
        let round2: Vec<_> = packages
            .into_iter()
            .enumerate()
            .map(|(i, (secret, _))| dkg::part2(secret, &others(identifier(i as u16).unwrap())).unwrap())
            .collect();
        for (i, (secret, _)) in round2.iter().enumerate() {
            let me = identifier(i as u16).unwrap();
            let to_me: BTreeMap<Identifier, dkg::round2::Package> = round2
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(j, (_, sent))| (identifier(j as u16).unwrap(), sent[&me].clone()))
                .collect();
            let (key_package, public) = dkg::part3(secret, &others(me), &to_me).unwrap();
            assert_eq!(public.verifying_key().serialize().unwrap(), on_chain.key.to_bytes().to_vec());
            assert_eq!(key_package.verifying_share().serialize().unwrap(), on_chain.verifying_shares[i].to_vec());
        }
        assert_eq!(on_chain.threshold, T);
    }

    /// What may not be in a block, and what admission refuses: a package from anyone but
    /// a center, a second one from a center, one for another set, one of the wrong shape,
    /// one whose proof does not verify.
    #[test]
    fn a_package_not_from_a_center_or_not_its_first_or_not_right_is_refused() {
        let (f, keys, set, mut ledger) = chain_with_centers();
        let packages = round1();
        let good = to_chain(&packages[0].1, set.hash()).unwrap();
        let refused = |ledger: &Ledger, key: &SecretKey, package: DkgRound1| {
            let payload = Payload::DkgRound1(Box::new(package));
            let admitted = crate::capability::admit(&payload, ledger, &key.public_key());
            assert!(matches!(admitted, Err(Rejection::InvalidDkgPackage(_))), "{admitted:?}");
            let nonce = ledger.account(&vigil_protocol::Address::from_public_key(&key.public_key())).nonce.0;
            let executed = ledger.execute(&[tx(&f, key, nonce, payload)]);
            assert!(matches!(executed, Err(ExecuteError::Tx { why: TxInvalid::DkgPackage(_), .. })), "{executed:?}");
        };
        refused(&ledger, &f.alice, good.clone());
        refused(&ledger, &keys[0], DkgRound1 { set: Hash32([9; 32]), ..good.clone() });
        refused(&ledger, &keys[0], DkgRound1 { commitment: good.commitment[..2].to_vec(), ..good.clone() });
        let mut forged = good.clone();
        forged.proof_of_knowledge[40] ^= 1;
        refused(&ledger, &keys[0], forged);
        // Center 1's package sent by center 0: its proof binds it to center 1's identifier.
        refused(&ledger, &keys[0], to_chain(&packages[1].1, set.hash()).unwrap());

        let payload = Payload::DkgRound1(Box::new(good.clone()));
        assert_eq!(crate::capability::admit(&payload, &ledger, &keys[0].public_key()), Ok(()));
        let (b, exec) = block(&ledger, vec![tx(&f, &keys[0], 0, payload)]);
        ledger.commit(&b, exec).unwrap();
        refused(&ledger, &keys[0], good);

        // A chain with no centers takes none.
        let mut no_centers = fixture();
        fund(&mut no_centers, &keys);
        let plain = Ledger::genesis(&no_centers.genesis).unwrap();
        refused(&plain, &keys[2], to_chain(&packages[2].1, set.hash()).unwrap());
    }
}
