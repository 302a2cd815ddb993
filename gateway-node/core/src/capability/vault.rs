//! The vault's records: a user id bound to an account and key (`RegisterUser`), and
//! the manifests of stored objects (`CommitManifest`). The shards themselves live in
//! the nodes' fragment stores, not in the chain; what the chain keeps is what a wallet
//! proves before it trusts a download.

use vigil_protocol::limits::REGISTER_USER_FEE_MIN;
use vigil_protocol::vault::OBJECTS_PER_ACCOUNT_MAX;
use vigil_protocol::{FailureCode, Hash32, NodeId, StateKey, TxStatus, UserId, UserRecord, VaultConfig, VaultManifest};

use super::Capability;
use crate::execution::{LedgerView, TxContext, TxInvalid};

/// The manifests in `view`'s state that name `store` among their stores, each with the
/// index of the shard that store keeps, in state order. The state's keys are hashed, so
/// this reads every entry: a value is a manifest only if it decodes as one *and* sits
/// at that manifest's own key. Run off the consensus thread.
pub fn stored_at(view: &LedgerView, store: &NodeId) -> Vec<(u8, VaultManifest)> {
    view.entries()
        .filter_map(|(key, value)| {
            let m = vigil_protocol::encoding::from_bytes::<VaultManifest>(&value).ok()?;
            (StateKey::Manifest(m.object_id).key_hash().0 == key.0).then_some(m)
        })
        .filter_map(|m| Some((u8::try_from(m.stores.iter().position(|s| s == store)?).ok()?, m)))
        .collect()
}

/// `RegisterUser`: binds a user id to the sender's account and key, unless another
/// account holds it.
impl Capability for UserId {
    type Checked = ();

    fn fee_min(&self) -> u64 {
        REGISTER_USER_FEE_MIN
    }

    fn validate(&self, _cx: &TxContext<'_>) -> Result<(), TxInvalid> {
        Ok(())
    }

    fn apply(&self, (): (), cx: &mut TxContext<'_>) -> TxStatus {
        let key = StateKey::User(self.clone());
        match cx.read::<UserRecord>(&key) {
            Some(r) if r.account != cx.sender() => TxStatus::Failed(FailureCode::UserIdTaken),
            _ => {
                let record = UserRecord { account: cx.sender(), key: cx.sender_key() };
                cx.write(key, &record);
                TxStatus::Success
            }
        }
    }
}

/// `CommitManifest`: the sender owns it and its user id, it fits the chain's vault
/// configuration, its stores are validators, its id is new, the owner has room.
impl Capability for VaultManifest {
    type Checked = ();

    fn validate(&self, _cx: &TxContext<'_>) -> Result<(), TxInvalid> {
        Ok(())
    }

    fn apply(&self, (): (), cx: &mut TxContext<'_>) -> TxStatus {
        let (from, sender) = (cx.sender(), cx.sender_key());
        let user = cx.read::<UserRecord>(&StateKey::User(self.user_id.clone()));
        if self.owner != from || user != Some(UserRecord { account: from, key: sender }) {
            return TxStatus::Failed(FailureCode::UnknownUser);
        }
        let cfg = cx.read::<VaultConfig>(&StateKey::VaultConfig).unwrap_or_default();
        let validators = &cx.consensus().validators;
        if self.check(&cfg).is_err() || self.stores.iter().any(|id| validators.get(id).is_none()) {
            return TxStatus::Failed(FailureCode::BadManifest);
        }
        let key = StateKey::Manifest(self.object_id);
        if cx.read::<VaultManifest>(&key).is_some() {
            return TxStatus::Failed(FailureCode::DuplicateObject);
        }
        let list_key = StateKey::Objects(from);
        let mut objects = cx.read::<Vec<Hash32>>(&list_key).unwrap_or_default();
        if objects.len() >= OBJECTS_PER_ACCOUNT_MAX {
            return TxStatus::Failed(FailureCode::TooManyObjects);
        }
        objects.push(self.object_id);
        cx.write(key, self);
        cx.write(list_key, &objects);
        TxStatus::Success
    }
}

#[cfg(test)]
mod tests {
    use vigil_protocol::*;

    use crate::execution::testkit::*;
    use crate::execution::*;

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
}
