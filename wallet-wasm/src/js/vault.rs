//! The vault's JS API (feature `js-vault`: the package's `vigil-wallet/vault` entry, a
//! second build of this crate, so that apps that only sign and verify load a smaller
//! module): upload, download and list, with progress callbacks, and `vaultPrepare`.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use vigil_protocol::{Address, Hash32};

use super::{busy, error, to_js, wallet_error, VigilClient, Wallet};
use crate::fetch::Fetch;
use crate::platform::PlatformRng;

/// The vault (feature `js-vault`: the package's `vigil-wallet/vault` entry, a second
/// build of this crate, so that apps that only sign and verify load a smaller module).
#[wasm_bindgen]
impl VigilClient {
    /// Encrypts `bytes` here, splits the ciphertext into n shards per stripe (any k
    /// rebuild it), uploads shard i to store i, and commits the manifest; registers
    /// `userId` to the account first if needed. `onProgress(phase, done, total)` follows
    /// it (`encrypt`, `encode`, `upload`, `commit`). Resolves to the upload report.
    #[wasm_bindgen(js_name = vaultUpload)]
    pub fn vault_upload(
        &self,
        wallet: &Wallet,
        index: u32,
        user_id: String,
        label: String,
        bytes: Vec<u8>,
        on_progress: Option<Function>,
    ) -> Promise {
        let shared = self.session.clone();
        let seed = wallet.0.duplicate();
        future_to_promise(async move {
            let user = vigil_protocol::UserId::new(user_id).map_err(|e| error("BAD_USER_ID", e))?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let r = s.vault_upload(&seed, index, &user, &label, &bytes, &mut progress(on_progress)).await;
            to_js(&r.map_err(wallet_error)?)
        })
    }

    /// Object `objectId` (hex) of `wallet`'s account `index`: shards from any k stores,
    /// each checked against the manifest proven on chain, rebuilt and decrypted here.
    /// Resolves to `{ bytes: Uint8Array, report }`.
    #[wasm_bindgen(js_name = vaultDownload)]
    pub fn vault_download(
        &self,
        wallet: &Wallet,
        index: u32,
        object_id: String,
        on_progress: Option<Function>,
    ) -> Promise {
        let shared = self.session.clone();
        let seed = wallet.0.duplicate();
        future_to_promise(async move {
            let id: Hash32 = object_id.parse().map_err(|_| error("BAD_HASH", "objectId must be 64 hex digits"))?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let r = s.vault_download(&seed, index, &id, &mut progress(on_progress)).await;
            let (bytes, report) = r.map_err(wallet_error)?;
            let out = Object::new();
            let _ = Reflect::set(&out, &"bytes".into(), &js_sys::Uint8Array::from(bytes.as_slice()));
            let _ = Reflect::set(&out, &"report".into(), &to_js(&report)?);
            Ok(out.into())
        })
    }

    /// The manifests of `address`'s stored objects, each proven against a certified header.
    #[wasm_bindgen(js_name = vaultList)]
    pub fn vault_list(&self, address: String) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            let a = Address::parse(&address).map_err(|e| error("BAD_ADDRESS", e))?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let r = s.vault_list(&a).await;
            to_js(&r.map_err(wallet_error)?)
        })
    }
}

/// Encrypts `bytes` for a new object of `wallet` and codes the ciphertext into
/// `n` shards per stripe (any `k` rebuild it) without uploading: the local half of
/// `vaultUpload`, for offline preparation and for measuring. Returns
/// `{ objectId, ciphertextLen, stripes, shards }`.
#[wasm_bindgen(js_name = vaultPrepare)]
pub fn vault_prepare(wallet: &Wallet, bytes: &[u8], k: u8, n: u8) -> Result<JsValue, JsValue> {
    let cfg = vigil_protocol::VaultConfig {
        threshold: k,
        fragments: n,
        object_bytes_max: u64::MAX,
        ..vigil_protocol::VaultConfig::default()
    };
    cfg.check().map_err(|e| error("VAULT", e))?;
    let mut rng = PlatformRng(&Fetch);
    let id = crate::vault::new_object_id(&mut rng);
    let key = crate::vault::object_key(&wallet.0, &id);
    let ct =
        crate::vault::encrypt(&key, &id, cfg.chunk_bytes, bytes, &mut rng, |_, _| {}).map_err(|e| error("VAULT", e))?;
    let stripes = crate::vault::split(&cfg, &ct).map_err(|e| error("VAULT", e))?;
    to_js(&serde_json::json!({
        "objectId": id,
        "ciphertextLen": ct.len(),
        "stripes": stripes.len(),
        "shards": stripes.iter().map(Vec::len).sum::<usize>(),
    }))
}

/// A progress callback for the vault from an optional JS function `(phase, done, total)`.
fn progress(f: Option<Function>) -> impl FnMut(crate::session::vault::Phase, u64, u64) {
    move |phase, done, total| {
        if let Some(f) = &f {
            let name =
                serde_json::to_value(phase).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let _ = f.call3(
                &JsValue::NULL,
                &name.into(),
                &JsValue::from_f64(done as f64),
                &JsValue::from_f64(total as f64),
            );
        }
    }
}
