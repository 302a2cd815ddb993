//! The web wallet's pages, one component each (its own messages, state and `update`):
//! `onboarding` before the wallet is unlocked, the others inside a
//! [`crate::session::Session`], whose [`crate::session::Wallet`] context they read.
//! They report to `App` through callbacks in their properties.

mod certs;
mod dashboard;
mod explorer;
mod onboarding;
mod send;
mod settings;
mod vault;

pub use certs::CertsPage;
pub use dashboard::DashboardPage;
pub use explorer::ExplorerPage;
pub use onboarding::Onboarding;
pub use send::SendPage;
pub use settings::SettingsPage;
pub use vault::VaultPage;

/// The pages of an unlocked wallet, in the order of the tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Dashboard,
    Send,
    Vault,
    Certificates,
    Explorer,
    Settings,
}

impl Page {
    pub const ALL: [Page; 6] =
        [Page::Dashboard, Page::Send, Page::Vault, Page::Certificates, Page::Explorer, Page::Settings];

    /// The tab's label.
    pub fn label(self) -> &'static str {
        match self {
            Page::Dashboard => "Dashboard",
            Page::Send => "Send",
            Page::Vault => "Vault",
            Page::Certificates => "Certificates",
            Page::Explorer => "Explorer",
            Page::Settings => "Settings",
        }
    }
}
