//! The vault's erasure code: one stripe of `k` original shards coded into `n` (the `k`
//! originals, then `n − k` recovery shards; Reed–Solomon over GF(2¹⁶), the
//! `reed-solomon-simd` crate), any `k` of which rebuild the others. One definition for
//! the wallet, which splits and rebuilds objects, and the node, which rebuilds the
//! shards it lost from the other stores.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErasureError {
    #[error("{have} intact shards of the stripe, {need} needed")]
    NotEnough { have: usize, need: usize },
    #[error("shard index {index} is not below n = {n}")]
    Index { index: u8, n: usize },
    #[error("erasure code: {0}")]
    Code(String),
}

fn code(e: reed_solomon_simd::Error) -> ErasureError {
    ErasureError::Code(e.to_string())
}

/// The `n` shards of a stripe: `originals` (k of one size), then `n − k` recovery shards.
pub fn encode(n: usize, mut originals: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, ErasureError> {
    let k = originals.len();
    let recovery = reed_solomon_simd::encode(k, n.saturating_sub(k), &originals).map_err(code)?;
    originals.extend(recovery);
    Ok(originals)
}

/// The `k` originals of a stripe from the intact shards at hand (index → bytes; at least
/// `k` of them, every index below `n`, all of one size).
pub fn originals(k: usize, n: usize, intact: &BTreeMap<u8, &[u8]>) -> Result<Vec<Vec<u8>>, ErasureError> {
    if let Some(index) = intact.keys().copied().find(|i| usize::from(*i) >= n) {
        return Err(ErasureError::Index { index, n });
    }
    if intact.len() < k {
        return Err(ErasureError::NotEnough { have: intact.len(), need: k });
    }
    let held = |i: usize| intact.get(&(i as u8)).copied();
    if (0..k).all(|i| held(i).is_some()) {
        return Ok((0..k).filter_map(held).map(<[u8]>::to_vec).collect());
    }
    let given = (0..k).filter_map(|i| held(i).map(|b| (i, b)));
    let recovery = (k..n).filter_map(|i| held(i).map(|b| (i - k, b)));
    let restored = reed_solomon_simd::decode(k, n - k, given, recovery).map_err(code)?;
    (0..k)
        .map(|i| match held(i) {
            Some(b) => Ok(b.to_vec()),
            None => restored.get(&i).cloned().ok_or_else(|| ErasureError::Code(format!("original {i} not restored"))),
        })
        .collect()
}

/// `bytes` cut into stripes of `k × shard` bytes (the last zero-padded; an empty input
/// is one stripe of zeros), each coded into its `n` shards as [`encode`] does. One
/// encoder serves every stripe, and a full stripe's originals are read where they lie.
pub fn stripes(k: usize, n: usize, shard: usize, bytes: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ErasureError> {
    let stripe_bytes =
        k.checked_mul(shard).filter(|b| *b > 0).ok_or_else(|| ErasureError::Code("a stripe of no bytes".into()))?;
    let count = bytes.len().div_ceil(stripe_bytes).max(1);
    let mut encoder = reed_solomon_simd::ReedSolomonEncoder::new(k, n.saturating_sub(k), shard).map_err(code)?;
    let mut out = Vec::with_capacity(count);
    let mut padded = Vec::new();
    for s in 0..count {
        let start = (s * stripe_bytes).min(bytes.len());
        let end = (start + stripe_bytes).min(bytes.len());
        let data = match bytes.get(start..end) {
            Some(full) if full.len() == stripe_bytes => full,
            part => {
                padded.clear();
                padded.extend_from_slice(part.unwrap_or_default());
                padded.resize(stripe_bytes, 0);
                &padded
            }
        };
        let mut shards: Vec<Vec<u8>> = Vec::with_capacity(n);
        for original in data.chunks(shard) {
            encoder.add_original_shard(original).map_err(code)?;
            shards.push(original.to_vec());
        }
        shards.extend(encoder.encode().map_err(code)?.recovery_iter().map(<[u8]>::to_vec));
        out.push(shards);
        encoder.reset(k, n.saturating_sub(k), shard).map_err(code)?;
    }
    Ok(out)
}

/// Shard `index` of a stripe, rebuilt from the intact shards at hand (see [`originals`]).
pub fn rebuild_shard(k: usize, n: usize, intact: &BTreeMap<u8, &[u8]>, index: u8) -> Result<Vec<u8>, ErasureError> {
    let i = usize::from(index);
    if i >= n {
        return Err(ErasureError::Index { index, n });
    }
    if let Some(b) = intact.get(&index) {
        return Ok(b.to_vec());
    }
    let originals = originals(k, n, intact)?;
    if i < k {
        return originals.into_iter().nth(i).ok_or(ErasureError::Index { index, n });
    }
    encode(n, originals)?.into_iter().nth(i).ok_or(ErasureError::Index { index, n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripe(k: usize, n: usize, len: usize) -> Vec<Vec<u8>> {
        let originals = (0..k).map(|i| (0..len).map(|b| (b * 7 + i * 31) as u8).collect()).collect();
        encode(n, originals).unwrap()
    }

    #[test]
    fn any_k_shards_rebuild_every_other_one() {
        let (k, n) = (3, 5);
        let all = stripe(k, n, 64);
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize != k {
                continue;
            }
            let intact: BTreeMap<u8, &[u8]> =
                (0..n).filter(|i| mask & (1 << i) != 0).map(|i| (i as u8, all[i].as_slice())).collect();
            for (index, shard) in all.iter().enumerate() {
                assert_eq!(&rebuild_shard(k, n, &intact, index as u8).unwrap(), shard, "mask {mask:b}");
            }
        }
    }

    /// Stripes are what [`encode`] gives each zero-padded piece, for every way the
    /// input can end against the stripe size.
    #[test]
    fn stripes_are_each_piece_encoded() {
        let (k, n, shard) = (2, 3, 8);
        for len in [0usize, 1, 15, 16, 17, 40, 48] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 11 + 1) as u8).collect();
            let got = stripes(k, n, shard, &bytes).unwrap();
            assert_eq!(got.len(), len.div_ceil(16).max(1), "len {len}");
            for (s, stripe) in got.iter().enumerate() {
                let mut piece = bytes.get(s * 16..((s + 1) * 16).min(len)).unwrap_or_default().to_vec();
                piece.resize(16, 0);
                let want = encode(n, piece.chunks(shard).map(<[u8]>::to_vec).collect()).unwrap();
                assert_eq!(stripe, &want, "len {len} stripe {s}");
            }
        }
        assert!(stripes(2, 3, 0, &[1]).is_err());
        assert!(stripes(2, 3, 7, &[1]).is_err(), "an odd shard size is the code's error");
    }

    #[test]
    fn too_few_or_out_of_range_shards_are_typed_errors() {
        let all = stripe(2, 3, 16);
        let one: BTreeMap<u8, &[u8]> = [(2, all[2].as_slice())].into();
        assert_eq!(rebuild_shard(2, 3, &one, 0), Err(ErasureError::NotEnough { have: 1, need: 2 }));
        let stray: BTreeMap<u8, &[u8]> = [(0, all[0].as_slice()), (7, all[1].as_slice())].into();
        assert_eq!(originals(2, 3, &stray), Err(ErasureError::Index { index: 7, n: 3 }));
        assert_eq!(rebuild_shard(2, 3, &one, 3), Err(ErasureError::Index { index: 3, n: 3 }));
    }
}
