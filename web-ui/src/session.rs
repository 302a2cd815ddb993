//! The unlocked wallet's link to the chain, shared by the pages: a component that
//! connects (again when Settings change the gateway or where the light client starts,
//! or reset the trusted chain), keeps
//! the settings in force, the verified account overview and the last transfer's report,
//! and hands them to the pages below it as a Yew context, [`Wallet`]. Pages ask it for
//! work through [`Wallet::request`]; it does no page's own work.

use std::rc::Rc;

use yew::context::ContextHandle;
use yew::html::Scope;
use yew::prelude::*;

use vigil_protocol::{Address, NodeId};
use vigil_wallet::keys::WalletSeed;
use vigil_wallet::session::TransferReport;

use crate::browser;
use crate::chain::{Chain, Overview};
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
}

pub enum Msg {
    Request(Request),
    Connected(Result<Chain, UiError>),
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
    overview: Option<Rc<Overview>>,
    report: Option<Rc<TransferReport>>,
    status: Status,
    /// Made once, so that the context changes only when the session does.
    requests: Callback<Request>,
}

impl Session {
    fn connect(&mut self, ctx: &Context<Self>) {
        self.chain = None;
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
        ctx.link().send_future(async move { Msg::Connected(Chain::connect(gateway, cross, start).await) });
    }

    fn refresh(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Ok(me)) = (self.chain.clone(), ctx.props().seed.account(0)) else { return };
        self.status.start("Verifying your balance against a certified header…");
        let me = me.address();
        ctx.link().send_future(async move { Msg::Refreshed(chain.overview(&me).await) });
    }

    fn apply(&mut self, ctx: &Context<Self>, settings: Settings) {
        let reconnect = settings.gateway != self.settings.gateway || settings.start != self.settings.start;
        self.settings = Rc::new(settings);
        if reconnect {
            self.connect(ctx);
        } else if let Some(c) = &self.chain {
            c.set_cross_check(self.settings.cross_check_ids());
        }
    }

    fn wallet(&self, ctx: &Context<Self>) -> Wallet {
        Wallet {
            seed: ctx.props().seed.clone(),
            chain: self.chain.clone(),
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
            Msg::Connected(Ok(chain)) => {
                self.status.done();
                self.chain = Some(chain);
                self.refresh(ctx);
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
