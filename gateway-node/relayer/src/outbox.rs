//! The relayer's transactions on one chain: numbered from its account's nonce, after
//! those still in flight; a step already on its way is not sent again until it is lost.
//!
//! A transaction refused at admission (another relayer was first) leaves a gap in the
//! numbers: the next round numbers everything still to do from the chain's nonce again.
//! So does a nonce that stays put while transactions are in flight (one of them will
//! never be taken, and every one after it waits on it).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vigil_api::ErrorCode;
use vigil_protocol::{Amount, ChainId, Height, Nonce, SecretKey, Transaction};
use vigil_wallet::native::Native;
use vigil_wallet::session::{Session, WalletError};

use crate::plan::{batches, Item, Step};

/// A step not taken by the chain within this long is sent again.
pub const RESEND_AFTER: Duration = Duration::from_secs(3);
/// Heights the account's nonce may stay while transactions are in flight before they are
/// all numbered again from it.
pub const NONCE_STUCK_HEIGHTS: u64 = 3;
/// ... and for at least this long (heights may come fast).
pub const NONCE_STUCK_FOR: Duration = Duration::from_secs(1);
/// Transactions a relayer keeps in flight on one chain: below what a node queues ahead of
/// an account's nonce, so none is refused as too far ahead (and none leaves a gap).
pub const IN_FLIGHT_MAX: usize = (vigil_protocol::limits::NONCE_AHEAD_MAX as usize) * 3 / 4;
/// The fee each carried transaction pays.
pub const RELAY_FEE: u64 = vigil_protocol::limits::FEE_MIN;

#[derive(Default)]
pub struct Outbox {
    /// Steps sent and not yet taken: the nonce each went with, and when.
    in_flight: BTreeMap<Step, (u64, Instant)>,
    next_nonce: u64,
    restart: bool,
    /// The account's nonce on chain, and the height and time it was first seen at.
    nonce_seen: (u64, Height, Option<Instant>),
}

/// What one round sent.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub taken: Vec<Step>,
    /// Steps a node refused, with the code (another relayer first, a timeout passed…).
    pub refused: Vec<(Step, String)>,
}

/// Whether a refusal in [`Sent::refused`] is what a relayer racing others (or time
/// passing) meets: the step was done, or is no longer due, or the proof's height is not
/// yet known there. (A transaction the chain holds already, or a nonce it used, is not a
/// refusal at all: [`Outbox::send`] counts it as taken.) Any other refusal (a
/// transaction too large, a fee the account cannot pay, a node down) is this relayer's
/// problem.
pub fn raced(code: &str) -> bool {
    matches!(
        ErrorCode::from_wire(code),
        ErrorCode::PacketAlreadyReceived
            | ErrorCode::PacketNotPending
            | ErrorCode::PacketTimedOut
            | ErrorCode::UnknownProofHeight
    )
}

impl Outbox {
    /// Sends the steps of `items` not on their way already, in batches, signed by `key`
    /// for `chain` whose committed nonce for the account is `chain_nonce` at `height`.
    pub async fn send(
        &mut self,
        session: &Session<Native>,
        key: &SecretKey,
        chain: &ChainId,
        (chain_nonce, height): (u64, Height),
        items: Vec<(Step, Item)>,
    ) -> Sent {
        self.settle(chain_nonce, height);
        let items = items.into_iter().filter(|(step, _)| !self.in_flight.contains_key(step)).collect();
        let mut txs = Vec::new();
        for (steps, payload) in batches(items) {
            if self.next_nonce.saturating_sub(chain_nonce) >= IN_FLIGHT_MAX as u64 {
                break;
            }
            let nonce = self.next_nonce;
            self.next_nonce += 1;
            for step in &steps {
                self.in_flight.insert(*step, (nonce, Instant::now()));
            }
            let tx = Transaction {
                chain_id: chain.clone(),
                sender: key.public_key(),
                nonce: Nonce(nonce),
                fee: Amount(RELAY_FEE),
                payload,
            };
            txs.push((steps, tx.sign(key)));
        }
        // To every node: each holds the whole run of nonces at once, none waits on gossip
        // (a node would refuse a nonce too far ahead of what it holds).
        let sends = txs.iter().map(|(_, tx)| session.broadcast(tx));
        let results = futures::future::join_all(sends).await;
        let mut sent = Sent::default();
        for ((steps, _), result) in txs.into_iter().zip(results) {
            match result {
                Ok(_) => sent.taken.extend(steps),
                Err(WalletError::Node { code, .. })
                    if [ErrorCode::Duplicate, ErrorCode::AlreadyCommitted, ErrorCode::StaleNonce]
                        .contains(&ErrorCode::from_wire(&code)) => {}
                Err(e) => {
                    let code = match &e {
                        WalletError::Node { code, .. } => code.clone(),
                        other => other.to_string(),
                    };
                    for step in steps {
                        self.in_flight.remove(&step);
                        sent.refused.push((step, code.clone()));
                    }
                    self.restart = true;
                }
            }
        }
        sent
    }

    /// Forgets what the chain took; numbers from the chain's nonce again when something
    /// was refused, is stuck, or was lost.
    fn settle(&mut self, chain_nonce: u64, height: Height) {
        if self.nonce_seen.0 != chain_nonce || self.nonce_seen.2.is_none() {
            self.nonce_seen = (chain_nonce, height, Some(Instant::now()));
        }
        self.in_flight.retain(|_, (nonce, _)| *nonce >= chain_nonce);
        let since = self.nonce_seen.2.map_or(Duration::ZERO, |at| at.elapsed());
        let stuck = height.0.saturating_sub(self.nonce_seen.1 .0) >= NONCE_STUCK_HEIGHTS && since >= NONCE_STUCK_FOR;
        let lost = self.in_flight.values().any(|(_, at)| at.elapsed() >= RESEND_AFTER);
        let again = (stuck && !self.in_flight.is_empty()) || lost || self.restart || self.next_nonce < chain_nonce;
        if again {
            self.in_flight.clear();
            self.next_nonce = chain_nonce;
            self.restart = false;
        }
    }
}
