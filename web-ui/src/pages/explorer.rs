//! The explorer: the newest blocks, each header checked against its certificate and its
//! transactions against its tx root.

use yew::context::ContextHandle;
use yew::prelude::*;

use crate::chain::BlockRow;
use crate::error::{Action, UiError};
use crate::model;
use crate::session::{self, Wallet};
use crate::status::Status;

pub enum Msg {
    Wallet(Wallet),
    Load,
    Loaded(Result<Vec<BlockRow>, UiError>),
    Dismiss,
}

#[derive(Properties, PartialEq)]
pub struct Props {
    /// The page is the current tab (its messages are cleared when it comes back).
    pub shown: bool,
}

pub struct ExplorerPage {
    wallet: Wallet,
    _wallet: ContextHandle<Wallet>,
    status: Status,
    blocks: Option<Vec<BlockRow>>,
}

impl ExplorerPage {
    /// Loads the newest blocks (once connected).
    fn load(&mut self, ctx: &Context<Self>) {
        let Some(chain) = self.wallet.chain.clone() else { return };
        self.status.start("Fetching recent blocks and verifying their certificates…");
        ctx.link().send_future(async move { Msg::Loaded(chain.recent_blocks(model::EXPLORER_BLOCKS).await) });
    }

    fn row(&self, b: &BlockRow) -> Html {
        let tx_root = if b.txs_match_root {
            html! { <span class="ok" title="matches the tx root">{" ✓"}</span> }
        } else {
            html! { <span class="bad" title="does not match the tx root">{" ✗"}</span> }
        };
        html! {
            <tr key={b.header.height.0}>
                <td title={b.hash.to_string()}>{b.header.height.0}</td>
                <td>{b.header.mode.to_string()}</td>
                <td>{self.wallet.name(&b.header.proposer)}</td>
                <td>{b.txs}{tx_root}</td>
                <td><span class="ok">{"✓ "}</span>{format!("{} signers: {}", b.signers.len(), b.signers.join(", "))}</td>
                <td>{model::clock(b.header.time_ms)}</td>
            </tr>
        }
    }
}

impl Component for ExplorerPage {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let (wallet, handle) = session::subscribe(ctx.link(), Msg::Wallet);
        let mut page = ExplorerPage { wallet, _wallet: handle, status: Status::default(), blocks: None };
        page.load(ctx);
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
                if connected && self.blocks.is_none() && !self.status.is_busy() {
                    self.load(ctx);
                }
            }
            Msg::Load => self.load(ctx),
            Msg::Loaded(Ok(rows)) => {
                self.status.done();
                self.blocks = Some(rows);
            }
            Msg::Loaded(Err(e)) => self.status.fail(e.during(Action::LoadBlocks)),
            Msg::Dismiss => self.status.error = None,
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        html! {
            <>
                {self.status.view(link.callback(|_| Msg::Dismiss))}
                <section class="card wide">
                    <h1>{"Recent blocks"}</h1>
                    <p class="muted">{"Each header below was checked against its quorum certificate in this browser, and its transaction list against the header's transaction root."}</p>
                    <div class="actions">
                        <button onclick={link.callback(|_| Msg::Load)} disabled={self.status.is_busy() || self.wallet.busy}>{"Refresh"}</button>
                    </div>
                    if let Some(rows) = &self.blocks {
                        <div class="scroll">
                            <table id="blocks">
                                <thead><tr>
                                    <th scope="col">{"Height"}</th><th scope="col">{"Mode"}</th><th scope="col">{"Proposer"}</th>
                                    <th scope="col">{"Txs"}</th><th scope="col">{"Certificate"}</th><th scope="col">{"Time"}</th>
                                </tr></thead>
                                <tbody>
                                    { for rows.iter().map(|b| self.row(b)) }
                                </tbody>
                            </table>
                        </div>
                    }
                </section>
            </>
        }
    }
}
