//! Nearest-centroid kernels: the minimum of `‖c‖² − 2·x·c` over the
//! centroids, after a matrix product (`argmin_shifted`) or straight from a
//! point of a few values and transposed centroids (`nearest_transposed`).
//! Every path computes each value by the same expressions and breaks ties
//! the same way, so answers are the same bits on every CPU; AVX2 versions
//! are chosen at run time.

use crate::kernels::LANES;

/// The index minimising `norms[c] − 2·dots[c]` (the first on ties) and
/// that value; `(0, +∞)` when no value is below infinity. This is the
/// nearest-centroid step after a matrix product of points by centroids.
/// Every path computes each value by the same expression and breaks ties
/// the same way, so the answer is the same bits on every CPU.
pub fn argmin_shifted(dots: &[f32], norms: &[f32]) -> (u32, f32) {
    #[cfg(target_arch = "x86_64")]
    if dots.len() >= 2 * LANES && crate::kernels::simd_available() {
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
    if norms.len() >= 2 * LANES && crate::kernels::simd_available() {
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

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd {
    use super::LANES;
    use std::arch::x86_64::*;

    /// [`super::argmin_shifted`]; callers checked [`crate::kernels::simd_available`].
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

    /// [`super::nearest_transposed`]; callers checked [`crate::kernels::simd_available`].
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::kernels::{dot, norm_squared};
    use proptest::prelude::*;

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
}
