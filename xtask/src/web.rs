//! `cargo xtask build-web`: the Yew web wallet (`web-ui/`, crate vigil-web) built for
//! wasm32 (profile `wasm-size`), bound with wasm-bindgen `--target web`, shrunk with
//! wasm-opt, and bundled with the static shell of `www/` into `www/dist/`, which the
//! gateway serves on the same origin as the API.
//!
//! `--genesis FILE` makes a production build: the chain of that genesis (its id and
//! genesis validator-set hash) is built into the wallet, which then trusts no other,
//! rather than pinning the first gateway's on first use.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::{build_browser_wasm, exec, root, WasmBuild};

/// Files of the static shell copied next to the wasm.
const SHELL: &[&str] = &["index.html", "boot.js", "style.css", "icon.svg"];

/// The development build (no chain built in), as the demo and the tests use it.
pub fn build() -> Result<PathBuf> {
    build_pinned(None)
}

/// `chain id:genesis validator-set hash` of a genesis file (JSON, as `vigil devnet` writes
/// it and gateways serve it at `/v1/genesis`): what the web wallet pins.
fn pin_of(genesis: &Path) -> Result<String> {
    let text = std::fs::read_to_string(genesis).with_context(|| format!("reading {}", genesis.display()))?;
    let g: vigil_protocol::Genesis =
        serde_json::from_str(&text).with_context(|| format!("{} is not a Vigil genesis file", genesis.display()))?;
    Ok(format!("{}:{}", g.chain_id, g.validators.hash()))
}

fn build_pinned(pin: Option<&str>) -> Result<PathBuf> {
    let dist = root().join("www/dist");
    if dist.exists() {
        std::fs::remove_dir_all(&dist).with_context(|| format!("removing {}", dist.display()))?;
    }
    std::fs::create_dir_all(&dist)?;
    let env = [("VIGIL_PINNED_CHAIN", pin)];
    let web = WasmBuild {
        package: "vigil-web",
        features: &[],
        artifact: "vigil-web",
        out_name: "vigil_web",
        extra: &["--no-typescript"],
        env: &env,
        simd: false,
    };
    let bg = build_browser_wasm(&web, &dist)?;
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
    match pin {
        Some(pin) => println!("it trusts only the chain {pin}"),
        None => println!("development build: it pins the chain of the first gateway it meets"),
    }
    Ok(dist)
}

pub fn run(args: &[&str]) -> Result<()> {
    match args {
        [] => build().map(|_| ()),
        ["--genesis", file] => build_pinned(Some(&pin_of(Path::new(file))?)).map(|_| ()),
        _ => anyhow::bail!("usage: cargo xtask build-web [--genesis GENESIS.json]"),
    }
}

#[cfg(test)]
mod tests {
    use vigil_protocol::*;

    #[test]
    fn the_pin_names_the_genesis_chain_and_set_as_the_wallet_compares_them() {
        let key = SecretKey::from_seed([1; 32]).public_key();
        let validators =
            ValidatorSet::new(vec![ValidatorInfo::new("node-0", key, EncryptionKey([2; 32]), P2pKey([3; 32]))])
                .unwrap();
        let genesis = Genesis {
            chain_id: ChainId::new("vigil-prod").unwrap(),
            validators: validators.clone(),
            accounts: vec![],
            mode: ConsensusMode::Fast,
            time_ms: 0,
            vault: Default::default(),
            checkpoints: Default::default(),
            authcenters: None,
            audit: Default::default(),
        };
        let file = std::env::temp_dir().join(format!("vigil-pin-{}.json", std::process::id()));
        std::fs::write(&file, serde_json::to_string_pretty(&genesis).unwrap()).unwrap();
        let pin = super::pin_of(&file).unwrap();
        std::fs::write(&file, "{}").unwrap();
        let refused = super::pin_of(&file).unwrap_err().to_string();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(pin, format!("vigil-prod:{}", validators.hash()));
        assert!(refused.contains("is not a Vigil genesis file"), "{refused}");
    }
}
