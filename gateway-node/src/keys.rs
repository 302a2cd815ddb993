//! Key files: a node's Ed25519 consensus key and X25519 transport/encryption key, or
//! an account's Ed25519 key, as JSON written with owner-only permissions.

use std::path::Path;

use serde::{Deserialize, Serialize};
use vigil_protocol::{Address, EncryptionKey, NodeId, PublicKey, SecretKey};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a Vigil key file ({reason})")]
    Format { path: String, reason: String },
    #[error("{0} already exists; refusing to overwrite a key (delete it first if you mean it)")]
    Exists(String),
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    kind: String,
    /// Ed25519 seed, hex.
    ed25519_seed: String,
    /// X25519 secret, hex (node keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x25519_secret: Option<String>,
    /// Public parts, for humans; recomputed on load.
    public: serde_json::Value,
}

/// A validator's keys.
#[derive(Clone)]
pub struct NodeKeys {
    pub consensus: SecretKey,
    pub encryption: x25519_dalek::StaticSecret,
}

impl NodeKeys {
    pub fn generate() -> Self {
        Self {
            consensus: SecretKey::generate(),
            encryption: x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng),
        }
    }
    pub fn id(&self) -> NodeId {
        NodeId::from_public_key(&self.consensus.public_key())
    }
    pub fn encryption_public(&self) -> EncryptionKey {
        EncryptionKey(x25519_dalek::PublicKey::from(&self.encryption).to_bytes())
    }
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeKeys(<redacted>, id {})", self.id().short())
    }
}

fn write_secret_file(path: &Path, contents: &str) -> Result<(), KeyError> {
    let shown = path.display().to_string();
    if path.exists() {
        return Err(KeyError::Exists(shown));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| KeyError::Io { path: shown.clone(), source })?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts.open(path).map_err(|source| KeyError::Io { path: shown.clone(), source })?;
    f.write_all(contents.as_bytes()).map_err(|source| KeyError::Io { path: shown, source })
}

fn read_key_file(path: &Path) -> Result<KeyFile, KeyError> {
    let shown = path.display().to_string();
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|source| KeyError::Io { path: shown.clone(), source })?);
    serde_json::from_str(&text).map_err(|e| KeyError::Format { path: shown, reason: e.to_string() })
}

fn hex32(path: &Path, field: &str, s: &str) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let mut out = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(s, out.as_mut()).map_err(|_| KeyError::Format {
        path: path.display().to_string(),
        reason: format!("{field} is not 64 hex digits"),
    })?;
    Ok(out)
}

pub fn save_node_keys(path: &Path, keys: &NodeKeys) -> Result<(), KeyError> {
    let file = KeyFile {
        kind: "node".into(),
        ed25519_seed: hex::encode(*keys.consensus.to_seed()),
        x25519_secret: Some(hex::encode(keys.encryption.to_bytes())),
        public: serde_json::json!({
            "node_id": keys.id().to_string(),
            "consensus_key": keys.consensus.public_key().to_string(),
            "encryption_key": keys.encryption_public().to_string(),
        }),
    };
    let text = Zeroizing::new(serde_json::to_string_pretty(&file).unwrap_or_default());
    write_secret_file(path, &text)
}

pub fn load_node_keys(path: &Path) -> Result<NodeKeys, KeyError> {
    let file = read_key_file(path)?;
    let shown = path.display().to_string();
    if file.kind != "node" {
        return Err(KeyError::Format { path: shown, reason: format!("kind is `{}`, expected `node`", file.kind) });
    }
    let seed = hex32(path, "ed25519_seed", &file.ed25519_seed)?;
    let x = file.x25519_secret.ok_or(KeyError::Format { path: shown, reason: "x25519_secret missing".into() })?;
    let x = hex32(path, "x25519_secret", &x)?;
    Ok(NodeKeys { consensus: SecretKey::from_seed(*seed), encryption: x25519_dalek::StaticSecret::from(*x) })
}

pub fn save_account_key(path: &Path, key: &SecretKey) -> Result<(), KeyError> {
    let file = KeyFile {
        kind: "account".into(),
        ed25519_seed: hex::encode(*key.to_seed()),
        x25519_secret: None,
        public: serde_json::json!({
            "address": Address::from_public_key(&key.public_key()).to_string(),
            "public_key": key.public_key().to_string(),
        }),
    };
    let text = Zeroizing::new(serde_json::to_string_pretty(&file).unwrap_or_default());
    write_secret_file(path, &text)
}

pub fn load_account_key(path: &Path) -> Result<SecretKey, KeyError> {
    let file = read_key_file(path)?;
    if file.kind != "account" {
        return Err(KeyError::Format {
            path: path.display().to_string(),
            reason: format!("kind is `{}`, expected `account`", file.kind),
        });
    }
    let seed = hex32(path, "ed25519_seed", &file.ed25519_seed)?;
    Ok(SecretKey::from_seed(*seed))
}

/// Public key of an account key, for display.
pub fn account_public(key: &SecretKey) -> (PublicKey, Address) {
    let pk = key.public_key();
    (pk, Address::from_public_key(&pk))
}
