//! Key files: a node's Ed25519 consensus key and its two X25519 keys, or an account's
//! Ed25519 key, as JSON written with owner-only permissions.
//!
//! A node has two X25519 key pairs, each from its own 32-byte seed: the HPKE key of
//! sealed requests, derived with HPKE's `DeriveKeyPair` (RFC 9180 §7.1.3, how OHTTP
//! servers make their keys), and the Noise static key of its links to other validators,
//! `H(P2pStaticKey, seed)` clamped by X25519. Both are published in the validator set;
//! a key that opens sealed requests never authenticates a link, and the other way round.

use std::path::Path;

use serde::{Deserialize, Serialize};
use vigil_protocol::{Address, Domain, EncryptionKey, NodeId, P2pKey, PublicKey, SecretKey};
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
    /// Seed of the X25519 HPKE key pair, hex (node keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x25519_seed: Option<String>,
    /// Seed of the X25519 Noise static key pair, hex (node keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p2p_seed: Option<String>,
    /// Written by earlier versions; refused with a hint.
    #[serde(default, skip_serializing)]
    x25519_secret: Option<String>,
    /// Public parts, for humans; recomputed on load.
    public: serde_json::Value,
}

/// A validator's keys.
#[derive(Clone)]
pub struct NodeKeys {
    pub consensus: SecretKey,
    /// Seed of the HPKE key pair (see the module docs).
    encryption_seed: Zeroizing<[u8; 32]>,
    /// HPKE recipient key of sealed requests.
    pub encryption: x25519_dalek::StaticSecret,
    /// Seed of the Noise static key pair.
    p2p_seed: Zeroizing<[u8; 32]>,
    /// Noise static key of links to other validators.
    pub p2p: x25519_dalek::StaticSecret,
}

fn random_seed() -> Zeroizing<[u8; 32]> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rand_core09::RngCore::fill_bytes(&mut crate::os_rng(), seed.as_mut());
    seed
}

impl NodeKeys {
    pub fn generate() -> Self {
        Self::from_seeds(SecretKey::generate(), random_seed(), random_seed())
    }

    pub fn from_seeds(
        consensus: SecretKey,
        encryption_seed: Zeroizing<[u8; 32]>,
        p2p_seed: Zeroizing<[u8; 32]>,
    ) -> Self {
        use hpke::{Kem as _, Serializable as _};
        let (sk, _) = hpke::kem::X25519HkdfSha256::derive_keypair(encryption_seed.as_ref());
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&sk.to_bytes());
        let encryption = x25519_dalek::StaticSecret::from(*bytes);
        let p2p_bytes = Zeroizing::new(vigil_protocol::hash::hash(Domain::P2pStaticKey, p2p_seed.as_ref()).0);
        let p2p = x25519_dalek::StaticSecret::from(*p2p_bytes);
        Self { consensus, encryption_seed, encryption, p2p_seed, p2p }
    }

    /// The seed of the node's encryption key (sealed requests and the forwarding link).
    pub fn encryption_seed(&self) -> &[u8; 32] {
        &self.encryption_seed
    }
    pub fn id(&self) -> NodeId {
        NodeId::from_public_key(&self.consensus.public_key())
    }
    pub fn encryption_public(&self) -> EncryptionKey {
        EncryptionKey(x25519_dalek::PublicKey::from(&self.encryption).to_bytes())
    }
    pub fn p2p_public(&self) -> P2pKey {
        P2pKey(x25519_dalek::PublicKey::from(&self.p2p).to_bytes())
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
        x25519_seed: Some(hex::encode(*keys.encryption_seed)),
        p2p_seed: Some(hex::encode(*keys.p2p_seed)),
        x25519_secret: None,
        public: serde_json::json!({
            "node_id": keys.id().to_string(),
            "consensus_key": keys.consensus.public_key().to_string(),
            "encryption_key": keys.encryption_public().to_string(),
            "p2p_key": keys.p2p_public().to_string(),
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
    let Some(x) = file.x25519_seed else {
        let reason = if file.x25519_secret.is_some() {
            "written by an older vigil (x25519_secret); make new keys with `vigil keygen` or `vigil devnet --reset`"
        } else {
            "x25519_seed missing"
        };
        return Err(KeyError::Format { path: shown, reason: reason.into() });
    };
    let x = hex32(path, "x25519_seed", &x)?;
    let Some(p) = file.p2p_seed else {
        let reason = "written by an older vigil (one X25519 key for Noise and HPKE, no p2p_seed); \
                      make new keys with `vigil keygen` or `vigil devnet --reset`";
        return Err(KeyError::Format { path: shown, reason: reason.into() });
    };
    let p = hex32(path, "p2p_seed", &p)?;
    Ok(NodeKeys::from_seeds(SecretKey::from_seed(*seed), x, p))
}

pub fn save_account_key(path: &Path, key: &SecretKey) -> Result<(), KeyError> {
    let file = KeyFile {
        kind: "account".into(),
        ed25519_seed: hex::encode(*key.to_seed()),
        x25519_seed: None,
        p2p_seed: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_requests_use_the_published_hpke_key_and_noise_a_key_of_its_own() {
        let keys = NodeKeys::generate();
        let config = vigil_protocol::sealed::server_config(keys.encryption_seed()).unwrap().encode().unwrap();
        assert_eq!(config, vigil_protocol::sealed::key_config(&keys.encryption_public()));
        assert_ne!(keys.p2p_public().0, keys.encryption_public().0);
        // One seed for both would still give two keys: each derivation has its own label.
        let same = NodeKeys::from_seeds(SecretKey::generate(), Zeroizing::new([7; 32]), Zeroizing::new([7; 32]));
        assert_ne!(same.p2p_public().0, same.encryption_public().0);
    }

    #[test]
    fn node_keys_round_trip_through_their_file_and_old_files_get_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let keys = NodeKeys::generate();
        save_node_keys(&path, &keys).unwrap();
        assert!(matches!(save_node_keys(&path, &keys), Err(KeyError::Exists(_))));
        let back = load_node_keys(&path).unwrap();
        assert_eq!(back.id(), keys.id());
        assert_eq!(back.encryption_public(), keys.encryption_public());
        assert_eq!(back.p2p_public(), keys.p2p_public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let old = dir.path().join("old.key");
        std::fs::write(
            &old,
            format!(r#"{{"kind":"node","ed25519_seed":"{0}","x25519_secret":"{0}","public":{{}}}}"#, "11".repeat(32)),
        )
        .unwrap();
        let err = load_node_keys(&old).expect_err("refused").to_string();
        assert!(err.contains("vigil devnet --reset"), "{err}");
        // The previous format: one X25519 seed for Noise and HPKE.
        let one_key = dir.path().join("one-key.key");
        std::fs::write(
            &one_key,
            format!(r#"{{"kind":"node","ed25519_seed":"{0}","x25519_seed":"{0}","public":{{}}}}"#, "11".repeat(32)),
        )
        .unwrap();
        let err = load_node_keys(&one_key).expect_err("refused");
        assert!(matches!(err, KeyError::Format { .. }), "{err}");
        assert!(err.to_string().contains("vigil devnet --reset"), "{err}");
    }
}
