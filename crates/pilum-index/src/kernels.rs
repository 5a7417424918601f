//! Distance kernels over `f32` slices of equal length.
//!
//! The loops keep eight independent accumulators so the compiler turns them
//! into SIMD code without `unsafe` (and without fast-math, which would let
//! results differ between builds): on x86-64 with SSE2 that is two 4-lane
//! registers per step, and wider with `-C target-cpu`.

const LANES: usize = 8;

/// Squared Euclidean distance.
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
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
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
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
        }
    }

    #[test]
    fn normalizing_gives_unit_length_and_keeps_zero() {
        let v = normalized(&[3.0, 4.0]);
        assert!((norm_squared(&v) - 1.0).abs() < 1e-6);
        assert_eq!(normalized(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
