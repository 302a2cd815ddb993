//! The dashboard: the balance proven against a certified header, the certified mode, jailed validators, each node's health and last verdict, the devnet faucet.

use super::super::*;

impl App {
    pub(crate) fn view_dashboard(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let address = self.address().unwrap_or_default();
        let last = |id: &NodeId| -> Html {
            let r = self.report.as_ref().and_then(|r| r.nodes.iter().find(|n| n.node == *id));
            match r {
                Some(n) => {
                    let (ok, label, why) = model::verdict(&n.verdict);
                    html! { <span class={if ok { "ok" } else { "bad" }} title={why}>{if ok { "✓ " } else { "✗ " }}{label}</span> }
                }
                None => html! { <span class="muted">{"—"}</span> },
            }
        };
        html! {
            <section class="grid">
                <div class="card">
                    <h2>{"Balance"}</h2>
                    if let Some(o) = &self.overview {
                        <p class="balance" id="balance">{model::units(o.account.balance)}<span class="unit">{" units"}</span></p>
                        <p class="verified" id="verified">
                            {"✓ verified at height "}{o.account.verification.height.map(|h| h.0.to_string()).unwrap_or_else(|| "—".into())}
                            if let Some(t) = o.account.verification.header_time_ms {
                                <span id="age" title={model::clock(t)}>{" · "}{model::age(now() as u64, t)}</span>
                            }
                        </p>
                        <details>
                            <summary>{"How this was verified"}</summary>
                            <p>{&o.account.verification.method}</p>
                            <p>{format!("Signed by {} of {} validators; nonce {}.", o.account.verification.signers.len(), o.set.len(), o.account.nonce)}</p>
                            <p id="cross-check">{model::cross_check(&o.set, o.account.verification.cross_check.as_ref())}</p>
                        </details>
                    } else {
                        <p class="muted">{"Not verified yet."}</p>
                    }
                    <label for="address">{"Your address"}</label>
                    <input id="address" readonly=true value={address} />
                    <div class="actions">
                        <button onclick={link.callback(|_| Msg::Refresh)} disabled={self.busy.is_some()}>{"Refresh"}</button>
                        <button class="primary" onclick={link.callback(|_| Msg::Go(Screen::Wallet(Page::Send)))}>{"Send"}</button>
                        if let Some(amount) = self.overview.as_ref().and_then(|o| o.faucet) {
                            <button onclick={link.callback(|_| Msg::Fund)} disabled={self.busy.is_some()}>
                                {format!("Get {} test units", model::units(amount))}
                            </button>
                        }
                    </div>
                </div>
                <div class="card">
                    <h2>{"Consensus"}</h2>
                    if let Some(o) = &self.overview {
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
                <div class="card wide">
                    <h2>{"Nodes"}</h2>
                    if let Some(o) = &self.overview {
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
                </div>
            </section>
        }
    }
}
