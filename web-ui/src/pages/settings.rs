//! Settings: gateways in use and refused, nodes to cross-check, keystore export, the pinned chain, forgetting the wallet.

use super::super::*;

impl App {
    pub(crate) fn view_settings(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let validators = self.chain.as_ref().map(|c| c.validators()).unwrap_or_default();
        let gateways = self.chain.as_ref().map(|c| c.gateways.clone()).unwrap_or_default();
        let checked =
            |id: &NodeId| self.settings.cross_check.is_empty() || self.settings.cross_check.contains(&id.to_string());
        html! {
            <section class="stack">
                <div class="card narrow">
                    <h1>{"Settings"}</h1>
                    <form onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::SaveSettings })}>
                        <label for="gateway">{"Gateway URL"}</label>
                        <input id="gateway" type="url" placeholder={origin()} value={self.settings.gateway.clone()} ref={self.inputs.gateway.clone()} />
                        <p class="muted">{"Empty: the gateway that served this page."}</p>
                        <p class="muted">{"Gateways in use, in order (the others it lists must serve the same chain):"}</p>
                        <ol id="gateways">
                            { for gateways.iter().map(|g| html! {
                                <li class={if g.state.is_ok() { "gateway-used" } else { "gateway-refused" }}>
                                    <code>{&g.url}</code>
                                    {match &g.state { Ok(()) => " · used".to_string(), Err(why) => format!(" · {why}") }}
                                </li>
                            }) }
                        </ol>
                        <fieldset>
                            <legend>{"Nodes to cross-check on every transfer"}</legend>
                            { for validators.iter().map(|(id, name)| {
                                let key = format!("cc-{id}");
                                html! {
                                    <div class="check">
                                        <input type="checkbox" name="cross-check" id={key.clone()} value={id.to_string()} checked={checked(id)} />
                                        <label for={key}>{name}</label>
                                    </div>
                                }
                            }) }
                        </fieldset>
                        <div class="actions"><button class="primary" type="submit">{"Save"}</button></div>
                    </form>
                </div>
                <div class="card narrow">
                    <h2>{"Keystore"}</h2>
                    <p class="muted">{"The encrypted keystore (Argon2id + XChaCha20-Poly1305). It opens only with your password."}</p>
                    <div class="actions">
                        <button onclick={link.callback(|_| Msg::ExportKeystore)}>{"Export encrypted keystore"}</button>
                    </div>
                    <h2>{"Trusted chain"}</h2>
                    if let Some(pin) = BUILT_IN_PIN {
                        <p class="muted" id="pin">{pin}{" (built into this wallet)"}</p>
                    } else {
                        <p class="muted" id="pin">{storage::get(PIN_KEY).unwrap_or_default()}</p>
                    }
                    <div class="actions">
                        if BUILT_IN_PIN.is_none() {
                            <button onclick={link.callback(|_| Msg::ResetTrust)}>{"Reset trusted chain"}</button>
                        }
                        <button class="danger" onclick={link.callback(|_| Msg::Forget)}>
                            {if self.confirm_forget { "Click again to forget this wallet" } else { "Forget this wallet" }}
                        </button>
                    </div>
                </div>
            </section>
        }
    }
}
