//! What a user does with the wallet, end to end: sync the trusted validator set, read a
//! verified balance, send a transfer to every node at once, judge their signed
//! receipts, and prove a liar to the chain. Built from the light client, the gateway
//! client and the detector. Its state: the light client, and which nodes reads ask
//! last (the gateway client remembers which gateway reaches which node).

use serde::de::DeserializeOwned;
use serde::Serialize;
use vigil_api::{BlockProof, ErrorCode, ProvenState, ReceiptAnswer, ReceiptProof, StatusHeight, ValidatorsProof};
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::sealed::{PlainRequest, PlainResponse};
use vigil_protocol::{
    Address, Amount, ChainId, FaultEvidence, Hash32, NodeId, Nonce, Payload, SecretKey, SignedTransaction, Transaction,
    Transfer, TxHash,
};

use crate::client::{ClientError, GatewayClient, NodeAnswer};
use crate::detector::{self, Answer, DetectorError, NodeReport, Verdict};
use crate::light::{CrossCheck, LightClient, LightError, VerifiedAccount};
use crate::platform::Platform;

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

/// When every answer failed because no gateway could be reached: that error (and the
/// wallet reports it as such, not as n silent nodes).
fn gateways_down(answers: &[NodeAnswer]) -> Option<ClientError> {
    let all_down =
        !answers.is_empty() && answers.iter().all(|a| matches!(&a.result, Err(ClientError::AllGatewaysDown(_))));
    all_down.then(|| answers[0].result.clone().err()).flatten()
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

pub struct Session<T: Platform> {
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

/// Other nodes asked, one after another, to prove their newest height when an account
/// is read (a node that serves old state is caught by a second one's certified header).
const CROSS_CHECK_NODES_MAX: usize = 2;

/// A node's 200 answer, unread: one copy of the exchange serves every answer type.
pub struct Reply(Vec<u8>);

impl Reply {
    /// The answer read as the `vigil_api` type of what is verified in it.
    pub fn parse<A: DeserializeOwned>(&self) -> Result<A, WalletError> {
        serde_json::from_slice(&self.0).map_err(|e| WalletError::BadAnswer(e.to_string()))
    }
}

fn state_answer(p: ProvenState) -> Result<StateAnswer, WalletError> {
    let certified = p.certified_header_bcs.ok_or_else(|| WalletError::BadAnswer("no certified header yet".into()))?;
    Ok(StateAnswer { value: p.value_bcs.map(|h| h.0), proof: p.proof_bcs.0, certified_header: certified.0 })
}

impl<T: Platform> Session<T> {
    pub fn new(client: GatewayClient<T>, light: LightClient) -> Self {
        Self { client, light, cross_check: None, proven_false: Vec::new() }
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

    /// The validators to read from, in the order to ask them: those proven false, and
    /// those no gateway routes to (from their node lists, or refusals naming the node),
    /// last.
    fn read_order(&self) -> Vec<NodeId> {
        let (mut order, last): (Vec<NodeId>, Vec<NodeId>) =
            self.nodes().into_iter().partition(|n| !self.proven_false.contains(n) && self.client.reachable(n));
        order.extend(last);
        order
    }

    /// What gateway `gateway`'s node list (`GET /v1/nodes`) says: the nodes it routes to
    /// and finds healthy. Only the order of calls follows it (a node it does not route to
    /// is asked through the other gateways first); nothing is trusted from it.
    pub fn gateway_routes(&self, gateway: usize, healthy: &[NodeId]) {
        self.client.gateway_routes(gateway, &self.nodes(), healthy);
    }

    /// A GET to the first validator that answers, read as `A` (the `vigil_api` type of
    /// what is verified in it).
    pub async fn read(&self, path: &str) -> Result<(NodeId, Reply), WalletError> {
        let mut last = WalletError::NoValidator;
        for node in self.read_order() {
            match self.read_from(&node, path).await {
                Ok(body) => return Ok((node, body)),
                Err(e @ WalletError::BadAnswer(_)) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Sends `request` sealed here to `node`'s published HPKE key (the oblivious relay):
    /// the gateway passes on bytes it cannot read, so it cannot pick out a transfer, an
    /// evidence transaction or a vault request to drop or delay. A node outside the set
    /// this wallet follows has no key it trusts: such a request is forwarded instead.
    pub(crate) async fn send_sealed(
        &self,
        node: &NodeId,
        request: &PlainRequest,
    ) -> Result<PlainResponse, ClientError> {
        match self.light.current_set().get(node) {
            Some(info) => self.client.relay(node, &info.encryption_key, request).await,
            None => self.client.forward(node, request).await,
        }
    }

    /// `request` to each of `nodes` at once, each sealed to its node; a node silent
    /// through one gateway is asked through the next (nodes dedupe transactions by
    /// hash, so a second copy is answered with the same receipt). A node no gateway
    /// routes to (jailed since, or down) is not sent anything: its answer is that
    /// refusal, as a fan-out through the gateway would have had it.
    async fn send_sealed_to_all(&self, nodes: &[NodeId], request: &PlainRequest) -> Vec<NodeAnswer> {
        let sends = nodes.iter().map(|node| async move {
            let result =
                if self.client.reachable(node) { self.send_sealed(node, request).await } else { Err(not_routed()) };
            NodeAnswer { node: *node, result }
        });
        futures_util::future::join_all(sends).await
    }

    /// `request` to each of `nodes` through every gateway at once, each copy sealed on
    /// its own: evidence goes out by every route, so no one gateway can hold it back.
    /// Every answer, node by node in the order of `nodes`, each node's in gateway order.
    async fn send_sealed_everywhere(&self, nodes: &[NodeId], request: &PlainRequest) -> Vec<NodeAnswer> {
        let sends = nodes.iter().map(|node| async move {
            let results = match self.light.current_set().get(node) {
                Some(info) if self.client.reachable(node) => {
                    self.client.relay_everywhere(node, &info.encryption_key, request).await
                }
                Some(_) => vec![Err(not_routed())],
                None => vec![self.client.forward(node, request).await],
            };
            results.into_iter().map(|result| NodeAnswer { node: *node, result }).collect::<Vec<_>>()
        });
        futures_util::future::join_all(sends).await.into_iter().flatten().collect()
    }

    /// A GET to `node`, read as `A`: its answer if 200, else its error.
    async fn read_from(&self, node: &NodeId, path: &str) -> Result<Reply, WalletError> {
        let r = self.client.forward(node, &PlainRequest::new("GET", path, None, vec![])).await?;
        if r.status != 200 {
            return Err(node_error(r.status, &r.body));
        }
        Ok(Reply(r.body))
    }

    /// A proven-state answer (`/v1/state/{key}`, `/v1/accounts/{address}`) from the
    /// first validator that answers. A chain that has not certified its first block yet
    /// has no header to prove against: that is waited for, a few seconds at most.
    pub(crate) async fn read_state(&self, path: &str) -> Result<(NodeId, StateAnswer), WalletError> {
        for _ in 0..FIRST_CERTIFIED_TRIES {
            let (node, answer) = self.read(path).await?;
            let proven: ProvenState = answer.parse()?;
            if proven.certified_header_bcs.is_some() {
                return Ok((node, state_answer(proven)?));
            }
            self.client.sleep(250).await;
        }
        Err(WalletError::BadAnswer("the chain has not certified a block yet; try again in a moment".into()))
    }

    /// Follows the validator set to the chain's current one (certified changes only).
    pub async fn sync(&mut self) -> Result<bool, WalletError> {
        let validators: ValidatorsProof = self.read("/v1/validators").await?.1.parse()?;
        Ok(self.light.follow(&validators.changes_bcs.0)?)
    }

    /// An account's balance and nonce, proven against a certified header, and
    /// cross-checked: a second node proves its newest height, so state more than
    /// `STATE_LAG_MAX_BLOCKS` behind it is refused as stale and read again from that node
    /// (a node or gateway cannot show an old balance, or have the wallet sign with an old
    /// nonce, while another node answers).
    pub async fn account(&mut self, address: &Address) -> Result<VerifiedAccount, WalletError> {
        let path = format!("/v1/accounts/{address}");
        let (node, a) = self.read_state(&path).await?;
        let cross_check = self.newest_elsewhere(&node).await;
        let verified = self.light.verify_account(address, a.value.as_deref(), &a.proof, &a.certified_header);
        let mut verified = match (verified, &cross_check) {
            (Err(LightError::StaleState { .. }), Some(newer)) => {
                let a = state_answer(self.read_from(&newer.node, &path).await?.parse()?)?;
                self.light.verify_account(address, a.value.as_deref(), &a.proof, &a.certified_header)?
            }
            (verified, _) => verified?,
        };
        verified.verification.cross_check = cross_check;
        Ok(verified)
    }

    /// The newest height a node other than `except` proves: its status names a height,
    /// and the certified header at that height is verified (which raises the newest
    /// height this wallet knows). A claim without a valid certificate proves nothing and
    /// the next node is asked; `None` if none could prove one.
    async fn newest_elsewhere(&mut self, except: &NodeId) -> Option<CrossCheck> {
        let others: Vec<NodeId> =
            self.read_order().into_iter().filter(|n| n != except).take(CROSS_CHECK_NODES_MAX).collect();
        for node in others {
            let Ok(status) = self.read_from(&node, "/v1/status").await.and_then(|a| a.parse::<StatusHeight>()) else {
                continue;
            };
            let height = status.height;
            if height.0 == 0 {
                continue;
            }
            let block = self.read_from(&node, &format!("/v1/blocks/{height}")).await;
            let Ok(block) = block.and_then(|a| a.parse::<BlockProof>()) else {
                continue;
            };
            if let Ok((header, _)) = self.light.accept_header(&block.certified_header_bcs.0) {
                return Some(CrossCheck { node, height: header.header.height });
            }
        }
        None
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
        let answers = self.send_sealed_to_all(&nodes, &request).await;
        if let Some(down) = gateways_down(&answers) {
            return Err(down.into());
        }
        let judged: Vec<(NodeId, Answer)> = answers
            .iter()
            .map(|a| {
                let receipt = a.parse::<ReceiptAnswer>();
                let answer = match (&a.result, receipt) {
                    (Ok(_), Some(receipt)) => Answer::Receipt(receipt.receipt_bcs.0),
                    (Ok(r), None) => Answer::Error {
                        code: crate::client::error_code_of(&r.body).map_or("NO_RECEIPT", ErrorCode::as_str).to_string(),
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
        let proof: ReceiptProof = self.read_from(honest, &path).await?.parse()?;
        Ok(detector::contradiction(
            &mut self.light,
            liar,
            &proof.certified_header_bcs.0,
            &proof.entry_bcs.0,
            &proof.proof_bcs.0,
        )?)
    }

    async fn submit_evidence(
        &mut self,
        key: &SecretKey,
        evidence: FaultEvidence,
        offender: &NodeId,
    ) -> Result<EvidenceReport, WalletError> {
        let tx = self.sign(key, Payload::FaultEvidence(Box::new(evidence)), 1).await?;
        let Delivery { detail, committed, already_jailed, evidence_height } = self.deliver(&tx, offender).await?;
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

    /// Sends signed evidence against `offender` to every other node, through every
    /// gateway, and reads the first answer that settles it.
    async fn deliver(&self, tx: &SignedTransaction, offender: &NodeId) -> Result<Delivery, WalletError> {
        let honest: Vec<NodeId> = self.nodes().into_iter().filter(|n| n != offender).collect();
        let request = submit_request(to_bytes(tx));
        let mut detail = String::from("no honest node took the evidence");
        let mut committed = false;
        let mut already_jailed = false;
        let mut evidence_height = None;
        // Every honest node at once, through every gateway, each copy sealed to its node:
        // a gateway that would drop it cannot tell evidence from any other request, and a
        // gateway or node that drops it is one route of several.
        for NodeAnswer { node, result } in self.send_sealed_everywhere(&honest, &request).await {
            match result {
                Ok(r)
                    if r.status == 409
                        && crate::client::error_code_of(&r.body) == Some(ErrorCode::OffenderNotInSet) =>
                {
                    // Someone proved it first: the chain has jailed it already.
                    already_jailed = true;
                    detail = format!("{} was already jailed (evidence from another reporter)", offender.short());
                    break;
                }
                Ok(r) if r.status == 200 || r.status == 409 => {
                    // A copy answered without a valid receipt settles nothing: another
                    // node, or another route, may still.
                    let receipt = match serde_json::from_slice::<ReceiptAnswer>(&r.body)
                        .map_err(|e| WalletError::BadAnswer(e.to_string()))
                        .and_then(|a| Ok(self.light.verify_receipt(&a.receipt_bcs.0)?))
                    {
                        Ok(receipt) => receipt,
                        Err(e) => {
                            detail = format!("{} answered {} without a valid receipt: {e}", node.short(), r.status);
                            continue;
                        }
                    };
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
        Ok(Delivery { detail, committed, already_jailed, evidence_height })
    }

    /// The mode of the first certified header above `height` (verified by its
    /// certificate), waiting a few seconds for it to be committed.
    async fn certified_mode_after(&mut self, height: vigil_protocol::Height) -> Option<vigil_protocol::ConsensusMode> {
        let next = height.next();
        for _ in 0..20 {
            // The block is asked for only from a node that has committed it: polling for
            // a block that does not exist yet would fill a browser's console with 404s.
            if let Ok((node, status)) = self.read("/v1/status").await {
                if status.parse::<StatusHeight>().is_ok_and(|s| s.height >= next) {
                    let block: BlockProof =
                        self.read_from(&node, &format!("/v1/blocks/{next}")).await.ok()?.parse().ok()?;
                    return self.light.accept_header(&block.certified_header_bcs.0).ok().map(|(ch, _)| ch.header.mode);
                }
            }
            self.client.sleep(250).await;
        }
        None
    }
}

/// What came of sending evidence: the first answer that settled it.
struct Delivery {
    detail: String,
    committed: bool,
    already_jailed: bool,
    evidence_height: Option<vigil_protocol::Height>,
}

/// The answer for a node no gateway routes to: not sent.
fn not_routed() -> ClientError {
    ClientError::Gateway {
        status: ErrorCode::NodeUnavailable.status(),
        code: ErrorCode::NodeUnavailable.as_str().into(),
        message: "no gateway routes to this node".into(),
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
pub(crate) mod tests {
    use std::cell::RefCell;

    use serde_json::json;
    use vigil_protocol::{EncryptionKey, P2pKey, ValidatorInfo, ValidatorSet};

    use super::*;
    use crate::client::tests::{answer, block_on, client, forwarded, ok, Script};
    use crate::client::{ClientConfig, HttpRequest, HttpResponse, TransportError};
    use crate::light::tests::{certify, fixture, header};
    use crate::light::STATE_LAG_MAX_BLOCKS;
    use vigil_protocol::{AccountState, Amount, Height, Nonce, StateKey, StateTree};

    pub(crate) fn session(script: &Script) -> Session<&Script> {
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
            .map(|r| {
                serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["target"].as_str().unwrap().to_string()
            })
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

        // A node no gateway routes to any more (jailed, seen by another wallet) costs
        // one refused request per gateway, not one per read.
        script.requests.borrow_mut().clear();
        let unknown = json!({ "error": { "code": "UNKNOWN_NODE", "message": "not a validator" } });
        script.answers.borrow_mut().extend([
            ok(404, unknown.clone()),
            ok(404, unknown),
            ok(200, answer()),
            ok(200, answer()),
        ]);
        block_on(s.read("/v1/status")).unwrap();
        block_on(s.read("/v1/status")).unwrap();
        let asked = [&nodes[1], &nodes[1], &nodes[2], &nodes[2]].map(ToString::to_string);
        assert_eq!(targets(&script), asked);
        assert_eq!(s.read_order()[2..], [nodes[0], nodes[1]]);

        // None at all when the gateways' node lists are read first; a node back in the
        // lists is asked in its turn again.
        for gateway in [0, 1] {
            s.gateway_routes(gateway, &[nodes[0], nodes[1], nodes[3]]);
        }
        assert_eq!(s.read_order(), [nodes[1], nodes[3], nodes[0], nodes[2]]);
        for gateway in [0, 1] {
            s.gateway_routes(gateway, &nodes);
        }
        assert_eq!(s.read_order(), [nodes[1], nodes[2], nodes[3], nodes[0]]);

        // A node one gateway does not route to keeps its turn: it is asked through the
        // other gateway first.
        s.gateway_routes(0, &[nodes[0], nodes[1], nodes[3]]);
        assert_eq!(s.read_order(), [nodes[1], nodes[2], nodes[3], nodes[0]]);
        script.requests.borrow_mut().clear();
        script.answers.borrow_mut().push_back(ok(200, answer()));
        block_on(s.read_from(&nodes[2], "/v1/status")).unwrap();
        let urls: Vec<String> = script.requests.borrow().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, ["https://b.example/v1/forward"]);
    }

    /// Finding 5 of the soundness review: on 35b51aa any older certified state was
    /// accepted after a newer header, and nothing looked for a newer one, so a node (or a
    /// gateway choosing it) could show an old balance and have the wallet sign with an
    /// old nonce. Now a second node proves its newest height; state too far behind it is
    /// read again from that node, and a second node's unproven claim changes nothing.
    #[test]
    fn an_old_state_is_caught_by_a_second_nodes_certified_height() {
        let (set, keys, _) = fixture();
        let alice = Address([0xa1; 20]);
        let account = |balance, nonce| to_bytes(&AccountState { balance: Amount(balance), nonce: Nonce(nonce) });
        let mut tree = StateTree::new();
        let old_root = tree.apply(0, [(StateKey::Account(alice), Some(account(900, 1)))]).unwrap();
        let (_, old_proof) = tree.get_with_proof(&StateKey::Account(alice), 0).unwrap();
        let new_root = tree.apply(1, [(StateKey::Account(alice), Some(account(100, 7)))]).unwrap();
        let (_, new_proof) = tree.get_with_proof(&StateKey::Account(alice), 1).unwrap();
        let certified =
            |height: u64, root| vigil_api::Hex(to_bytes(&certify(&set, &keys, header(&set, height, root, &set), 3)));
        let state = |height, root, value: Vec<u8>, proof: &vigil_protocol::StateProof| {
            serde_json::to_value(ProvenState {
                height: Height(height),
                state_key_bcs: to_bytes(&StateKey::Account(alice)).into(),
                value_bcs: Some(value.into()),
                proof_bcs: to_bytes(proof).into(),
                certified_header_bcs: Some(certified(height, root)),
            })
            .unwrap()
        };
        let old = 10;
        let new = old + STATE_LAG_MAX_BLOCKS + 1;

        let script = Script::default();
        let mut s = session(&script);
        let nodes = s.nodes();
        script.answers.borrow_mut().extend([
            // The first node serves an old state, honestly certified at its height.
            forwarded(&nodes[0], 200, &state(old, old_root, account(900, 1), &old_proof)),
            // A second node claims a height it cannot prove (no such block): ignored.
            forwarded(&nodes[1], 200, &json!({ "height": 1_000_000 })),
            forwarded(&nodes[1], 404, &json!({ "error": { "code": "NOT_FOUND", "message": "no block" } })),
            // A third proves a newer height with its certified header.
            forwarded(&nodes[2], 200, &json!({ "height": new })),
            forwarded(
                &nodes[2],
                200,
                &serde_json::to_value(BlockProof {
                    tx_hashes: vec![],
                    certified_header_bcs: certified(new, new_root),
                    justification_bcs: None,
                })
                .unwrap(),
            ),
            // The wallet reads the account again from it.
            forwarded(&nodes[2], 200, &state(new, new_root, account(100, 7), &new_proof)),
        ]);
        let a = block_on(s.account(&alice)).unwrap();
        assert_eq!((a.balance, a.nonce), (100, 7), "the current balance and nonce, not the old ones");
        assert_eq!(a.verification.height, Some(Height(new)));
        assert_eq!(a.verification.cross_check, Some(CrossCheck { node: nodes[2], height: Height(new) }));
        assert_eq!(targets(&script), [0, 1, 1, 2, 2, 2].map(|i| nodes[i].to_string()));
        assert!(script.answers.borrow().is_empty());

        // With no second node able to prove anything, the state is shown as it is, and
        // its verification says it was not cross-checked.
        let script = Script::default();
        let mut s = session(&script);
        script.answers.borrow_mut().extend([forwarded(
            &nodes[0],
            200,
            &state(old, old_root, account(900, 1), &old_proof),
        )]);
        let a = block_on(s.account(&alice)).unwrap();
        assert_eq!((a.balance, a.verification.cross_check), (900, None));
    }

    /// Finding 8 of the soundness review: on 35b51aa every transfer, evidence and vault
    /// request went through `/v1/forward`, where the gateway reads it (and could drop a
    /// liar's receipt or the evidence against it). Now the wallet seals each to the
    /// node's own published key and the gateway relays bytes it cannot read; a node the
    /// gateway does not route to is not sent anything.
    #[test]
    fn submissions_are_sealed_to_each_node_and_relayed() {
        let keys: Vec<SecretKey> = (1..=4).map(|i| SecretKey::from_seed([i; 32])).collect();
        let mut hpke = [0u8; 32];
        hpke[0] = 9; // X25519's base point: a valid public key
        let set = ValidatorSet::new(
            keys.iter()
                .map(|k| ValidatorInfo::new("v", k.public_key(), EncryptionKey(hpke), P2pKey([0xff; 32])))
                .collect(),
        )
        .unwrap();
        let light = LightClient::new(ChainId::new("vigil-test").unwrap(), &to_bytes(&set), &set.hash()).unwrap();
        let script = Script::default();
        let mut s = Session::new(client(&script), light);
        let nodes = s.nodes();
        for gateway in [0, 1] {
            s.gateway_routes(gateway, &nodes[..3]);
        }
        let tx = vigil_protocol::Transaction {
            chain_id: ChainId::new("vigil-test").unwrap(),
            sender: keys[0].public_key(),
            nonce: Nonce(0),
            fee: Amount(1),
            payload: Payload::Transfer(vigil_protocol::Transfer { to: Address([7; 20]), amount: Amount(5) }),
        }
        .sign(&keys[0]);
        let down = json!({ "error": { "code": "NODE_UNAVAILABLE", "message": "down" } });
        // Each routed node is down, through one gateway and then the other.
        script.answers.borrow_mut().extend((0..6).map(|_| ok(503, down.clone())));
        let report = block_on(s.submit_everywhere(&keys[0], &tx)).unwrap();
        assert_eq!(report.nodes.len(), 4, "every node has a verdict, the unrouted one too");
        let requests = script.requests.borrow();
        let relayed: Vec<_> = requests.iter().filter(|r| r.url.contains("/v1/relay/")).collect();
        assert_eq!(
            relayed.len(),
            6,
            "one sealed request per routed node and gateway: {:?}",
            requests.iter().map(|r| &r.url).collect::<Vec<_>>()
        );
        let tx_bytes = to_bytes(&tx);
        for (pair, node) in relayed.chunks(2).zip(&nodes) {
            assert_eq!(pair[0].url, format!("https://a.example/v1/relay/{node}"));
            assert_eq!(pair[1].url, format!("https://b.example/v1/relay/{node}"));
            assert_ne!(pair[0].body, pair[1].body, "sealed afresh for each route");
            for r in pair {
                assert_eq!(r.content_type, Some(vigil_protocol::sealed::REQUEST_MEDIA_TYPE));
                assert!(
                    !r.body.windows(tx_bytes.len()).any(|w| w == tx_bytes),
                    "the gateway never sees the transaction"
                );
            }
        }
        assert!(!requests.iter().any(|r| r.url.ends_with(&format!("/v1/relay/{}", nodes[3]))));
        assert!(requests.iter().all(|r| r.url.contains("/v1/relay/")), "nothing of the submission is forwarded");
    }

    /// Four nodes behind two gateways, `https://a.example` and `https://b.example/`,
    /// answering for real: each relayed request is opened with its node's HPKE key and
    /// answered with that node's signed receipt for the transaction inside, sealed back
    /// (the nodes do not judge what they are sent). A copy of a transaction a node has
    /// committed already is answered as nodes do: 409 `ALREADY_COMMITTED`, with the
    /// receipt. Through gateway A, the nodes in `silent_via_a` time out: the request
    /// reaches them, their answer is lost.
    struct Network {
        nodes: Vec<(NodeId, SecretKey, ohttp::Server)>,
        set: ValidatorSet,
        silent_via_a: Vec<NodeId>,
        committed: RefCell<Vec<(NodeId, TxHash)>>,
        requests: RefCell<Vec<HttpRequest>>,
    }

    impl Network {
        fn new() -> Self {
            let mut nodes = Vec::new();
            let mut infos = Vec::new();
            for i in 1..=4u8 {
                let key = SecretKey::from_seed([i; 32]);
                let config = vigil_protocol::sealed::server_config(&[i + 100; 32]).unwrap();
                let hpke = EncryptionKey(config.encode().unwrap()[3..35].try_into().unwrap());
                infos.push(ValidatorInfo::new("v", key.public_key(), hpke, P2pKey([0xff; 32])));
                nodes.push((NodeId::from_public_key(&key.public_key()), key, ohttp::Server::new(config).unwrap()));
            }
            let set = ValidatorSet::new(infos).unwrap();
            Self { nodes, set, silent_via_a: Vec::new(), committed: RefCell::default(), requests: RefCell::default() }
        }

        fn session(&self) -> Session<&Network> {
            let light =
                LightClient::new(ChainId::new("vigil-test").unwrap(), &to_bytes(&self.set), &self.set.hash()).unwrap();
            let cfg = ClientConfig {
                gateways: vec!["https://a.example".into(), "https://b.example/".into()],
                ..ClientConfig::default()
            };
            Session::new(GatewayClient::new(cfg, self), light)
        }

        /// The gateways each node was sent something through, in order.
        fn routes(&self, node: &NodeId) -> Vec<String> {
            let relay = format!("/v1/relay/{node}");
            let requests = self.requests.borrow();
            requests.iter().filter_map(|r| r.url.strip_suffix(&relay)).map(str::to_string).collect()
        }
    }

    impl Platform for &Network {
        fn now_ms(&self) -> u64 {
            1_700_000_000_000
        }
        fn fill_random(&self, out: &mut [u8]) {
            out.fill(0xa5);
        }
        async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
            self.requests.borrow_mut().push(request.clone());
            let (gateway, node) = request.url.split_once("/v1/relay/").expect("only relayed requests");
            let node: NodeId = node.parse().unwrap();
            let (_, key, server) = self.nodes.iter().find(|(id, _, _)| *id == node).unwrap();
            let (plain, responder) = server.decapsulate(&request.body).unwrap();
            let inner = PlainRequest::from_bhttp(&plain).unwrap();
            assert!(inner.path.starts_with("/v1/tx?wait=true"));
            let tx: SignedTransaction = vigil_protocol::encoding::from_bytes(&inner.body).unwrap();
            let again = self.committed.borrow().contains(&(node, tx.hash()));
            self.committed.borrow_mut().push((node, tx.hash()));
            if gateway == "https://a.example" && self.silent_via_a.contains(&node) {
                return ok(504, json!({ "error": { "code": "NODE_TIMEOUT", "message": "did not answer" } }));
            }
            let receipt = vigil_protocol::Receipt {
                chain_id: ChainId::new("vigil-test").unwrap(),
                height: Height(1),
                block_hash: Hash32([7; 32]),
                tx_index: 0,
                entry: vigil_protocol::ReceiptEntry {
                    tx_hash: tx.hash(),
                    status: vigil_protocol::TxStatus::Success,
                    result_hash: Hash32([5; 32]),
                },
                node,
            }
            .sign(key);
            let error = again.then(|| vigil_api::ErrorDetail {
                code: ErrorCode::AlreadyCommitted,
                message: "already committed".into(),
            });
            let body = serde_json::to_value(ReceiptAnswer {
                tx_hash: tx.hash(),
                receipt_bcs: to_bytes(&receipt).into(),
                error,
            })
            .unwrap();
            let answer = PlainResponse {
                status: if again { 409 } else { 200 },
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.to_string().into_bytes(),
            };
            let sealed = responder.encapsulate(&answer.to_bhttp().unwrap()).unwrap();
            Ok(HttpResponse { status: 200, retry_after_s: None, body: sealed })
        }
        async fn sleep(&self, _ms: u64) {}
    }

    fn transfer(key: &SecretKey, nonce: u64) -> SignedTransaction {
        vigil_protocol::Transaction {
            chain_id: ChainId::new("vigil-test").unwrap(),
            sender: key.public_key(),
            nonce: Nonce(nonce),
            fee: Amount(1),
            payload: Payload::Transfer(vigil_protocol::Transfer { to: Address([7; 20]), amount: Amount(5) }),
        }
        .sign(key)
    }

    /// Issue 14, finding 8: a gateway through which a node stays silent is routed
    /// around, and the session remembers the route that worked. The copy through the
    /// first gateway reached the node (only its answer was lost), so the second copy is
    /// answered `ALREADY_COMMITTED` with the node's receipt: a receipt all the same.
    #[test]
    fn a_node_silent_through_one_gateway_gives_its_receipt_through_the_next() {
        let mut network = Network::new();
        let silent = network.nodes[0].0;
        network.silent_via_a.push(silent);
        let mut s = network.session();
        let key = SecretKey::from_seed([9; 32]);
        let report = block_on(s.submit_everywhere(&key, &transfer(&key, 0))).unwrap();
        let verdicts: Vec<_> = report.nodes.iter().map(|r| (r.node, r.verdict.clone())).collect();
        let all_agree: Vec<_> = s.nodes().into_iter().map(|id| (id, Verdict::Agrees)).collect();
        assert_eq!(verdicts, all_agree, "the silent node's receipt came through the other gateway");
        assert_eq!(network.routes(&silent), ["https://a.example", "https://b.example"]);
        for (other, _, _) in &network.nodes[1..] {
            assert_eq!(network.routes(other), ["https://a.example"]);
        }

        // The next transfer goes to that node through the gateway that worked.
        network.requests.borrow_mut().clear();
        let report = block_on(s.submit_everywhere(&key, &transfer(&key, 1))).unwrap();
        assert!(report.nodes.iter().all(|r| r.verdict == Verdict::Agrees));
        assert_eq!(network.routes(&silent), ["https://b.example"]);
    }

    /// Issue 14, finding 8: evidence goes out by more than one route — to every other
    /// node, through every gateway, each copy sealed on its own.
    #[test]
    fn evidence_is_sent_through_every_gateway_to_every_other_node() {
        let mut network = Network::new();
        let silent = network.nodes[0].0;
        network.silent_via_a.push(silent);
        let s = network.session();
        let offender = network.nodes[3].0;
        let key = SecretKey::from_seed([9; 32]);
        let tx = transfer(&key, 0);
        let delivery = block_on(s.deliver(&tx, &offender)).unwrap();
        assert!(delivery.committed, "{}", delivery.detail);
        assert_eq!(delivery.evidence_height, Some(Height(1)));
        for (node, _, _) in &network.nodes[..3] {
            assert_eq!(network.routes(node), ["https://a.example", "https://b.example"], "node {node}");
        }
        assert!(network.routes(&offender).is_empty(), "the offender is not asked to commit evidence against itself");
        let requests = network.requests.borrow();
        let bodies: std::collections::BTreeSet<&Vec<u8>> = requests.iter().map(|r| &r.body).collect();
        assert_eq!(bodies.len(), requests.len(), "no two routes carry the same bytes");
    }
}
