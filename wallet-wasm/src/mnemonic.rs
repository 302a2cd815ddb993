//! BIP39 word encoding of 256 bits of entropy: 24 words from the English list, the last
//! carrying an 8-bit SHA-256 checksum. Only the encoding lives here; the seed is
//! PBKDF2-HMAC-SHA512 (in `keys`), and every hash comes from `sha2`.
//!
//! The `bip39` crate does the same for every language and length; for the one the
//! wallet uses, these few lines and the list as plain text keep ~14 KB (gzipped) out of
//! the browser's wasm. Tests hold them to that crate on random entropy, both ways.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The BIP39 English list, one word per line, sorted (its SHA-256 is the one the BIP
/// publishes: 2f5eed53…dbda).
const ENGLISH: &str = include_str!("bip39-english.txt");

/// Words in a phrase of 256-bit entropy: (256 + 8 checksum bits) / 11.
pub const WORDS: usize = 24;

/// Why a phrase does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MnemonicError {
    WordCount(usize),
    /// Not in the list: the word as given.
    UnknownWord(String),
    BadChecksum,
}

fn words() -> &'static [&'static str] {
    static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| ENGLISH.lines().collect())
}

/// Bit `i` of `bytes`, most significant first.
fn bit(bytes: &[u8], i: usize) -> bool {
    bytes[i / 8] >> (7 - i % 8) & 1 == 1
}

/// The 24 words of `entropy`.
pub fn encode(entropy: &[u8; 32]) -> Zeroizing<String> {
    let mut bits = Zeroizing::new([0u8; 33]);
    bits[..32].copy_from_slice(entropy);
    bits[32] = Sha256::digest(entropy)[0];
    let list = words();
    let mut phrase = Zeroizing::new(String::with_capacity(WORDS * 9));
    for w in 0..WORDS {
        let index = (0..11).fold(0usize, |acc, b| acc << 1 | bit(bits.as_ref(), w * 11 + b) as usize);
        if w > 0 {
            phrase.push(' ');
        }
        phrase.push_str(list[index]);
    }
    phrase
}

/// The entropy of a phrase of 24 lowercase words separated by single spaces.
pub fn decode(phrase: &str) -> Result<Zeroizing<[u8; 32]>, MnemonicError> {
    let given: Vec<&str> = phrase.split(' ').collect();
    if given.len() != WORDS {
        return Err(MnemonicError::WordCount(given.len()));
    }
    let list = words();
    let mut bits = Zeroizing::new([0u8; 33]);
    for (w, word) in given.iter().enumerate() {
        let index = list.binary_search(word).map_err(|_| MnemonicError::UnknownWord(word.to_string()))?;
        for b in 0..11 {
            if index >> (10 - b) & 1 == 1 {
                let i = w * 11 + b;
                bits[i / 8] |= 1 << (7 - i % 8);
            }
        }
    }
    let mut entropy = Zeroizing::new([0u8; 32]);
    entropy.copy_from_slice(&bits[..32]);
    if Sha256::digest(entropy.as_ref())[0] != bits[32] {
        return Err(MnemonicError::BadChecksum);
    }
    Ok(entropy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_the_published_english_list() {
        assert_eq!(
            hex::encode(Sha256::digest(ENGLISH)),
            "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"
        );
        assert_eq!(words(), &bip39::Language::English.word_list()[..]);
    }

    #[test]
    fn encodes_and_decodes_as_the_bip39_crate_does() {
        use rand_core::{OsRng, RngCore};
        for _ in 0..200 {
            let mut entropy = [0u8; 32];
            OsRng.fill_bytes(&mut entropy);
            let theirs = bip39::Mnemonic::from_entropy_in(bip39::Language::English, &entropy).unwrap().to_string();
            assert_eq!(*encode(&entropy), theirs);
            assert_eq!(*decode(&theirs).unwrap(), entropy);
        }
        // The BIP's own vector for 32 bytes of 0xff.
        assert_eq!(
            *encode(&[0xff; 32]),
            "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote"
        );
    }

    #[test]
    fn a_wrong_phrase_is_refused_as_the_bip39_crate_refuses_it() {
        let phrase = encode(&[7; 32]);
        let words: Vec<&str> = phrase.split(' ').collect();
        // Every swap of two different words breaks the checksum or is caught as such.
        let mut swapped = words.clone();
        let j = (1..WORDS).find(|j| words[*j] != words[0]).unwrap();
        swapped.swap(0, j);
        let swapped = swapped.join(" ");
        let theirs = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &swapped);
        assert_eq!(decode(&swapped).is_ok(), theirs.is_ok());
        assert_eq!(decode(&words[..23].join(" ")).unwrap_err(), MnemonicError::WordCount(23));
        let mut typo = words.clone();
        typo[5] = "zooo";
        assert_eq!(decode(&typo.join(" ")).unwrap_err(), MnemonicError::UnknownWord("zooo".into()));
    }
}
