//! `cargo xtask bench <name>`: each benchmark runs Vigil and its anchor side by side in
//! the same run, prints a table, and ends with one line `bench <name>: key=value …`.

use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::util::{cargo, exec, npm_ci, output, require, require_wasm_bindgen, root};

const NAMES: &str =
    "protocol, consensus, devnet, recovery, gateway, wallet, web, vault, certs, tables, crosschain, audit";

pub fn run(args: &[&str]) -> Result<()> {
    match args {
        ["protocol", rest @ ..] => protocol(rest),
        ["consensus"] => exec(cargo().args(["bench", "-q", "-p", "vigil-core", "--bench", "consensus"])),
        [name @ ("devnet" | "recovery" | "crosschain" | "audit")] => devnet_bench(name),
        ["gateway"] => gateway(),
        ["wallet", rest @ ..] => wallet(rest),
        ["web"] => web(),
        ["vault"] => vault(),
        [name @ ("certs" | "tables")] => with_npm(name),
        [] => bail!("name a benchmark: cargo xtask bench <{NAMES}>"),
        [other, ..] => bail!("unknown benchmark `{other}`; known: {NAMES}"),
    }
}

/// A bench of `tests/e2e/benches/` against a devnet of release `vigil` processes.
fn devnet_bench(name: &str) -> Result<()> {
    exec(cargo().args(["build", "--release", "-p", "vigil", "--bin", "vigil"]))?;
    exec(
        cargo()
            .args(["bench", "-q", "-p", "vigil-e2e", "--bench", name])
            .env("VIGIL_BIN", root().join("target/release/vigil")),
    )
}

/// A devnet bench whose verification side runs in the npm package under Node:
/// certificates with five center processes (`tests/e2e/benches/certs.rs`: against
/// @peculiar/x509 and openssl), tables (`tests/e2e/benches/tables.rs`: rows and pages of
/// rows against an account proof).
fn with_npm(name: &str) -> Result<()> {
    if name == "certs" {
        require("openssl", "install Debian's `openssl` with apt-get")?;
    }
    exec(cargo().args(["build", "--release", "-p", "vigil", "--bin", "vigil"]))?;
    let npm_dir = crate::npm::build()?;
    npm_ci("tests/bench")?;
    exec(
        cargo()
            .args(["bench", "-q", "-p", "vigil-e2e", "--bench", name])
            .env("VIGIL_BIN", root().join("target/release/vigil"))
            .env("VIGIL_NPM_DIR", &npm_dir)
            .env("VIGIL_BENCH_JS", root().join("tests/bench")),
    )
}

/// Builds vigil-wallet for wasm32 (release: opt-level 3, LTO) and binds it for Node.
fn build_wallet_for_node(out_dir: &std::path::Path) -> Result<()> {
    require_wasm_bindgen("wasm-bindgen")?;
    exec(cargo().args(["build", "--release", "--target", "wasm32-unknown-unknown", "-p", "vigil-wallet"]))?;
    let wasm = root().join("target/wasm32-unknown-unknown/release/vigil_wallet.wasm");
    exec(Command::new("wasm-bindgen").arg("--target").arg("nodejs").arg("--out-dir").arg(out_dir).arg(wasm))
}

/// Writes the QC fixtures (4, 16, 31, 64 and 100 validators) with the native bench; returns its output.
fn qc_fixtures(fixtures: &std::path::Path, min_ms: &str) -> Result<String> {
    output(
        cargo()
            .args(["bench", "-q", "-p", "vigil-protocol", "--bench", "qc", "--", "--fixtures"])
            .arg(fixtures)
            .args(["--min-ms", min_ms]),
    )
}

/// Runs `tests/bench/protocol.mjs` on the fixtures with `args`; returns its JSON line.
fn protocol_js(fixtures: &std::path::Path, args: &[&std::ffi::OsStr]) -> Result<Value> {
    npm_ci("tests/bench")?;
    let out = output(
        Command::new(require("node", "install Node.js 20+")?)
            .current_dir(root().join("tests/bench"))
            .arg("protocol.mjs")
            .arg("--fixtures")
            .arg(fixtures)
            .args(args),
    )?;
    let line = out.lines().rev().find(|l| l.starts_with('{')).context("no JSON line in bench output")?;
    Ok(serde_json::from_str(line)?)
}

fn field(row: &Value, key: &str) -> Result<f64> {
    row.get(key).and_then(Value::as_f64).with_context(|| format!("bench output lacks `{key}`"))
}

fn protocol(args: &[&str]) -> Result<()> {
    let min_ms = match args {
        [] => "1000".to_string(),
        ["--min-ms", ms] => ms.to_string(),
        _ => bail!("usage: cargo xtask bench protocol [--min-ms MS]"),
    };
    let bench_dir = root().join("target/bench");
    let fixtures = bench_dir.join("protocol-fixtures.json");
    let wasm_dir = bench_dir.join("wasm-node");

    let native = qc_fixtures(&fixtures, &min_ms)?;
    build_wallet_for_node(&wasm_dir)?;
    let js = protocol_js(&fixtures, &["--wasm".as_ref(), wasm_dir.as_os_str(), "--min-ms".as_ref(), min_ms.as_ref()])?;
    let line = native.lines().rev().find(|l| l.starts_with('{')).context("no JSON line in bench output")?;
    let native: Value = serde_json::from_str(line)?;
    let native_rows = native["native"].as_array().context("native rows")?;
    let js_rows = js["js"].as_array().context("js rows")?;

    println!(
        "\nQuorum-certificate verification, signatures per second (one core; Node {})",
        js["node"].as_str().unwrap_or("?")
    );
    println!(
        "{:>10} | {:>14} {:>14} | {:>14} {:>14} | {:>14} | {:>14} {:>14} {:>14} | {:>9}",
        "validators",
        "native batch",
        "native single",
        "dalek batch",
        "dalek strict",
        "wasm batch",
        "libsodium.js",
        "@noble/curves",
        "WebCrypto",
        "wasm/sodium"
    );
    let mut last = None;
    for (n, j) in native_rows.iter().zip(js_rows) {
        let wasm = field(j, "wasm_batch_sig_s")?;
        let sodium = field(j, "libsodium_sig_s")?;
        let rule = (
            field(n, "native_batch_sig_s")? / field(n, "dalek_batch_sig_s")?,
            field(n, "native_single_sig_s")? / field(n, "dalek_strict_sig_s")?,
        );
        println!(
            "{:>10} | {:>14.0} {:>14.0} | {:>14.0} {:>14.0} | {:>14.0} | {:>14.0} {:>14.0} {:>14.0} | {:>8.2}×",
            field(n, "validators")?,
            field(n, "native_batch_sig_s")?,
            field(n, "native_single_sig_s")?,
            field(n, "dalek_batch_sig_s")?,
            field(n, "dalek_strict_sig_s")?,
            wasm,
            sodium,
            field(j, "noble_sig_s")?,
            field(j, "webcrypto_sig_s")?,
            wasm / sodium
        );
        last = Some((wasm, sodium, rule));
    }
    let (wasm, sodium, (batch_rule, single_rule)) = last.context("no benchmark rows")?;
    println!("(native batch and single: the ZIP-215 rule every node and wallet applies; dalek: the rule it replaced, same signatures)");
    println!(
        "bench protocol: wasm_sig_s={wasm:.0} libsodium_sig_s={sodium:.0} ratio={:.2} zip215_batch_vs_dalek={batch_rule:.2} zip215_single_vs_dalek_strict={single_rule:.2}",
        wasm / sodium
    );
    Ok(())
}

/// The npm package as users get it, in Node: batch QC verification of 4 to 100
/// validators' signatures against libsodium.js one by one (and, at 100, @noble/curves and
/// WebCrypto) on the same signatures,
/// keystore unlock time with the default Argon2id parameters, and the wasm's size.
fn wallet(args: &[&str]) -> Result<()> {
    let min_ms = match args {
        [] => "1000".to_string(),
        ["--min-ms", ms] => ms.to_string(),
        _ => bail!("usage: cargo xtask bench wallet [--min-ms MS]"),
    };
    let fixtures = root().join("target/bench/protocol-fixtures.json");
    // Writes the fixtures (the native figures it prints are `bench protocol`'s business).
    qc_fixtures(&fixtures, "10")?;
    let package = crate::npm::build()?;
    let v = protocol_js(
        &fixtures,
        &["--package".as_ref(), package.as_os_str(), "--unlock".as_ref(), "--min-ms".as_ref(), min_ms.as_ref()],
    )?;
    let rows = v["js"].as_array().context("no rows")?;
    let row_of = |n: f64| -> Result<(f64, f64)> {
        let row = rows
            .iter()
            .find(|r| r["validators"].as_f64() == Some(n))
            .with_context(|| format!("no {n}-validator row"))?;
        Ok((field(row, "wasm_batch_sig_s")?, field(row, "libsodium_sig_s")?))
    };
    println!("\nquorum certificates, signatures/s: the npm package's wasm (batch) against libsodium.js (one by one)");
    for row in rows {
        let (n, w, s) = (field(row, "validators")?, field(row, "wasm_batch_sig_s")?, field(row, "libsodium_sig_s")?);
        println!("  {n:>4} signers   wasm {w:>8.0} | libsodium.js {s:>8.0} | {:.2}×", w / s);
    }
    let ratio_at = |n: f64| row_of(n).map(|(w, s)| w / s);
    let (r4, r31) = (ratio_at(4.0)?, ratio_at(31.0)?);
    let row = rows.iter().find(|r| r["validators"].as_f64() == Some(100.0)).context("no 100-validator row")?;
    let (wasm, sodium) = (field(row, "wasm_batch_sig_s")?, field(row, "libsodium_sig_s")?);
    let (noble, webcrypto) = (field(row, "noble_sig_s")?, field(row, "webcrypto_sig_s")?);
    let unlock = field(&v, "unlock_ms")?;
    let (raw_kb, gz_kb) = crate::npm::size_kb(&package.join("dist/vigil_wallet_bg.wasm"))?;
    let (vault_raw_kb, vault_gz_kb) = crate::npm::size_kb(&package.join("dist/vault/vigil_wallet_bg.wasm"))?;
    println!(
        "\nvigil-wallet (npm package) in Node {}, 100-validator quorum certificate",
        v["node"].as_str().unwrap_or("?")
    );
    println!("  signatures/s   wasm batch {wasm:.0} | libsodium.js {sodium:.0} | @noble/curves {noble:.0} | WebCrypto {webcrypto:.0}");
    println!("  ratio          wasm / libsodium.js = {:.2}× (target ≥ 3×)", wasm / sodium);
    println!("  keystore       unlock {unlock:.0} ms (Argon2id 64 MiB, t = 3)");
    println!("  size           {raw_kb:.0} KB raw, {gz_kb:.0} KB gzipped (target ≤ 180 KB)");
    println!("  with the vault {vault_raw_kb:.0} KB raw, {vault_gz_kb:.0} KB gzipped (the `vigil-wallet/vault` entry)");
    println!(
        "bench wallet: wasm_sig_s={wasm:.0} libsodium_sig_s={sodium:.0} ratio={:.2} ratio_4={r4:.2} ratio_31={r31:.2} wasm_gz_kb={gz_kb:.0} unlock_ms={unlock:.0} vault_wasm_gz_kb={vault_gz_kb:.0}",
        wasm / sodium
    );
    Ok(())
}

/// The web wallet as the demo serves it, in Debian's headless Chromium: gzipped wasm size
/// and navigation → verified dashboard, against the static shell's first paint.
fn web() -> Result<()> {
    require("chromium", "install Debian's `chromium` with apt-get")?;
    exec(cargo().args(["build", "--release", "-p", "vigil", "--bin", "vigil"]))?;
    let www = crate::web::build()?;
    npm_ci("tests/web")?;
    exec(
        Command::new(require("node", "install Node.js 20+")?)
            .current_dir(root().join("tests/web"))
            .arg("bench.mjs")
            .env("VIGIL_BIN", root().join("target/release/vigil"))
            .env("VIGIL_WWW", www),
    )
}

/// The vault's client-side work on 64 MiB: encryption + erasure coding natively and in
/// wasm (the npm package in Node: its simd128 build and its baseline), and
/// `shamir-secret-sharing` splitting the same bytes k-of-n, in one run.
fn vault() -> Result<()> {
    let native_out = output(cargo().args(["bench", "-q", "-p", "vigil-wallet", "--bench", "vault"]))?;
    let native: Value = json_line(&native_out)?;
    let package = crate::npm::build()?;
    npm_ci("tests/bench")?;
    let js_out = output(
        Command::new(require("node", "install Node.js 20+")?)
            .current_dir(root().join("tests/bench"))
            .arg("vault.mjs")
            .arg("--package")
            .arg(&package)
            .args(["--mb", "64", "--k", "2", "--n", "3"]),
    )?;
    let js: Value = json_line(&js_out)?;
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let (wasm, baseline, nat, shamir) =
        (f(&js, "wasm_mb_s"), f(&js, "wasm_baseline_mb_s"), f(&native, "native_mb_s"), f(&js, "shamir_js_mb_s"));
    println!("\nvault: 64 MiB, XChaCha20-Poly1305 STREAM + Reed–Solomon 2-of-3 (what the wallet does before upload)");
    println!("  native                {nat:>8.1} MB/s");
    println!("  wasm simd128 (Node)   {wasm:>8.1} MB/s   ({:.2}× native; target ≥ 0.5×)", wasm / nat);
    println!(
        "  wasm baseline (Node)  {baseline:>8.1} MB/s   ({:.2}× native; engines without wasm SIMD)",
        baseline / nat
    );
    println!(
        "  shamir (JS)           {shamir:>8.2} MB/s   (shamir-secret-sharing 2-of-3 on the first {} MiB; wasm is {:.0}× faster)",
        f(&js, "shamir_mb"),
        wasm / shamir
    );
    println!(
        "bench vault: wasm_mb_s={wasm:.1} wasm_baseline_mb_s={baseline:.1} native_mb_s={nat:.1} wasm_vs_native={:.2} baseline_vs_native={:.2} shamir_js_mb_s={shamir:.2} ratio={:.0}",
        wasm / nat,
        baseline / nat,
        wasm / shamir
    );
    Ok(())
}

/// The last line of `out` that is a JSON object.
fn json_line(out: &str) -> Result<Value> {
    let line = out.lines().rev().find(|l| l.starts_with('{')).context("no JSON line in bench output")?;
    Ok(serde_json::from_str(line)?)
}

/// The gateway against Debian's nginx, both pinned alone to one core, the same load
/// (`tests/e2e/benches/gateway.rs`); installs nginx when missing (as root).
fn gateway() -> Result<()> {
    if !["/usr/sbin/nginx", "/usr/bin/nginx"].iter().any(|p| std::path::Path::new(p).is_file()) {
        crate::provision::apt_install(&["nginx"])?;
    }
    require("taskset", "install util-linux (taskset pins each side to its core)")?;
    require("chrt", "install util-linux (chrt keeps each core awake with a SCHED_IDLE spinner)")?;
    exec(cargo().args(["build", "--release", "-p", "vigil", "--bin", "vigil"]))?;
    exec(
        cargo()
            .args(["bench", "-q", "-p", "vigil-e2e", "--bench", "gateway"])
            .env("VIGIL_BIN", crate::util::target_dir().join("release/vigil"))
            // One tokio worker for the gateway (as nginx has one worker), no access log.
            .env("TOKIO_WORKER_THREADS", "1")
            .env("RUST_LOG", "warn"),
    )
}
