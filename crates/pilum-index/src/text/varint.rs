//! LEB128 variable-length unsigned integers: 7 bits per byte, low bits
//! first, the high bit set on every byte but the last.

use crate::error::{IndexError, Result};

/// Appends `value`.
pub fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one value at `*at`, moving `*at` past it.
pub fn get(bytes: &[u8], at: &mut usize) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at).ok_or_else(|| IndexError::Corrupt {
            what: "a variable-length integer runs past its data".into(),
        })?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(IndexError::Corrupt {
        what: "a variable-length integer is longer than 10 bytes".into(),
    })
}

/// Reads one value that must fit a u32.
pub fn get_u32(bytes: &[u8], at: &mut usize) -> Result<u32> {
    u32::try_from(get(bytes, at)?).map_err(|_| IndexError::Corrupt {
        what: "a variable-length integer exceeds 32 bits".into(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn values_round_trip_and_truncation_is_caught() {
        let values = [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX];
        let mut bytes = Vec::new();
        for v in values {
            put(&mut bytes, v);
        }
        let mut at = 0;
        for v in values {
            assert_eq!(get(&bytes, &mut at).unwrap(), v);
        }
        assert_eq!(at, bytes.len());
        let mut at = 0;
        assert!(get(&[0x80, 0x80], &mut at).is_err());
        assert!(get(&[0xff; 11], &mut 0).is_err());
    }
}
