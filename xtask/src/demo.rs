//! `cargo xtask demo`: the README's main command. Builds the web wallet into `www/dist`
//! and `vigil` in release mode, then runs a 4-node devnet and its gateway (HTTPS with a
//! local CA, serving the web wallet and a test faucet) in `.vigil/devnet` until Ctrl-C
//! (an existing network there is resumed; `--reset` starts a new one; `--byzantine K`
//! makes K nodes sign wrong receipts, for the wallet to catch).

use anyhow::{bail, Result};

use crate::util::{cargo, exec};

pub fn run(args: &[&str]) -> Result<()> {
    let mut devnet: Vec<&str> = vec!["devnet", "--nodes", "4", "--dir", ".vigil/devnet"];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "--reset" => devnet.push("--reset"),
            "--byzantine" => match it.next() {
                Some(k) => devnet.extend(["--byzantine", k]),
                None => bail!("--byzantine needs a number"),
            },
            other => bail!("unknown option `{other}`; `cargo xtask demo [--reset] [--byzantine K]`"),
        }
    }
    crate::web::build()?;
    devnet.extend(["--www", "www/dist"]);
    exec(cargo().args(["build", "--release", "-p", "vigil-node", "--bin", "vigil"]))?;
    exec(
        std::process::Command::new(crate::util::root().join("target/release/vigil"))
            .current_dir(crate::util::root())
            .args(devnet),
    )
}
