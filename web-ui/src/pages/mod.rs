//! The web wallet's pages, one file each, as views of [`super::App`]'s state (their
//! messages are still handled in `app.rs`).

mod dashboard;
mod explorer;
mod onboarding;
mod send;
mod settings;
mod vault;
