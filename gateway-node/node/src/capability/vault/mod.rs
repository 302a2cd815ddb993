//! A node's ciphertext database for vault fragments, apart from the chain's database:
//! the [`FragmentStore`] trait with an embedded default (its own redb file) and an `object_store`
//! backend (S3-compatible storage, or a local directory) for operators who keep bulk
//! data elsewhere. Per-account usage is kept next to it, for quotas.
//!
//! Only ciphertext arrives here: the wallet encrypts and erasure-codes before upload.
//! Every store and fetch is authenticated against the chain (see `api::vault_*`).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use vigil_protocol::{Address, Hash32};

const SHARDS: TableDefinition<&str, &[u8]> = TableDefinition::new("shards");
const USAGE: TableDefinition<&[u8; 20], u64> = TableDefinition::new("usage");

/// Where a node keeps fragments (`[vault]` in node.toml).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultStoreConfig {
    /// `None`: the embedded store (`fragments.redb` in the data directory). Otherwise an
    /// object-store URL: `s3://bucket/prefix` (credentials and endpoint from the usual
    /// `AWS_*` environment variables) or `file:///absolute/dir`.
    #[serde(default)]
    pub object_store_url: Option<String>,
    /// Options of that store, over the environment's: for S3, `endpoint`, `region`,
    /// `allow_http` (`"true"` for a loopback server), `access_key_id`,
    /// `secret_access_key` (better from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`).
    #[serde(default)]
    pub object_store_options: std::collections::BTreeMap<String, String>,
}

/// Retries of one object-store request before a store or fetch fails (the client's
/// default is 10 over up to 3 minutes: a request would hang that long on a dead store).
pub const OBJECT_STORE_RETRIES_MAX: usize = 2;
/// How long one object-store request, retries included, may take.
pub const OBJECT_STORE_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum FragmentStoreError {
    #[error("fragment database: {0}")]
    Db(String),
    #[error("object store: {0}")]
    Objects(String),
    /// The object store did not take a write (down, refusing, timed out): nothing of
    /// the store request is recorded.
    #[error("the fragment store is unavailable: {0}")]
    Unavailable(String),
    #[error("the account's vault quota ({quota} bytes) would be exceeded")]
    Quota { quota: u64 },
}

fn db<E: std::fmt::Display>(e: E) -> FragmentStoreError {
    FragmentStoreError::Db(e.to_string())
}

/// Shard `index` of stripe `stripe` of one object of one owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardKey {
    pub owner: Address,
    pub object_id: Hash32,
    pub index: u8,
    pub stripe: u32,
}

impl ShardKey {
    fn name(&self) -> String {
        format!("{}/{}/{}/{:08}", self.owner, self.object_id, self.index, self.stripe)
    }

    /// The keys of `count` stripes from this one on.
    fn run(self, count: usize) -> impl Iterator<Item = ShardKey> {
        (0..count).map(move |i| ShardKey { stripe: self.stripe.saturating_add(i as u32), ..self })
    }
}

/// Vault requests served within the last [`vigil_protocol::vault::REQUEST_WINDOW_MS`],
/// by (issued time, signer, nonce): a request is served once. Older entries are
/// forgotten (the window refuses their requests anyway); the whole set is bounded.
#[derive(Debug, Default)]
pub struct SeenRequests {
    seen: std::sync::Mutex<std::collections::BTreeSet<(u64, [u8; 32], u64)>>,
}

/// Vault requests remembered at once; beyond this the node asks clients to retry.
pub const SEEN_REQUESTS_MAX: usize = 1 << 18;

/// Why a vault request's binding was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    Seen,
    Full,
}

impl SeenRequests {
    /// Records a request; refuses one already seen.
    pub fn admit(&self, issued_ms: u64, signer: [u8; 32], nonce: u64, now_ms: u64) -> Result<(), Replay> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let oldest = now_ms.saturating_sub(vigil_protocol::vault::REQUEST_WINDOW_MS);
        *seen = seen.split_off(&(oldest, [0; 32], 0));
        if seen.contains(&(issued_ms, signer, nonce)) {
            return Err(Replay::Seen);
        }
        if seen.len() >= SEEN_REQUESTS_MAX {
            return Err(Replay::Full);
        }
        seen.insert((issued_ms, signer, nonce));
        Ok(())
    }
}

/// What a store's async operations return.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, FragmentStoreError>> + Send + 'a>>;

/// A node's ciphertext database for vault shards. Implementations: [`EmbeddedStore`]
/// (its own redb file) and [`ObjectStoreFragments`] (any `object_store`: S3-compatible
/// services, a directory). Usage per account is kept for quotas.
pub trait FragmentStore: Send + Sync {
    /// Stores `shards` for stripes `first.stripe ..`, keeping `first.owner` within
    /// `quota` bytes (a replaced shard counts once); over quota, nothing changes.
    fn put<'a>(&'a self, first: ShardKey, shards: &'a [Vec<u8>], quota: u64) -> StoreFuture<'a, ()>;
    /// The shards of stripes `first.stripe .. + count` held here, in order, up to the
    /// first missing one.
    fn get(&self, first: ShardKey, count: u32) -> StoreFuture<'_, Vec<Vec<u8>>>;
    /// Bytes stored for `owner`.
    fn usage(&self, owner: &Address) -> Result<u64, FragmentStoreError>;
    /// Every stored byte of every shard (tests check that no plaintext is among them).
    fn dump(&self) -> StoreFuture<'_, Vec<u8>>;
}

/// Opens (or creates) the store `cfg` names, in `data_dir`.
pub fn open(data_dir: &Path, cfg: &VaultStoreConfig) -> Result<Arc<dyn FragmentStore>, FragmentStoreError> {
    let index = open_index(data_dir)?;
    Ok(match &cfg.object_store_url {
        None => Arc::new(EmbeddedStore { db: index }),
        Some(url) => {
            let objects = |e: String| FragmentStoreError::Objects(format!("{url}: {e}"));
            let parsed = url::Url::parse(url).map_err(|e| objects(e.to_string()))?;
            let (store, prefix) =
                open_objects(&parsed, &cfg.object_store_options).map_err(|e| objects(e.to_string()))?;
            let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
                Arc::from(store)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            };
            Arc::new(ObjectStoreFragments { usage: index, objects: store })
        }
    })
}

/// The object store a URL names, with `options` over the environment's `AWS_*` (S3:
/// bounded retries and request time, see [`OBJECT_STORE_RETRIES_MAX`]), and the prefix
/// inside it.
fn open_objects(
    url: &url::Url,
    options: &std::collections::BTreeMap<String, String>,
) -> Result<(Box<dyn ObjectStore>, ObjectPath), object_store::Error> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    if url.scheme() != "s3" {
        let env = std::env::vars().map(|(k, v)| (k.to_ascii_lowercase(), v));
        return object_store::parse_url_opts(url, env.chain(options.clone()));
    }
    let retry = object_store::RetryConfig {
        max_retries: OBJECT_STORE_RETRIES_MAX,
        retry_timeout: OBJECT_STORE_REQUEST_TIMEOUT,
        ..Default::default()
    };
    let timeout = format!("{}s", OBJECT_STORE_REQUEST_TIMEOUT.as_secs());
    // Set as keys (not `with_client_options`, which would drop what the environment and
    // the options set, such as `allow_http`); the operator's options come last.
    let mut builder = AmazonS3Builder::from_env().with_url(url.as_str()).with_retry(retry);
    for key in ["timeout", "connect_timeout"] {
        builder = builder.with_config(key.parse()?, &timeout);
    }
    for (key, value) in options {
        let key: AmazonS3ConfigKey = key.parse()?;
        builder = builder.with_config(key, value);
    }
    let store = builder.build()?;
    let prefix = ObjectPath::from_url_path(url.path())?;
    Ok((Box::new(store), prefix))
}

/// The embedded store's file (and the usage index of an object-store backend).
const INDEX_FILE: &str = "fragments.redb";

/// Whether `data_dir` has a fragment store yet (before [`open`] creates one).
pub fn index_exists(data_dir: &Path) -> bool {
    data_dir.join(INDEX_FILE).exists()
}

fn open_index(data_dir: &Path) -> Result<redb::Database, FragmentStoreError> {
    let index = redb::Database::create(data_dir.join(INDEX_FILE)).map_err(db)?;
    let tx = index.begin_write().map_err(db)?;
    tx.open_table(SHARDS).map_err(db)?;
    tx.open_table(USAGE).map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(index)
}

fn usage_in(index: &redb::Database, owner: &Address) -> Result<u64, FragmentStoreError> {
    let tx = index.begin_read().map_err(db)?;
    let t = tx.open_table(USAGE).map_err(db)?;
    Ok(t.get(&owner.0).map_err(db)?.map(|v| v.value()).unwrap_or(0))
}

/// Counts `shards` (replacing `replaced` bytes) against the owner's quota: checked and
/// written in one write transaction, so concurrent stores cannot pass the check together.
fn reserve(
    index: &redb::Database,
    owner: &Address,
    replaced: u64,
    shards: &[Vec<u8>],
    quota: u64,
) -> Result<(), FragmentStoreError> {
    let added: u64 = shards.iter().map(|s| s.len() as u64).sum();
    let tx = index.begin_write().map_err(db)?;
    {
        let mut usage = tx.open_table(USAGE).map_err(db)?;
        let before = usage.get(&owner.0).map_err(db)?.map_or(0, |u| u.value());
        let after = before.saturating_sub(replaced).saturating_add(added);
        if after > quota {
            return Err(FragmentStoreError::Quota { quota });
        }
        usage.insert(&owner.0, after).map_err(db)?;
    }
    tx.commit().map_err(db)
}

/// Adds `delta` (negative: takes it off, down to 0) to the bytes counted for `owner`.
fn adjust_usage(index: &redb::Database, owner: &Address, delta: i128) -> Result<(), FragmentStoreError> {
    let tx = index.begin_write().map_err(db)?;
    {
        let mut usage = tx.open_table(USAGE).map_err(db)?;
        let now = usage.get(&owner.0).map_err(db)?.map_or(0, |u| u.value());
        let after = (i128::from(now) + delta).clamp(0, i128::from(u64::MAX));
        usage.insert(&owner.0, after as u64).map_err(db)?;
    }
    tx.commit().map_err(db)
}

/// The embedded default: shards and usage in the node's own `fragments.redb`.
pub struct EmbeddedStore {
    db: redb::Database,
}

impl EmbeddedStore {
    fn shard(&self, k: &ShardKey) -> Result<Option<Vec<u8>>, FragmentStoreError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(SHARDS).map_err(db)?;
        Ok(t.get(k.name().as_str()).map_err(db)?.map(|v| v.value().to_vec()))
    }
}

impl FragmentStore for EmbeddedStore {
    fn put<'a>(&'a self, first: ShardKey, shards: &'a [Vec<u8>], quota: u64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            // Check and update in one write transaction (redb runs one at a time), so
            // concurrent stores cannot all pass the quota check before any is counted.
            let tx = self.db.begin_write().map_err(db)?;
            {
                let mut t = tx.open_table(SHARDS).map_err(db)?;
                let mut replaced = 0u64;
                for k in first.run(shards.len()) {
                    replaced += t.get(k.name().as_str()).map_err(db)?.map_or(0, |b| b.value().len() as u64);
                }
                let mut usage = tx.open_table(USAGE).map_err(db)?;
                let before = usage.get(&first.owner.0).map_err(db)?.map_or(0, |u| u.value());
                let added: u64 = shards.iter().map(|s| s.len() as u64).sum();
                let after = before.saturating_sub(replaced).saturating_add(added);
                if after > quota {
                    return Err(FragmentStoreError::Quota { quota });
                }
                for (k, bytes) in first.run(shards.len()).zip(shards) {
                    t.insert(k.name().as_str(), bytes.as_slice()).map_err(db)?;
                }
                usage.insert(&first.owner.0, after).map_err(db)?;
            }
            tx.commit().map_err(db)
        })
    }

    fn get(&self, first: ShardKey, count: u32) -> StoreFuture<'_, Vec<Vec<u8>>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for k in first.run(count as usize) {
                match self.shard(&k)? {
                    Some(b) => out.push(b),
                    None => break,
                }
            }
            Ok(out)
        })
    }

    fn usage(&self, owner: &Address) -> Result<u64, FragmentStoreError> {
        usage_in(&self.db, owner)
    }

    fn dump(&self) -> StoreFuture<'_, Vec<u8>> {
        Box::pin(async move {
            let tx = self.db.begin_read().map_err(db)?;
            let t = tx.open_table(SHARDS).map_err(db)?;
            let mut all = Vec::new();
            for row in t.iter().map_err(db)? {
                all.extend_from_slice(row.map_err(db)?.1.value());
            }
            Ok(all)
        })
    }
}

/// Shards as objects in an `object_store` (one object per shard); usage in
/// `fragments.redb`.
pub struct ObjectStoreFragments {
    usage: redb::Database,
    objects: Arc<dyn ObjectStore>,
}

fn objects_err(e: object_store::Error) -> FragmentStoreError {
    FragmentStoreError::Objects(e.to_string())
}

impl FragmentStore for ObjectStoreFragments {
    fn put<'a>(&'a self, first: ShardKey, shards: &'a [Vec<u8>], quota: u64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let unavailable = |e: object_store::Error| FragmentStoreError::Unavailable(e.to_string());
            let mut before = Vec::with_capacity(shards.len());
            for k in first.run(shards.len()) {
                match self.objects.head(&ObjectPath::from(k.name())).await {
                    Ok(meta) => before.push(meta.size),
                    Err(object_store::Error::NotFound { .. }) => before.push(0),
                    Err(e) => return Err(unavailable(e)),
                }
            }
            // Counted first, so concurrent stores cannot pass the quota together.
            let replaced: u64 = before.iter().sum();
            reserve(&self.usage, &first.owner, replaced, shards, quota)?;
            for (written, (k, bytes)) in first.run(shards.len()).zip(shards).enumerate() {
                let put = self.objects.put(&ObjectPath::from(k.name()), PutPayload::from(bytes.clone())).await;
                let Err(e) = put else { continue };
                // Failed: remove what this request wrote, the shard in doubt included
                // (its answer was lost, not necessarily its write), then count what the
                // store may still hold of it: a shard that could not be removed (the
                // store is down) stays counted, so usage is never below what is held.
                let mut held = 0i128;
                for (k, bytes) in first.run(written + 1).zip(shards) {
                    if self.objects.delete(&ObjectPath::from(k.name())).await.is_err() {
                        held += bytes.len() as i128;
                    }
                }
                let reserved = shards.iter().map(|s| s.len() as i128).sum::<i128>() - replaced as i128;
                let before_written: i128 = before[..=written].iter().map(|b| i128::from(*b)).sum();
                adjust_usage(&self.usage, &first.owner, held - before_written - reserved)?;
                return Err(unavailable(e));
            }
            Ok(())
        })
    }

    fn get(&self, first: ShardKey, count: u32) -> StoreFuture<'_, Vec<Vec<u8>>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for k in first.run(count as usize) {
                match self.objects.get(&ObjectPath::from(k.name())).await {
                    Ok(r) => out.push(r.bytes().await.map_err(objects_err)?.to_vec()),
                    Err(object_store::Error::NotFound { .. }) => break,
                    Err(e) => return Err(objects_err(e)),
                }
            }
            Ok(out)
        })
    }

    fn usage(&self, owner: &Address) -> Result<u64, FragmentStoreError> {
        usage_in(&self.usage, owner)
    }

    fn dump(&self) -> StoreFuture<'_, Vec<u8>> {
        Box::pin(async move {
            use futures::TryStreamExt;
            let metas: Vec<_> = self.objects.list(None).try_collect().await.map_err(objects_err)?;
            let mut all = Vec::new();
            for m in metas {
                let r = self.objects.get(&m.location).await.map_err(objects_err)?;
                all.extend_from_slice(&r.bytes().await.map_err(objects_err)?);
            }
            Ok(all)
        })
    }
}

pub mod api;
pub mod repair;

#[cfg(test)]
mod tests {
    use super::*;

    fn key(stripe: u32) -> ShardKey {
        ShardKey { owner: Address([1; 20]), object_id: Hash32([2; 32]), index: 3, stripe }
    }

    async fn round_trip(store: Arc<dyn FragmentStore>) {
        store.put(key(0), &[vec![1; 10], vec![2; 10]], 100).await.unwrap();
        assert_eq!(store.get(key(0), 5).await.unwrap(), vec![vec![1; 10], vec![2; 10]], "stops at the first gap");
        assert_eq!(store.get(key(1), 1).await.unwrap(), vec![vec![2; 10]]);
        assert_eq!(store.usage(&Address([1; 20])).unwrap(), 20);
        // Replacing a shard counts once; going over the quota changes nothing.
        store.put(key(1), &[vec![3; 30]], 100).await.unwrap();
        assert_eq!(store.usage(&Address([1; 20])).unwrap(), 40);
        assert!(matches!(store.put(key(2), &[vec![4; 61]], 100).await, Err(FragmentStoreError::Quota { quota: 100 })));
        assert_eq!(store.get(key(2), 1).await.unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(store.usage(&Address([1; 20])).unwrap(), 40);
        let dump = store.dump().await.unwrap();
        assert_eq!(dump.len(), 40);
    }

    #[tokio::test]
    async fn embedded_store_keeps_shards_and_quotas() {
        let dir = tempfile::tempdir().unwrap();
        round_trip(open(dir.path(), &VaultStoreConfig::default()).unwrap()).await;
        // Reopened from disk: still there.
        let again = open(dir.path(), &VaultStoreConfig::default()).unwrap();
        assert_eq!(again.usage(&Address([1; 20])).unwrap(), 40);
        assert_eq!(again.get(key(0), 1).await.unwrap(), vec![vec![1; 10]]);
    }

    #[tokio::test]
    async fn object_store_backend_keeps_shards_and_quotas() {
        let dir = tempfile::tempdir().unwrap();
        let objects = tempfile::tempdir().unwrap();
        let cfg = VaultStoreConfig {
            object_store_url: Some(format!("file://{}", objects.path().display())),
            ..Default::default()
        };
        round_trip(open(dir.path(), &cfg).unwrap()).await;
        let files = walk(objects.path());
        assert_eq!(files, 2, "one object per shard in the object store");
    }

    fn walk(p: &Path) -> usize {
        std::fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).map(|p| if p.is_dir() { walk(&p) } else { 1 }).sum()
    }
}
