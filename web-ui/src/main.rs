//! `vigil-web`: the Vigil web wallet, a Yew app (client-side rendered) on the wallet
//! core. Built into `www/dist` by `cargo xtask build-web` and served by the gateway on
//! the same origin as the API. The browser-free parts (input checks, labels, the errors
//! users read, the tables page's forms) are in [`model`], [`error`] and [`table_form`] and
//! tested natively.

pub mod audit_view;
pub mod error;
pub mod model;
pub mod table_form;
pub mod transfer_steps;

#[cfg(target_arch = "wasm32")]
mod across;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod audits;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod chain;
#[cfg(target_arch = "wasm32")]
mod pages;
#[cfg(target_arch = "wasm32")]
mod session;
#[cfg(target_arch = "wasm32")]
mod status;
#[cfg(target_arch = "wasm32")]
mod storage;

#[cfg(target_arch = "wasm32")]
fn main() {
    // Into `#app`, replacing the "Loading" placeholder of index.html.
    let root = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("app"));
    match root {
        Some(root) => {
            root.set_inner_html("");
            yew::Renderer::<app::App>::with_root(root).render();
        }
        None => {
            yew::Renderer::<app::App>::new().render();
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("vigil-web is a browser app: build it with `cargo xtask build-web`, run it with `cargo xtask demo`.");
}
