//! Frame of reference for 16-byte signed integers (`Decimal128`): a 16-byte
//! reference value and bit-packed deltas of at most 64 bits.

use crate::bitpack::{bits_needed, pack_bits, packed_len, unpack_to_vec};
use crate::error::{EncodingError, Result};
use arrow_buffer::BooleanBuffer;
use pilum_core::ByteCursor;

/// Bytes per value.
pub(crate) const WIDTH: usize = 16;

#[inline]
fn value(bytes: &[u8], i: usize) -> i128 {
    let mut buf = [0u8; WIDTH];
    buf.copy_from_slice(&bytes[i * WIDTH..(i + 1) * WIDTH]);
    i128::from_le_bytes(buf)
}

/// Appends the FOR body of `bytes` (16-byte values) to `out` when the value
/// range fits in 64 bits and the body is smaller than the plain values;
/// returns whether it did. Null slots take the reference value.
pub(crate) fn try_encode_for(bytes: &[u8], valid: Option<&BooleanBuffer>, out: &mut Vec<u8>) -> bool {
    let n = bytes.len() / WIDTH;
    let is_valid = |i: usize| valid.is_none_or(|v| v.value(i));
    let mut range: Option<(i128, i128)> = None;
    for i in (0..n).filter(|&i| is_valid(i)) {
        let v = value(bytes, i);
        range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
    }
    let (min, max) = range.unwrap_or((0, 0));
    let Ok(span) = u64::try_from(max.abs_diff(min)) else {
        return false;
    };
    let bit_width = bits_needed(span);
    if WIDTH + 1 + packed_len(n, bit_width) >= n * WIDTH {
        return false;
    }
    out.extend_from_slice(&min.to_le_bytes());
    out.push(bit_width);
    // The span fits in 64 bits, so every valid delta does too.
    let deltas = (0..n).map(|i| {
        if is_valid(i) {
            value(bytes, i).abs_diff(min) as u64
        } else {
            0
        }
    });
    pack_bits(deltas, bit_width, out);
    true
}

/// Decodes a FOR body of `n` 16-byte values, appending them to `out`.
pub(crate) fn decode_for(cur: &mut ByteCursor<'_>, n: usize, out: &mut Vec<u8>) -> Result<()> {
    let mut reference = [0u8; WIDTH];
    reference.copy_from_slice(cur.take(WIDTH)?);
    let reference = i128::from_le_bytes(reference);
    let bit_width = cur.u8()?;
    if bit_width > 64 {
        return Err(EncodingError::invalid(format!(
            "bit width {bit_width} exceeds 64 for 16-byte integers"
        )));
    }
    let deltas = unpack_to_vec(cur.take(packed_len(n, bit_width))?, bit_width, n)?;
    out.reserve(n * WIDTH);
    for d in deltas {
        // Wrapping: a corrupt reference near i128::MAX must not panic.
        out.extend_from_slice(&reference.wrapping_add(i128::from(d)).to_le_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn bytes_of(values: &[i128]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn round_trips_negative_and_large_values() {
        let values: Vec<i128> = (0..500).map(|i| -7_000_000_000_000 + i * 12_345_678_901).collect();
        let raw = bytes_of(&values);
        let mut body = Vec::new();
        assert!(try_encode_for(&raw, None, &mut body));
        assert!(body.len() < raw.len() / 2);
        let mut out = Vec::new();
        decode_for(&mut ByteCursor::new(&body), values.len(), &mut out).unwrap();
        assert_eq!(out, raw);
    }

    #[test]
    fn null_slots_do_not_widen_the_frame() {
        let raw = bytes_of(&[100, i128::MAX, 101, 102]);
        let valid = BooleanBuffer::from(vec![true, false, true, true]);
        let mut body = Vec::new();
        assert!(try_encode_for(&raw, Some(&valid), &mut body));
        assert_eq!(body[WIDTH], 2, "deltas 0..2 need two bits");
        let mut out = Vec::new();
        decode_for(&mut ByteCursor::new(&body), 4, &mut out).unwrap();
        assert_eq!(&out[..WIDTH], &raw[..WIDTH]);
        assert_eq!(&out[2 * WIDTH..], &raw[2 * WIDTH..]);
    }

    #[test]
    fn ranges_beyond_64_bits_stay_plain() {
        let raw = bytes_of(&[i128::MIN, 0, i128::MAX]);
        let mut body = Vec::new();
        assert!(!try_encode_for(&raw, None, &mut body));
        assert!(body.is_empty());
    }

    #[test]
    fn corrupt_bodies_error_without_panicking() {
        let mut body = i128::MAX.to_le_bytes().to_vec();
        body.push(64);
        body.extend_from_slice(&[0xff; 8]);
        let mut out = Vec::new();
        decode_for(&mut ByteCursor::new(&body), 1, &mut out).unwrap();
        assert!(decode_for(&mut ByteCursor::new(&body[..10]), 1, &mut Vec::new()).is_err());
        let mut wide = body.clone();
        wide[WIDTH] = 65;
        assert!(decode_for(&mut ByteCursor::new(&wide), 1, &mut Vec::new()).is_err());
    }
}
