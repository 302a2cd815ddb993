//! `cargo xtask build-web`: the Yew web wallet (`web-ui/`, crate vigil-web) built for
//! wasm32 (profile `wasm-size`), bound with wasm-bindgen `--target web`, shrunk with
//! wasm-opt, and bundled with the static shell of `www/` into `www/dist/`, which the
//! gateway serves on the same origin as the API.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::{build_browser_wasm, exec, root};

/// Files of the static shell copied next to the wasm.
const SHELL: &[&str] = &["index.html", "boot.js", "style.css", "icon.svg"];

pub fn build() -> Result<PathBuf> {
    let dist = root().join("www/dist");
    if dist.exists() {
        std::fs::remove_dir_all(&dist).with_context(|| format!("removing {}", dist.display()))?;
    }
    std::fs::create_dir_all(&dist)?;
    let bg = build_browser_wasm("vigil-web", &[], "vigil-web", "vigil_web", &dist, &["--no-typescript"])?;
    for f in SHELL {
        let from = root().join("www").join(f);
        std::fs::copy(&from, dist.join(f)).with_context(|| format!("copying {}", from.display()))?;
    }
    // Pre-compressed copies the gateway sends to browsers that accept gzip.
    crate::util::require("gzip", "install gzip")?;
    for f in ["vigil_web_bg.wasm", "vigil_web.js", "style.css", "boot.js", "index.html"] {
        exec(Command::new("gzip").args(["-9", "-k", "-f", "-n"]).arg(dist.join(f)))?;
    }
    let (raw, gz) = crate::npm::size_kb(&bg)?;
    println!("web wallet in {} (wasm {raw:.0} KB raw, {gz:.0} KB gzipped)", dist.display());
    Ok(dist)
}

pub fn run(args: &[&str]) -> Result<()> {
    if let Some(a) = args.first() {
        anyhow::bail!("`cargo xtask build-web` takes no arguments, got `{a}`");
    }
    build().map(|_| ())
}
