//! An authentication center of a Vigil chain (SPEC C4): its part of the centers' key
//! generation and of their threshold signing sessions, decided from what the chain holds
//! ([`center`]), with its secrets kept on disk before anything derived from them leaves
//! ([`secrets`]); as a process ([`process`], `vigil authcenter`), it follows the chain
//! through gateways with every entry proven ([`follow`]).

pub mod center;
pub mod check;
pub mod config;
pub mod follow;
pub mod process;
pub mod reshare;
pub mod secrets;

pub use center::{Center, CenterError, ChainView, Issuer};
pub use check::{Application, IdentityCheck, Policy, PolicyCheck};
pub use secrets::{CenterSecrets, SecretStore, SecretsError};
