//! The encrypted split vault (SPEC C2): the chain's serialization factor, user
//! registration, the manifest committed for every stored object, and the signed requests
//! with which a user stores and fetches fragments at the nodes.
//!
//! Data path: the wallet encrypts an object (AEAD, key derived from its seed), cuts the
//! ciphertext into stripes of `threshold × shard_bytes`, erasure-codes each stripe into
//! `fragments` shards (any `threshold` rebuild it), and sends shard `i` of every stripe to
//! store `i` of the object (the [`VaultConfig::stores`] rule). Nodes keep them in their
//! own ciphertext database. The manifest lists the hash of every shard, so a reader
//! checks each one it fetches against the chain.

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::crypto::{CryptoError, PublicKey, SecretKey, Signature};
use crate::encoding::to_bytes;
use crate::hash::{hash, Domain, Hash32};
use crate::ids::{ChainId, NodeId};
use crate::validator::ValidatorSet;

/// Longest user identifier.
pub const USER_ID_LEN_MAX: usize = 64;
/// Most objects one account may hold (the list is kept in the state).
pub const OBJECTS_PER_ACCOUNT_MAX: usize = 1024;
/// Most shard hashes one manifest may list (it must fit in a transaction).
pub const MANIFEST_HASHES_MAX: usize = 1536;

/// A user identifier bound on chain to an account key (`RegisterUser`): lowercase
/// letters, digits and `.-_@`, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("user id must be 1 to {USER_ID_LEN_MAX} characters of a-z, 0-9, '.', '-', '_', '@'")]
    UserId,
    #[error("vault configuration: {0}")]
    Config(&'static str),
    #[error("manifest: {0}")]
    Manifest(&'static str),
    #[error("the chain has {have} validators; an object needs {need} stores")]
    TooFewStores { have: usize, need: usize },
    #[error(transparent)]
    Signature(#[from] CryptoError),
}

impl UserId {
    pub fn new(s: impl Into<String>) -> Result<Self, VaultError> {
        let s = s.into();
        let ok_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-_@".contains(&b);
        if s.is_empty() || s.len() > USER_ID_LEN_MAX || !s.bytes().all(ok_char) {
            return Err(VaultError::UserId);
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = VaultError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<UserId> for String {
    fn from(u: UserId) -> String {
        u.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The chain's serialization factor (in genesis and in the state under
/// [`crate::StateKey::VaultConfig`], so a wallet reads it with a proof).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultConfig {
    /// n: shards per stripe, each to a different store.
    pub fragments: u8,
    /// k: any k shards of a stripe rebuild it.
    pub threshold: u8,
    /// Bytes per shard (even, as the erasure code needs).
    pub shard_bytes: u32,
    /// Plaintext bytes per AEAD chunk of the streaming encryption.
    pub chunk_bytes: u32,
    /// Largest object (ciphertext bytes).
    pub object_bytes_max: u64,
    /// Fragment bytes each store keeps per account.
    pub quota_bytes_per_account: u64,
}

impl Default for VaultConfig {
    fn default() -> Self {
        // 3 of a 4-validator consortium hold each object, so it survives one jailed
        // validator; any 2 rebuild it.
        Self {
            fragments: 3,
            threshold: 2,
            shard_bytes: 128 * 1024,
            chunk_bytes: 64 * 1024,
            object_bytes_max: 64 * 1024 * 1024,
            quota_bytes_per_account: 256 * 1024 * 1024,
        }
    }
}

impl VaultConfig {
    pub fn check(&self) -> Result<(), VaultError> {
        if self.threshold == 0 || self.threshold >= self.fragments {
            return Err(VaultError::Config("need 1 ≤ threshold < fragments"));
        }
        if self.shard_bytes == 0 || self.shard_bytes % 2 != 0 || self.shard_bytes > 1024 * 1024 {
            return Err(VaultError::Config("shard_bytes must be even, from 2 to 1 MiB"));
        }
        if self.chunk_bytes == 0 || self.chunk_bytes > 1024 * 1024 {
            return Err(VaultError::Config("chunk_bytes must be from 1 to 1 MiB"));
        }
        Ok(())
    }

    /// Ciphertext bytes per stripe.
    pub fn stripe_bytes(&self) -> u64 {
        u64::from(self.threshold) * u64::from(self.shard_bytes)
    }

    /// Stripes of an object of `ciphertext_len` bytes (at least one).
    pub fn stripes(&self, ciphertext_len: u64) -> u64 {
        ciphertext_len.div_ceil(self.stripe_bytes().max(1)).max(1)
    }

    /// The fragment-to-store assignment rule: shard `i` of every stripe of object `id`
    /// goes to validator `(id[0] + i) mod |set|` of the current set (in set order), so
    /// objects spread over the validators and the n stores of one object are distinct.
    pub fn stores(&self, object_id: &Hash32, set: &ValidatorSet) -> Result<Vec<NodeId>, VaultError> {
        let validators = set.validators();
        let n = usize::from(self.fragments);
        if validators.len() < n {
            return Err(VaultError::TooFewStores { have: validators.len(), need: n });
        }
        let start = usize::from(object_id.0[0]);
        Ok((0..n).map(|i| validators[(start + i) % validators.len()].id).collect())
    }
}

/// What `RegisterUser` binds: a user id to the account that registered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub account: Address,
    pub key: PublicKey,
}

/// The on-chain record of one stored object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultManifest {
    pub object_id: Hash32,
    pub owner: Address,
    pub user_id: UserId,
    /// k and n as the chain's configuration had them.
    pub threshold: u8,
    pub fragments: u8,
    pub shard_bytes: u32,
    /// Plaintext bytes per AEAD chunk the object was encrypted with.
    pub chunk_bytes: u32,
    pub plaintext_len: u64,
    pub ciphertext_len: u64,
    /// Store of shard `i` of every stripe (n distinct validators).
    pub stores: Vec<NodeId>,
    /// Hash of every shard, stripe by stripe (`stripes × n`).
    pub fragment_hashes: Vec<Hash32>,
    /// Name shown in the wallet (not secret-free: the wallet may leave it empty).
    pub label: String,
}

impl VaultManifest {
    pub fn stripes(&self) -> usize {
        self.fragment_hashes.len() / usize::from(self.fragments.max(1))
    }

    /// The hash listed for shard `index` of `stripe`.
    pub fn fragment_hash(&self, stripe: u32, index: u8) -> Option<Hash32> {
        let at = (stripe as usize).checked_mul(usize::from(self.fragments))?.checked_add(usize::from(index))?;
        (index < self.fragments).then(|| self.fragment_hashes.get(at).copied()).flatten()
    }

    /// Checks the manifest's shape against the chain's configuration.
    pub fn check(&self, cfg: &VaultConfig) -> Result<(), VaultError> {
        if (self.threshold, self.fragments, self.shard_bytes) != (cfg.threshold, cfg.fragments, cfg.shard_bytes) {
            return Err(VaultError::Manifest("k, n or shard size differ from the chain's configuration"));
        }
        if self.ciphertext_len > cfg.object_bytes_max {
            return Err(VaultError::Manifest("object larger than the chain allows"));
        }
        if self.ciphertext_len < self.plaintext_len {
            return Err(VaultError::Manifest("ciphertext shorter than the plaintext"));
        }
        let mut stores = self.stores.clone();
        stores.sort();
        stores.dedup();
        if self.stores.len() != usize::from(cfg.fragments) || stores.len() != self.stores.len() {
            return Err(VaultError::Manifest("stores must be n distinct nodes"));
        }
        let expected = cfg.stripes(self.ciphertext_len).saturating_mul(u64::from(cfg.fragments));
        if self.fragment_hashes.len() as u64 != expected || self.fragment_hashes.len() > MANIFEST_HASHES_MAX {
            return Err(VaultError::Manifest("fragment hash count does not fit the object's size"));
        }
        if self.label.len() > 128 {
            return Err(VaultError::Manifest("label longer than 128 bytes"));
        }
        Ok(())
    }
}

/// Hash of one shard, as a manifest lists it.
pub fn fragment_hash(bytes: &[u8]) -> Hash32 {
    hash(Domain::VaultFragment, bytes)
}

/// Which shards a store or fetch request is about: shard `index` of stripes
/// `first_stripe ..` of one object of one owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FragmentRef {
    pub user_id: UserId,
    pub owner: Address,
    pub object_id: Hash32,
    pub index: u8,
    pub first_stripe: u32,
}

/// What binds one vault request to one use: the chain, the node it is for, when it was
/// made (by the sender's clock) and a nonce. A node serves a request only if it is the
/// node named, its clock is within [`REQUEST_WINDOW_MS`] of `issued_ms`, and it has not
/// seen the nonce from that signer in the window: a captured request cannot be sent
/// again, later, or to another node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestBinding {
    pub chain_id: ChainId,
    pub node: NodeId,
    pub issued_ms: u64,
    pub nonce: u64,
}

/// How far a vault request's `issued_ms` may be from the node's clock.
pub const REQUEST_WINDOW_MS: u64 = 10 * 60 * 1000;

/// A request to store shards: who (user id, address), what, the shards, for which node
/// and when, and the signature of the key registered for that user id over all of it
/// (hashes for the shards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRequest {
    pub at: FragmentRef,
    pub shards: Vec<Vec<u8>>,
    pub binding: RequestBinding,
    pub signer: PublicKey,
    pub signature: Signature,
}

impl StoreRequest {
    fn message(at: &FragmentRef, shards: &[Vec<u8>], binding: &RequestBinding) -> Vec<u8> {
        let hashes: Vec<Hash32> = shards.iter().map(|s| fragment_hash(s)).collect();
        to_bytes(&(at, hashes, binding))
    }

    pub fn sign(at: FragmentRef, shards: Vec<Vec<u8>>, binding: RequestBinding, key: &SecretKey) -> Self {
        let signature = key.sign(Domain::VaultStoreSignature, &Self::message(&at, &shards, &binding));
        Self { at, shards, binding, signer: key.public_key(), signature }
    }

    /// Checks the signature (not whom it belongs to: the node checks the registration).
    pub fn verify(&self) -> Result<(), VaultError> {
        let message = Self::message(&self.at, &self.shards, &self.binding);
        Ok(self.signer.verify(Domain::VaultStoreSignature, &message, &self.signature)?)
    }
}

/// A request to fetch `count` shards from `at`, signed by the registered key and bound
/// to one node, one time and one nonce ([`RequestBinding`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    pub at: FragmentRef,
    pub count: u32,
    pub binding: RequestBinding,
    pub signer: PublicKey,
    pub signature: Signature,
}

impl FetchRequest {
    pub fn sign(at: FragmentRef, count: u32, binding: RequestBinding, key: &SecretKey) -> Self {
        let signature = key.sign(Domain::VaultFetchSignature, &to_bytes(&(&at, count, &binding)));
        Self { at, count, binding, signer: key.public_key(), signature }
    }

    pub fn verify(&self) -> Result<(), VaultError> {
        let message = to_bytes(&(&self.at, self.count, &self.binding));
        Ok(self.signer.verify(Domain::VaultFetchSignature, &message, &self.signature)?)
    }
}

/// Between stores, over the validators' authenticated links: a store that lost shards of
/// an object asks another store of it for that store's own shard `index` of stripes
/// `first_stripe ..` (at most `count`). Served only to a store of the same object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerShardRequest {
    pub object_id: Hash32,
    pub index: u8,
    pub first_stripe: u32,
    pub count: u32,
}

/// The answer: the shards held, in order from `first_stripe`, up to the first missing
/// one (the asker checks each against the manifest's hashes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerShards {
    pub object_id: Hash32,
    pub index: u8,
    pub first_stripe: u32,
    pub shards: Vec<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validator::ValidatorInfo;

    fn set(n: usize) -> ValidatorSet {
        let infos = (0..n)
            .map(|i| {
                let key = SecretKey::from_seed([i as u8 + 1; 32]).public_key();
                ValidatorInfo::new(
                    format!("node-{i}"),
                    key,
                    crate::EncryptionKey([i as u8; 32]),
                    crate::P2pKey([0x80 | i as u8; 32]),
                )
            })
            .collect();
        ValidatorSet::new(infos).unwrap()
    }

    fn manifest(cfg: &VaultConfig, len: u64) -> VaultManifest {
        let stripes = cfg.stripes(len) as usize;
        VaultManifest {
            object_id: Hash32([9; 32]),
            owner: Address([1; 20]),
            user_id: UserId::new("alice@example").unwrap(),
            threshold: cfg.threshold,
            fragments: cfg.fragments,
            shard_bytes: cfg.shard_bytes,
            chunk_bytes: cfg.chunk_bytes,
            plaintext_len: len.saturating_sub(40),
            ciphertext_len: len,
            stores: set(4).validators().iter().take(usize::from(cfg.fragments)).map(|v| v.id).collect(),
            fragment_hashes: vec![Hash32([0; 32]); stripes * usize::from(cfg.fragments)],
            label: String::new(),
        }
    }

    #[test]
    fn user_ids_are_checked() {
        assert!(UserId::new("alice@example.org").is_ok());
        assert_eq!(UserId::new(""), Err(VaultError::UserId));
        assert_eq!(UserId::new("Alice"), Err(VaultError::UserId));
        assert_eq!(UserId::new("a".repeat(65)), Err(VaultError::UserId));
        assert!(serde_json::from_str::<UserId>("\"BAD ID\"").is_err());
    }

    #[test]
    fn stores_are_n_distinct_validators_spread_by_object() {
        let cfg = VaultConfig::default();
        let s = set(7);
        let a = cfg.stores(&Hash32([0; 32]), &s).unwrap();
        let b = cfg.stores(&Hash32([3; 32]), &s).unwrap();
        assert_eq!(a.len(), 3);
        assert_ne!(a, b, "objects start at different validators");
        let mut d = a.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), 3);
        assert_eq!(cfg.stores(&Hash32([0; 32]), &set(2)), Err(VaultError::TooFewStores { have: 2, need: 3 }));
    }

    #[test]
    fn manifests_must_fit_the_configuration() {
        let cfg = VaultConfig::default();
        let len = 3 * cfg.stripe_bytes() + 1;
        assert_eq!(cfg.stripes(len), 4);
        assert_eq!(cfg.stripes(0), 1);
        let good = manifest(&cfg, len);
        assert_eq!(good.check(&cfg), Ok(()));
        assert_eq!(good.stripes(), 4);
        assert_eq!(good.fragment_hash(3, 2), Some(Hash32([0; 32])));
        assert_eq!(good.fragment_hash(4, 0), None);
        assert_eq!(good.fragment_hash(0, 3), None);
        let mut m = good.clone();
        m.fragment_hashes.pop();
        assert!(m.check(&cfg).is_err());
        let mut m = good.clone();
        m.stores[1] = m.stores[0];
        assert!(m.check(&cfg).is_err());
        let mut m = good.clone();
        m.threshold = 1;
        assert!(m.check(&cfg).is_err());
        let mut m = good;
        m.ciphertext_len = cfg.object_bytes_max + 1;
        assert!(m.check(&cfg).is_err());
        assert!(VaultConfig { shard_bytes: 3, ..cfg }.check().is_err());
        assert!(VaultConfig { threshold: 3, ..cfg }.check().is_err());
    }

    #[test]
    fn store_and_fetch_requests_are_signed_over_everything() {
        let key = SecretKey::from_seed([5; 32]);
        let at = FragmentRef {
            user_id: UserId::new("bob").unwrap(),
            owner: Address([2; 20]),
            object_id: Hash32([7; 32]),
            index: 1,
            first_stripe: 0,
        };
        let binding = RequestBinding {
            chain_id: ChainId::new("vigil-test").unwrap(),
            node: NodeId::from_public_key(&SecretKey::from_seed([6; 32]).public_key()),
            issued_ms: 1_000,
            nonce: 42,
        };
        let req = StoreRequest::sign(at.clone(), vec![vec![1, 2], vec![3, 4]], binding.clone(), &key);
        assert_eq!(req.verify(), Ok(()));
        let mut tampered = req.clone();
        tampered.shards[1][0] ^= 1;
        assert!(tampered.verify().is_err());
        let mut moved = req.clone();
        moved.at.index = 2;
        assert!(moved.verify().is_err());
        // Another node, another time, another nonce: each breaks the signature.
        let mut elsewhere = req.clone();
        elsewhere.binding.node = NodeId::default();
        assert!(elsewhere.verify().is_err());
        let mut again = req;
        again.binding.nonce += 1;
        assert!(again.verify().is_err());
        let fetch = FetchRequest::sign(at, 2, binding, &key);
        assert_eq!(fetch.verify(), Ok(()));
        let mut later = fetch;
        later.binding.issued_ms += 1;
        assert!(later.verify().is_err());
    }
}
