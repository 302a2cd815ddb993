//! `cargo xtask <verb>`: the one way in for building, testing, benchmarking and running
//! Vigil. No scattered shell scripts: CI (`.ci/run`) installs tools and then calls
//! `cargo xtask test`, exactly as a developer does.

mod bench;
mod demo;
mod npm;
mod provision;
mod sim;
mod test;
mod tidy;
mod util;
mod web;

use anyhow::{bail, Result};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test              provision, fmt check, clippy (native + wasm), native tests, wasm
                    tests in headless Chromium, simulator seeds; prints
                    `xtask test: N passed, M failed` and each step's time
  demo [--reset] [--byzantine K]
                    build the web wallet, run a 4-node devnet and the gateway serving
                    it; prints the URL to open; Ctrl-C stops everything
  provision [--tests]
                    install what the demo (or, with --tests, the tests) needs and is
                    missing: wasm32 target, wasm-bindgen-cli at the locked version,
                    npm packages, Debian's chromium + chromedriver (as root); the demo
                    and the tests run it themselves
  build-npm         build the npm package vigil-wallet into target/npm/vigil-wallet
  build-web         build the web wallet (Yew) into www/dist [--genesis FILE: trust only
                    that chain, for production]
  sim [--seeds N] [--nodes 4|7] [--seed S]
                    deterministic consensus simulation; `--seed S` replays one seed
  bench <name>      run a benchmark side by side with its anchor; names: protocol, consensus, devnet, recovery, gateway, wallet, web, vault, certs, tables
  help              this text
";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match args.first().map(String::as_str) {
        Some("test") => test::run(&rest),
        Some("demo") => demo::run(&rest),
        Some("provision") => provision::run(&rest),
        Some("build-npm") => npm::run(&rest),
        Some("build-web") => web::run(&rest),
        Some("bench") => bench::run(&rest),
        Some("sim") => sim::run(&rest),
        Some("help") | Some("--help") | Some("-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}
