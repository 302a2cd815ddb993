//! Send: the recipient checked as typed, amount and fee, the per-node receipt table and the caught liar.

use super::super::*;

impl App {
    pub(crate) fn view_send(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let busy = self.busy.is_some();
        let name = |id: &NodeId| self.name(id);
        html! {
            <section class="stack">
                <div class="card narrow">
                    <h1>{"Send"}</h1>
                    if let Some(o) = &self.overview {
                        <p class="muted">{format!("Available: {} units (verified at height {})", model::units(o.account.balance), o.account.verification.height.map(|h| h.0).unwrap_or(0))}</p>
                    }
                    <form onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::Send })}>
                        <label for="recipient">{"Recipient address"}</label>
                        <input id="recipient" autocomplete="off" spellcheck="false" placeholder="vigil1…"
                            aria-invalid={self.recipient_error.is_some().then_some("true")}
                            aria-describedby="recipient-error"
                            oninput={link.callback(|_| Msg::RecipientInput)} ref={self.inputs.recipient.clone()} />
                        <p id="recipient-error" class="field-error">{self.recipient_error.clone().unwrap_or_default()}</p>
                        <label for="amount">{"Amount (units)"}</label>
                        <input id="amount" inputmode="numeric" autocomplete="off" ref={self.inputs.amount.clone()} />
                        <label for="fee">{"Fee (units; 1 if empty)"}</label>
                        <input id="fee" inputmode="numeric" placeholder="1" autocomplete="off" ref={self.inputs.fee.clone()} />
                        <div class="actions">
                            <button class="primary" type="submit" disabled={busy}>{"Sign and send"}</button>
                        </div>
                    </form>
                </div>
                if let Some(r) = &self.report {
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
                                            <td>{name(&n.node)}</td>
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
            </section>
        }
    }
}
