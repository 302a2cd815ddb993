//! The only module with `#[wasm_bindgen]`: the npm package's API. camelCase names,
//! Promises for network calls, errors as JS `Error`s whose `code` field is stable and
//! whose message says what to do. Nothing here touches a browser global until a
//! network call is made (`fetch`, `AbortController`, `setTimeout` are looked up on the
//! global object at call time), so importing the package is safe under SSR and in Node.
//!
//! Each capability's part of the API is a module with its own `#[wasm_bindgen] impl`
//! blocks: [`transfer`], [`checkpoint`] (a client started from a stable checkpoint),
//! [`audit`] (audits of a target's data, from both sides), [`certs`] (certificates verified and requested), [`quorum`] (quorum
//! certificates verified across worker threads), [`crosschain`] (transfers across
//! chains and their steps), [`tables`] (tables and their rows,
//! reads and scans proven), and the vault's (feature `js-vault`).

mod audit;
mod certs;
mod checkpoint;
mod crosschain;
mod quorum;
mod tables;
mod transfer;
#[cfg(feature = "js-vault")]
mod vault;

pub use quorum::{use_verifier_workers, verify_vote_batch, JsTrustedSet, PARALLEL_MIN_SIGNATURES};

use js_sys::{Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{ChainId, Hash32, ValidatorSet};

use crate::client::{ClientConfig, GatewayClient};
use crate::fetch::Fetch;
use crate::handle::SessionHandle;
use crate::keys::{KeyError, WalletSeed};
use crate::keystore::{Keystore, KeystoreError};
use crate::light::{LightClient, LightError};
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

/// The options object read (through JSON text, as every object from JS).
fn client_options(options: &JsValue) -> Result<ClientOptions, JsValue> {
    let text = options
        .is_object()
        .then(|| js_sys::JSON::stringify(options).ok().and_then(|s| s.as_string()))
        .flatten()
        .ok_or_else(|| error("BAD_OPTIONS", "options must be an object: { gateways, genesisJson, timeoutMs? }"))?;
    serde_json::from_slice(text.as_bytes()).map_err(|e| error("BAD_OPTIONS", e))
}

/// A session over the options' gateways, its light client at the options' genesis.
fn session_of(o: ClientOptions) -> Result<Session<Fetch>, JsValue> {
    let light = light_client(&o)?;
    let cfg = ClientConfig {
        gateways: o.gateways,
        timeout_ms: o.timeout_ms.unwrap_or(ClientConfig::default().timeout_ms),
        ..ClientConfig::default()
    };
    Ok(Session::new(GatewayClient::new(cfg, Fetch), light))
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
        if checkpoint::checkpoint_of(&options).is_some() {
            return Err(error(
                "BAD_OPTIONS",
                "to start from a checkpoint, use `await VigilClient.fromCheckpoint(options)`",
            ));
        }
        Ok(VigilClient { session: SessionHandle::new(session_of(client_options(&options)?)?) })
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

    /// The trusted set's hash and size, the newest verified header's height, and how the
    /// light client started (`startedFrom()`).
    pub fn trust(&self) -> Result<JsValue, JsValue> {
        let s = self.session.try_hold().ok_or_else(busy)?;
        let set: &ValidatorSet = s.light.current_set();
        to_js(&serde_json::json!({
            "validatorSetHash": set.hash(),
            "validators": set.len(),
            "latestVerifiedHeight": s.light.latest_header().map(|h| h.header.height),
            "start": s.light.start(),
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
}

/// The id of a signed transaction (BCS), so apps can show it before sending. Throws
/// `BAD_SIGNATURE` unless its sender signed it, `DECODE` if it is not one. Its payload is
/// not decoded (see [`vigil_protocol::SignedTransaction::hash_encoded`]): that keeps the
/// decoder of every payload kind out of the wasm (43 KB of the main entry's 1,156).
#[wasm_bindgen(js_name = transactionHash)]
pub fn transaction_hash(signed_tx: &[u8]) -> Result<String, JsValue> {
    use vigil_protocol::TransactionError;
    match vigil_protocol::SignedTransaction::hash_encoded(signed_tx) {
        Ok(id) => Ok(id.to_string()),
        Err(e @ TransactionError::BadSignature) => Err(error("BAD_SIGNATURE", e)),
        Err(e) => Err(error("DECODE", e)),
    }
}
