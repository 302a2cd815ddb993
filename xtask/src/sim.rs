//! `cargo xtask sim --seeds N [--nodes 4|7] [--seed S] [--start S0] [--threads T]`:
//! the deterministic consensus simulator, built in release mode.

use anyhow::Result;

use crate::util::{cargo, exec};

pub fn run(args: &[&str]) -> Result<()> {
    exec(cargo().args(["run", "--release", "--quiet", "-p", "vigil-sim", "--bin", "vigil-sim", "--"]).args(args))
}
