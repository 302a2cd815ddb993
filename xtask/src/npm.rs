//! `cargo xtask build-npm`: the npm package `vigil-wallet` in `target/npm/vigil-wallet`:
//! vigil-wallet built for wasm32 (profile `wasm-size`), bound with wasm-bindgen `--target web` (one
//! ES module for browsers, bundlers and Node), and the package files in
//! `wallet-wasm/npm/` (entry points, types, README).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::{cargo, exec, require, require_wasm_bindgen, root};

pub fn build() -> Result<PathBuf> {
    require_wasm_bindgen("wasm-bindgen")?;
    // Size-optimised, with the signature and KDF arithmetic at full speed (Cargo.toml).
    exec(cargo().args([
        "build",
        "--profile",
        "wasm-size",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "vigil-wallet",
    ]))?;
    let wasm = root().join("target/wasm32-unknown-unknown/wasm-size/vigil_wallet.wasm");
    let out = root().join("target/npm/vigil-wallet");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    std::fs::create_dir_all(&out)?;
    exec(
        Command::new("wasm-bindgen")
            .args([
                "--target",
                "web",
                "--out-name",
                "vigil_wallet",
                "--remove-name-section",
                "--remove-producers-section",
            ])
            .arg("--out-dir")
            .arg(out.join("dist"))
            .arg(&wasm),
    )?;
    let template = root().join("wallet-wasm/npm");
    for entry in std::fs::read_dir(&template).with_context(|| format!("reading {}", template.display()))? {
        let entry = entry?;
        std::fs::copy(entry.path(), out.join(entry.file_name()))?;
    }
    let bg = out.join("dist/vigil_wallet_bg.wasm");
    crate::util::wasm_opt(&bg)?;
    let raw = std::fs::metadata(&bg)?.len();
    let gz = gzip_len(&bg)?;
    println!("npm package in {} (wasm {} KB raw, {} KB gzipped)", out.display(), raw / 1024, gz / 1024);
    Ok(out)
}

/// Size of `path` gzipped at level 9 (as a web server would send it).
pub fn gzip_len(path: &std::path::Path) -> Result<u64> {
    require("gzip", "install gzip")?;
    let out = Command::new("gzip").args(["-9", "-c"]).arg(path).output().context("running gzip")?;
    Ok(out.stdout.len() as u64)
}

pub fn run(args: &[&str]) -> Result<()> {
    if let Some(a) = args.first() {
        anyhow::bail!("`cargo xtask build-npm` takes no arguments, got `{a}`");
    }
    build().map(|_| ())
}
