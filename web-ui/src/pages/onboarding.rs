//! Onboarding, before the wallet is unlocked: create (the phrase shown, three words
//! asked back, a password), import a phrase, or unlock the stored keystore. Reports the
//! opened seed to `App`; the keystore it stores is sealed (Argon2id +
//! XChaCha20-Poly1305), the seed never leaves wasm memory.

use std::rc::Rc;

use gloo::timers::future::TimeoutFuture;
use yew::prelude::*;

use vigil_wallet::fetch::Fetch;
use vigil_wallet::keys::WalletSeed;
use vigil_wallet::keystore::Keystore;
use vigil_wallet::platform::{Platform, PlatformRng};

use crate::browser::value;
use crate::error::UiError;
use crate::model;
use crate::status::Status;
use crate::storage;

/// Time for the browser to paint the busy line before the key derivation holds the
/// thread.
const PAINT_FIRST_MS: u32 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Welcome,
    /// The new phrase is shown; the user writes it down.
    CreateShow,
    /// The user retypes three words and sets a password.
    CreateConfirm,
    Import,
    Unlock,
}

pub enum Msg {
    Go(Screen),
    NewWallet,
    Create,
    Import,
    Sealed(Result<String, UiError>, Rc<WalletSeed>),
    Unlock,
    Unlocked(Result<Rc<WalletSeed>, UiError>),
    Dismiss,
}

#[derive(Properties, PartialEq)]
pub struct Props {
    /// Why the wallet was locked, if it locked itself.
    #[prop_or_default]
    pub notice: Option<String>,
    /// The wallet is open: its seed.
    pub on_unlocked: Callback<Rc<WalletSeed>>,
}

#[derive(Default)]
struct Fields {
    password: NodeRef,
    password2: NodeRef,
    phrase: NodeRef,
    confirm: [NodeRef; 3],
}

pub struct Onboarding {
    screen: Screen,
    /// A new wallet being created and the word positions to confirm.
    pending: Option<(Rc<WalletSeed>, [usize; 3])>,
    status: Status,
    fields: Fields,
}

/// Opens the keystore with `password`. One sealed with weaker key derivation than
/// today's defaults is sealed again with them, now that it is open.
fn open(json: &str, password: &str) -> Result<Rc<WalletSeed>, UiError> {
    let keystore = Keystore::from_json(json)?;
    let seed = keystore.open(password)?;
    if keystore.is_weaker_than_default() {
        if let Ok(stronger) = Keystore::seal(&seed, password, &mut PlatformRng(&Fetch)) {
            // Only an upgrade: if the browser does not keep it, the old one still opens.
            let _ = storage::set(storage::KEYSTORE_KEY, &stronger.to_json());
        }
    }
    Ok(Rc::new(seed))
}

impl Onboarding {
    /// The new password typed twice, checked.
    fn new_password(&self) -> Result<String, UiError> {
        let (p1, p2) = (value(&self.fields.password), value(&self.fields.password2));
        model::new_password(&p1, &p2)?;
        Ok(p1)
    }

    fn create(&mut self, ctx: &Context<Self>) -> Result<(), UiError> {
        let Some((seed, positions)) = self.pending.clone() else { return Ok(()) };
        let typed = self.fields.confirm.each_ref().map(value);
        model::words_confirmed(&seed.phrase(), &positions, &typed)?;
        let password = self.new_password()?;
        self.seal(ctx, seed, password);
        Ok(())
    }

    fn import(&mut self, ctx: &Context<Self>) -> Result<(), UiError> {
        let seed = WalletSeed::from_phrase(&value(&self.fields.phrase)).map_err(UiError::Phrase)?;
        let password = self.new_password()?;
        self.seal(ctx, Rc::new(seed), password);
        Ok(())
    }

    fn seal(&mut self, ctx: &Context<Self>, seed: Rc<WalletSeed>, password: String) {
        self.status.start("Encrypting your keystore (Argon2id, 64 MiB)…");
        ctx.link().send_future(async move {
            TimeoutFuture::new(PAINT_FIRST_MS).await;
            let sealed = Keystore::seal(&seed, &password, &mut PlatformRng(&Fetch)).map(|k| k.to_json());
            Msg::Sealed(sealed.map_err(UiError::from), seed)
        });
    }

    fn unlock(&mut self, ctx: &Context<Self>) {
        let password = value(&self.fields.password);
        let Some(json) = storage::get(storage::KEYSTORE_KEY) else {
            self.screen = Screen::Welcome;
            return;
        };
        self.status.clear();
        self.status.start("Unlocking (Argon2id)…");
        ctx.link().send_future(async move {
            TimeoutFuture::new(PAINT_FIRST_MS).await;
            Msg::Unlocked(open(&json, &password))
        });
    }

    fn sealed(&mut self, ctx: &Context<Self>, json: &str, seed: Rc<WalletSeed>) -> Result<(), UiError> {
        storage::set(storage::KEYSTORE_KEY, json)?;
        self.pending = None;
        ctx.props().on_unlocked.emit(seed);
        Ok(())
    }
}

impl Component for Onboarding {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let screen = if storage::has_keystore() { Screen::Unlock } else { Screen::Welcome };
        let status = Status { notice: ctx.props().notice.clone(), ..Status::default() };
        Onboarding { screen, pending: None, status, fields: Fields::default() }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        let done = match msg {
            Msg::Go(screen) => {
                self.status.clear();
                self.screen = screen;
                Ok(())
            }
            Msg::NewWallet => {
                let seed = Rc::new(WalletSeed::generate(&mut PlatformRng(&Fetch)));
                let mut r = [0u8; 3];
                Fetch.fill_random(&mut r);
                self.pending = Some((seed, model::confirm_positions(r)));
                self.screen = Screen::CreateShow;
                self.status.error = None;
                Ok(())
            }
            Msg::Create => self.create(ctx),
            Msg::Import => self.import(ctx),
            Msg::Sealed(result, seed) => {
                self.status.done();
                result.and_then(|json| self.sealed(ctx, &json, seed))
            }
            Msg::Unlock => {
                self.unlock(ctx);
                Ok(())
            }
            Msg::Unlocked(result) => {
                self.status.done();
                result.map(|seed| ctx.props().on_unlocked.emit(seed))
            }
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
        let screen = match self.screen {
            Screen::Welcome => self.welcome(ctx),
            Screen::CreateShow => self.phrase(ctx),
            Screen::CreateConfirm => self.confirm(ctx),
            Screen::Import => self.import_form(ctx),
            Screen::Unlock => self.unlock_form(ctx),
        };
        html! {
            <>
                {self.status.view(ctx.link().callback(|_| Msg::Dismiss))}
                {screen}
            </>
        }
    }
}

/// A form's submit that does not reload the page.
fn submit(ctx: &Context<Onboarding>, msg: fn() -> Msg) -> Callback<SubmitEvent> {
    ctx.link().callback(move |e: SubmitEvent| {
        e.prevent_default();
        msg()
    })
}

impl Onboarding {
    fn busy(&self) -> bool {
        self.status.is_busy()
    }

    fn passwords(&self, label: &str) -> Html {
        html! {
            <>
                <label for="password">{label}</label>
                <input id="password" type="password" autocomplete="new-password" ref={self.fields.password.clone()} />
                <label for="password2">{"Repeat the password"}</label>
                <input id="password2" type="password" autocomplete="new-password" ref={self.fields.password2.clone()} />
            </>
        }
    }

    fn welcome(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        html! {
            <section class="card narrow">
                <h1>{"Welcome to Vigil"}</h1>
                <p>{"A wallet that checks every node: each transfer goes to all validators, their signed receipts are compared in your browser, and a node that lies is proven faulty to the chain."}</p>
                <div class="actions">
                    <button class="primary" onclick={link.callback(|_| Msg::NewWallet)}>{"Create a new wallet"}</button>
                    <button onclick={link.callback(|_| Msg::Go(Screen::Import))}>{"Import a recovery phrase"}</button>
                </div>
            </section>
        }
    }

    fn phrase(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let phrase = self.pending.as_ref().map(|(s, _)| s.phrase().to_string()).unwrap_or_default();
        html! {
            <section class="card">
                <h1>{"Your recovery phrase"}</h1>
                <p>{"Write these 24 words down, in order, and keep them offline. Anyone with them controls your funds; without them a lost password cannot be recovered."}</p>
                <ol class="phrase" aria-label="Recovery phrase">
                    { for phrase.split_whitespace().map(|w| html! { <li>{w}</li> }) }
                </ol>
                <div class="actions">
                    <button onclick={link.callback(|_| Msg::Go(Screen::Welcome))}>{"Back"}</button>
                    <button class="primary" onclick={link.callback(|_| Msg::Go(Screen::CreateConfirm))}>{"I have written it down"}</button>
                </div>
            </section>
        }
    }

    fn confirm(&self, ctx: &Context<Self>) -> Html {
        let positions = self.pending.as_ref().map(|(_, p)| *p).unwrap_or([0, 1, 2]);
        html! {
            <section class="card narrow">
                <h1>{"Confirm and protect"}</h1>
                <form onsubmit={submit(ctx, || Msg::Create)}>
                    { for positions.iter().zip(self.fields.confirm.iter()).map(|(p, r)| {
                        let id = format!("word-{}", p + 1);
                        html! {
                            <>
                                <label for={id.clone()}>{format!("Word #{}", p + 1)}</label>
                                <input id={id} autocomplete="off" autocapitalize="none" spellcheck="false" ref={r.clone()} />
                            </>
                        }
                    }) }
                    {self.passwords("Password for this browser (at least 8 characters)")}
                    <div class="actions">
                        <button type="button" onclick={ctx.link().callback(|_| Msg::Go(Screen::CreateShow))}>{"Show the phrase again"}</button>
                        <button class="primary" type="submit" disabled={self.busy()}>{"Create wallet"}</button>
                    </div>
                </form>
            </section>
        }
    }

    fn import_form(&self, ctx: &Context<Self>) -> Html {
        html! {
            <section class="card narrow">
                <h1>{"Import a wallet"}</h1>
                <form onsubmit={submit(ctx, || Msg::Import)}>
                    <label for="phrase">{"Recovery phrase (24 words)"}</label>
                    <textarea id="phrase" rows="4" autocomplete="off" autocapitalize="none" spellcheck="false" ref={self.fields.phrase.clone()} />
                    {self.passwords("Password for this browser (at least 8 characters)")}
                    <div class="actions">
                        <button type="button" onclick={ctx.link().callback(|_| Msg::Go(Screen::Welcome))}>{"Back"}</button>
                        <button class="primary" type="submit" disabled={self.busy()}>{"Import"}</button>
                    </div>
                </form>
            </section>
        }
    }

    fn unlock_form(&self, ctx: &Context<Self>) -> Html {
        html! {
            <section class="card narrow">
                <h1>{"Unlock your wallet"}</h1>
                <form onsubmit={submit(ctx, || Msg::Unlock)}>
                    <label for="password">{"Password"}</label>
                    <input id="password" type="password" autocomplete="current-password" ref={self.fields.password.clone()} />
                    <div class="actions">
                        <button class="primary" type="submit" disabled={self.busy()}>{"Unlock"}</button>
                    </div>
                </form>
                <p class="muted">{"Forgot the password? "}
                    <button class="link" onclick={ctx.link().callback(|_| Msg::Go(Screen::Import))}>{"Import your recovery phrase"}</button>
                    {" (it replaces the wallet stored in this browser)."}</p>
            </section>
        }
    }
}
