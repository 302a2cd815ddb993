//! A relayer between two Vigil chains (SPEC C8): it watches both chains, and carries
//! each packet one chain committed to the other, then the other's receipt back (or,
//! once the packet's timeout passed without a receipt, the proof of that), each with
//! the proof its chain checks.
//!
//! It is trusted for nothing: each chain verifies every header and proof it carries.
//! It keeps nothing that matters either: what is still to carry is read from the
//! chains each time (their commitments and receipts are the only exactly-once guard),
//! so a relayer restarted after a crash, or several relayers at once, carry every
//! packet exactly once — a relayer that loses a race pays its fee for a failed
//! transaction, nothing more.
//!
//! - [`config`]: `relayer.toml` (the two chains, the relayer's key on each).
//! - [`plan`]: what to carry, from what the two chains proved (pure).
//! - [`outbox`]: transactions numbered from the account's nonce, sent again when lost.
//! - [`process`]: `vigil relayer`, the loop.

pub mod config;
pub mod outbox;
pub mod plan;
pub mod process;
