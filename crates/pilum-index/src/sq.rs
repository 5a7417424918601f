//! 8-bit scalar quantization: each dimension of a vector is mapped
//! linearly from its trained range [lo, hi] onto 0..=255. Distances to a
//! query are computed on the codes directly: for L2,
//! Σ step²·(q′ − c)² with q′ = (q − lo)/step, which needs no decoding.

use crate::error::{IndexError, Result, check_dim};
use crate::metric::Metric;
use crate::vectors::Vectors;

/// Code levels per dimension.
const LEVELS: f32 = 255.0;
/// Independent sums in the distance loop.
const LANES: usize = 8;

/// Per-dimension ranges of an 8-bit scalar quantizer.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarQuantizer {
    lo: Vec<f32>,
    hi: Vec<f32>,
}

impl ScalarQuantizer {
    /// Ranges from `data`: per dimension, the 0.1th and 99.9th percentile
    /// (outliers are clamped rather than stretching every code's step).
    pub fn train(data: Vectors<'_>) -> Result<Self> {
        if data.is_empty() {
            return Err(IndexError::TooFewVectors { needed: 1, found: 0 });
        }
        let dim = data.dim();
        let n = data.len();
        let (low_at, high_at) = ((n - 1) / 1000, n - 1 - (n - 1) / 1000);
        let mut lo = Vec::with_capacity(dim);
        let mut hi = Vec::with_capacity(dim);
        let mut column = Vec::with_capacity(n);
        for d in 0..dim {
            column.clear();
            column.extend(data.iter().map(|v| v[d]));
            column.sort_unstable_by(f32::total_cmp);
            lo.push(column[low_at]);
            hi.push(column[high_at].max(column[low_at]));
        }
        Self::from_ranges(lo, hi)
    }

    /// A quantizer from stored ranges; unequal lengths, `lo > hi` or
    /// non-finite values are corruption.
    pub fn from_ranges(lo: Vec<f32>, hi: Vec<f32>) -> Result<Self> {
        let bad = lo.len() != hi.len()
            || lo.is_empty()
            || lo
                .iter()
                .zip(&hi)
                .any(|(l, h)| !l.is_finite() || !h.is_finite() || l > h);
        if bad {
            return Err(IndexError::Corrupt {
                what: "scalar quantizer ranges are ragged, inverted or not finite".into(),
            });
        }
        Ok(Self { lo, hi })
    }

    /// Values per vector.
    pub fn dim(&self) -> usize {
        self.lo.len()
    }

    /// Lower ends of the ranges.
    pub fn lo(&self) -> &[f32] {
        &self.lo
    }

    /// Upper ends of the ranges.
    pub fn hi(&self) -> &[f32] {
        &self.hi
    }

    fn step(&self, d: usize) -> f32 {
        let width = self.hi[d] - self.lo[d];
        if width > 0.0 { width / LEVELS } else { 1.0 }
    }

    /// The codes of every vector of `data`, row after row (`dim` bytes each).
    pub fn encode_batch(&self, data: Vectors<'_>) -> Result<Vec<u8>> {
        check_dim(self.dim(), data.dim())?;
        let steps: Vec<f32> = (0..self.dim()).map(|d| self.step(d)).collect();
        let mut out = Vec::with_capacity(data.len() * self.dim());
        for v in data.iter() {
            out.extend(
                v.iter()
                    .zip(&self.lo)
                    .zip(&steps)
                    .map(|((x, lo), step)| ((x - lo) / step).round().clamp(0.0, LEVELS) as u8),
            );
        }
        Ok(out)
    }

    /// Code-to-code distances under `metric` (the vectors as the metric
    /// compares them were encoded).
    pub fn code_metric(&self, metric: Metric) -> CodeMetric {
        let steps: Vec<f32> = (0..self.dim()).map(|d| self.step(d)).collect();
        match metric {
            Metric::Dot => CodeMetric {
                weights: steps.clone(),
                lo: self.lo.clone(),
                steps,
                scale: 1.0,
            },
            _ => CodeMetric {
                weights: steps.iter().map(|s| s * s).collect(),
                lo: Vec::new(),
                steps,
                scale: if metric == Metric::Cosine { 0.5 } else { 1.0 },
            },
        }
    }

    /// `query` (as the metric compares it) made ready for [`SqQuery::distance`].
    pub fn prepare(&self, query: &[f32], metric: Metric) -> Result<SqQuery> {
        check_dim(self.dim(), query.len())?;
        let steps: Vec<f32> = (0..self.dim()).map(|d| self.step(d)).collect();
        Ok(match metric {
            Metric::Dot => SqQuery {
                target: query.iter().zip(&steps).map(|(q, s)| q * s).collect(),
                weights: Vec::new(),
                offset: 1.0 - query.iter().zip(&self.lo).map(|(q, l)| q * l).sum::<f32>(),
                scale: -1.0,
            },
            _ => SqQuery {
                target: query
                    .iter()
                    .zip(&self.lo)
                    .zip(&steps)
                    .map(|((q, l), s)| (q - l) / s)
                    .collect(),
                weights: steps.iter().map(|s| s * s).collect(),
                offset: 0.0,
                scale: if metric == Metric::Cosine { 0.5 } else { 1.0 },
            },
        })
    }
}

/// Distances between two codes of one scalar quantizer (those of the
/// vectors they decode to), for building graphs over codes.
#[derive(Debug, Clone)]
pub struct CodeMetric {
    /// L2: each dimension's squared step; dot: each dimension's step.
    weights: Vec<f32>,
    /// Dot only: each dimension's lower end.
    lo: Vec<f32>,
    /// Each dimension's step.
    steps: Vec<f32>,
    scale: f32,
}

impl CodeMetric {
    /// The distance between the vectors codes `a` and `b` decode to.
    pub fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if self.fast_on_codes() && a.len() == b.len() && a.len() == self.weights.len() {
            return self.scale * simd::weighted_pair_l2(&self.weights, a, b);
        }
        if self.lo.is_empty() {
            let mut acc = [0f32; LANES];
            let (xs, ys) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
            let mut rest = 0f32;
            for ((x, y), w) in xs
                .remainder()
                .iter()
                .zip(ys.remainder())
                .zip(self.weights.chunks_exact(LANES).remainder())
            {
                let d = *x as f32 - *y as f32;
                rest += w * d * d;
            }
            for ((x, y), w) in xs.zip(ys).zip(self.weights.chunks_exact(LANES)) {
                for i in 0..LANES {
                    let d = x[i] as f32 - y[i] as f32;
                    acc[i] += w[i] * d * d;
                }
            }
            let sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + rest;
            return self.scale * sum;
        }
        let dot: f32 = a
            .iter()
            .zip(b)
            .zip(self.weights.iter().zip(&self.lo))
            .map(|((&x, &y), (s, l))| (l + x as f32 * s) * (l + y as f32 * s))
            .sum();
        1.0 - dot
    }

    /// Whether [`Self::distance`] over codes is the faster way to compare
    /// two members (L2 and cosine on a CPU with AVX2: the SIMD kernel reads
    /// a quarter of the bytes decoded values take); else decode first.
    pub fn fast_on_codes(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            self.lo.is_empty() && simd::available()
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Appends the values [`Self::decoded_distance`] compares for `code`:
    /// `code × step` per dimension (L2, cosine: offsets cancel), or the
    /// decoded vector (dot).
    pub fn decode_into(&self, code: &[u8], out: &mut Vec<f32>) {
        if self.lo.is_empty() {
            out.extend(code.iter().zip(&self.steps).map(|(&c, s)| c as f32 * s));
        } else {
            out.extend(
                code.iter()
                    .zip(&self.steps)
                    .zip(&self.lo)
                    .map(|((&c, s), l)| l + c as f32 * s),
            );
        }
    }

    /// [`Self::distance`] of two codes from their decoded values (faster:
    /// the f32 kernels).
    pub fn decoded_distance(&self, a: &[f32], b: &[f32]) -> f32 {
        if self.lo.is_empty() {
            self.scale * crate::kernels::l2_squared(a, b)
        } else {
            1.0 - crate::kernels::dot(a, b)
        }
    }
}

/// A query prepared against a scalar quantizer.
#[derive(Debug, Clone)]
pub struct SqQuery {
    /// L2: the query in code units; dot: the query times each step.
    target: Vec<f32>,
    /// L2: each dimension's squared step; empty for dot.
    weights: Vec<f32>,
    offset: f32,
    scale: f32,
}

impl SqQuery {
    /// The estimated distance to the vector `code` stands for, in the
    /// metric's own terms.
    pub fn distance(&self, code: &[u8]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if code.len() >= 8 && code.len() == self.target.len() && simd::available() {
            let sum = if self.weights.is_empty() {
                simd::weighted_dot(&self.target, code)
            } else {
                simd::weighted_l2(&self.target, &self.weights, code)
            };
            return self.offset + self.scale * sum;
        }
        // Eight running sums, so the loop becomes SIMD code without
        // reassociating floating-point additions.
        let mut acc = [0f32; LANES];
        let (targets, codes) = (self.target.chunks_exact(LANES), code.chunks_exact(LANES));
        let (target_rest, code_rest) = (targets.remainder(), codes.remainder());
        let mut rest = 0f32;
        if self.weights.is_empty() {
            for (t, c) in targets.zip(codes) {
                for i in 0..LANES {
                    acc[i] += t[i] * c[i] as f32;
                }
            }
            for (t, &c) in target_rest.iter().zip(code_rest) {
                rest += t * c as f32;
            }
        } else {
            let weights = self.weights.chunks_exact(LANES);
            let weight_rest = weights.remainder();
            for ((t, w), c) in targets.zip(weights).zip(codes) {
                for i in 0..LANES {
                    let d = t[i] - c[i] as f32;
                    acc[i] += w[i] * d * d;
                }
            }
            for ((t, w), &c) in target_rest.iter().zip(weight_rest).zip(code_rest) {
                let d = t - c as f32;
                rest += w * d * d;
            }
        }
        let sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + rest;
        self.offset + self.scale * sum
    }
}

/// Distances to 8-bit codes with AVX2 and FMA (checked at run time).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd {
    use std::arch::x86_64::*;

    /// Whether this CPU has AVX2 and FMA.
    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }

    /// Σ wᵢ·(tᵢ − cᵢ)²; callers checked [`available`] and equal lengths.
    pub(super) fn weighted_l2(target: &[f32], weights: &[f32], code: &[u8]) -> f32 {
        // SAFETY: the caller checked AVX2 and FMA; the function reads only
        // within its slices.
        unsafe { l2(target, weights, code) }
    }

    /// Σ tᵢ·cᵢ; callers checked [`available`] and equal lengths.
    pub(super) fn weighted_dot(target: &[f32], code: &[u8]) -> f32 {
        // SAFETY: as in `weighted_l2`.
        unsafe { dot(target, code) }
    }

    /// Σ wᵢ·(aᵢ − bᵢ)² over two codes; callers checked [`available`] and equal lengths.
    pub(super) fn weighted_pair_l2(weights: &[f32], a: &[u8], b: &[u8]) -> f32 {
        // SAFETY: as in `weighted_l2`.
        unsafe { pair_l2(weights, a, b) }
    }

    /// Eight codes from `code[i..i + 8]` as f32 lanes.
    #[target_feature(enable = "avx2,fma")]
    fn widen(code: &[u8], i: usize) -> __m256 {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&code[i..i + 8]);
        // SAFETY: `bytes` is 16 bytes, what an unaligned 128-bit load reads.
        let packed = unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) };
        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(packed))
    }

    #[target_feature(enable = "avx2,fma")]
    fn l2(target: &[f32], weights: &[f32], code: &[u8]) -> f32 {
        let n = code.len().min(target.len()).min(weights.len());
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 ≤ n ≤ the slices' lengths: 8-lane loads within them.
            let (t, w) = unsafe {
                (
                    _mm256_loadu_ps(target.as_ptr().add(i)),
                    _mm256_loadu_ps(weights.as_ptr().add(i)),
                )
            };
            let d = _mm256_sub_ps(t, widen(code, i));
            acc = _mm256_fmadd_ps(_mm256_mul_ps(w, d), d, acc);
            i += 8;
        }
        let mut sum = horizontal(acc);
        for j in i..n {
            let d = target[j] - code[j] as f32;
            sum += weights[j] * d * d;
        }
        sum
    }

    #[target_feature(enable = "avx2,fma")]
    fn pair_l2(weights: &[f32], a: &[u8], b: &[u8]) -> f32 {
        let n = a.len().min(b.len()).min(weights.len());
        let (mut low, mut high) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        // Sixteen dimensions a step: codes widened to i16 and subtracted
        // there (a difference of two bytes fits), then to f32 in two halves.
        while i + 16 <= n {
            // SAFETY: i + 16 ≤ n ≤ each slice's length: 16-byte loads from
            // the codes and two 8-lane loads from the weights stay within them.
            let (x, y, w_low, w_high) = unsafe {
                (
                    _mm_loadu_si128(a.as_ptr().add(i).cast()),
                    _mm_loadu_si128(b.as_ptr().add(i).cast()),
                    _mm256_loadu_ps(weights.as_ptr().add(i)),
                    _mm256_loadu_ps(weights.as_ptr().add(i + 8)),
                )
            };
            let d = _mm256_sub_epi16(_mm256_cvtepu8_epi16(x), _mm256_cvtepu8_epi16(y));
            let d_low = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(d)));
            let d_high = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_extracti128_si256::<1>(d)));
            low = _mm256_fmadd_ps(_mm256_mul_ps(w_low, d_low), d_low, low);
            high = _mm256_fmadd_ps(_mm256_mul_ps(w_high, d_high), d_high, high);
            i += 16;
        }
        let mut sum = horizontal(_mm256_add_ps(low, high));
        for j in i..n {
            let d = a[j] as f32 - b[j] as f32;
            sum += weights[j] * d * d;
        }
        sum
    }

    #[target_feature(enable = "avx2,fma")]
    fn dot(target: &[f32], code: &[u8]) -> f32 {
        let n = code.len().min(target.len());
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 ≤ n ≤ `target.len()`.
            let t = unsafe { _mm256_loadu_ps(target.as_ptr().add(i)) };
            acc = _mm256_fmadd_ps(t, widen(code, i), acc);
            i += 8;
        }
        let mut sum = horizontal(acc);
        for j in i..n {
            sum += target[j] * code[j] as f32;
        }
        sum
    }

    #[target_feature(enable = "avx2,fma")]
    fn horizontal(v: __m256) -> f32 {
        let mut out = [0f32; 8];
        // SAFETY: `out` holds exactly the eight f32 an unaligned store writes.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
        ((out[0] + out[4]) + (out[1] + out[5])) + ((out[2] + out[6]) + (out[3] + out[7]))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn distances_on_codes_approximate_exact_ones_within_the_step() {
        let data: Vec<f32> = (0..4000).map(|i| ((i * 37) % 101) as f32 / 10.0 - 5.0).collect();
        let view = Vectors::new(&data, 8).unwrap();
        let sq = ScalarQuantizer::train(view).unwrap();
        let codes = sq.encode_batch(view).unwrap();
        let query: Vec<f32> = (0..8).map(|d| d as f32 * 0.3 - 1.0).collect();
        for metric in [Metric::L2, Metric::Dot] {
            let prepared = sq.prepare(&query, metric).unwrap();
            for (v, code) in view.iter().zip(codes.chunks_exact(8)).take(200) {
                let exact = metric.distance(&query, v);
                let estimate = prepared.distance(code);
                assert!((exact - estimate).abs() < 0.5, "{metric}: {exact} vs {estimate}");
            }
        }
        assert!(ScalarQuantizer::from_ranges(vec![1.0], vec![0.0]).is_err());
    }

    #[test]
    fn code_distances_equal_query_distances_to_decoded_codes() {
        let data: Vec<f32> = (0..2200).map(|i| ((i * 53) % 97) as f32 / 9.0 - 5.0).collect();
        let view = Vectors::new(&data, 11).unwrap();
        let sq = ScalarQuantizer::train(view).unwrap();
        let codes = sq.encode_batch(view).unwrap();
        let decode = |code: &[u8]| -> Vec<f32> {
            code.iter()
                .enumerate()
                .map(|(d, &c)| sq.lo()[d] + c as f32 * sq.step(d))
                .collect()
        };
        for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
            let pairs = sq.code_metric(metric);
            for (a, b) in codes.chunks_exact(11).zip(codes.chunks_exact(11).skip(7)).take(50) {
                let want = sq.prepare(&decode(a), metric).unwrap().distance(b);
                let got = pairs.distance(a, b);
                assert!(
                    (got - want).abs() <= 1e-3 * want.abs().max(1.0),
                    "{metric}: {got} vs {want}"
                );
                let (mut x, mut y) = (Vec::new(), Vec::new());
                pairs.decode_into(a, &mut x);
                pairs.decode_into(b, &mut y);
                let decoded = pairs.decoded_distance(&x, &y);
                assert!(
                    (decoded - want).abs() <= 1e-3 * want.abs().max(1.0),
                    "{metric}: {decoded} vs {want}"
                );
            }
        }
    }

    #[test]
    fn code_pair_distances_match_a_plain_sum() {
        // 37 dimensions: two 16-wide SIMD steps and a remainder.
        let dim = 37;
        let data: Vec<f32> = (0..dim * 300).map(|i| ((i * 7919) % 251) as f32 / 25.0 - 5.0).collect();
        let view = Vectors::new(&data, dim).unwrap();
        let sq = ScalarQuantizer::train(view).unwrap();
        let codes = sq.encode_batch(view).unwrap();
        let pairs = sq.code_metric(Metric::L2);
        for (a, b) in codes.chunks_exact(dim).zip(codes.chunks_exact(dim).skip(3)).take(100) {
            let want: f32 = (0..dim)
                .map(|d| {
                    let diff = (a[d] as f32 - b[d] as f32) * sq.step(d);
                    diff * diff
                })
                .sum();
            let got = pairs.distance(a, b);
            assert!((got - want).abs() <= 1e-4 * want.max(1.0), "{got} vs {want}");
        }
    }
}
