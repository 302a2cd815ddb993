//! Account addresses: 20 bytes derived from an Ed25519 key, shown as bech32m with the
//! human-readable prefix `vigil` (e.g. `vigil1…`). The checksum catches typos: a
//! mistyped address is rejected, never sent to.

use bech32::{primitives::decode::CheckedHrpstring, Bech32m, Hrp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::crypto::PublicKey;
use crate::hash::{hash, Domain};

/// Human-readable prefix of every address.
pub const ADDRESS_HRP: &str = "vigil";

/// Why a string is not a Vigil address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("not a bech32m string with a valid checksum (check for typos): {0}")]
    Checksum(String),
    #[error("address must start with `{ADDRESS_HRP}1`, found prefix `{0}`")]
    WrongPrefix(String),
    #[error("address must hold 20 bytes, found {0}")]
    WrongLength(usize),
}

/// An account address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address of an account key: the first 20 bytes of its domain-separated hash.
    pub fn from_public_key(key: &PublicKey) -> Self {
        let digest = hash(Domain::Address, key.as_bytes());
        let mut out = [0u8; 20];
        out.copy_from_slice(&digest.0[..20]);
        Self(out)
    }

    /// Parses the bech32m form, checking prefix, checksum and length.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let checked = CheckedHrpstring::new::<Bech32m>(s).map_err(|e| AddressError::Checksum(e.to_string()))?;
        if checked.hrp().as_str() != ADDRESS_HRP {
            return Err(AddressError::WrongPrefix(checked.hrp().to_string()));
        }
        let data: Vec<u8> = checked.byte_iter().collect();
        let bytes: [u8; 20] = data.as_slice().try_into().map_err(|_| AddressError::WrongLength(data.len()))?;
        Ok(Self(bytes))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The HRP is a valid constant and 20 bytes are far below bech32m's length limit,
        // so encoding cannot fail; fall back to hex rather than panic regardless.
        match Hrp::parse(ADDRESS_HRP).ok().and_then(|hrp| bech32::encode::<Bech32m>(hrp, &self.0).ok()) {
            Some(s) => f.write_str(&s),
            None => write!(f, "0x{}", hex::encode(self.0)),
        }
    }
}

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Address({self})")
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            crate::bytes::serialize(&self.0, s)
        }
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Self::parse(&s).map_err(serde::de::Error::custom)
        } else {
            crate::bytes::deserialize(d).map(Self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;

    fn sample() -> Address {
        Address::from_public_key(&SecretKey::from_seed([3; 32]).public_key())
    }

    #[test]
    fn address_round_trips_through_bech32m() {
        let a = sample();
        let s = a.to_string();
        assert!(s.starts_with("vigil1"), "{s}");
        assert_eq!(Address::parse(&s).unwrap(), a);
    }

    #[test]
    fn a_single_typo_is_caught_by_the_checksum() {
        let s = sample().to_string();
        let mut chars: Vec<char> = s.chars().collect();
        let i = chars.len() - 3;
        chars[i] = if chars[i] == 'q' { 'p' } else { 'q' };
        let typo: String = chars.into_iter().collect();
        assert!(matches!(Address::parse(&typo), Err(AddressError::Checksum(_))));
    }

    #[test]
    fn bech32_with_another_prefix_is_rejected() {
        let other = bech32::encode::<Bech32m>(Hrp::parse("cosmos").unwrap(), &[0u8; 20]).unwrap();
        assert_eq!(Address::parse(&other), Err(AddressError::WrongPrefix("cosmos".into())));
    }

    #[test]
    fn wrong_length_payload_is_rejected() {
        let short = bech32::encode::<Bech32m>(Hrp::parse(ADDRESS_HRP).unwrap(), &[0u8; 19]).unwrap();
        assert_eq!(Address::parse(&short), Err(AddressError::WrongLength(19)));
    }

    #[test]
    fn legacy_bech32_checksum_is_rejected() {
        let legacy = bech32::encode::<bech32::Bech32>(Hrp::parse(ADDRESS_HRP).unwrap(), &[0u8; 20]).unwrap();
        assert!(matches!(Address::parse(&legacy), Err(AddressError::Checksum(_))));
    }

    #[test]
    fn json_uses_the_bech32m_form() {
        let a = sample();
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
    }
}
