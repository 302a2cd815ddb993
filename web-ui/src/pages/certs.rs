//! Certificates: request one for this account's key (the claims sealed in this browser
//! to each center), watch each center's verdict arrive, download the issued PEM; paste
//! any certificate to verify it against the chain (state, height, who approved); and,
//! for a center's operator, the requests waiting for verdicts.

use yew::context::ContextHandle;
use yew::prelude::*;

use vigil_wallet::session::certs::{CertificateReport, RequestReport, RequestView};

use crate::browser::{self, value};
use crate::error::{Action, InputError, UiError};
use crate::model;
use crate::session::{self, Request, Wallet};
use crate::status::Status;

/// How often a request's verdicts are read again while it is undecided.
const POLL_MS: u32 = 1_000;
/// Most pending requests listed for an operator.
const PENDING_SHOWN: usize = 20;

pub enum Msg {
    Wallet(Wallet),
    Request,
    Requested(Result<RequestReport, UiError>),
    Poll,
    Polled(Result<RequestView, UiError>),
    Issued(Result<(String, CertificateReport), UiError>),
    Download,
    Verify,
    Verified(Result<CertificateReport, UiError>),
    LoadPending,
    Pending(Result<Vec<RequestView>, UiError>),
    Dismiss,
}

#[derive(Properties, PartialEq)]
pub struct Props {
    /// The page is the current tab (its messages are cleared when it comes back).
    pub shown: bool,
}

#[derive(Default)]
struct Fields {
    common_name: NodeRef,
    organization: NodeRef,
    email: NodeRef,
    days: NodeRef,
    pasted: NodeRef,
}

pub struct CertsPage {
    wallet: Wallet,
    _wallet: ContextHandle<Wallet>,
    status: Status,
    /// The request this page follows, and where it stands (once read).
    request_id: Option<u64>,
    request: Option<RequestView>,
    /// The issued certificate (PEM) and its verification.
    issued: Option<(String, CertificateReport)>,
    /// The last certificate pasted and verified.
    verified: Option<CertificateReport>,
    pending: Option<Vec<RequestView>>,
    fields: Fields,
}

impl CertsPage {
    fn request(&mut self, ctx: &Context<Self>) {
        let Some(chain) = self.wallet.chain.clone() else { return self.status.fail(UiError::NotConnected) };
        let subject = model::subject(&value(&self.fields.common_name), &value(&self.fields.organization));
        let (subject, validity) = match (subject, model::validity_days(&value(&self.fields.days))) {
            (Ok(s), Ok(v)) => (s, v),
            (Err(e), _) | (_, Err(e)) => return self.status.fail(e.into()),
        };
        let claims = model::claims(&value(&self.fields.email));
        let seed = self.wallet.seed.clone();
        self.request_id = None;
        self.request = None;
        self.issued = None;
        self.status.start("Sealing your claims to each center and sending the request…");
        ctx.link().send_future(async move {
            let result = match seed.account(0) {
                Ok(account) => chain.request_certificate(&account.key, subject, &claims, validity).await,
                Err(e) => Err(UiError::Key(e)),
            };
            Msg::Requested(result)
        });
    }

    fn poll(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Some(id)) = (self.wallet.chain.clone(), self.request_id) else { return };
        ctx.link().send_future(async move { Msg::Polled(chain.certificate_request(id).await) });
    }

    fn polled(&mut self, ctx: &Context<Self>, view: RequestView) {
        let status = view.status;
        let serial = view.serial.clone();
        self.request = Some(view);
        match (status, serial) {
            ("issued", Some(serial)) => {
                let Some(chain) = self.wallet.chain.clone() else { return };
                self.status.start("Issued: fetching the certificate and verifying it…");
                ctx.link().send_future(async move { Msg::Issued(chain.certificate(&serial).await) });
            }
            ("rejected", _) => self.status.done(),
            _ => ctx.link().send_future(async {
                gloo::timers::future::TimeoutFuture::new(POLL_MS).await;
                Msg::Poll
            }),
        }
    }

    fn verify(&mut self, ctx: &Context<Self>) {
        let Some(chain) = self.wallet.chain.clone() else { return self.status.fail(UiError::NotConnected) };
        let pasted = value(&self.fields.pasted);
        if pasted.trim().is_empty() {
            return self.status.fail(InputError::NoCertificate.into());
        }
        self.verified = None;
        self.status.start("Verifying the certificate: its signature, its record on chain and its proof…");
        ctx.link().send_future(async move { Msg::Verified(chain.verify_certificate(pasted.as_bytes()).await) });
    }

    fn load_pending(&mut self, ctx: &Context<Self>) {
        let Some(chain) = self.wallet.chain.clone() else { return self.status.fail(UiError::NotConnected) };
        self.status.start("Reading the requests waiting for the centers (each proven)…");
        ctx.link().send_future(async move { Msg::Pending(chain.pending_certificate_requests(PENDING_SHOWN).await) });
    }
}

impl Component for CertsPage {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let (wallet, handle) = session::subscribe(ctx.link(), Msg::Wallet);
        CertsPage {
            wallet,
            _wallet: handle,
            status: Status::default(),
            request_id: None,
            request: None,
            issued: None,
            verified: None,
            pending: None,
            fields: Fields::default(),
        }
    }

    fn changed(&mut self, ctx: &Context<Self>, old: &Props) -> bool {
        self.status.reshown(ctx.props().shown, old.shown)
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Wallet(w) => self.wallet = w,
            Msg::Request => self.request(ctx),
            Msg::Requested(Ok(report)) => {
                self.status
                    .start(format!("Request {} committed; waiting for the centers' verdicts…", report.request_id));
                self.request_id = Some(report.request_id);
                // The request paid its fee: the balance shown is verified again.
                self.wallet.request(Request::Refresh);
                self.poll(ctx);
            }
            Msg::Requested(Err(e)) => self.status.fail(e.during(Action::RequestCertificate)),
            Msg::Poll => self.poll(ctx),
            Msg::Polled(Ok(view)) => self.polled(ctx, view),
            Msg::Polled(Err(e)) => self.status.fail(e.during(Action::FollowRequest)),
            Msg::Issued(Ok(issued)) => {
                self.status.done();
                self.issued = Some(issued);
            }
            Msg::Issued(Err(e)) => self.status.fail(e.during(Action::VerifyCertificate)),
            Msg::Download => {
                if let Some((pem, report)) = &self.issued {
                    if let Err(e) = browser::save_bytes(&format!("{}.pem", report.serial), pem.as_bytes()) {
                        self.status.fail(e.during(Action::StartDownload));
                    }
                }
            }
            Msg::Verify => self.verify(ctx),
            Msg::Verified(Ok(report)) => {
                self.status.done();
                self.verified = Some(report);
            }
            Msg::Verified(Err(e)) => self.status.fail(e.during(Action::VerifyCertificate)),
            Msg::LoadPending => self.load_pending(ctx),
            Msg::Pending(Ok(list)) => {
                self.status.done();
                self.pending = Some(list);
            }
            Msg::Pending(Err(e)) => self.status.fail(e.during(Action::ReadRequests)),
            Msg::Dismiss => self.status.error = None,
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let busy = self.status.is_busy() || self.wallet.busy;
        html! {
            <>
                {self.status.view(link.callback(|_| Msg::Dismiss))}
                <section class="stack">
                    <div class="card narrow">
                        <h1>{"Certificates"}</h1>
                        <p class="muted">{"A certificate for this account's key is issued only when a threshold of the consortium's independent authentication centers approve it; they sign it together, and no one center can. Your identification claims are sealed in this browser to each center: the chain shows only their digest."}</p>
                        <form onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::Request })}>
                            <label for="cert-cn">{"Common name"}</label>
                            <input id="cert-cn" placeholder="alice" ref={self.fields.common_name.clone()} />
                            <label for="cert-org">{"Organisation (optional)"}</label>
                            <input id="cert-org" placeholder="Acme" ref={self.fields.organization.clone()} />
                            <label for="cert-email">{"E-mail (sealed to the centers)"}</label>
                            <input id="cert-email" type="email" autocomplete="email" ref={self.fields.email.clone()} />
                            <label for="cert-days">{"Validity (days; 365 if empty)"}</label>
                            <input id="cert-days" inputmode="numeric" placeholder="365" ref={self.fields.days.clone()} />
                            <div class="actions">
                                <button class="primary" type="submit" disabled={busy}>{"Request certificate"}</button>
                            </div>
                        </form>
                        if let Some(view) = &self.request {
                            {self.verdicts(view)}
                        }
                        if let Some((_, report)) = &self.issued {
                            {report_view("issued-report", report)}
                            <div class="actions">
                                <button onclick={link.callback(|_| Msg::Download)}>{"Download PEM"}</button>
                            </div>
                        }
                    </div>
                    <div class="card narrow">
                        <h2>{"Verify a certificate"}</h2>
                        <form onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::Verify })}>
                            <label for="cert-paste">{"Certificate (PEM)"}</label>
                            <textarea id="cert-paste" rows="6" spellcheck="false" placeholder="-----BEGIN CERTIFICATE-----" ref={self.fields.pasted.clone()} />
                            <div class="actions">
                                <button type="submit" disabled={busy}>{"Verify"}</button>
                            </div>
                        </form>
                        if let Some(report) = &self.verified {
                            {report_view("verify-report", report)}
                        }
                    </div>
                    <div class="card wide">
                        <h2>{"Pending requests (for center operators)"}</h2>
                        <div class="actions">
                            <button onclick={link.callback(|_| Msg::LoadPending)} disabled={busy}>{"Show pending requests"}</button>
                        </div>
                        if let Some(list) = &self.pending {
                            {pending_view(list)}
                        }
                    </div>
                </section>
            </>
        }
    }
}

impl CertsPage {
    fn verdicts(&self, view: &RequestView) -> Html {
        html! {
            <div id="cert-request">
                <p role="status">{format!("Request {}: {}", view.id, view.status)}</p>
                <table id="verdicts">
                    <thead><tr><th scope="col">{"Center"}</th><th scope="col">{"Verdict"}</th></tr></thead>
                    <tbody>
                        { for view.verdicts.iter().map(|v| html! {
                            <tr key={v.center.clone()} class={if v.verdict == Some("approve") { "row-ok" } else if v.verdict.is_some() { "row-bad" } else { "" }}>
                                <td>{&v.center}</td>
                                <td>{model::center_verdict(v.verdict, v.reason.as_deref())}</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            </div>
        }
    }
}

fn report_view(id: &'static str, r: &CertificateReport) -> Html {
    let (state, class) = model::cert_state(r.state);
    let height = r.height.map_or_else(|| "?".to_string(), |h| h.0.to_string());
    html! {
        <dl id={id} class="facts">
            <dt>{"State"}</dt><dd class={class}>{state}</dd>
            <dt>{"Subject"}</dt><dd>{format!("{}{}", r.subject.common_name, r.subject.organization.as_deref().map(|o| format!(", {o}")).unwrap_or_default())}</dd>
            <dt>{"Serial"}</dt><dd><code>{&r.serial}</code></dd>
            <dt>{"Approved by"}</dt><dd>{r.approving_centers.join(", ")}</dd>
            <dt>{"Verified at height"}</dt><dd>{height}</dd>
            <dt>{"How"}</dt><dd class="muted">{&r.method}</dd>
        </dl>
    }
}

fn pending_view(list: &[RequestView]) -> Html {
    if list.is_empty() {
        return html! { <p class="muted">{"No request is waiting."}</p> };
    }
    html! {
        <div class="scroll">
            <table id="pending-requests">
                <thead><tr>
                    <th scope="col">{"Request"}</th><th scope="col">{"Subject"}</th>
                    <th scope="col">{"Status"}</th><th scope="col">{"Verdicts"}</th>
                </tr></thead>
                <tbody>
                    { for list.iter().map(|r| {
                        let approved = r.verdicts.iter().filter(|v| v.verdict == Some("approve")).count();
                        let rejected = r.verdicts.iter().filter(|v| v.verdict == Some("reject")).count();
                        html! {
                            <tr key={r.id.to_string()}>
                                <td>{r.id}</td>
                                <td>{&r.subject.common_name}</td>
                                <td>{r.status}</td>
                                <td>{format!("{approved} approved, {rejected} rejected, {} waiting", r.verdicts.len() - approved - rejected)}</td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
        </div>
    }
}
