//! The error document every node and gateway route answers with:
//! `{"error": {"code": "STALE_NONCE", "message": "…"}}`, and its codes.
//!
//! One [`ErrorCode`] enum for the node, the gateway, the wallet and the web wallet:
//! each code has one HTTP status ([`ErrorCode::status`]), and its spelling on the wire
//! is its `SCREAMING_SNAKE_CASE` name ([`ErrorCode::as_str`]). A code this build does
//! not know (from a newer node) reads as [`ErrorCode::Unknown`], so a client never fails
//! to read an error because the other side grew a code.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = ($wire:literal, $status:literal), )*) => {
        /// Why a request was refused. The wire spelling is the `SCREAMING_SNAKE_CASE` name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
            /// A code this build does not know (sent by a newer peer).
            Unknown,
        }

        impl ErrorCode {
            /// Every code, in declaration order (without [`ErrorCode::Unknown`]).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it is written on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $wire,)*
                    ErrorCode::Unknown => "UNKNOWN",
                }
            }

            /// The HTTP status a route answers with this code.
            pub const fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                    ErrorCode::Unknown => 500,
                }
            }
        }
    };
}

error_codes! {
    // Any route.
    /// 404: no such route, or nothing at that key.
    NotFound = ("NOT_FOUND", 404),
    /// 405: the route exists with another method.
    MethodNotAllowed = ("METHOD_NOT_ALLOWED", 405),
    /// 400: the request does not parse (JSON, BCS, a path parameter).
    Malformed = ("MALFORMED", 400),
    /// 400: the request body broke off or was not valid HTTP framing.
    BadBody = ("BAD_BODY", 400),
    /// 413: the request body is over the route's limit (announced or as it arrived).
    BodyTooLarge = ("BODY_TOO_LARGE", 413),
    /// 415: the route takes another content type.
    UnsupportedMediaType = ("UNSUPPORTED_MEDIA_TYPE", 415),
    /// 429: the client network's rate limit is spent (with `Retry-After`).
    RateLimited = ("RATE_LIMITED", 429),
    /// 429: the client network already has as many requests in flight as it may.
    TooManyInFlight = ("TOO_MANY_IN_FLIGHT", 429),
    /// 503: the server is shedding load; try again shortly.
    Busy = ("BUSY", 503),
    /// 500: a fault of the server; the message says no more (details are in its log).
    Internal = ("INTERNAL", 500),

    // Transactions (`POST /v1/tx`).
    /// 400: the transaction names another chain.
    WrongChain = ("WRONG_CHAIN", 400),
    /// 400: the signature does not verify.
    BadSignature = ("BAD_SIGNATURE", 400),
    /// 400: the sender's nonce is past this one.
    StaleNonce = ("STALE_NONCE", 400),
    /// 400: the sender's nonce is not yet at this one.
    FutureNonce = ("FUTURE_NONCE", 400),
    /// 400: the balance does not cover amount and fee.
    InsufficientBalance = ("INSUFFICIENT_BALANCE", 400),
    /// 400: the fee is below the chain's minimum.
    FeeTooLow = ("FEE_TOO_LOW", 400),
    /// 400: the fault evidence does not prove a fault.
    InvalidEvidence = ("INVALID_EVIDENCE", 400),
    /// 409: the evidence's offender is not in the set in force.
    OffenderNotInSet = ("OFFENDER_NOT_IN_SET", 409),
    /// 400: the checkpoint to record does not verify against the set of its height.
    InvalidCheckpoint = ("INVALID_CHECKPOINT", 400),
    /// 409: the checkpoint to record is no newer than the one recorded.
    StaleCheckpoint = ("STALE_CHECKPOINT", 409),
    /// 400: an authentication center's key generation message is refused (not a
    /// participant's, out of its turn, a second one, the wrong shape, a proof of knowledge
    /// that does not verify, a complaint against a good share).
    InvalidDkgPackage = ("INVALID_DKG_PACKAGE", 400),
    /// 400: a change of the center set is refused (a vote not from a center in force, a
    /// proposal that moves a continuing center, a resharing message out of turn, a deal
    /// not of the dealer's weighted share, a complaint against a good share, a timeout
    /// before its height).
    InvalidCenterChange = ("INVALID_CENTER_CHANGE", 400),
    /// 400: a center's signature share does not verify (the message names the center).
    InvalidSignatureShare = ("INVALID_SIGNATURE_SHARE", 400),
    /// 400: a signing message is refused (not a share holder's, another session's, out
    /// of turn, a restart before the timeout, commitments out of order or too many).
    InvalidSigning = ("INVALID_SIGNING", 400),
    /// 400: a certificate request is refused (its shape for the center set, no centers or
    /// no signed root yet, too many pending).
    InvalidCertRequest = ("INVALID_CERT_REQUEST", 400),
    /// 400: the applicant key's signature over a certificate request does not verify.
    NoProofOfPossession = ("NO_PROOF_OF_POSSESSION", 400),
    /// 403: a center's message (a verdict) from a key that is not a center's.
    NotACenter = ("NOT_A_CENTER", 403),
    /// 409: a center's second verdict on one request.
    DuplicateVerdict = ("DUPLICATE_VERDICT", 409),
    /// 400: a verdict is refused (no such request, decided already, an empty reason).
    InvalidVerdict = ("INVALID_VERDICT", 400),
    /// 400: a vote to freeze, unfreeze or revoke a certificate is refused (no such
    /// certificate, an action that does not apply to its state, no reason).
    InvalidCertAction = ("INVALID_CERT_ACTION", 400),
    /// 404: no table has that name.
    UnknownTable = ("UNKNOWN_TABLE", 404),
    /// 400: a table's schema or a change of it is refused (a name, a column, the key, a
    /// constraint, an evolution that is not nullable columns added, not the owner, a name
    /// taken); the message names the column or rule.
    InvalidTable = ("INVALID_TABLE", 400),
    /// 400: a row does not fit the table's schema (a missing column, a wrong type, a
    /// broken constraint, too large); the message names the column or rule.
    InvalidRow = ("INVALID_ROW", 400),
    /// 409: an insert of a key the table holds.
    DuplicateKey = ("DUPLICATE_KEY", 409),
    /// 404: an update or delete of a key the table does not hold.
    MissingRow = ("MISSING_ROW", 404),
    /// 400: the row's writer is not the transaction's sender.
    NotTheWriter = ("NOT_THE_WRITER", 400),
    /// 400: the row's signature does not verify for its writer.
    BadRowSignature = ("BAD_ROW_SIGNATURE", 400),
    /// 403: the table's write policy does not let this account write (not the owner,
    /// not listed, no valid certificate).
    WriteRefused = ("WRITE_REFUSED", 403),
    /// 404: this chain has no connection to the chain named.
    NoConnection = ("NO_CONNECTION", 404),
    /// 409: a connection to that chain is open and usable already.
    ConnectionExists = ("CONNECTION_EXISTS", 409),
    /// 400: a connection's opening is refused (not a quorum of the set in force, another
    /// chain's proposal, settings out of bounds, too many connections).
    InvalidConnection = ("INVALID_CONNECTION", 400),
    /// 400: another chain's header (or set change) is refused by this chain's client of
    /// it: not certified by the set in force at its height, a Fast header where the
    /// connection acts on Bft ones only, or one conflicting with a header kept.
    BadHeader = ("BAD_HEADER", 400),
    /// 409: the client of that chain is frozen (two conflicting certified headers).
    ClientFrozen = ("CLIENT_FROZEN", 409),
    /// 409: the client of that chain expired (not updated for too long).
    ClientExpired = ("CLIENT_EXPIRED", 409),
    /// 400: a packet is refused (its shape, another chain's, never sent, not the one
    /// committed, a timeout already passed).
    InvalidPacket = ("INVALID_PACKET", 400),
    /// 400: a packet's proof does not show what it claims in the other chain's state.
    BadPacketProof = ("BAD_PACKET_PROOF", 400),
    /// 409: the proof's header is not kept by this chain; carry it with the proof.
    UnknownProofHeight = ("UNKNOWN_PROOF_HEIGHT", 409),
    /// 409: the packet was received already.
    PacketAlreadyReceived = ("PACKET_ALREADY_RECEIVED", 409),
    /// 409: the packet is settled already (acknowledged or timed out).
    PacketNotPending = ("PACKET_NOT_PENDING", 409),
    /// 409: the packet's timeout height is reached on this chain: it is refunded instead.
    PacketTimedOut = ("PACKET_TIMED_OUT", 409),
    /// 404: no target object of audits has that id.
    UnknownTarget = ("UNKNOWN_TARGET", 404),
    /// 400: a target's registration or trade is refused (a name, a holder that is not a
    /// validator, a name taken, not the owner, an empty trade).
    InvalidTarget = ("INVALID_TARGET", 400),
    /// 400: a trade's confirmation is refused (no such trade, not its counterparty,
    /// confirmed already).
    InvalidTrade = ("INVALID_TRADE", 400),
    /// 400: an audit is refused (its period, its deadline, too many trades, not the
    /// owner, a refusal's reason).
    InvalidAudit = ("INVALID_AUDIT", 400),
    /// 400: an audit's claims do not match: the rows they name are not the digest's, or
    /// they leave out a counterparty of the period, or name one that is not.
    ClaimsMismatch = ("CLAIMS_MISMATCH", 400),
    /// 404: the target has no audit with that number.
    UnknownAudit = ("UNKNOWN_AUDIT", 404),
    /// 403: a notice from an account the audit has no claim about (it never traded with
    /// the target in the period).
    NotACounterparty = ("NOT_A_COUNTERPARTY", 403),
    /// 409: a counterparty's second notice about one audit.
    DuplicateNotice = ("DUPLICATE_NOTICE", 409),
    /// 400: a notice about another period than the audit's.
    WrongPeriod = ("WRONG_PERIOD", 400),
    /// 409: the audit is no longer pending (agreed, disputed, or past its deadline).
    AuditClosed = ("AUDIT_CLOSED", 409),
    /// 409: records sent to a node that does not keep the target's records.
    NotTheHolder = ("NOT_THE_HOLDER", 409),
    /// 400: a record is refused (its shape, out of sequence, not signed by the target's
    /// owner); the message names it.
    BadRecord = ("BAD_RECORD", 400),
    /// 409: the transaction is pending already.
    Duplicate = ("DUPLICATE", 409),
    /// 409: the transaction is committed already (the answer carries its receipt).
    AlreadyCommitted = ("ALREADY_COMMITTED", 409),
    /// 503: the mempool is full.
    MempoolFull = ("MEMPOOL_FULL", 503),
    /// 413: the transaction's BCS encoding is over the chain's limit.
    TxTooLarge = ("TX_TOO_LARGE", 413),

    // Reads.
    /// 400: not a `vigil1…` address.
    BadAddress = ("BAD_ADDRESS", 400),
    /// 400: not a state key (BCS in hex).
    BadStateKey = ("BAD_STATE_KEY", 400),

    // Sealed requests and the forwarding link (the node's end).
    /// 400: the sealed request does not open with this node's key.
    CannotOpen = ("CANNOT_OPEN", 400),
    /// 400: a link opening that is not one.
    BadOpening = ("BAD_OPENING", 400),
    /// 404: the link session is not (or no longer) known to the node.
    UnknownSession = ("UNKNOWN_SESSION", 404),
    /// 409: this link counter was served already.
    Replayed = ("REPLAYED", 409),
    /// 400: the request inside the seal is not one the node serves.
    BadInnerRequest = ("BAD_INNER_REQUEST", 400),
    /// 500: the answer could not be sealed back.
    CannotSealAnswer = ("CANNOT_SEAL_ANSWER", 500),
    /// 502: the answer is larger than a sealed message carries.
    AnswerTooLarge = ("ANSWER_TOO_LARGE", 502),

    // The vault (`POST /v1/vault/store`, `/v1/vault/fetch`).
    /// 421: the request is bound to another node.
    WrongNode = ("WRONG_NODE", 421),
    /// 401: the request was made too far from the node's clock.
    StaleRequest = ("STALE_REQUEST", 401),
    /// 409: this signed request was served already.
    ReplayedRequest = ("REPLAYED_REQUEST", 409),
    /// 403: no such vault user on chain.
    UnknownUser = ("UNKNOWN_USER", 403),
    /// 403: the signer is not the key the chain binds to this user.
    WrongUser = ("WRONG_USER", 403),
    /// 400: a fragment of the wrong shape, index or size.
    BadFragment = ("BAD_FRAGMENT", 400),
    /// 403: the account's quota would be exceeded.
    QuotaExceeded = ("QUOTA_EXCEEDED", 403),
    /// 421: the assignment rule names another store for this shard.
    WrongStore = ("WRONG_STORE", 421),
    /// 503: the fragment store is down.
    StoreUnavailable = ("STORE_UNAVAILABLE", 503),

    // The gateway.
    /// 404: the named node is not a validator this gateway routes to.
    UnknownNode = ("UNKNOWN_NODE", 404),
    /// 503: the node cannot be reached (or its circuit is open).
    NodeUnavailable = ("NODE_UNAVAILABLE", 503),
    /// 504: the node did not answer in time.
    NodeTimeout = ("NODE_TIMEOUT", 504),
    /// 502: the node's answer was not one (an error status from its seal, or too large).
    NodeError = ("NODE_ERROR", 502),
    /// 502: the node's published key is not a usable X25519 key.
    NodeKeyInvalid = ("NODE_KEY_INVALID", 502),
    /// 502: the node did not confirm the link with the key it is registered with.
    NodeNotConfirmed = ("NODE_NOT_CONFIRMED", 502),
    /// 502: the node refused the sealed request.
    NodeRefused = ("NODE_REFUSED", 502),
    /// 500: the gateway could not seal the request.
    CannotSeal = ("CANNOT_SEAL", 500),
    /// 502: the node's sealed answer did not open.
    CannotOpenAnswer = ("CANNOT_OPEN_ANSWER", 502),
    /// 404: this gateway has no faucet.
    NoFaucet = ("NO_FAUCET", 404),
    /// 429: this address or network had the faucet's coins a moment ago.
    FaucetCooldown = ("FAUCET_COOLDOWN", 429),
    /// 503: the faucet's account is empty.
    FaucetEmpty = ("FAUCET_EMPTY", 503),
    /// 502: the node refused the faucet's transfer.
    FaucetRefused = ("FAUCET_REFUSED", 502),
}

impl ErrorCode {
    /// The code spelled `wire`; [`ErrorCode::Unknown`] if this build has none.
    pub fn from_wire(wire: &str) -> Self {
        Self::ALL.iter().copied().find(|c| c.as_str() == wire).unwrap_or(Self::Unknown)
    }
}

// By hand rather than derived: one lookup in `ALL` instead of a visitor per variant,
// which the wallet's wasm pays for in size.
impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Self::from_wire(&wire))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::answer! {
/// The API's error document, `{"error": {"code", "message"}}`.
pub struct ErrorBody {
    pub error: ErrorDetail,
}
}

crate::answer! {
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { error: ErrorDetail { code, message: message.into() } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_spelled_as_its_name_and_reads_back() {
        let mut seen = std::collections::BTreeSet::new();
        for &code in ErrorCode::ALL {
            let wire = serde_json::to_string(&code).unwrap();
            assert_eq!(wire, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&wire).unwrap(), code);
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert!(code.as_str().bytes().all(|b| b.is_ascii_uppercase() || b == b'_'), "{code}");
            assert!((400..600).contains(&code.status()), "{code}: {}", code.status());
        }
    }

    #[test]
    fn a_code_from_a_newer_peer_reads_as_unknown() {
        let body: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"SOMETHING_NEW","message":"from a newer node"}}"#).unwrap();
        assert_eq!(body.error.code, ErrorCode::Unknown);
        assert_eq!(body.error.message, "from a newer node");
    }

    #[test]
    fn the_document_has_the_shape_clients_read() {
        let body = ErrorBody::new(ErrorCode::StaleNonce, "nonce 3 is below 5");
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({ "error": { "code": "STALE_NONCE", "message": "nonce 3 is below 5" } })
        );
    }
}
