//! Wallet keys: a 24-word BIP39 mnemonic (256 bits of entropy, checksum verified on
//! import) and SLIP-10 Ed25519 derivation of accounts at `m/44'/7331'/{account}'/0'/0'`
//! (hardened throughout, as SLIP-10 requires for Ed25519).
//!
//! Secrets live in [`zeroize::Zeroizing`] buffers and are wiped when dropped; `Debug`
//! never prints them.

use ed25519_dalek_bip32::{DerivationPath, ExtendedSigningKey};
use rand_core::CryptoRngCore;
use vigil_protocol::{Address, PublicKey, SecretKey};
use zeroize::Zeroizing;

use crate::mnemonic::MnemonicError;

/// SLIP-44 coin type used in Vigil's derivation path.
pub const COIN_TYPE: u32 = 7331;
/// Words in a Vigil mnemonic.
pub const MNEMONIC_WORDS: usize = 24;
/// Most accounts derived from one wallet.
pub const ACCOUNTS_MAX: u32 = 1 << 20;

/// Why a key operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the recovery phrase has {0} words; a Vigil phrase has 24")]
    WordCount(usize),
    #[error("`{0}` is not a word of the BIP39 English list")]
    UnknownWord(String),
    #[error("the recovery phrase's checksum does not match: a word is wrong or out of order")]
    BadChecksum,
    #[error("account index {0} is out of range (0 to {max})", max = ACCOUNTS_MAX - 1)]
    AccountIndex(u32),
    #[error("key derivation failed: {0}")]
    Derivation(String),
}

/// The wallet's root secret: the mnemonic's entropy.
pub struct WalletSeed {
    entropy: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for WalletSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WalletSeed(<secret>)")
    }
}

/// One derived account.
pub struct Account {
    pub index: u32,
    pub key: SecretKey,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Account({}, {})", self.index, self.address())
    }
}

impl Account {
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }
    pub fn address(&self) -> Address {
        Address::from_public_key(&self.key.public_key())
    }
}

impl WalletSeed {
    /// A new wallet from `rng` (the platform's CSPRNG).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut entropy = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(entropy.as_mut());
        Self { entropy }
    }

    /// From stored entropy (the keystore's plaintext).
    pub fn from_entropy(entropy: Zeroizing<[u8; 32]>) -> Self {
        Self { entropy }
    }

    /// A second handle on the same seed (for work that outlives a borrow).
    pub fn duplicate(&self) -> Self {
        Self { entropy: Zeroizing::new(*self.entropy) }
    }

    pub fn entropy(&self) -> &[u8; 32] {
        &self.entropy
    }

    /// Imports a recovery phrase: 24 English BIP39 words, checksum verified. Case and
    /// surrounding whitespace are forgiven; anything else is a clear error.
    pub fn from_phrase(phrase: &str) -> Result<Self, KeyError> {
        // The English list is ASCII: ASCII case folding is all a phrase needs (and keeps
        // Unicode's case tables out of the wasm). Anything else is an unknown word.
        let normalized =
            Zeroizing::new(phrase.split_whitespace().map(str::to_ascii_lowercase).collect::<Vec<_>>().join(" "));
        let count = normalized.split(' ').filter(|w| !w.is_empty()).count();
        if count != MNEMONIC_WORDS {
            return Err(KeyError::WordCount(count));
        }
        let entropy = crate::mnemonic::decode(&normalized).map_err(|e| match e {
            MnemonicError::UnknownWord(w) => KeyError::UnknownWord(w),
            MnemonicError::BadChecksum => KeyError::BadChecksum,
            MnemonicError::WordCount(n) => KeyError::WordCount(n),
        })?;
        Ok(Self { entropy })
    }

    /// The 24-word recovery phrase.
    pub fn phrase(&self) -> Zeroizing<String> {
        crate::mnemonic::encode(&self.entropy)
    }

    /// Account `index`: SLIP-10 Ed25519 at `m/44'/7331'/{index}'/0'/0'` from the BIP39
    /// seed (empty passphrase).
    pub fn account(&self, index: u32) -> Result<Account, KeyError> {
        if index >= ACCOUNTS_MAX {
            return Err(KeyError::AccountIndex(index));
        }
        // The BIP39 seed: PBKDF2-HMAC-SHA512 of the phrase, salt "mnemonic" (empty
        // passphrase), 2048 rounds. English words are ASCII, so the phrase is already in
        // NFKD. (Computed with `sha2`, which signing already links, not bip39's own SHA-2.)
        let phrase = self.phrase();
        let mut seed = Zeroizing::new([0u8; 64]);
        pbkdf2::pbkdf2_hmac::<sha2::Sha512>(phrase.as_bytes(), b"mnemonic", 2048, seed.as_mut());
        let path: DerivationPath = format!("m/44'/{COIN_TYPE}'/{index}'/0'/0'").parse().map_err(
            |e: ed25519_dalek_bip32::derivation_path::DerivationPathParseError| KeyError::Derivation(e.to_string()),
        )?;
        let extended = ExtendedSigningKey::from_seed(seed.as_ref())
            .and_then(|root| root.derive(&path))
            .map_err(|e| KeyError::Derivation(e.to_string()))?;
        let secret = Zeroizing::new(extended.signing_key.to_bytes());
        Ok(Account { index, key: SecretKey::from_seed(*secret) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABANDON_ART: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
        abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art";

    #[test]
    fn a_new_phrase_imports_back_to_the_same_accounts() {
        let w = WalletSeed::generate(&mut rand_core::OsRng);
        let phrase = w.phrase();
        assert_eq!(phrase.split(' ').count(), 24);
        let back = WalletSeed::from_phrase(&format!("  {}  ", phrase.to_uppercase())).unwrap();
        for i in [0, 1, 7] {
            assert_eq!(back.account(i).unwrap().address(), w.account(i).unwrap().address());
        }
        assert_ne!(w.account(0).unwrap().address(), w.account(1).unwrap().address());
    }

    #[test]
    fn slip10_derivation_matches_its_published_vector() {
        // SLIP-10 test vector 1 for ed25519, chain m/0'/1'/2'/2'/1000000000'.
        let seed = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let path: DerivationPath = "m/0'/1'/2'/2'/1000000000'".parse().unwrap();
        let key = ExtendedSigningKey::from_seed(&seed).unwrap().derive(&path).unwrap();
        assert_eq!(
            hex::encode(key.signing_key.to_bytes()),
            "8f94d394a8e8fd6b1bc2f3f49f5c47e385281d5c17e65324b0f62483e37e8793"
        );
    }

    #[test]
    fn the_all_abandon_phrase_gives_the_keys_other_wallets_derive() {
        // Public keys computed independently with the npm packages `bip39` and
        // `ed25519-hd-key` (as used by other Ed25519 wallets) for the same path: the whole
        // chain (BIP39 seed → SLIP-10 → Ed25519) is pinned, so a dependency upgrade can
        // never silently move users' funds to other addresses.
        let w = WalletSeed::from_phrase(ABANDON_ART).unwrap();
        assert_eq!(w.entropy(), &[0u8; 32]);
        assert_eq!(
            w.account(0).unwrap().public_key().to_string(),
            "16db5d576994e41697c0988daf3211566b1f024d5ff67dbee9265b4d2d030949"
        );
        assert_eq!(
            w.account(1).unwrap().public_key().to_string(),
            "369b73cf5d6703fcf931968150be58aff39941cf4be0f79b1a42e2bfb0edd3df"
        );
    }

    #[test]
    fn bad_phrases_get_their_own_errors() {
        let words: Vec<&str> = ABANDON_ART.split_whitespace().collect();
        assert_eq!(WalletSeed::from_phrase(&words[..12].join(" ")).unwrap_err(), KeyError::WordCount(12));
        let mut typo = words.clone();
        typo[3] = "abandonn";
        assert_eq!(WalletSeed::from_phrase(&typo.join(" ")).unwrap_err(), KeyError::UnknownWord("abandonn".into()));
        let mut swapped = words.clone();
        swapped.swap(0, 23);
        assert_eq!(WalletSeed::from_phrase(&swapped.join(" ")).unwrap_err(), KeyError::BadChecksum);
        assert_eq!(
            WalletSeed::generate(&mut rand_core::OsRng).account(ACCOUNTS_MAX).unwrap_err(),
            KeyError::AccountIndex(ACCOUNTS_MAX)
        );
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let w = WalletSeed::generate(&mut rand_core::OsRng);
        assert_eq!(format!("{w:?}"), "WalletSeed(<secret>)");
        let a = w.account(0).unwrap();
        assert!(!format!("{a:?}").contains(&hex::encode(*a.key.to_seed())));
    }
}
