//! Reading an answer from a JSON object with less code than `#[derive(Deserialize)]`
//! compiles to: the derived visitor also reads a struct from a JSON array and matches
//! field names as strings and bytes, once per type; the browser wallet links one copy
//! of each and pays for it in download size. [`answer!`](crate::answer) declares the
//! struct once — the wire names are its field names, as the derive would have them —
//! derives `Serialize`, and reads it from a map only, unknown fields skipped (as the
//! derive does), an absent `Option` field read as `None` and a field given twice
//! refused (as the derive does), any other absent field an error.

use serde::de::{Error, MapAccess};

/// What an absent field reads as: `None` for an `Option`, a "missing field" error
/// for a required one.
pub trait Absent: Sized {
    fn absent<E: Error>(field: &'static str) -> Result<Self, E>;
}

impl<T> Absent for Option<T> {
    fn absent<E: Error>(_: &'static str) -> Result<Self, E> {
        Ok(None)
    }
}

macro_rules! required {
    ($($t:ty),* $(,)?) => {$(
        impl Absent for $t {
            fn absent<E: Error>(field: &'static str) -> Result<Self, E> {
                Err(E::missing_field(field))
            }
        }
    )*};
}

required!(
    u16,
    u32,
    u64,
    bool,
    String,
    crate::Hex,
    crate::ErrorCode,
    crate::ErrorDetail,
    crate::ProvenStates,
    vigil_protocol::Height,
    vigil_protocol::NodeId,
    vigil_protocol::TxHash,
);

impl<T> Absent for Vec<T> {
    fn absent<E: Error>(field: &'static str) -> Result<Self, E> {
        Err(E::missing_field(field))
    }
}

/// The next key of `map`, as the position of its name in `fields` (`Some(None)`: a
/// field the type does not have, whose value is skipped here). Not generic over the
/// type read, so one copy serves them all.
pub fn next_field<'de, A: MapAccess<'de>>(map: &mut A, fields: &[&str]) -> Result<Option<Option<usize>>, A::Error> {
    let Some(key) = map.next_key::<String>()? else { return Ok(None) };
    let index = fields.iter().position(|f| *f == key);
    if index.is_none() {
        map.next_value::<serde::de::IgnoredAny>()?;
    }
    Ok(Some(index))
}

/// Declares an answer struct: `Serialize` derived, `Deserialize` from a map only (see
/// the module). Field attributes are `serde`'s, for `Serialize`.
#[macro_export]
macro_rules! answer {
    (
        $(#[$meta:meta])*
        pub struct $name:ident $(<$g:ident>)? {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
        pub struct $name $(<$g>)? { $( $(#[$fmeta])* pub $field: $ty, )* }

        impl<'de $(, $g: serde::Deserialize<'de>)?> serde::Deserialize<'de> for $name $(<$g>)? {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Fields $(<$g>)? (core::marker::PhantomData<($($g,)?)>);
                impl<'de $(, $g: serde::Deserialize<'de>)?> serde::de::Visitor<'de> for Fields $(<$g>)? {
                    type Value = $name $(<$g>)?;
                    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " object"))
                    }
                    #[allow(non_snake_case)]
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                        const FIELDS: &[&str] = &[$(stringify!($field)),*];
                        $( let mut $field: Option<$ty> = None; )*
                        while let Some(index) = $crate::compact::next_field(&mut map, FIELDS)? {
                            let mut at = 0usize;
                            $(
                                if index == Some(at) {
                                    if $field.is_some() {
                                        return Err(serde::de::Error::duplicate_field(stringify!($field)));
                                    }
                                    $field = Some(map.next_value()?);
                                }
                                at += 1;
                            )*
                            let _ = at;
                        }
                        Ok($name {
                            $( $field: match $field {
                                Some(v) => v,
                                None => <$ty as $crate::compact::Absent>::absent(stringify!($field))?,
                            }, )*
                        })
                    }
                }
                d.deserialize_map(Fields(core::marker::PhantomData))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::{ErrorCode, ProvenState, ReceiptAnswer};

    fn state(extra: &str) -> Result<ProvenState, serde_json::Error> {
        serde_json::from_str(&format!(r#"{{"height": 3, "state_key_bcs": "00", "proof_bcs": "01"{extra}}}"#))
    }

    #[test]
    fn absent_options_read_as_none_and_unknown_fields_are_skipped() {
        let s = state(r#", "balance": {"nested": [1, 2]}, "value_bcs": "ab""#).unwrap();
        assert_eq!((s.height.0, s.value_bcs.map(|h| h.0), s.certified_header_bcs), (3, Some(vec![0xab]), None));
    }

    #[test]
    fn a_missing_required_field_or_a_field_given_twice_is_refused() {
        let missing = serde_json::from_str::<ProvenState>(r#"{"height": 3, "state_key_bcs": "00"}"#).unwrap_err();
        assert!(missing.to_string().contains("missing field `proof_bcs`"), "{missing}");
        let twice = state(r#", "height": 4"#).unwrap_err();
        assert!(twice.to_string().contains("duplicate field `height`"), "{twice}");
        let wrong = state(r#", "value_bcs": 7"#).unwrap_err();
        assert!(wrong.is_data(), "{wrong}");
        assert!(serde_json::from_str::<ProvenState>(r#"[3, "00", null, "01", null]"#).is_err(), "objects only");
    }

    #[test]
    fn what_is_written_reads_back() {
        let a = ReceiptAnswer {
            tx_hash: vigil_protocol::Hash32([7; 32]),
            receipt_bcs: crate::Hex(vec![1, 2, 3]),
            error: Some(crate::ErrorDetail { code: ErrorCode::AlreadyCommitted, message: "again".into() }),
        };
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<ReceiptAnswer>(&text).unwrap(), a);
        let none = ReceiptAnswer { error: None, ..a };
        let text = serde_json::to_string(&none).unwrap();
        assert!(!text.contains("error"), "{text}");
        assert_eq!(serde_json::from_str::<ReceiptAnswer>(&text).unwrap(), none);
    }
}
