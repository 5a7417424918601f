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
    // Most values (position gaps, frequencies) fit one byte.
    if let Some(&byte) = bytes.get(*at)
        && byte < 0x80
    {
        *at += 1;
        return Ok(u64::from(byte));
    }
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

/// Moves `*at` past `count` values without decoding them: a value ends
/// at each byte whose high bit is clear, so eight bytes are counted at once.
pub fn skip(bytes: &[u8], at: &mut usize, count: usize) -> Result<()> {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let (mut pos, mut left) = (*at, count);
    while left > 0 {
        let Some(word) = bytes.get(pos..pos + 8) else { break };
        let mut ends =
            !u64::from_le_bytes([word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7]]) & HIGH_BITS;
        let found = ends.count_ones() as usize;
        if found < left {
            left -= found;
            pos += 8;
            continue;
        }
        // The value ends at the `left`-th end marker of this word.
        for _ in 1..left {
            ends &= ends - 1;
        }
        pos += ends.trailing_zeros() as usize / 8 + 1;
        left = 0;
    }
    while left > 0 {
        let byte = *bytes.get(pos).ok_or_else(|| IndexError::Corrupt {
            what: "a variable-length integer runs past its data".into(),
        })?;
        pos += 1;
        if byte & 0x80 == 0 {
            left -= 1;
        }
    }
    *at = pos;
    Ok(())
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

    #[test]
    fn skipping_lands_where_reading_does() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut values = Vec::new();
        for _ in 0..500 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Mostly one-byte values, some up to five bytes.
            values.push(if state.is_multiple_of(4) {
                state >> (state % 40)
            } else {
                state % 128
            });
        }
        let mut bytes = Vec::new();
        for &v in &values {
            put(&mut bytes, v);
        }
        for from in [0usize, 1, 7, 100] {
            for count in [0usize, 1, 2, 7, 8, 9, 63, 200, values.len() - from] {
                let mut read = 0usize;
                for _ in 0..from {
                    get(&bytes, &mut read).unwrap();
                }
                let mut skipped = read;
                for _ in 0..count {
                    get(&bytes, &mut read).unwrap();
                }
                skip(&bytes, &mut skipped, count).unwrap();
                assert_eq!(skipped, read, "from {from}, count {count}");
            }
        }
        let mut at = 0;
        assert!(skip(&bytes, &mut at, values.len() + 1).is_err(), "past the data");
        assert!(skip(&[0x80; 20], &mut 0, 1).is_err(), "unterminated");
    }
}
