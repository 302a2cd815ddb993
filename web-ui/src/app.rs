//! The web wallet's root component: locked (onboarding) or unlocked (a
//! [`Session`] with the pages as tabs), the routing between the tabs, the idle lock and
//! the banner naming a caught liar. Each page is its own component in `pages/`; keys
//! live only in this wasm instance's memory while unlocked, the browser stores the
//! encrypted keystore and nothing else secret.

use std::rc::Rc;

use gloo::events::EventListener;
use gloo::timers::callback::Interval;
use yew::prelude::*;

use vigil_wallet::keys::WalletSeed;

use crate::browser;
use crate::model;
use crate::pages::{self, Page};
use crate::session::Session;

/// How often the idle lock looks at the clock.
const IDLE_CHECK_MS: u32 = 10_000;
const IDLE_LOCK_MS: u64 = model::IDLE_LOCK_MINUTES as u64 * 60_000;

pub enum Msg {
    Unlocked(Rc<WalletSeed>),
    Go(Page),
    Lock,
    /// A transfer caught lying nodes: the banner's lines.
    Caught(Vec<String>),
    /// A key press or a click anywhere: the idle timer starts again.
    Activity,
    IdleTick,
}

/// The unlocked wallet: its seed, the page shown, and the pages opened so far (kept,
/// hidden, while another is shown, so that work under way and what they show survive
/// a change of tab).
struct Unlocked {
    seed: Rc<WalletSeed>,
    page: Page,
    opened: Vec<Page>,
}

pub struct App {
    unlocked: Option<Unlocked>,
    /// Evidence lines from this session: the banner stays until the wallet locks.
    caught: Vec<String>,
    /// Why the wallet locked itself, for the unlock screen.
    notice: Option<String>,
    last_activity_ms: u64,
    _listeners: Vec<EventListener>,
    _idle: Interval,
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let mut listeners = Vec::new();
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            for event in ["keydown", "pointerdown"] {
                let link = ctx.link().clone();
                listeners.push(EventListener::new(&doc, event, move |_| link.send_message(Msg::Activity)));
            }
        }
        let link = ctx.link().clone();
        let idle = Interval::new(IDLE_CHECK_MS, move || link.send_message(Msg::IdleTick));
        App {
            unlocked: None,
            caught: Vec::new(),
            notice: None,
            last_activity_ms: browser::now_ms(),
            _listeners: listeners,
            _idle: idle,
        }
    }

    fn update(&mut self, _ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Activity => {
                self.last_activity_ms = browser::now_ms();
                return false;
            }
            Msg::IdleTick => {
                let idle_ms = browser::now_ms().saturating_sub(self.last_activity_ms);
                if self.unlocked.is_none() || idle_ms < IDLE_LOCK_MS {
                    return false;
                }
                self.lock();
                self.notice = Some(format!("Locked after {} idle minutes.", model::IDLE_LOCK_MINUTES));
            }
            Msg::Unlocked(seed) => {
                self.notice = None;
                self.last_activity_ms = browser::now_ms();
                self.unlocked = Some(Unlocked { seed, page: Page::Dashboard, opened: vec![Page::Dashboard] });
            }
            Msg::Go(page) => {
                let Some(u) = &mut self.unlocked else { return false };
                u.page = page;
                if !u.opened.contains(&page) {
                    u.opened.push(page);
                }
            }
            Msg::Lock => self.lock(),
            Msg::Caught(lines) => self.caught.extend(lines),
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        html! {
            <div class="app">
                <header class="top">
                    <span class="logo" aria-hidden="true">{"◆"}</span>
                    <span class="brand">{"Vigil"}</span>
                    if let Some(u) = &self.unlocked {
                        {self.tabs(ctx, u.page)}
                    }
                </header>
                if self.unlocked.is_some() {
                    { for self.caught.iter().map(|line| html! {
                        <div class="banner danger" role="alert">
                            <strong>{"Faulty node caught. "}</strong>{line}
                        </div>
                    }) }
                }
                <main>{self.main(ctx)}</main>
                <footer>{"Every balance, block and receipt shown here is verified in this browser."}</footer>
            </div>
        }
    }
}

impl App {
    /// Locking drops the seed and everything the pages held (the session with them).
    fn lock(&mut self) {
        self.unlocked = None;
        self.caught.clear();
        self.notice = None;
    }

    fn tabs(&self, ctx: &Context<Self>, current: Page) -> Html {
        let tab = |page: Page| {
            let is_current = page == current;
            html! {
                <button class={classes!("tab", is_current.then_some("current"))}
                    aria-current={is_current.then_some("page")}
                    onclick={ctx.link().callback(move |_| Msg::Go(page))}>{page.label()}</button>
            }
        };
        html! {
            <>
                <nav aria-label="Wallet">{ for Page::ALL.into_iter().map(tab) }</nav>
                <button class="lock" onclick={ctx.link().callback(|_| Msg::Lock)}>{"Lock"}</button>
            </>
        }
    }

    /// Onboarding while locked; once unlocked, the pages opened so far, only the
    /// current one shown.
    fn main(&self, ctx: &Context<Self>) -> Html {
        let Some(u) = &self.unlocked else {
            return html! {
                <pages::Onboarding notice={self.notice.clone()} on_unlocked={ctx.link().callback(Msg::Unlocked)} />
            };
        };
        let opened = Page::ALL.into_iter().filter(|p| u.opened.contains(p));
        html! {
            <Session seed={u.seed.clone()}>
                { for opened.map(|p| html! {
                    <div class="page" key={p.label()} hidden={p != u.page}>{self.page(ctx, p, p == u.page)}</div>
                }) }
            </Session>
        }
    }

    fn page(&self, ctx: &Context<Self>, page: Page, shown: bool) -> Html {
        let link = ctx.link();
        match page {
            Page::Dashboard => html! { <pages::DashboardPage {shown} on_go={link.callback(Msg::Go)} /> },
            Page::Send => html! { <pages::SendPage {shown} on_caught={link.callback(Msg::Caught)} /> },
            Page::Across => html! { <pages::AcrossPage {shown} /> },
            Page::Vault => html! { <pages::VaultPage {shown} /> },
            Page::Certificates => html! { <pages::CertsPage {shown} /> },
            Page::Tables => html! { <pages::TablesPage {shown} /> },
            Page::Audits => html! { <pages::AuditsPage {shown} /> },
            Page::Explorer => html! { <pages::ExplorerPage {shown} /> },
            Page::Settings => html! { <pages::SettingsPage {shown} on_forgotten={link.callback(|_| Msg::Lock)} /> },
        }
    }
}
