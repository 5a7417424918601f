//! Distance kernels over `f32` slices of equal length.
//!
//! The portable loops keep eight independent accumulators so the compiler
//! turns them into SIMD code without `unsafe` (and without fast-math): on
//! x86-64 with SSE2 that is two 4-lane registers per step. On CPUs with
//! AVX2 and FMA (checked at run time), slices of 16 values or more use
//! 8-lane fused multiply-adds instead; their sums may differ from the
//! portable ones in the last bits.

const LANES: usize = 8;

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

/// The index minimising `norms[c] − 2·dots[c]` (the first on ties) and
/// that value; `(0, +∞)` when no value is below infinity. This is the
/// nearest-centroid step after a matrix product of points by centroids.
/// Every path computes each value by the same expression and breaks ties
/// the same way, so the answer is the same bits on every CPU.
pub fn argmin_shifted(dots: &[f32], norms: &[f32]) -> (u32, f32) {
    #[cfg(target_arch = "x86_64")]
    if dots.len() >= 2 * LANES && simd::available() {
        return simd::argmin_shifted(dots, norms);
    }
    argmin_lanes(dots, norms)
}

/// The centroid nearest to `point` (first on ties) and its shifted
/// distance `‖c‖² − 2·x·c`, with the centroids stored transposed
/// (`transposed[j·k + c]` is dimension `j` of centroid `c`, `k` =
/// `norms.len()`): the dot products accumulate into `dots` (length `k`) one
/// dimension at a time, then [`argmin_shifted`]'s search runs over them.
/// For points of a few dimensions (product-quantizer sub-vectors) this
/// stays in the first-level cache, where a matrix product would not pay.
pub fn nearest_transposed(point: &[f32], transposed: &[f32], norms: &[f32], dots: &mut [f32]) -> (u32, f32) {
    #[cfg(target_arch = "x86_64")]
    if norms.len() >= 2 * LANES && simd::available() {
        return simd::nearest_transposed(point, transposed, norms, dots);
    }
    nearest_transposed_lanes(point, transposed, norms, dots)
}

#[inline(always)]
fn nearest_transposed_lanes(point: &[f32], transposed: &[f32], norms: &[f32], dots: &mut [f32]) -> (u32, f32) {
    let fixed = match point.len() {
        1 => nearest_fixed::<1>(point, transposed, norms),
        2 => nearest_fixed::<2>(point, transposed, norms),
        3 => nearest_fixed::<3>(point, transposed, norms),
        4 => nearest_fixed::<4>(point, transposed, norms),
        5 => nearest_fixed::<5>(point, transposed, norms),
        6 => nearest_fixed::<6>(point, transposed, norms),
        7 => nearest_fixed::<7>(point, transposed, norms),
        8 => nearest_fixed::<8>(point, transposed, norms),
        _ => None,
    };
    fixed.unwrap_or_else(|| nearest_accumulated(point, transposed, norms, dots))
}

/// Centroids per step of [`nearest_fixed`] (two AVX registers of dot
/// products, which stay in registers).
const BLOCK_CENTROIDS: usize = 2 * LANES;

/// [`nearest_transposed`] for points of exactly `D` values, the dot
/// products of each block of centroids kept in registers; each one sums
/// its `D` products in dimension order from zero, as
/// [`nearest_accumulated`] does, so both give the same bits. `None` when
/// the slices do not have the shapes the search needs.
#[inline(always)]
fn nearest_fixed<const D: usize>(point: &[f32], transposed: &[f32], norms: &[f32]) -> Option<(u32, f32)> {
    let k = norms.len();
    let x: &[f32; D] = point.try_into().ok()?;
    let columns: [&[f32]; D] = std::array::from_fn(|j| transposed.get(j * k..(j + 1) * k).unwrap_or(&[]));
    if columns.iter().any(|c| c.len() != k) {
        return None;
    }
    let whole = k - k % BLOCK_CENTROIDS;
    let mut best_value = [f32::INFINITY; BLOCK_CENTROIDS];
    let mut best_index = [0u32; BLOCK_CENTROIDS];
    let mut index: [u32; BLOCK_CENTROIDS] = std::array::from_fn(|lane| lane as u32);
    let mut start = 0;
    while start < whole {
        let mut acc = [0f32; BLOCK_CENTROIDS];
        for (lane, a) in acc.iter_mut().enumerate() {
            *a = x[0] * columns[0][start + lane];
        }
        for j in 1..D {
            let column = &columns[j][start..start + BLOCK_CENTROIDS];
            for lane in 0..BLOCK_CENTROIDS {
                acc[lane] += x[j] * column[lane];
            }
        }
        let norm = &norms[start..start + BLOCK_CENTROIDS];
        for lane in 0..BLOCK_CENTROIDS {
            let value = norm[lane] - (acc[lane] + acc[lane]);
            let better = value < best_value[lane];
            best_value[lane] = if better { value } else { best_value[lane] };
            best_index[lane] = if better { index[lane] } else { best_index[lane] };
            index[lane] += BLOCK_CENTROIDS as u32;
        }
        start += BLOCK_CENTROIDS;
    }
    let mut best = reduce_lanes(&best_value, &best_index);
    for c in whole..k {
        let mut acc = x[0] * columns[0][c];
        for j in 1..D {
            acc += x[j] * columns[j][c];
        }
        let value = norms[c] - (acc + acc);
        if value < best.1 {
            best = (c as u32, value);
        }
    }
    Some(best)
}

/// [`nearest_transposed`] for any width: the dot products accumulate in
/// `dots` one dimension at a time.
#[inline(always)]
fn nearest_accumulated(point: &[f32], transposed: &[f32], norms: &[f32], dots: &mut [f32]) -> (u32, f32) {
    let k = norms.len().min(dots.len());
    let dots = &mut dots[..k];
    dots.fill(0.0);
    for (&x, column) in point.iter().zip(transposed.chunks_exact(k.max(1))) {
        for (d, &c) in dots.iter_mut().zip(column) {
            *d += x * c;
        }
    }
    argmin_lanes(dots, &norms[..k])
}

/// The smallest lane minimum, the lowest index among equal ones.
#[inline(always)]
fn reduce_lanes(values: &[f32], indices: &[u32]) -> (u32, f32) {
    let mut best = (0u32, f32::INFINITY);
    for (&value, &i) in values.iter().zip(indices) {
        if value < best.1 || (value == best.1 && value.is_finite() && i < best.0) {
            best = (i, value);
        }
    }
    best
}

/// [`argmin_shifted`] with one running minimum per lane, kept through
/// masks instead of branches; the lanes reduce by value, then by index.
/// Two registers' worth of lanes, so the minimum chains of consecutive
/// steps do not wait on each other.
#[inline(always)]
fn argmin_lanes(dots: &[f32], norms: &[f32]) -> (u32, f32) {
    const ARGMIN_LANES: usize = 2 * LANES;
    let n = dots.len().min(norms.len());
    let whole = n - n % ARGMIN_LANES;
    let mut best_value = [f32::INFINITY; ARGMIN_LANES];
    let mut best_index = [0u32; ARGMIN_LANES];
    let mut index: [u32; ARGMIN_LANES] = std::array::from_fn(|lane| lane as u32);
    for (d, c) in dots[..whole]
        .chunks_exact(ARGMIN_LANES)
        .zip(norms[..whole].chunks_exact(ARGMIN_LANES))
    {
        for lane in 0..ARGMIN_LANES {
            let value = c[lane] - 2.0 * d[lane];
            let better = value < best_value[lane];
            best_value[lane] = if better { value } else { best_value[lane] };
            best_index[lane] = if better { index[lane] } else { best_index[lane] };
            index[lane] += ARGMIN_LANES as u32;
        }
    }
    let mut best = reduce_lanes(&best_value, &best_index);
    for c in whole..n {
        let value = norms[c] - 2.0 * dots[c];
        if value < best.1 {
            best = (c as u32, value);
        }
    }
    best
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

/// [`crate::binary::hamming_values`] compiled for popcount and AVX2;
/// callers checked [`popcnt_available`].
#[cfg(target_arch = "x86_64")]
pub(crate) fn hamming_values_popcnt(code: &[u8], values: &[f32]) -> u32 {
    simd::hamming_values(code, values)
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

    /// [`super::argmin_shifted`]; callers checked [`available`].
    pub(super) fn argmin_shifted(dots: &[f32], norms: &[f32]) -> (u32, f32) {
        // SAFETY: as in `l2_squared`.
        unsafe { argmin_avx2(dots, norms) }
    }

    /// The portable lane loop compiled for AVX2, where the per-lane selects
    /// become 8-lane compares and blends (no fused operations: the values
    /// are the portable ones).
    #[target_feature(enable = "avx2")]
    fn argmin_avx2(dots: &[f32], norms: &[f32]) -> (u32, f32) {
        super::argmin_lanes(dots, norms)
    }

    /// Differing bits; callers checked [`super::popcnt_available`].
    pub(super) fn hamming_bytes(a: &[u8], b: &[u8]) -> u32 {
        // SAFETY: the caller checked that the CPU has popcount and AVX2, the
        // only requirement of the target-feature function beyond its slices.
        unsafe { hamming_bytes_popcnt(a, b) }
    }

    /// Differing bits against byte values; callers checked
    /// [`super::popcnt_available`].
    pub(super) fn hamming_values(code: &[u8], values: &[f32]) -> u32 {
        // SAFETY: as in `hamming_bytes`.
        unsafe { hamming_values_popcnt(code, values) }
    }

    #[target_feature(enable = "popcnt,avx2")]
    fn hamming_bytes_popcnt(a: &[u8], b: &[u8]) -> u32 {
        crate::binary::hamming_bytes_portable(a, b)
    }

    #[target_feature(enable = "popcnt,avx2")]
    fn hamming_values_popcnt(code: &[u8], values: &[f32]) -> u32 {
        crate::binary::hamming_values_portable(code, values)
    }

    /// [`super::nearest_transposed`]; callers checked [`available`].
    pub(super) fn nearest_transposed(point: &[f32], transposed: &[f32], norms: &[f32], dots: &mut [f32]) -> (u32, f32) {
        // SAFETY: as in `l2_squared`.
        unsafe { nearest_transposed_avx2(point, transposed, norms, dots) }
    }

    /// Points of 1–8 values through [`nearest_fixed_avx2`]; others through
    /// the portable loops compiled for AVX2. Multiplies and adds, never
    /// fused: the values are the portable ones.
    #[target_feature(enable = "avx2")]
    fn nearest_transposed_avx2(point: &[f32], transposed: &[f32], norms: &[f32], dots: &mut [f32]) -> (u32, f32) {
        let fixed = match point.len() {
            1 => nearest_fixed_avx2::<1>(point, transposed, norms),
            2 => nearest_fixed_avx2::<2>(point, transposed, norms),
            3 => nearest_fixed_avx2::<3>(point, transposed, norms),
            4 => nearest_fixed_avx2::<4>(point, transposed, norms),
            5 => nearest_fixed_avx2::<5>(point, transposed, norms),
            6 => nearest_fixed_avx2::<6>(point, transposed, norms),
            7 => nearest_fixed_avx2::<7>(point, transposed, norms),
            8 => nearest_fixed_avx2::<8>(point, transposed, norms),
            _ => None,
        };
        fixed.unwrap_or_else(|| super::nearest_accumulated(point, transposed, norms, dots))
    }

    /// [`super::nearest_fixed`] with 8-lane registers, two blocks of eight
    /// centroids per step so consecutive minimum updates do not wait on
    /// each other. Each dot product is `x₀c₀ + x₁c₁ + …` in dimension
    /// order and the value `‖c‖² − (dot + dot)`, the portable bits.
    #[target_feature(enable = "avx2")]
    fn nearest_fixed_avx2<const D: usize>(point: &[f32], transposed: &[f32], norms: &[f32]) -> Option<(u32, f32)> {
        let k = norms.len();
        let x: &[f32; D] = point.try_into().ok()?;
        if transposed.len() < D * k {
            return None;
        }
        const STEP: usize = 2 * LANES;
        let whole = k - k % STEP;
        let xs: [__m256; D] = std::array::from_fn(|j| _mm256_set1_ps(x[j]));
        let mut best = [_mm256_set1_ps(f32::INFINITY); 2];
        let mut best_index = [_mm256_setzero_si256(); 2];
        let mut index = [
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15),
        ];
        let step = _mm256_set1_epi32(STEP as i32);
        let mut start = 0;
        while start < whole {
            for half in 0..2 {
                let at = start + half * LANES;
                // SAFETY: at + 8 ≤ whole ≤ k = norms.len(), and for every
                // j < D, j·k + at + 8 ≤ D·k ≤ transposed.len() (checked
                // above): every load reads eight values inside its slice.
                let (value, mask) = unsafe {
                    let mut acc = _mm256_mul_ps(xs[0], _mm256_loadu_ps(transposed.as_ptr().add(at)));
                    for (j, xj) in xs.iter().enumerate().skip(1) {
                        let c = _mm256_loadu_ps(transposed.as_ptr().add(j * k + at));
                        acc = _mm256_add_ps(acc, _mm256_mul_ps(*xj, c));
                    }
                    let value = _mm256_sub_ps(_mm256_loadu_ps(norms.as_ptr().add(at)), _mm256_add_ps(acc, acc));
                    (value, _mm256_cmp_ps::<_CMP_LT_OQ>(value, best[half]))
                };
                best[half] = _mm256_blendv_ps(best[half], value, mask);
                best_index[half] = _mm256_castps_si256(_mm256_blendv_ps(
                    _mm256_castsi256_ps(best_index[half]),
                    _mm256_castsi256_ps(index[half]),
                    mask,
                ));
                index[half] = _mm256_add_epi32(index[half], step);
            }
            start += STEP;
        }
        let mut values = [0f32; STEP];
        let mut indices = [0u32; STEP];
        for half in 0..2 {
            // SAFETY: each store writes eight values into its half of a
            // 16-value array.
            unsafe {
                _mm256_storeu_ps(values.as_mut_ptr().add(half * LANES), best[half]);
                _mm256_storeu_si256(indices.as_mut_ptr().add(half * LANES).cast(), best_index[half]);
            }
        }
        let mut found = super::reduce_lanes(&values, &indices);
        for c in whole..k {
            let mut acc = x[0] * transposed[c];
            for (j, &xj) in x.iter().enumerate().skip(1) {
                acc += xj * transposed[j * k + c];
            }
            let value = norms[c] - (acc + acc);
            if value < found.1 {
                found = (c as u32, value);
            }
        }
        Some(found)
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

    /// The one-pass scalar search the lane versions must reproduce.
    fn argmin_scalar(dots: &[f32], norms: &[f32]) -> (u32, f32) {
        let mut best = (0u32, f32::INFINITY);
        for (c, (&d, &n)) in dots.iter().zip(norms).enumerate() {
            let value = n - 2.0 * d;
            if value < best.1 {
                best = (c as u32, value);
            }
        }
        best
    }

    proptest! {
        #[test]
        fn the_lane_minimum_search_is_the_scalar_one(
            // Few distinct values, so ties are common.
            pairs in proptest::collection::vec((-4i8..4, -4i8..4), 0..200),
        ) {
            let (dots, norms): (Vec<f32>, Vec<f32>) =
                pairs.into_iter().map(|(d, n)| (d as f32 * 0.5, n as f32)).unzip();
            let expected = argmin_scalar(&dots, &norms);
            prop_assert_eq!(argmin_lanes(&dots, &norms), expected);
            prop_assert_eq!(argmin_shifted(&dots, &norms), expected);
        }

        #[test]
        fn the_transposed_search_finds_the_nearest_centroid(
            dim in 1usize..9,
            k in 1usize..70,
            seed in 0u64..1000,
        ) {
            use rand::{Rng, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let centroids: Vec<f32> = (0..k * dim).map(|_| rng.random_range(-2i8..3) as f32).collect();
            let point: Vec<f32> = (0..dim).map(|_| rng.random_range(-2i8..3) as f32).collect();
            let mut transposed = vec![0f32; k * dim];
            for c in 0..k {
                for j in 0..dim {
                    transposed[j * k + c] = centroids[c * dim + j];
                }
            }
            let norms: Vec<f32> = centroids.chunks(dim).map(norm_squared).collect();
            let dots: Vec<f32> = centroids.chunks(dim).map(|c| dot(&point, c)).collect();
            let mut scratch = vec![0f32; k];
            // Small integers: every product and sum is exact, so the
            // accumulation order cannot matter and ties are exact.
            prop_assert_eq!(
                nearest_transposed(&point, &transposed, &norms, &mut scratch),
                argmin_scalar(&dots, &norms)
            );
            prop_assert_eq!(
                nearest_transposed_lanes(&point, &transposed, &norms, &mut scratch),
                argmin_scalar(&dots, &norms)
            );
        }
    }

    #[test]
    fn normalizing_gives_unit_length_and_keeps_zero() {
        let v = normalized(&[3.0, 4.0]);
        assert!((norm_squared(&v) - 1.0).abs() < 1e-6);
        assert_eq!(normalized(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
