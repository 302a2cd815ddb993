//! The tidy test (run by `cargo xtask test` with the workspace's tests): what the pure
//! crates must not contain, read off their sources.
//!
//! `vigil-core` (consensus and execution) takes time and inputs as arguments and hands
//! back what to do, so the simulator can run it: no clock, no randomness, no hash-map
//! iteration order, no locks or threads, no tokio, no `unwrap`/`expect` outside tests.
//! `vigil-sim` and `vigil-protocol` must be deterministic too: no hash maps, no clock
//! (except the simulator binary's progress line). Functions stay short enough to read.
//! The browser wallet reads JSON one way (what it links is what users download).

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::util::root;

    /// What a pure crate's non-test code must not name, and why.
    const BANNED_IN_CORE: &[(&str, &str)] = &[
        ("SystemTime", "the clock comes in as `now_ms`"),
        ("Instant", "the clock comes in as `now_ms`"),
        ("rand::", "randomness would make runs unrepeatable"),
        ("OsRng", "randomness would make runs unrepeatable"),
        ("getrandom", "randomness would make runs unrepeatable"),
        ("HashMap", "iteration order differs between runs: BTreeMap"),
        ("HashSet", "iteration order differs between runs: BTreeSet"),
        ("Mutex", "the core is owned by one thread"),
        ("RwLock", "the core is owned by one thread"),
        ("std::thread", "the core is owned by one thread"),
        ("tokio", "the core does no I/O"),
        (".unwrap()", "an impossible state is Output::Fatal, not a panic"),
        (".expect(", "an impossible state is Output::Fatal, not a panic"),
    ];
    /// What the other deterministic crates must not name.
    const BANNED_IN_DETERMINISTIC: &[(&str, &str)] = &[
        ("HashMap", "iteration order differs between runs: BTreeMap"),
        ("HashSet", "iteration order differs between runs: BTreeSet"),
        ("SystemTime", "time comes in as an argument"),
    ];
    /// What the browser wallet's non-test code must not name: each costs download size.
    const BANNED_IN_WALLET: &[(&str, &str)] = &[
        (
            "serde_json::from_str",
            "a second JSON reader compiled in beside from_slice's: read `text.as_bytes()` with from_slice",
        ),
        ("serde_json::from_value", "a JSON answer is read from its bytes once, as its vigil_api type"),
    ];
    /// What the wallet core must leave to its `Platform` (tests may pass `OsRng` in).
    const BANNED_IN_WALLET_CORE: &[(&str, &str)] = &[
        ("OsRng", "randomness comes from the Platform (`PlatformRng`), so it can be injected"),
        ("SystemTime", "the clock is the Platform's `now_ms`"),
        ("Date::now", "the clock is the Platform's `now_ms`"),
        ("getrandom", "randomness comes from the Platform (`PlatformRng`), so it can be injected"),
    ];
    /// The platform's own files (and the JS bindings' folder): the one place the wallet meets
    /// the clock and the CSPRNG.
    const WALLET_PLATFORM_FILES: &[&str] = &[
        "wallet-wasm/src/platform.rs",
        "wallet-wasm/src/fetch.rs",
        "wallet-wasm/src/native.rs",
        "wallet-wasm/src/js/",
    ];
    /// Files allowed a banned name, each with the issue that removes the exception.
    const ALLOWED: &[(&str, &str)] = &[
        // The binary's progress line (wall time of the whole run), not the simulation.
        ("gateway-node/sim/src/main.rs", "Instant"),
    ];
    /// Longest function (lines, signature to closing brace).
    const FUNCTION_LINES_MAX: usize = 80;
    /// Functions allowed to be longer, and why.
    const LONG_FUNCTIONS: &[(&str, &str)] = &[
        // Tendermint's "upon" rules in one place, in the paper's order and numbering.
        ("gateway-node/core/src/consensus/bft.rs", "bft_progress"),
        // The simulated network's set-up (nodes, faults, disks, the first events); it is
        // taken apart when the simulator runs the node's own carry-out (issue 16, item 2).
        ("gateway-node/sim/src/lib.rs", "new"),
    ];

    fn rust_files(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut dirs = vec![dir.to_path_buf()];
        while let Some(d) = dirs.pop() {
            for entry in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    /// A file's lines before its test module, without comments; test-only files (named
    /// `tests.rs`, in a `tests` directory, or marked `#![cfg(test)]`) none.
    fn code_lines(path: &Path) -> Vec<(usize, String)> {
        let in_tests = path.parent().and_then(Path::file_name).is_some_and(|d| d == "tests");
        if in_tests || path.file_name().is_some_and(|n| n == "tests.rs") {
            return Vec::new();
        }
        let text = std::fs::read_to_string(path).unwrap();
        // `#![cfg(test)]` counts only as the file's first attribute, after its comments.
        let first_code = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with("//"));
        if first_code == Some("#![cfg(test)]") {
            return Vec::new();
        }
        let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
        text[..end]
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or_default().to_string()))
            .collect()
    }

    fn relative(path: &Path) -> String {
        path.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/")
    }

    fn violations(dir: &str, banned: &[(&str, &str)]) -> Vec<String> {
        let mut found = Vec::new();
        for path in rust_files(&root().join(dir)) {
            let file = relative(&path);
            for (n, line) in code_lines(&path) {
                for (name, why) in banned {
                    let allowed = ALLOWED.iter().any(|(f, a)| *f == file && a == name);
                    if line.contains(name) && !allowed {
                        found.push(format!("{file}:{n}: `{name}`: {why}"));
                    }
                }
            }
        }
        found
    }

    #[test]
    fn the_core_names_no_clock_randomness_hash_map_lock_tokio_or_unwrap() {
        let found = violations("gateway-node/core/src", BANNED_IN_CORE);
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    #[test]
    fn the_simulator_and_the_protocol_iterate_no_hash_map_and_read_no_clock() {
        let mut found = violations("gateway-node/sim/src", BANNED_IN_DETERMINISTIC);
        found.extend(violations("protocol/src", BANNED_IN_DETERMINISTIC));
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    #[test]
    fn the_wallet_core_reads_no_clock_and_no_generator_but_the_platforms() {
        let found: Vec<String> = violations("wallet-wasm/src", BANNED_IN_WALLET_CORE)
            .into_iter()
            .filter(|v| {
                // A folder (ending in `/`) holds platform files only; a file is matched whole.
                !WALLET_PLATFORM_FILES
                    .iter()
                    .any(|f| v.starts_with(&format!("{f}:")) || (f.ends_with('/') && v.starts_with(f)))
            })
            .collect();
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    #[test]
    fn the_wallet_reads_json_one_way() {
        let mut found = violations("wallet-wasm/src", BANNED_IN_WALLET);
        found.extend(violations("web-ui/src", BANNED_IN_WALLET));
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// A function's length: from its `fn` line to the `}` at the same indentation.
    fn long_functions(dir: &str) -> Vec<String> {
        let mut found = Vec::new();
        for path in rust_files(&root().join(dir)) {
            let file = relative(&path);
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let trimmed = line.trim_start();
                let indent = &line[..line.len() - trimmed.len()];
                let signature = ["fn ", "pub fn ", "pub(crate) fn ", "async fn ", "pub async fn ", "const fn "];
                let Some(rest) = signature.iter().find_map(|s| trimmed.strip_prefix(s)) else { continue };
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                let close = format!("{indent}}}");
                let Some(len) = lines[i + 1..].iter().position(|l| *l == close).map(|p| p + 2) else { continue };
                let allowed = LONG_FUNCTIONS.iter().any(|(f, n)| *f == file && *n == name);
                if len > FUNCTION_LINES_MAX && !allowed {
                    found.push(format!("{file}:{}: `{name}` is {len} lines (at most {FUNCTION_LINES_MAX})", i + 1));
                }
            }
        }
        found
    }

    #[test]
    fn the_core_and_the_simulator_keep_functions_short() {
        let mut found = long_functions("gateway-node/core/src");
        found.extend(long_functions("gateway-node/sim/src"));
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    /// The tidy test can fail: a banned name in a core file is found.
    #[test]
    fn a_banned_name_is_found() {
        let dir = root().join("target/tidy-probe/src");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("probe.rs"), "fn f() { let t = std::time::Instant::now(); }\n").unwrap();
        let found = violations("target/tidy-probe/src", BANNED_IN_CORE);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("Instant"));
    }
}
