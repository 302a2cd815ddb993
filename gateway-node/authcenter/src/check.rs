//! A center's identification check: what it decides on each certificate request it can
//! open ([`IdentityCheck`], pluggable). The default ([`PolicyCheck`]) checks the
//! applicant's proof of possession of its key, that the validity asked for starts near
//! the center's clock, and the center's own policy: allow-lists of subject names and
//! organisations.

use serde::{Deserialize, Serialize};
use vigil_protocol::authcenter::{CertRequest, IdentityClaims, Verdict};
use vigil_protocol::{Address, ChainId};

/// How far from a center's clock a requested validity may start, by default.
pub const CLOCK_SKEW_S_DEFAULT: u64 = 600;

/// A request as a center sees it once it opened its copy of the claims.
pub struct Application<'a> {
    pub chain: &'a ChainId,
    pub id: u64,
    pub request: &'a CertRequest,
    pub requester: &'a Address,
    pub claims: &'a IdentityClaims,
}

/// A center's decision on an application. Called once per request: a verdict cannot be
/// taken back.
pub trait IdentityCheck: Send {
    fn check(&self, application: &Application<'_>) -> Verdict;
}

/// Which subjects a center approves: each list holds exact names, `*.suffix` patterns
/// (a name ending in `.suffix`) or `*` (any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default = "any")]
    pub common_names: Vec<String>,
    /// A subject without an organisation passes only if this list holds `*`.
    #[serde(default = "any")]
    pub organizations: Vec<String>,
    #[serde(default = "skew_default")]
    pub clock_skew_s: u64,
}

fn any() -> Vec<String> {
    vec!["*".to_string()]
}

fn skew_default() -> u64 {
    CLOCK_SKEW_S_DEFAULT
}

impl Default for Policy {
    fn default() -> Self {
        Policy { common_names: any(), organizations: any(), clock_skew_s: CLOCK_SKEW_S_DEFAULT }
    }
}

fn allowed(list: &[String], name: &str) -> bool {
    list.iter().any(|entry| match entry.strip_prefix('*') {
        Some("") => true,
        Some(suffix) => suffix.starts_with('.') && name.ends_with(suffix) && name.len() > suffix.len(),
        None => entry == name,
    })
}

/// The default check: proof of possession, the validity's start, the policy.
pub struct PolicyCheck {
    pub policy: Policy,
    /// Seconds since the Unix epoch (the system clock in the process).
    pub clock: Box<dyn Fn() -> u64 + Send>,
}

impl IdentityCheck for PolicyCheck {
    fn check(&self, a: &Application<'_>) -> Verdict {
        let r = a.request;
        if r.verify_possession(a.chain, a.requester).is_err() {
            return Verdict::Reject("no proof of possession of the applicant key".into());
        }
        let now = (self.clock)();
        if r.not_before_s.abs_diff(now) > self.policy.clock_skew_s {
            return Verdict::Reject(format!(
                "the validity starts at {} s, more than {} s from this center's clock ({now} s)",
                r.not_before_s, self.policy.clock_skew_s
            ));
        }
        if !allowed(&self.policy.common_names, &r.subject.common_name) {
            return Verdict::Reject(format!(
                "the subject `{}` is not on this center's allow-list",
                r.subject.common_name
            ));
        }
        let organization_ok = match &r.subject.organization {
            Some(o) => allowed(&self.policy.organizations, o),
            None => self.policy.organizations.iter().any(|e| e == "*"),
        };
        if !organization_ok {
            return Verdict::Reject(format!(
                "the organisation `{}` is not on this center's allow-list",
                r.subject.organization.as_deref().unwrap_or("(none)")
            ));
        }
        Verdict::Approve
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_take_exact_names_suffixes_and_any() {
        let list = vec!["alice".to_string(), "*.acme.example".to_string()];
        assert!(allowed(&list, "alice"));
        assert!(allowed(&list, "db.acme.example"));
        assert!(!allowed(&list, "acme.example"), "the suffix alone is not a name under it");
        assert!(!allowed(&list, "evilacme.example"));
        assert!(!allowed(&list, "bob"));
        assert!(allowed(&any(), "anything"));
        assert!(!allowed(&[], "alice"));
    }
}
