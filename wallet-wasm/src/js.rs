//! The only module with `#[wasm_bindgen]`: the npm package's API. camelCase names,
//! Promises for network calls, errors as JS `Error`s whose `code` field is stable and
//! whose message says what to do. Nothing here touches a browser global until a
//! network call is made (`fetch`, `AbortController`, `setTimeout` are looked up on the
//! global object at call time), so importing the package is safe under SSR and in Node.

#[cfg(feature = "js-vault")]
use js_sys::{Function, Object};
use js_sys::{Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::{Address, Amount, ChainId, Hash32, Nonce, Payload, Transaction, Transfer, ValidatorSet};

use crate::client::{ClientConfig, GatewayClient};
use crate::fetch::Fetch;
use crate::handle::SessionHandle;
use crate::keys::{KeyError, WalletSeed};
use crate::keystore::{Keystore, KeystoreError};
use crate::light::{LightClient, LightError, TrustedSet, VerifiedAccount};
use crate::platform::PlatformRng;
use crate::session::{Session, WalletError};

/// A JS `Error` with a stable `code` property.
fn error(code: &str, message: impl std::fmt::Display) -> JsValue {
    let e = js_sys::Error::new(&format!("{code}: {message}"));
    let _ = Reflect::set(&e, &"code".into(), &code.into());
    e.into()
}

fn light_error(e: LightError) -> JsValue {
    let code = WalletError::Light(e.clone()).code();
    error(&code, e)
}

fn key_error(e: KeyError) -> JsValue {
    let code = match e {
        KeyError::WordCount(_) => "WORD_COUNT",
        KeyError::UnknownWord(_) => "UNKNOWN_WORD",
        KeyError::BadChecksum => "BAD_CHECKSUM",
        KeyError::AccountIndex(_) => "ACCOUNT_INDEX",
        KeyError::Derivation(_) => "BAD_PHRASE",
    };
    error(code, e)
}

fn keystore_error(e: KeystoreError) -> JsValue {
    let code = match e {
        KeystoreError::WrongPassword => "WRONG_PASSWORD",
        KeystoreError::WeakPassword => "WEAK_PASSWORD",
        KeystoreError::Format(_) => "BAD_KEYSTORE",
        KeystoreError::Version(_) => "KEYSTORE_VERSION",
        KeystoreError::Parameters(_) => "BAD_KEYSTORE",
    };
    error(code, e)
}

fn wallet_error(e: WalletError) -> JsValue {
    error(&e.code(), e)
}

/// A JS `bigint` that must be a `u64` (amounts, fees, nonces): a number, a negative or
/// a too large value is refused, never rounded or wrapped.
fn whole(name: &str, v: js_sys::BigInt) -> Result<u64, JsValue> {
    let v = JsValue::from(v);
    if !v.is_bigint() {
        return Err(error("BAD_AMOUNT", format!("{name} must be a bigint (e.g. 1000n), not a number")));
    }
    u64::try_from(v).map_err(|_| error("BAD_AMOUNT", format!("{name} must be a bigint from 0n to 2n ** 64n - 1n")))
}

/// A verified account for JS: its balance and nonce as `bigint`s.
fn account_to_js(a: &VerifiedAccount) -> Result<JsValue, JsValue> {
    let out = to_js(&serde_json::json!({ "address": a.address, "verification": a.verification }))?;
    Reflect::set(&out, &"balance".into(), &js_sys::BigInt::from(a.balance).into())?;
    Reflect::set(&out, &"nonce".into(), &js_sys::BigInt::from(a.nonce).into())?;
    Ok(out)
}

/// Plain JS objects, through JSON text (one serializer in the wasm, not two). Integers
/// beyond 2^53 - 1, which JS numbers would silently round, are refused instead.
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(|e| error("INTERNAL", e))?;
    if let Some(n) = unsafe_integer(&text) {
        return Err(error("INTERNAL", format!("{n} can't be represented as a JavaScript number")));
    }
    js_sys::JSON::parse(&text)
}

/// The first integer of a JSON text (outside strings) that a JS number cannot hold.
pub fn unsafe_integer(json: &str) -> Option<&str> {
    const MAX_SAFE: u64 = (1 << 53) - 1;
    let b = json.as_bytes();
    let (mut i, mut in_string) = (0, false);
    while i < b.len() {
        match b[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            c if !in_string && c.is_ascii_digit() => {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let digits = &json[start..i];
                if digits.len() >= 16 && digits.parse::<u64>().map_or(true, |v| v > MAX_SAFE) {
                    return Some(digits);
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A wallet: the seed behind a 24-word recovery phrase and the accounts derived from it.
#[wasm_bindgen]
pub struct Wallet(WalletSeed);

#[wasm_bindgen]
impl Wallet {
    /// A new wallet from the platform's CSPRNG.
    pub fn generate() -> Wallet {
        Wallet(WalletSeed::generate(&mut PlatformRng(&Fetch)))
    }

    /// Imports a 24-word recovery phrase (checksum verified).
    #[wasm_bindgen(js_name = fromPhrase)]
    pub fn from_phrase(phrase: &str) -> Result<Wallet, JsValue> {
        WalletSeed::from_phrase(phrase).map(Wallet).map_err(key_error)
    }

    /// Opens an encrypted keystore (JSON) with its password.
    pub fn unlock(keystore_json: &str, password: &str) -> Result<Wallet, JsValue> {
        let ks = Keystore::from_json(keystore_json).map_err(keystore_error)?;
        ks.open(password).map(Wallet).map_err(keystore_error)
    }

    /// The recovery phrase, to show once and have the user write down.
    pub fn phrase(&self) -> String {
        self.0.phrase().to_string()
    }

    /// The address of account `index` (bech32m `vigil1…`).
    pub fn address(&self, index: u32) -> Result<String, JsValue> {
        self.0.account(index).map(|a| a.address().to_string()).map_err(key_error)
    }

    /// The encrypted keystore (JSON); `memoryKib` / `passes` override Argon2id's defaults.
    pub fn seal(&self, password: &str, memory_kib: Option<u32>, passes: Option<u32>) -> Result<String, JsValue> {
        let m = memory_kib.unwrap_or(crate::keystore::DEFAULT_M_COST_KIB);
        let t = passes.unwrap_or(crate::keystore::DEFAULT_T_COST);
        Keystore::seal_with(&self.0, password, m, t, &mut PlatformRng(&Fetch))
            .map(|k| k.to_json())
            .map_err(keystore_error)
    }

    /// Signs a transfer from account `index`; returns the signed transaction (BCS).
    #[wasm_bindgen(js_name = signTransfer)]
    pub fn sign_transfer(
        &self,
        index: u32,
        chain_id: &str,
        nonce: js_sys::BigInt,
        to: &str,
        amount: js_sys::BigInt,
        fee: js_sys::BigInt,
    ) -> Result<Vec<u8>, JsValue> {
        let (nonce, amount, fee) = (whole("nonce", nonce)?, whole("amount", amount)?, whole("fee", fee)?);
        let account = self.0.account(index).map_err(key_error)?;
        let chain_id = ChainId::new(chain_id).map_err(|e| error("BAD_CHAIN_ID", e))?;
        let to = Address::parse(to).map_err(|e| error("BAD_ADDRESS", e))?;
        let tx = Transaction {
            chain_id,
            sender: account.public_key(),
            nonce: Nonce(nonce),
            fee: Amount(fee),
            payload: Payload::Transfer(Transfer { to, amount: Amount(amount) }),
        };
        Ok(to_bytes(&tx.sign(&account.key)))
    }
}

/// A decoded, trusted validator set.
#[wasm_bindgen(js_name = TrustedValidatorSet)]
pub struct JsTrustedSet(TrustedSet);

#[wasm_bindgen(js_class = TrustedValidatorSet)]
impl JsTrustedSet {
    /// Decodes BCS bytes of a validator set; with `pinnedHashHex`, accepts it only if
    /// it has that hash.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8], pinned_hash_hex: Option<String>) -> Result<JsTrustedSet, JsValue> {
        match pinned_hash_hex {
            Some(hex) => {
                let pinned: Hash32 = hex.parse().map_err(|_| error("BAD_HASH", "pinned hash must be 64 hex digits"))?;
                TrustedSet::from_bytes_pinned(bytes, &pinned).map(Self).map_err(light_error)
            }
            None => TrustedSet::from_bytes_unpinned(bytes).map(Self).map_err(light_error),
        }
    }

    /// Number of validators.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.0.set().len()
    }

    /// Verifies BCS bytes of a quorum certificate (batch Ed25519); returns the number of signers.
    #[wasm_bindgen(js_name = verifyQuorumCert)]
    pub fn verify_quorum_cert(&self, qc_bytes: &[u8]) -> Result<usize, JsValue> {
        self.0.verify_quorum_cert(qc_bytes).map(|qc| qc.signatures.len()).map_err(light_error)
    }
}

/// Options of a [`VigilClient`] (a plain JS object).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientOptions {
    gateways: Vec<String>,
    /// The chain's genesis file (JSON text), shipped with the app: the trust root.
    #[serde(default)]
    genesis_json: Option<String>,
    /// Or, instead of `genesisJson`: the chain id, …
    #[serde(default)]
    chain_id: Option<String>,
    /// … the BCS of the genesis validator set (hex) …
    #[serde(default)]
    genesis_validators_hex: Option<String>,
    /// … and the hash it must have (pinned in the app, hex).
    #[serde(default)]
    pinned_hash: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

fn light_client(o: &ClientOptions) -> Result<LightClient, JsValue> {
    if let Some(text) = &o.genesis_json {
        let genesis: vigil_protocol::Genesis =
            serde_json::from_slice(text.as_bytes()).map_err(|e| error("BAD_GENESIS", format!("genesisJson: {e}")))?;
        let set = &genesis.validators;
        return LightClient::new(genesis.chain_id.clone(), &to_bytes(set), &set.hash()).map_err(light_error);
    }
    let missing = || error("BAD_OPTIONS", "give genesisJson, or chainId, genesisValidatorsHex and pinnedHash");
    let chain_id = ChainId::new(o.chain_id.clone().ok_or_else(missing)?).map_err(|e| error("BAD_CHAIN_ID", e))?;
    let pinned: Hash32 = o
        .pinned_hash
        .as_deref()
        .ok_or_else(missing)?
        .parse()
        .map_err(|_| error("BAD_HASH", "pinnedHash must be 64 hex digits"))?;
    let genesis = hex::decode(o.genesis_validators_hex.as_deref().ok_or_else(missing)?)
        .map_err(|_| error("BAD_OPTIONS", "genesisValidatorsHex is not hex"))?;
    LightClient::new(chain_id, &genesis, &pinned).map_err(light_error)
}

/// A client of the chain through one or more gateways, with a light client that
/// verifies everything it returns.
#[wasm_bindgen]
pub struct VigilClient {
    /// Held by one call at a time, for its whole length (see [`SessionHandle`]).
    session: SessionHandle<Fetch>,
}

fn busy() -> JsValue {
    error("BUSY", "another call on this client is in progress; await it first")
}

#[wasm_bindgen]
impl VigilClient {
    /// `{ gateways: [url…], genesisJson, timeoutMs? }`, or `chainId`,
    /// `genesisValidatorsHex` and `pinnedHash` instead of `genesisJson`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<VigilClient, JsValue> {
        let text = options
            .is_object()
            .then(|| js_sys::JSON::stringify(&options).ok().and_then(|s| s.as_string()))
            .flatten()
            .ok_or_else(|| error("BAD_OPTIONS", "options must be an object: { gateways, genesisJson, timeoutMs? }"))?;
        let o: ClientOptions = serde_json::from_slice(text.as_bytes()).map_err(|e| error("BAD_OPTIONS", e))?;
        let light = light_client(&o)?;
        let cfg = ClientConfig {
            gateways: o.gateways,
            timeout_ms: o.timeout_ms.unwrap_or(ClientConfig::default().timeout_ms),
            ..ClientConfig::default()
        };
        Ok(VigilClient { session: SessionHandle::new(Session::new(GatewayClient::new(cfg, Fetch), light)) })
    }

    /// Node ids of the trusted validator set.
    pub fn nodes(&self) -> Result<Vec<String>, JsValue> {
        let s = self.session.try_hold().ok_or_else(busy)?;
        Ok(s.nodes().iter().map(ToString::to_string).collect())
    }

    /// Follows certified validator-set changes; resolves to whether the set changed.
    pub fn sync(&self) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let r = s.sync().await;
            r.map(JsValue::from_bool).map_err(wallet_error)
        })
    }

    /// `{ address, balance, nonce, verification }` (balance and nonce as `bigint`s), proven
    /// against a certified header.
    pub fn account(&self, address: String) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            let a = Address::parse(&address).map_err(|e| error("BAD_ADDRESS", e))?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let r = s.account(&a).await;
            account_to_js(&r.map_err(wallet_error)?)
        })
    }

    /// Sends a transfer from `wallet`'s account `index` to every node; resolves to the
    /// report: each node's verdict on its signed receipt, and the evidence submitted
    /// against any node that lied.
    pub fn transfer(
        &self,
        wallet: &Wallet,
        index: u32,
        to: String,
        amount: js_sys::BigInt,
        fee: js_sys::BigInt,
    ) -> Promise {
        let shared = self.session.clone();
        let account = wallet.0.account(index);
        future_to_promise(async move {
            let (amount, fee) = (whole("amount", amount)?, whole("fee", fee)?);
            let account = account.map_err(key_error)?;
            let to = Address::parse(&to).map_err(|e| error("BAD_ADDRESS", e))?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let r = s.transfer(&account.key, to, amount, fee).await;
            to_js(&r.map_err(wallet_error)?)
        })
    }

    /// The trusted set's hash and size, and the newest verified header's height.
    pub fn trust(&self) -> Result<JsValue, JsValue> {
        let s = self.session.try_hold().ok_or_else(busy)?;
        let set: &ValidatorSet = s.light.current_set();
        to_js(&serde_json::json!({
            "validatorSetHash": set.hash(),
            "validators": set.len(),
            "latestVerifiedHeight": s.light.latest_header().map(|h| h.header.height),
        }))
    }

    /// Verifies a certified header (BCS) with the light client; resolves nothing, throws
    /// `BAD_CERTIFICATE` (e.g. too few signatures) or `UNTRUSTED_SET`.
    #[wasm_bindgen(js_name = verifyHeader)]
    pub fn verify_header(&self, certified_bcs: &[u8]) -> Result<JsValue, JsValue> {
        let mut s = self.session.try_hold().ok_or_else(busy)?;
        let (ch, verification) = s.light.accept_header(certified_bcs).map_err(light_error)?;
        to_js(&serde_json::json!({ "height": ch.header.height, "verification": verification }))
    }

    /// Verifies a signed receipt (BCS) against the trusted set; throws `BAD_RECEIPT`.
    #[wasm_bindgen(js_name = verifyReceipt)]
    pub fn verify_receipt(&self, receipt_bcs: &[u8]) -> Result<JsValue, JsValue> {
        let s = self.session.try_hold().ok_or_else(busy)?;
        let r = s.light.verify_receipt(receipt_bcs).map_err(light_error)?;
        to_js(&r.receipt)
    }

    /// Verifies an account proof (as `/v1/accounts/{address}` returns it, hex fields)
    /// against its certified header; throws `BAD_PROOF` for a wrong proof.
    #[wasm_bindgen(js_name = verifyAccountProof)]
    pub fn verify_account_proof(
        &self,
        address: &str,
        value_hex: Option<String>,
        proof_hex: &str,
        certified_header_hex: &str,
    ) -> Result<JsValue, JsValue> {
        let a = Address::parse(address).map_err(|e| error("BAD_ADDRESS", e))?;
        let bad_hex = |_| error("BAD_HEX", "a field is not hex");
        let value = value_hex.map(hex::decode).transpose().map_err(bad_hex)?;
        let proof = hex::decode(proof_hex).map_err(bad_hex)?;
        let header = hex::decode(certified_header_hex).map_err(bad_hex)?;
        let mut s = self.session.try_hold().ok_or_else(busy)?;
        let v = s.light.verify_account(&a, value.as_deref(), &proof, &header).map_err(light_error)?;
        account_to_js(&v)
    }
}

/// The vault (feature `js-vault`: the package's `vigil-wallet/vault` entry, a second
/// build of this crate, so that apps that only sign and verify load a smaller module).
#[cfg(feature = "js-vault")]
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
#[cfg(feature = "js-vault")]
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
#[cfg(feature = "js-vault")]
fn progress(f: Option<Function>) -> impl FnMut(crate::vault_client::Phase, u64, u64) {
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

/// Decodes a signed transaction (BCS) to its hash, so apps can show it before sending.
#[wasm_bindgen(js_name = transactionHash)]
pub fn transaction_hash(signed_tx: &[u8]) -> Result<String, JsValue> {
    let tx: vigil_protocol::SignedTransaction = from_bytes(signed_tx).map_err(|e| error("DECODE", e))?;
    Ok(tx.hash().to_string())
}
