//! Settings: the gateway, the gateways in use and those refused, the nodes to
//! cross-check, where the light client starts (genesis, or the newest checkpoint
//! verified against the genesis set or a pinned hash) and how it did, the other chain of
//! transfers across (its gateway and pinned genesis), keystore export, the pinned chain,
//! forgetting the wallet.

use yew::context::ContextHandle;
use yew::prelude::*;

use vigil_protocol::NodeId;

use crate::browser::{self, value};
use crate::chain::{BUILT_IN_PIN, OTHER_PIN_KEY, PIN_KEY};
use crate::error::{Action, UiError};
use crate::model::{self, Settings};
use crate::session::{self, Request, Wallet};
use crate::status::Status;
use crate::storage;

pub enum Msg {
    Wallet(Wallet),
    Save,
    ExportKeystore,
    ResetTrust,
    ResetOther,
    Forget,
    Dismiss,
}

#[derive(Properties, PartialEq)]
pub struct Props {
    /// The page is the current tab (its messages and a pending "forget" are cleared
    /// when it comes back).
    pub shown: bool,
    /// The wallet was forgotten (its keystore removed from this browser).
    pub on_forgotten: Callback<()>,
}

#[derive(Default)]
struct Fields {
    form: NodeRef,
    gateway: NodeRef,
    checkpoint_hash: NodeRef,
    other_chain: NodeRef,
}

pub struct SettingsPage {
    wallet: Wallet,
    _wallet: ContextHandle<Wallet>,
    status: Status,
    /// "Forget" was clicked once: the next click forgets.
    confirm_forget: bool,
    fields: Fields,
}

impl SettingsPage {
    /// The settings as the form has them, checked.
    fn chosen(&self) -> Result<Settings, UiError> {
        let gateway = model::gateway_url(&value(&self.fields.gateway))?;
        // Not connected (the nodes are not listed): the nodes chosen before are kept.
        let cross_check = match self.wallet.chain.as_ref().map(|c| c.validators().len()) {
            Some(all) => model::cross_check_choice(browser::checked(&self.fields.form, "cross-check"), all)?,
            None => self.wallet.settings.cross_check.clone(),
        };
        let choice = browser::checked(&self.fields.form, "light-start");
        let start = model::light_start(choice.first().map(String::as_str), &value(&self.fields.checkpoint_hash))?;
        let other_chain = match value(&self.fields.other_chain).trim() {
            "" => String::new(),
            url => model::gateway_url(url)?,
        };
        Ok(Settings { gateway, cross_check, start, other_chain })
    }

    fn save(&mut self) -> Result<(), UiError> {
        let settings = self.chosen()?;
        storage::save_settings(&settings)?;
        self.status.clear();
        self.status.note("Settings saved.");
        self.wallet.request(Request::Apply(settings));
        Ok(())
    }

    fn reset_trust(&mut self) -> Result<(), UiError> {
        storage::remove(PIN_KEY)?;
        self.status.note("The trusted chain was reset; the gateway's genesis is pinned again.");
        self.wallet.request(Request::Reconnect);
        Ok(())
    }

    fn forget(&mut self, ctx: &Context<Self>) -> Result<(), UiError> {
        if !self.confirm_forget {
            self.confirm_forget = true;
            return Ok(());
        }
        self.confirm_forget = false;
        storage::remove(storage::KEYSTORE_KEY)?;
        ctx.props().on_forgotten.emit(());
        Ok(())
    }

    fn form(&self, ctx: &Context<Self>) -> Html {
        let settings = &self.wallet.settings;
        let validators = self.wallet.chain.as_ref().map(|c| c.validators()).unwrap_or_default();
        let gateways = self.wallet.chain.as_ref().map(|c| c.gateways.clone()).unwrap_or_default();
        let checked = |id: &NodeId| settings.cross_check.is_empty() || settings.cross_check.contains(&id.to_string());
        html! {
            <form ref={self.fields.form.clone()} onsubmit={ctx.link().callback(|e: SubmitEvent| { e.prevent_default(); Msg::Save })}>
                <label for="gateway">{"Gateway URL"}</label>
                <input id="gateway" type="url" placeholder={browser::origin()} value={settings.gateway.clone()} ref={self.fields.gateway.clone()} />
                <p class="muted">{"Empty: the gateway that served this page."}</p>
                <p class="muted">{"Gateways in use, in order (the others it lists must serve the same chain):"}</p>
                <ol id="gateways">
                    { for gateways.iter().map(|g| html! {
                        <li class={if g.state.is_ok() { "gateway-used" } else { "gateway-refused" }}>
                            <code>{&g.url}</code>
                            {match &g.state { Ok(()) => " · used".to_string(), Err(why) => format!(" · {why}") }}
                        </li>
                    }) }
                </ol>
                <fieldset>
                    <legend>{"Nodes to cross-check on every transfer"}</legend>
                    { for validators.iter().map(|(id, name)| {
                        let key = format!("cc-{id}");
                        html! {
                            <div class="check">
                                <input type="checkbox" name="cross-check" id={key.clone()} value={id.to_string()} checked={checked(id)} />
                                <label for={key}>{name}</label>
                            </div>
                        }
                    }) }
                </fieldset>
                {self.light_start()}
                {self.other_chain()}
                <div class="actions"><button class="primary" type="submit">{"Save"}</button></div>
            </form>
        }
    }

    /// Where the light client starts, and how it started this time.
    fn light_start(&self) -> Html {
        let start = &self.wallet.settings.start;
        let radio = |value: &'static str, label: &'static str| {
            let id = format!("start-{value}");
            html! {
                <div class="check">
                    <input type="radio" name="light-start" id={id.clone()} value={value} checked={start.choice() == value} />
                    <label for={id}>{label}</label>
                </div>
            }
        };
        let pinned = match start {
            model::LightStart::CheckpointHash(hex) => hex.clone(),
            _ => String::new(),
        };
        html! {
            <fieldset>
                <legend>{"Light client starts from"}</legend>
                {radio("genesis", "Genesis: every validator-set change, followed from the pinned genesis set")}
                {radio("checkpoint-set", "The newest stable checkpoint, verified against the pinned genesis set")}
                {radio("checkpoint-hash", "The stable checkpoint whose hash I pin:")}
                <input id="checkpoint-hash" type="text" aria-label="Checkpoint hash to pin" placeholder="64 hex digits" spellcheck="false" value={pinned} ref={self.fields.checkpoint_hash.clone()} />
                <p class="muted" id="settings-started-from">{match &self.wallet.chain {
                    Some(c) => model::start_line(&c.started),
                    None => "Not connected.".to_string(),
                }}</p>
            </fieldset>
        }
    }

    /// The other chain of transfers across: its gateway, and the chain followed there.
    fn other_chain(&self) -> Html {
        let listed = self.wallet.chain.as_ref().map(|c| c.other_chains.to_vec()).unwrap_or_default();
        let placeholder = listed.first().cloned().unwrap_or_else(|| "none listed by this gateway".to_string());
        html! {
            <fieldset>
                <legend>{"Other chain (transfers across)"}</legend>
                <label for="other-chain">{"Its gateway URL"}</label>
                <input id="other-chain" type="url" placeholder={placeholder} value={self.wallet.settings.other_chain.clone()} ref={self.fields.other_chain.clone()} />
                <p class="muted">{"Empty: the first other-chain gateway this gateway lists. Its genesis is pinned on first use, as this chain's is."}</p>
                <p class="muted" id="other-chain-state">{match &self.wallet.other {
                    Ok(c) => format!("Following {} through {}", c.chain_id(), c.gateways.first().map(|g| g.url.as_str()).unwrap_or("")),
                    Err(e) if e.code() == "NOT_CONNECTED" => "Not followed yet.".to_string(),
                    Err(e) => e.to_string(),
                }}</p>
            </fieldset>
        }
    }

    fn keystore_and_trust(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        html! {
            <div class="card narrow">
                <h2>{"Keystore"}</h2>
                <p class="muted">{"The encrypted keystore (Argon2id + XChaCha20-Poly1305). It opens only with your password."}</p>
                <div class="actions">
                    <button onclick={link.callback(|_| Msg::ExportKeystore)}>{"Export encrypted keystore"}</button>
                </div>
                <h2>{"Trusted chain"}</h2>
                if let Some(pin) = BUILT_IN_PIN {
                    <p class="muted" id="pin">{pin}{" (built into this wallet)"}</p>
                } else {
                    <p class="muted" id="pin">{storage::get(PIN_KEY).unwrap_or_default()}</p>
                }
                <p class="muted" id="other-pin">{match storage::get(OTHER_PIN_KEY) {
                    Some(pin) => format!("Other chain: {pin}"),
                    None => "Other chain: none pinned".to_string(),
                }}</p>
                <div class="actions">
                    if BUILT_IN_PIN.is_none() {
                        <button onclick={link.callback(|_| Msg::ResetTrust)}>{"Reset trusted chain"}</button>
                    }
                    <button onclick={link.callback(|_| Msg::ResetOther)}>{"Reset other chain"}</button>
                    <button class="danger" onclick={link.callback(|_| Msg::Forget)}>
                        {if self.confirm_forget { "Click again to forget this wallet" } else { "Forget this wallet" }}
                    </button>
                </div>
            </div>
        }
    }
}

impl Component for SettingsPage {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let (wallet, handle) = session::subscribe(ctx.link(), Msg::Wallet);
        SettingsPage {
            wallet,
            _wallet: handle,
            status: Status::default(),
            confirm_forget: false,
            fields: Fields::default(),
        }
    }

    fn changed(&mut self, ctx: &Context<Self>, old: &Props) -> bool {
        if ctx.props().shown && !old.shown {
            self.status.clear();
            self.confirm_forget = false;
        }
        true
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        let done = match msg {
            Msg::Wallet(w) => {
                self.wallet = w;
                Ok(())
            }
            Msg::Save => self.save(),
            Msg::ExportKeystore => match storage::get(storage::KEYSTORE_KEY) {
                Some(json) => {
                    browser::save_json("vigil-keystore.json", &json).map_err(|e| e.during(Action::StartDownload))
                }
                None => Ok(()),
            },
            Msg::ResetTrust => self.reset_trust(),
            Msg::ResetOther => {
                self.status.note("The other chain's trust was reset; its gateway's genesis is pinned again.");
                self.wallet.request(Request::ReconnectOther);
                Ok(())
            }
            Msg::Forget => self.forget(ctx),
            Msg::Dismiss => {
                self.status.error = None;
                Ok(())
            }
        };
        if let Err(e) = done {
            self.status.fail(e);
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        html! {
            <>
                {self.status.view(ctx.link().callback(|_| Msg::Dismiss))}
                <section class="stack">
                    <div class="card narrow">
                        <h1>{"Settings"}</h1>
                        {self.form(ctx)}
                    </div>
                    {self.keystore_and_trust(ctx)}
                </section>
            </>
        }
    }
}
