//! A client started from a stable checkpoint in the JS API:
//! `await VigilClient.fromCheckpoint({ gateways, genesisJson, checkpoint: { pinnedHash?,
//! validatorsHex?, validatorsHash?, maxAgeBlocks? } })` verifies the newest checkpoint
//! the nodes serve against the pinned digest hash, else against a pinned set (the one
//! given, else the genesis set), and `startedFrom()` says how the client started.

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

use vigil_protocol::encoding::from_bytes;
use vigil_protocol::{Hash32, ValidatorSet};

use super::{busy, client_options, error, light_error, session_of, to_js, wallet_error, VigilClient};
use crate::handle::SessionHandle;
use crate::light::{CheckpointPin, LightError, CHECKPOINT_AGE_MAX_BLOCKS};

/// `options.checkpoint`, if given (read field by field: a serde reader for it would cost
/// the wasm more than these few lookups).
pub(super) fn checkpoint_of(options: &JsValue) -> Option<JsValue> {
    Reflect::get(options, &"checkpoint".into()).ok().filter(|c| !c.is_undefined() && !c.is_null())
}

/// A string field of `checkpoint`, if given.
fn text(checkpoint: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    let v = Reflect::get(checkpoint, &name.into()).unwrap_or(JsValue::UNDEFINED);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string().map(Some).ok_or_else(|| error("BAD_OPTIONS", format!("checkpoint.{name} must be a string")))
}

fn hash(text: &str, name: &str) -> Result<Hash32, JsValue> {
    text.parse().map_err(|_| error("BAD_HASH", format!("checkpoint.{name} must be 64 hex digits")))
}

/// What the checkpoint is verified against: `pinnedHash`, else the set
/// `validatorsHex` with the hash `validatorsHash`, else `genesis`.
fn pin(checkpoint: &JsValue, genesis: &ValidatorSet) -> Result<CheckpointPin, JsValue> {
    if let Some(pinned) = text(checkpoint, "pinnedHash")? {
        return Ok(CheckpointPin::Hash(hash(&pinned, "pinnedHash")?));
    }
    let Some(set_hex) = text(checkpoint, "validatorsHex")? else {
        return Ok(CheckpointPin::Set(genesis.clone()));
    };
    let missing = || error("BAD_OPTIONS", "checkpoint.validatorsHex needs checkpoint.validatorsHash");
    let pinned = hash(&text(checkpoint, "validatorsHash")?.ok_or_else(missing)?, "validatorsHash")?;
    let bytes = hex::decode(set_hex).map_err(|_| error("BAD_HEX", "checkpoint.validatorsHex is not hex"))?;
    let set: ValidatorSet = from_bytes(&bytes).map_err(|e| light_error(e.into()))?;
    if set.hash() != pinned {
        return Err(light_error(LightError::UntrustedSet { expected: pinned, found: set.hash() }));
    }
    Ok(CheckpointPin::Set(set))
}

/// `checkpoint.maxAgeBlocks`: a whole number of blocks, else the default.
fn max_age(checkpoint: &JsValue) -> Result<u64, JsValue> {
    let v = Reflect::get(checkpoint, &"maxAgeBlocks".into()).unwrap_or(JsValue::UNDEFINED);
    if v.is_undefined() || v.is_null() {
        return Ok(CHECKPOINT_AGE_MAX_BLOCKS);
    }
    match v.as_f64() {
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 => Ok(n as u64),
        _ => Err(error("BAD_OPTIONS", "checkpoint.maxAgeBlocks must be a whole number of blocks")),
    }
}

/// The TypeScript of this part of the API (emitted into the package's declarations;
/// `tests/npm_types.rs` holds `SessionStart` to what [`crate::light::Start`] writes).
#[wasm_bindgen(typescript_custom_section)]
const CHECKPOINT_TYPES: &str = r#"
/** `checkpoint` in the options of `VigilClient.fromCheckpoint`. */
export interface CheckpointOptions {
  /** The digest hash the user pinned (64 hex digits): the checkpoint must have it. */
  pinnedHash?: string;
  /** Else a validator set to verify it against (BCS, hex) with the hash it must have; neither: the genesis set. */
  validatorsHex?: string;
  validatorsHash?: string;
  /** How many blocks the checkpoint may be behind the newest header verified (default 1024). */
  maxAgeBlocks?: number;
}

/** The options of `new VigilClient`, and where to start from. */
export interface FromCheckpointOptions {
  gateways: string[];
  genesisJson?: string;
  chainId?: string;
  genesisValidatorsHex?: string;
  pinnedHash?: string;
  timeoutMs?: number;
  checkpoint: CheckpointOptions;
}

/** How a client's light client started. */
export type SessionStart =
  | { from: 'genesis'; validatorSetHash: string }
  | {
      from: 'checkpoint';
      height: number;
      digestHash: string;
      validatorSetHash: string;
      pin: 'hash' | 'set';
      pinnedSetHash: string | null;
      setChangesFollowed: number;
      signers: number;
      newestHeight: number;
      ageBlocks: number;
    };
"#;

#[wasm_bindgen]
impl VigilClient {
    /// The options of `new VigilClient` and `checkpoint: { pinnedHash?, validatorsHex?,
    /// validatorsHash?, maxAgeBlocks? }`: resolves to a client whose light client
    /// starts from the newest stable checkpoint the nodes serve, verified against the
    /// pinned hash, else the pinned set (the genesis set if none is given), and at most
    /// `maxAgeBlocks` (default 1,024) behind the newest header verified. Rejects with
    /// `PINNED_HASH_MISMATCH`, `BAD_CHECKPOINT`, `CHECKPOINT_SET_MISMATCH`,
    /// `WRONG_CHAIN`, `CHECKPOINT_TOO_OLD` or `NO_CHECKPOINT`.
    #[wasm_bindgen(js_name = fromCheckpoint)]
    pub async fn from_checkpoint(
        #[wasm_bindgen(unchecked_param_type = "FromCheckpointOptions")] options: JsValue,
    ) -> Result<VigilClient, JsValue> {
        let missing =
            || error("BAD_OPTIONS", "fromCheckpoint needs `checkpoint`: { pinnedHash } or {} for the genesis set");
        let checkpoint = checkpoint_of(&options).ok_or_else(missing)?;
        let mut session = session_of(client_options(&options)?)?;
        let pin = pin(&checkpoint, session.light.current_set())?;
        let max = max_age(&checkpoint)?;
        session.start_from_checkpoint(&pin, max).await.map_err(wallet_error)?;
        Ok(VigilClient { session: SessionHandle::new(session) })
    }

    /// How the light client started: `{ from: 'genesis', validatorSetHash }` or
    /// `{ from: 'checkpoint', height, digestHash, validatorSetHash, pin: 'hash' | 'set',
    /// pinnedSetHash, setChangesFollowed, signers, newestHeight, ageBlocks }`.
    #[wasm_bindgen(js_name = startedFrom, unchecked_return_type = "SessionStart")]
    pub fn started_from(&self) -> Result<JsValue, JsValue> {
        let s = self.session.try_hold().ok_or_else(busy)?;
        to_js(s.light.start())
    }
}
