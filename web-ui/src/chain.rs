//! The web wallet's link to the chain: a wallet session (light client + gateway client
//! over `fetch`) shared by the pages, and the reads each page needs, every one verified
//! in this tab before it is shown. The session uses the gateway that served the page
//! first, then the other gateways it lists (`GET /v1/wallet-config`, which its CSP lets
//! the page reach) that serve the same pinned chain.

use std::rc::Rc;

use serde::de::DeserializeOwned;
use vigil_api::{BlockProof, FaucetInfo, FaucetRequest, Funded, NodesAnswer, StatusHeight};
use vigil_protocol::authcenter::{IdentityClaims, Subject};
use vigil_protocol::encoding::to_bytes;
use vigil_protocol::tables::{RowOp, TableSchema};
use vigil_protocol::wallet_config::WalletConfig;
use vigil_protocol::{
    Address, Block, BlockHeader, ConsensusMode, Genesis, Hash32, NodeId, SecretKey, TxHash, ValidatorSet,
};
use vigil_protocol::{UserId, VaultManifest};
use vigil_wallet::client::{ClientConfig, GatewayClient, HttpRequest};
use vigil_wallet::fetch::Fetch;
use vigil_wallet::handle::SessionHandle;
use vigil_wallet::keys::WalletSeed;
use vigil_wallet::light::{LightClient, Start, VerifiedAccount, CHECKPOINT_AGE_MAX_BLOCKS};
use vigil_wallet::platform::Platform;
use vigil_wallet::session::certs::{CertificateReport, RequestReport, RequestView};
use vigil_wallet::session::tables::{HistoryReport, ScanBounds, ScanReport, TableView};
use vigil_wallet::session::vault::{DownloadReport, Phase, UploadReport};
use vigil_wallet::session::{Session, TransferReport, WalletError};

use crate::error::UiError;

/// Where the pinned chain is remembered (validator-set hash of genesis and chain id).
pub const PIN_KEY: &str = "vigil.pinned-genesis";
/// Where the other chain of transfers across is remembered, pinned on first use as the
/// wallet's own chain is (its gateway's genesis: `chain id:genesis set hash`).
pub const OTHER_PIN_KEY: &str = "vigil.pinned-other-chain";

/// Which chain a session follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The wallet's own: the chain of the gateway that served the page (or the one built
    /// in), its failover gateways those the gateway lists.
    Home,
    /// The other chain of transfers across: its genesis pinned under [`OTHER_PIN_KEY`],
    /// never built in; its failover gateways `also` (the other-chain gateways the serving
    /// gateway lists, which its CSP lets the page reach), never the ones it lists itself.
    Other { also: Vec<String> },
}

impl Role {
    fn pin_key(&self) -> &'static str {
        match self {
            Role::Home => PIN_KEY,
            Role::Other { .. } => OTHER_PIN_KEY,
        }
    }

    fn built_in(&self) -> Option<&'static str> {
        match self {
            Role::Home => BUILT_IN_PIN,
            Role::Other { .. } => None,
        }
    }
}

/// The chain a production build trusts (`chain id:genesis set hash`), set by `cargo xtask
/// build-web --genesis FILE`: then no gateway's genesis is pinned on first use, and the
/// trusted chain cannot be reset.
pub const BUILT_IN_PIN: Option<&str> = option_env!("VIGIL_PINNED_CHAIN");

/// A session shared by the pages; one call at a time (the others wait their turn).
#[derive(Clone)]
pub struct Chain {
    pub(crate) session: SessionHandle<Fetch>,
    /// Every gateway the wallet was told about: those used, in order (this one first),
    /// and those left out with why.
    pub gateways: Rc<Vec<crate::model::GatewayUse>>,
    pub genesis: Rc<Genesis>,
    /// How the light client started: from genesis, or from which checkpoint and pin.
    pub started: Rc<Start>,
    /// The other chains' gateways the serving gateway lists (`other_chains`), which its
    /// CSP lets the page reach: where the other chain of transfers across is followed.
    pub other_chains: Rc<Vec<String>>,
}

impl PartialEq for Chain {
    fn eq(&self, other: &Self) -> bool {
        self.session.same(&other.session)
    }
}

/// The gateway's view of one node (not verified: its health as the gateway sees it).
pub use vigil_api::NodeHealth;

/// What the dashboard shows, all of it checked here except the gateway's health view.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    pub account: VerifiedAccount,
    pub mode: Option<ConsensusMode>,
    pub set: ValidatorSet,
    pub jailed: Vec<String>,
    pub health: Vec<NodeHealth>,
    /// Units the gateway's test faucet gives, if it has one.
    pub faucet: Option<u64>,
    /// How the light client started (genesis, or which checkpoint and pin).
    pub started: Rc<Start>,
}

/// One verified block for the explorer.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockRow {
    pub header: BlockHeader,
    pub hash: Hash32,
    pub signers: Vec<String>,
    pub txs: usize,
    /// The transaction list the node sent hashes to the certified header's tx root.
    pub txs_match_root: bool,
}

/// Which of the gateways in use a call to the gateways themselves goes to.
#[derive(Debug, Clone, Copy)]
enum Pick {
    /// The first: the faucet is one gateway's own feature (a test network's first).
    First,
    Only(usize),
}

/// Longest wait for a gateway's own answers (genesis, wallet configuration).
const GATEWAY_TIMEOUT_MS: u64 = 10_000;

/// A GET to a gateway itself, as `T` from JSON.
async fn gateway_get<T: serde::de::DeserializeOwned>(gateway: &str, path: &str) -> Result<T, UiError> {
    let r = Fetch
        .send(HttpRequest {
            method: "GET",
            url: format!("{gateway}{path}"),
            content_type: None,
            body: vec![],
            timeout_ms: GATEWAY_TIMEOUT_MS,
        })
        .await
        .map_err(|e| UiError::GatewayUnreachable { gateway: gateway.into(), reason: e.to_string() })?;
    if r.status != 200 {
        return Err(UiError::GatewayStatus { gateway: gateway.into(), path: path.into(), status: r.status });
    }
    serde_json::from_slice(&r.body).map_err(|e| UiError::GatewayAnswer {
        gateway: gateway.into(),
        path: path.into(),
        reason: e.to_string(),
    })
}

/// The chain a genesis is (`chain id:genesis set hash`), as pins are written.
fn pin_of(genesis: &Genesis) -> String {
    format!("{}:{}", genesis.chain_id, genesis.validators.hash())
}

impl Chain {
    /// Fetches the gateway's genesis, checks it against the pin this build carries or this
    /// browser keeps (a development build's first use pins it), and starts a session
    /// trusting it, through this gateway and then the other gateways it lists that serve
    /// the same chain; its light client from genesis, or from the newest stable
    /// checkpoint verified against the pin `start` names.
    pub async fn connect(
        gateway: String,
        cross_check: Option<Vec<NodeId>>,
        start: crate::model::LightStart,
        role: Role,
    ) -> Result<Chain, UiError> {
        let gateway = gateway.trim_end_matches('/').to_string();
        let genesis: Genesis =
            gateway_get(&gateway, "/v1/genesis").await.map_err(|e| UiError::NoGenesis(Box::new(e)))?;
        let set_hash = genesis.validators.hash();
        let pin = pin_of(&genesis);
        let (pin_key, built_in) = (role.pin_key(), role.built_in());
        if crate::model::check_pin(built_in, crate::storage::get(pin_key).as_deref(), &pin)? {
            crate::storage::set(pin_key, &pin)?;
        }
        let light = LightClient::new(genesis.chain_id.clone(), &to_bytes(&genesis.validators), &set_hash)
            .map_err(|e| UiError::Genesis(e.to_string()))?;
        // An older gateway without the endpoint, or a list that does not check, leaves
        // this gateway alone: nothing is lost but the failover.
        let config = match gateway_get::<WalletConfig>(&gateway, "/v1/wallet-config").await {
            Ok(cfg) if cfg.check().is_ok() => cfg,
            _ => WalletConfig::default(),
        };
        let listed: Vec<String> = match &role {
            Role::Home => config.gateways.iter().map(ToString::to_string).collect(),
            Role::Other { also } => also.clone(),
        };
        let other_chains = match role {
            Role::Home => config.other_chains.iter().map(ToString::to_string).collect(),
            Role::Other { .. } => Vec::new(),
        };
        let mut others = Vec::new();
        for url in listed {
            let served = gateway_get::<Genesis>(&url, "/v1/genesis").await.map(|g| pin_of(&g));
            others.push((url, served));
        }
        let gateways = crate::model::gateways_to_use(built_in, &gateway, &pin, others);
        let used: Vec<String> = gateways.iter().filter(|g| g.state.is_ok()).map(|g| g.url.clone()).collect();
        let cfg = ClientConfig { gateways: used.clone(), ..ClientConfig::default() };
        let mut session = Session::new(GatewayClient::new(cfg, Fetch), light);
        session.cross_check = cross_check;
        if let Some(pin) = start.pin(&genesis.validators) {
            // Which nodes each gateway routes to first (a node jailed since genesis is
            // not asked for the checkpoint), as the overview does.
            for (i, url) in used.iter().enumerate() {
                if let Ok(list) = gateway_get::<NodesAnswer>(url, "/v1/nodes").await {
                    let routed: Vec<NodeId> = list.nodes.iter().filter(|h| h.healthy).map(|h| h.id).collect();
                    session.gateway_routes(i, &routed);
                }
            }
            session.start_from_checkpoint(&pin, CHECKPOINT_AGE_MAX_BLOCKS).await?;
        }
        let started = Rc::new(session.light.start().clone());
        Ok(Chain {
            session: SessionHandle::new(session),
            gateways: Rc::new(gateways),
            genesis: Rc::new(genesis),
            started,
            other_chains: Rc::new(other_chains),
        })
    }

    /// Validator set, verified balance and the latest certified mode.
    pub async fn overview(&self, me: &Address) -> Result<Overview, UiError> {
        let lists = self.node_lists().await;
        let faucet =
            self.gateway_json::<FaucetInfo>(Pick::First, "GET", "/v1/faucet", None).await.ok().map(|(_, f)| f.amount);
        let mut s = self.session.hold().await;
        for (gateway, health) in &lists {
            // A node jailed since the pinned genesis, or down, is asked through the other
            // gateways first, and read from last if none routes to it.
            let routed: Vec<NodeId> = health.iter().filter(|h| h.healthy).map(|h| h.id).collect();
            s.gateway_routes(*gateway, &routed);
        }
        let mut health = lists.into_iter().next().map(|(_, h)| h).unwrap_or_default();
        let order = |id: &NodeId| self.genesis.validators.index_of(id).unwrap_or(usize::MAX);
        health.sort_by_key(|h| order(&h.id));
        let result = async {
            s.sync().await?;
            let account = s.account(me).await?;
            let set = s.light.current_set().clone();
            let mode = s.light.latest_header().map(|h| h.header.mode);
            Ok::<_, WalletError>((account, set, mode))
        }
        .await;
        let (account, set, mode) = result?;
        let started = self.started.clone();
        let jailed = self
            .genesis
            .validators
            .validators()
            .iter()
            .filter(|v| set.get(&v.id).is_none())
            .map(|v| v.name.clone())
            .collect();
        Ok(Overview { account, mode, set, jailed, health, faucet, started })
    }

    /// The gateways the session uses, in order.
    fn used(&self) -> impl Iterator<Item = &str> {
        self.gateways.iter().filter(|g| g.state.is_ok()).map(|g| g.url.as_str())
    }

    /// A call to a gateway itself (not forwarded to a node), its answer read as `A`: to
    /// the gateways `pick` names among those used, the first that can be reached, with
    /// its index among them; an error answer is [`UiError::GatewayRefused`].
    async fn gateway_json<A: DeserializeOwned>(
        &self,
        pick: Pick,
        method: &'static str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(usize, A), UiError> {
        let mut last = UiError::NoGateway;
        let picked = |i: usize| match pick {
            Pick::First => i == 0,
            Pick::Only(j) => i == j,
        };
        for (i, gateway) in self.used().enumerate().filter(|(i, _)| picked(*i)) {
            let sent = Fetch
                .send(HttpRequest {
                    method,
                    url: format!("{gateway}{path}"),
                    content_type: body.as_ref().map(|_| "application/json"),
                    body: body.clone().unwrap_or_default(),
                    timeout_ms: 15_000,
                })
                .await;
            let r = match sent {
                Ok(r) => r,
                Err(e) => {
                    last = UiError::GatewayUnreachable { gateway: gateway.into(), reason: e.to_string() };
                    continue;
                }
            };
            if r.status != 200 {
                let refused = vigil_wallet::client::error_of(&r.body);
                return Err(UiError::GatewayRefused {
                    status: r.status,
                    code: refused.as_ref().map(|e| e.code.to_string()),
                    message: refused.map(|e| e.message),
                });
            }
            let answer = serde_json::from_slice(&r.body).map_err(|e| UiError::GatewayAnswer {
                gateway: gateway.into(),
                path: path.into(),
                reason: e.to_string(),
            })?;
            return Ok((i, answer));
        }
        Err(last)
    }

    /// Each used gateway's health view of each node (`GET /v1/nodes`), by its index
    /// among them, in order; a gateway that does not answer is left out. Every list is
    /// asked for, so that a node none of them routes to (jailed, or down) is known as
    /// such and costs no refused request on each gateway.
    pub async fn node_lists(&self) -> Vec<(usize, Vec<NodeHealth>)> {
        let mut lists = Vec::new();
        for i in 0..self.used().count() {
            if let Ok((_, answer)) = self.gateway_json::<NodesAnswer>(Pick::Only(i), "GET", "/v1/nodes", None).await {
                lists.push((i, answer.nodes));
            }
        }
        lists
    }

    /// Asks the test faucet for funds; resolves to the height they landed at.
    pub async fn fund(&self, me: &Address) -> Result<u64, UiError> {
        // A struct of one string always serializes.
        let body = serde_json::to_vec(&FaucetRequest { address: me.to_string() }).unwrap_or_default();
        let (_, funded) = self.gateway_json::<Funded>(Pick::First, "POST", "/v1/faucet", Some(body)).await?;
        Ok(funded.height.0)
    }

    /// Signs a transfer with the verified nonce and sends it to every cross-checked node.
    pub async fn transfer(
        &self,
        key: &SecretKey,
        to: Address,
        amount: u64,
        fee: u64,
    ) -> Result<TransferReport, UiError> {
        let mut s = self.session.hold().await;
        let r = s.transfer(key, to, amount, fee).await;
        Ok(r?)
    }

    /// The newest blocks, each header checked against its certificate and its
    /// transaction list against the header's tx root (from the checkpoint's next height
    /// on, if the light client started from one: it trusts no set before it).
    pub async fn recent_blocks(&self, count: u64) -> Result<Vec<BlockRow>, UiError> {
        let mut s = self.session.hold().await;
        let result = async {
            s.sync().await?;
            let top: StatusHeight = s.read("/v1/status").await.and_then(|(_, a)| a.parse())?;
            let mut rows = Vec::new();
            for h in (s.light.first_height().0..=top.height.0).rev().take(count as usize) {
                let block: BlockProof = s.read(&format!("/v1/blocks/{h}")).await.and_then(|(_, a)| a.parse())?;
                let (ch, verification) = s.light.accept_header(&block.certified_header_bcs.0)?;
                let hashes: Vec<TxHash> = block.tx_hashes;
                rows.push(BlockRow {
                    hash: ch.header.hash(),
                    txs: hashes.len(),
                    txs_match_root: Block::tx_root_of(&hashes) == ch.header.tx_root,
                    signers: verification.signers.iter().map(|id| self.name(id)).collect(),
                    header: ch.header,
                });
            }
            Ok::<_, WalletError>(rows)
        }
        .await;
        Ok(result?)
    }

    /// Encrypts, splits and uploads `bytes`; `progress(phase, done, total)` as it goes.
    pub async fn vault_upload(
        &self,
        seed: &WalletSeed,
        user_id: &UserId,
        label: &str,
        bytes: &[u8],
        progress: &mut dyn FnMut(Phase, u64, u64),
    ) -> Result<UploadReport, UiError> {
        let mut s = self.session.hold().await;
        let r = s.vault_upload(seed, 0, user_id, label, bytes, progress).await;
        Ok(r?)
    }

    /// This account's stored objects, each manifest proven.
    pub async fn vault_list(&self, owner: &Address) -> Result<Vec<VaultManifest>, UiError> {
        let mut s = self.session.hold().await;
        let r = s.vault_list(owner).await;
        Ok(r?)
    }

    /// Fetches, checks, rebuilds and decrypts one object.
    pub async fn vault_download(
        &self,
        seed: &WalletSeed,
        object_id: &Hash32,
        progress: &mut dyn FnMut(Phase, u64, u64),
    ) -> Result<(Vec<u8>, DownloadReport), UiError> {
        let mut s = self.session.hold().await;
        let r = s.vault_download(seed, 0, object_id, progress).await;
        let (bytes, report) = r?;
        Ok((bytes.to_vec(), report))
    }

    /// Requests a certificate for `key` (which signs the request and pays its fee), the
    /// claims sealed here to each center; the request's id once committed.
    pub async fn request_certificate(
        &self,
        key: &SecretKey,
        subject: Subject,
        claims: &IdentityClaims,
        validity_s: u64,
    ) -> Result<RequestReport, UiError> {
        let mut s = self.session.hold().await;
        let r = s.request_certificate(key, key, subject, claims, validity_s).await;
        Ok(r?)
    }

    /// A request with each center's verdict, proven.
    pub async fn certificate_request(&self, id: u64) -> Result<RequestView, UiError> {
        let mut s = self.session.hold().await;
        let r = s.certificate_request_view(id).await;
        Ok(r?)
    }

    /// The requests waiting for the centers, each proven (at most `max`).
    pub async fn pending_certificate_requests(&self, max: usize) -> Result<Vec<RequestView>, UiError> {
        let mut s = self.session.hold().await;
        let r = s.pending_certificate_requests(max).await;
        Ok(r?)
    }

    /// A certificate by serial as PEM, with its verification against the chain.
    pub async fn certificate(&self, serial: &str) -> Result<(String, CertificateReport), UiError> {
        let mut s = self.session.hold().await;
        let pem = s.certificate_pem(serial).await?;
        let report = s.verify_certificate(pem.as_bytes()).await?;
        Ok((pem, report))
    }

    /// Verifies a certificate (PEM or DER) against the chain.
    pub async fn verify_certificate(&self, certificate: &[u8]) -> Result<CertificateReport, UiError> {
        let mut s = self.session.hold().await;
        let r = s.verify_certificate(certificate).await;
        Ok(r?)
    }

    /// The tables' names, proven.
    pub async fn tables(&self) -> Result<Vec<String>, UiError> {
        let mut s = self.session.hold().await;
        Ok(s.tables().await?.0)
    }

    /// A table's schema, owner and root, proven.
    pub async fn table(&self, name: &str) -> Result<TableView, UiError> {
        let mut s = self.session.hold().await;
        Ok(s.table(name).await?)
    }

    /// Creates a table owned by `key`'s account.
    pub async fn create_table(&self, key: &SecretKey, schema: TableSchema) -> Result<TransferReport, UiError> {
        let mut s = self.session.hold().await;
        Ok(s.create_table(key, schema).await?)
    }

    /// Writes a row (an object of column → value), checked against the proven schema.
    pub async fn write_row(
        &self,
        key: &SecretKey,
        table: &str,
        op: RowOp,
        row: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<TransferReport, UiError> {
        let mut s = self.session.hold().await;
        Ok(s.write_row(key, table, op, row).await?)
    }

    /// A page of rows after `after` (a cursor), proven complete.
    pub async fn scan_rows(&self, table: &str, after: Option<Vec<u8>>, limit: u32) -> Result<ScanReport, UiError> {
        let mut s = self.session.hold().await;
        let bounds = ScanBounds { after, ..ScanBounds::default() };
        Ok(s.scan_rows(table, &bounds, limit).await?)
    }

    /// A key's versions, each proven and its signature checked.
    pub async fn row_history(&self, table: &str, key: &[u8]) -> Result<HistoryReport, UiError> {
        let mut s = self.session.hold().await;
        Ok(s.row_history(table, key, None).await?)
    }

    /// The node ids of the trusted set with their names.
    pub fn validators(&self) -> Vec<(NodeId, String)> {
        match self.session.try_hold() {
            Some(s) => s.light.current_set().validators().iter().map(|v| (v.id, v.name.clone())).collect(),
            None => self.genesis.validators.validators().iter().map(|v| (v.id, v.name.clone())).collect(),
        }
    }

    /// A validator's name: from the current set, else from genesis (a jailed node keeps
    /// its name), else a short id.
    pub fn name(&self, id: &NodeId) -> String {
        if let Some(s) = self.session.try_hold() {
            if let Some(v) = s.light.current_set().get(id) {
                return v.name.clone();
            }
        }
        crate::model::node_name(&self.genesis.validators, id)
    }

    pub fn set_cross_check(&self, nodes: Option<Vec<NodeId>>) {
        if let Some(mut s) = self.session.try_hold() {
            s.cross_check = nodes;
        }
    }
}
