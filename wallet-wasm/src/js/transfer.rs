//! Transfers in the JS API: a transfer signed offline (`Wallet.signTransfer`), an
//! account proven against a certified header (`account`, `verifyAccountProof`), and a
//! transfer sent to every node with each receipt judged (`transfer`). Amounts, fees,
//! nonces and balances are `bigint`s.

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{Address, Amount, ChainId, Nonce, Payload, Transaction, Transfer};

use super::{busy, error, key_error, light_error, to_js, wallet_error, whole, VigilClient, Wallet};
use crate::light::VerifiedAccount;

#[wasm_bindgen]
impl Wallet {
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

#[wasm_bindgen]
impl VigilClient {
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

/// A verified account for JS: its balance and nonce as `bigint`s.
fn account_to_js(a: &VerifiedAccount) -> Result<JsValue, JsValue> {
    let out = to_js(&serde_json::json!({ "address": a.address, "verification": a.verification }))?;
    Reflect::set(&out, &"balance".into(), &js_sys::BigInt::from(a.balance).into())?;
    Reflect::set(&out, &"nonce".into(), &js_sys::BigInt::from(a.nonce).into())?;
    Ok(out)
}
