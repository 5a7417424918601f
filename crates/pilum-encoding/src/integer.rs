//! Frame-of-reference and run-length coding of scalar integers of 1–8 bytes.

use crate::IntegerSign;
use crate::bitpack::{bits_needed, pack_bits, packed_len};
use crate::error::{EncodingError, Result};
use arrow_buffer::BooleanBuffer;
use pilum_core::ByteCursor;

/// Reads value `i` of `width` bytes as zero-extended `u64`.
#[inline]
pub(crate) fn read_raw(bytes: &[u8], width: usize, i: usize) -> u64 {
    let mut buf = [0u8; 8];
    buf[..width].copy_from_slice(&bytes[i * width..(i + 1) * width]);
    u64::from_le_bytes(buf)
}

/// Interprets a zero-extended raw value as a number for ordering.
#[inline]
fn to_ordered(raw: u64, width: usize, sign: IntegerSign) -> i128 {
    match sign {
        IntegerSign::Unsigned => i128::from(raw),
        IntegerSign::Signed => {
            let shift = 64 - 8 * width as u32;
            i128::from(((raw << shift) as i64) >> shift)
        }
    }
}

/// Summary of a chunk of integers used to choose and apply an encoding.
pub(crate) struct IntegerStats {
    /// Smallest valid value (raw bits), or 0 when all are null.
    pub min_raw: u64,
    /// Bits needed for `value - min`.
    pub bit_width: u8,
    /// Number of runs of equal effective values.
    pub runs: usize,
}

/// The value a slot contributes: nulls take the reference value so they
/// never widen the frame or break a run.
#[inline]
fn effective(bytes: &[u8], width: usize, i: usize, valid: Option<&BooleanBuffer>, min_raw: u64) -> u64 {
    match valid {
        Some(v) if !v.value(i) => min_raw,
        _ => read_raw(bytes, width, i),
    }
}

pub(crate) fn stats(bytes: &[u8], width: usize, sign: IntegerSign, valid: Option<&BooleanBuffer>) -> IntegerStats {
    let n = bytes.len() / width;
    let mut min: Option<(i128, u64)> = None;
    let mut max: i128 = i128::MIN;
    for i in 0..n {
        if valid.is_some_and(|v| !v.value(i)) {
            continue;
        }
        let raw = read_raw(bytes, width, i);
        let ord = to_ordered(raw, width, sign);
        if min.is_none_or(|(m, _)| ord < m) {
            min = Some((ord, raw));
        }
        max = max.max(ord);
    }
    let Some((min_ord, min_raw)) = min else {
        return IntegerStats {
            min_raw: 0,
            bit_width: 0,
            runs: usize::from(n > 0),
        };
    };
    let range = (max - min_ord) as u64;
    let mut runs = 0;
    let mut prev = None;
    for i in 0..n {
        let v = effective(bytes, width, i, valid, min_raw);
        if prev != Some(v) {
            runs += 1;
            prev = Some(v);
        }
    }
    IntegerStats {
        min_raw,
        bit_width: bits_needed(range),
        runs,
    }
}

fn width_mask(width: usize) -> u64 {
    if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * width)) - 1
    }
}

/// Bytes of the frame-of-reference body.
pub(crate) fn for_size(n: usize, width: usize, s: &IntegerStats) -> usize {
    width + 1 + packed_len(n, s.bit_width)
}

/// Bytes of the run-length body.
pub(crate) fn rle_size(width: usize, s: &IntegerStats) -> usize {
    4 + s.runs * (width + 2)
}

pub(crate) fn encode_for(
    bytes: &[u8],
    width: usize,
    valid: Option<&BooleanBuffer>,
    s: &IntegerStats,
    out: &mut Vec<u8>,
) {
    let n = bytes.len() / width;
    out.extend_from_slice(&s.min_raw.to_le_bytes()[..width]);
    out.push(s.bit_width);
    let mask = width_mask(width);
    let deltas = (0..n).map(|i| effective(bytes, width, i, valid, s.min_raw).wrapping_sub(s.min_raw) & mask);
    pack_bits(deltas, s.bit_width, out);
}

/// The reference, bit width and packed deltas of a frame-of-reference body
/// of `n` values of `width` bytes.
fn for_body<'a>(cur: &mut ByteCursor<'a>, width: usize, n: usize) -> Result<(u64, u8, &'a [u8])> {
    let mut refb = [0u8; 8];
    refb[..width].copy_from_slice(cur.take(width)?);
    let reference = u64::from_le_bytes(refb);
    let bit_width = cur.u8()?;
    if usize::from(bit_width) > 8 * width {
        return Err(EncodingError::invalid(format!(
            "bit width {bit_width} exceeds value width {width}"
        )));
    }
    let packed = cur.take(packed_len(n, bit_width))?;
    Ok((reference, bit_width, packed))
}

pub(crate) fn decode_for(cur: &mut ByteCursor<'_>, width: usize, n: usize, out: &mut Vec<u8>) -> Result<()> {
    let (reference, bit_width, packed) = for_body(cur, width, n)?;
    let mask = width_mask(width);
    let start = out.len();
    out.resize(start + n * width, 0);
    let dst = &mut out[start..];
    match width {
        1 => fill::<1>(dst, packed, bit_width, n, reference, mask),
        2 => fill::<2>(dst, packed, bit_width, n, reference, mask),
        4 => fill::<4>(dst, packed, bit_width, n, reference, mask),
        _ => fill::<8>(dst, packed, bit_width, n, reference, mask),
    }
}

/// Like [`decode_for`], but appends only the values at `selected` (sorted
/// positions below `n`).
pub(crate) fn decode_for_selected(
    cur: &mut ByteCursor<'_>,
    width: usize,
    n: usize,
    selected: &[u32],
    out: &mut Vec<u8>,
) -> Result<()> {
    let (reference, bit_width, packed) = for_body(cur, width, n)?;
    let mask = width_mask(width);
    out.reserve(selected.len() * width);
    for &position in selected {
        let delta = crate::bitpack::value_at(packed, bit_width, position as usize);
        let value = reference.wrapping_add(delta) & mask;
        out.extend_from_slice(&value.to_le_bytes()[..width]);
    }
    Ok(())
}

/// Writes `reference + delta` for each packed delta as `W`-byte values.
fn fill<const W: usize>(
    dst: &mut [u8],
    packed: &[u8],
    bit_width: u8,
    n: usize,
    reference: u64,
    mask: u64,
) -> Result<()> {
    let deltas = crate::bitpack::unpack_to_vec(packed, bit_width, n)?;
    for (slot, d) in dst.chunks_exact_mut(W).zip(deltas) {
        let v = reference.wrapping_add(d) & mask;
        slot.copy_from_slice(&v.to_le_bytes()[..W]);
    }
    Ok(())
}

pub(crate) fn encode_rle(
    bytes: &[u8],
    width: usize,
    valid: Option<&BooleanBuffer>,
    s: &IntegerStats,
    out: &mut Vec<u8>,
) {
    let n = bytes.len() / width;
    let mut values: Vec<u64> = Vec::with_capacity(s.runs);
    let mut lengths: Vec<u16> = Vec::with_capacity(s.runs);
    for i in 0..n {
        let v = effective(bytes, width, i, valid, s.min_raw);
        match (values.last(), lengths.last_mut()) {
            (Some(&last), Some(len)) if last == v && *len < u16::MAX => *len += 1,
            _ => {
                values.push(v);
                lengths.push(1);
            }
        }
    }
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in &values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    for l in &lengths {
        out.extend_from_slice(&l.to_le_bytes());
    }
}

pub(crate) fn decode_rle(cur: &mut ByteCursor<'_>, width: usize, n: usize, out: &mut Vec<u8>) -> Result<()> {
    let runs = cur.u32()? as usize;
    if runs > n {
        return Err(EncodingError::invalid(format!("{runs} runs for {n} values")));
    }
    let values = cur.take(runs * width)?;
    let lengths = cur.take(runs * 2)?;
    out.reserve(n * width);
    let mut total = 0usize;
    for r in 0..runs {
        let len = usize::from(u16::from_le_bytes([lengths[2 * r], lengths[2 * r + 1]]));
        total += len;
        if total > n {
            return Err(EncodingError::invalid(format!("runs cover more than {n} values")));
        }
        let value = &values[r * width..(r + 1) * width];
        for _ in 0..len {
            out.extend_from_slice(value);
        }
    }
    if total != n {
        return Err(EncodingError::invalid(format!(
            "runs cover {total} values, expected {n}"
        )));
    }
    Ok(())
}
