//! Tables: the chain's tables listed (proven); one opened shows a form generated from
//! its schema — a typed input per column, each checked as it is typed by the schema's
//! rules — and a row browser whose pages are each proven complete (no row of their range
//! left out); a row opens with its writer's signature and its history. A table is
//! created from a schema pasted as JSON.

use yew::context::ContextHandle;
use yew::prelude::*;

use vigil_protocol::tables::RowOp;
use vigil_wallet::session::tables::{HistoryReport, RowView, ScanReport, TableView};
use vigil_wallet::session::TransferReport;

use crate::browser::{self, value};
use crate::error::{Action, InputError, UiError};
use crate::session::{self, Request, Wallet};
use crate::status::Status;
use crate::table_form::{self, InputKind};

/// Rows a page of the row browser shows.
const PAGE_ROWS: u32 = 10;

pub enum Msg {
    Wallet(Wallet),
    LoadTables,
    Tables(Result<Vec<String>, UiError>),
    Open(String),
    Opened(Result<TableView, UiError>),
    Input(usize, String),
    Insert,
    Inserted(Result<TransferReport, UiError>),
    Create,
    Created(Result<TransferReport, UiError>),
    /// A page from this cursor (`None`: the first).
    LoadPage(Option<Vec<u8>>),
    Page(Result<ScanReport, UiError>),
    ShowRow(usize),
    History(Result<HistoryReport, UiError>),
    Dismiss,
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub shown: bool,
}

pub struct TablesPage {
    wallet: Wallet,
    _wallet: ContextHandle<Wallet>,
    status: Status,
    names: Option<Vec<String>>,
    table: Option<TableView>,
    /// What is typed in the row form, one text per column.
    texts: Vec<String>,
    page: Option<ScanReport>,
    /// The cursors of the pages before the one shown (for "First page").
    page_number: usize,
    row: Option<RowView>,
    history: Option<HistoryReport>,
    schema: NodeRef,
}

impl TablesPage {
    fn load_tables(&mut self, ctx: &Context<Self>) {
        let Some(chain) = self.wallet.chain.clone() else { return self.status.fail(UiError::NotConnected) };
        self.status.start("Reading the tables (proven)…");
        ctx.link().send_future(async move { Msg::Tables(chain.tables().await) });
    }

    fn open(&mut self, ctx: &Context<Self>, name: String) {
        let Some(chain) = self.wallet.chain.clone() else { return self.status.fail(UiError::NotConnected) };
        self.status.start(format!("Reading table {name}'s schema (proven)…"));
        ctx.link().send_future(async move { Msg::Opened(chain.table(&name).await) });
    }

    fn load_page(&mut self, ctx: &Context<Self>, after: Option<Vec<u8>>) {
        let (Some(chain), Some(table)) = (self.wallet.chain.clone(), self.table.as_ref()) else { return };
        let name = table.name.clone();
        self.page_number = if after.is_none() { 1 } else { self.page_number + 1 };
        self.status.start("Reading a page of rows and its range proof…");
        ctx.link().send_future(async move { Msg::Page(chain.scan_rows(&name, after, PAGE_ROWS).await) });
    }

    fn insert(&mut self, ctx: &Context<Self>) {
        let (Some(chain), Some(table)) = (self.wallet.chain.clone(), self.table.as_ref()) else {
            return self.status.fail(UiError::NotConnected);
        };
        let row = match table_form::row_object(&table.schema, &self.texts) {
            Ok(row) => row,
            Err(rule) => return self.status.fail(InputError::Table(rule).into()),
        };
        let (name, seed) = (table.name.clone(), self.wallet.seed.clone());
        self.status.start("Signing the row and sending it to every node…");
        ctx.link().send_future(async move {
            let result = match seed.account(0) {
                Ok(account) => chain.write_row(&account.key, &name, RowOp::Insert, &row).await,
                Err(e) => Err(UiError::Key(e)),
            };
            Msg::Inserted(result)
        });
    }

    fn create(&mut self, ctx: &Context<Self>) {
        let Some(chain) = self.wallet.chain.clone() else { return self.status.fail(UiError::NotConnected) };
        let schema = match table_form::parse_schema(&value(&self.schema)) {
            Ok(s) => s,
            Err(rule) => return self.status.fail(InputError::Table(rule).into()),
        };
        let seed = self.wallet.seed.clone();
        self.status.start(format!("Creating table {} (its deposit is paid from your account)…", schema.name));
        ctx.link().send_future(async move {
            let result = match seed.account(0) {
                Ok(account) => chain.create_table(&account.key, schema).await,
                Err(e) => Err(UiError::Key(e)),
            };
            Msg::Created(result)
        });
    }

    fn show_row(&mut self, ctx: &Context<Self>, i: usize) {
        let (Some(chain), Some(table), Some(page)) = (self.wallet.chain.clone(), &self.table, &self.page) else {
            return;
        };
        let Some(row) = page.rows.get(i).cloned() else { return };
        let (name, key) = (table.name.clone(), hex::decode(&row.key).unwrap_or_default());
        self.row = Some(row);
        self.history = None;
        self.status.start("Reading the row's history (each version proven)…");
        ctx.link().send_future(async move { Msg::History(chain.row_history(&name, &key).await) });
    }
}

impl Component for TablesPage {
    type Message = Msg;
    type Properties = Props;

    fn create(ctx: &Context<Self>) -> Self {
        let (wallet, handle) = session::subscribe(ctx.link(), Msg::Wallet);
        TablesPage {
            wallet,
            _wallet: handle,
            status: Status::default(),
            names: None,
            table: None,
            texts: Vec::new(),
            page: None,
            page_number: 0,
            row: None,
            history: None,
            schema: NodeRef::default(),
        }
    }

    fn changed(&mut self, ctx: &Context<Self>, old: &Props) -> bool {
        self.status.reshown(ctx.props().shown, old.shown)
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Wallet(w) => {
                let first = self.wallet.chain.is_none() && w.chain.is_some();
                self.wallet = w;
                if first {
                    self.load_tables(ctx);
                }
            }
            Msg::LoadTables => self.load_tables(ctx),
            Msg::Tables(Ok(names)) => {
                self.status.done();
                self.names = Some(names);
            }
            Msg::Tables(Err(e)) => self.status.fail(e.during(Action::ReadTables)),
            Msg::Open(name) => self.open(ctx, name),
            Msg::Opened(Ok(view)) => {
                self.status.done();
                self.texts = vec![String::new(); view.schema.columns.len()];
                self.table = Some(view);
                self.row = None;
                self.history = None;
                self.load_page(ctx, None);
            }
            Msg::Opened(Err(e)) => self.status.fail(e.during(Action::ReadTables)),
            Msg::Input(i, text) => {
                if let Some(t) = self.texts.get_mut(i) {
                    *t = text;
                }
            }
            Msg::Insert => self.insert(ctx),
            Msg::Inserted(Ok(_)) => {
                self.status.done();
                self.wallet.request(Request::Refresh);
                if let Some(name) = self.table.as_ref().map(|t| t.name.clone()) {
                    self.open(ctx, name);
                }
            }
            Msg::Inserted(Err(e)) => self.status.fail(e.during(Action::WriteRow)),
            Msg::Create => self.create(ctx),
            Msg::Created(Ok(_)) => {
                self.wallet.request(Request::Refresh);
                self.load_tables(ctx);
            }
            Msg::Created(Err(e)) => self.status.fail(e.during(Action::CreateTable)),
            Msg::LoadPage(after) => self.load_page(ctx, after),
            Msg::Page(Ok(page)) => {
                self.status.done();
                self.page = Some(page);
            }
            Msg::Page(Err(e)) => self.status.fail(e.during(Action::ReadRows)),
            Msg::ShowRow(i) => self.show_row(ctx, i),
            Msg::History(Ok(h)) => {
                self.status.done();
                self.history = Some(h);
            }
            Msg::History(Err(e)) => self.status.fail(e.during(Action::ReadRows)),
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
                        <h1>{"Tables"}</h1>
                        <p class="muted">{"Every row is signed by its writer and kept with its signature; every read is proven against a certified block, and a page of rows is proven complete: no row of its range can be left out."}</p>
                        <div class="actions">
                            <button onclick={link.callback(|_| Msg::LoadTables)} disabled={busy}>{"Refresh"}</button>
                        </div>
                        {self.names_view(link)}
                    </div>
                    if let Some(table) = &self.table {
                        {self.table_view(link, table, busy)}
                    }
                    <div class="card narrow">
                        <h2>{"Create a table"}</h2>
                        <form onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::Create })}>
                            <label for="table-schema">{"Schema (JSON: typed columns, constraints, primary key, write policy)"}</label>
                            <textarea id="table-schema" rows="14" spellcheck="false" value={table_form::EXAMPLE_SCHEMA} ref={self.schema.clone()} />
                            <div class="actions">
                                <button class="primary" type="submit" disabled={busy}>{"Create table"}</button>
                            </div>
                        </form>
                    </div>
                </section>
            </>
        }
    }
}

impl TablesPage {
    fn names_view(&self, link: &html::Scope<Self>) -> Html {
        match &self.names {
            None => html! {},
            Some(names) if names.is_empty() => html! { <p class="muted">{"No table yet: create one below."}</p> },
            Some(names) => html! {
                <ul id="table-list" class="plain">
                    { for names.iter().map(|n| {
                        let name = n.clone();
                        html! { <li key={n.clone()}><button class="link" data-table={n.clone()} onclick={link.callback(move |_| Msg::Open(name.clone()))}>{n}</button></li> }
                    }) }
                </ul>
            },
        }
    }

    fn table_view(&self, link: &html::Scope<Self>, table: &TableView, busy: bool) -> Html {
        let columns = &table.schema.columns;
        html! {
            <div class="card wide" id="table-view">
                <h2>{format!("Table {}", table.name)}</h2>
                <p class="muted">{format!("Owner {} · {} rows · schema version {} · proven at height {}", table.owner, table.rows, table.versions, table.height.map_or(0, |h| h.0))}</p>
                <form id="row-form" onsubmit={link.callback(|e: SubmitEvent| { e.prevent_default(); Msg::Insert })}>
                    { for columns.iter().enumerate().map(|(i, c)| self.field(link, i, c)) }
                    <div class="actions">
                        <button class="primary" type="submit" id="insert-row" disabled={busy}>{"Sign and insert row"}</button>
                    </div>
                </form>
                {self.page_view(link, table)}
                {self.row_view()}
            </div>
        }
    }

    fn field(&self, link: &html::Scope<Self>, i: usize, c: &vigil_protocol::tables::Column) -> Html {
        let text = self.texts.get(i).cloned().unwrap_or_default();
        let error = (!text.is_empty()).then(|| table_form::field_error(c, &text)).flatten();
        let id = format!("row-{}", c.name);
        let on_input = link.callback(move |e: InputEvent| Msg::Input(i, browser::event_value(&e)));
        let on_change = link.callback(move |e: Event| Msg::Input(i, browser::event_value(&e)));
        let input = match table_form::input_kind(c) {
            InputKind::Checkbox => html! { <input id={id.clone()} type="checkbox" onchange={on_change} /> },
            InputKind::Whole => html! { <input id={id.clone()} inputmode="numeric" value={text} oninput={on_input} /> },
            InputKind::Decimal => {
                html! { <input id={id.clone()} inputmode="decimal" value={text} oninput={on_input} /> }
            }
            InputKind::Text => html! { <input id={id.clone()} value={text} oninput={on_input} /> },
        };
        html! {
            <div class="field">
                <label for={id.clone()}>{format!("{} ({})", c.name, table_form::hint(c))}</label>
                {input}
                <p class="field-error" id={format!("{id}-error")} role="alert">{error.unwrap_or_default()}</p>
            </div>
        }
    }

    fn page_view(&self, link: &html::Scope<Self>, table: &TableView) -> Html {
        let Some(page) = &self.page else { return html! {} };
        let names: Vec<String> = table.schema.columns.iter().map(|c| c.name.clone()).collect();
        let next = page.next.clone().and_then(|n| hex::decode(n).ok());
        html! {
            <div id="rows">
                <p id="page-status" class={if page.complete { "ok" } else { "bad" }}>
                    {format!("Page {}: {} rows, verified complete at height {}", self.page_number, page.rows.len(), page.height.map_or(0, |h| h.0))}
                </p>
                <div class="scroll">
                    <table id="row-table">
                        <thead><tr>{ for names.iter().map(|n| html! { <th scope="col">{n}</th> }) }<th scope="col">{"Signed"}</th></tr></thead>
                        <tbody>
                            { for page.rows.iter().enumerate().map(|(i, r)| html! {
                                <tr key={r.key.clone()}>
                                    { for names.iter().map(|n| html! { <td>{table_form::shown(r.values.get(n).unwrap_or(&serde_json::Value::Null))}</td> }) }
                                    <td><button class="link row-open" onclick={link.callback(move |_| Msg::ShowRow(i))}>{"signature and history"}</button></td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                </div>
                <div class="actions">
                    <button id="first-page" onclick={link.callback(|_| Msg::LoadPage(None))} disabled={self.page_number <= 1}>{"First page"}</button>
                    <button id="next-page" disabled={next.is_none()} onclick={link.callback(move |_| Msg::LoadPage(next.clone()))}>{"Next page"}</button>
                </div>
                <p class="muted">{&page.method}</p>
            </div>
        }
    }

    fn row_view(&self) -> Html {
        let Some(row) = &self.row else { return html! {} };
        html! {
            <div id="row-detail">
                <h3>{"Row"}</h3>
                <dl class="facts">
                    <dt>{"Writer"}</dt><dd>{row.writer_address.to_string()}</dd>
                    <dt>{"Signature (Ed25519, verified)"}</dt><dd><code>{&row.signature}</code></dd>
                    <dt>{"Written at height"}</dt><dd>{row.written.0}</dd>
                </dl>
                if let Some(h) = &self.history {
                    <h3>{format!("History ({} versions)", h.total)}</h3>
                    <ol id="row-history" start={(h.first + 1).to_string()}>
                        { for h.versions.iter().map(|v| html! {
                            <li>{format!("{:?} at height {} by {}: {}", v.op, v.written.0, v.writer_address, values_line(&v.values))}</li>
                        }) }
                    </ol>
                    <p class="muted">{&h.method}</p>
                }
            </div>
        }
    }
}

/// A row's values on one line, `column = value, …`.
fn values_line(values: &serde_json::Map<String, serde_json::Value>) -> String {
    values.iter().map(|(k, v)| format!("{k} = {}", table_form::shown(v))).collect::<Vec<_>>().join(", ")
}
