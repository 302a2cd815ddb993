//! The web wallet's pages, one component each (its own messages, state and `update`):
//! `onboarding` before the wallet is unlocked, the others inside a
//! [`crate::session::Session`], whose [`crate::session::Wallet`] context they read.
//! They report to `App` through callbacks in their properties.

mod across;
mod audits;
mod certs;
mod dashboard;
mod explorer;
mod onboarding;
mod send;
mod settings;
mod tables;
mod vault;

pub use across::AcrossPage;
pub use audits::AuditsPage;
pub use certs::CertsPage;
pub use dashboard::DashboardPage;
pub use explorer::ExplorerPage;
pub use onboarding::Onboarding;
pub use send::SendPage;
pub use settings::SettingsPage;
pub use tables::TablesPage;
pub use vault::VaultPage;

/// The pages of an unlocked wallet, in the order of the tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Dashboard,
    Send,
    Across,
    Vault,
    Certificates,
    Tables,
    Audits,
    Explorer,
    Settings,
}

impl Page {
    pub const ALL: [Page; 9] = [
        Page::Dashboard,
        Page::Send,
        Page::Across,
        Page::Vault,
        Page::Certificates,
        Page::Tables,
        Page::Audits,
        Page::Explorer,
        Page::Settings,
    ];

    /// The tab's label.
    pub fn label(self) -> &'static str {
        match self {
            Page::Dashboard => "Dashboard",
            Page::Send => "Send",
            Page::Across => "Across",
            Page::Vault => "Vault",
            Page::Certificates => "Certificates",
            Page::Tables => "Tables",
            Page::Audits => "Audits",
            Page::Explorer => "Explorer",
            Page::Settings => "Settings",
        }
    }
}
