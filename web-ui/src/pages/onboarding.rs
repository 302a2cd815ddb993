//! Onboarding: create (the phrase shown, three words asked back, a password), import, unlock.

use super::super::*;

impl App {
    pub(crate) fn view_onboarding(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let busy = self.busy.is_some();
        let passwords = |label: &str| {
            html! {
                <>
                    <label for="password">{label}</label>
                    <input id="password" type="password" autocomplete="new-password" ref={self.inputs.password.clone()} />
                    <label for="password2">{"Repeat the password"}</label>
                    <input id="password2" type="password" autocomplete="new-password" ref={self.inputs.password2.clone()} />
                </>
            }
        };
        let submit = |msg: fn() -> Msg| {
            link.callback(move |e: SubmitEvent| {
                e.prevent_default();
                msg()
            })
        };
        match &self.screen {
            Screen::Welcome => html! {
                <section class="card narrow">
                    <h1>{"Welcome to Vigil"}</h1>
                    <p>{"A wallet that checks every node: each transfer goes to all validators, their signed receipts are compared in your browser, and a node that lies is proven faulty to the chain."}</p>
                    <div class="actions">
                        <button class="primary" onclick={link.callback(|_| Msg::NewWallet)}>{"Create a new wallet"}</button>
                        <button onclick={link.callback(|_| Msg::Go(Screen::Import))}>{"Import a recovery phrase"}</button>
                    </div>
                </section>
            },
            Screen::CreateShow => {
                let phrase = self.pending.as_ref().map(|(s, _)| s.phrase().to_string()).unwrap_or_default();
                html! {
                    <section class="card">
                        <h1>{"Your recovery phrase"}</h1>
                        <p>{"Write these 24 words down, in order, and keep them offline. Anyone with them controls your funds; without them a lost password cannot be recovered."}</p>
                        <ol class="phrase" aria-label="Recovery phrase">
                            { for phrase.split_whitespace().map(|w| html! { <li>{w}</li> }) }
                        </ol>
                        <div class="actions">
                            <button onclick={link.callback(|_| Msg::Go(Screen::Welcome))}>{"Back"}</button>
                            <button class="primary" onclick={link.callback(|_| Msg::Go(Screen::CreateConfirm))}>{"I have written it down"}</button>
                        </div>
                    </section>
                }
            }
            Screen::CreateConfirm => {
                let positions = self.pending.as_ref().map(|(_, p)| *p).unwrap_or([0, 1, 2]);
                html! {
                    <section class="card narrow">
                        <h1>{"Confirm and protect"}</h1>
                        <form onsubmit={submit(|| Msg::Create)}>
                            { for positions.iter().zip(self.inputs.confirm.iter()).map(|(p, r)| {
                                let id = format!("word-{}", p + 1);
                                html! {
                                    <>
                                        <label for={id.clone()}>{format!("Word #{}", p + 1)}</label>
                                        <input id={id} autocomplete="off" autocapitalize="none" spellcheck="false" ref={r.clone()} />
                                    </>
                                }
                            }) }
                            {passwords("Password for this browser (at least 8 characters)")}
                            <div class="actions">
                                <button type="button" onclick={link.callback(|_| Msg::Go(Screen::CreateShow))}>{"Show the phrase again"}</button>
                                <button class="primary" type="submit" disabled={busy}>{"Create wallet"}</button>
                            </div>
                        </form>
                    </section>
                }
            }
            Screen::Import => html! {
                <section class="card narrow">
                    <h1>{"Import a wallet"}</h1>
                    <form onsubmit={submit(|| Msg::Import)}>
                        <label for="phrase">{"Recovery phrase (24 words)"}</label>
                        <textarea id="phrase" rows="4" autocomplete="off" autocapitalize="none" spellcheck="false" ref={self.inputs.phrase.clone()} />
                        {passwords("Password for this browser (at least 8 characters)")}
                        <div class="actions">
                            <button type="button" onclick={link.callback(|_| Msg::Go(Screen::Welcome))}>{"Back"}</button>
                            <button class="primary" type="submit" disabled={busy}>{"Import"}</button>
                        </div>
                    </form>
                </section>
            },
            Screen::Unlock => html! {
                <section class="card narrow">
                    <h1>{"Unlock your wallet"}</h1>
                    <form onsubmit={submit(|| Msg::Unlock)}>
                        <label for="password">{"Password"}</label>
                        <input id="password" type="password" autocomplete="current-password" ref={self.inputs.password.clone()} />
                        <div class="actions">
                            <button class="primary" type="submit" disabled={busy}>{"Unlock"}</button>
                        </div>
                    </form>
                    <p class="muted">{"Forgot the password? "}
                        <button class="link" onclick={link.callback(|_| Msg::Go(Screen::Import))}>{"Import your recovery phrase"}</button>
                        {" (it replaces the wallet stored in this browser)."}</p>
                </section>
            },
            // The wallet's own pages are routed by `App::view_screen`.
            Screen::Wallet(_) => Html::default(),
        }
    }
}
