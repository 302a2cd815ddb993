//! Audits: as a supplier, register a target object, record its trades and rows (kept at
//! its node), submit an audit of its period and watch each counterparty's notice arrive,
//! the audit agreed, or disputed and why; as a counterparty, confirm a trade, check an
//! audit's claim about this account against its own trades and the target's rows, and
//! send the notice. Every figure read is verified in this tab against a certified header.

use yew::context::ContextHandle;
use yew::prelude::*;

use vigil_protocol::audit::{Dimension, Notice, RecordTrade, Target, TargetId};
use vigil_protocol::NodeId;
use vigil_wallet::session::audit::{AuditCheck, AuditView};

use crate::audit_view::{self, NoticeState};
use crate::audits::RowInput;
use crate::browser::{self, value};
use crate::error::{Action, InputError, Quantity, UiError};
use crate::model;
use crate::session::{self, Wallet};
use crate::status::Status;
use crate::storage;

/// How often a watched audit is read again while pending.
const POLL_MS: u32 = 1_000;
/// Where this browser remembers the target it registered (not secret).
const TARGET_KEY: &str = "vigil.audit-target";

pub enum Msg {
    Wallet(Wallet),
    Register,
    Registered(Result<TargetId, UiError>),
    TargetRead(Result<Option<Target>, UiError>),
    RecordTrade,
    UploadRow,
    Submit,
    Done(Result<String, UiError>, Action),
    Submitted(Result<u64, UiError>),
    Poll,
    Polled(Result<AuditView, UiError>),
    ConfirmTrade,
    Check(bool),
    Checked(Result<AuditCheck, UiError>),
    Dismiss,
}

#[derive(Properties, PartialEq)]
pub struct Props {
    /// The page is the current tab (its messages are cleared when it comes back).
    pub shown: bool,
}

#[derive(Default)]
struct Fields {
    form: NodeRef,
    name: NodeRef,
    first: NodeRef,
    second: NodeRef,
    trade_to: NodeRef,
    trade_quantity: NodeRef,
    trade_amount: NodeRef,
    row_to: NodeRef,
    row_quantity: NodeRef,
    row_amount: NodeRef,
    deadline: NodeRef,
    their_target: NodeRef,
    their_number: NodeRef,
}

pub struct AuditsPage {
    wallet: Wallet,
    _wallet: ContextHandle<Wallet>,
    status: Status,
    target: Option<TargetId>,
    target_view: Option<Target>,
    watched: Option<u64>,
    view: Option<AuditView>,
    check: Option<AuditCheck>,
    fields: Fields,
}

impl AuditsPage {
    fn chain(&mut self) -> Option<crate::chain::Chain> {
        let chain = self.wallet.chain.clone();
        if chain.is_none() {
            self.status.fail(UiError::NotConnected);
        }
        chain
    }

    fn key(&mut self) -> Option<vigil_protocol::SecretKey> {
        match self.wallet.seed.account(0) {
            Ok(a) => Some(a.key),
            Err(e) => {
                self.status.fail(UiError::Key(e));
                None
            }
        }
    }

    fn register(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Some(key)) = (self.chain(), self.key()) else { return };
        let name = value(&self.fields.name).trim().to_string();
        let holder =
            browser::checked(&self.fields.form, "holder").into_iter().next().and_then(|h| h.parse::<NodeId>().ok());
        let dims = [value(&self.fields.first).trim().to_string(), value(&self.fields.second).trim().to_string()];
        let Some(holder) = holder else {
            return self.status.fail(InputError::Audit("Choose the node that keeps its records.".into()).into());
        };
        self.status.start("Registering the target object…");
        ctx.link().send_future(async move { Msg::Registered(chain.register_target(&key, &name, holder, dims).await) });
    }

    fn read_target(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Some(id)) = (self.wallet.chain.clone(), self.target) else { return };
        ctx.link().send_future(async move { Msg::TargetRead(chain.target(&id).await) });
    }

    fn record_trade(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Some(key), Some(target)) = (self.chain(), self.key(), self.target) else { return };
        let read = || -> Result<RecordTrade, UiError> {
            let counterparty = model::recipient(&value(&self.fields.trade_to))?;
            let quantity = model::amount(&value(&self.fields.trade_quantity), Quantity::Amount, true)?;
            let amount = model::amount(&value(&self.fields.trade_amount), Quantity::Amount, true)?;
            Ok(RecordTrade { target, counterparty, quantity, amount, reference: String::new() })
        };
        let trade = match read() {
            Ok(t) => t,
            Err(e) => return self.status.fail(e),
        };
        self.status.start("Recording the trade…");
        ctx.link().send_future(async move {
            let r = chain
                .record_trade(&key, trade)
                .await
                .map(|n| format!("Trade {n} recorded; its counterparty confirms it."));
            Msg::Done(r, Action::RecordTrade)
        });
    }

    fn upload_row(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Some(key), Some(target)) = (self.chain(), self.key(), self.target) else { return };
        let second = browser::checked(&self.fields.form, "row-dimension").first().is_some_and(|d| d == "second");
        let read = || -> Result<RowInput, UiError> {
            let counterparty = if second { Some(model::recipient(&value(&self.fields.row_to))?) } else { None };
            Ok(RowInput {
                dimension: if second { Dimension::Second } else { Dimension::First },
                counterparty,
                quantity: model::amount(&value(&self.fields.row_quantity), Quantity::Amount, true)?,
                amount: model::amount(&value(&self.fields.row_amount), Quantity::Amount, true)?,
                memo: String::new(),
            })
        };
        let row = match read() {
            Ok(r) => r,
            Err(e) => return self.status.fail(e),
        };
        self.status.start("Signing the row and sending it to the target's node…");
        ctx.link().send_future(async move {
            let r = chain
                .upload_row(&key, target, row)
                .await
                .map(|n| format!("Kept: the node holds {n} rows of that dimension."));
            Msg::Done(r, Action::UploadRow)
        });
    }

    fn submit(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Some(key), Some(target)) = (self.chain(), self.key(), self.target) else { return };
        let deadline = match audit_view::deadline_blocks(&value(&self.fields.deadline)) {
            Ok(d) => d,
            Err(e) => return self.status.fail(e.into()),
        };
        self.status.start("Digesting the period's rows, making the claims and submitting the audit…");
        ctx.link().send_future(async move { Msg::Submitted(chain.submit_audit(&key, target, deadline).await) });
    }

    fn poll(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Some(target), Some(n)) = (self.wallet.chain.clone(), self.target, self.watched) else {
            return;
        };
        ctx.link().send_future(async move { Msg::Polled(chain.audit(target, n).await) });
    }

    fn theirs(&self) -> Result<(TargetId, u64), UiError> {
        Ok((
            audit_view::target_id(&value(&self.fields.their_target))?,
            audit_view::number(&value(&self.fields.their_number), "trade or audit")?,
        ))
    }

    fn confirm_trade(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Some(key)) = (self.chain(), self.key()) else { return };
        let (target, n) = match self.theirs() {
            Ok(t) => t,
            Err(e) => return self.status.fail(e),
        };
        self.status.start("Confirming the trade…");
        ctx.link().send_future(async move {
            let r = chain.confirm_trade(&key, target, n).await.map(|()| format!("Trade {n} confirmed."));
            Msg::Done(r, Action::RecordTrade)
        });
    }

    fn check(&mut self, ctx: &Context<Self>, send: bool) {
        let (Some(chain), Some(key)) = (self.chain(), self.key()) else { return };
        let (target, n) = match self.theirs() {
            Ok(t) => t,
            Err(e) => return self.status.fail(e),
        };
        self.status.start("Checking the claim against your trades and the target's rows…");
        ctx.link().send_future(async move { Msg::Checked(chain.check_audit(&key, target, n, send).await) });
    }

    fn supplier(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let busy = self.status.is_busy() || self.wallet.busy;
        let validators = self.wallet.chain.as_ref().map(|c| c.validators()).unwrap_or_default();
        let submit = |m: fn() -> Msg| {
            link.callback(move |e: MouseEvent| {
                e.prevent_default();
                m()
            })
        };
        html! {
            <div class="card narrow">
                <h1>{"Audits"}</h1>
                if let Some(id) = self.target {
                    <p class="muted">{"Your target object: "}<code id="audit-target">{id.to_string()}</code></p>
                    if let Some(t) = &self.target_view {
                        <p class="muted" id="audit-target-state">{format!("{}: {} trades, {} audits; the next period starts at height {} (verified)", t.name, t.trades, t.audits, t.next_from.0)}</p>
                    }
                    <h2>{"Record a trade"}</h2>
                    <label for="trade-to">{"Counterparty address"}</label>
                    <input id="trade-to" spellcheck="false" autocomplete="off" ref={self.fields.trade_to.clone()} />
                    <label for="trade-quantity">{"Quantity"}</label>
                    <input id="trade-quantity" inputmode="numeric" ref={self.fields.trade_quantity.clone()} />
                    <label for="trade-amount">{"Amount"}</label>
                    <input id="trade-amount" inputmode="numeric" ref={self.fields.trade_amount.clone()} />
                    <div class="actions"><button id="record-trade" disabled={busy} onclick={submit(|| Msg::RecordTrade)}>{"Record trade"}</button></div>
                    <h2>{"Record a row"}</h2>
                    <fieldset>
                        <legend>{"Dimension"}</legend>
                        <div class="check"><input type="radio" name="row-dimension" id="row-second" value="second" checked=true /><label for="row-second">{"Second (a shipment: names its counterparty)"}</label></div>
                        <div class="check"><input type="radio" name="row-dimension" id="row-first" value="first" /><label for="row-first">{"First (production)"}</label></div>
                    </fieldset>
                    <label for="row-to">{"Counterparty address (second dimension)"}</label>
                    <input id="row-to" spellcheck="false" autocomplete="off" ref={self.fields.row_to.clone()} />
                    <label for="row-quantity">{"Row quantity"}</label>
                    <input id="row-quantity" inputmode="numeric" ref={self.fields.row_quantity.clone()} />
                    <label for="row-amount">{"Row amount"}</label>
                    <input id="row-amount" inputmode="numeric" ref={self.fields.row_amount.clone()} />
                    <div class="actions"><button id="upload-row" disabled={busy} onclick={submit(|| Msg::UploadRow)}>{"Sign and keep the row"}</button></div>
                    <h2>{"Submit the next period's audit"}</h2>
                    <label for="audit-deadline">{"Deadline (blocks after the period)"}</label>
                    <input id="audit-deadline" inputmode="numeric" value="200" ref={self.fields.deadline.clone()} />
                    <div class="actions"><button class="primary" id="submit-audit" disabled={busy} onclick={submit(|| Msg::Submit)}>{"Submit audit"}</button></div>
                } else {
                    <p class="muted">{"Register a target object (a supplier, say): its records are kept by the node you choose, its trades and audits on chain."}</p>
                    <label for="target-name">{"Name"}</label>
                    <input id="target-name" autocomplete="off" ref={self.fields.name.clone()} />
                    <label for="dim-first">{"First dimension"}</label>
                    <input id="dim-first" value="production" ref={self.fields.first.clone()} />
                    <label for="dim-second">{"Second dimension"}</label>
                    <input id="dim-second" value="shipments" ref={self.fields.second.clone()} />
                    <fieldset>
                        <legend>{"Node that keeps its records"}</legend>
                        { for validators.iter().enumerate().map(|(i, (id, name))| {
                            let key = format!("holder-{i}");
                            html! { <div class="check"><input type="radio" name="holder" id={key.clone()} value={id.to_string()} checked={i == 0} /><label for={key}>{name}</label></div> }
                        }) }
                    </fieldset>
                    <div class="actions"><button class="primary" id="register-target" disabled={busy} onclick={submit(|| Msg::Register)}>{"Register target"}</button></div>
                }
            </div>
        }
    }

    fn watched(&self) -> Html {
        let Some(v) = &self.view else { return html! {} };
        let (class, line) = audit_view::status_line(v);
        html! {
            <div class="card wide" id="audit-view" data-status={class}>
                <h2>{format!("Audit {} of heights {} to {}", v.number, v.record.submitted.period.from.0, v.record.submitted.period.to.0)}</h2>
                <p class={classes!("audit-status", class)} id="audit-status">{line}</p>
                <ul id="audit-claims">
                    { for audit_view::claim_lines(v).into_iter().map(|l| {
                        let (state, text) = match &l.state {
                            NoticeState::Confirmed { at } => ("confirmed", format!("✓ confirmed at height {at}")),
                            NoticeState::Refused { reason, at } => ("refused", format!("✗ refused at height {at}: {reason}")),
                            NoticeState::Awaited => ("awaited", "… awaited".to_string()),
                        };
                        html! { <li data-state={state}><strong>{l.counterparty}</strong>{format!(" — {}: {text}", l.claimed)}</li> }
                    }) }
                </ul>
                <p class="muted">{format!("Verified against the certified header at height {} ({})", v.verification.height.map_or(0, |h| h.0), v.verification.method)}</p>
            </div>
        }
    }

    fn counterparty(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let busy = self.status.is_busy() || self.wallet.busy;
        html! {
            <div class="card narrow">
                <h2>{"As a counterparty"}</h2>
                <label for="their-target">{"Target id"}</label>
                <input id="their-target" spellcheck="false" autocomplete="off" ref={self.fields.their_target.clone()} />
                <label for="their-number">{"Trade or audit number"}</label>
                <input id="their-number" inputmode="numeric" ref={self.fields.their_number.clone()} />
                <div class="actions">
                    <button disabled={busy} onclick={link.callback(|_| Msg::ConfirmTrade)}>{"Confirm trade"}</button>
                    <button disabled={busy} onclick={link.callback(|_| Msg::Check(false))}>{"Check audit"}</button>
                    <button disabled={busy} onclick={link.callback(|_| Msg::Check(true))}>{"Check and send notice"}</button>
                </div>
                if let Some(c) = &self.check {
                    <p id="audit-check">{match &c.notice {
                        Notice::Confirm => format!("The claim matches: your trades (quantity {}, amount {}) and the target's {} rows. Confirmed.", c.own.quantity, c.own.amount, c.rows.count),
                        Notice::Refuse { reason, .. } => format!("The claim does not match: {reason}"),
                    }}</p>
                }
            </div>
        }
    }
}

impl Component for AuditsPage {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let (wallet, handle) = session::subscribe(ctx.link(), Msg::Wallet);
        let target = storage::get(TARGET_KEY).and_then(|t| t.parse().ok());
        let mut page = AuditsPage {
            wallet,
            _wallet: handle,
            status: Status::default(),
            target,
            target_view: None,
            watched: None,
            view: None,
            check: None,
            fields: Fields::default(),
        };
        page.read_target(ctx);
        page
    }

    fn changed(&mut self, ctx: &Context<Self>, old: &Props) -> bool {
        self.status.reshown(ctx.props().shown, old.shown)
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Wallet(w) => {
                let connected = self.wallet.chain.is_none() && w.chain.is_some();
                self.wallet = w;
                if connected {
                    self.read_target(ctx);
                }
            }
            Msg::Register => self.register(ctx),
            Msg::Registered(Ok(id)) => {
                self.status.done();
                if let Err(e) = storage::set(TARGET_KEY, &id.to_string()) {
                    self.status.fail(e);
                }
                self.target = Some(id);
                self.read_target(ctx);
            }
            Msg::Registered(Err(e)) => self.status.fail(e.during(Action::RegisterTarget)),
            Msg::TargetRead(Ok(t)) => self.target_view = t,
            Msg::TargetRead(Err(e)) => self.status.fail(e.during(Action::ReadAudit)),
            Msg::RecordTrade => self.record_trade(ctx),
            Msg::UploadRow => self.upload_row(ctx),
            Msg::Submit => self.submit(ctx),
            Msg::Done(Ok(note), _) => {
                self.status.done();
                self.status.note(note);
                self.read_target(ctx);
            }
            Msg::Done(Err(e), action) => self.status.fail(e.during(action)),
            Msg::Submitted(Ok(n)) => {
                self.status.done();
                self.watched = Some(n);
                self.view = None;
                self.read_target(ctx);
                self.poll(ctx);
            }
            Msg::Submitted(Err(e)) => self.status.fail(e.during(Action::SubmitAudit)),
            Msg::Poll => self.poll(ctx),
            Msg::Polled(Ok(v)) => {
                let pending = matches!(v.status, vigil_protocol::audit::AuditStatus::Pending);
                self.view = Some(v);
                if pending {
                    ctx.link().send_future(async {
                        gloo::timers::future::TimeoutFuture::new(POLL_MS).await;
                        Msg::Poll
                    });
                }
            }
            Msg::Polled(Err(e)) => self.status.fail(e.during(Action::ReadAudit)),
            Msg::ConfirmTrade => self.confirm_trade(ctx),
            Msg::Check(send) => self.check(ctx, send),
            Msg::Checked(Ok(c)) => {
                self.status.done();
                self.check = Some(c);
            }
            Msg::Checked(Err(e)) => self.status.fail(e.during(Action::CheckAudit)),
            Msg::Dismiss => self.status.error = None,
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        html! {
            <>
                {self.status.view(ctx.link().callback(|_| Msg::Dismiss))}
                <section class="stack" ref={self.fields.form.clone()}>
                    {self.supplier(ctx)}
                    {self.watched()}
                    {self.counterparty(ctx)}
                </section>
            </>
        }
    }
}
