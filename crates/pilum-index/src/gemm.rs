//! Nearest centroids of a block of points through one matrix product:
//! ‖x − c‖² = ‖x‖² − 2·x·c + ‖c‖², with every x·c of the block computed by
//! `ndarray`'s GEMM (matrixmultiply), which is several times faster than
//! one distance at a time once there are more than a few centroids.
//!
//! Each product entry accumulates over the dimensions in an order fixed by
//! the GEMM's blocking, never by how points are split into blocks, so the
//! results are the same for any chunking and thread count.

use crate::kernels::norm_squared;
use crate::kmeans::nearest;
use crate::vectors::Vectors;
use ndarray::ArrayView2;

/// Below this many centroids, direct distances are as fast.
const GEMM_MIN_CENTROIDS: usize = 16;
/// Product entries computed at once (bounds the block's scratch memory).
const MAX_PRODUCT_ENTRIES: usize = 1 << 21;

/// For each point of `block`: the nearest of `centroids` (first on ties)
/// into `out`, and its squared distance into `dist`.
pub(crate) fn nearest_block(
    block: Vectors<'_>,
    centroids: Vectors<'_>,
    centroid_norms: &[f32],
    out: &mut [u32],
    dist: &mut [f32],
) {
    let k = centroids.len();
    let dim = block.dim();
    if k < GEMM_MIN_CENTROIDS {
        return direct_all(block, centroids, out, dist);
    }
    let rows_per_product = (MAX_PRODUCT_ENTRIES / k).max(1);
    let centroid_matrix = match ArrayView2::from_shape((k, dim), centroids.as_slice()) {
        Ok(m) => m,
        Err(_) => return direct_all(block, centroids, out, dist),
    };
    let mut start = 0;
    while start < block.len() {
        let end = (start + rows_per_product).min(block.len());
        let part = block.slice(start..end);
        let Ok(points) = ArrayView2::from_shape((end - start, dim), part.as_slice()) else {
            return direct_all(block, centroids, out, dist);
        };
        let products = points.dot(&centroid_matrix.t());
        for (j, (row, p)) in products.rows().into_iter().zip(part.iter()).enumerate() {
            let point_norm = norm_squared(p);
            let mut best = (0u32, f32::INFINITY);
            for (c, (&dot, &norm)) in row.iter().zip(centroid_norms).enumerate() {
                let d = norm - 2.0 * dot;
                if d < best.1 {
                    best = (c as u32, d);
                }
            }
            let i = start + j;
            out[i] = best.0;
            dist[i] = (best.1 + point_norm).max(0.0);
        }
        start = end;
    }
}

fn direct_all(block: Vectors<'_>, centroids: Vectors<'_>, out: &mut [u32], dist: &mut [f32]) {
    for (i, (slot, best)) in out.iter_mut().zip(dist.iter_mut()).enumerate() {
        let (c, d) = nearest(block.get(i), centroids);
        *slot = c;
        *best = d;
    }
}
