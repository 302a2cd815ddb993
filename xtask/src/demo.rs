//! `cargo xtask demo`: the README's main command. Builds the web wallet into `www/dist`
//! and `vigil` in release mode, then runs a 4-node devnet and its gateway (HTTPS with a
//! local CA, serving the web wallet and a test faucet) and five authentication centers
//! (any three sign; they make the consortium's root certificate within seconds) in
//! `.vigil/devnet` until Ctrl-C
//! (an existing network there is resumed; `--reset` starts a new one; `--byzantine K`
//! makes K nodes sign wrong receipts, for the wallet to catch; `--chains 2` runs two such
//! chains, a connection each way and a relayer, in `.vigil/devnet2`). It first provisions
//! what it needs (`provision.rs`), and prints the time to the first URL that answers.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};

use crate::util::{cargo, exec};

pub fn run(args: &[&str]) -> Result<()> {
    let started = Instant::now();
    let started_unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let mut devnet: Vec<&str> = vec!["devnet", "--nodes", "4", "--dir", ".vigil/devnet"];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "--reset" => devnet.push("--reset"),
            "--byzantine" => match it.next() {
                Some(k) => devnet.extend(["--byzantine", k]),
                None => bail!("--byzantine needs a number"),
            },
            "--chains" => match it.next() {
                Some(n @ &"1") => devnet.extend(["--chains", n]),
                Some(n @ &"2") => {
                    // Two chains live apart from a one-chain devnet's directory.
                    devnet[4] = ".vigil/devnet2";
                    devnet.extend(["--chains", n]);
                }
                _ => bail!("--chains takes 1 or 2"),
            },
            other => bail!("unknown option `{other}`; `cargo xtask demo [--reset] [--byzantine K] [--chains 2]`"),
        }
    }
    crate::provision::provision(crate::provision::Purpose::Demo)?;
    let t = Instant::now();
    crate::web::build()?;
    println!("demo: web wallet built in {:.1} s", t.elapsed().as_secs_f64());
    devnet.extend(["--www", "www/dist"]);
    let t = Instant::now();
    exec(cargo().args(["build", "--release", "-p", "vigil", "--bin", "vigil"]))?;
    println!(
        "demo: vigil built in {:.1} s; starting the devnet ({:.1} s so far)",
        t.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    // The devnet prints when its gateway answers, counted from this command's start.
    exec(
        std::process::Command::new(crate::util::target_dir().join("release/vigil"))
            .current_dir(crate::util::root())
            .env("VIGIL_STARTED_AT_MS", started_unix_ms.to_string())
            .args(devnet),
    )
}
