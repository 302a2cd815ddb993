//! Running commands, finding the workspace, and checking that tools are installed
//! with a message that says how to install them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Where cargo builds: `CARGO_TARGET_DIR` if set (relative to the workspace, as cargo
/// reads it), else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// What `cargo run` tells the program it runs about itself; a nested cargo must not
/// inherit it: build scripts that watch these (ring watches `CARGO_MANIFEST_DIR`) would
/// otherwise rebuild each time one switches between `cargo build` and `cargo xtask`.
const RUN_ENV_PREFIXES: &[&str] =
    &["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_PRIMARY_PACKAGE"];

pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| RUN_ENV_PREFIXES.iter().any(|p| n.starts_with(p))) {
            cmd.env_remove(&name);
        }
    }
    cmd
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd`, streaming its output, and fails if it fails.
pub fn exec(cmd: &mut Command) -> Result<()> {
    let shown = describe(cmd);
    eprintln!("$ {shown}");
    let status = cmd.status().with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd`, streaming stdout line by line to ours and to `on_line`.
pub fn exec_streaming(cmd: &mut Command, mut on_line: impl FnMut(&str)) -> Result<()> {
    let shown = describe(cmd);
    eprintln!("$ {shown}");
    let mut child = cmd.stdout(Stdio::piped()).spawn().with_context(|| format!("could not start `{shown}`"))?;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            on_line(&line);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout.
pub fn output(cmd: &mut Command) -> Result<String> {
    let shown = describe(cmd);
    let out = cmd.stderr(Stdio::inherit()).output().with_context(|| format!("could not start `{shown}`"))?;
    if !out.status.success() {
        bail!("`{shown}` failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Finds `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The `wasm-bindgen` version pinned in Cargo.lock.
pub fn locked_wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.trim().strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    bail!("wasm-bindgen is not in Cargo.lock")
}

/// Checks that `wasm-bindgen` tools match the locked version (they refuse to work
/// otherwise, with a less helpful message).
pub fn require_wasm_bindgen(tool: &str) -> Result<()> {
    let want = locked_wasm_bindgen_version()?;
    let Some(path) = which(tool) else {
        bail!("`{tool}` not found: run `cargo xtask provision` (it installs wasm-bindgen-cli {want})");
    };
    let have = output(Command::new(&path).arg("--version"))?;
    if !have.split_whitespace().any(|w| w == want) {
        bail!(
            "`{tool}` is {}, Cargo.lock wants {want}: run `cargo install wasm-bindgen-cli --version {want} --force`",
            have.trim()
        );
    }
    Ok(())
}

pub fn require(tool: &str, install_hint: &str) -> Result<PathBuf> {
    which(tool).with_context(|| {
        format!(
            "`{tool}` not found: {install_hint} (or run `cargo xtask provision --tests`, which installs everything)"
        )
    })
}

/// Installs a folder's npm packages at their locked versions unless they are there.
pub fn npm_ci(dir: &str) -> Result<()> {
    crate::provision::npm_folder(dir).map(|_| ())
}

/// Shrinks a wasm-bindgen output in place with binaryen's `wasm-opt -Oz` (the npm build of
/// binaryen, pinned in `xtask/node`; Debian's is too old). The features are those rustc's
/// wasm32 target emits (and `simd128` for the build that has it), so the optimiser may
/// keep but never add any.
pub fn wasm_opt(wasm: &Path, simd: bool) -> Result<()> {
    npm_ci("xtask/node")?;
    let tool = root().join("xtask/node/node_modules/binaryen/bin/wasm-opt");
    exec(
        Command::new("node")
            .arg(tool)
            .args(simd.then_some("--enable-simd"))
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-reference-types",
                "--enable-multivalue",
            ])
            .arg(wasm)
            .arg("-o")
            .arg(wasm),
    )
}

/// rustc flags that shorten the source paths compiled into panic messages (this
/// checkout and each crate registry become empty prefixes): a smaller wasm, and no
/// builder's home directory in what users download.
fn short_source_paths() -> String {
    let mut prefixes = vec![format!("{}/", root().display())];
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(src) = home.map(|h| h.join("registry/src")) {
        if let Ok(dirs) = std::fs::read_dir(&src) {
            prefixes.extend(dirs.flatten().map(|d| format!("{}/", d.path().display())));
        }
    }
    prefixes.iter().map(|p| format!("--remap-path-prefix={p}=")).collect::<Vec<_>>().join(" ")
}

/// One build of a package's wasm for browsers (see [`build_browser_wasm`]).
#[derive(Clone, Copy)]
pub struct WasmBuild<'a> {
    pub package: &'a str,
    pub features: &'a [&'a str],
    /// The cargo artifact's file stem.
    pub artifact: &'a str,
    /// wasm-bindgen's `--out-name`.
    pub out_name: &'a str,
    /// More wasm-bindgen options.
    pub extra: &'a [&'a str],
    /// Set for the build (`Some`) or removed from it (`None`).
    pub env: &'a [(&'a str, Option<&'a str>)],
    /// With wasm `simd128` (in a target directory of its own, so that neither build
    /// invalidates the other's).
    pub simd: bool,
}

/// Builds `b.package` (with `b.features`) for wasm32 with the size profile (`wasm-size`:
/// opt-level z, crypto and the vault's codec at 3), binds its artifact with wasm-bindgen
/// `--target web` (one ES module for browsers, bundlers and Node) as `b.out_name` into
/// `out_dir`, without name and producers sections, and shrinks it with wasm-opt. Returns
/// the `_bg.wasm` file.
pub fn build_browser_wasm(b: &WasmBuild, out_dir: &Path) -> Result<PathBuf> {
    let cache = bind_wasm(b)?;
    copy_dir_files(&cache, out_dir)?;
    Ok(out_dir.join(format!("{}_bg.wasm", b.out_name)))
}

/// Builds, binds and shrinks `b` (see [`build_browser_wasm`]); returns the folder that
/// holds the output, kept per build flavour.
pub fn bind_wasm(b: &WasmBuild) -> Result<PathBuf> {
    require_wasm_bindgen("wasm-bindgen")?;
    let target = if b.simd { target_dir().join("wasm-simd") } else { target_dir() };
    let mut rustflags = short_source_paths();
    if b.simd {
        rustflags.push_str(" -C target-feature=+simd128");
    }
    let mut build = cargo();
    build
        .args(["build", "--profile", "wasm-size", "--target", "wasm32-unknown-unknown", "-p", b.package])
        .args(b.features.iter().flat_map(|f| ["--features", f]))
        .arg("--target-dir")
        .arg(&target)
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", rustflags);
    for (name, value) in b.env {
        match value {
            Some(v) => build.env(name, v),
            None => build.env_remove(name),
        };
    }
    exec(&mut build)?;
    let wasm = target.join("wasm32-unknown-unknown/wasm-size").join(format!("{}.wasm", b.artifact));
    // Binding and wasm-opt take seconds: their output is kept per build flavour and
    // reused while the wasm and the options are the same (a second demo starts fast).
    let flavour: Vec<String> = std::iter::once(b.out_name.to_string())
        .chain(b.features.iter().map(|f| f.to_string()))
        .chain(b.simd.then(|| "simd128".to_string()))
        .collect();
    let cache = target_dir().join("xtask-cache").join(flavour.join("+"));
    let stamp = build_stamp(&wasm, b.extra, b.env)?;
    let stamp_file = cache.join(".stamp");
    if std::fs::read_to_string(&stamp_file).ok().as_deref() != Some(stamp.as_str()) {
        if cache.exists() {
            std::fs::remove_dir_all(&cache).with_context(|| format!("removing {}", cache.display()))?;
        }
        std::fs::create_dir_all(&cache)?;
        exec(
            Command::new("wasm-bindgen")
                .args([
                    "--target",
                    "web",
                    "--out-name",
                    b.out_name,
                    "--remove-name-section",
                    "--remove-producers-section",
                ])
                .args(b.extra)
                .arg("--out-dir")
                .arg(&cache)
                .arg(&wasm),
        )?;
        wasm_opt(&cache.join(format!("{}_bg.wasm", b.out_name)), b.simd)?;
        std::fs::write(&stamp_file, &stamp)?;
    } else {
        println!("{}: wasm unchanged, bound and optimised output reused from {}", b.out_name, cache.display());
    }
    Ok(cache)
}

/// What the bound and optimised output depends on besides the code: the wasm file
/// (size and modification time), the options, and the wasm-bindgen version.
fn build_stamp(wasm: &Path, extra: &[&str], env: &[(&str, Option<&str>)]) -> Result<String> {
    let meta = std::fs::metadata(wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let modified = meta.modified()?.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    Ok(format!("{} {modified} {extra:?} {env:?} wasm-bindgen {}\n", meta.len(), locked_wasm_bindgen_version()?))
}

/// Copies what `from` holds (but its dot-files) into `to`, folders (wasm-bindgen's
/// `snippets/`) included.
fn copy_dir_files(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir_files(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}
