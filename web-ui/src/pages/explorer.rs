//! The explorer: the newest blocks, each header checked against its certificate and its transactions against its tx root.

use super::super::*;

impl App {
    pub(crate) fn view_explorer(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        html! {
            <section class="card wide">
                <h1>{"Recent blocks"}</h1>
                <p class="muted">{"Each header below was checked against its quorum certificate in this browser, and its transaction list against the header's transaction root."}</p>
                <div class="actions">
                    <button onclick={link.callback(|_| Msg::LoadBlocks)} disabled={self.busy.is_some()}>{"Refresh"}</button>
                </div>
                if let Some(rows) = &self.blocks {
                    <div class="scroll">
                        <table id="blocks">
                            <thead><tr>
                                <th scope="col">{"Height"}</th><th scope="col">{"Mode"}</th><th scope="col">{"Proposer"}</th>
                                <th scope="col">{"Txs"}</th><th scope="col">{"Certificate"}</th><th scope="col">{"Time"}</th>
                            </tr></thead>
                            <tbody>
                                { for rows.iter().map(|b| {
                                    let proposer = self.name(&b.header.proposer);
                                    html! {
                                        <tr key={b.header.height.0}>
                                            <td title={b.hash.to_string()}>{b.header.height.0}</td>
                                            <td>{b.header.mode.to_string()}</td>
                                            <td>{proposer}</td>
                                            <td>{b.txs}{if b.txs_match_root { html!{ <span class="ok" title="matches the tx root">{" ✓"}</span> } } else { html!{ <span class="bad" title="does not match the tx root">{" ✗"}</span> } }}</td>
                                            <td><span class="ok">{"✓ "}</span>{format!("{} signers: {}", b.signers.len(), b.signers.join(", "))}</td>
                                            <td>{model::clock(b.header.time_ms)}</td>
                                        </tr>
                                    }
                                }) }
                            </tbody>
                        </table>
                    </div>
                }
            </section>
        }
    }
}
