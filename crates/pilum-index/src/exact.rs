//! Exact (brute-force) nearest-neighbor search.

use crate::error::{IndexError, Result, check_dim};
use crate::metric::Metric;
use crate::topk::{Neighbor, TopK};
use crate::vectors::Vectors;

/// The `k` vectors of `data` nearest to `query` under `metric`; vector `i`
/// answers with `ids[i]` (or `i` when `ids` is `None`). Nearest first, ties
/// by id.
pub fn exact_search(
    query: &[f32],
    data: Vectors<'_>,
    ids: Option<&[u64]>,
    metric: Metric,
    k: usize,
) -> Result<Vec<Neighbor>> {
    check_dim(data.dim(), query.len())?;
    if let Some(ids) = ids
        && ids.len() != data.len()
    {
        return Err(IndexError::params(format!(
            "{} ids for {} vectors",
            ids.len(),
            data.len()
        )));
    }
    let mut top = TopK::new(k);
    for (i, v) in data.iter().enumerate() {
        let id = ids.map_or(i as u64, |ids| ids[i]);
        top.push(metric.distance(query, v), id);
    }
    Ok(top.into_sorted())
}
