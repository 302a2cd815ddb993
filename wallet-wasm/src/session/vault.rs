//! The vault over the network: register a user id, upload an object (encrypt, code,
//! send shard `i` of every stripe to store `i` through the gateway, commit the manifest),
//! list objects and download one (fetch shards store by store until every stripe has k
//! that match the proven manifest, rebuild, decrypt). Every chain read is proven.

use std::collections::BTreeMap;

use serde::Serialize;
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::sealed::PlainRequest;
use vigil_protocol::{
    FetchRequest, FragmentRef, Hash32, NodeId, Payload, RequestBinding, SecretKey, StateKey, StoreRequest, TxHash,
    TxStatus, UserId, UserRecord, VaultConfig, VaultManifest,
};
use zeroize::Zeroizing;

use crate::detector::Verdict;
use crate::keys::WalletSeed;
use crate::platform::{Platform, PlatformRng};
use crate::session::{node_error, Session, WalletError};
use crate::vault::{self, VaultClientError};

/// Shard bytes per call through the gateway (its body limit, after base64, is 1 MiB).
const SHARD_BYTES_PER_CALL: u64 = 512 * 1024;

/// What the progress callback is told: the phase, and how far it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Encrypt,
    Encode,
    Upload,
    Commit,
    Download,
    Decrypt,
}

/// Where each shard went (or came from): store, shards, bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreUse {
    pub node: NodeId,
    pub index: u8,
    pub shards: u32,
    /// Why this store was not (fully) used, if so.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadReport {
    pub object_id: Hash32,
    pub manifest_tx: TxHash,
    pub plaintext_len: u64,
    pub ciphertext_len: u64,
    pub k: u8,
    pub n: u8,
    pub stores: Vec<StoreUse>,
    pub how_verified: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownloadReport {
    pub object_id: Hash32,
    pub plaintext_len: u64,
    pub stores: Vec<StoreUse>,
    /// Shards whose hash did not match the manifest (refused, others used instead).
    pub tampered_shards: usize,
    pub how_verified: String,
}

impl From<VaultClientError> for WalletError {
    fn from(e: VaultClientError) -> Self {
        WalletError::Vault(e.to_string())
    }
}

impl<T: Platform> Session<T> {
    /// The chain's serialization factor, proven.
    pub async fn vault_config(&mut self) -> Result<VaultConfig, WalletError> {
        let (cfg, _) = self.proven::<VaultConfig>(&StateKey::VaultConfig).await?;
        cfg.ok_or_else(|| WalletError::BadAnswer("the chain has no vault configuration".into()))
    }

    /// Makes sure `user_id` is registered to `key`'s account (registers it if free).
    /// Binds a vault request to this chain, one node, now and a fresh nonce, so that it
    /// is served once, by that node only.
    fn binding(&self, node: &NodeId) -> RequestBinding {
        RequestBinding {
            chain_id: self.light.chain_id().clone(),
            node: *node,
            issued_ms: self.client.platform().now_ms(),
            nonce: crate::vault::new_nonce(&mut PlatformRng(self.client.platform())),
        }
    }

    pub async fn register_user(&mut self, key: &SecretKey, user_id: &UserId) -> Result<(), WalletError> {
        let me =
            UserRecord { account: vigil_protocol::Address::from_public_key(&key.public_key()), key: key.public_key() };
        match self.proven::<UserRecord>(&StateKey::User(user_id.clone())).await?.0 {
            Some(r) if r == me => return Ok(()),
            Some(_) => return Err(WalletError::Vault(format!("user id `{user_id}` is registered to another account"))),
            None => {}
        }
        let fee = vigil_protocol::limits::REGISTER_USER_FEE_MIN;
        let tx = self.sign(key, Payload::RegisterUser(user_id.clone()), fee).await?;
        self.committed(key, &tx).await.map(|_| ())
    }

    /// Submits to every node and requires that the agreeing receipts say Success.
    async fn committed(
        &mut self,
        key: &SecretKey,
        tx: &vigil_protocol::SignedTransaction,
    ) -> Result<String, WalletError> {
        let report = self.submit_everywhere(key, tx).await?;
        let status = report
            .nodes
            .iter()
            .filter(|n| n.verdict == Verdict::Agrees)
            .find_map(|n| n.receipt.as_ref())
            .map(|r| r.receipt.entry.status)
            .ok_or(WalletError::NoValidator)?;
        if status != TxStatus::Success {
            return Err(WalletError::Vault(format!("the chain refused the transaction: {status:?}")));
        }
        Ok(report.how_verified)
    }

    /// Encrypts `plaintext`, codes it, uploads shard `i` of every stripe to store `i`,
    /// and commits the manifest. `progress(phase, done, total)` follows each step.
    pub async fn vault_upload(
        &mut self,
        seed: &WalletSeed,
        account: u32,
        user_id: &UserId,
        label: &str,
        plaintext: &[u8],
        progress: &mut dyn FnMut(Phase, u64, u64),
    ) -> Result<UploadReport, WalletError> {
        let key = seed.account(account).map_err(|e| WalletError::Vault(e.to_string()))?.key;
        let owner = vigil_protocol::Address::from_public_key(&key.public_key());
        let cfg = self.vault_config().await?;
        let len = vault::ciphertext_len(plaintext.len() as u64, cfg.chunk_bytes);
        if len > cfg.object_bytes_max {
            return Err(VaultClientError::TooLarge { len, max: cfg.object_bytes_max }.into());
        }
        self.register_user(&key, user_id).await?;
        let mut rng = PlatformRng(self.client.platform());
        let object_id = vault::new_object_id(&mut rng);
        let object_key = vault::object_key(seed, &object_id);
        let ct = vault::encrypt(&object_key, &object_id, cfg.chunk_bytes, plaintext, &mut rng, |d, t| {
            progress(Phase::Encrypt, d, t)
        })?;
        progress(Phase::Encode, 0, 1);
        let stripes = vault::split(&cfg, &ct)?;
        progress(Phase::Encode, 1, 1);
        let stores = cfg.stores(&object_id, self.light.current_set()).map_err(|e| WalletError::Vault(e.to_string()))?;
        let per_call = (SHARD_BYTES_PER_CALL / u64::from(cfg.shard_bytes)).max(1) as usize;
        let total = (stripes.len() * stores.len()) as u64;
        let mut sent = 0u64;
        let mut used = Vec::new();
        for (index, node) in stores.iter().enumerate() {
            let index = index as u8;
            for first in (0..stripes.len()).step_by(per_call) {
                let shards: Vec<Vec<u8>> = stripes[first..(first + per_call).min(stripes.len())]
                    .iter()
                    .map(|s| s[usize::from(index)].clone())
                    .collect();
                let count = shards.len() as u64;
                let at = FragmentRef { user_id: user_id.clone(), owner, object_id, index, first_stripe: first as u32 };
                let body = to_bytes(&StoreRequest::sign(at, shards, self.binding(node), &key));
                let request = PlainRequest::new("POST", "/v1/vault/store", Some("application/octet-stream"), body);
                let r = self.send_sealed(node, &request).await?;
                if r.status != 200 {
                    return Err(node_error(r.status, &r.body));
                }
                sent += count;
                progress(Phase::Upload, sent, total);
            }
            used.push(StoreUse { node: *node, index, shards: stripes.len() as u32, problem: None });
        }
        let manifest = vault::manifest(
            &cfg,
            object_id,
            owner,
            user_id.clone(),
            stores,
            plaintext.len() as u64,
            len,
            &stripes,
            label.to_string(),
        );
        progress(Phase::Commit, 0, 1);
        let tx = self.sign(&key, Payload::CommitManifest(Box::new(manifest.clone())), 1).await?;
        let how = self.committed(&key, &tx).await?;
        progress(Phase::Commit, 1, 1);
        Ok(UploadReport {
            object_id,
            manifest_tx: tx.hash(),
            plaintext_len: plaintext.len() as u64,
            ciphertext_len: len,
            k: cfg.threshold,
            n: cfg.fragments,
            stores: used,
            how_verified: format!("manifest committed: {how}"),
        })
    }

    /// The manifests of `owner`'s objects, each proven.
    pub async fn vault_list(&mut self, owner: &vigil_protocol::Address) -> Result<Vec<VaultManifest>, WalletError> {
        let (ids, _) = self.proven::<Vec<Hash32>>(&StateKey::Objects(*owner)).await?;
        let mut out = Vec::new();
        for id in ids.unwrap_or_default() {
            if let (Some(m), _) = self.proven::<VaultManifest>(&StateKey::Manifest(id)).await? {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// Downloads object `object_id` of account `account`: any k intact shards per
    /// stripe, checked against the proven manifest, rebuilt and decrypted here.
    pub async fn vault_download(
        &mut self,
        seed: &WalletSeed,
        account: u32,
        object_id: &Hash32,
        progress: &mut dyn FnMut(Phase, u64, u64),
    ) -> Result<(Zeroizing<Vec<u8>>, DownloadReport), WalletError> {
        let key = seed.account(account).map_err(|e| WalletError::Vault(e.to_string()))?.key;
        let owner = vigil_protocol::Address::from_public_key(&key.public_key());
        let (m, verification) = self.proven::<VaultManifest>(&StateKey::Manifest(*object_id)).await?;
        let m = m.ok_or_else(|| WalletError::Vault(format!("no object {object_id} on chain")))?;
        if m.owner != owner {
            return Err(WalletError::Vault("this object belongs to another account".into()));
        }
        let stripes = m.stripes();
        let k = usize::from(m.threshold);
        let per_call = (SHARD_BYTES_PER_CALL / u64::from(m.shard_bytes.max(1))).max(1) as u32;
        let mut have: BTreeMap<u32, BTreeMap<u8, Vec<u8>>> = BTreeMap::new();
        let good = |have: &BTreeMap<u32, BTreeMap<u8, Vec<u8>>>, s: u32| {
            have.get(&s).map_or(0, |x| {
                x.iter()
                    .filter(|(i, b)| m.fragment_hash(s, **i) == Some(vigil_protocol::vault::fragment_hash(b)))
                    .count()
            })
        };
        let mut used = Vec::new();
        let total = (stripes * k) as u64;
        for (index, node) in m.stores.iter().enumerate() {
            let index = index as u8;
            let needed: Vec<u32> = (0..stripes as u32).filter(|s| good(&have, *s) < k).collect();
            if needed.is_empty() {
                break;
            }
            let mut got = 0u32;
            let mut problem = None;
            let mut first = needed[0];
            while first < stripes as u32 {
                let count = per_call.min(stripes as u32 - first);
                let at = FragmentRef {
                    user_id: m.user_id.clone(),
                    owner,
                    object_id: *object_id,
                    index,
                    first_stripe: first,
                };
                let body = to_bytes(&FetchRequest::sign(at, count, self.binding(node), &key));
                let request = PlainRequest::new("POST", "/v1/vault/fetch", Some("application/octet-stream"), body);
                let answer = match self.send_sealed(node, &request).await {
                    Ok(r) if r.status == 200 => from_bytes::<Vec<Vec<u8>>>(&r.body).map_err(|e| e.to_string()),
                    Ok(r) => Err(node_error(r.status, &r.body).to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match answer {
                    Ok(shards) if !shards.is_empty() => {
                        for (i, s) in shards.into_iter().enumerate() {
                            have.entry(first + i as u32).or_default().insert(index, s);
                            got += 1;
                        }
                    }
                    Ok(_) => {
                        problem = Some("holds none of the shards".to_string());
                        break;
                    }
                    Err(e) => {
                        problem = Some(e);
                        break;
                    }
                }
                first += count;
                let done: u64 = (0..stripes as u32).map(|s| good(&have, s).min(k) as u64).sum();
                progress(Phase::Download, done, total);
            }
            used.push(StoreUse { node: *node, index, shards: got, problem });
        }
        let (ct, tampered) = vault::rebuild(&m, &have)?;
        progress(Phase::Decrypt, 0, 1);
        let plain = vault::decrypt(&vault::object_key(seed, object_id), object_id, m.chunk_bytes, &ct)?;
        if plain.len() as u64 != m.plaintext_len {
            return Err(WalletError::Vault("the rebuilt object does not have the manifest's length".into()));
        }
        progress(Phase::Decrypt, 1, 1);
        Ok((
            plain,
            DownloadReport {
                object_id: *object_id,
                plaintext_len: m.plaintext_len,
                stores: used,
                tampered_shards: tampered,
                how_verified: format!(
                    "manifest proven against certified height {} ({}); every shard used matches its hash in the manifest; the plaintext authenticated by XChaCha20-Poly1305",
                    verification.height.map(|h| h.0).unwrap_or(0),
                    verification.method
                ),
            },
        ))
    }
}
