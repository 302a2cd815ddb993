//! The vault's object-store backend against a real S3-protocol server (`s3s-fs`, a
//! process with SigV4 authentication), configured with the `[vault]` section an
//! operator writes in `node.toml`: store, fetch, quotas, bad credentials, and a server
//! stopped in the middle of an upload (a typed error; what could not be removed stays
//! counted, so a quota is never bypassed; the owner's retry is counted once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_e2e::{S3Server, TempDir};
use vigil_node::capability::vault::{self, FragmentStore, FragmentStoreError, ShardKey, VaultStoreConfig};
use vigil_protocol::{Address, Hash32};

const BUCKET: &str = "vigil-fragments";
const OWNER: Address = Address([1; 20]);

/// The `[vault]` section of a node.toml pointing at `s3`, parsed as the node parses it.
fn operator_config(s3: &S3Server, secret: &str) -> anyhow::Result<VaultStoreConfig> {
    let text = format!(
        r#"
[vault]
object_store_url = "s3://{BUCKET}/node-0"

[vault.object_store_options]
endpoint = "{}"
region = "us-east-1"
allow_http = "true"
access_key_id = "{}"
secret_access_key = "{secret}"
"#,
        s3.endpoint(),
        s3.access_key,
    );
    let table: toml::Table = toml::from_str(&text)?;
    Ok(table["vault"].clone().try_into()?)
}

fn key(stripe: u32) -> ShardKey {
    ShardKey { owner: OWNER, object_id: Hash32([2; 32]), index: 1, stripe }
}

fn data_dir(name: &str) -> anyhow::Result<TempDir> {
    let dir = std::env::temp_dir().join(format!("vigil-s3-node-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(TempDir(dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_quotas_and_credentials_on_a_real_s3_server() -> anyhow::Result<()> {
    let s3 = S3Server::start(BUCKET).await?;
    let dir = data_dir("basic")?;
    let store = vault::open(&dir.0, &operator_config(&s3, &s3.secret_key)?)?;
    store.put(key(0), &[vec![1; 10], vec![2; 10]], 100).await?;
    assert_eq!(store.get(key(0), 5).await?, vec![vec![1; 10], vec![2; 10]], "stops at the first gap");
    assert_eq!(store.usage(&OWNER)?, 20);
    assert_eq!(s3.objects(BUCKET), 2, "one S3 object per shard");
    // Replacing a shard counts once; over the quota nothing changes, at S3 either.
    store.put(key(1), &[vec![3; 30]], 100).await?;
    assert_eq!(store.usage(&OWNER)?, 40);
    let over = store.put(key(2), &[vec![4; 61]], 100).await;
    assert!(matches!(over, Err(FragmentStoreError::Quota { quota: 100 })), "{over:?}");
    assert_eq!(store.get(key(2), 1).await?, Vec::<Vec<u8>>::new());
    assert_eq!((store.usage(&OWNER)?, s3.objects(BUCKET)), (40, 2));
    assert_eq!(store.dump().await?.len(), 40);
    drop(store);
    // Reopened: the usage is the node's, the shards the server's.
    let again = vault::open(&dir.0, &operator_config(&s3, &s3.secret_key)?)?;
    assert_eq!(again.usage(&OWNER)?, 40);
    assert_eq!(again.get(key(1), 1).await?, vec![vec![3; 30]]);

    // A wrong secret: the server refuses, the store says so, nothing is counted.
    let other = data_dir("bad-secret")?;
    let refused = vault::open(&other.0, &operator_config(&s3, "not-the-secret")?)?;
    let r = refused.put(key(5), &[vec![5; 10]], 100).await;
    assert!(matches!(r, Err(FragmentStoreError::Unavailable(_))), "{r:?}");
    assert_eq!((refused.usage(&OWNER)?, s3.objects(BUCKET)), (0, 2));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_mid_upload_is_a_typed_error_and_usage_never_below_what_is_held() -> anyhow::Result<()> {
    const SHARDS: usize = 64;
    let mut s3 = S3Server::start(BUCKET).await?;
    let dir = data_dir("mid-upload")?;
    let store: Arc<dyn FragmentStore> = vault::open(&dir.0, &operator_config(&s3, &s3.secret_key)?)?;
    store.put(key(0), &[vec![1; 10]], u64::MAX).await?;
    let shards: Arc<Vec<Vec<u8>>> = Arc::new((0..SHARDS).map(|i| vec![i as u8; 1 << 20]).collect());
    let upload = {
        let (store, shards) = (store.clone(), shards.clone());
        tokio::spawn(async move { store.put(key(100), &shards, u64::MAX).await })
    };
    // The first shard of the upload lands: pull the plug.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s3.objects(BUCKET) < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    s3.kill();
    let r = upload.await?;
    assert!(matches!(r, Err(FragmentStoreError::Unavailable(_))), "the upload fails with a typed error: {r:?}");
    let counted = store.usage(&OWNER)?;
    // The server back: the node counts what the server holds (the shards written
    // before it stopped could not be removed while it was down), never less, and at most
    // the one shard whose write was in doubt more.
    s3.resume().await?;
    let held = 10 + ((store.get(key(100), SHARDS as u32).await?.len() as u64) << 20);
    assert!(held < 10 + ((SHARDS as u64) << 20), "the upload was cut short");
    assert!(counted >= held && counted <= held + (1 << 20), "counted {counted}, held {held}");
    // The owner's retry goes through and is counted once (give or take that shard).
    store.put(key(100), &shards, u64::MAX).await?;
    let all = 10 + ((SHARDS as u64) << 20);
    let after = store.usage(&OWNER)?;
    assert!(after >= all && after <= all + (1 << 20), "counted {after}, held {all}");
    assert_eq!(store.get(key(100), SHARDS as u32).await?.len(), SHARDS);
    Ok(())
}
