//! A test-network faucet (off unless configured; `vigil devnet` turns it on): sends a
//! fixed amount from the devnet's faucet account to whoever asks, so a new web-wallet
//! user has something to send. `GET /v1/faucet` says whether it is on and how much it
//! gives; `POST /v1/faucet {"address": "vigil1…"}` transfers and answers with the
//! committed transaction's hash and height. One transfer at a time (the faucet's nonce),
//! one per address and one per client network (an IPv4 address, an IPv6 /64) per
//! cooldown, on top of the gateway's per-client rate limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vigil_api::{AccountAnswer, ErrorBody, ErrorCode, FaucetInfo, Funded, TxAnswer};
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::{Address, Amount, ChainId, Payload, SecretKey, Transaction, Transfer, TxStatus};

use super::GatewayError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaucetConfig {
    /// The faucet account's key file (`vigil keygen account`).
    pub key_file: PathBuf,
    /// Units sent per request.
    pub amount: u64,
}

/// Time before the same address may ask again.
const COOLDOWN: Duration = Duration::from_secs(10);
/// Addresses remembered for the cooldown (bounded; the oldest are forgotten).
const REMEMBERED_MAX: usize = 10_000;

pub struct Faucet {
    key: SecretKey,
    address: Address,
    amount: u64,
    chain_id: ChainId,
    /// Held for a whole transfer: the faucet's transactions go out one at a time.
    sending: tokio::sync::Mutex<()>,
    recent: Mutex<HashMap<Asker, Instant>>,
}

/// Who asked for test funds: the address funded, and the client network asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Asker {
    Address(Address),
    Client(IpAddr),
}

impl Faucet {
    pub fn new(cfg: &FaucetConfig, chain_id: ChainId) -> anyhow::Result<Self> {
        let key = vigil_server::keys::load_account_key(&cfg.key_file)?;
        let address = Address::from_public_key(&key.public_key());
        Ok(Self {
            key,
            address,
            amount: cfg.amount,
            chain_id,
            sending: tokio::sync::Mutex::new(()),
            recent: Mutex::new(HashMap::new()),
        })
    }

    pub fn describe(&self) -> FaucetInfo {
        FaucetInfo { address: self.address, amount: self.amount }
    }

    fn check_cooldown(&self, to: &Address, client: IpAddr) -> Result<(), GatewayError> {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        recent.retain(|_, at| now.duration_since(*at) < COOLDOWN);
        let askers = [Asker::Address(*to), Asker::Client(super::client_network(client))];
        if let Some(at) = askers.iter().filter_map(|a| recent.get(a)).max() {
            let mut e = GatewayError::new(
                ErrorCode::FaucetCooldown,
                "this address (or this client) was just funded; try again in a few seconds",
            );
            e.retry_after = Some(COOLDOWN.saturating_sub(now.duration_since(*at)));
            return Err(e);
        }
        for asker in askers {
            if recent.len() >= REMEMBERED_MAX {
                if let Some(oldest) = recent.iter().min_by_key(|(_, at)| **at).map(|(a, _)| *a) {
                    recent.remove(&oldest);
                }
            }
            recent.insert(asker, now);
        }
        Ok(())
    }

    /// Sends `amount` to `to` through the first node in `nodes` that takes it.
    pub async fn fund(
        &self,
        http: &reqwest::Client,
        nodes: &[String],
        to: &str,
        client: IpAddr,
    ) -> Result<Funded, GatewayError> {
        let to =
            Address::parse(to.trim()).map_err(|e| GatewayError::new(ErrorCode::BadAddress, format!("address: {e}")))?;
        self.check_cooldown(&to, client)?;
        let _one_at_a_time = self.sending.lock().await;
        let mut last = GatewayError::new(ErrorCode::NodeUnavailable, "no node is configured");
        for url in nodes {
            match self.fund_via(http, url, &to).await {
                Ok(v) => return Ok(v),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn fund_via(&self, http: &reqwest::Client, url: &str, to: &Address) -> Result<Funded, GatewayError> {
        let down =
            |e: reqwest::Error| GatewayError::new(ErrorCode::NodeUnavailable, format!("faucet: node {url}: {e}"));
        let account: AccountAnswer = http
            .get(format!("{url}/v1/accounts/{}", self.address))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(down)?
            .json()
            .await
            .map_err(down)?;
        let fee = vigil_protocol::limits::FEE_MIN;
        if account.balance.0 < self.amount.saturating_add(fee) {
            return Err(GatewayError::new(ErrorCode::FaucetEmpty, "the faucet has run dry"));
        }
        let tx = Transaction {
            chain_id: self.chain_id.clone(),
            sender: self.key.public_key(),
            nonce: account.nonce,
            fee: Amount(fee),
            payload: Payload::Transfer(Transfer { to: *to, amount: Amount(self.amount) }),
        }
        .sign(&self.key);
        let r = http
            .post(format!("{url}/v1/tx?wait=true&timeout_ms=10000"))
            .header("content-type", "application/octet-stream")
            .body(to_bytes(&tx))
            .timeout(Duration::from_secs(12))
            .send()
            .await
            .map_err(down)?;
        let status = r.status();
        let body = r.bytes().await.map_err(down)?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&body).map(|b| b.error.message);
            let message = message.unwrap_or_else(|_| format!("refused with {status}"));
            return Err(GatewayError::new(ErrorCode::FaucetRefused, format!("node {url}: {message}")));
        }
        // 202: admitted, not committed within the wait.
        let Ok(answer) = serde_json::from_slice::<TxAnswer>(&body) else {
            return Err(GatewayError::new(ErrorCode::FaucetRefused, "the transfer did not commit in time; try again"));
        };
        let receipt = answer.receipt.receipt;
        if receipt.entry.status != TxStatus::Success {
            let why = format!("{:?}", receipt.entry.status);
            return Err(GatewayError::new(ErrorCode::FaucetRefused, format!("the transfer failed: {why}")));
        }
        Ok(Funded { tx_hash: tx.hash(), amount: Amount(self.amount), to: *to, height: receipt.height })
    }
}
