//! Provisioning: what `cargo xtask demo` and `cargo xtask test` need on a machine,
//! installed idempotently, one progress line per step with its time. The only copy of
//! this logic: `.ci/run` calls `cargo xtask provision --tests`, the demo and the tests
//! call it themselves, so a fresh clone needs nothing typed before them.
//!
//! What each step installs: the `wasm32-unknown-unknown` Rust target (rustup),
//! `wasm-bindgen-cli` at the version `Cargo.lock` pins (`cargo install`), the npm tool
//! folders at their locked versions (`npm ci`), and for the tests Debian's `chromium`
//! and `chromium-driver` (apt-get, when running as root; otherwise one message with the
//! exact command), `s3s-fs`, a real S3-protocol server (`cargo install`), and
//! `openapi-spec-validator` (pip, in a virtual environment under `target/tools`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::util::{self, exec, output, root, which};

/// npm folders the demo needs: binaryen's `wasm-opt` for the wallet builds.
const DEMO_NPM: &[&str] = &["xtask/node"];
/// npm folders the tests need besides the demo's.
const TEST_NPM: &[&str] = &["tests/npm", "tests/web", "tests/bench"];
/// Debian packages the browser tests drive (never a downloaded browser), and `openssl`,
/// which the certificate tests hold the consortium's certificates to.
const DEBIAN_BROWSER: &[&str] = &["chromium", "chromium-driver", "openssl"];
/// The commands those packages bring.
const DEBIAN_TOOLS: &[&str] = &["chromium", "chromedriver", "openssl"];
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The standard OpenAPI validator the tests hold the node's document to (PyPI), in a
/// virtual environment of its own under `target/tools`.
const OPENAPI_VALIDATOR: &str = "openapi-spec-validator==0.9.0";
/// The S3-protocol server the vault's S3 tests run (the newest release this toolchain
/// builds: 0.15 and later want Rust 1.96).
const S3S_FS_VERSION: &str = "0.14.1";

/// What a machine must have for `what`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Demo,
    Tests,
}

pub fn run(args: &[&str]) -> Result<()> {
    match args {
        [] => provision(Purpose::Demo),
        ["--tests"] => provision(Purpose::Tests),
        _ => bail!("usage: cargo xtask provision [--tests]"),
    }
}

/// Installs whatever `purpose` needs and is missing; prints one line per step.
pub fn provision(purpose: Purpose) -> Result<()> {
    let started = Instant::now();
    put_cargo_bin_on_path();
    step("Rust target wasm32-unknown-unknown", wasm_target)?;
    step("wasm-bindgen-cli at the version in Cargo.lock", wasm_bindgen)?;
    let mut folders: Vec<&str> = DEMO_NPM.to_vec();
    if purpose == Purpose::Tests {
        folders.extend(TEST_NPM);
    }
    for folder in folders {
        step(&format!("npm packages of {folder} (package-lock.json)"), || npm_folder(folder))?;
    }
    if purpose == Purpose::Tests {
        step("Debian's chromium, chromium-driver and openssl", browser)?;
        step("s3s-fs, the S3 server of the vault tests", s3s_fs)?;
        step("openapi-spec-validator (PyPI, in target/tools)", openapi_validator)?;
    }
    println!("provision: done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs one step and prints what it did and how long it took.
fn step(name: &str, f: impl FnOnce() -> Result<String>) -> Result<()> {
    let t = Instant::now();
    let done = f().with_context(|| format!("provisioning `{name}`"))?;
    println!("provision: {name}: {done} ({:.1} s)", t.elapsed().as_secs_f64());
    Ok(())
}

/// `cargo install` puts tools in `$CARGO_HOME/bin`; a fresh shell may not have it on
/// PATH yet, so this process (and what it runs) gets it.
fn put_cargo_bin_on_path() {
    let Some(bin) = cargo_bin_dir() else { return };
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|p| p == bin) {
        return;
    }
    let joined = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path)));
    if let Ok(joined) = joined {
        std::env::set_var("PATH", joined);
    }
}

fn cargo_bin_dir() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|h| h.join("bin"))
}

fn wasm_target() -> Result<String> {
    let rustup = util::require("rustup", "install Rust with rustup (https://rustup.rs)")?;
    let installed = output(Command::new(&rustup).args(["target", "list", "--installed"]).current_dir(root()))?;
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok("already installed".into());
    }
    exec(Command::new(&rustup).args(["target", "add", WASM_TARGET]).current_dir(root()))?;
    Ok("installed".into())
}

fn wasm_bindgen() -> Result<String> {
    let want = util::locked_wasm_bindgen_version()?;
    let have = |tool: &str| -> Option<String> {
        let path = which(tool)?;
        let out = Command::new(path).arg("--version").output().ok()?;
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let matches = |tool: &str| have(tool).is_some_and(|v| v.split_whitespace().any(|w| w == want));
    if matches("wasm-bindgen") && matches("wasm-bindgen-test-runner") {
        return Ok(format!("{want} already installed"));
    }
    // No --locked: the tool's own lockfile may want crates newer than the registry
    // mirror has; the version of the CLI itself is exact.
    exec(util::cargo().args(["install", "wasm-bindgen-cli", "--version", &want, "--force"]))?;
    if !matches("wasm-bindgen") {
        bail!("`cargo install wasm-bindgen-cli --version {want}` ran, but `wasm-bindgen --version` does not say {want}: is another one earlier on PATH?");
    }
    Ok(format!("{want} installed"))
}

/// `npm ci` unless `node_modules` was installed from the current `package-lock.json`
/// (npm writes `node_modules/.package-lock.json` when it installs).
pub fn npm_folder(folder: &str) -> Result<String> {
    let dir = root().join(folder);
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules/.package-lock.json");
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(lock_t), Some(installed_t)) = (modified(&lock), modified(&installed)) {
        if installed_t >= lock_t {
            return Ok("already installed".into());
        }
    }
    util::require("node", "install Node.js 20+ and npm")?;
    let npm = util::require("npm", "install Node.js 20+ and npm")?;
    exec(Command::new(npm).args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir))?;
    Ok("installed".into())
}

fn browser() -> Result<String> {
    if DEBIAN_TOOLS.iter().all(|t| which(t).is_some()) {
        return Ok("already installed".into());
    }
    let install = format!("apt-get install -y -q --no-install-recommends {}", DEBIAN_BROWSER.join(" "));
    if !is_root() {
        bail!(
            "Debian's chromium, chromedriver or openssl is missing and this is not root; run `sudo apt-get update && sudo {install}`, then this command again"
        );
    }
    apt_install(DEBIAN_BROWSER)?;
    for tool in DEBIAN_TOOLS {
        if which(tool).is_none() {
            bail!("`{install}` ran, but `{tool}` is not on PATH");
        }
    }
    Ok("installed".into())
}

fn s3s_fs() -> Result<String> {
    let installed = which("s3s-fs")
        .and_then(|p| Command::new(p).arg("--version").output().ok())
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().any(|w| w == S3S_FS_VERSION));
    if installed {
        return Ok(format!("{S3S_FS_VERSION} already installed"));
    }
    // No --locked, as for wasm-bindgen-cli: the registry mirror may lag its lockfile.
    exec(util::cargo().args(["install", "s3s-fs", "--version", S3S_FS_VERSION, "--features", "binary", "--force"]))?;
    Ok(format!("{S3S_FS_VERSION} installed"))
}

/// The OpenAPI validator's command (installed by the test provisioning).
pub fn openapi_validator_bin() -> PathBuf {
    util::target_dir().join("tools/openapi-venv/bin/openapi-spec-validator")
}

fn openapi_validator() -> Result<String> {
    let venv = util::target_dir().join("tools/openapi-venv");
    let version = OPENAPI_VALIDATOR.split("==").nth(1).unwrap_or_default();
    let python = venv.join("bin/python");
    let installed = python.is_file()
        && output(Command::new(&python).args(["-c", "import openapi_spec_validator as v; print(v.__version__)"]))
            .is_ok_and(|v| v.trim() == version);
    if installed {
        return Ok(format!("{version} already installed"));
    }
    let python3 = util::require("python3", "install Python 3 (Debian's python3 and python3-venv)")?;
    exec(Command::new(python3).arg("-m").arg("venv").arg(&venv))?;
    exec(Command::new(venv.join("bin/pip")).args(["install", "-q", "--disable-pip-version-check", OPENAPI_VALIDATOR]))?;
    Ok(format!("{version} installed"))
}

/// `apt-get update` and `apt-get install` of Debian `packages` (as root: say so first).
pub fn apt_install(packages: &[&str]) -> Result<()> {
    let apt = util::require("apt-get", &format!("this needs Debian's {}", packages.join(", ")))?;
    exec(Command::new(&apt).args(["update", "-q"]).env("DEBIAN_FRONTEND", "noninteractive"))?;
    exec(
        Command::new(&apt)
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
