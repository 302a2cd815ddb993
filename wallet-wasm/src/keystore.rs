//! The encrypted keystore: the wallet's entropy sealed with XChaCha20-Poly1305 under a
//! key stretched from the password with Argon2id, in a versioned JSON document (in the
//! spirit of Ethereum's Web3 Secret Storage). The KDF parameters live in the file, and
//! the whole header is authenticated: changing a parameter makes decryption fail like a
//! wrong password, never produce garbage.
//!
//! ```json
//! { "version": 1, "kdf": { "name": "argon2id", "m_cost_kib": 65536, "t_cost": 3,
//!   "p_cost": 1, "salt": "…" }, "cipher": { "name": "xchacha20poly1305", "nonce": "…" },
//!   "ciphertext": "…", "address": "vigil1…" }
//! ```

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keys::WalletSeed;

/// The keystore format this code writes.
pub const KEYSTORE_VERSION: u32 = 1;
/// Argon2id memory for new keystores (KiB): 64 MiB, t = 3, p = 1 (OWASP's first
/// recommended set is 46 MiB, t = 1).
pub const DEFAULT_M_COST_KIB: u32 = 64 * 1024;
pub const DEFAULT_T_COST: u32 = 3;
/// Bounds on parameters read from a file, so that a hostile file cannot make the
/// wallet allocate or spin without end.
pub const M_COST_MAX_KIB: u32 = 1024 * 1024;
pub const T_COST_MAX: u32 = 64;
/// Shortest password accepted for a new keystore.
pub const PASSWORD_MIN_CHARS: usize = 8;

/// Why a keystore could not be made or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeystoreError {
    #[error("wrong password (or the keystore was changed)")]
    WrongPassword,
    #[error("the password is too short: use at least {PASSWORD_MIN_CHARS} characters")]
    WeakPassword,
    #[error("not a Vigil keystore: {0}")]
    Format(String),
    #[error("keystore version {0} is not supported by this wallet (it reads version {KEYSTORE_VERSION})")]
    Version(u32),
    #[error("keystore KDF parameters are out of bounds: {0}")]
    Parameters(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    pub name: String,
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
    /// 16 random bytes, hex.
    pub salt: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CipherParams {
    pub name: String,
    /// 24 random bytes, hex.
    pub nonce: String,
}

/// A keystore document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keystore {
    pub version: u32,
    pub kdf: KdfParams,
    pub cipher: CipherParams,
    /// Encrypted entropy with its tag, hex.
    pub ciphertext: String,
    /// Address of account 0, for display before unlocking.
    pub address: String,
}

fn hex_bytes<const N: usize>(s: &str, what: &str) -> Result<[u8; N], KeystoreError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| KeystoreError::Format(format!("{what} must be {N} bytes of hex")))?;
    Ok(out)
}

impl Keystore {
    /// Encrypts `seed` under `password` with the default parameters, salt and nonce from
    /// `rng` (the platform's CSPRNG).
    pub fn seal(seed: &WalletSeed, password: &str, rng: &mut impl CryptoRngCore) -> Result<Self, KeystoreError> {
        Self::seal_with(seed, password, DEFAULT_M_COST_KIB, DEFAULT_T_COST, rng)
    }

    /// Encrypts with chosen Argon2id memory (KiB) and passes.
    pub fn seal_with(
        seed: &WalletSeed,
        password: &str,
        m_cost_kib: u32,
        t_cost: u32,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, KeystoreError> {
        if password.chars().count() < PASSWORD_MIN_CHARS {
            return Err(KeystoreError::WeakPassword);
        }
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 24];
        rng.fill_bytes(&mut salt);
        rng.fill_bytes(&mut nonce);
        let address = seed.account(0).map_err(|e| KeystoreError::Format(e.to_string()))?.address().to_string();
        let mut ks = Self {
            version: KEYSTORE_VERSION,
            kdf: KdfParams { name: "argon2id".into(), m_cost_kib, t_cost, p_cost: 1, salt: hex::encode(salt) },
            cipher: CipherParams { name: "xchacha20poly1305".into(), nonce: hex::encode(nonce) },
            ciphertext: String::new(),
            address,
        };
        let key = ks.derive_key(password)?;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: seed.entropy(), aad: &ks.header() })
            .map_err(|_| KeystoreError::Format("encryption failed".into()))?;
        ks.ciphertext = hex::encode(sealed);
        Ok(ks)
    }

    /// Whether this keystore's key derivation is cheaper than the defaults (an older or
    /// imported file): a wallet re-seals it with the defaults once it is unlocked.
    pub fn is_weaker_than_default(&self) -> bool {
        self.kdf.m_cost_kib < DEFAULT_M_COST_KIB || self.kdf.t_cost < DEFAULT_T_COST
    }

    /// Decrypts the wallet's seed.
    pub fn open(&self, password: &str) -> Result<WalletSeed, KeystoreError> {
        self.check()?;
        let nonce: [u8; 24] = hex_bytes(&self.cipher.nonce, "cipher.nonce")?;
        let sealed =
            hex::decode(&self.ciphertext).map_err(|_| KeystoreError::Format("ciphertext must be hex".into()))?;
        let key = self.derive_key(password)?;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let plain = Zeroizing::new(
            cipher
                .decrypt(XNonce::from_slice(&nonce), Payload { msg: &sealed, aad: &self.header() })
                .map_err(|_| KeystoreError::WrongPassword)?,
        );
        let mut entropy = Zeroizing::new([0u8; 32]);
        if plain.len() != 32 {
            return Err(KeystoreError::Format("the sealed seed has the wrong length".into()));
        }
        entropy.copy_from_slice(&plain);
        Ok(WalletSeed::from_entropy(entropy))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Self, KeystoreError> {
        if text.len() > 64 * 1024 {
            return Err(KeystoreError::Format("the file is far larger than a keystore".into()));
        }
        let ks: Self = serde_json::from_slice(text.as_bytes()).map_err(|e| KeystoreError::Format(e.to_string()))?;
        ks.check()?;
        Ok(ks)
    }

    fn check(&self) -> Result<(), KeystoreError> {
        if self.version != KEYSTORE_VERSION {
            return Err(KeystoreError::Version(self.version));
        }
        if self.kdf.name != "argon2id" || self.cipher.name != "xchacha20poly1305" {
            return Err(KeystoreError::Format(format!(
                "unknown kdf `{}` or cipher `{}`",
                self.kdf.name, self.cipher.name
            )));
        }
        let k = &self.kdf;
        if !(8..=M_COST_MAX_KIB).contains(&k.m_cost_kib) || !(1..=T_COST_MAX).contains(&k.t_cost) || k.p_cost != 1 {
            return Err(KeystoreError::Parameters(format!(
                "m_cost_kib {} (8 to {M_COST_MAX_KIB}), t_cost {} (1 to {T_COST_MAX}), p_cost {} (1)",
                k.m_cost_kib, k.t_cost, k.p_cost
            )));
        }
        Ok(())
    }

    /// What the AEAD authenticates besides the seed: every parameter of the file.
    fn header(&self) -> Vec<u8> {
        format!(
            "vigil-keystore/{}/{}/{}/{}/{}/{}/{}/{}",
            self.version,
            self.kdf.name,
            self.kdf.m_cost_kib,
            self.kdf.t_cost,
            self.kdf.p_cost,
            self.kdf.salt,
            self.cipher.name,
            self.address
        )
        .into_bytes()
    }

    fn derive_key(&self, password: &str) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
        let salt: [u8; 16] = hex_bytes(&self.kdf.salt, "kdf.salt")?;
        let params = Params::new(self.kdf.m_cost_kib, self.kdf.t_cost, self.kdf.p_cost, Some(32))
            .map_err(|e| KeystoreError::Parameters(e.to_string()))?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(password.as_bytes(), &salt, key.as_mut())
            .map_err(|e| KeystoreError::Parameters(e.to_string()))?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    // Small parameters keep the tests quick; the format and checks are the same.
    fn sealed() -> (WalletSeed, Keystore) {
        let seed = WalletSeed::generate(&mut rand_core::OsRng);
        let ks = Keystore::seal_with(&seed, "correct horse battery", 64, 1, &mut rand_core::OsRng).unwrap();
        (seed, ks)
    }

    /// Known answer: a fixed seed, password, parameters and generator give these bytes,
    /// whatever platform runs the wallet (and a change of format cannot go unnoticed).
    #[test]
    fn sealing_under_injected_randomness_gives_the_known_keystore() {
        let seed = WalletSeed::from_entropy(Zeroizing::new([1; 32]));
        let ks =
            Keystore::seal_with(&seed, "correct horse battery", 64, 1, &mut ChaCha20Rng::from_seed([2; 32])).unwrap();
        assert_eq!(ks.kdf.salt, KAT_SALT);
        assert_eq!(ks.cipher.nonce, KAT_NONCE);
        assert_eq!(ks.ciphertext, KAT_CIPHERTEXT);
        assert_eq!(ks.open("correct horse battery").unwrap().entropy(), &[1; 32]);
        let again =
            Keystore::seal_with(&seed, "correct horse battery", 64, 1, &mut ChaCha20Rng::from_seed([3; 32])).unwrap();
        assert_ne!(again.ciphertext, ks.ciphertext, "another generator, another salt and nonce");
    }

    const KAT_SALT: &str = "f6a12ca8ffc30a66ca140ccc72763361";
    const KAT_NONCE: &str = "15819361186d3f535dd99f8eaaca8fce7f82dd63f4f75c33";
    const KAT_CIPHERTEXT: &str =
        "2a8da3bbcb8dd183da1a0e15f027f8b3258350e2322f1fe4648378740eb10e688499f44e7694e206b6c83d8b776d3ba9";

    #[test]
    fn a_keystore_opens_with_its_password_after_a_json_round_trip() {
        let (seed, ks) = sealed();
        let back = Keystore::from_json(&ks.to_json()).unwrap();
        assert_eq!(back, ks);
        let opened = back.open("correct horse battery").unwrap();
        assert_eq!(opened.entropy(), seed.entropy());
        assert_eq!(ks.address, seed.account(0).unwrap().address().to_string());
        assert!(!ks.to_json().contains(&hex::encode(seed.entropy())));
    }

    /// Finding 13 of the soundness review (in part): on 35b51aa a keystore with weak KDF
    /// parameters (from another tool or an old version) stayed weak for ever.
    #[test]
    fn a_keystore_below_the_default_key_derivation_is_marked_for_resealing() {
        let (_, weak) = sealed();
        assert!(weak.is_weaker_than_default());
        let mut strong = weak.clone();
        (strong.kdf.m_cost_kib, strong.kdf.t_cost) = (DEFAULT_M_COST_KIB, DEFAULT_T_COST);
        assert!(!strong.is_weaker_than_default());
    }

    #[test]
    fn a_wrong_password_or_a_changed_file_is_a_clear_error() {
        let (_, ks) = sealed();
        assert_eq!(ks.open("correct horse battery!").unwrap_err(), KeystoreError::WrongPassword);
        let mut other = ks.clone();
        other.kdf.t_cost = 2;
        assert_eq!(other.open("correct horse battery").unwrap_err(), KeystoreError::WrongPassword);
        let mut other = ks.clone();
        other.address = "vigil1someoneelse".into();
        assert_eq!(other.open("correct horse battery").unwrap_err(), KeystoreError::WrongPassword);
        let mut other = ks.clone();
        other.version = 2;
        assert_eq!(other.open("x").unwrap_err(), KeystoreError::Version(2));
        let mut other = ks;
        other.kdf.m_cost_kib = u32::MAX;
        assert!(matches!(other.open("correct horse battery"), Err(KeystoreError::Parameters(_))));
    }

    #[test]
    fn weak_passwords_and_foreign_files_are_refused() {
        assert_eq!(
            Keystore::seal(&WalletSeed::generate(&mut rand_core::OsRng), "short", &mut rand_core::OsRng).unwrap_err(),
            KeystoreError::WeakPassword
        );
        assert!(matches!(Keystore::from_json("{}"), Err(KeystoreError::Format(_))));
        assert!(matches!(Keystore::from_json("not json"), Err(KeystoreError::Format(_))));
    }
}
