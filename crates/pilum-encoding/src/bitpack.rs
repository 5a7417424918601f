//! LSB-first bit-packing of unsigned integers of 0 to 64 bits.

use crate::error::{EncodingError, Result};

/// Number of bits needed to represent `max` (0 for 0).
pub fn bits_needed(max: u64) -> u8 {
    (64 - max.leading_zeros()) as u8
}

/// Appends `values` packed at `bit_width` bits each (LSB-first) to `out`.
/// Values must fit in `bit_width` bits; higher bits are masked off.
pub fn pack_bits(values: impl IntoIterator<Item = u64>, bit_width: u8, out: &mut Vec<u8>) {
    if bit_width == 0 {
        return;
    }
    let mask = width_mask(bit_width);
    let mut acc: u128 = 0;
    let mut filled: u32 = 0;
    for v in values {
        acc |= u128::from(v & mask) << filled;
        filled += u32::from(bit_width);
        while filled >= 64 {
            out.extend_from_slice(&(acc as u64).to_le_bytes());
            acc >>= 64;
            filled -= 64;
        }
    }
    let tail = filled.div_ceil(8) as usize;
    out.extend_from_slice(&(acc as u64).to_le_bytes()[..tail]);
}

/// Bytes taken by `count` values packed at `bit_width` bits.
pub fn packed_len(count: usize, bit_width: u8) -> usize {
    (count * usize::from(bit_width)).div_ceil(8)
}

fn width_mask(bit_width: u8) -> u64 {
    if bit_width >= 64 {
        u64::MAX
    } else {
        (1u64 << bit_width) - 1
    }
}

/// Unpacks `count` values of `bit_width` bits from `packed`, calling `emit`
/// for each value in order. Fails if `packed` is too short or the width is
/// over 64.
pub fn unpack_bits(packed: &[u8], bit_width: u8, count: usize, mut emit: impl FnMut(u64)) -> Result<()> {
    unpack_to_vec(packed, bit_width, count)?.into_iter().for_each(&mut emit);
    Ok(())
}

/// Unpacks `count` values of `bit_width` bits from `packed` into a vector.
pub(crate) fn unpack_to_vec(packed: &[u8], bit_width: u8, count: usize) -> Result<Vec<u64>> {
    if bit_width > 64 {
        return Err(EncodingError::invalid(format!("bit width {bit_width} exceeds 64")));
    }
    let need = packed_len(count, bit_width);
    if packed.len() < need {
        return Err(EncodingError::invalid(format!(
            "bit-packed block needs {need} bytes, has {}",
            packed.len()
        )));
    }
    let mut out = vec![0u64; count.next_multiple_of(8)];
    if bit_width == 0 {
        out.truncate(count);
        return Ok(out);
    }
    let mask = width_mask(bit_width);
    let bw = usize::from(bit_width);
    // Loads read up to 16 bytes past a value's first byte: copy short blocks
    // into a zero-padded buffer so every load stays in bounds.
    let padded;
    let padded_len = out.len() / 8 * bw + 16;
    let bytes = if packed.len() >= padded_len {
        packed
    } else {
        let mut v = Vec::with_capacity(padded_len);
        v.extend_from_slice(&packed[..need]);
        v.resize(padded_len, 0);
        padded = v;
        &padded[..]
    };
    if bw <= 56 {
        unpack_groups(bytes, bit_width, mask, &mut out);
    } else {
        for (i, slot) in out.iter_mut().enumerate().take(count) {
            let bit = i * bw;
            let byte = bit >> 3;
            let mut w = [0u8; 16];
            w.copy_from_slice(&bytes[byte..byte + 16]);
            *slot = ((u128::from_le_bytes(w) >> (bit & 7)) as u64) & mask;
        }
    }
    out.truncate(count);
    Ok(out)
}

/// The value at position `index` of values packed at `bit_width` bits
/// (at most 64); the caller has checked that `packed` holds
/// `packed_len(index + 1, bit_width)` bytes. Bytes past the end read as zero.
pub(crate) fn value_at(packed: &[u8], bit_width: u8, index: usize) -> u64 {
    if bit_width == 0 {
        return 0;
    }
    let bit = index * usize::from(bit_width);
    let at = bit / 8;
    let mut word = [0u8; 16];
    let available = packed.get(at..).unwrap_or_default();
    let take = available.len().min(16);
    word[..take].copy_from_slice(&available[..take]);
    ((u128::from_le_bytes(word) >> (bit % 8)) as u64) & width_mask(bit_width)
}

/// Unpacks groups of 8 values of at most 56 bits. Each group starts on a byte
/// boundary (8 × width bits), so with the width a constant every load offset
/// and shift is a constant too. `out` holds a multiple of 8 values and
/// `bytes` must hold `out.len() / 8 × width + 8` bytes (the caller pads).
fn unpack_groups(bytes: &[u8], bit_width: u8, mask: u64, out: &mut [u64]) {
    #[inline(always)]
    fn groups<const BW: usize>(bytes: &[u8], mask: u64, out: &mut [u64]) {
        for (g, group) in out.chunks_exact_mut(8).enumerate() {
            let Some(src) = bytes.get(g * BW..g * BW + BW + 8) else {
                return;
            };
            for (j, slot) in group.iter_mut().enumerate() {
                let bit = j * BW;
                let at = bit / 8;
                let w = &src[at..at + 8];
                let word = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                *slot = (word >> (bit % 8)) & mask;
            }
        }
    }
    macro_rules! dispatch {
        ($($n:literal)*) => {
            match bit_width {
                $($n => groups::<$n>(bytes, mask, out),)*
                _ => {}
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32
        33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(values in proptest::collection::vec(any::<u64>(), 0..300), bw in 0u8..=64) {
            let mask = width_mask(bw);
            let masked: Vec<u64> = values.iter().map(|v| if bw == 0 { 0 } else { v & mask }).collect();
            let mut buf = Vec::new();
            pack_bits(masked.iter().copied(), bw, &mut buf);
            prop_assert_eq!(buf.len(), packed_len(masked.len(), bw));
            let mut got = Vec::new();
            unpack_bits(&buf, bw, masked.len(), |v| got.push(v)).unwrap();
            prop_assert_eq!(got, masked);
        }
    }

    proptest! {
        #[test]
        fn single_values_match_the_block(values in proptest::collection::vec(any::<u64>(), 1..100), bw in 0u8..=64) {
            let masked: Vec<u64> = values.iter().map(|v| if bw == 0 { 0 } else { v & width_mask(bw) }).collect();
            let mut buf = Vec::new();
            pack_bits(masked.iter().copied(), bw, &mut buf);
            for (i, &v) in masked.iter().enumerate() {
                prop_assert_eq!(value_at(&buf, bw, i), v);
            }
        }
    }

    #[test]
    fn short_input_is_an_error() {
        assert!(unpack_bits(&[0xff], 7, 2, |_| {}).is_err());
        assert!(unpack_bits(&[], 65, 0, |_| {}).is_err());
        assert_eq!(bits_needed(0), 0);
        assert_eq!(bits_needed(255), 8);
        assert_eq!(bits_needed(u64::MAX), 64);
    }
}
