//! The 4-bit product-quantization scan: codes of 32 members interleaved so
//! that one SIMD byte shuffle looks up 32 sub-vector distances at once, and
//! the query's lookup table quantized to bytes, summed in 16-bit lanes.
//!
//! Layout of one block of 32 members (members past the partition's end
//! are zero codes whose distances are ignored): for every sub-space `s`
//! (padded to an even count), 16 bytes; byte `j` holds member `j`'s code in
//! its low nibble and member `j + 16`'s in its high nibble. The quantized
//! table keeps the same order, 16 bytes per sub-space, so a 32-byte load of
//! two sub-spaces' codes meets a 32-byte load of their tables.
//!
//! The sums are exact integer sums of the quantized table, identical on
//! every path (AVX2 or portable), so an index answers the same everywhere.

use crate::error::{IndexError, Result};

/// Members per block.
pub const BLOCK: usize = 32;

/// 4-bit codes of one partition in the interleaved block layout.
#[derive(Debug, Clone, PartialEq)]
pub struct FastScanCodes {
    len: usize,
    sub_vectors: usize,
    blocks: Vec<u8>,
}

impl FastScanCodes {
    /// Interleaves row-major packed codes (two sub-vectors a byte, even
    /// sub-vector in the low nibble, `sub_vectors.div_ceil(2)` bytes per
    /// member).
    pub fn from_rows(rows: &[u8], sub_vectors: usize) -> Result<Self> {
        let width = sub_vectors.div_ceil(2);
        if width == 0 || !rows.len().is_multiple_of(width) {
            return Err(IndexError::Corrupt {
                what: format!("{} code bytes for members of {width} bytes", rows.len()),
            });
        }
        let len = rows.len() / width;
        let padded = padded_sub_vectors(sub_vectors);
        let mut blocks = vec![0u8; len.div_ceil(BLOCK) * padded * 16];
        for (member, code) in rows.chunks_exact(width).enumerate() {
            let block = &mut blocks[(member / BLOCK) * padded * 16..][..padded * 16];
            let (slot, shift) = (member % 16, 4 * ((member % BLOCK) / 16));
            for s in 0..sub_vectors {
                let nibble = (code[s / 2] >> (4 * (s % 2))) & 0x0f;
                block[s * 16 + slot] |= nibble << shift;
            }
        }
        Ok(Self {
            len,
            sub_vectors,
            blocks,
        })
    }

    /// Members.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the interleaved codes take.
    pub fn byte_size(&self) -> usize {
        self.blocks.len()
    }

    /// Member `i`'s code, row-major packed as stored.
    pub fn row(&self, i: usize) -> Vec<u8> {
        let padded = padded_sub_vectors(self.sub_vectors);
        let block = &self.blocks[(i / BLOCK) * padded * 16..][..padded * 16];
        let (slot, shift) = (i % 16, 4 * ((i % BLOCK) / 16));
        let mut code = vec![0u8; self.sub_vectors.div_ceil(2)];
        for s in 0..self.sub_vectors {
            let nibble = (block[s * 16 + slot] >> shift) & 0x0f;
            code[s / 2] |= nibble << (4 * (s % 2));
        }
        code
    }

    /// The quantized table sum of every member (`out` gets `len` values,
    /// resized as needed).
    pub fn scan(&self, table: &QuantizedTable, out: &mut Vec<u16>) -> Result<()> {
        let padded = padded_sub_vectors(self.sub_vectors);
        if table.bytes.len() != padded * 16 {
            return Err(IndexError::params(format!(
                "a table of {} bytes for {} sub-vectors",
                table.bytes.len(),
                self.sub_vectors
            )));
        }
        out.clear();
        out.resize(self.len.div_ceil(BLOCK) * BLOCK, 0);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            simd::scan_avx2(&self.blocks, &table.bytes, out);
            out.truncate(self.len);
            return Ok(());
        }
        scan_portable(&self.blocks, &table.bytes, out);
        out.truncate(self.len);
        Ok(())
    }
}

/// Sub-spaces rounded up to pairs (a 32-byte step covers two).
fn padded_sub_vectors(sub_vectors: usize) -> usize {
    sub_vectors.div_ceil(2) * 2
}

/// A query's lookup table (`m × 16` floats) quantized to bytes: entry
/// `round((t − min_s) · scale)` for sub-space `s`. A member's distance is
/// `bias + sum / scale`, its error at most `m / (2 · scale)`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedTable {
    bytes: Vec<u8>,
    /// Σ min_s.
    pub bias: f32,
    /// Table units per quantized unit's inverse.
    pub scale: f32,
}

impl QuantizedTable {
    /// Quantizes a float table of 16 entries per sub-space. The scale keeps
    /// every entry within a byte and every sum within 16 bits.
    pub fn new(table: &[f32]) -> Result<Self> {
        if table.is_empty() || !table.len().is_multiple_of(16) {
            return Err(IndexError::params(format!("a 4-bit table of {} entries", table.len())));
        }
        // One pass for each row's low end and range (also catching NaN and
        // infinities), one to quantize: a table per probed partition.
        let rows = table.len() / 16;
        let mut mins = Vec::with_capacity(rows);
        let (mut widest, mut total) = (0f32, 0f32);
        for row in table.chunks_exact(16) {
            let (lo, hi) = row.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &t| {
                (lo.min(t), hi.max(t))
            });
            if !(lo.is_finite() && hi.is_finite()) || row.iter().any(|t| t.is_nan()) {
                return Err(IndexError::params(
                    "the query's distance table is not finite".to_string(),
                ));
            }
            mins.push(lo);
            widest = widest.max(hi - lo);
            total += hi - lo;
        }
        if !total.is_finite() {
            return Err(IndexError::params(
                "the query's distance table is not finite".to_string(),
            ));
        }
        let scale = if widest > 0.0 {
            (255.0 / widest).min(65_535.0 / total)
        } else {
            1.0
        };
        let mut bytes = vec![0u8; padded_sub_vectors(rows) * 16];
        for ((out, row), &lo) in bytes.chunks_exact_mut(16).zip(table.chunks_exact(16)).zip(&mins) {
            for (b, &t) in out.iter_mut().zip(row) {
                // Non-negative, so adding one half and truncating rounds
                // (without a call to `round`).
                *b = ((t - lo) * scale + 0.5).min(255.0) as u8;
            }
        }
        Ok(Self {
            bytes,
            bias: mins.iter().sum(),
            scale,
        })
    }

    /// The sum for one row-major packed code, as [`FastScanCodes::scan`]
    /// computes it.
    pub fn sum(&self, code: &[u8]) -> u16 {
        let mut sum = 0u16;
        for (t, &byte) in code.iter().enumerate() {
            let base = 32 * t;
            sum = sum.wrapping_add(self.bytes.get(base + (byte & 0x0f) as usize).copied().unwrap_or(0) as u16);
            sum = sum.wrapping_add(self.bytes.get(base + 16 + (byte >> 4) as usize).copied().unwrap_or(0) as u16);
        }
        sum
    }

    /// The table distance a sum stands for.
    pub fn distance(&self, sum: u16) -> f32 {
        self.bias + sum as f32 / self.scale
    }
}

/// The scan without SIMD: the same sums, one lookup at a time.
fn scan_portable(blocks: &[u8], table: &[u8], out: &mut [u16]) {
    let step = table.len();
    for (block, sums) in blocks.chunks_exact(step).zip(out.chunks_exact_mut(BLOCK)) {
        for (codes, row) in block.chunks_exact(16).zip(table.chunks_exact(16)) {
            for (j, &byte) in codes.iter().enumerate() {
                sums[j] = sums[j].wrapping_add(row[(byte & 0x0f) as usize] as u16);
                sums[j + 16] = sums[j + 16].wrapping_add(row[(byte >> 4) as usize] as u16);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd {
    use super::BLOCK;
    use std::arch::x86_64::*;

    /// The scan with AVX2 byte shuffles; the caller has checked that the
    /// CPU has AVX2, `table.len()` is a multiple of 32, `blocks` holds
    /// whole blocks of `table.len()` bytes and `out` 32 sums per block.
    pub(super) fn scan_avx2(blocks: &[u8], table: &[u8], out: &mut [u16]) {
        // SAFETY: the caller checked AVX2 at run time (the only requirement
        // of this target-feature function beyond its slice arguments).
        unsafe { scan_blocks(blocks, table, out) }
    }

    #[target_feature(enable = "avx2")]
    unsafe fn scan_blocks(blocks: &[u8], table: &[u8], out: &mut [u16]) {
        let step = table.len();
        let nibble = _mm256_set1_epi8(0x0f);
        let low_byte = _mm256_set1_epi16(0x00ff);
        for (block, sums) in blocks.chunks_exact(step).zip(out.chunks_exact_mut(BLOCK)) {
            let mut acc = [_mm256_setzero_si256(); 4];
            for (codes, rows) in block.chunks_exact(32).zip(table.chunks_exact(32)) {
                // SAFETY: both chunks are exactly 32 bytes, what an unaligned
                // 256-bit load reads.
                let (codes, rows) = unsafe {
                    (
                        _mm256_loadu_si256(codes.as_ptr().cast()),
                        _mm256_loadu_si256(rows.as_ptr().cast()),
                    )
                };
                // Lane 0 holds sub-space 2p, lane 1 sub-space 2p + 1; the
                // shuffle looks up within each 128-bit lane.
                let low = _mm256_shuffle_epi8(rows, _mm256_and_si256(codes, nibble));
                let high = _mm256_shuffle_epi8(rows, _mm256_and_si256(_mm256_srli_epi16(codes, 4), nibble));
                acc[0] = _mm256_add_epi16(acc[0], _mm256_and_si256(low, low_byte));
                acc[1] = _mm256_add_epi16(acc[1], _mm256_srli_epi16(low, 8));
                acc[2] = _mm256_add_epi16(acc[2], _mm256_and_si256(high, low_byte));
                acc[3] = _mm256_add_epi16(acc[3], _mm256_srli_epi16(high, 8));
            }
            // acc[0]: members 0, 2, …, 14; acc[1]: 1, 3, …, 15; acc[2] and
            // acc[3] the same for members 16–31. Add the two lanes.
            for (a, acc) in acc.iter().enumerate() {
                let folded = _mm_add_epi16(_mm256_castsi256_si128(*acc), _mm256_extracti128_si256(*acc, 1));
                let mut values = [0u16; 8];
                // SAFETY: `values` is 16 bytes, what an unaligned 128-bit
                // store writes.
                unsafe { _mm_storeu_si128(values.as_mut_ptr().cast(), folded) };
                let base = (a / 2) * 16 + a % 2;
                for (i, v) in values.iter().enumerate() {
                    sums[base + 2 * i] = *v;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn rows(len: usize, sub_vectors: usize, seed: u64) -> Vec<u8> {
        let width = sub_vectors.div_ceil(2);
        (0..len * width)
            .map(|i| {
                let x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15 ^ seed);
                let mut b = (x >> 29) as u8;
                if sub_vectors % 2 == 1 && i % width == width - 1 {
                    b &= 0x0f;
                }
                b
            })
            .collect()
    }

    proptest! {
        #[test]
        fn scans_equal_one_code_at_a_time(
            len in 0usize..200,
            sub_vectors in 1usize..40,
            seed in any::<u64>(),
            table in proptest::collection::vec(-50f32..50.0, 40 * 16),
        ) {
            let codes = rows(len, sub_vectors, seed);
            let packed = FastScanCodes::from_rows(&codes, sub_vectors).unwrap();
            let table = QuantizedTable::new(&table[..sub_vectors * 16]).unwrap();
            let mut fast = Vec::new();
            packed.scan(&table, &mut fast).unwrap();
            let width = sub_vectors.div_ceil(2);
            let one_by_one: Vec<u16> = codes.chunks_exact(width).map(|c| table.sum(c)).collect();
            prop_assert_eq!(&fast, &one_by_one);
            let mut portable = vec![0u16; len.div_ceil(BLOCK) * BLOCK];
            scan_portable(&packed.blocks, &table.bytes, &mut portable);
            portable.truncate(len);
            prop_assert_eq!(&portable, &one_by_one);
            for (i, code) in codes.chunks_exact(width).enumerate() {
                prop_assert_eq!(packed.row(i), code.to_vec());
            }
        }
    }

    #[test]
    fn quantized_sums_stay_close_to_the_float_table() {
        let sub_vectors = 64;
        let table: Vec<f32> = (0..sub_vectors * 16).map(|i| ((i * 37) % 101) as f32 * 0.13).collect();
        let quantized = QuantizedTable::new(&table).unwrap();
        let codes = rows(100, sub_vectors, 7);
        for code in codes.chunks_exact(32) {
            let exact: f32 = (0..sub_vectors)
                .map(|s| table[s * 16 + ((code[s / 2] >> (4 * (s % 2))) & 0x0f) as usize])
                .sum();
            let estimate = quantized.distance(quantized.sum(code));
            let bound = sub_vectors as f32 / (2.0 * quantized.scale) + 1e-3;
            assert!((estimate - exact).abs() <= bound, "{estimate} vs {exact}");
        }
    }

    #[test]
    fn bad_shapes_are_refused() {
        assert!(FastScanCodes::from_rows(&[1, 2, 3], 4).is_err());
        assert!(QuantizedTable::new(&[1.0; 15]).is_err());
        assert!(QuantizedTable::new(&[f32::NAN; 16]).is_err());
        let packed = FastScanCodes::from_rows(&[0x21; 4], 4).unwrap();
        let table = QuantizedTable::new(&[1.0; 32]).unwrap();
        assert!(packed.scan(&table, &mut Vec::new()).is_err());
    }
}
