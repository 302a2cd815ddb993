//! Checksums on read. Every value the database keeps as bytes (blocks, receipts, state
//! versions, metadata) is stored with a CRC-32C of itself appended, checked each time it
//! is read back: a flipped bit is [`StorageError::Corrupt`] naming the table and key —
//! the node tells a corrupted data directory (recover it from the peers) from an absent
//! record, and never decodes damaged bytes as if they were what it wrote.

use super::StorageError;

/// Bytes appended to each value.
pub const CHECKSUM_LEN: usize = 4;

/// `value` with its checksum appended, as stored.
pub fn seal(mut value: Vec<u8>) -> Vec<u8> {
    let sum = crc32fast::hash(&value);
    value.extend_from_slice(&sum.to_le_bytes());
    value
}

/// The value stored as `stored` in `table` at `key`, if its checksum holds.
pub fn open<'a>(table: &'static str, key: impl std::fmt::Display, stored: &'a [u8]) -> Result<&'a [u8], StorageError> {
    let corrupt = || StorageError::Corrupt { table, key: key.to_string() };
    let split = stored.len().checked_sub(CHECKSUM_LEN).ok_or_else(corrupt)?;
    let (value, sum) = stored.split_at(split);
    let sum: [u8; CHECKSUM_LEN] = sum.try_into().map_err(|_| corrupt())?;
    if crc32fast::hash(value) != u32::from_le_bytes(sum) {
        return Err(corrupt());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flipped_bit_and_every_cut_is_caught() {
        let stored = seal(b"a committed block".to_vec());
        assert_eq!(open("blocks", 7, &stored).unwrap(), b"a committed block");
        for bit in 0..stored.len() * 8 {
            let mut flipped = stored.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(matches!(open("blocks", 7, &flipped), Err(StorageError::Corrupt { table: "blocks", .. })));
        }
        for len in 0..stored.len() {
            assert!(open("blocks", 7, &stored[..len]).is_err(), "cut at {len}");
        }
    }
}
