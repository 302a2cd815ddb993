//! `cargo xtask build-npm`: the npm package `vigil-wallet` in `target/npm/vigil-wallet`:
//! vigil-wallet built for wasm32 (profile `wasm-size`), bound with wasm-bindgen `--target web` (one
//! ES module for browsers, bundlers and Node), and the package files in
//! `wallet-wasm/npm/` (entry points, types, README).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::{build_browser_wasm, require, root};

pub fn build() -> Result<PathBuf> {
    let out = root().join("target/npm/vigil-wallet");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    std::fs::create_dir_all(&out)?;
    let bg = build_browser_wasm("vigil-wallet", "vigil_wallet", "vigil_wallet", &out.join("dist"), &[])?;
    let template = root().join("wallet-wasm/npm");
    for entry in std::fs::read_dir(&template).with_context(|| format!("reading {}", template.display()))? {
        let entry = entry?;
        std::fs::copy(entry.path(), out.join(entry.file_name()))?;
    }
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
