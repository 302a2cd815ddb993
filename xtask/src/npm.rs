//! `cargo xtask build-npm`: the npm package `vigil-wallet` in `target/npm/vigil-wallet`:
//! vigil-wallet built for wasm32 (profile `wasm-size`), bound with wasm-bindgen `--target web` (one
//! ES module for browsers, bundlers and Node), and the package files in
//! `wallet-wasm/npm/` (entry points, types, README). Two builds: the wallet core in
//! `dist/` (the package's main entry) and the same with the vault in its API
//! (feature `js-vault`) in `dist/vault/` (the `vigil-wallet/vault` entry).

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
    let bg = build_browser_wasm("vigil-wallet", &[], "vigil_wallet", "vigil_wallet", &out.join("dist"), &[], &[])?;
    let vault = build_browser_wasm(
        "vigil-wallet",
        &["js-vault"],
        "vigil_wallet",
        "vigil_wallet",
        &out.join("dist/vault"),
        &[],
        &[],
    )?;
    let template = root().join("wallet-wasm/npm");
    for entry in std::fs::read_dir(&template).with_context(|| format!("reading {}", template.display()))? {
        let entry = entry?;
        std::fs::copy(entry.path(), out.join(entry.file_name()))?;
    }
    let ((raw, gz), (vault_raw, vault_gz)) = (size_kb(&bg)?, size_kb(&vault)?);
    println!(
        "npm package in {}: wallet wasm {raw:.0} KB raw, {gz:.0} KB gzipped; with the vault (`vigil-wallet/vault`) {vault_raw:.0} KB raw, {vault_gz:.0} KB gzipped",
        out.display()
    );
    Ok(out)
}

/// Size of `path` in KB, raw and gzipped at level 9.
pub fn size_kb(path: &std::path::Path) -> Result<(f64, f64)> {
    Ok((std::fs::metadata(path)?.len() as f64 / 1024.0, gzip_len(path)? as f64 / 1024.0))
}

/// Size of `path` gzipped at level 9 (as a web server would send it).
fn gzip_len(path: &std::path::Path) -> Result<u64> {
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
