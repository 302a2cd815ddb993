//! What can go wrong in the web wallet, as types: [`InputError`] for what the user typed
//! or chose, [`UiError`] for everything a page can fail at (the wallet core, the
//! keystore, a gateway, the pinned chain, the browser). Each message says what happened
//! and what to do; [`UiError::code`] is a stable code, the wallet core's own where it
//! has one. Browser-free, so the messages are tested natively.

use std::fmt;

use vigil_wallet::keys::KeyError;
use vigil_wallet::keystore::{KeystoreError, PASSWORD_MIN_CHARS};
use vigil_wallet::session::WalletError;

/// A quantity the user types in units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    Amount,
    Fee,
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Quantity::Amount => "amount",
            Quantity::Fee => "fee",
        })
    }
}

/// Something typed or chosen that does not pass its check (`model`'s checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    RecipientMissing,
    RecipientPrefix,
    RecipientChecksum,
    QuantityMissing(Quantity),
    QuantityNotWhole(Quantity),
    QuantityZero(Quantity),
    PasswordShort,
    PasswordsDiffer,
    /// The three words asked back are not the phrase's.
    WordsDiffer,
    GatewayUrl,
    NoCrossCheck,
    NoFile,
    /// The checkpoint hash to pin is not one.
    CheckpointHash,
    /// The vault user id breaks the chain's rule (the rule is the message).
    UserId(String),
    /// A certificate's subject breaks the rule for names (the rule is the message).
    Subject(String),
    /// The validity asked for is not a whole number of days within the chain's bound.
    ValidityDays(u64),
    /// Nothing pasted to verify.
    NoCertificate,
    /// A table's schema or a row does not fit (the rule is the message).
    Table(String),
    /// A transfer across's timeout is not a whole number of blocks from 1 to the bound.
    TimeoutBlocks(u64),
    /// An audit's input does not fit (the rule is the message).
    Audit(String),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::RecipientMissing => f.write_str("Enter the recipient's address (it starts with vigil1)."),
            InputError::RecipientPrefix => f.write_str("A Vigil address starts with vigil1."),
            InputError::RecipientChecksum => {
                f.write_str("This is not a valid Vigil address: check for a typo (the checksum does not match).")
            }
            InputError::QuantityMissing(q) => write!(f, "Enter the {q}."),
            InputError::QuantityNotWhole(q) => write!(f, "The {q} must be a whole number of units."),
            InputError::QuantityZero(q) => write!(f, "The {q} must be more than 0."),
            InputError::PasswordShort => write!(f, "Use a password of at least {PASSWORD_MIN_CHARS} characters."),
            InputError::PasswordsDiffer => f.write_str("The two passwords differ."),
            InputError::WordsDiffer => {
                f.write_str("Those words do not match your recovery phrase. Go back and check it.")
            }
            InputError::GatewayUrl => {
                f.write_str("The gateway URL must start with https:// (http:// only for localhost).")
            }
            InputError::NoCrossCheck => f.write_str("Choose at least one node to cross-check."),
            InputError::NoFile => f.write_str("Choose a file to upload."),
            InputError::CheckpointHash => {
                f.write_str("A checkpoint hash is 64 hex digits (the digest_hash of /v1/checkpoints/latest).")
            }
            InputError::UserId(rule) => write!(f, "User id: {rule}."),
            InputError::Subject(rule) => write!(f, "Name: {rule}."),
            InputError::ValidityDays(max) => write!(f, "The validity is a whole number of days, 1 to {max}."),
            InputError::NoCertificate => f.write_str("Paste a certificate (PEM, -----BEGIN CERTIFICATE----- …)."),
            InputError::Table(rule) => f.write_str(rule),
            InputError::TimeoutBlocks(max) => write!(f, "The timeout is a whole number of blocks, 1 to {max}."),
            InputError::Audit(rule) => f.write_str(rule),
        }
    }
}

/// What the wallet was doing when a [`UiError::Failed`] happened: the start of its
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Faucet,
    VerifyAccount,
    Transfer,
    LoadBlocks,
    ReadVault,
    ReadFile,
    Upload,
    Download,
    StartDownload,
    RequestCertificate,
    FollowRequest,
    VerifyCertificate,
    ReadRequests,
    ReadTables,
    CreateTable,
    WriteRow,
    ReadRows,
    SendAcross,
    WatchTransfer,
    FollowOtherChain,
    RegisterTarget,
    RecordTrade,
    UploadRow,
    SubmitAudit,
    ReadAudit,
    CheckAudit,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Faucet => "The faucet did not send funds",
            Action::VerifyAccount => "Could not verify your account",
            Action::Transfer => "The transfer was not sent",
            Action::LoadBlocks => "Could not load blocks",
            Action::ReadVault => "Could not read your vault",
            Action::ReadFile => "The file could not be read",
            Action::Upload => "The upload failed",
            Action::Download => "The download failed",
            Action::StartDownload => "The download did not start",
            Action::RequestCertificate => "The certificate request was not sent",
            Action::FollowRequest => "Could not read the request's verdicts",
            Action::VerifyCertificate => "The certificate could not be verified",
            Action::ReadRequests => "Could not read the pending requests",
            Action::ReadTables => "Could not read the tables",
            Action::CreateTable => "The table was not created",
            Action::WriteRow => "The row was not written",
            Action::ReadRows => "Could not read the rows",
            Action::SendAcross => "The transfer across was not sent",
            Action::WatchTransfer => "Could not read where the transfer stands",
            Action::FollowOtherChain => "Could not follow the other chain",
            Action::RegisterTarget => "The target was not registered",
            Action::RecordTrade => "The trade was not recorded",
            Action::UploadRow => "The row was not kept",
            Action::SubmitAudit => "The audit was not submitted",
            Action::ReadAudit => "Could not read the audit",
            Action::CheckAudit => "The audit was not checked",
        })
    }
}

/// Why something the user asked for did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiError {
    Input(InputError),
    /// The recovery phrase is not a valid Vigil phrase.
    Phrase(KeyError),
    /// The account key could not be derived from the seed.
    Key(KeyError),
    /// The keystore did not open (a wrong password among others) or could not be sealed.
    Keystore(KeystoreError),
    /// The wallet core failed; [`UiError::code`] is its code.
    Wallet(Box<WalletError>),
    GatewayUnreachable {
        gateway: String,
        reason: String,
    },
    GatewayStatus {
        gateway: String,
        path: String,
        status: u16,
    },
    GatewayAnswer {
        gateway: String,
        path: String,
        reason: String,
    },
    /// A gateway refused a call to itself (its faucet), with its error document if any.
    GatewayRefused {
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    /// No gateway is in use (none passed the chain check).
    NoGateway,
    /// The gateway's genesis could not be read: probably not a Vigil gateway's URL.
    NoGenesis(Box<UiError>),
    /// The gateway's genesis validator set does not verify against its own hash.
    Genesis(String),
    /// A gateway serves another chain than the one this wallet trusts: the one built in
    /// (`built_in`), else the one this browser pinned.
    OtherChain {
        served: String,
        trusted: String,
        built_in: bool,
    },
    /// A gateway another gateway listed, left out because its chain is unknown.
    LeftOut(Box<UiError>),
    /// A page needs the chain before the session has connected.
    NotConnected,
    /// Transfers across need another chain, and none is followed.
    NoOtherChain,
    /// The audit page needs a target, and this wallet registered none (or it is gone).
    NoTarget,
    /// The other chain's gateway serves this wallet's own chain (`chain id`).
    SameChain(String),
    /// The other chain's gateway is not one the serving gateway lists, so this page may
    /// not connect to it (its Content-Security-Policy).
    OtherChainNotListed {
        url: String,
        listed: Vec<String>,
    },
    /// The browser's storage refused to keep or drop something.
    Storage(String),
    /// The browser refused a file operation (reading a chosen file, saving a download):
    /// what it said.
    Browser(String),
    /// `action` failed because of `cause`.
    Failed {
        action: Action,
        cause: Box<UiError>,
    },
}

impl UiError {
    /// This error as the failure of `action` (its message starts with what failed).
    pub fn during(self, action: Action) -> UiError {
        UiError::Failed { action, cause: Box::new(self) }
    }

    /// A stable code: the wallet core's for its errors, else this wallet's own.
    pub fn code(&self) -> String {
        let own = match self {
            UiError::Input(_) => "BAD_INPUT",
            UiError::Phrase(_) => "BAD_PHRASE",
            UiError::Key(_) => "KEY",
            UiError::Keystore(KeystoreError::WrongPassword) => "WRONG_PASSWORD",
            UiError::Keystore(KeystoreError::WeakPassword) => "WEAK_PASSWORD",
            UiError::Keystore(_) => "BAD_KEYSTORE",
            UiError::Wallet(e) => return e.code(),
            UiError::GatewayUnreachable { .. } | UiError::NoGateway => "GATEWAYS_DOWN",
            UiError::GatewayStatus { .. } | UiError::GatewayAnswer { .. } => "BAD_ANSWER",
            UiError::GatewayRefused { code: Some(code), .. } => return code.clone(),
            UiError::GatewayRefused { code: None, .. } => "REFUSED",
            UiError::NoGenesis(cause) | UiError::LeftOut(cause) => return cause.code(),
            UiError::Genesis(_) => "BAD_GENESIS",
            UiError::OtherChain { .. } => "WRONG_CHAIN",
            UiError::NotConnected => "NOT_CONNECTED",
            UiError::NoOtherChain => "NO_OTHER_CHAIN",
            UiError::NoTarget => "UNKNOWN_TARGET",
            UiError::SameChain(_) => "SAME_CHAIN",
            UiError::OtherChainNotListed { .. } => "NOT_LISTED",
            UiError::Storage(_) => "STORAGE",
            UiError::Browser(_) => "BROWSER",
            UiError::Failed { cause, .. } => return cause.code(),
        };
        own.to_string()
    }
}

impl From<InputError> for UiError {
    fn from(e: InputError) -> Self {
        UiError::Input(e)
    }
}

impl From<WalletError> for UiError {
    fn from(e: WalletError) -> Self {
        UiError::Wallet(Box::new(e))
    }
}

impl From<KeystoreError> for UiError {
    fn from(e: KeystoreError) -> Self {
        UiError::Keystore(e)
    }
}

/// The wallet core's error, with what to do where its code says.
fn wallet_message(f: &mut fmt::Formatter<'_>, e: &WalletError) -> fmt::Result {
    match e.code().as_str() {
        "INSUFFICIENT_BALANCE" => f.write_str("Your verified balance does not cover the amount and fee."),
        "NO_CONNECTION" => write!(f, "{e}; the chains have no connection yet: their validators open one"),
        "CLIENT_FROZEN" | "CLIENT_EXPIRED" => write!(f, "{e}; nothing moves across until the connection is renewed"),
        "GATEWAYS_DOWN" => write!(f, "{e}; check your connection, or the gateway's URL in Settings"),
        "RATE_LIMITED" => write!(f, "{e}; wait a moment and try again"),
        "NO_CHECKPOINT"
        | "BAD_CHECKPOINT"
        | "PINNED_HASH_MISMATCH"
        | "CHECKPOINT_SET_MISMATCH"
        | "CHECKPOINT_TOO_OLD" => {
            write!(f, "The light client could not start from a checkpoint: {e}. Choose where it starts in Settings.")
        }
        _ => write!(f, "{e}"),
    }
}

fn keystore_message(f: &mut fmt::Formatter<'_>, e: &KeystoreError) -> fmt::Result {
    match e {
        KeystoreError::WrongPassword => f.write_str("Wrong password. Try again, or import your recovery phrase."),
        KeystoreError::WeakPassword => write!(f, "Use a password of at least {PASSWORD_MIN_CHARS} characters."),
        e => {
            write!(f, "The keystore in this browser cannot be opened ({e}); import your recovery phrase to replace it.")
        }
    }
}

impl fmt::Display for UiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UiError::Input(e) => write!(f, "{e}"),
            UiError::Phrase(e) => write!(f, "This recovery phrase cannot be imported: {e}."),
            UiError::Key(e) => write!(f, "This wallet's account key cannot be derived: {e}."),
            UiError::Keystore(e) => keystore_message(f, e),
            UiError::Wallet(e) => wallet_message(f, e),
            UiError::GatewayUnreachable { gateway, reason } => {
                write!(f, "the gateway at {gateway} cannot be reached ({reason})")
            }
            UiError::GatewayStatus { gateway, path, status } => {
                write!(f, "the gateway at {gateway} answered {status} for {path}")
            }
            UiError::GatewayAnswer { gateway, path, reason } => {
                write!(f, "the gateway at {gateway} sent an invalid {path} ({reason})")
            }
            UiError::GatewayRefused { message: Some(m), .. } => f.write_str(m),
            UiError::GatewayRefused { status, .. } => write!(f, "the gateway refused ({status})"),
            UiError::NoGateway => f.write_str("no gateway is in use; check the gateway's URL in Settings"),
            UiError::NoGenesis(cause) => {
                write!(f, "{cause}. Check the gateway's URL in Settings; is it a Vigil gateway?")
            }
            UiError::Genesis(e) => {
                write!(f, "The genesis validator set does not verify: {e}. Choose another gateway in Settings.")
            }
            UiError::OtherChain { served, trusted, built_in: true } => write!(
                f,
                "This gateway serves another chain ({served}) than the one this wallet was built for ({trusted}); \
                 it cannot be used. Choose one of your chain's gateways in Settings."
            ),
            UiError::OtherChain { served, trusted, built_in: false } => write!(
                f,
                "This gateway serves another chain ({served}) than the one this wallet trusts ({trusted}). \
                 If you trust the new one, reset the trusted chain in Settings."
            ),
            UiError::LeftOut(cause) => write!(f, "not used: {cause}"),
            UiError::NotConnected => f.write_str("Not connected to a gateway yet; open Settings to check its URL."),
            UiError::NoTarget => f.write_str("No target object is registered from this wallet yet: register one first."),
            UiError::NoOtherChain => f.write_str(
                "No other chain is followed: enter its gateway under \"Other chain\" in Settings (one this gateway lists)."
            ),
            UiError::OtherChainNotListed { url, listed } if listed.is_empty() => write!(
                f,
                "This page may connect to no other chain's gateway, so not to {url}: the gateway that served it lists none (its operator sets `other_chains`)."
            ),
            UiError::OtherChainNotListed { url, listed } => write!(
                f,
                "This page may not connect to {url}: the gateway that served it lists {} for other chains. Enter one of them in Settings.",
                listed.join(", ")
            ),
            UiError::SameChain(chain) => write!(
                f,
                "That gateway serves this wallet's own chain ({chain}); under \"Other chain\" in Settings, enter another chain's gateway."
            ),
            UiError::Storage(reason) => write!(
                f,
                "This browser's storage refused the change ({reason}); allow this site to store data, then try again."
            ),
            UiError::Browser(reason) => f.write_str(reason),
            UiError::Failed { action, cause } => write!(f, "{action}: {cause}"),
        }
    }
}

impl std::error::Error for UiError {}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_wallet::client::ClientError;

    #[test]
    fn a_wrong_password_says_to_retry_or_import() {
        let e = UiError::from(KeystoreError::WrongPassword);
        assert_eq!(e.to_string(), "Wrong password. Try again, or import your recovery phrase.");
        assert_eq!(e.code(), "WRONG_PASSWORD");
    }

    #[test]
    fn a_damaged_keystore_says_to_import_the_phrase() {
        let e = UiError::from(KeystoreError::Version(9));
        assert!(e.to_string().contains("import your recovery phrase"), "{e}");
        assert_eq!(e.code(), "BAD_KEYSTORE");
    }

    #[test]
    fn wallet_errors_keep_the_core_code() {
        let refused =
            |code: &str| UiError::from(WalletError::Node { status: 400, code: code.into(), message: "no".into() });
        let short = refused("INSUFFICIENT_BALANCE");
        assert_eq!(short.code(), "INSUFFICIENT_BALANCE");
        assert_eq!(short.to_string(), "Your verified balance does not cover the amount and fee.");
        assert_eq!(refused("NONCE_TOO_LOW").code(), "NONCE_TOO_LOW");
        let down = UiError::from(WalletError::Client(ClientError::AllGatewaysDown("x".into())));
        assert_eq!(down.code(), "GATEWAYS_DOWN");
        assert!(down.to_string().contains("check your connection"), "{down}");
    }

    #[test]
    fn a_failure_names_what_failed_then_why_and_keeps_the_code() {
        let e = UiError::from(WalletError::NoValidator).during(Action::Transfer);
        assert_eq!(e.to_string(), "The transfer was not sent: no validator answered");
        assert_eq!(e.code(), "NO_VALIDATOR");
        let refused = UiError::GatewayRefused { status: 429, code: Some("RATE_LIMITED".into()), message: None };
        assert_eq!(
            refused.clone().during(Action::Faucet).to_string(),
            "The faucet did not send funds: the gateway refused (429)"
        );
        assert_eq!(refused.during(Action::Faucet).code(), "RATE_LIMITED");
    }

    #[test]
    fn a_refused_checkpoint_says_where_to_change_the_start() {
        let e = UiError::from(WalletError::NoCheckpoint);
        assert_eq!(e.code(), "NO_CHECKPOINT");
        assert!(e.to_string().starts_with("The light client could not start from a checkpoint: no node serves"), "{e}");
        assert!(e.to_string().ends_with("Choose where it starts in Settings."), "{e}");
    }

    #[test]
    fn input_errors_say_what_to_type() {
        assert_eq!(UiError::from(InputError::QuantityMissing(Quantity::Fee)).to_string(), "Enter the fee.");
        assert_eq!(
            InputError::QuantityNotWhole(Quantity::Amount).to_string(),
            "The amount must be a whole number of units."
        );
        assert!(InputError::WordsDiffer.to_string().contains("do not match"));
        assert!(InputError::PasswordShort.to_string().contains(&PASSWORD_MIN_CHARS.to_string()));
        assert_eq!(UiError::from(InputError::NoFile).code(), "BAD_INPUT");
    }

    #[test]
    fn a_gateway_that_is_not_one_points_to_settings() {
        let e = UiError::NoGenesis(Box::new(UiError::GatewayStatus {
            gateway: "https://x.example".into(),
            path: "/v1/genesis".into(),
            status: 404,
        }));
        assert_eq!(
            e.to_string(),
            "the gateway at https://x.example answered 404 for /v1/genesis. \
             Check the gateway's URL in Settings; is it a Vigil gateway?"
        );
        assert_eq!(e.code(), "BAD_ANSWER");
    }

    #[test]
    fn another_chain_says_how_to_trust_it_only_when_it_can_be() {
        let chain = |built_in| UiError::OtherChain { served: "c:bb".into(), trusted: "c:aa".into(), built_in };
        assert!(chain(true).to_string().contains("built for (c:aa)"));
        assert!(!chain(true).to_string().contains("reset"));
        assert!(chain(false).to_string().contains("reset the trusted chain in Settings"));
        assert_eq!(chain(false).code(), "WRONG_CHAIN");
    }
}
