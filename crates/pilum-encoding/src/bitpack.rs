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
    if bit_width == 0 {
        (0..count).for_each(|_| emit(0));
        return Ok(());
    }
    let mask = width_mask(bit_width);
    let bw = usize::from(bit_width);
    for i in 0..count {
        let bit = i * bw;
        let byte = bit / 8;
        let shift = bit % 8;
        let word = if byte + 16 <= packed.len() {
            let mut w = [0u8; 16];
            w.copy_from_slice(&packed[byte..byte + 16]);
            u128::from_le_bytes(w)
        } else {
            let mut w = [0u8; 16];
            let end = packed.len().min(byte + 16);
            w[..end - byte].copy_from_slice(&packed[byte..end]);
            u128::from_le_bytes(w)
        };
        emit(((word >> shift) as u64) & mask);
    }
    Ok(())
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

    #[test]
    fn short_input_is_an_error() {
        assert!(unpack_bits(&[0xff], 7, 2, |_| {}).is_err());
        assert!(unpack_bits(&[], 65, 0, |_| {}).is_err());
        assert_eq!(bits_needed(0), 0);
        assert_eq!(bits_needed(255), 8);
        assert_eq!(bits_needed(u64::MAX), 64);
    }
}
