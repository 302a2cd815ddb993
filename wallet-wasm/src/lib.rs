//! `vigil-wallet`: the wallet core in plain Rust, and (on wasm32 only) the thin
//! wasm-bindgen layer in `js` (wasm32 only) that the npm package and the web wallet are built from.
//!
//! The core must not touch browser APIs, sockets or clocks directly, so it is tested
//! natively and in wasm alike (smoldot's split): [`keys`] (BIP39 words from
//! [`mnemonic`] + SLIP-10 Ed25519), [`keystore`] (Argon2id + XChaCha20-Poly1305,
//! versioned JSON), [`light`] (pinned genesis, certificates, proofs), [`detector`]
//! (receipts compared, evidence built), [`client`] (gateways, sealing, retries),
//! [`session`] (all of them together, each capability's methods in a module of its
//! own: transfers, evidence, and the vault's upload and download over [`vault`]'s
//! encrypted, erasure-coded storage).

pub mod client;
pub mod detector;
pub mod handle;
pub mod keys;
pub mod keystore;
pub mod light;
pub mod mnemonic;
pub mod platform;
pub mod session;
pub mod tables;
pub mod vault;

#[cfg(target_arch = "wasm32")]
pub mod fetch;
/// The npm package's JS API (feature `js-api`, on by default; the web wallet, a Rust
/// user of this crate, leaves it off so its wasm exports only its own entry point).
#[cfg(all(target_arch = "wasm32", feature = "js-api"))]
pub mod js;
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
pub mod native;
