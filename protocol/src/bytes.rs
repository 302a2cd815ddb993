//! Serde for fixed-size byte newtypes: raw bytes in BCS (canonical, compact), lower-case
//! hex strings in human-readable formats (JSON at the HTTP edge).

use serde::{de, Deserializer, Serializer};

/// Lower-case hex, written in one pass into a buffer of the final size (`hex::encode`
/// collects a `String` a character at a time; a node writes every hash and signature of
/// its JSON answers through here).
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    // Cannot fail: the buffer is exactly twice the input, and hex digits are ASCII.
    let _ = hex::encode_to_slice(bytes, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

pub(crate) fn serialize<S: Serializer, const N: usize>(bytes: &[u8; N], serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.serialize_str(&to_hex(bytes))
    } else {
        serializer.serialize_bytes(bytes)
    }
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(deserializer: D) -> Result<[u8; N], D::Error> {
    struct Visitor<const N: usize>;
    impl<const N: usize> de::Visitor<'_> for Visitor<N> {
        type Value = [u8; N];
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "{N} bytes (or {} hex digits)", N * 2)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let mut out = [0u8; N];
            hex::decode_to_slice(v, &mut out).map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))?;
            Ok(out)
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
            v.try_into().map_err(|_| E::invalid_length(v.len(), &self))
        }
        fn visit_borrowed_bytes<E: de::Error>(self, v: &'_ [u8]) -> Result<Self::Value, E> {
            self.visit_bytes(v)
        }
        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
            self.visit_bytes(&v)
        }
    }
    if deserializer.is_human_readable() {
        deserializer.deserialize_str(Visitor::<N>)
    } else {
        deserializer.deserialize_bytes(Visitor::<N>)
    }
}

/// Declares a `Copy` newtype over `[u8; N]` with hex `Display`/`Debug`/`FromStr` and the
/// serde rules above.
macro_rules! byte_newtype {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&$crate::bytes::to_hex(&self.0))
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), ::hex::encode(&self.0[..8]))
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::hex::FromHexError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut out = [0u8; $len];
                ::hex::decode_to_slice(s, &mut out)?;
                Ok(Self(out))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::bytes::serialize(&self.0, s)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::bytes::deserialize(d).map(Self)
            }
        }
    };
}
pub(crate) use byte_newtype;

#[cfg(test)]
mod tests {
    #[test]
    fn to_hex_is_lower_case_hex_of_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(super::to_hex(&all), hex::encode(&all));
        assert_eq!(super::to_hex(&[0xab, 0x01]), "ab01");
        assert_eq!(super::to_hex(&[]), "");
    }
}
