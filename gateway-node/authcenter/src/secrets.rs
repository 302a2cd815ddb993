//! A center's secrets on disk, written before anything derived from them leaves the
//! center: the seed of each key generation attempt (its FROST part 1 and its share key
//! follow from it, so a center that crashed between two rounds redoes the same round 1),
//! its signing share once the key generation ended, and its unused signing nonces (a
//! commitment is sent only once its nonces are on disk, so a crash can never make the
//! center answer a commitment with other nonces, or use one pair twice).
//!
//! One JSON file, owner-only, replaced atomically (written beside it, synced, renamed,
//! the directory synced): a crash leaves the old file or the new one, never a mix.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// Why the secret file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not a center's secret file: {reason}")]
    Format { path: String, reason: String },
}

/// One signing nonce pair (hiding, binding scalars) by its commitment's number.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize)]
pub struct NoncePair {
    #[serde(with = "hex32")]
    pub hiding: [u8; 32],
    #[serde(with = "hex32")]
    pub binding: [u8; 32],
}

/// Everything a center keeps secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CenterSecrets {
    /// The seed of each key generation attempt the center took part in.
    pub attempts: BTreeMap<u32, Seed>,
    /// The center's share of the group key, once the key generation ended.
    pub signing_share: Option<Seed>,
    /// Unused nonce pairs by commitment number; the ones above the chain's count are
    /// the batch not yet on chain (sent again as it is, never remade).
    pub nonces: BTreeMap<u64, NoncePair>,
    /// The verdicts this center decided, by request, kept until the request is decided
    /// (a verdict is given once: sent again as it is, never decided anew).
    #[serde(default)]
    pub verdicts: BTreeMap<u64, vigil_protocol::authcenter::Verdict>,
    /// The seed of each attempt of a change of the center set the center took part in
    /// (its ready key and, as a dealer, its sharing follow from it), by
    /// `change-id/attempt`.
    #[serde(default)]
    pub reshares: BTreeMap<String, Seed>,
    /// Shares a change of the set gave the center, kept until the change is in force
    /// (then one replaces `signing_share`).
    #[serde(default)]
    pub next_shares: Vec<Seed>,
}

/// 32 secret bytes, wiped when dropped, hex in the file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seed(#[serde(with = "hex32")] pub [u8; 32]);

impl Drop for Seed {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for CenterSecrets {
    fn drop(&mut self) {
        for pair in self.nonces.values_mut() {
            pair.zeroize();
        }
    }
}

impl std::fmt::Debug for CenterSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CenterSecrets")
            .field("attempts", &self.attempts.keys().collect::<Vec<_>>())
            .field("signing_share", &self.signing_share.is_some())
            .field("nonces", &self.nonces.keys().collect::<Vec<_>>())
            .field("reshares", &self.reshares.keys().collect::<Vec<_>>())
            .field("next_shares", &self.next_shares.len())
            .finish()
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = zeroize::Zeroizing::new(String::deserialize(d)?);
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.as_str(), &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

/// The secret file and what it holds.
#[derive(Debug)]
pub struct SecretStore {
    path: PathBuf,
    secrets: CenterSecrets,
}

impl SecretStore {
    /// Opens the file at `path`, or starts empty if there is none.
    pub fn open(path: &Path) -> Result<SecretStore, SecretsError> {
        let shown = || path.display().to_string();
        let secrets = match std::fs::read(path) {
            Ok(bytes) => {
                let bytes = zeroize::Zeroizing::new(bytes);
                serde_json::from_slice(&bytes)
                    .map_err(|e| SecretsError::Format { path: shown(), reason: e.to_string() })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CenterSecrets::default(),
            Err(source) => return Err(SecretsError::Io { path: shown(), source }),
        };
        Ok(SecretStore { path: path.to_path_buf(), secrets })
    }

    pub fn secrets(&self) -> &CenterSecrets {
        &self.secrets
    }

    /// Changes the secrets and writes them durably before returning.
    pub fn update(&mut self, change: impl FnOnce(&mut CenterSecrets)) -> Result<(), SecretsError> {
        let mut next = self.secrets.clone();
        change(&mut next);
        write_atomically(&self.path, &next)?;
        self.secrets = next;
        Ok(())
    }
}

fn write_atomically(path: &Path, secrets: &CenterSecrets) -> Result<(), SecretsError> {
    let io = |source| SecretsError::Io { path: path.display().to_string(), source };
    let bytes = zeroize::Zeroizing::new(serde_json::to_vec_pretty(secrets).map_err(|e| io(e.into()))?);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let partial = path.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&partial).map_err(io)?;
    file.write_all(&bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_survive_a_reopen_and_the_file_is_the_owners_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("center/secrets.json");
        let mut store = SecretStore::open(&path).unwrap();
        assert_eq!(store.secrets(), &CenterSecrets::default());
        store
            .update(|s| {
                s.attempts.insert(0, Seed([1; 32]));
                s.nonces.insert(7, NoncePair { hiding: [2; 32], binding: [3; 32] });
            })
            .unwrap();
        let again = SecretStore::open(&path).unwrap();
        assert_eq!(again.secrets(), store.secrets());
        assert!(!format!("{:?}", again.secrets()).contains("0101"), "Debug shows no secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, b"{").unwrap();
        assert!(matches!(SecretStore::open(&path), Err(SecretsError::Format { .. })));
    }
}
