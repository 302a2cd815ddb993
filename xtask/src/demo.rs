//! `cargo xtask demo`: the README's main command. Today: the protocol walkthrough,
//! built in release mode. It grows into devnet + gateway + web wallet.

use anyhow::{bail, Result};

use crate::util::{cargo, exec};

pub fn run(args: &[&str]) -> Result<()> {
    if let Some(a) = args.first() {
        bail!("`cargo xtask demo` takes no arguments yet, got `{a}`");
    }
    exec(cargo().args(["run", "--release", "--quiet", "-p", "vigil-node", "--bin", "vigil", "--", "walkthrough"]))
}
