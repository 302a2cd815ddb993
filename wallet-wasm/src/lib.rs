//! `vigil-wallet`: the wallet core in plain Rust, and (on wasm32 only) the thin
//! wasm-bindgen layer in [`js`] that the npm package and the web wallet are built from.
//!
//! The core must not touch browser APIs, sockets or clocks directly, so it is tested
//! natively and in wasm alike (smoldot's split). Today it holds the light client's first
//! piece — a trusted validator set that checks quorum certificates; keys, keystore,
//! fault detector and gateway client arrive with the wallet issue.

pub mod light;

#[cfg(target_arch = "wasm32")]
pub mod js;
