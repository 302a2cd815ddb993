//! A node that fell behind its peers' retention window (its core's
//! [`vigil_core::consensus::Output::FellBehind`]: a Bft quorum with it, one honest peer
//! at least, pruned the blocks it needs) cannot catch up by sync. It restarts itself
//! recovering, as if started with `vigil node --recover` on a lost data directory: its
//! database is moved aside (`vigil.redb.behind-<ms>`, left for the operator), and the
//! process replaces itself (same pid, same command) with `--recover` added. Its safety
//! state goes with the database; the restore's abstention bound (the highest height a
//! peer reports, above any this node signed at, since it is behind them) keeps it from
//! signing twice. Its fragment store stays; the shard repair checks it after the restore.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use vigil_protocol::Height;

use crate::service::{Shared, EXIT_FATAL};

/// The flag a restarted node gets.
const RECOVER_FLAG: &str = "--recover";

/// Moves the database aside and replaces this process with itself recovering; exits
/// with [`EXIT_FATAL`] if either cannot be done.
pub fn restart_recovering(shared: &Shared, needed: Height, first: Height) -> ! {
    let db = shared.store.path().to_path_buf();
    let aside = crate::storage::aside_path(&db, "behind", vigil_server::now_ms());
    tracing::error!(
        %needed,
        %first,
        moved_to = %aside.display(),
        "this node fell behind its peers' retention window (they pruned the blocks it needs): database moved \
         aside; restarting to recover from their stable checkpoint"
    );
    if let Err(e) = std::fs::rename(&db, &aside) {
        tracing::error!(error = %e, "could not move the database aside; start this node with `--recover` on an empty data directory");
        std::process::exit(EXIT_FATAL);
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            tracing::error!(error = %e, "could not find this program to restart it; start it again with `--recover`");
            std::process::exit(EXIT_FATAL);
        }
    };
    let error = std::process::Command::new(exe).args(recover_args(std::env::args_os().skip(1))).exec();
    tracing::error!(%error, "could not restart this node; start it again with `--recover`");
    std::process::exit(EXIT_FATAL)
}

/// This process's arguments with `--recover` (once).
fn recover_args(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.collect();
    if !args.iter().any(|a| a == RECOVER_FLAG) {
        args.push(RECOVER_FLAG.into());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restart_adds_the_recover_flag_once() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            recover_args(args(&["node", "--config", "n.toml"]).into_iter()),
            args(&["node", "--config", "n.toml", "--recover"])
        );
        assert_eq!(
            recover_args(args(&["node", "--recover", "--config", "n.toml"]).into_iter()),
            args(&["node", "--recover", "--config", "n.toml"])
        );
    }
}
