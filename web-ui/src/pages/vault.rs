//! The vault: upload (encrypt, split, upload, commit, with progress), the stored
//! objects with the node holding each shard, download rebuilt and verified.

use yew::context::ContextHandle;
use yew::prelude::*;

use vigil_protocol::{Hash32, UserId, VaultManifest};
use vigil_wallet::session::vault::{DownloadReport, Phase, UploadReport};

use crate::browser::{self, value};
use crate::error::{Action, InputError, UiError};
use crate::model;
use crate::session::{self, Wallet};
use crate::status::Status;
use crate::storage;

pub enum Msg {
    Wallet(Wallet),
    Listed(Result<Vec<VaultManifest>, UiError>),
    Upload,
    FileRead(UserId, Result<(String, Vec<u8>), UiError>),
    Uploaded(Result<UploadReport, UiError>),
    Download(Hash32),
    Downloaded(Result<(String, Vec<u8>, DownloadReport), UiError>),
    Progress(Phase, u64, u64),
    Dismiss,
}

#[derive(Properties, PartialEq)]
pub struct Props {
    /// The page is the current tab (its messages are cleared when it comes back).
    pub shown: bool,
}

#[derive(Default)]
struct Fields {
    user_id: NodeRef,
    file: NodeRef,
}

pub struct VaultPage {
    wallet: Wallet,
    _wallet: ContextHandle<Wallet>,
    status: Status,
    /// This account's objects, once listed.
    objects: Option<Vec<VaultManifest>>,
    /// The operation under way: phase, done, total.
    progress: Option<(Phase, u64, u64)>,
    /// How the last upload or download went.
    note: Option<String>,
    fields: Fields,
}

impl VaultPage {
    /// Lists the objects (once connected; again after an upload).
    fn load(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Ok(me)) = (self.wallet.chain.clone(), self.wallet.address()) else { return };
        self.status.start("Reading your stored objects (each manifest proven)…");
        ctx.link().send_future(async move { Msg::Listed(chain.vault_list(&me).await) });
    }

    fn upload(&mut self, ctx: &Context<Self>) {
        let user = match model::user_id(&value(&self.fields.user_id)) {
            Ok(u) => u,
            Err(e) => return self.status.fail(e.into()),
        };
        // Remembered now: the field shows the stored id on every render. Only a
        // convenience: if the browser does not keep it, the user types it again.
        let _ = storage::set(storage::USER_ID_KEY, user.as_str());
        let Some(file) = browser::chosen_file(&self.fields.file) else {
            return self.status.fail(InputError::NoFile.into());
        };
        self.status.start(format!("Reading {}…", file.name()));
        ctx.link().send_future(async move {
            let name = file.name();
            let bytes = gloo::file::futures::read_as_bytes(&file).await;
            let read = bytes.map_err(|e| UiError::Browser(e.to_string()).during(Action::ReadFile));
            Msg::FileRead(user, read.map(|b| (name, b)))
        });
    }

    fn file_read(&mut self, ctx: &Context<Self>, user: UserId, name: String, bytes: Vec<u8>) {
        let Some(chain) = self.wallet.chain.clone() else { return self.status.fail(UiError::NotConnected) };
        let seed = self.wallet.seed.clone();
        self.status.start(format!("Encrypting and splitting {name} in your browser, then uploading…"));
        self.progress = Some((Phase::Encrypt, 0, bytes.len() as u64));
        let link = ctx.link().clone();
        ctx.link().send_future(async move {
            let mut progress = |p, d, t| link.send_message(Msg::Progress(p, d, t));
            Msg::Uploaded(chain.vault_upload(&seed, &user, &name, &bytes, &mut progress).await)
        });
    }

    fn download(&mut self, ctx: &Context<Self>, id: Hash32) {
        let Some(chain) = self.wallet.chain.clone() else { return self.status.fail(UiError::NotConnected) };
        let seed = self.wallet.seed.clone();
        let object = self.objects.as_ref().and_then(|l| l.iter().find(|m| m.object_id == id));
        let name = model::download_name(object.map_or("", |m| m.label.as_str()), &id.to_string());
        self.status.start(format!("Fetching, checking and decrypting {name}…"));
        self.progress = Some((Phase::Download, 0, 1));
        let link = ctx.link().clone();
        ctx.link().send_future(async move {
            let mut progress = |p, d, t| link.send_message(Msg::Progress(p, d, t));
            let r = chain.vault_download(&seed, &id, &mut progress).await;
            Msg::Downloaded(r.map(|(bytes, report)| (name, bytes, report)))
        });
    }

    fn downloaded(&mut self, name: &str, bytes: &[u8], report: &DownloadReport) {
        let used: Vec<String> = report
            .stores
            .iter()
            .filter(|u| u.shards > 0 && u.problem.is_none())
            .map(|u| self.wallet.name(&u.node))
            .collect();
        self.note = Some(model::download_note(name, bytes.len() as u64, &used, report.tampered_shards));
        if let Err(e) = browser::save_bytes(name, bytes) {
            self.status.fail(e.during(Action::StartDownload));
        }
    }
}

impl Component for VaultPage {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let (wallet, handle) = session::subscribe(ctx.link(), Msg::Wallet);
        let mut page = VaultPage {
            wallet,
            _wallet: handle,
            status: Status::default(),
            objects: None,
            progress: None,
            note: None,
            fields: Fields::default(),
        };
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
                if connected && self.objects.is_none() && !self.status.is_busy() {
                    self.load(ctx);
                }
            }
            Msg::Listed(Ok(list)) => {
                self.status.done();
                self.objects = Some(list);
            }
            Msg::Listed(Err(e)) => self.status.fail(e.during(Action::ReadVault)),
            Msg::Upload => self.upload(ctx),
            Msg::FileRead(user, Ok((name, bytes))) => self.file_read(ctx, user, name, bytes),
            Msg::FileRead(_, Err(e)) => self.status.fail(e),
            Msg::Progress(phase, done, total) => self.progress = Some((phase, done, total)),
            Msg::Uploaded(result) => {
                self.status.done();
                self.progress = None;
                match result {
                    Ok(r) => {
                        self.note = Some(model::upload_note(&r));
                        browser::clear(&self.fields.file);
                        self.load(ctx);
                    }
                    Err(e) => self.status.fail(e.during(Action::Upload)),
                }
            }
            Msg::Download(id) => self.download(ctx, id),
            Msg::Downloaded(result) => {
                self.status.done();
                self.progress = None;
                match result {
                    Ok((name, bytes, report)) => self.downloaded(&name, &bytes, &report),
                    Err(e) => self.status.fail(e.during(Action::Download)),
                }
            }
            Msg::Dismiss => self.status.error = None,
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let busy = self.status.is_busy() || self.wallet.busy;
        let user = storage::get(storage::USER_ID_KEY).unwrap_or_default();
        html! {
            <>
                {self.status.view(link.callback(|_| Msg::Dismiss))}
                <section class="stack">
                    <div class="card narrow">
                        <h1>{"Vault"}</h1>
                        <p class="muted">{"Files are encrypted in this browser with a key derived from your recovery phrase, split into shards (any two of three rebuild a file), and each shard goes to a different node's ciphertext database. No node sees your data."}</p>
                        <form onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::Upload })}>
                            <label for="user-id">{"User id (registered on chain to this account)"}</label>
                            <input id="user-id" autocomplete="username" value={user} placeholder="alice@example" ref={self.fields.user_id.clone()} />
                            <label for="file">{"File"}</label>
                            <input id="file" type="file" ref={self.fields.file.clone()} />
                            <div class="actions">
                                <button class="primary" type="submit" disabled={busy}>{"Encrypt and upload"}</button>
                            </div>
                        </form>
                        if let Some((phase, done, total)) = self.progress {
                            <label for="vault-progress">{model::phase_label(phase)}</label>
                            <progress id="vault-progress" max={total.max(1).to_string()} value={done.to_string()}></progress>
                        }
                        if let Some(n) = &self.note {
                            <p class="ok" id="vault-note" role="status">{n}</p>
                        }
                    </div>
                    <div class="card wide">
                        <h2>{"Stored objects"}</h2>
                        if let Some(list) = &self.objects {
                            {self.objects(ctx, list)}
                        }
                    </div>
                </section>
            </>
        }
    }
}

impl VaultPage {
    fn objects(&self, ctx: &Context<Self>, list: &[VaultManifest]) -> Html {
        if list.is_empty() {
            return html! { <p class="muted">{"Nothing stored yet."}</p> };
        }
        let busy = self.status.is_busy() || self.wallet.busy;
        html! {
            <div class="scroll">
                <table id="objects">
                    <thead><tr>
                        <th scope="col">{"Name"}</th><th scope="col">{"Size"}</th>
                        <th scope="col">{"Shards (which node holds which)"}</th><th scope="col"></th>
                    </tr></thead>
                    <tbody>
                        { for list.iter().map(|m| {
                            let id = m.object_id;
                            let holders: Vec<String> = m.stores.iter().enumerate().map(|(i, n)| format!("#{} {}", i + 1, self.wallet.name(n))).collect();
                            html! {
                                <tr key={id.to_string()}>
                                    <td title={id.to_string()}>{model::object_name(&m.label, &id.to_string())}</td>
                                    <td>{format!("{} B", model::units(m.plaintext_len))}</td>
                                    <td>{format!("{} of {}: {}", m.threshold, m.fragments, holders.join(", "))}</td>
                                    <td><button onclick={ctx.link().callback(move |_| Msg::Download(id))} disabled={busy}>{"Download"}</button></td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
        }
    }
}
