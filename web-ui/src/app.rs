//! The web wallet: one Yew component in the Elm shape (state, messages, view): routing,
//! the idle lock and the banner here, each page's view in `pages/`. Keys live only in
//! this wasm instance's memory while unlocked; the browser stores the encrypted keystore
//! and nothing else secret.

use std::rc::Rc;

use gloo::events::EventListener;
use gloo::timers::callback::Interval;
use gloo::timers::future::TimeoutFuture;
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use vigil_protocol::{ConsensusMode, Hash32, NodeId, UserId, VaultManifest};
use vigil_wallet::fetch::Fetch;
use vigil_wallet::keys::WalletSeed;
use vigil_wallet::keystore::Keystore;
use vigil_wallet::platform::{Platform, PlatformRng};
use vigil_wallet::session::TransferReport;
use vigil_wallet::vault_client::{DownloadReport, Phase, UploadReport};

use crate::chain::{BlockRow, Chain, Overview, BUILT_IN_PIN, PIN_KEY};
use crate::model::{self, Settings};
use crate::storage;

#[path = "pages/mod.rs"]
mod pages;

/// The user id last used for the vault (not secret).
const USER_ID_KEY: &str = "vigil.vault-user";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Dashboard,
    Send,
    Vault,
    Explorer,
    Settings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Welcome,
    /// The new phrase is shown; the user writes it down.
    CreateShow,
    /// The user retypes three words and sets a password.
    CreateConfirm,
    Import,
    Unlock,
    Wallet(Page),
}

pub enum Msg {
    Go(Screen),
    NewWallet,
    Create,
    Import,
    Seal { seed: Rc<WalletSeed>, password: String },
    Sealed(Result<String, String>, Rc<WalletSeed>),
    Unlock,
    Unlocked(Result<Rc<WalletSeed>, String>),
    Lock,
    Connected(Result<Chain, String>),
    Refresh,
    Fund,
    Funded(Result<u64, String>),
    Refreshed(Result<Overview, String>),
    RecipientInput,
    Send,
    Sent(Result<TransferReport, String>),
    LoadBlocks,
    Blocks(Result<Vec<BlockRow>, String>),
    LoadVault,
    VaultListed(Result<Vec<VaultManifest>, String>),
    Upload,
    UploadFile(UserId, Result<(String, Vec<u8>), String>),
    Uploaded(Result<UploadReport, String>),
    Download(Hash32),
    Downloaded(Result<(String, Vec<u8>, DownloadReport), String>),
    Progress(Phase, u64, u64),
    SaveSettings,
    ExportKeystore,
    ResetTrust,
    Forget,
    DismissError,
    Activity,
    IdleTick,
}

#[derive(Default)]
struct Inputs {
    password: NodeRef,
    password2: NodeRef,
    phrase: NodeRef,
    confirm: [NodeRef; 3],
    recipient: NodeRef,
    amount: NodeRef,
    fee: NodeRef,
    gateway: NodeRef,
    user_id: NodeRef,
    file: NodeRef,
}

pub struct App {
    screen: Screen,
    seed: Option<Rc<WalletSeed>>,
    /// A new wallet being created and the word positions to confirm.
    pending: Option<(Rc<WalletSeed>, [usize; 3])>,
    chain: Option<Chain>,
    settings: Settings,
    busy: Option<String>,
    error: Option<String>,
    notice: Option<String>,
    overview: Option<Overview>,
    report: Option<TransferReport>,
    /// Evidence reports from this session: the banner stays until the wallet locks.
    caught: Vec<String>,
    blocks: Option<Vec<BlockRow>>,
    recipient_error: Option<String>,
    confirm_forget: bool,
    objects: Option<Vec<VaultManifest>>,
    /// The vault operation under way: phase, done, total.
    progress: Option<(Phase, u64, u64)>,
    vault_note: Option<String>,
    inputs: Inputs,
    last_activity: f64,
    _listeners: Vec<EventListener>,
    _idle: Interval,
}

fn value(r: &NodeRef) -> String {
    if let Some(i) = r.cast::<HtmlInputElement>() {
        return i.value();
    }
    r.cast::<HtmlTextAreaElement>().map(|t| t.value()).unwrap_or_default()
}

fn clear(r: &NodeRef) {
    if let Some(i) = r.cast::<HtmlInputElement>() {
        i.set_value("");
    } else if let Some(t) = r.cast::<HtmlTextAreaElement>() {
        t.set_value("");
    }
}

/// The platform's clock, in milliseconds (as the idle timer counts them).
fn now() -> f64 {
    Fetch.now_ms() as f64
}

fn origin() -> String {
    web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default()
}

impl App {
    /// Routing: the wallet's pages once unlocked, onboarding before.
    fn view_screen(&self, ctx: &Context<Self>) -> Html {
        match self.screen {
            Screen::Wallet(Page::Dashboard) => self.view_dashboard(ctx),
            Screen::Wallet(Page::Send) => self.view_send(ctx),
            Screen::Wallet(Page::Vault) => self.view_vault(ctx),
            Screen::Wallet(Page::Explorer) => self.view_explorer(ctx),
            Screen::Wallet(Page::Settings) => self.view_settings(ctx),
            _ => self.view_onboarding(ctx),
        }
    }

    fn address(&self) -> Option<String> {
        self.seed.as_ref()?.account(0).ok().map(|a| a.address().to_string())
    }

    fn name(&self, id: &NodeId) -> String {
        match &self.chain {
            Some(c) => c.name(id),
            None => model::short(&id.to_string()),
        }
    }

    fn gateway(&self) -> String {
        if self.settings.gateway.trim().is_empty() {
            origin()
        } else {
            self.settings.gateway.trim().to_string()
        }
    }

    fn cross_check(&self) -> Option<Vec<NodeId>> {
        let ids: Vec<NodeId> = self.settings.cross_check.iter().filter_map(|h| h.parse().ok()).collect();
        (!ids.is_empty()).then_some(ids)
    }

    fn connect(&mut self, ctx: &Context<Self>) {
        self.busy = Some("Connecting to the gateway and checking the chain's genesis…".into());
        let (gateway, cross) = (self.gateway(), self.cross_check());
        ctx.link().send_future(async move { Msg::Connected(Chain::connect(gateway, cross).await) });
    }

    fn refresh(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Some(me)) = (self.chain.clone(), self.seed.as_ref().and_then(|s| s.account(0).ok())) else {
            return;
        };
        self.busy = Some("Verifying your balance against a certified header…".into());
        let me = me.address();
        ctx.link().send_future(async move { Msg::Refreshed(chain.overview(&me).await) });
    }

    fn open_wallet(&mut self, ctx: &Context<Self>, seed: Rc<WalletSeed>) {
        self.seed = Some(seed);
        self.screen = Screen::Wallet(Page::Dashboard);
        self.last_activity = now();
        for r in [&self.inputs.password, &self.inputs.password2, &self.inputs.phrase] {
            clear(r);
        }
        self.connect(ctx);
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let settings = storage::get(storage::SETTINGS_KEY)
            .and_then(|s| serde_json::from_slice::<Settings>(s.as_bytes()).ok())
            .unwrap_or_default();
        let screen = if storage::get(storage::KEYSTORE_KEY).is_some() { Screen::Unlock } else { Screen::Welcome };
        let mut listeners = Vec::new();
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            for event in ["keydown", "pointerdown"] {
                let link = ctx.link().clone();
                listeners.push(EventListener::new(&doc, event, move |_| link.send_message(Msg::Activity)));
            }
        }
        let link = ctx.link().clone();
        let idle = Interval::new(10_000, move || link.send_message(Msg::IdleTick));
        App {
            screen,
            seed: None,
            pending: None,
            chain: None,
            settings,
            busy: None,
            error: None,
            notice: None,
            overview: None,
            report: None,
            caught: Vec::new(),
            blocks: None,
            recipient_error: None,
            confirm_forget: false,
            objects: None,
            progress: None,
            vault_note: None,
            inputs: Inputs::default(),
            last_activity: now(),
            _listeners: listeners,
            _idle: idle,
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Activity => {
                self.last_activity = now();
                return false;
            }
            Msg::IdleTick => {
                let idle_ms = f64::from(model::IDLE_LOCK_MINUTES) * 60_000.0;
                if self.seed.is_none() || now() - self.last_activity < idle_ms {
                    return false;
                }
                ctx.link().send_message(Msg::Lock);
                self.notice = Some(format!("Locked after {} idle minutes.", model::IDLE_LOCK_MINUTES));
            }
            Msg::DismissError => self.error = None,
            Msg::Go(screen) => {
                self.error = None;
                self.notice = None;
                self.confirm_forget = false;
                if screen == Screen::Wallet(Page::Explorer) && self.blocks.is_none() {
                    ctx.link().send_message(Msg::LoadBlocks);
                }
                if screen == Screen::Wallet(Page::Vault) && self.objects.is_none() {
                    ctx.link().send_message(Msg::LoadVault);
                }
                self.screen = screen;
            }
            Msg::NewWallet => {
                let seed = Rc::new(WalletSeed::generate(&mut PlatformRng(&Fetch)));
                let mut r = [0u8; 3];
                Fetch.fill_random(&mut r);
                self.pending = Some((seed, model::confirm_positions(r)));
                self.screen = Screen::CreateShow;
                self.error = None;
            }
            Msg::Create => {
                let Some((seed, positions)) = self.pending.clone() else { return false };
                let typed = self.inputs.confirm.each_ref().map(value);
                if !model::words_confirmed(&seed.phrase(), &positions, &typed) {
                    self.error = Some("Those words do not match your recovery phrase. Go back and check it.".into());
                    return true;
                }
                let (p1, p2) = (value(&self.inputs.password), value(&self.inputs.password2));
                if let Err(e) = model::new_password(&p1, &p2) {
                    self.error = Some(e);
                    return true;
                }
                ctx.link().send_message(Msg::Seal { seed, password: p1 });
            }
            Msg::Import => {
                let seed = match WalletSeed::from_phrase(&value(&self.inputs.phrase)) {
                    Ok(s) => Rc::new(s),
                    Err(e) => {
                        self.error = Some(format!("This recovery phrase cannot be imported: {e}."));
                        return true;
                    }
                };
                let (p1, p2) = (value(&self.inputs.password), value(&self.inputs.password2));
                if let Err(e) = model::new_password(&p1, &p2) {
                    self.error = Some(e);
                    return true;
                }
                ctx.link().send_message(Msg::Seal { seed, password: p1 });
            }
            Msg::Seal { seed, password } => {
                self.error = None;
                self.busy = Some("Encrypting your keystore (Argon2id, 64 MiB)…".into());
                // Let the browser paint the progress before the KDF holds the thread.
                ctx.link().send_future(async move {
                    TimeoutFuture::new(30).await;
                    let sealed = Keystore::seal(&seed, &password, &mut PlatformRng(&Fetch))
                        .map(|k| k.to_json())
                        .map_err(|e| e.to_string());
                    Msg::Sealed(sealed, seed)
                });
            }
            Msg::Sealed(result, seed) => {
                self.busy = None;
                match result {
                    Ok(json) => {
                        storage::set(storage::KEYSTORE_KEY, &json);
                        self.pending = None;
                        self.open_wallet(ctx, seed);
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            Msg::Unlock => {
                let password = value(&self.inputs.password);
                let Some(json) = storage::get(storage::KEYSTORE_KEY) else {
                    self.screen = Screen::Welcome;
                    return true;
                };
                self.error = None;
                self.notice = None;
                self.busy = Some("Unlocking (Argon2id)…".into());
                ctx.link().send_future(async move {
                    TimeoutFuture::new(30).await;
                    let opened = Keystore::from_json(&json)
                        .and_then(|k| {
                            let seed = k.open(&password)?;
                            // A keystore sealed with weaker key derivation than today's
                            // defaults is sealed again with them, now that it is open.
                            if k.is_weaker_than_default() {
                                if let Ok(stronger) = Keystore::seal(&seed, &password, &mut PlatformRng(&Fetch)) {
                                    storage::set(storage::KEYSTORE_KEY, &stronger.to_json());
                                }
                            }
                            Ok(seed)
                        })
                        .map(Rc::new)
                        .map_err(|e| match e {
                            vigil_wallet::keystore::KeystoreError::WrongPassword => {
                                "Wrong password. Try again, or import your recovery phrase.".to_string()
                            }
                            e => e.to_string(),
                        });
                    Msg::Unlocked(opened)
                });
            }
            Msg::Unlocked(result) => {
                self.busy = None;
                match result {
                    Ok(seed) => self.open_wallet(ctx, seed),
                    Err(e) => self.error = Some(e),
                }
            }
            Msg::Lock => {
                self.seed = None;
                self.chain = None;
                self.overview = None;
                self.report = None;
                self.blocks = None;
                self.objects = None;
                self.vault_note = None;
                self.caught.clear();
                self.busy = None;
                self.screen =
                    if storage::get(storage::KEYSTORE_KEY).is_some() { Screen::Unlock } else { Screen::Welcome };
            }
            Msg::Connected(result) => {
                self.busy = None;
                match result {
                    Ok(chain) => {
                        self.chain = Some(chain);
                        self.refresh(ctx);
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            Msg::Refresh => {
                if self.chain.is_none() {
                    self.connect(ctx);
                } else {
                    self.refresh(ctx);
                }
            }
            Msg::Fund => {
                let (Some(chain), Some(me)) = (self.chain.clone(), self.seed.as_ref().and_then(|s| s.account(0).ok()))
                else {
                    return false;
                };
                self.busy = Some("Asking the test faucet and waiting for the transfer to commit…".into());
                let me = me.address();
                ctx.link().send_future(async move { Msg::Funded(chain.fund(&me).await) });
            }
            Msg::Funded(result) => {
                self.busy = None;
                match result {
                    Ok(h) => {
                        self.notice = Some(format!("Test funds arrived in block {h}."));
                        self.refresh(ctx);
                    }
                    Err(e) => self.error = Some(format!("The faucet did not send funds: {e}")),
                }
            }
            Msg::Refreshed(result) => {
                self.busy = None;
                match result {
                    Ok(o) => {
                        self.overview = Some(o);
                        self.error = None;
                    }
                    Err(e) => self.error = Some(format!("Could not verify your account: {e}")),
                }
            }
            Msg::RecipientInput => {
                let text = value(&self.inputs.recipient);
                self.recipient_error = if text.trim().is_empty() { None } else { model::recipient(&text).err() };
            }
            Msg::Send => {
                let (Some(chain), Some(seed)) = (self.chain.clone(), self.seed.clone()) else {
                    self.error = Some("Not connected to a gateway yet; open Settings to check its URL.".into());
                    return true;
                };
                let to = match model::recipient(&value(&self.inputs.recipient)) {
                    Ok(a) => a,
                    Err(e) => {
                        self.recipient_error = Some(e);
                        return true;
                    }
                };
                let amount = model::amount(&value(&self.inputs.amount), "amount", false);
                let fee_text = value(&self.inputs.fee);
                let fee = model::amount(if fee_text.trim().is_empty() { "1" } else { &fee_text }, "fee", true);
                let (amount, fee) = match (amount, fee) {
                    (Ok(a), Ok(f)) => (a, f),
                    (Err(e), _) | (_, Err(e)) => {
                        self.error = Some(e);
                        return true;
                    }
                };
                let nodes = chain.validators().len();
                self.error = None;
                self.report = None;
                self.busy = Some(format!("Sending to {nodes} nodes and checking each signed receipt…"));
                ctx.link().send_future(async move {
                    let result = match seed.account(0) {
                        Ok(account) => chain.transfer(&account.key, to, amount, fee).await,
                        Err(e) => Err(e.to_string()),
                    };
                    Msg::Sent(result)
                });
            }
            Msg::Sent(result) => {
                self.busy = None;
                match result {
                    Ok(report) => {
                        for ev in &report.evidence {
                            let name = self.name(&ev.offender);
                            self.caught.push(evidence_line(&name, ev));
                        }
                        self.report = Some(report);
                        clear(&self.inputs.amount);
                        self.refresh(ctx);
                    }
                    Err(e) => self.error = Some(format!("The transfer was not sent: {e}")),
                }
            }
            Msg::LoadBlocks => {
                let Some(chain) = self.chain.clone() else { return false };
                self.busy = Some("Fetching recent blocks and verifying their certificates…".into());
                ctx.link().send_future(async move { Msg::Blocks(chain.recent_blocks(model::EXPLORER_BLOCKS).await) });
            }
            Msg::Blocks(result) => {
                self.busy = None;
                match result {
                    Ok(rows) => self.blocks = Some(rows),
                    Err(e) => self.error = Some(format!("Could not load blocks: {e}")),
                }
            }
            Msg::LoadVault => {
                let (Some(chain), Some(me)) = (self.chain.clone(), self.seed.as_ref().and_then(|s| s.account(0).ok()))
                else {
                    return false;
                };
                self.busy = Some("Reading your stored objects (each manifest proven)…".into());
                let me = me.address();
                ctx.link().send_future(async move { Msg::VaultListed(chain.vault_list(&me).await) });
            }
            Msg::VaultListed(result) => {
                self.busy = None;
                match result {
                    Ok(list) => self.objects = Some(list),
                    Err(e) => self.error = Some(format!("Could not read your vault: {e}")),
                }
            }
            Msg::Upload => {
                let user = match UserId::new(value(&self.inputs.user_id).trim()) {
                    Ok(u) => u,
                    Err(e) => {
                        self.error = Some(format!("User id: {e}."));
                        return true;
                    }
                };
                // Remembered now: the field shows the stored id on every render.
                storage::set(USER_ID_KEY, user.as_str());
                let Some(file) =
                    self.inputs.file.cast::<HtmlInputElement>().and_then(|i| i.files()).and_then(|f| f.get(0))
                else {
                    self.error = Some("Choose a file to upload.".into());
                    return true;
                };
                self.error = None;
                self.busy = Some(format!("Reading {}…", file.name()));
                let file = gloo::file::File::from(file);
                ctx.link().send_future(async move {
                    let name = file.name();
                    let bytes = gloo::file::futures::read_as_bytes(&file).await.map_err(|e| e.to_string());
                    Msg::UploadFile(user, bytes.map(|b| (name, b)))
                });
            }
            Msg::UploadFile(user, result) => {
                let (Some(chain), Some(seed)) = (self.chain.clone(), self.seed.clone()) else { return false };
                let (name, bytes) = match result {
                    Ok(x) => x,
                    Err(e) => {
                        self.busy = None;
                        self.error = Some(format!("The file could not be read: {e}"));
                        return true;
                    }
                };
                self.busy = Some(format!("Encrypting and splitting {name} in your browser, then uploading…"));
                self.progress = Some((Phase::Encrypt, 0, bytes.len() as u64));
                let link = ctx.link().clone();
                ctx.link().send_future(async move {
                    let mut progress = |p, d, t| link.send_message(Msg::Progress(p, d, t));
                    Msg::Uploaded(chain.vault_upload(&seed, &user, &name, &bytes, &mut progress).await)
                });
            }
            Msg::Progress(phase, done, total) => self.progress = Some((phase, done, total)),
            Msg::Uploaded(result) => {
                self.busy = None;
                self.progress = None;
                match result {
                    Ok(r) => {
                        self.vault_note = Some(format!(
                            "Stored {} bytes as {} shards per stripe on {} nodes (any {} rebuild it); manifest committed.",
                            model::units(r.plaintext_len), r.n, r.stores.len(), r.k
                        ));
                        if let Some(f) = self.inputs.file.cast::<HtmlInputElement>() {
                            f.set_value("");
                        }
                        ctx.link().send_message(Msg::LoadVault);
                    }
                    Err(e) => self.error = Some(format!("The upload failed: {e}")),
                }
            }
            Msg::Download(id) => {
                let (Some(chain), Some(seed)) = (self.chain.clone(), self.seed.clone()) else { return false };
                let label = self
                    .objects
                    .as_ref()
                    .and_then(|l| l.iter().find(|m| m.object_id == id))
                    .map(|m| {
                        if m.label.is_empty() {
                            format!("{}.bin", model::short(&id.to_string()))
                        } else {
                            m.label.clone()
                        }
                    })
                    .unwrap_or_default();
                self.error = None;
                self.busy = Some(format!("Fetching, checking and decrypting {label}…"));
                self.progress = Some((Phase::Download, 0, 1));
                let link = ctx.link().clone();
                ctx.link().send_future(async move {
                    let mut progress = |p, d, t| link.send_message(Msg::Progress(p, d, t));
                    let r = chain.vault_download(&seed, &id, &mut progress).await;
                    Msg::Downloaded(r.map(|(bytes, report)| (label, bytes, report)))
                });
            }
            Msg::Downloaded(result) => {
                self.busy = None;
                self.progress = None;
                match result {
                    Ok((label, bytes, report)) => {
                        let used: Vec<String> = report
                            .stores
                            .iter()
                            .filter(|u| u.shards > 0 && u.problem.is_none())
                            .map(|u| self.name(&u.node))
                            .collect();
                        self.vault_note = Some(format!(
                            "{label}: {} bytes rebuilt from {} and verified{}.",
                            model::units(bytes.len() as u64),
                            used.join(" and "),
                            if report.tampered_shards > 0 {
                                format!("; {} tampered shards refused", report.tampered_shards)
                            } else {
                                String::new()
                            }
                        ));
                        if let Err(e) = download_bytes(&label, &bytes) {
                            self.error = Some(format!("The download did not start: {e}"));
                        }
                    }
                    Err(e) => self.error = Some(format!("The download failed: {e}")),
                }
            }
            Msg::SaveSettings => {
                let gateway = value(&self.inputs.gateway).trim().to_string();
                if !gateway.is_empty() && !gateway.starts_with("https://") && !gateway.starts_with("http://localhost") {
                    self.error = Some("The gateway URL must start with https:// (http:// only for localhost).".into());
                    return true;
                }
                let mut chosen = Vec::new();
                if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
                    if let Ok(boxes) = doc.query_selector_all("input[name=cross-check]:checked") {
                        for i in 0..boxes.length() {
                            if let Some(b) = boxes.item(i).and_then(|n| n.dyn_into::<HtmlInputElement>().ok()) {
                                chosen.push(b.value());
                            }
                        }
                    }
                }
                let all = self.chain.as_ref().map(|c| c.validators().len()).unwrap_or(0);
                if chosen.is_empty() {
                    self.error = Some("Choose at least one node to cross-check.".into());
                    return true;
                }
                let gateway_changed = gateway != self.settings.gateway;
                self.settings = Settings { gateway, cross_check: if chosen.len() == all { vec![] } else { chosen } };
                if let Ok(json) = serde_json::to_string(&self.settings) {
                    storage::set(storage::SETTINGS_KEY, &json);
                }
                self.error = None;
                self.notice = Some("Settings saved.".into());
                if gateway_changed {
                    self.chain = None;
                    self.connect(ctx);
                } else if let Some(c) = &self.chain {
                    c.set_cross_check(self.cross_check());
                }
            }
            Msg::ExportKeystore => {
                if let Some(json) = storage::get(storage::KEYSTORE_KEY) {
                    if let Err(e) = download("vigil-keystore.json", &json) {
                        self.error = Some(format!("The download did not start: {e}"));
                    }
                }
            }
            Msg::ResetTrust => {
                storage::remove(PIN_KEY);
                self.chain = None;
                self.notice = Some("The trusted chain was reset; the gateway's genesis is pinned again.".into());
                self.connect(ctx);
            }
            Msg::Forget => {
                if !self.confirm_forget {
                    self.confirm_forget = true;
                    return true;
                }
                storage::remove(storage::KEYSTORE_KEY);
                self.confirm_forget = false;
                ctx.link().send_message(Msg::Lock);
            }
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let unlocked = matches!(self.screen, Screen::Wallet(_));
        let nav = |page: Page, label: &'static str| {
            let current = self.screen == Screen::Wallet(page);
            html! {
                <button class={classes!("tab", current.then_some("current"))}
                    aria-current={current.then_some("page")}
                    onclick={link.callback(move |_| Msg::Go(Screen::Wallet(page)))}>{label}</button>
            }
        };
        html! {
            <div class="app">
                <header class="top">
                    <span class="logo" aria-hidden="true">{"◆"}</span>
                    <span class="brand">{"Vigil"}</span>
                    if unlocked {
                        <nav aria-label="Wallet">
                            {nav(Page::Dashboard, "Dashboard")}
                            {nav(Page::Send, "Send")}
                            {nav(Page::Vault, "Vault")}
                            {nav(Page::Explorer, "Explorer")}
                            {nav(Page::Settings, "Settings")}
                        </nav>
                        <button class="lock" onclick={link.callback(|_| Msg::Lock)}>{"Lock"}</button>
                    }
                </header>
                if unlocked {
                    { for self.caught.iter().map(|line| html! {
                        <div class="banner danger" role="alert">
                            <strong>{"Faulty node caught. "}</strong>{line}
                        </div>
                    }) }
                }
                if let Some(e) = &self.error {
                    <div class="alert" role="alert">
                        <span>{e}</span>
                        <button class="link" aria-label="Dismiss" onclick={link.callback(|_| Msg::DismissError)}>{"×"}</button>
                    </div>
                }
                if let Some(n) = &self.notice {
                    <div class="notice" role="status">{n}</div>
                }
                if let Some(b) = &self.busy {
                    <div class="busy" role="status" aria-live="polite">
                        <progress aria-label={b.clone()}></progress><span>{b}</span>
                    </div>
                }
                <main>{ self.view_screen(ctx) }</main>
                <footer>{"Every balance, block and receipt shown here is verified in this browser."}</footer>
            </div>
        }
    }
}

fn evidence_line(name: &str, ev: &vigil_wallet::session::EvidenceReport) -> String {
    let mut s = format!("{name} signed a receipt that contradicts the certified block. ");
    if ev.committed {
        s.push_str(&format!("The wallet proved it to the chain: {}. ", ev.detail));
        if ev.jailed {
            s.push_str(&format!("{name} is jailed. "));
        }
        match ev.mode_after {
            Some(ConsensusMode::Bft) => s.push_str("The chain has switched to BFT mode."),
            Some(ConsensusMode::Fast) => s.push_str("The chain is still in Fast mode."),
            None => {}
        }
    } else {
        s.push_str(&format!("The evidence did not commit: {}.", ev.detail));
    }
    s
}

fn phase_label(p: Phase) -> &'static str {
    match p {
        Phase::Encrypt => "Encrypting in your browser",
        Phase::Encode => "Splitting into shards",
        Phase::Upload => "Uploading shards to the nodes",
        Phase::Commit => "Committing the manifest on chain",
        Phase::Download => "Fetching and checking shards",
        Phase::Decrypt => "Decrypting",
    }
}

fn download_bytes(name: &str, bytes: &[u8]) -> Result<(), String> {
    let array = js_sys::Uint8Array::from(bytes);
    save(name, &js_sys::Array::of1(&array), "application/octet-stream")
}

fn download(name: &str, text: &str) -> Result<(), String> {
    save(name, &js_sys::Array::of1(&text.into()), "application/json")
}

fn save(name: &str, parts: &js_sys::Array, mime: &str) -> Result<(), String> {
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(parts, &opts).map_err(|_| "cannot make a file")?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| "cannot make a link")?;
    let doc = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement =
        doc.create_element("a").map_err(|_| "no link")?.dyn_into().map_err(|_| "no link")?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}
