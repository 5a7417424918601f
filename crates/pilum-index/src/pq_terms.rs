//! Precomputed parts of IVF-PQ distances, so that probing a partition costs
//! one table addition instead of a fresh lookup table.
//!
//! With x ≈ c + b (partition centroid c, decoded residual b) and a query q:
//! ‖q − c − b‖² = ‖q − c‖² − 2⟨q, b⟩ + (2⟨c, b⟩ + ‖b‖²), and each term splits
//! over the PQ sub-spaces. The last term depends only on the partition and
//! the code, so it is computed once per index; −2⟨q, b⟩ once per query;
//! ‖q − c‖² once per probed partition.

use crate::ivf::IvfModel;
use crate::kernels::{dot, norm_squared};
use crate::pq::ProductQuantizer;

/// Tables above this many values are not precomputed (memory bound).
const MAX_VALUES: usize = 1 << 26;

/// For every partition p, sub-space s and code k: 2⟨c_p,s, b_s,k⟩ + ‖b_s,k‖².
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PartitionTerms {
    values: Vec<f32>,
    stride: usize,
}

impl PartitionTerms {
    /// The terms of `ivf` and `pq`, unless they would exceed the memory bound.
    pub(crate) fn compute(ivf: &IvfModel, pq: &ProductQuantizer) -> Option<Self> {
        let m = pq.num_sub_vectors();
        let stride = m * pq.codebook_size();
        let partitions = ivf.num_partitions();
        if partitions.checked_mul(stride)? > MAX_VALUES {
            return None;
        }
        let norms: Vec<Vec<f32>> = (0..m)
            .map(|s| pq.codebook(s).iter().map(norm_squared).collect())
            .collect();
        let mut values = Vec::with_capacity(partitions * stride);
        for centroid in ivf.centroids().chunks_exact(ivf.dim()) {
            for (s, norms) in norms.iter().enumerate() {
                let part = &centroid[pq.sub_range(s)];
                values.extend(pq.codebook(s).iter().zip(norms).map(|(b, n)| 2.0 * dot(part, b) + n));
            }
        }
        Some(Self { values, stride })
    }

    /// The terms of partition `p` (sub-space after sub-space, one per centroid).
    pub(crate) fn of(&self, p: u32) -> Option<&[f32]> {
        let start = p as usize * self.stride;
        self.values.get(start..start + self.stride)
    }
}

/// −2⟨q_s, b_s,k⟩ for every sub-space s and code k of `pq`.
pub(crate) fn query_terms(pq: &ProductQuantizer, query: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(pq.num_sub_vectors() * pq.codebook_size());
    for s in 0..pq.num_sub_vectors() {
        let part = &query[pq.sub_range(s)];
        out.extend(pq.codebook(s).iter().map(|b| -2.0 * dot(part, b)));
    }
    out
}
