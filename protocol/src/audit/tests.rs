//! The audit shapes: canonical round trips, and random or mutated bytes into every
//! decoder never panic (a node reads uploads and transactions from anyone).

use proptest::prelude::*;

use super::*;
use crate::encoding::{from_bytes, to_bytes};
use crate::{Address, Hash32, Height, SecretKey};

fn owner() -> SecretKey {
    SecretKey::from_seed([7; 32])
}

prop_compose! {
    fn record()(seq in any::<u64>(), at in any::<u64>(), q in any::<u64>(), a in any::<u64>(), second in any::<bool>(), memo in "[a-z ]{0,20}") -> Record {
        let target = TargetId::of(&Address::from_public_key(&owner().public_key()), "t");
        let counterparty = second.then(|| Address::from_public_key(&SecretKey::from_seed([8; 32]).public_key()));
        let dimension = if second { Dimension::Second } else { Dimension::First };
        Record { target, dimension, seq, at: Height(at), counterparty, quantity: q, amount: a, memo }
    }
}

prop_compose! {
    fn submit()(from in 0u64..1_000, len in 0u64..1_000, claims in prop::collection::vec((any::<u64>(), any::<u64>(), any::<u64>()), 0..5), count in any::<u64>()) -> SubmitAudit {
        let claims = claims
            .into_iter()
            .enumerate()
            .map(|(i, (quantity, amount, rows))| Claim {
                counterparty: Address::from_public_key(&SecretKey::from_seed([i as u8 + 10; 32]).public_key()),
                quantity, amount, rows,
            })
            .collect();
        SubmitAudit {
            target: TargetId(Hash32([1; 32])),
            period: AuditPeriod { from: Height(from), to: Height(from + len) },
            data: [DataDigest { from_seq: 0, count, root: Hash32([2; 32]) }; 2],
            claims,
            deadline: Height(from + len + 10),
        }
    }
}

fn round_trips<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    v: &T,
) -> Result<(), TestCaseError> {
    let bytes = to_bytes(v);
    prop_assert_eq!(&from_bytes::<T>(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?, v);
    Ok(())
}

/// Every decoder of what strangers send, on `bytes`: a value or an error, never a panic.
fn decode_all(bytes: &[u8]) {
    let _ = from_bytes::<SignedRecord>(bytes);
    let _ = from_bytes::<RecordUpload>(bytes);
    let _ = from_bytes::<SubmitAudit>(bytes);
    let _ = from_bytes::<AuditNotice>(bytes);
    let _ = from_bytes::<RegisterTarget>(bytes);
    let _ = from_bytes::<RecordTrade>(bytes);
    let _ = from_bytes::<AuditRecord>(bytes);
    let _ = from_bytes::<Target>(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn audit_shapes_round_trip(r in record(), s in submit(), reason in "[a-z]{1,20}") {
        let signed = r.clone().sign(&owner());
        round_trips(&signed)?;
        prop_assert_eq!(SignedRecord::verify_all(std::slice::from_ref(&signed), &owner().public_key()), Ok(()));
        let leaves = SignedRecord::verify_with_leaves(std::slice::from_ref(&signed), &owner().public_key());
        prop_assert_eq!(leaves, Ok(vec![signed.leaf()]), "one encoding gives the same leaf");
        round_trips(&RecordUpload { records: vec![signed] })?;
        round_trips(&s)?;
        let notice = AuditNotice { target: s.target, audit: 3, period: s.period, notice: Notice::Refuse { claim: 0, reason } };
        round_trips(&notice)?;
        round_trips(&AuditRecord::new(s, Height(5), [0, 4], vec![1, 2], AuditCondition::default()))?;
    }

    #[test]
    fn random_and_mutated_bytes_never_panic(noise in prop::collection::vec(any::<u8>(), 0..512), s in submit(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        decode_all(&noise);
        let mut bytes = to_bytes(&s);
        for (at, b) in flips {
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] ^= b;
            }
        }
        decode_all(&bytes);
        decode_all(&bytes[..bytes.len() / 2]);
    }
}
