//! Cross-chain transfer in the JS API (SPEC C8): a transfer sent across from a wallet
//! account (`sendAcross`, resolving to the nodes' receipts and the packet committed), its
//! steps watched on both chains (`VigilClient.transferStep(source, destination, packet)`,
//! each chain's read verified against that chain's own certified header by its own
//! client), an account's vouchers of another chain's coin, and a chain's connection to
//! another. Amounts are `bigint`s; a packet is a `CrossPacket` an app can keep as bytes.

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use vigil_protocol::crosschain::{CrossAsset, CrossTransfer, Packet, PacketTimeout};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::{Address, Amount, ChainId, Height};

use super::{busy, error, key_error, to_js, wallet_error, whole, VigilClient, Wallet};
use crate::session::crosschain::{watch_packet, PacketStep, PacketWatch, TIMEOUT_BLOCKS_DEFAULT};

/// The TypeScript of this part of the API (emitted into the package's declarations).
#[wasm_bindgen(typescript_custom_section)]
const CROSS_TYPES: &str = r#"
/** `VigilClient.sendAcross`'s options. */
export interface SendAcrossOptions {
  /** The destination chain's id. */
  toChain: string;
  /** The receiver's address on the destination chain. */
  to: string;
  amount: bigint;
  /** 'native' (this chain's coin, escrowed here; the default) or 'voucher' (the destination's coin, sent home). */
  asset?: 'native' | 'voucher';
  /** Paid (in this chain's coin) to the relayer that gets it credited; default 0n. */
  relayerFee?: bigint;
  /** This chain's transaction fee; default 1n. */
  fee?: bigint;
  /**
   * When it stops being receivable: `blocks` of this chain after its newest certified
   * height (default 600), or a destination `height`, or a `sourceHeight` of this chain.
   */
  timeout?: { blocks?: number; height?: number; sourceHeight?: number };
}

/** Where a cross-chain transfer stands. */
export type TransferStepName = 'sent' | 'received' | 'acknowledged' | 'refunded';

/** A transfer's step, each chain's part verified against that chain's certified header. */
export interface TransferStep {
  step: TransferStepName;
  /** Settled on the source: acknowledged or refunded. */
  settled: boolean;
  /** The sender got the coin back (a timeout, or a receipt that did not credit). */
  refunded: boolean;
  /** The destination's receipt, once written. */
  receipt: { relayer: string; credited: boolean; height: number } | null;
  /** How the source chain's read was verified. */
  source: Verification;
  /** How the destination chain's read was verified (null: not read yet). */
  destination: Verification | null;
}

/** A chain's connection to another (`VigilClient.connection`). */
export interface ConnectionView {
  chain: string;
  /** Whether this chain has a client of `chain` (a connection was opened). */
  open: boolean;
  /** Frozen on evidence of two conflicting certified headers: nothing moves. */
  frozen: boolean;
  /** `chain`'s newest height this chain's client has verified. */
  newestHeight: number | null;
  /** This chain's height of the opening or the last update. */
  updatedAt: number | null;
  /** Whether this chain acts on `chain`'s Fast-mode headers (else Bft-certified only). */
  fastFinal: boolean | null;
  channel: { nextSequence: number; escrowed: bigint; vouchers: bigint } | null;
  verification: Verification;
}

/** A verified read's evidence. */
export interface Verification {
  method: string;
  height: number | null;
  validator_set_hash: string;
  signers: string[];
  header_time_ms: number | null;
}
"#;

/// A packet a cross-chain transfer committed: what its steps are watched by.
#[wasm_bindgen]
pub struct CrossPacket(Packet);

#[wasm_bindgen]
impl CrossPacket {
    /// The packet from its bytes (`toBytes`), e.g. kept by an app across reloads.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<CrossPacket, JsValue> {
        let packet: Packet = from_bytes(bytes).map_err(|e| error("DECODE", e))?;
        packet.check().map_err(|e| error("BAD_PACKET", e))?;
        Ok(CrossPacket(packet))
    }

    /// The packet's bytes (BCS).
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Vec<u8> {
        to_bytes(&self.0)
    }

    /// The source chain's id.
    #[wasm_bindgen(getter)]
    pub fn source(&self) -> String {
        self.0.source.to_string()
    }

    /// The destination chain's id.
    #[wasm_bindgen(getter)]
    pub fn destination(&self) -> String {
        self.0.destination.to_string()
    }

    /// Its number among the packets the source sent the destination.
    #[wasm_bindgen(getter)]
    pub fn sequence(&self) -> f64 {
        self.0.sequence as f64
    }

    #[wasm_bindgen(getter)]
    pub fn sender(&self) -> String {
        self.0.sender.to_string()
    }

    #[wasm_bindgen(getter)]
    pub fn receiver(&self) -> String {
        self.0.receiver.to_string()
    }

    /// The chain whose coin moves.
    #[wasm_bindgen(getter)]
    pub fn asset(&self) -> String {
        self.0.asset.to_string()
    }

    #[wasm_bindgen(getter)]
    pub fn amount(&self) -> u64 {
        self.0.amount.0
    }

    #[wasm_bindgen(getter, js_name = relayerFee)]
    pub fn relayer_fee(&self) -> u64 {
        self.0.relayer_fee.0
    }

    /// `{ height, sourceHeight }` (0: not set).
    #[wasm_bindgen(getter, unchecked_return_type = "{ height: number; sourceHeight: number }")]
    pub fn timeout(&self) -> Result<JsValue, JsValue> {
        let t = self.0.timeout;
        to_js(&serde_json::json!({ "height": t.height.0, "sourceHeight": t.source_height.0 }))
    }
}

/// A field of a JS options object (`undefined` when absent).
fn field(options: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    Reflect::get(options, &name.into()).map_err(|_| error("BAD_OPTIONS", format!("`{name}` could not be read")))
}

fn string_field(options: &JsValue, name: &str) -> Result<String, JsValue> {
    field(options, name)?.as_string().ok_or_else(|| error("BAD_OPTIONS", format!("`{name}` must be a string")))
}

/// An optional `bigint` field (`default` when absent).
fn amount_field(options: &JsValue, name: &str, default: u64) -> Result<u64, JsValue> {
    let v = field(options, name)?;
    if v.is_undefined() {
        return Ok(default);
    }
    whole(name, v.unchecked_into())
}

/// An optional whole-number field of at most 2^53 - 1 (`None` when absent).
fn height_field(options: &JsValue, name: &str) -> Result<Option<u64>, JsValue> {
    let v = field(options, name)?;
    if v.is_undefined() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 => Ok(Some(n as u64)),
        _ => Err(error("BAD_OPTIONS", format!("timeout.{name} must be a whole number of blocks"))),
    }
}

/// `sendAcross`'s options read, but the timeout's `blocks` (counted from a proven height).
struct Across {
    transfer: CrossTransfer,
    fee: u64,
    blocks: Option<u64>,
}

fn across_options(options: &JsValue) -> Result<Across, JsValue> {
    if !options.is_object() {
        return Err(error("BAD_OPTIONS", "options must be an object: { toChain, to, amount, … }"));
    }
    let to_chain = ChainId::new(string_field(options, "toChain")?).map_err(|e| error("BAD_CHAIN_ID", e))?;
    let to = Address::parse(&string_field(options, "to")?).map_err(|e| error("BAD_ADDRESS", e))?;
    let asset = match field(options, "asset")?.as_string().as_deref() {
        None | Some("native") => CrossAsset::Native,
        Some("voucher") => CrossAsset::Voucher,
        Some(other) => return Err(error("BAD_OPTIONS", format!("asset is 'native' or 'voucher', not '{other}'"))),
    };
    let amount = amount_field(options, "amount", 0)?;
    if amount == 0 {
        return Err(error("BAD_AMOUNT", "amount must be a bigint above 0n"));
    }
    let timeout = field(options, "timeout")?;
    let (height, source_height, blocks) = if timeout.is_object() {
        (height_field(&timeout, "height")?, height_field(&timeout, "sourceHeight")?, height_field(&timeout, "blocks")?)
    } else if timeout.is_undefined() {
        (None, None, None)
    } else {
        return Err(error("BAD_OPTIONS", "timeout must be an object: { blocks } or { height } or { sourceHeight }"));
    };
    let blocks = match (height, source_height, blocks) {
        (None, None, None) => Some(TIMEOUT_BLOCKS_DEFAULT),
        (_, _, Some(0)) => return Err(error("BAD_OPTIONS", "timeout.blocks must be at least 1")),
        (_, _, b) => b,
    };
    let transfer = CrossTransfer {
        to_chain,
        to,
        asset,
        amount: Amount(amount),
        relayer_fee: Amount(amount_field(options, "relayerFee", 0)?),
        timeout: PacketTimeout {
            height: Height(height.unwrap_or(0)),
            source_height: Height(source_height.unwrap_or(0)),
        },
    };
    Ok(Across { transfer, fee: amount_field(options, "fee", 1)?, blocks })
}

/// A watched step for JS.
fn step_to_js(w: &PacketWatch) -> Result<JsValue, JsValue> {
    let (step, receipt) = match &w.step {
        PacketStep::Sent => ("sent", None),
        PacketStep::Received(r) => ("received", Some(r)),
        PacketStep::Acknowledged(r) => ("acknowledged", Some(r)),
        PacketStep::Refunded => ("refunded", None),
    };
    let receipt = receipt
        .map(|r| serde_json::json!({ "relayer": r.relayer.to_string(), "credited": r.credited, "height": r.height.0 }));
    to_js(&serde_json::json!({
        "step": step,
        "settled": w.settled(),
        "refunded": w.refunded(),
        "receipt": receipt,
        "source": w.source,
        "destination": w.destination,
    }))
}

#[wasm_bindgen]
impl VigilClient {
    /// Sends coin across from `wallet`'s account `index` (see `SendAcrossOptions`): signed,
    /// submitted to every node and each receipt judged; resolves to the transfer's report
    /// with `packet` (a `CrossPacket`; `null` when no node committed it).
    #[wasm_bindgen(
        js_name = sendAcross,
        unchecked_return_type = "Promise<{ nodes: unknown[]; evidence: unknown[]; tx_hash: string; packet: CrossPacket | null }>"
    )]
    pub fn send_across(
        &self,
        wallet: &Wallet,
        index: u32,
        #[wasm_bindgen(unchecked_param_type = "SendAcrossOptions")] options: JsValue,
    ) -> Promise {
        let shared = self.session.clone();
        let account = wallet.0.account(index);
        let read = across_options(&options);
        future_to_promise(async move {
            let Across { mut transfer, fee, blocks } = read?;
            let account = account.map_err(key_error)?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            if let Some(blocks) = blocks {
                let newest = s.proven_height().await.map_err(wallet_error)?;
                transfer.timeout.source_height = Height(newest.0.saturating_add(blocks));
            }
            let sent = s.cross_transfer(&account.key, transfer, fee).await.map_err(wallet_error)?;
            let out = to_js(&sent.report)?;
            let packet = sent.packet.map_or(JsValue::NULL, |p| CrossPacket(p).into());
            Reflect::set(&out, &"packet".into(), &packet)?;
            Ok(out)
        })
    }

    /// Where `packet` stands: its commitment read on `source` (the source chain's client),
    /// its receipt on `destination` (the destination's), each verified by that client
    /// against its own chain's certified header. Resolves to a `TransferStep`.
    #[wasm_bindgen(js_name = transferStep, unchecked_return_type = "Promise<TransferStep>")]
    pub fn transfer_step(source: &VigilClient, destination: &VigilClient, packet: &CrossPacket) -> Promise {
        let (source, destination, packet) = (source.session.clone(), destination.session.clone(), packet.0.clone());
        future_to_promise(async move {
            let mut a = source.try_hold().ok_or_else(busy)?;
            let mut b = destination.try_hold().ok_or_else(|| {
                error(
                    "BUSY",
                    "the destination client is busy, or is the source client itself: give each chain its own client",
                )
            })?;
            let watched = watch_packet(&mut a, &mut b, &packet).await.map_err(wallet_error)?;
            step_to_js(&watched)
        })
    }

    /// `address`'s vouchers of chain `origin`'s coin on this chain, proven: `{ origin,
    /// address, amount (bigint), verification }`.
    #[wasm_bindgen(
        unchecked_return_type = "Promise<{ origin: string; address: string; amount: bigint; verification: Verification }>"
    )]
    pub fn vouchers(&self, origin: String, address: String) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            let origin = ChainId::new(origin).map_err(|e| error("BAD_CHAIN_ID", e))?;
            let address = Address::parse(&address).map_err(|e| error("BAD_ADDRESS", e))?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let (amount, verification) = s.vouchers(&origin, &address).await.map_err(wallet_error)?;
            let out = to_js(&serde_json::json!({
                "origin": origin, "address": address.to_string(), "verification": verification,
            }))?;
            Reflect::set(&out, &"amount".into(), &js_sys::BigInt::from(amount).into())?;
            Ok(out)
        })
    }

    /// This chain's connection to `chain`, proven: `{ chain, open, frozen, newestHeight
    /// (of `chain` as this chain's client has verified it), updatedAt, fastFinal,
    /// channel: { nextSequence, escrowed, vouchers } | null, verification }`;
    /// `open: false` when this chain has no client of `chain`.
    #[wasm_bindgen(unchecked_return_type = "Promise<ConnectionView>")]
    pub fn connection(&self, chain: String) -> Promise {
        let shared = self.session.clone();
        future_to_promise(async move {
            let chain = ChainId::new(chain).map_err(|e| error("BAD_CHAIN_ID", e))?;
            let mut s = shared.try_hold().ok_or_else(busy)?;
            let view = s.connection(&chain).await.map_err(wallet_error)?;
            let (client, channel) = (view.client, view.channel);
            let out = to_js(&serde_json::json!({
                "chain": chain,
                "open": client.is_some(),
                "frozen": client.as_ref().is_some_and(|c| c.verifier.frozen().is_some()),
                "newestHeight": client.as_ref().map(|c| c.verifier.newest().0),
                "updatedAt": client.as_ref().map(|c| c.updated_at.0),
                "fastFinal": client.as_ref().map(|c| c.settings.fast_final),
                "verification": view.verification,
            }))?;
            let channel = match channel {
                Some(c) => {
                    let o = to_js(&serde_json::json!({ "nextSequence": c.next_sequence }))?;
                    Reflect::set(&o, &"escrowed".into(), &js_sys::BigInt::from(c.escrowed.0).into())?;
                    Reflect::set(&o, &"vouchers".into(), &js_sys::BigInt::from(c.vouchers.0).into())?;
                    o
                }
                None => JsValue::NULL,
            };
            Reflect::set(&out, &"channel".into(), &channel)?;
            Ok(out)
        })
    }
}
