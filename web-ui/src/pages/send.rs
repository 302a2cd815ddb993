//! Send: the recipient checked as typed, amount and fee; the per-node receipt table of
//! the last transfer; a caught liar reported to `App` for the banner.

use yew::context::ContextHandle;
use yew::prelude::*;

use vigil_wallet::session::TransferReport;

use crate::browser::{self, value};
use crate::error::{Action, InputError, Quantity, UiError};
use crate::model;
use crate::session::{self, Request, Wallet};
use crate::status::Status;

pub enum Msg {
    Wallet(Wallet),
    RecipientInput,
    Send,
    Sent(Result<TransferReport, UiError>),
    Dismiss,
}

#[derive(Properties, PartialEq)]
pub struct Props {
    /// The page is the current tab (its messages are cleared when it comes back).
    pub shown: bool,
    /// A transfer caught lying nodes: the banner's lines, one per liar.
    pub on_caught: Callback<Vec<String>>,
}

#[derive(Default)]
struct Fields {
    recipient: NodeRef,
    amount: NodeRef,
    fee: NodeRef,
}

pub struct SendPage {
    wallet: Wallet,
    _wallet: ContextHandle<Wallet>,
    status: Status,
    /// What is wrong with the recipient typed, shown under it as it is typed.
    recipient_error: Option<InputError>,
    fields: Fields,
}

impl SendPage {
    fn send(&mut self, ctx: &Context<Self>) {
        let Some(chain) = self.wallet.chain.clone() else {
            self.status.fail(UiError::NotConnected);
            return;
        };
        let to = match model::recipient(&value(&self.fields.recipient)) {
            Ok(a) => a,
            Err(e) => {
                self.recipient_error = Some(e);
                return;
            }
        };
        let amount = model::amount(&value(&self.fields.amount), Quantity::Amount, false);
        let (amount, fee) = match (amount, model::fee(&value(&self.fields.fee))) {
            (Ok(a), Ok(f)) => (a, f),
            (Err(e), _) | (_, Err(e)) => {
                self.status.fail(e.into());
                return;
            }
        };
        let seed = self.wallet.seed.clone();
        self.status.start(format!("Sending to {} nodes and checking each signed receipt…", chain.validators().len()));
        ctx.link().send_future(async move {
            let result = match seed.account(0) {
                Ok(account) => chain.transfer(&account.key, to, amount, fee).await,
                Err(e) => Err(UiError::Key(e)),
            };
            Msg::Sent(result)
        });
    }

    fn sent(&mut self, ctx: &Context<Self>, report: TransferReport) {
        self.status.done();
        let caught: Vec<String> =
            report.evidence.iter().map(|ev| model::evidence_line(&self.wallet.name(&ev.offender), ev)).collect();
        if !caught.is_empty() {
            ctx.props().on_caught.emit(caught);
        }
        browser::clear(&self.fields.amount);
        self.wallet.request(Request::Transferred(report));
    }

    fn receipts(&self, r: &TransferReport) -> Html {
        html! {
            <div class="card wide" id="receipts">
                <h2>{"Signed receipts"}</h2>
                <p class="muted">{format!("Transaction {} (nonce {}). {}", model::short(&r.tx_hash.to_string()), r.nonce, r.how_verified)}</p>
                <table>
                    <thead><tr><th scope="col">{"Node"}</th><th scope="col">{"Receipt"}</th><th scope="col">{"Why"}</th></tr></thead>
                    <tbody>
                        { for r.nodes.iter().map(|n| {
                            let (ok, label, why) = model::verdict(&n.verdict);
                            html! {
                                <tr key={n.node.to_string()} class={if ok { "row-ok" } else { "row-bad" }}>
                                    <td>{self.wallet.name(&n.node)}</td>
                                    <td><span class={if ok { "ok" } else { "bad" }} aria-label={label}>{if ok { "✓" } else { "✗" }}</span>{" "}{label}</td>
                                    <td>{why}</td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
                { for r.evidence.iter().map(|e| html! {
                    <p class="evidence">{format!("Evidence {}: {}", model::short(&e.evidence_tx.to_string()), e.detail)}</p>
                }) }
            </div>
        }
    }
}

impl Component for SendPage {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let (wallet, handle) = session::subscribe(ctx.link(), Msg::Wallet);
        SendPage {
            wallet,
            _wallet: handle,
            status: Status::default(),
            recipient_error: None,
            fields: Fields::default(),
        }
    }

    fn changed(&mut self, ctx: &Context<Self>, old: &Props) -> bool {
        self.status.reshown(ctx.props().shown, old.shown)
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Wallet(w) => self.wallet = w,
            Msg::RecipientInput => {
                let text = value(&self.fields.recipient);
                self.recipient_error = if text.trim().is_empty() { None } else { model::recipient(&text).err() };
            }
            Msg::Send => self.send(ctx),
            Msg::Sent(Ok(report)) => self.sent(ctx, report),
            Msg::Sent(Err(e)) => self.status.fail(e.during(Action::Transfer)),
            Msg::Dismiss => self.status.error = None,
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let busy = self.status.is_busy() || self.wallet.busy;
        let recipient_error = self.recipient_error.as_ref().map(|e| e.to_string());
        let sending = self.status.is_busy();
        html! {
            <>
                {self.status.view(link.callback(|_| Msg::Dismiss))}
                <section class="stack">
                    <div class="card narrow">
                        <h1>{"Send"}</h1>
                        if let Some(o) = &self.wallet.overview {
                            <p class="muted">{format!("Available: {} units (verified at height {})", model::units(o.account.balance), o.account.verification.height.map(|h| h.0).unwrap_or(0))}</p>
                        }
                        <form onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::Send })}>
                            <label for="recipient">{"Recipient address"}</label>
                            <input id="recipient" autocomplete="off" spellcheck="false" placeholder="vigil1…"
                                aria-invalid={recipient_error.is_some().then_some("true")}
                                aria-describedby="recipient-error"
                                oninput={link.callback(|_| Msg::RecipientInput)} ref={self.fields.recipient.clone()} />
                            <p id="recipient-error" class="field-error">{recipient_error.unwrap_or_default()}</p>
                            <label for="amount">{"Amount (units)"}</label>
                            <input id="amount" inputmode="numeric" autocomplete="off" ref={self.fields.amount.clone()} />
                            <label for="fee">{"Fee (units; 1 if empty)"}</label>
                            <input id="fee" inputmode="numeric" placeholder="1" autocomplete="off" ref={self.fields.fee.clone()} />
                            <div class="actions">
                                <button class="primary" type="submit" disabled={busy}>{"Sign and send"}</button>
                            </div>
                        </form>
                    </div>
                    // The last transfer's receipts; none while the next one is on its way.
                    if let Some(r) = self.wallet.report.as_deref().filter(|_| !sending) {
                        {self.receipts(r)}
                    }
                </section>
            </>
        }
    }
}
