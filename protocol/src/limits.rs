//! Named limits. Nothing unbounded crosses the network: every decoder, queue and
//! message is bounded by one of these constants (TigerBeetle style: units last).

/// Largest validator set a chain may have; bounds signer bitmaps and certificates.
pub const VALIDATORS_MAX: usize = 256;
/// Longest chain identifier, in bytes.
pub const CHAIN_ID_LEN_MAX: usize = 32;
/// Largest encoded message any decoder in this crate accepts.
pub const MESSAGE_SIZE_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Largest encoded transaction.
pub const TRANSACTION_SIZE_MAX_BYTES: usize = 64 * 1024;
/// Most transactions in one block.
pub const BLOCK_TXS_MAX: usize = 10_000;
/// Deepest ordered Merkle proof (2^32 leaves).
pub const MERKLE_PROOF_DEPTH_MAX: usize = 32;
/// Longest validator display name, in bytes.
pub const VALIDATOR_NAME_LEN_MAX: usize = 64;
/// Smallest fee a transaction pays (fault evidence excepted: it may be free because
/// invalid or repeated evidence is refused at admission and never included in a block).
/// Every included transaction pays its fee and uses its nonce, whether it succeeds or not.
pub const FEE_MIN: u64 = 1;
/// How far ahead of its account's next nonce (beyond what a node already holds from it) a
/// client may queue transactions at a node; a sender keeping many in flight (a relayer)
/// stays below it.
pub const NONCE_AHEAD_MAX: u64 = 64;
/// Fee a `RegisterUser` transaction pays at least: a user id is permanent state, so
/// squatting ids costs something.
pub const REGISTER_USER_FEE_MIN: u64 = 10;
/// Most other gateways a gateway lists for the web wallet it serves (`wallet_gateways`):
/// each is one more origin in the page's `connect-src` and one more route for its calls.
pub const WALLET_GATEWAYS_MAX: usize = 8;
/// Longest gateway origin (`https://` + a 253-byte host name + `:65535`), in bytes.
pub const ORIGIN_LEN_MAX_BYTES: usize = 267;
/// Longest target object name or dimension name (audits), in bytes.
pub const AUDIT_NAME_LEN_MAX: usize = 64;
/// Longest trade reference (audits), in bytes.
pub const AUDIT_REFERENCE_LEN_MAX: usize = 64;
/// Most claims (counterparties) in one audit: a busier period is audited in shorter ones.
pub const AUDIT_CLAIMS_MAX: usize = 64;
/// Most trades one audit's period holds (what execution reads to check its claims name
/// every counterparty, and a counterparty reads in one proven read of the state): a
/// busier period is audited in shorter ones.
pub const AUDIT_TRADES_PER_PERIOD_MAX: u64 = 256;
/// Longest audit period, in heights.
pub const AUDIT_PERIOD_HEIGHTS_MAX: u64 = 1_000_000;
/// Longest time counterparties are given after a period, in heights.
pub const AUDIT_DEADLINE_HEIGHTS_MAX: u64 = 100_000;
/// Longest reason a counterparty gives for a refusal, in bytes.
pub const AUDIT_REASON_LEN_MAX: usize = 256;
/// Longest memo of a target's record, in bytes.
pub const RECORD_MEMO_LEN_MAX: usize = 128;
/// Most records one upload to a target's node carries.
pub const RECORDS_PER_UPLOAD_MAX: usize = 1_000;
/// Most records one read from a target's node returns: a few hundred bytes each, hex in
/// JSON, well inside a sealed answer's 4 MiB.
pub const RECORDS_PER_READ_MAX: usize = 4_000;
