//! What a user does with the wallet, end to end: sync the trusted validator set, read a
//! verified balance, send a transfer to every node at once, judge their signed
//! receipts, and prove a liar to the chain. Built from the light client, the gateway
//! client and the detector. Its state: the light client, and which nodes reads ask
//! last.

use std::cell::RefCell;

use serde::Serialize;
use serde_json::Value;
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::sealed::PlainRequest;
use vigil_protocol::{
    Address, Amount, ChainId, FaultEvidence, Hash32, NodeId, Nonce, Payload, SecretKey, SignedTransaction, Transaction,
    Transfer, TxHash,
};

use crate::client::{ClientError, GatewayClient, Transport};
use crate::detector::{self, Answer, DetectorError, NodeReport, Verdict};
use crate::light::{LightClient, LightError, VerifiedAccount};

/// Why a wallet operation failed; `code()` is stable for JS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    #[error(transparent)]
    Light(#[from] LightError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Detector(#[from] DetectorError),
    #[error("node answered {status}: {message}")]
    Node { status: u16, code: String, message: String },
    #[error("the answer of the node is not what the API promises: {0}")]
    BadAnswer(String),
    #[error("no validator answered")]
    NoValidator,
    #[error("vault: {0}")]
    Vault(String),
}

impl WalletError {
    pub fn code(&self) -> String {
        match self {
            WalletError::Light(e) => match e {
                LightError::Decode(_) => "DECODE",
                LightError::Certificate(_)
                | LightError::Header(_)
                | LightError::SetNotInForce { .. }
                | LightError::ModeRegression { .. } => "BAD_CERTIFICATE",
                LightError::StaleState { .. } => "STALE_STATE",
                LightError::UntrustedSet { .. } | LightError::UnknownSet(_) => "UNTRUSTED_SET",
                LightError::WrongChain { .. } => "WRONG_CHAIN",
                LightError::SetChanges(_) | LightError::ConflictingSetHistory => "BAD_SET_CHANGE",
                LightError::Proof(_) | LightError::NotAnAccount => "BAD_PROOF",
                LightError::BadReceiptSignature(_) | LightError::NotAValidator(_) => "BAD_RECEIPT",
            }
            .to_string(),
            WalletError::Client(e) => e.code().to_string(),
            WalletError::Detector(_) => "EVIDENCE".to_string(),
            WalletError::Node { code, .. } => code.clone(),
            WalletError::BadAnswer(_) => "BAD_ANSWER".to_string(),
            WalletError::NoValidator => "NO_VALIDATOR".to_string(),
            WalletError::Vault(_) => "VAULT".to_string(),
        }
    }
}

/// Evidence the wallet built and submitted against one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceReport {
    pub offender: NodeId,
    pub evidence_tx: TxHash,
    /// Whether the evidence transaction committed.
    pub committed: bool,
    /// The offender is out of the validator set this wallet followed (certified change).
    pub jailed: bool,
    /// Mode of the first certified header after the evidence (`Bft` once switched).
    pub mode_after: Option<vigil_protocol::ConsensusMode>,
    pub detail: String,
}

/// Everything the user sees after a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferReport {
    pub tx_hash: TxHash,
    pub nonce: u64,
    /// Every asked node's verdict.
    pub nodes: Vec<NodeReport>,
    pub evidence: Vec<EvidenceReport>,
    pub how_verified: String,
}

pub struct Session<T: Transport> {
    pub client: GatewayClient<T>,
    pub light: LightClient,
    /// Validators to cross-check (`None`: all of the trusted set). Ids not in the set
    /// are ignored, so a jailed node drops out by itself.
    pub cross_check: Option<Vec<NodeId>>,
    /// Nodes this wallet proved false (a signed receipt the block contradicts): reads
    /// ask them last. Their answers would be checked anyway, but once the evidence
    /// commits the gateway stops routing to the jailed node, and asking it first would
    /// cost a refused request on every read until the wallet follows the new set.
    proven_false: Vec<NodeId>,
    /// Nodes the gateway does not route to or finds down (from its node list, or a
    /// refusal naming the node): reads ask them last too, until the list says otherwise.
    unrouted: RefCell<Vec<NodeId>>,
}

/// The bytes of a proven-state answer (`/v1/state/{key}`, `/v1/accounts/{address}`).
pub(crate) struct StateAnswer {
    /// `None`: the proof says the key is absent.
    pub value: Option<Vec<u8>>,
    pub proof: Vec<u8>,
    pub certified_header: Vec<u8>,
}

/// Waits for a new chain's first certified block this many times, 250 ms apart.
const FIRST_CERTIFIED_TRIES: u32 = 40;

fn state_answer(v: &Value) -> Result<StateAnswer, WalletError> {
    let value = match v["value_bcs"].as_str() {
        Some(h) => Some(hex::decode(h).map_err(|_| WalletError::BadAnswer("value_bcs is not hex".into()))?),
        None => None,
    };
    Ok(StateAnswer {
        value,
        proof: hex_field(v, "proof_bcs")?,
        certified_header: hex_field(v, "certified_header_bcs")?,
    })
}

fn hex_field(v: &Value, field: &str) -> Result<Vec<u8>, WalletError> {
    v[field]
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| WalletError::BadAnswer(format!("missing or non-hex `{field}`")))
}

impl<T: Transport> Session<T> {
    pub fn new(client: GatewayClient<T>, light: LightClient) -> Self {
        Self { client, light, cross_check: None, proven_false: Vec::new(), unrouted: RefCell::default() }
    }

    pub fn chain_id(&self) -> &ChainId {
        self.light.chain_id()
    }

    /// The validators to ask: the current trusted set, narrowed to `cross_check`.
    pub fn nodes(&self) -> Vec<NodeId> {
        let all = self.light.current_set().validators().iter().map(|v| v.id);
        match &self.cross_check {
            Some(chosen) if all.clone().any(|id| chosen.contains(&id)) => {
                all.filter(|id| chosen.contains(id)).collect()
            }
            _ => all.collect(),
        }
    }

    /// The validators to read from, in the order to ask them: those proven false or
    /// not routed last.
    fn read_order(&self) -> Vec<NodeId> {
        let unrouted = self.unrouted.borrow();
        let (mut order, last): (Vec<NodeId>, Vec<NodeId>) =
            self.nodes().into_iter().partition(|n| !self.proven_false.contains(n) && !unrouted.contains(n));
        order.extend(last);
        order
    }

    /// What the gateway's node list (`GET /v1/nodes`) says: the nodes it routes to and
    /// finds healthy. Only the order of reads follows it; nothing is trusted from it.
    pub fn gateway_routes(&self, healthy: &[NodeId]) {
        *self.unrouted.borrow_mut() = self.nodes().into_iter().filter(|n| !healthy.contains(n)).collect();
    }

    /// A GET to the first validator that answers, as JSON.
    pub async fn read(&self, path: &str) -> Result<(NodeId, Value), WalletError> {
        let mut last = WalletError::NoValidator;
        for node in self.read_order() {
            match self.read_from(&node, path).await {
                Ok(v) => return Ok((node, v)),
                Err(e @ WalletError::BadAnswer(_)) => return Err(e),
                Err(e) => {
                    let mut unrouted = self.unrouted.borrow_mut();
                    if matches!(&e, WalletError::Client(c) if c.code() == "UNKNOWN_NODE") && !unrouted.contains(&node) {
                        unrouted.push(node);
                    }
                    last = e
                }
            }
        }
        Err(last)
    }

    /// A GET to `node`, as JSON: its answer if 200, else its error.
    async fn read_from(&self, node: &NodeId, path: &str) -> Result<Value, WalletError> {
        let r = self.client.forward(node, &PlainRequest::new("GET", path, None, vec![])).await?;
        if r.status != 200 {
            return Err(node_error(r.status, &r.body));
        }
        serde_json::from_slice(&r.body).map_err(|e| WalletError::BadAnswer(e.to_string()))
    }

    /// A proven-state answer (`/v1/state/{key}`, `/v1/accounts/{address}`) from the
    /// first validator that answers. A chain that has not certified its first block yet
    /// has no header to prove against: that is waited for, a few seconds at most.
    pub(crate) async fn read_state(&self, path: &str) -> Result<StateAnswer, WalletError> {
        for _ in 0..FIRST_CERTIFIED_TRIES {
            let (_, v) = self.read(path).await?;
            if !v["certified_header_bcs"].is_null() {
                return state_answer(&v);
            }
            self.client.sleep(250).await;
        }
        Err(WalletError::BadAnswer("the chain has not certified a block yet; try again in a moment".into()))
    }

    /// Follows the validator set to the chain's current one (certified changes only).
    pub async fn sync(&mut self) -> Result<bool, WalletError> {
        let (_, v) = self.read("/v1/validators").await?;
        Ok(self.light.follow(&hex_field(&v, "changes_bcs")?)?)
    }

    /// An account's balance and nonce, proven against a certified header.
    pub async fn account(&mut self, address: &Address) -> Result<VerifiedAccount, WalletError> {
        let a = self.read_state(&format!("/v1/accounts/{address}")).await?;
        Ok(self.light.verify_account(address, a.value.as_deref(), &a.proof, &a.certified_header)?)
    }

    /// Builds and signs a transaction for `key` with the nonce from its verified state.
    pub async fn sign(
        &mut self,
        key: &SecretKey,
        payload: Payload,
        fee: u64,
    ) -> Result<SignedTransaction, WalletError> {
        let from = Address::from_public_key(&key.public_key());
        let account = self.account(&from).await?;
        Ok(Transaction {
            chain_id: self.chain_id().clone(),
            sender: key.public_key(),
            nonce: Nonce(account.nonce),
            fee: Amount(fee),
            payload,
        }
        .sign(key))
    }

    /// Sends `tx` to every validator at once, waits for their signed receipts, judges
    /// them, and proves and reports any node whose receipt contradicts the block.
    pub async fn submit_everywhere(
        &mut self,
        key: &SecretKey,
        tx: &SignedTransaction,
    ) -> Result<TransferReport, WalletError> {
        let nodes = self.nodes();
        let request = submit_request(to_bytes(tx));
        let answers = self.client.fan_out(&nodes, &request).await?;
        let judged: Vec<(NodeId, Answer)> = answers
            .iter()
            .map(|a| {
                let answer = match (&a.result, a.json()) {
                    (Ok(_), Some(v)) if v["receipt_bcs"].is_string() => {
                        Answer::Receipt(hex::decode(v["receipt_bcs"].as_str().unwrap_or("")).unwrap_or_default())
                    }
                    (Ok(r), v) => Answer::Error {
                        code: v.as_ref().and_then(|v| v["error"]["code"].as_str()).unwrap_or("NO_RECEIPT").to_string(),
                        message: format!("answered {} without a receipt", r.status),
                    },
                    (Err(e), _) => Answer::Error { code: e.code().to_string(), message: e.to_string() },
                };
                (a.node, answer)
            })
            .collect();
        let classification = detector::classify(&self.light, &tx.hash(), &judged);
        let mut evidence = Vec::new();
        let liars: Vec<_> = classification.disagreeing().cloned().collect();
        if let Some(honest) = classification.agreeing().cloned() {
            for liar in liars {
                let proven = self.prove(&honest.receipt.node, &liar).await;
                let report = match proven {
                    Ok(ev) => {
                        if !self.proven_false.contains(&liar.receipt.node) {
                            self.proven_false.push(liar.receipt.node);
                        }
                        self.submit_evidence(key, ev, &liar.receipt.node).await?
                    }
                    Err(e) => EvidenceReport {
                        offender: liar.receipt.node,
                        evidence_tx: Hash32([0; 32]),
                        committed: false,
                        jailed: false,
                        mode_after: None,
                        detail: format!("not proven: {e}"),
                    },
                };
                evidence.push(report);
            }
        }
        let agreeing = classification.reports.iter().filter(|r| r.verdict == Verdict::Agrees).count();
        Ok(TransferReport {
            tx_hash: tx.hash(),
            nonce: tx.tx.nonce.0,
            how_verified: format!(
                "{agreeing} of {} receipts signed by validators of set {} (Ed25519) and equal; a differing receipt is proven false with the block's quorum certificate and a Merkle proof of its receipts root",
                nodes.len(),
                self.light.current_set().hash()
            ),
            nodes: classification.reports,
            evidence,
        })
    }

    /// Transfers `amount` to `to`: verified nonce, signed here, sent to every node.
    pub async fn transfer(
        &mut self,
        key: &SecretKey,
        to: Address,
        amount: u64,
        fee: u64,
    ) -> Result<TransferReport, WalletError> {
        let tx = self.sign(key, Payload::Transfer(Transfer { to, amount: Amount(amount) }), fee).await?;
        self.submit_everywhere(key, &tx).await
    }

    /// Fetches what the certified block holds at the liar's position from `honest`
    /// and builds the evidence (checked as the chain checks it).
    async fn prove(
        &mut self,
        honest: &NodeId,
        liar: &vigil_protocol::SignedReceipt,
    ) -> Result<FaultEvidence, WalletError> {
        let r = &liar.receipt;
        let path = format!("/v1/blocks/{}/receipts/{}", r.height, r.tx_index);
        let v = self.read_from(honest, &path).await?;
        Ok(detector::contradiction(
            &mut self.light,
            liar,
            &hex_field(&v, "certified_header_bcs")?,
            &hex_field(&v, "entry_bcs")?,
            &hex_field(&v, "proof_bcs")?,
        )?)
    }

    async fn submit_evidence(
        &mut self,
        key: &SecretKey,
        evidence: FaultEvidence,
        offender: &NodeId,
    ) -> Result<EvidenceReport, WalletError> {
        let tx = self.sign(key, Payload::FaultEvidence(Box::new(evidence)), 1).await?;
        let honest: Vec<NodeId> = self.nodes().into_iter().filter(|n| n != offender).collect();
        let request = submit_request(to_bytes(&tx));
        let mut detail = String::from("no honest node took the evidence");
        let mut committed = false;
        let mut already_jailed = false;
        let mut evidence_height = None;
        for node in honest {
            match self.client.forward(&node, &request).await {
                Ok(r) if r.status == 409 && crate::client::error_fields(&r.body, "", "").0 == "OFFENDER_NOT_IN_SET" => {
                    // Someone proved it first: the chain has jailed it already.
                    already_jailed = true;
                    detail = format!("{} was already jailed (evidence from another reporter)", offender.short());
                    break;
                }
                Ok(r) if r.status == 200 || r.status == 409 => {
                    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                    let receipt = self.light.verify_receipt(&hex_field(&v, "receipt_bcs")?)?;
                    committed = receipt.receipt.entry.status == vigil_protocol::TxStatus::Success;
                    evidence_height = Some(receipt.receipt.height);
                    detail = if committed {
                        format!(
                            "evidence committed at height {} (receipt signed by {})",
                            receipt.receipt.height,
                            node.short()
                        )
                    } else {
                        format!("evidence refused by the chain: {:?}", receipt.receipt.entry.status)
                    };
                    break;
                }
                Ok(r) => detail = node_error(r.status, &r.body).to_string(),
                Err(e) => detail = e.to_string(),
            }
        }
        let mut mode_after = None;
        if committed || already_jailed {
            self.sync().await?;
            if let Some(h) = evidence_height {
                mode_after = self.certified_mode_after(h).await;
            }
        }
        let jailed = (committed || already_jailed) && self.light.current_set().get(offender).is_none();
        Ok(EvidenceReport { offender: *offender, evidence_tx: tx.hash(), committed, jailed, mode_after, detail })
    }

    /// The mode of the first certified header above `height` (verified by its
    /// certificate), waiting a few seconds for it to be committed.
    async fn certified_mode_after(&mut self, height: vigil_protocol::Height) -> Option<vigil_protocol::ConsensusMode> {
        let next = height.next();
        for _ in 0..20 {
            // The block is asked for only from a node that has committed it: polling for
            // a block that does not exist yet would fill a browser's console with 404s.
            if let Ok((node, status)) = self.read("/v1/status").await {
                if status["height"].as_u64().is_some_and(|h| h >= next.0) {
                    let v = self.read_from(&node, &format!("/v1/blocks/{next}")).await.ok()?;
                    let bytes = hex_field(&v, "certified_header_bcs").ok()?;
                    return self.light.accept_header(&bytes).ok().map(|(ch, _)| ch.header.mode);
                }
            }
            self.client.sleep(250).await;
        }
        None
    }
}

/// A signed transaction (BCS) submitted to a node's API, waiting for its commit.
fn submit_request(tx_bcs: Vec<u8>) -> PlainRequest {
    PlainRequest::new("POST", "/v1/tx?wait=true&timeout_ms=15000", Some("application/octet-stream"), tx_bcs)
}

pub(crate) fn node_error(status: u16, body: &[u8]) -> WalletError {
    let (code, message) = crate::client::error_fields(body, "NODE_ERROR", "");
    WalletError::Node { status, code, message }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vigil_protocol::{EncryptionKey, P2pKey, ValidatorInfo, ValidatorSet};

    use super::*;
    use crate::client::tests::{answer, block_on, client, ok, Script};

    fn session(script: &Script) -> Session<&Script> {
        let keys: Vec<SecretKey> = (1..=4).map(|i| SecretKey::from_seed([i; 32])).collect();
        let set = ValidatorSet::new(
            keys.iter()
                .map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey([0; 32]), P2pKey([0xff; 32])))
                .collect(),
        )
        .unwrap();
        let light = LightClient::new(ChainId::new("vigil-test").unwrap(), &to_bytes(&set), &set.hash()).unwrap();
        Session::new(client(script), light)
    }

    /// The node the gateway was asked to forward each request to.
    fn targets(script: &Script) -> Vec<String> {
        let requests = script.requests.borrow();
        requests
            .iter()
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["target"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_node_proven_false_or_not_routed_is_read_from_last() {
        let script = Script::default();
        let mut s = session(&script);
        let nodes = s.nodes();
        script.answers.borrow_mut().extend([ok(200, answer()), ok(200, answer())]);
        block_on(s.read("/v1/status")).unwrap();
        assert_eq!(targets(&script), [nodes[0].to_string()], "in set order while no node is suspect");

        script.requests.borrow_mut().clear();
        s.proven_false.push(nodes[0]);
        block_on(s.read("/v1/status")).unwrap();
        assert_eq!(targets(&script), [nodes[1].to_string()], "the liar, jailed soon, is not asked first");
        assert_eq!(s.read_order().last(), Some(&nodes[0]), "but it is still asked if nobody else answers");
        assert_eq!(s.nodes(), nodes, "and its receipts are still cross-checked until the set drops it");

        // A node the gateway no longer routes to (jailed, seen by another wallet) costs
        // one refused request, not one per read.
        script.requests.borrow_mut().clear();
        let unknown = json!({ "error": { "code": "UNKNOWN_NODE", "message": "not a validator" } });
        script.answers.borrow_mut().extend([ok(404, unknown), ok(200, answer()), ok(200, answer())]);
        block_on(s.read("/v1/status")).unwrap();
        block_on(s.read("/v1/status")).unwrap();
        let asked = [&nodes[1], &nodes[2], &nodes[2]].map(ToString::to_string);
        assert_eq!(targets(&script), asked);
        assert_eq!(s.read_order()[2..], [nodes[0], nodes[1]]);

        // None at all when the gateway's node list is read first; a node back in the
        // list is asked in its turn again.
        s.gateway_routes(&[nodes[0], nodes[1], nodes[3]]);
        assert_eq!(s.read_order(), [nodes[1], nodes[3], nodes[0], nodes[2]]);
        s.gateway_routes(&nodes);
        assert_eq!(s.read_order(), [nodes[1], nodes[2], nodes[3], nodes[0]]);
    }
}
