//! `vigil`: the operator's binary. Today it runs the protocol walkthrough; the node,
//! gateway, devnet and keygen commands arrive with their issues (see ARCHITECTURE.md).

use clap::{Parser, Subcommand};

mod walkthrough;

#[derive(Parser)]
#[command(name = "vigil", version, about = "Vigil consortium chain: node, gateway and devnet tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Walk through one round of the protocol with real keys, certificates and proofs:
    /// a signed transfer, a certified block, a state proof, and a lying node caught.
    Walkthrough {
        /// Validators in the example set (4 to 100).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(4..=100))]
        validators: u8,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Walkthrough { validators } => walkthrough::run(usize::from(validators)),
    }
}
