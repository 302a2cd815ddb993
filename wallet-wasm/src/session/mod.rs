//! What a user does with the wallet, end to end: sync the trusted validator set, sign
//! with the verified nonce, send a transaction to every node at once and judge their
//! signed receipts. Built from the light client, the gateway client and the detector.
//! Its state: the light client, and which nodes reads ask last (the gateway client
//! remembers which gateway reaches which node).
//!
//! Each capability's wallet methods are a module of their own, each an
//! `impl Session` block: [`transfer`] (a verified, cross-checked balance; transfers),
//! [`evidence`] (a liar proven and the evidence delivered by every route), and the
//! [`vault`] (upload, list and download), [`certs`] (certificates), [`tables`] (rows
//! written from objects checked against the proven schema; reads and scans proven). [`checkpoint`] starts the light client from a
//! stable checkpoint instead of genesis.

pub mod audit;
pub mod certs;
pub mod checkpoint;
pub mod crosschain;
pub mod evidence;
pub mod tables;
pub mod transfer;
pub mod vault;

pub use evidence::EvidenceReport;

use serde::de::DeserializeOwned;
use serde::Serialize;
use vigil_api::{
    ErrorCode, Hex, ProvenState, ProvenStates, ReceiptAnswer, StatesRequest, ValidatorsProof, STATE_KEYS_MAX,
};
use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::sealed::{PlainRequest, PlainResponse};
use vigil_protocol::{
    Address, Amount, ChainId, CheckpointError, Height, NodeId, Nonce, Payload, SecretKey, SignedTransaction, StateKey,
    Transaction, TxHash,
};

use crate::client::{ClientError, GatewayClient, NodeAnswer};
use crate::detector::{self, Answer, DetectorError, NodeReport, Verdict};
use crate::light::{LightClient, LightError, ProvenEntry, Verification};
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
    #[error("no node serves a stable checkpoint yet (validators make one every few blocks): wait a moment, or start from the genesis set")]
    NoCheckpoint,
    #[error(transparent)]
    Certificate(#[from] certs::CertCheckError),
    #[error(transparent)]
    Table(#[from] crate::tables::TableError),
    #[error("no node committed the transaction: {reason}")]
    Refused { code: String, reason: String },
    #[error("the packet's {role} chain is `{expected}`, and this client follows `{found}`: give the source chain's client first, then the destination's")]
    PacketChain { role: &'static str, expected: ChainId, found: ChainId },
}

impl WalletError {
    pub fn code(&self) -> String {
        match self {
            WalletError::Light(e) => match e {
                LightError::Decode(_) => "DECODE",
                LightError::Certificate(_)
                | LightError::Header(_)
                | LightError::SetNotInForce { .. }
                | LightError::ModeRegression { .. }
                | LightError::NotCheckpointBlock { .. }
                | LightError::Verifier(_) => "BAD_CERTIFICATE",
                LightError::StaleState { .. } => "STALE_STATE",
                LightError::UntrustedSet { .. } | LightError::UnknownSet(_) => "UNTRUSTED_SET",
                LightError::WrongChain { .. } => "WRONG_CHAIN",
                LightError::SetChanges(_) | LightError::ConflictingSetHistory => "BAD_SET_CHANGE",
                LightError::Proof(_) | LightError::NotAnAccount => "BAD_PROOF",
                LightError::BadReceiptSignature(_) | LightError::NotAValidator(_) => "BAD_RECEIPT",
                LightError::BeforeStart { .. } => "BEFORE_CHECKPOINT",
                LightError::Checkpoint(CheckpointError::WrongChain { .. }) => "WRONG_CHAIN",
                LightError::Checkpoint(CheckpointError::OtherSet { .. })
                | LightError::CheckpointSetNotReached { .. } => "CHECKPOINT_SET_MISMATCH",
                LightError::Checkpoint(_) => "BAD_CHECKPOINT",
                LightError::PinnedHashMismatch { .. } => "PINNED_HASH_MISMATCH",
                LightError::CheckpointTooOld { .. } => "CHECKPOINT_TOO_OLD",
            }
            .to_string(),
            WalletError::Client(e) => e.code().to_string(),
            WalletError::Detector(_) => "EVIDENCE".to_string(),
            WalletError::Node { code, .. } => code.clone(),
            WalletError::BadAnswer(_) => "BAD_ANSWER".to_string(),
            WalletError::NoValidator => "NO_VALIDATOR".to_string(),
            WalletError::Vault(_) => "VAULT".to_string(),
            WalletError::NoCheckpoint => "NO_CHECKPOINT".to_string(),
            WalletError::Certificate(e) => e.code().to_string(),
            WalletError::Table(e) => e.code().to_string(),
            WalletError::PacketChain { .. } => "WRONG_CHAIN".to_string(),
            WalletError::Refused { code, .. } => code.clone(),
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

/// Codes that say a node did not take a transaction up, not that it refused it: the
/// transaction may still commit.
const NOT_A_REFUSAL: [&str; 7] =
    ["NODE_UNAVAILABLE", "NODE_TIMEOUT", "NODE_ERROR", "UNKNOWN_NODE", "GATEWAYS_DOWN", "NO_RECEIPT", "DUPLICATE"];

impl TransferReport {
    /// Why no node committed the transaction, when every node answered, none committed
    /// it and one refused it outright: that refusal's code and words (e.g.
    /// `NO_CONNECTION`). A node that did not answer, or had it pending, may still commit
    /// it: then this is `None`.
    pub fn refusal(&self) -> Option<WalletError> {
        if self.nodes.iter().any(|n| matches!(n.verdict, Verdict::Agrees | Verdict::TimedOut)) {
            return None;
        }
        let code_of = |why: &str| why.split_once(": ").map_or(why, |(code, _)| code).to_string();
        let pending = self
            .nodes
            .iter()
            .any(|n| matches!(&n.verdict, Verdict::Silent(why) if NOT_A_REFUSAL.contains(&code_of(why).as_str())));
        if pending {
            return None;
        }
        self.nodes.iter().find_map(|n| match &n.verdict {
            Verdict::Silent(why) => Some(WalletError::Refused { code: code_of(why), reason: why.clone() }),
            _ => None,
        })
    }
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
    /// The height of this session's newest committed transaction (its receipts'): state
    /// reads ask for at least that height, so what this session wrote is read back
    /// (a node a block behind waits for it) — read-your-writes.
    written_at: Height,
}

/// The bytes of a proven-state answer (`/v1/state/{key}`, `/v1/accounts/{address}`).
pub(crate) struct StateAnswer {
    /// `None`: the proof says the key is absent.
    pub value: Option<Vec<u8>>,
    pub proof: Vec<u8>,
    pub certified_header: Vec<u8>,
}

/// State values in the order asked (`None`: proven absent), and how they were verified.
pub type ProvenValues = (Vec<Option<Vec<u8>>>, Verification);

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
        Self { client, light, cross_check: None, proven_false: Vec::new(), written_at: Height(0) }
    }

    pub fn chain_id(&self) -> &ChainId {
        self.light.chain_id()
    }

    /// The validator set the light client trusts now (followed to through certified
    /// changes).
    pub fn current_set(&self) -> &vigil_protocol::ValidatorSet {
        self.light.current_set()
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
        self.request(&PlainRequest::new("GET", path, None, vec![])).await
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
    pub(crate) async fn read_from(&self, node: &NodeId, path: &str) -> Result<Reply, WalletError> {
        self.request_from(node, &PlainRequest::new("GET", path, None, vec![])).await
    }

    /// A request that changes nothing (a read with a body) to the first validator that
    /// answers.
    pub async fn request(&self, request: &PlainRequest) -> Result<(NodeId, Reply), WalletError> {
        let mut last = WalletError::NoValidator;
        for node in self.read_order() {
            match self.request_from(&node, request).await {
                Ok(body) => return Ok((node, body)),
                Err(e @ WalletError::BadAnswer(_)) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn request_from(&self, node: &NodeId, request: &PlainRequest) -> Result<Reply, WalletError> {
        let r = self.client.forward(node, request).await?;
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

    /// A state entry's bytes (BCS) proven against a certified header (`None`: proven
    /// absent).
    pub async fn proven_bytes(&mut self, key: &StateKey) -> Result<(Option<Vec<u8>>, Verification), WalletError> {
        let (_, a) = self.read_state(&format!("/v1/state/{}", hex::encode(to_bytes(key)))).await?;
        let verification = self.light.verify_state(key, a.value.as_deref(), &a.proof, &a.certified_header)?;
        Ok((a.value, verification))
    }

    /// Several state entries read at one height (`POST /v1/states`), each proven
    /// against that height's certified header: the values in the order of `keys`
    /// (`None`: proven absent).
    pub async fn proven_many(&mut self, keys: &[StateKey]) -> Result<ProvenValues, WalletError> {
        self.proven_many_after(keys, None).await
    }

    /// [`Session::proven_many`] at a height above `after` if one is committed within
    /// the node's wait (`STATES_WAIT_MAX_MS`): a follower's long poll.
    pub async fn proven_many_after(
        &mut self,
        keys: &[StateKey],
        after: Option<Height>,
    ) -> Result<ProvenValues, WalletError> {
        let proven = self.fetch_states(keys, after).await?;
        self.verify_proven(keys, proven)
    }

    /// `POST /v1/states` for `keys` (above `after`), as a node answered, not yet verified;
    /// retried while the chain has certified no block.
    pub(crate) async fn fetch_states(
        &mut self,
        keys: &[StateKey],
        after: Option<Height>,
    ) -> Result<ProvenStates, WalletError> {
        if keys.len() > STATE_KEYS_MAX {
            return Err(WalletError::BadAnswer(format!("at most {STATE_KEYS_MAX} state entries a read")));
        }
        let keys_bcs = keys.iter().map(|k| Hex(to_bytes(k))).collect();
        // At least the height of what this session committed last.
        let floor = self.written_at.0.checked_sub(1);
        let after = match (after.map(|h| h.0), floor) {
            (Some(a), Some(f)) => Some(a.max(f)),
            (a, f) => a.or(f),
        };
        let request = StatesRequest { keys_bcs, after };
        let body = serde_json::to_vec(&request).map_err(|e| WalletError::BadAnswer(e.to_string()))?;
        for _ in 0..FIRST_CERTIFIED_TRIES {
            let plain = PlainRequest::new("POST", "/v1/states", Some("application/json"), body.clone());
            let (_, reply) = self.request(&plain).await?;
            let proven: ProvenStates = reply.parse()?;
            if proven.certified_header_bcs.is_none() {
                self.client.sleep(250).await;
                continue;
            }
            return Ok(proven);
        }
        Err(WalletError::BadAnswer("the chain has not certified a block yet; try again in a moment".into()))
    }

    /// The entries of `proven` — which must be `keys`, in order — each verified against
    /// its certified header: their values (`None`: proven absent).
    pub(crate) fn verify_proven(
        &mut self,
        keys: &[StateKey],
        proven: ProvenStates,
    ) -> Result<ProvenValues, WalletError> {
        verify_proven_with(&mut self.light, keys, proven)
    }

    /// A state entry proven against a certified header (`None`: proven absent).
    pub async fn proven<V: DeserializeOwned>(
        &mut self,
        key: &StateKey,
    ) -> Result<(Option<V>, Verification), WalletError> {
        let (value, verification) = self.proven_bytes(key).await?;
        let decoded = match value {
            Some(bytes) => Some(from_bytes(&bytes).map_err(|e| WalletError::BadAnswer(format!("state value: {e}")))?),
            None => None,
        };
        Ok((decoded, verification))
    }

    /// Follows the validator set to the chain's current one (certified changes only).
    pub async fn sync(&mut self) -> Result<bool, WalletError> {
        let validators: ValidatorsProof = self.read("/v1/validators").await?.1.parse()?;
        Ok(self.light.follow(&validators.changes_bcs.0)?)
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
                    (Ok(r), None) => {
                        let (code, why) = crate::client::error_fields(&r.body, "NO_RECEIPT", "no reason given");
                        Answer::Error { code, message: format!("answered {} without a receipt ({why})", r.status) }
                    }
                    (Err(e), _) => Answer::Error { code: e.code().to_string(), message: e.to_string() },
                };
                (a.node, answer)
            })
            .collect();
        let classification = detector::classify(&self.light, &tx.hash(), &judged);
        let evidence = self.prove_liars(key, &classification).await?;
        let committed = classification
            .reports
            .iter()
            .filter(|r| r.verdict == Verdict::Agrees)
            .filter_map(|r| r.receipt.as_ref().map(|s| s.receipt.height))
            .max();
        if let Some(h) = committed {
            self.written_at = self.written_at.max(h);
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
}

impl<T: Platform> Session<T> {
    /// Sends `tx` to every validator at once, each copy sealed to its node, without
    /// waiting for the commit: for a process that watches the chain for what it sent (an
    /// authentication center) rather than a receipt. The nodes that took it into their
    /// pool, or had committed it already; `Err` only when none did, with the last refusal.
    pub async fn broadcast(&self, tx: &SignedTransaction) -> Result<Vec<NodeId>, WalletError> {
        self.broadcast_to(tx, &self.nodes()).await
    }

    /// [`Session::broadcast`] to `nodes` only (the nodes gossip what they take: one is
    /// enough when the sender watches the chain and sends again to all if it does not
    /// see it committed).
    pub async fn broadcast_to(&self, tx: &SignedTransaction, nodes: &[NodeId]) -> Result<Vec<NodeId>, WalletError> {
        let request = PlainRequest::new("POST", "/v1/tx?wait=false", Some("application/octet-stream"), to_bytes(tx));
        let answers = self.send_sealed_to_all(nodes, &request).await;
        let mut taken = Vec::new();
        let mut last = WalletError::NoValidator;
        for a in answers {
            match a.result {
                Ok(r) if r.status == 200 || r.status == 202 => taken.push(a.node),
                Ok(r) => last = node_error(r.status, &r.body),
                Err(e) => last = e.into(),
            }
        }
        if taken.is_empty() {
            return Err(last);
        }
        Ok(taken)
    }
}

/// The entries of `proven` — which must be `keys`, in order — each verified by `light`
/// against its certified header: their values (`None`: proven absent).
pub(crate) fn verify_proven_with(
    light: &mut LightClient,
    keys: &[StateKey],
    proven: ProvenStates,
) -> Result<ProvenValues, WalletError> {
    let certified = proven
        .certified_header_bcs
        .ok_or_else(|| WalletError::BadAnswer("the chain has not certified a block yet; try again".into()))?;
    let asked = keys.iter().map(to_bytes);
    if proven.entries.len() != keys.len() || !asked.zip(&proven.entries).all(|(k, e)| k == e.state_key_bcs.0) {
        return Err(WalletError::BadAnswer("the node answered for other state keys than those asked".into()));
    }
    let checked: Vec<ProvenEntry<'_>> = keys
        .iter()
        .zip(&proven.entries)
        .map(|(k, e)| (k, e.value_bcs.as_ref().map(|v| v.0.as_slice()), e.proof_bcs.0.as_slice()))
        .collect();
    let verification = light.verify_states(&checked, &certified.0)?;
    Ok((proven.entries.into_iter().map(|e| e.value_bcs.map(|v| v.0)).collect(), verification))
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
pub(crate) mod tests;
