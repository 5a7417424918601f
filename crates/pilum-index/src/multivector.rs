//! Late-interaction (MaxSim) scoring of multivectors: a row holds a bag of
//! vectors, a query is a bag too, and each query vector is matched with
//! its nearest vector of the row.
//!
//! The distance of a row is `Σᵢ minⱼ d(qᵢ, vⱼ)` for the query's metric —
//! for cosine, the query's size minus the MaxSim score `Σᵢ maxⱼ cos(qᵢ, vⱼ)`
//! (pylance 14's `_distance` for multivector columns, checked against it).

use crate::metric::Metric;
use crate::topk::{Neighbor, TopK};

/// A query bag made ready for [`MultiQuery::distance`].
#[derive(Debug, Clone)]
pub struct MultiQuery {
    metric: Metric,
    dim: usize,
    prepared: Vec<Vec<f32>>,
}

impl MultiQuery {
    /// Prepares the query vectors (`values` row-major, `dim` each; a
    /// trailing partial vector is ignored).
    pub fn new(metric: Metric, values: &[f32], dim: usize) -> Self {
        let prepared = values
            .chunks_exact(dim.max(1))
            .map(|q| metric.prepare_query(q))
            .collect();
        Self {
            metric,
            dim: dim.max(1),
            prepared,
        }
    }

    /// Query vectors in the bag.
    pub fn len(&self) -> usize {
        self.prepared.len()
    }

    /// Whether the bag holds no vector.
    pub fn is_empty(&self) -> bool {
        self.prepared.is_empty()
    }

    /// The distance to a row's bag (`bag` row-major, `dim` values each).
    /// Vectors whose distance is NaN are ignored; `None` when the bag has
    /// no usable vector.
    pub fn distance(&self, bag: &[f32]) -> Option<f32> {
        let mut best = vec![f32::INFINITY; self.prepared.len()];
        let mut any = false;
        for vector in bag.chunks_exact(self.dim) {
            for (query, best) in self.prepared.iter().zip(best.iter_mut()) {
                let d = self.metric.distance_prepared(query, vector);
                if d.is_nan() {
                    continue;
                }
                any = true;
                if d < *best {
                    *best = d;
                }
            }
        }
        any.then(|| best.iter().sum())
    }
}

/// The `keep` rows most likely to score best by MaxSim, from each query
/// vector's nearest index entries (`lists[i]`, nearest first; entries of
/// one row may repeat). A row's estimate sums, per query vector, its
/// nearest entry's distance, or when the list holds none of its entries
/// the list's farthest distance (it can be no nearer than that) — the
/// imputation of XTR (Lee et al., 2023, "Rethinking the Role of Token
/// Retrieval in Multi-Vector Retrieval").
pub fn maxsim_candidates(lists: &[Vec<Neighbor>], keep: usize) -> Vec<u64> {
    use std::collections::HashMap;
    let mut best: HashMap<u64, Vec<f32>> = HashMap::new();
    let imputed: Vec<f32> = lists
        .iter()
        .map(|list| list.iter().map(|n| n.distance).fold(f32::NEG_INFINITY, f32::max))
        .collect();
    for (i, list) in lists.iter().enumerate() {
        for n in list {
            let row = best.entry(n.id).or_insert_with(|| imputed.clone());
            if n.distance < row[i] {
                row[i] = n.distance;
            }
        }
    }
    let mut top = TopK::new(keep);
    for (id, distances) in best {
        top.push(distances.iter().sum(), id);
    }
    top.into_sorted().into_iter().map(|n| n.id).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn candidates_missing_from_a_list_get_its_farthest_distance() {
        let n = |distance, id| Neighbor { distance, id };
        // Row 1 is near query vector 0 only, row 2 moderately near both.
        let lists = vec![
            vec![n(0.1, 1), n(0.3, 2), n(0.9, 3)],
            vec![n(0.3, 2), n(0.5, 4), n(0.6, 4)],
        ];
        assert_eq!(maxsim_candidates(&lists, 2), vec![2, 1]);
        assert_eq!(maxsim_candidates(&lists, 10), vec![2, 1, 4, 3]);
    }

    #[test]
    fn cosine_distance_is_bag_size_minus_maxsim() {
        let query = [1.0, 0.0, 0.0, 1.0];
        let bag = [1.0, 0.0, 1.0, 1.0];
        let q = MultiQuery::new(Metric::Cosine, &query, 2);
        // q1 matches [1,0] exactly (cos 1); q2 best is [1,1] (cos 1/√2).
        let maxsim = 1.0 + std::f32::consts::FRAC_1_SQRT_2;
        assert!((q.distance(&bag).unwrap() - (2.0 - maxsim)).abs() < 1e-6);
        assert_eq!(q.distance(&[]), None);
        assert_eq!(q.distance(&[f32::NAN, 0.0]), None);
    }

    proptest::proptest! {
        #[test]
        fn equals_the_sum_of_per_query_minima(
            query in proptest::collection::vec(-5f32..5.0, 3..=12),
            bag in proptest::collection::vec(-5f32..5.0, 3..=30),
        ) {
            let dim = 3;
            let query = &query[..query.len() / dim * dim];
            let bag = &bag[..bag.len() / dim * dim];
            for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
                let expected: f32 = query
                    .chunks_exact(dim)
                    .map(|q| bag.chunks_exact(dim).map(|v| metric.distance(q, v)).fold(f32::INFINITY, f32::min))
                    .sum();
                let got = MultiQuery::new(metric, query, dim).distance(bag).unwrap();
                proptest::prop_assert!((got - expected).abs() <= 1e-3 * expected.abs().max(1.0));
            }
        }
    }
}
