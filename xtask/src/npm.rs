//! `cargo xtask build-npm`: the npm package `vigil-wallet` in `target/npm/vigil-wallet`:
//! vigil-wallet built for wasm32 (profile `wasm-size`), bound with wasm-bindgen `--target web` (one
//! ES module for browsers, bundlers and Node), and the package files in
//! `wallet-wasm/npm/` (entry points, types, README). Two builds: the wallet core in
//! `dist/` (the package's main entry) and the same with the vault in its API
//! (feature `js-vault`) in `dist/vault/` (the `vigil-wallet/vault` entry). The vault's
//! in two flavours: `simd128` (its cipher and code run about 1.3× as fast) and a baseline for
//! engines without wasm SIMD, one chosen at load time.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::{bind_wasm, build_browser_wasm, require, root, WasmBuild};

pub fn build() -> Result<PathBuf> {
    let out = root().join("target/npm/vigil-wallet");
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    std::fs::create_dir_all(&out)?;
    let main = WasmBuild {
        package: "vigil-wallet",
        features: &[],
        artifact: "vigil_wallet",
        out_name: "vigil_wallet",
        extra: &[],
        env: &[],
        simd: false,
    };
    let vault = WasmBuild { features: &["js-vault"], ..main };
    let bg = build_browser_wasm(&main, &out.join("dist"))?;
    let vault_bg = build_browser_wasm(&vault, &out.join("dist/vault"))?;
    let vault_simd = add_simd_build(&vault, &out.join("dist/vault"))?;
    let [(raw, gz), (vault_raw, vault_gz), (simd_raw, simd_gz)] =
        [size_kb(&bg)?, size_kb(&vault_bg)?, size_kb(&vault_simd)?];
    let template = root().join("wallet-wasm/npm");
    for entry in std::fs::read_dir(&template).with_context(|| format!("reading {}", template.display()))? {
        let entry = entry?;
        std::fs::copy(entry.path(), out.join(entry.file_name()))?;
    }
    println!(
        "npm package in {}: wallet wasm {raw:.0} KB raw, {gz:.0} KB gzipped; with the vault (`vigil-wallet/vault`) {vault_raw:.0} KB raw, {vault_gz:.0} KB gzipped, its simd128 build {simd_raw:.0} KB raw, {simd_gz:.0} KB gzipped",
        out.display()
    );
    Ok(out)
}

/// The `simd128` build of `b` beside its baseline in `dir`, as `<out_name>_simd_bg.wasm`:
/// the entry points load it where the engine validates wasm SIMD, with the same JS glue
/// (checked here to be the baseline's, byte for byte). Returns the file.
fn add_simd_build(b: &WasmBuild, dir: &Path) -> Result<PathBuf> {
    let cache = bind_wasm(&WasmBuild { simd: true, ..*b })?;
    let glue = format!("{}.js", b.out_name);
    let read = |p: PathBuf| std::fs::read(&p).with_context(|| format!("reading {}", p.display()));
    anyhow::ensure!(
        read(cache.join(&glue))? == read(dir.join(&glue))?,
        "the simd128 build's {glue} differs from the baseline's: one glue cannot load both"
    );
    let to = dir.join(format!("{}_simd_bg.wasm", b.out_name));
    std::fs::copy(cache.join(format!("{}_bg.wasm", b.out_name)), &to)?;
    Ok(to)
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
