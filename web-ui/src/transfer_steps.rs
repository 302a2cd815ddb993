//! A transfer across chains as the Across page shows it: its three steps (sent on the
//! source, received on the destination, settled on the source), each with the chain it
//! happened on and how this browser verified it there; a refund shown as such. And the
//! form's one check of its own, the timeout in blocks. Browser-free, tested natively.

use vigil_protocol::crosschain::Packet;
use vigil_wallet::light::Verification;
use vigil_wallet::session::crosschain::{PacketStep, PacketWatch};

use crate::error::InputError;
use crate::model::{short, units};

/// The longest timeout the form accepts, in the source chain's blocks.
pub const TIMEOUT_BLOCKS_MAX: u64 = 100_000;

/// How far a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Done,
    Waiting,
    /// Did not happen, and will not: the transfer was refunded instead.
    Skipped,
    /// The coin came back to the sender.
    Refunded,
}

impl StepState {
    /// The CSS class and the mark shown.
    pub fn mark(self) -> (&'static str, &'static str) {
        match self {
            StepState::Done => ("ok", "✓"),
            StepState::Waiting => ("muted", "…"),
            StepState::Skipped => ("muted", "–"),
            StepState::Refunded => ("warn", "↩"),
        }
    }
}

/// One step's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLine {
    pub title: String,
    pub state: StepState,
    pub detail: String,
}

/// How a read was verified, in a few words: the height and the set whose signatures were
/// checked on `chain`.
fn verified_on(chain: &str, v: &Verification) -> String {
    let height = v.height.map_or_else(|| "a certified header".to_string(), |h| format!("height {}", h.0));
    format!(
        "verified in this browser against {chain}'s header at {height}, signed by {} of set {}",
        v.signers.len(),
        short(&v.validator_set_hash.to_string())
    )
}

/// The three steps of `packet`, where `watch` found it.
pub fn step_lines(packet: &Packet, watch: &PacketWatch) -> Vec<StepLine> {
    let (source, destination) = (packet.source.to_string(), packet.destination.to_string());
    let amount = units(packet.amount.0);
    let held = if packet.returns_home() { "burnt (vouchers going home)" } else { "escrowed" };
    let sent = StepLine {
        title: format!("Sent on {source}"),
        state: StepState::Done,
        detail: format!("{amount} {held}, packet {}; {}", packet.sequence, verified_on(&source, &watch.source)),
    };
    let at_destination = watch.destination.as_ref().map(|v| verified_on(&destination, v));
    let waiting_for_destination = || at_destination.clone().unwrap_or_else(|| "not read yet".to_string());
    let received = match &watch.step {
        PacketStep::Sent => StepLine {
            title: format!("Received on {destination}"),
            state: StepState::Waiting,
            detail: format!("no receipt yet (a relayer carries the packet); {}", waiting_for_destination()),
        },
        PacketStep::Received(r) | PacketStep::Acknowledged(r) => StepLine {
            title: format!("Received on {destination}"),
            state: if r.credited { StepState::Done } else { StepState::Skipped },
            detail: format!(
                "receipt at height {}: {}; {}",
                r.height.0,
                if r.credited {
                    format!("{amount} credited to {}", short(&packet.receiver.to_string()))
                } else {
                    "not credited (its time was over)".to_string()
                },
                waiting_for_destination()
            ),
        },
        PacketStep::Refunded => StepLine {
            title: format!("Received on {destination}"),
            state: StepState::Skipped,
            detail: format!("never: no receipt, proven absent; {}", waiting_for_destination()),
        },
    };
    let settled = match &watch.step {
        PacketStep::Sent | PacketStep::Received(_) => StepLine {
            title: format!("Settled on {source}"),
            state: StepState::Waiting,
            detail: format!("the packet is still outstanding on {source}"),
        },
        step if watch.refunded() => StepLine {
            title: format!("Refunded on {source}"),
            state: StepState::Refunded,
            detail: format!(
                "{amount} and the relayer's fee are back with the sender: {}",
                if matches!(step, PacketStep::Refunded) {
                    format!("the timeout ({}) passed with no receipt on {destination}", packet.timeout)
                } else {
                    format!("{destination} received it too late to credit it")
                }
            ),
        },
        _ => StepLine {
            title: format!("Acknowledged on {source}"),
            state: StepState::Done,
            detail: format!("{destination}'s receipt proven on {source}: the transfer is final"),
        },
    };
    vec![sent, received, settled]
}

/// The transfer in one word, for its heading.
pub fn outcome(watch: &PacketWatch) -> &'static str {
    match &watch.step {
        _ if watch.refunded() => "refunded",
        PacketStep::Sent => "in flight",
        PacketStep::Received(_) => "received, settling",
        _ => "done",
    }
}

/// The timeout typed, in blocks of the source chain.
pub fn timeout_blocks(text: &str) -> Result<u64, InputError> {
    match text.trim().parse::<u64>() {
        Ok(n) if (1..=TIMEOUT_BLOCKS_MAX).contains(&n) => Ok(n),
        _ => Err(InputError::TimeoutBlocks(TIMEOUT_BLOCKS_MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_protocol::crosschain::{PacketReceipt, PacketTimeout};
    use vigil_protocol::{Address, Amount, ChainId, Hash32, Height, NodeId, SecretKey};

    fn packet() -> Packet {
        let a = Address::from_public_key(&SecretKey::from_seed([1; 32]).public_key());
        Packet {
            source: ChainId::new("chain-a").unwrap(),
            destination: ChainId::new("chain-b").unwrap(),
            sequence: 7,
            sender: a,
            receiver: a,
            asset: ChainId::new("chain-a").unwrap(),
            amount: Amount(500),
            relayer_fee: Amount(3),
            timeout: PacketTimeout { height: Height(0), source_height: Height(90) },
        }
    }

    fn verification(height: u64, set: u8) -> Verification {
        Verification {
            method: "quorum certificate".into(),
            height: Some(Height(height)),
            validator_set_hash: Hash32([set; 32]),
            signers: vec![NodeId([1; 32]), NodeId([2; 32]), NodeId([3; 32])],
            header_time_ms: None,
            cross_check: None,
        }
    }

    fn watch(step: PacketStep, destination: bool) -> PacketWatch {
        PacketWatch { step, source: verification(40, 0xaa), destination: destination.then(|| verification(12, 0xbb)) }
    }

    fn receipt(credited: bool) -> PacketReceipt {
        PacketReceipt { relayer: packet().sender, credited, height: Height(11) }
    }

    #[test]
    fn each_step_names_its_chain_and_how_it_was_verified_there() {
        let lines = step_lines(&packet(), &watch(PacketStep::Acknowledged(receipt(true)), true));
        assert_eq!(lines.iter().map(|l| l.state).collect::<Vec<_>>(), [StepState::Done; 3]);
        assert_eq!(lines[0].title, "Sent on chain-a");
        assert!(lines[0].detail.contains("escrowed, packet 7"), "{}", lines[0].detail);
        assert!(
            lines[0].detail.contains("chain-a's header at height 40, signed by 3 of set aaaa"),
            "{}",
            lines[0].detail
        );
        assert_eq!(lines[1].title, "Received on chain-b");
        assert!(lines[1].detail.contains("receipt at height 11"), "{}", lines[1].detail);
        assert!(lines[1].detail.contains("chain-b's header at height 12"), "{}", lines[1].detail);
        assert_eq!(lines[2].title, "Acknowledged on chain-a");
        assert_eq!(outcome(&watch(PacketStep::Acknowledged(receipt(true)), true)), "done");
    }

    #[test]
    fn in_flight_steps_wait() {
        let lines = step_lines(&packet(), &watch(PacketStep::Sent, false));
        assert_eq!(
            lines.iter().map(|l| l.state).collect::<Vec<_>>(),
            [StepState::Done, StepState::Waiting, StepState::Waiting]
        );
        assert!(lines[1].detail.contains("not read yet"), "{}", lines[1].detail);
        let w = watch(PacketStep::Received(receipt(true)), true);
        assert_eq!(step_lines(&packet(), &w)[2].state, StepState::Waiting);
        assert_eq!(outcome(&w), "received, settling");
    }

    #[test]
    fn a_refund_is_shown_as_such() {
        let lines = step_lines(&packet(), &watch(PacketStep::Refunded, true));
        assert_eq!(lines[1].state, StepState::Skipped);
        assert!(lines[1].detail.starts_with("never: no receipt, proven absent"), "{}", lines[1].detail);
        assert_eq!(lines[2].title, "Refunded on chain-a");
        assert_eq!(lines[2].state, StepState::Refunded);
        assert!(lines[2].detail.contains("the timeout (source height 90) passed"), "{}", lines[2].detail);
        assert_eq!(outcome(&watch(PacketStep::Refunded, true)), "refunded");
        // A receipt that came too late to credit settles by a refund too.
        let late = step_lines(&packet(), &watch(PacketStep::Acknowledged(receipt(false)), true));
        assert_eq!(late[1].state, StepState::Skipped);
        assert_eq!(late[2].title, "Refunded on chain-a");
        assert!(late[2].detail.contains("too late"), "{}", late[2].detail);
    }

    #[test]
    fn the_timeout_is_a_bounded_whole_number_of_blocks() {
        assert_eq!(timeout_blocks(" 600 "), Ok(600));
        for bad in ["", "0", "-1", "1.5", "abc", "100001"] {
            assert_eq!(timeout_blocks(bad), Err(InputError::TimeoutBlocks(TIMEOUT_BLOCKS_MAX)), "{bad}");
        }
    }
}
