//! The distances a vector query ranks by. Smaller is nearer for all of
//! them; the values match pylance 14's `_distance` (checked against it):
//! squared L2, `1 − cos`, and `1 − dot`.

use crate::error::{IndexError, Result};
use crate::kernels::{dot, l2_squared, norm_squared};

/// A distance between vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Metric {
    /// Squared Euclidean distance.
    L2,
    /// One minus the cosine similarity (in [0, 2]); a zero vector is at
    /// distance 1 from everything.
    Cosine,
    /// One minus the dot product (for embeddings trained for inner
    /// product; unbounded below).
    Dot,
    /// Bits that differ, for binary codes packed in bytes: each value is a
    /// byte (0–255, as a u8 column's values read), and the distance is the
    /// population count of their XOR. Searched exactly; no index kind
    /// trains on it.
    Hamming,
}

impl Metric {
    /// Parses `l2`/`euclidean`, `cosine` or `dot` (any case).
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "l2" | "euclidean" => Ok(Self::L2),
            "cosine" => Ok(Self::Cosine),
            "dot" => Ok(Self::Dot),
            "hamming" => Ok(Self::Hamming),
            other => Err(IndexError::params(format!(
                "unknown metric {other:?}; expected l2, euclidean, cosine, dot or hamming"
            ))),
        }
    }

    /// The metric's name as [`Metric::parse`] accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Self::L2 => "l2",
            Self::Cosine => "cosine",
            Self::Dot => "dot",
            Self::Hamming => "hamming",
        }
    }

    /// The distance between `a` and `b` (equal lengths).
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Self::L2 => l2_squared(a, b),
            Self::Dot => 1.0 - dot(a, b),
            Self::Hamming => hamming(a, b),
            Self::Cosine => {
                let norms = (norm_squared(a) * norm_squared(b)).sqrt();
                if norms > 0.0 {
                    1.0 - dot(a, b) / norms
                } else if norms == 0.0 {
                    1.0
                } else {
                    f32::NAN
                }
            }
        }
    }

    /// `query` made ready for many [`Metric::distance_prepared`] calls: unit
    /// length for cosine (its norm is then not recomputed per vector), as
    /// given otherwise.
    pub fn prepare_query(self, query: &[f32]) -> Vec<f32> {
        match self {
            Self::Cosine => crate::kernels::normalized(query),
            _ => query.to_vec(),
        }
    }

    /// The distance from a query prepared by [`Metric::prepare_query`] to
    /// `v`: [`Metric::distance`] up to rounding, with two dot products
    /// instead of three for cosine.
    pub fn distance_prepared(self, prepared: &[f32], v: &[f32]) -> f32 {
        match self {
            Self::Cosine => {
                let norm = norm_squared(v).sqrt();
                if norm > 0.0 {
                    1.0 - dot(prepared, v) / norm
                } else if norm == 0.0 {
                    1.0
                } else {
                    f32::NAN
                }
            }
            _ => self.distance(prepared, v),
        }
    }
}

/// Differing bits of two byte vectors held as f32 values (NaN when a value
/// is not a byte).
fn hamming(a: &[f32], b: &[f32]) -> f32 {
    let mut bits = 0u32;
    for (&x, &y) in a.iter().zip(b) {
        if !(0.0..=255.0).contains(&x) || !(0.0..=255.0).contains(&y) {
            return f32::NAN;
        }
        bits += ((x as u8) ^ (y as u8)).count_ones();
    }
    bits as f32
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn distances_match_pylance() {
        // pylance 14.0.2, q = [1, 1] against [1, 2] and [3, 4]:
        // dot -> [-2, -6], cosine -> [0.0513, 0.0101], l2 -> [1, 13].
        let q = [1.0, 1.0];
        assert_eq!(Metric::L2.distance(&q, &[1.0, 2.0]), 1.0);
        assert_eq!(Metric::L2.distance(&q, &[3.0, 4.0]), 13.0);
        assert_eq!(Metric::Dot.distance(&q, &[3.0, 4.0]), -6.0);
        assert_eq!(Metric::Dot.distance(&q, &[1.0, 2.0]), -2.0);
        assert!((Metric::Cosine.distance(&q, &[3.0, 4.0]) - 0.010_050_5).abs() < 1e-6);
        assert!((Metric::Cosine.distance(&q, &[1.0, 2.0]) - 0.051_316_7).abs() < 1e-6);
        assert_eq!(Metric::Cosine.distance(&q, &[0.0, 0.0]), 1.0);
        // A vector holding NaN is at no distance at all, for every metric.
        for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
            assert!(metric.distance(&q, &[f32::NAN, 0.0]).is_nan(), "{metric}");
            assert!(
                metric
                    .distance_prepared(&metric.prepare_query(&q), &[f32::NAN, 0.0])
                    .is_nan(),
                "{metric}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn prepared_distances_equal_plain_ones(
            pairs in proptest::collection::vec((-10f32..10.0, -10f32..10.0), 1..40),
        ) {
            let (q, v): (Vec<f32>, Vec<f32>) = pairs.into_iter().unzip();
            for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
                let plain = metric.distance(&q, &v);
                let prepared = metric.distance_prepared(&metric.prepare_query(&q), &v);
                proptest::prop_assert!((plain - prepared).abs() <= 1e-4 * plain.abs().max(1.0), "{} {} {}", metric, plain, prepared);
            }
        }
    }

    #[test]
    fn parses_names() {
        assert_eq!(Metric::parse("Euclidean").unwrap(), Metric::L2);
        assert_eq!(Metric::parse("COSINE").unwrap(), Metric::Cosine);
        assert_eq!(Metric::parse(Metric::Dot.name()).unwrap(), Metric::Dot);
        assert_eq!(Metric::parse("Hamming").unwrap(), Metric::Hamming);
        assert!(matches!(
            Metric::parse("manhattan"),
            Err(IndexError::InvalidParams { .. })
        ));
    }

    #[test]
    fn hamming_counts_differing_bits() {
        assert_eq!(Metric::Hamming.distance(&[0.0, 255.0], &[1.0, 15.0]), 5.0);
        assert_eq!(Metric::Hamming.distance(&[7.0], &[7.0]), 0.0);
        assert!(Metric::Hamming.distance(&[256.0], &[0.0]).is_nan());
        assert!(Metric::Hamming.distance(&[f32::NAN], &[0.0]).is_nan());
    }
}
