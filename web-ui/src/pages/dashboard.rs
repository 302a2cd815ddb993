//! The dashboard: the balance proven against a certified header, the certified mode,
//! jailed validators, each node's health and last verdict, the devnet faucet.

use yew::context::ContextHandle;
use yew::prelude::*;

use vigil_protocol::{ConsensusMode, NodeId};

use super::Page;
use crate::browser;
use crate::chain::Overview;
use crate::error::{Action, UiError};
use crate::model;
use crate::session::{self, Request, Wallet};
use crate::status::Status;

pub enum Msg {
    Wallet(Wallet),
    Refresh,
    Fund,
    Funded(Result<u64, UiError>),
    Dismiss,
}

#[derive(Properties, PartialEq)]
pub struct Props {
    /// The page is the current tab (its messages are cleared when it comes back).
    pub shown: bool,
    /// Go to another page (the Send button).
    pub on_go: Callback<Page>,
}

pub struct DashboardPage {
    wallet: Wallet,
    _wallet: ContextHandle<Wallet>,
    status: Status,
}

impl Component for DashboardPage {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let (wallet, handle) = session::subscribe(ctx.link(), Msg::Wallet);
        DashboardPage { wallet, _wallet: handle, status: Status::default() }
    }

    fn changed(&mut self, ctx: &Context<Self>, old: &Props) -> bool {
        self.status.reshown(ctx.props().shown, old.shown)
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Wallet(w) => self.wallet = w,
            Msg::Refresh => self.wallet.request(Request::Refresh),
            Msg::Fund => {
                let (Some(chain), Ok(me)) = (self.wallet.chain.clone(), self.wallet.address()) else { return false };
                self.status.start("Asking the test faucet and waiting for the transfer to commit…");
                ctx.link().send_future(async move { Msg::Funded(chain.fund(&me).await) });
            }
            Msg::Funded(Ok(height)) => {
                self.status.done();
                self.status.note(format!("Test funds arrived in block {height}."));
                self.wallet.request(Request::Refresh);
            }
            Msg::Funded(Err(e)) => self.status.fail(e.during(Action::Faucet)),
            Msg::Dismiss => self.status.error = None,
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let overview = self.wallet.overview.as_deref();
        html! {
            <>
                {self.status.view(ctx.link().callback(|_| Msg::Dismiss))}
                <section class="grid">
                    {self.balance(ctx, overview)}
                    {consensus(overview)}
                    <div class="card wide">
                        <h2>{"Nodes"}</h2>
                        if let Some(o) = overview {
                            {self.nodes(o)}
                        }
                    </div>
                </section>
            </>
        }
    }
}

impl DashboardPage {
    fn balance(&self, ctx: &Context<Self>, overview: Option<&Overview>) -> Html {
        let link = ctx.link();
        let busy = self.status.is_busy() || self.wallet.busy;
        let address = self.wallet.address().map(|a| a.to_string()).unwrap_or_default();
        let on_send = ctx.props().on_go.reform(|_| Page::Send);
        html! {
            <div class="card">
                <h2>{"Balance"}</h2>
                if let Some(o) = overview {
                    {verified_balance(o)}
                } else {
                    <p class="muted">{"Not verified yet."}</p>
                }
                <label for="address">{"Your address"}</label>
                <input id="address" readonly=true value={address} />
                <div class="actions">
                    <button onclick={link.callback(|_| Msg::Refresh)} disabled={busy}>{"Refresh"}</button>
                    <button class="primary" onclick={on_send}>{"Send"}</button>
                    if let Some(amount) = overview.and_then(|o| o.faucet) {
                        <button onclick={link.callback(|_| Msg::Fund)} disabled={busy}>
                            {format!("Get {} test units", model::units(amount))}
                        </button>
                    }
                </div>
            </div>
        }
    }

    /// Each node as the gateway sees it, and its verdict on the last transfer.
    fn nodes(&self, o: &Overview) -> Html {
        let last = |id: &NodeId| -> Html {
            let report = self.wallet.report.as_ref().and_then(|r| r.nodes.iter().find(|n| n.node == *id));
            match report {
                Some(n) => {
                    let (ok, label, why) = model::verdict(&n.verdict);
                    html! { <span class={if ok { "ok" } else { "bad" }} title={why}>{if ok { "✓ " } else { "✗ " }}{label}</span> }
                }
                None => html! { <span class="muted">{"—"}</span> },
            }
        };
        html! {
            <table>
                <thead><tr><th scope="col">{"Node"}</th><th scope="col">{"Gateway sees it"}</th><th scope="col">{"Last verdict"}</th></tr></thead>
                <tbody>
                    { for o.health.iter().map(|h| {
                        let jailed = o.set.get(&h.id).is_none();
                        html! {
                            <tr key={h.id.to_string()}>
                                <td>{&h.name}{if jailed { " (jailed)" } else { "" }}</td>
                                <td>{if h.healthy {
                                    html! { <span class="ok">{"● up"}</span> }
                                } else {
                                    html! { <span class="bad" title={h.last_error.clone().unwrap_or_default()}>{"● down"}</span> }
                                }}</td>
                                <td>{last(&h.id)}</td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
        }
    }
}

/// The balance, the height and age it was verified at, and how.
fn verified_balance(o: &Overview) -> Html {
    let v = &o.account.verification;
    html! {
        <>
            <p class="balance" id="balance">{model::units(o.account.balance)}<span class="unit">{" units"}</span></p>
            <p class="verified" id="verified">
                {"✓ verified at height "}{v.height.map(|h| h.0.to_string()).unwrap_or_else(|| "—".into())}
                if let Some(t) = v.header_time_ms {
                    <span id="age" title={model::clock(t)}>{" · "}{model::age(browser::now_ms(), t)}</span>
                }
            </p>
            <p class="muted" id="started-from">{model::start_line(&o.started)}</p>
            <details>
                <summary>{"How this was verified"}</summary>
                <p>{&v.method}</p>
                <p>{format!("Signed by {} of {} validators; nonce {}.", v.signers.len(), o.set.len(), o.account.nonce)}</p>
                <p id="cross-check">{model::cross_check(&o.set, v.cross_check.as_ref())}</p>
            </details>
        </>
    }
}

/// The certified mode and the jailed validators.
fn consensus(overview: Option<&Overview>) -> Html {
    html! {
        <div class="card">
            <h2>{"Consensus"}</h2>
            if let Some(o) = overview {
                <p class="mode" id="mode">{match o.mode {
                    Some(ConsensusMode::Bft) => "BFT mode",
                    Some(ConsensusMode::Fast) => "Fast mode",
                    None => "—",
                }}</p>
                <p class="muted">{match o.mode {
                    Some(ConsensusMode::Bft) => "Byzantine fault tolerant: more than two thirds of the validators sign each block.",
                    _ => "Crash fault tolerant: a majority signs each block. A proven fault switches the chain to BFT.",
                }}</p>
                if !o.jailed.is_empty() {
                    <p class="bad">{"Jailed: "}{o.jailed.join(", ")}</p>
                }
            }
        </div>
    }
}
