//! The vault's bulk byte work: the erasure code of stripes ([`erasure`]), and, for the
//! wallet, the chunked encryption of an object ([`stream`], feature `stream`).
//!
//! A crate of its own for one reason: the wallet's wasm is built for size (`opt-level =
//! "z"`), and generic code is compiled in the crate that instantiates it. Here every hot
//! loop (the cipher's keystream, Poly1305, the Reed–Solomon transform, the copies) is
//! instantiated behind non-generic functions, so the `wasm-size` profile can build this
//! crate alone at `opt-level = 3`: 2.5× the wasm throughput for a few KB.

pub mod erasure;
#[cfg(feature = "stream")]
pub mod stream;
