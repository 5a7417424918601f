//! Distance kernels over `f32` slices of equal length.
//!
//! The portable loops keep eight independent accumulators so the compiler
//! turns them into SIMD code without `unsafe` (and without fast-math): on
//! x86-64 with SSE2 that is two 4-lane registers per step. On CPUs with
//! AVX2 and FMA (checked at run time), slices of 16 values or more use
//! 8-lane fused multiply-adds instead; their sums may differ from the
//! portable ones in the last bits.

pub(crate) const LANES: usize = 8;

/// Whether this CPU has AVX2 and FMA (checked once, then cached).
#[cfg(target_arch = "x86_64")]
pub(crate) fn simd_available() -> bool {
    simd::available()
}

/// Squared Euclidean distance.
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if a.len() >= 16 && simd::available() {
        return simd::l2_squared(a, b);
    }
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut sum = reduce(acc);
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        sum += d * d;
    }
    sum
}

/// Dot product.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if a.len() >= 16 && simd::available() {
        return simd::dot(a, b);
    }
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum = reduce(acc);
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
}

/// Whether this CPU has AVX2 and the popcount instruction (the standard
/// library caches the answer).
#[cfg(target_arch = "x86_64")]
pub(crate) fn popcnt_available() -> bool {
    std::arch::is_x86_feature_detected!("popcnt") && std::arch::is_x86_feature_detected!("avx2")
}

/// [`crate::binary::hamming_bytes`] compiled for popcount; callers checked
/// [`popcnt_available`].
#[cfg(target_arch = "x86_64")]
pub(crate) fn hamming_bytes_popcnt(a: &[u8], b: &[u8]) -> u32 {
    simd::hamming_bytes(a, b)
}

/// Squared Euclidean norm.
pub fn norm_squared(a: &[f32]) -> f32 {
    dot(a, a)
}

/// `a` scaled to unit length (a zero vector stays zero).
pub fn normalized(a: &[f32]) -> Vec<f32> {
    let norm = norm_squared(a).sqrt();
    if norm > 0.0 {
        a.iter().map(|x| x / norm).collect()
    } else {
        a.to_vec()
    }
}

/// Pairwise sum of the accumulators, in a fixed order.
fn reduce(acc: [f32; LANES]) -> f32 {
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd {
    use super::{LANES, reduce};
    use std::arch::x86_64::*;

    /// Whether this CPU has AVX2 and FMA (the standard library caches the answer).
    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }

    /// Squared L2 distance; callers checked [`available`].
    pub(super) fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: the caller checked that the CPU has AVX2 and FMA, the
        // only requirement of the target-feature function beyond its slices.
        unsafe { l2_fma(a, b) }
    }

    /// Dot product; callers checked [`available`].
    pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: as in `l2_squared`.
        unsafe { dot_fma(a, b) }
    }

    /// Differing bits; callers checked [`super::popcnt_available`].
    pub(super) fn hamming_bytes(a: &[u8], b: &[u8]) -> u32 {
        // SAFETY: the caller checked that the CPU has popcount and AVX2, the
        // only requirement of the target-feature function beyond its slices.
        unsafe { hamming_bytes_popcnt(a, b) }
    }

    #[target_feature(enable = "popcnt,avx2")]
    fn hamming_bytes_popcnt(a: &[u8], b: &[u8]) -> u32 {
        crate::binary::hamming_bytes_portable(a, b)
    }

    #[target_feature(enable = "avx2,fma")]
    fn l2_fma(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 ≤ n ≤ both lengths: four unaligned 8-lane
            // loads within the slices.
            let (x0, y0, x1, y1) = unsafe {
                (
                    _mm256_loadu_ps(a.as_ptr().add(i)),
                    _mm256_loadu_ps(b.as_ptr().add(i)),
                    _mm256_loadu_ps(a.as_ptr().add(i + 8)),
                    _mm256_loadu_ps(b.as_ptr().add(i + 8)),
                )
            };
            let (d0, d1) = (_mm256_sub_ps(x0, y0), _mm256_sub_ps(x1, y1));
            s0 = _mm256_fmadd_ps(d0, d0, s0);
            s1 = _mm256_fmadd_ps(d1, d1, s1);
            i += 16;
        }
        let mut sum = lanes(_mm256_add_ps(s0, s1));
        for (x, y) in a[i..n].iter().zip(&b[i..n]) {
            let d = x - y;
            sum += d * d;
        }
        sum
    }

    #[target_feature(enable = "avx2,fma")]
    fn dot_fma(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 ≤ n ≤ both lengths, as in `l2_fma`.
            let (x0, y0, x1, y1) = unsafe {
                (
                    _mm256_loadu_ps(a.as_ptr().add(i)),
                    _mm256_loadu_ps(b.as_ptr().add(i)),
                    _mm256_loadu_ps(a.as_ptr().add(i + 8)),
                    _mm256_loadu_ps(b.as_ptr().add(i + 8)),
                )
            };
            s0 = _mm256_fmadd_ps(x0, y0, s0);
            s1 = _mm256_fmadd_ps(x1, y1, s1);
            i += 16;
        }
        let mut sum = lanes(_mm256_add_ps(s0, s1));
        for (x, y) in a[i..n].iter().zip(&b[i..n]) {
            sum += x * y;
        }
        sum
    }

    /// The eight lanes summed in the portable kernels' order.
    #[target_feature(enable = "avx2,fma")]
    fn lanes(v: __m256) -> f32 {
        let mut out = [0f32; LANES];
        // SAFETY: `out` holds exactly the eight f32 an unaligned store writes.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
        reduce(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn kernels_match_the_plain_loops(pairs in proptest::collection::vec((-100f32..100.0, -100f32..100.0), 0..300)) {
            let (a, b): (Vec<f32>, Vec<f32>) = pairs.into_iter().unzip();
            let l2: f64 = a.iter().zip(&b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
            let dp: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64) * (*y as f64)).sum();
            let scale = a.iter().chain(&b).map(|x| (*x as f64).powi(2)).sum::<f64>().max(1.0);
            prop_assert!((l2_squared(&a, &b) as f64 - l2).abs() <= 1e-5 * scale);
            prop_assert!((dot(&a, &b) as f64 - dp).abs() <= 1e-5 * scale);
            #[cfg(target_arch = "x86_64")]
            if a.len() >= 16 && simd::available() {
                prop_assert!((simd::l2_squared(&a, &b) as f64 - l2).abs() <= 1e-5 * scale);
                prop_assert!((simd::dot(&a, &b) as f64 - dp).abs() <= 1e-5 * scale);
            }
        }
    }

    #[test]
    fn normalizing_gives_unit_length_and_keeps_zero() {
        let v = normalized(&[3.0, 4.0]);
        assert!((norm_squared(&v) - 1.0).abs() < 1e-6);
        assert_eq!(normalized(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
