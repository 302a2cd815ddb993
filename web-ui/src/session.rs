//! The unlocked wallet's link to the chain, shared by the pages: a component that
//! connects (again when Settings change the gateway or where the light client starts,
//! or reset the trusted chain), keeps
//! the settings in force, the verified account overview and the last transfer's report,
//! and the other chain of transfers across (followed once the first is connected), and
//! hands them to the pages below it as a Yew context, [`Wallet`]. Pages ask it for
//! work through [`Wallet::request`]; it does no page's own work.

use std::rc::Rc;

use yew::context::ContextHandle;
use yew::html::Scope;
use yew::prelude::*;

use vigil_protocol::{Address, NodeId};
use vigil_wallet::keys::WalletSeed;
use vigil_wallet::session::TransferReport;

use crate::browser;
use crate::chain::{Chain, Overview, Role, OTHER_PIN_KEY};
use crate::error::{Action, UiError};
use crate::model::{self, Settings};
use crate::status::Status;
use crate::storage;

/// What the pages share while the wallet is unlocked (the context [`Session`] provides).
#[derive(Clone)]
pub struct Wallet {
    pub seed: Rc<WalletSeed>,
    /// The chain, once connected (none while connecting, or after a refusal).
    pub chain: Option<Chain>,
    /// The other chain of transfers across, once connected; or why it is not.
    pub other: Result<Chain, Rc<UiError>>,
    pub settings: Rc<Settings>,
    /// The balance and chain state last verified.
    pub overview: Option<Rc<Overview>>,
    /// The last transfer's per-node receipts.
    pub report: Option<Rc<TransferReport>>,
    /// The session is connecting or verifying the balance: pages wait for it.
    pub busy: bool,
    requests: Callback<Request>,
}

fn same<T>(a: &Option<Rc<T>>, b: &Option<Rc<T>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Rc::ptr_eq(a, b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

impl PartialEq for Wallet {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.seed, &other.seed)
            && self.chain == other.chain
            && match (&self.other, &other.other) {
                (Ok(a), Ok(b)) => a == b,
                (Err(a), Err(b)) => Rc::ptr_eq(a, b),
                _ => false,
            }
            && Rc::ptr_eq(&self.settings, &other.settings)
            && same(&self.overview, &other.overview)
            && same(&self.report, &other.report)
            && self.busy == other.busy
            && self.requests == other.requests
    }
}

impl Wallet {
    pub fn request(&self, r: Request) {
        self.requests.emit(r);
    }

    /// This wallet's account (the first of its seed).
    pub fn address(&self) -> Result<Address, UiError> {
        self.seed.account(0).map(|a| a.address()).map_err(UiError::Key)
    }

    /// A validator's name (a short id while not connected).
    pub fn name(&self, id: &NodeId) -> String {
        match &self.chain {
            Some(c) => c.name(id),
            None => model::short(&id.to_string()),
        }
    }
}

/// Subscribes a page to the [`Wallet`] its [`Session`] provides: the wallet now, and the
/// handle that keeps `changed` called with each new one.
pub fn subscribe<C: Component>(
    link: &Scope<C>,
    changed: impl Fn(Wallet) -> C::Message + 'static,
) -> (Wallet, ContextHandle<Wallet>) {
    // The tree is built so: `App` renders the pages only inside a `Session`.
    link.context(link.callback(changed)).expect("a page is rendered inside a Session")
}

/// What a page asks of the session.
pub enum Request {
    /// Verify the balance again (connect first if not connected).
    Refresh,
    /// A transfer went out: keep its report and verify the balance again.
    Transferred(TransferReport),
    /// New settings were saved: connect again if the gateway or the start changed.
    Apply(Settings),
    /// The trusted chain was reset: connect again (and pin the gateway's genesis).
    Reconnect,
    /// The other chain's trust was reset: follow it again (and pin its gateway's genesis).
    ReconnectOther,
}

pub enum Msg {
    Request(Request),
    Connected(Result<Chain, UiError>),
    OtherConnected(Result<Chain, UiError>),
    Refreshed(Result<Overview, UiError>),
    Dismiss,
}

#[derive(Properties)]
pub struct Props {
    pub seed: Rc<WalletSeed>,
    #[prop_or_default]
    pub children: Html,
}

impl PartialEq for Props {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.seed, &other.seed) && self.children == other.children
    }
}

pub struct Session {
    settings: Rc<Settings>,
    chain: Option<Chain>,
    other: Result<Chain, Rc<UiError>>,
    overview: Option<Rc<Overview>>,
    report: Option<Rc<TransferReport>>,
    status: Status,
    /// Made once, so that the context changes only when the session does.
    requests: Callback<Request>,
}

impl Session {
    fn connect(&mut self, ctx: &Context<Self>) {
        self.chain = None;
        self.other = Err(Rc::new(UiError::NotConnected));
        self.status.start(match self.settings.start {
            model::LightStart::Genesis => "Connecting to the gateway and checking the chain's genesis…",
            _ => "Connecting to the gateway and verifying the newest checkpoint…",
        });
        let gateway = match self.settings.gateway.trim() {
            "" => browser::origin(),
            url => url.to_string(),
        };
        let cross = self.settings.cross_check_ids();
        let start = self.settings.start.clone();
        ctx.link().send_future(async move { Msg::Connected(Chain::connect(gateway, cross, start, Role::Home).await) });
    }

    /// Follows the other chain: the gateway Settings name, else the first the serving
    /// gateway lists; one it does not list is refused (the page's CSP would block it).
    fn connect_other(&mut self, ctx: &Context<Self>) {
        let Some(home) = self.chain.clone() else { return };
        let listed = home.other_chains.to_vec();
        let url = match self.settings.other_chain.trim().trim_end_matches('/') {
            "" => match listed.first() {
                Some(url) => url.clone(),
                None => return self.other = Err(Rc::new(UiError::NoOtherChain)),
            },
            url => url.to_string(),
        };
        if !listed.contains(&url) {
            self.other = Err(Rc::new(UiError::OtherChainNotListed { url, listed }));
            return;
        }
        self.other = Err(Rc::new(UiError::NotConnected));
        let also = listed.into_iter().filter(|u| *u != url).collect();
        ctx.link().send_future(async move {
            let other = Chain::connect(url, None, model::LightStart::Genesis, Role::Other { also }).await;
            let other = match other {
                Ok(c) if c.chain_id() == home.chain_id() => Err(UiError::SameChain(c.chain_id().to_string())),
                other => other,
            };
            Msg::OtherConnected(other)
        });
    }

    fn refresh(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Ok(me)) = (self.chain.clone(), ctx.props().seed.account(0)) else { return };
        self.status.start("Verifying your balance against a certified header…");
        let me = me.address();
        ctx.link().send_future(async move { Msg::Refreshed(chain.overview(&me).await) });
    }

    fn apply(&mut self, ctx: &Context<Self>, settings: Settings) {
        let reconnect = settings.gateway != self.settings.gateway || settings.start != self.settings.start;
        let other_changed = settings.other_chain != self.settings.other_chain;
        self.settings = Rc::new(settings);
        if reconnect {
            self.connect(ctx);
        } else if let Some(c) = &self.chain {
            c.set_cross_check(self.settings.cross_check_ids());
            if other_changed {
                self.connect_other(ctx);
            }
        }
    }

    fn wallet(&self, ctx: &Context<Self>) -> Wallet {
        Wallet {
            seed: ctx.props().seed.clone(),
            chain: self.chain.clone(),
            other: self.other.clone(),
            settings: self.settings.clone(),
            overview: self.overview.clone(),
            report: self.report.clone(),
            busy: self.status.is_busy(),
            requests: self.requests.clone(),
        }
    }
}

impl Component for Session {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let mut session = Session {
            settings: Rc::new(storage::settings()),
            chain: None,
            other: Err(Rc::new(UiError::NotConnected)),
            overview: None,
            report: None,
            status: Status::default(),
            requests: ctx.link().callback(Msg::Request),
        };
        session.connect(ctx);
        session
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Request(Request::Refresh) if self.chain.is_none() => self.connect(ctx),
            Msg::Request(Request::Refresh) => self.refresh(ctx),
            Msg::Request(Request::Transferred(report)) => {
                self.report = Some(Rc::new(report));
                self.refresh(ctx);
            }
            Msg::Request(Request::Apply(settings)) => self.apply(ctx, settings),
            Msg::Request(Request::Reconnect) => self.connect(ctx),
            Msg::Request(Request::ReconnectOther) => {
                if let Err(e) = storage::remove(OTHER_PIN_KEY) {
                    self.status.fail(e);
                }
                self.connect_other(ctx);
            }
            Msg::Connected(Ok(chain)) => {
                self.status.done();
                self.chain = Some(chain);
                self.connect_other(ctx);
                self.refresh(ctx);
            }
            Msg::OtherConnected(other) => {
                self.other = other.map_err(|e| Rc::new(e.during(Action::FollowOtherChain)));
            }
            Msg::Connected(Err(e)) => self.status.fail(e),
            Msg::Refreshed(Ok(overview)) => {
                self.status.done();
                self.overview = Some(Rc::new(overview));
            }
            Msg::Refreshed(Err(e)) => self.status.fail(e.during(Action::VerifyAccount)),
            Msg::Dismiss => self.status.error = None,
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        html! {
            <ContextProvider<Wallet> context={self.wallet(ctx)}>
                {self.status.view(ctx.link().callback(|_| Msg::Dismiss))}
                {ctx.props().children.clone()}
            </ContextProvider<Wallet>>
        }
    }
}
