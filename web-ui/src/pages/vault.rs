//! The vault: upload (encrypt, split, upload, commit, with progress), the stored objects, download rebuilt and verified.

use super::super::*;

impl App {
    pub(crate) fn view_vault(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let busy = self.busy.is_some();
        let user = storage::get(USER_ID_KEY).unwrap_or_default();
        html! {
            <section class="stack">
                <div class="card narrow">
                    <h1>{"Vault"}</h1>
                    <p class="muted">{"Files are encrypted in this browser with a key derived from your recovery phrase, split into shards (any two of three rebuild a file), and each shard goes to a different node's ciphertext database. No node sees your data."}</p>
                    <form onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::Upload })}>
                        <label for="user-id">{"User id (registered on chain to this account)"}</label>
                        <input id="user-id" autocomplete="username" value={user} placeholder="alice@example" ref={self.inputs.user_id.clone()} />
                        <label for="file">{"File"}</label>
                        <input id="file" type="file" ref={self.inputs.file.clone()} />
                        <div class="actions">
                            <button class="primary" type="submit" disabled={busy}>{"Encrypt and upload"}</button>
                        </div>
                    </form>
                    if let Some((phase, done, total)) = self.progress {
                        <label for="vault-progress">{phase_label(phase)}</label>
                        <progress id="vault-progress" max={total.max(1).to_string()} value={done.to_string()}></progress>
                    }
                    if let Some(n) = &self.vault_note {
                        <p class="ok" id="vault-note" role="status">{n}</p>
                    }
                </div>
                <div class="card wide">
                    <h2>{"Stored objects"}</h2>
                    if let Some(list) = &self.objects {
                        if list.is_empty() {
                            <p class="muted">{"Nothing stored yet."}</p>
                        } else {
                            <div class="scroll">
                                <table id="objects">
                                    <thead><tr>
                                        <th scope="col">{"Name"}</th><th scope="col">{"Size"}</th>
                                        <th scope="col">{"Shards (which node holds which)"}</th><th scope="col"></th>
                                    </tr></thead>
                                    <tbody>
                                        { for list.iter().map(|m| {
                                            let id = m.object_id;
                                            let holders: Vec<String> = m.stores.iter().enumerate().map(|(i, n)| format!("#{} {}", i + 1, self.name(n))).collect();
                                            html! {
                                                <tr key={id.to_string()}>
                                                    <td title={id.to_string()}>{if m.label.is_empty() { model::short(&id.to_string()) } else { m.label.clone() }}</td>
                                                    <td>{format!("{} B", model::units(m.plaintext_len))}</td>
                                                    <td>{format!("{} of {}: {}", m.threshold, m.fragments, holders.join(", "))}</td>
                                                    <td><button onclick={link.callback(move |_| Msg::Download(id))} disabled={busy}>{"Download"}</button></td>
                                                </tr>
                                            }
                                        }) }
                                    </tbody>
                                </table>
                            </div>
                        }
                    }
                </div>
            </section>
        }
    }
}
