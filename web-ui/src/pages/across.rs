//! Across: send coin to the other chain (or vouchers back home), then watch each transfer
//! step by step, every step read on the chain it happened on and verified in this tab
//! against that chain's certified header; a refund shown as such. And this account on
//! both chains: its coin and its vouchers of the other's, each proven.

use yew::context::ContextHandle;
use yew::prelude::*;

use vigil_protocol::crosschain::{CrossAsset, Packet};
use vigil_protocol::Address;
use vigil_wallet::session::crosschain::{CrossSent, PacketWatch};

use crate::across::{self, AcrossOrder, Holdings};
use crate::browser::{self, value};
use crate::chain::Chain;
use crate::error::{Action, Quantity, UiError};
use crate::model;
use crate::session::{self, Wallet};
use crate::status::Status;
use crate::transfer_steps::{self, StepLine};

/// How often a transfer in flight is read again on both chains.
const POLL_MS: u32 = 1_000;
/// The timeout the form offers, in blocks of the source chain.
const TIMEOUT_BLOCKS_DEFAULT: u64 = vigil_wallet::session::crosschain::TIMEOUT_BLOCKS_DEFAULT;

pub enum Msg {
    Wallet(Wallet),
    Send,
    Sent(Result<(CrossSent, bool), UiError>),
    Poll(usize),
    Polled(usize, Result<PacketWatch, UiError>),
    Refresh,
    Refreshed(Result<Box<[Holdings; 2]>, UiError>),
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
    recipient: NodeRef,
    amount: NodeRef,
    relayer_fee: NodeRef,
    timeout: NodeRef,
}

/// A transfer this page sent, and where it was last seen.
struct Tracked {
    packet: Packet,
    /// Sent from this wallet's own chain (else from the other).
    from_home: bool,
    watch: Option<PacketWatch>,
}

pub struct AcrossPage {
    wallet: Wallet,
    _wallet: ContextHandle<Wallet>,
    status: Status,
    holdings: Option<Box<[Holdings; 2]>>,
    tracked: Vec<Tracked>,
    fields: Fields,
}

impl AcrossPage {
    /// This wallet's chain and the other, once both are followed.
    fn chains(&self) -> Result<(Chain, Chain), UiError> {
        let home = self.wallet.chain.clone().ok_or(UiError::NotConnected)?;
        let other = self.wallet.other.clone().map_err(|e| (*e).clone())?;
        Ok((home, other))
    }

    fn order(&self, me: Address) -> Result<(bool, AcrossOrder), UiError> {
        let chosen = |name: &str| browser::checked(&self.fields.form, name).into_iter().next().unwrap_or_default();
        let from_home = chosen("across-from") != "other";
        let asset = if chosen("across-asset") == "voucher" { CrossAsset::Voucher } else { CrossAsset::Native };
        let to = match value(&self.fields.recipient).trim() {
            "" => me,
            typed => model::recipient(typed)?,
        };
        let amount = model::amount(&value(&self.fields.amount), Quantity::Amount, false)?;
        let relayer_fee = match value(&self.fields.relayer_fee).trim() {
            "" => 0,
            typed => model::amount(typed, Quantity::Fee, true)?,
        };
        let timeout_blocks = match value(&self.fields.timeout).trim() {
            "" => TIMEOUT_BLOCKS_DEFAULT,
            typed => transfer_steps::timeout_blocks(typed)?,
        };
        Ok((from_home, AcrossOrder { to, asset, amount, relayer_fee, fee: 1, timeout_blocks }))
    }

    fn send(&mut self, ctx: &Context<Self>) {
        let sending = self.chains().and_then(|chains| Ok((chains, self.wallet.address()?)));
        let ((home, other), me) = match sending {
            Ok(s) => s,
            Err(e) => return self.status.fail(e),
        };
        let (from_home, order) = match self.order(me) {
            Ok(o) => o,
            Err(e) => return self.status.fail(e),
        };
        let (source, destination) = if from_home { (home, other) } else { (other, home) };
        let seed = self.wallet.seed.clone();
        self.status.start(format!(
            "Sending across from {} to {}: to every node of {}, each signed receipt checked…",
            source.chain_id(),
            destination.chain_id(),
            source.chain_id()
        ));
        ctx.link().send_future(async move {
            let result = match seed.account(0) {
                Ok(account) => source.send_across(&account.key, destination.chain_id(), order).await,
                Err(e) => Err(UiError::Key(e)),
            };
            Msg::Sent(result.map(|sent| (sent, from_home)))
        });
    }

    fn sent(&mut self, ctx: &Context<Self>, sent: CrossSent, from_home: bool) {
        let Some(packet) = sent.packet else {
            // Refused by every node is an error already: here no node answered at all.
            let e = UiError::from(vigil_wallet::session::WalletError::NoValidator);
            return self.status.fail(e.during(Action::SendAcross));
        };
        self.status.done();
        browser::clear(&self.fields.amount);
        self.tracked.push(Tracked { packet, from_home, watch: None });
        self.poll(ctx, self.tracked.len() - 1);
    }

    fn poll(&mut self, ctx: &Context<Self>, i: usize) {
        let Some(t) = self.tracked.get(i) else { return };
        if t.watch.as_ref().is_some_and(PacketWatch::settled) {
            return;
        }
        let Ok((home, other)) = self.chains() else { return };
        let (source, destination) = if t.from_home { (home, other) } else { (other, home) };
        let packet = t.packet.clone();
        ctx.link().send_future(async move { Msg::Polled(i, across::watch(&source, &destination, &packet).await) });
    }

    fn polled(&mut self, ctx: &Context<Self>, i: usize, watch: PacketWatch) {
        let settled = watch.settled();
        if let Some(t) = self.tracked.get_mut(i) {
            t.watch = Some(watch);
        }
        if settled {
            self.refresh(ctx);
        } else {
            ctx.link().send_future(async move {
                gloo::timers::future::TimeoutFuture::new(POLL_MS).await;
                Msg::Poll(i)
            });
        }
    }

    fn refresh(&mut self, ctx: &Context<Self>) {
        let Ok(((home, other), me)) = self.chains().and_then(|c| Ok((c, self.wallet.address()?))) else { return };
        ctx.link().send_future(async move {
            let both = async {
                let (home_id, other_id) = (home.chain_id(), other.chain_id());
                Ok(Box::new([home.holdings(&me, &other_id).await?, other.holdings(&me, &home_id).await?]))
            };
            Msg::Refreshed(both.await)
        });
    }

    fn form(&self, ctx: &Context<Self>, home: &Chain, other: &Chain) -> Html {
        let link = ctx.link();
        let busy = self.status.is_busy() || self.wallet.busy;
        let (a, b) = (home.chain_id().to_string(), other.chain_id().to_string());
        let radio = |name: &'static str, value: &'static str, label: String, checked: bool| {
            let id = format!("{name}-{value}");
            html! {
                <div class="check">
                    <input type="radio" name={name} id={id.clone()} value={value} {checked} />
                    <label for={id}>{label}</label>
                </div>
            }
        };
        html! {
            <form ref={self.fields.form.clone()} onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::Send })}>
                <fieldset>
                    <legend>{"Direction"}</legend>
                    {radio("across-from", "home", format!("From {a} to {b}"), true)}
                    {radio("across-from", "other", format!("From {b} to {a}"), false)}
                </fieldset>
                <fieldset>
                    <legend>{"Coin"}</legend>
                    {radio("across-asset", "native", "The source chain's own coin (escrowed there; vouchers of it credited)".into(), true)}
                    {radio("across-asset", "voucher", "Vouchers going home (burnt on the source; the coin released from escrow)".into(), false)}
                </fieldset>
                <label for="across-recipient">{"Recipient on the other chain"}</label>
                <input id="across-recipient" autocomplete="off" spellcheck="false" placeholder="your own address" ref={self.fields.recipient.clone()} />
                <label for="across-amount">{"Amount (units)"}</label>
                <input id="across-amount" inputmode="numeric" autocomplete="off" ref={self.fields.amount.clone()} />
                <label for="across-relayer-fee">{"Relayer's fee (units; 0 if empty)"}</label>
                <input id="across-relayer-fee" inputmode="numeric" placeholder="0" autocomplete="off" ref={self.fields.relayer_fee.clone()} />
                <label for="across-timeout">{"Timeout (blocks of the source chain)"}</label>
                <input id="across-timeout" inputmode="numeric" placeholder={TIMEOUT_BLOCKS_DEFAULT.to_string()} autocomplete="off" ref={self.fields.timeout.clone()} />
                <p class="muted">{"Not received by then, the transfer is refunded on the source chain."}</p>
                <div class="actions">
                    <button class="primary" id="across-send" type="submit" disabled={busy}>{"Sign and send across"}</button>
                </div>
            </form>
        }
    }

    fn holdings(&self, ctx: &Context<Self>) -> Html {
        let line = |h: &Holdings, other: &Holdings| {
            let at = |v: &vigil_wallet::light::Verification| v.height.map_or(0, |h| h.0);
            html! {
                <li class="holding" data-chain={h.chain.to_string()}>
                    <strong>{h.chain.to_string()}</strong>
                    {format!(
                        ": {} units (verified at height {}); vouchers of {}: {} (verified at height {})",
                        model::units(h.account.balance),
                        at(&h.account.verification),
                        other.chain,
                        model::units(h.vouchers),
                        at(&h.vouchers_verified)
                    )}
                </li>
            }
        };
        html! {
            <div class="card narrow" id="across-holdings">
                <h2>{"On both chains"}</h2>
                if let Some([home, other]) = self.holdings.as_deref() {
                    <ul>{line(home, other)}{line(other, home)}</ul>
                } else {
                    <p class="muted">{"Not read yet."}</p>
                }
                <div class="actions"><button onclick={ctx.link().callback(|_| Msg::Refresh)}>{"Verify again"}</button></div>
            </div>
        }
    }

    fn transfers(&self) -> Html {
        let step = |l: StepLine| {
            let (class, mark) = l.state.mark();
            html! {
                <li class={classes!("step", class)}>
                    <span class={class} aria-hidden="true">{mark}</span>{" "}<strong>{l.title}</strong>
                    <p class="muted">{l.detail}</p>
                </li>
            }
        };
        html! {
            <div class="card wide" id="across-transfers">
                <h2>{"Transfers across"}</h2>
                if self.tracked.is_empty() {
                    <p class="muted">{"None sent from this tab yet."}</p>
                }
                // The newest first.
                { for self.tracked.iter().rev().map(|t| {
                    let outcome = t.watch.as_ref().map_or("in flight", transfer_steps::outcome);
                    html! {
                        <div class="transfer" data-outcome={outcome}>
                            <h3>{format!("Packet {} from {} to {}: {} units, {outcome}", t.packet.sequence, t.packet.source, t.packet.destination, model::units(t.packet.amount.0))}</h3>
                            if let Some(w) = &t.watch {
                                <ol class="steps">{ for transfer_steps::step_lines(&t.packet, w).into_iter().map(step) }</ol>
                            } else {
                                <p class="muted">{"Committed; reading it on both chains…"}</p>
                            }
                        </div>
                    }
                }) }
            </div>
        }
    }
}

impl Component for AcrossPage {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let (wallet, handle) = session::subscribe(ctx.link(), Msg::Wallet);
        let mut page = AcrossPage {
            wallet,
            _wallet: handle,
            status: Status::default(),
            holdings: None,
            tracked: vec![],
            fields: Fields::default(),
        };
        page.refresh(ctx);
        page
    }

    fn changed(&mut self, ctx: &Context<Self>, old: &Props) -> bool {
        if ctx.props().shown && !old.shown {
            self.refresh(ctx);
        }
        self.status.reshown(ctx.props().shown, old.shown)
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Wallet(w) => {
                let newly_followed = self.wallet.other.is_err() && w.other.is_ok();
                self.wallet = w;
                if newly_followed {
                    self.refresh(ctx);
                }
            }
            Msg::Send => self.send(ctx),
            Msg::Sent(Ok((sent, from_home))) => self.sent(ctx, sent, from_home),
            Msg::Sent(Err(e)) => self.status.fail(e.during(Action::SendAcross)),
            Msg::Poll(i) => self.poll(ctx, i),
            Msg::Polled(i, Ok(watch)) => self.polled(ctx, i, watch),
            Msg::Polled(i, Err(e)) => {
                self.status.fail(e.during(Action::WatchTransfer));
                // Read again: a gateway or node may be back by then.
                ctx.link().send_future(async move {
                    gloo::timers::future::TimeoutFuture::new(POLL_MS * 5).await;
                    Msg::Poll(i)
                });
            }
            Msg::Refresh => self.refresh(ctx),
            Msg::Refreshed(Ok(h)) => self.holdings = Some(h),
            Msg::Refreshed(Err(e)) => self.status.fail(e.during(Action::VerifyAccount)),
            Msg::Dismiss => self.status.error = None,
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let body = match self.chains() {
            Ok((home, other)) => html! {
                <>
                    <div class="card narrow">
                        <h1>{"Across chains"}</h1>
                        <p class="muted" id="across-chains">{format!("{} ⇄ {}: each step is verified here against its own chain's certified header.", home.chain_id(), other.chain_id())}</p>
                        {self.form(ctx, &home, &other)}
                    </div>
                    {self.holdings(ctx)}
                    {self.transfers()}
                </>
            },
            Err(e) => html! {
                <div class="card narrow">
                    <h1>{"Across chains"}</h1>
                    <p class="muted" id="across-other">{if e.code() == "NOT_CONNECTED" { "Following the other chain…".to_string() } else { e.to_string() }}</p>
                </div>
            },
        };
        html! {
            <>
                {self.status.view(ctx.link().callback(|_| Msg::Dismiss))}
                <section class="stack">{body}</section>
            </>
        }
    }
}
