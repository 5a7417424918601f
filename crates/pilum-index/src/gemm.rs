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
/// Up to this many dimensions (product-quantizer sub-vectors), dot
/// products are accumulated per point over transposed centroids instead of
/// through a matrix product, whose packing and result matrix cost more
/// than the few multiplications themselves. Measured with 256 centroids
/// per sub-space (example `pq_build_time`): 4-value sub-vectors train
/// about 2× faster this way, 8-value ones as fast at 128-d and 13% faster
/// at 768-d; from 16 values on the product is faster.
const FUSED_MAX_DIM: usize = 8;
/// Product entries computed at once (bounds the block's scratch memory).
const MAX_PRODUCT_ENTRIES: usize = 1 << 16;

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
    if dim <= FUSED_MAX_DIM {
        return fused_all(block, centroids, centroid_norms, out, dist);
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
        let Some(all) = products.as_slice() else {
            return direct_all(block, centroids, out, dist);
        };
        for (j, (row, p)) in all.chunks_exact(k).zip(part.iter()).enumerate() {
            let best = crate::nearest::argmin_shifted(row, centroid_norms);
            let i = start + j;
            out[i] = best.0;
            dist[i] = (best.1 + norm_squared(p)).max(0.0);
        }
        start = end;
    }
}

fn fused_all(block: Vectors<'_>, centroids: Vectors<'_>, norms: &[f32], out: &mut [u32], dist: &mut [f32]) {
    let (k, dim) = (centroids.len(), centroids.dim());
    let mut transposed = vec![0f32; k * dim];
    for (c, centroid) in centroids.iter().enumerate() {
        for (j, &v) in centroid.iter().enumerate() {
            transposed[j * k + c] = v;
        }
    }
    let mut dots = vec![0f32; k];
    for (i, (slot, best)) in out.iter_mut().zip(dist.iter_mut()).enumerate() {
        let point = block.get(i);
        let (c, shifted) = crate::nearest::nearest_transposed(point, &transposed, norms, &mut dots);
        *slot = c;
        *best = (shifted + norm_squared(point)).max(0.0);
    }
}

fn direct_all(block: Vectors<'_>, centroids: Vectors<'_>, out: &mut [u32], dist: &mut [f32]) {
    for (i, (slot, best)) in out.iter_mut().zip(dist.iter_mut()).enumerate() {
        let (c, d) = nearest(block.get(i), centroids);
        *slot = c;
        *best = d;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::kernels::l2_squared;
    use rand::{Rng, SeedableRng};

    /// Every path (direct, fused, matrix product) picks a centroid at the
    /// smallest distance and reports that distance.
    #[test]
    fn every_path_finds_the_nearest_centroid() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for (dim, k) in [(2, 5), (4, 16), (4, 256), (8, 40), (20, 300)] {
            let centroids: Vec<f32> = (0..k * dim).map(|_| rng.random::<f32>()).collect();
            let points: Vec<f32> = (0..500 * dim).map(|_| rng.random::<f32>()).collect();
            let (c, p) = (
                Vectors::new(&centroids, dim).unwrap(),
                Vectors::new(&points, dim).unwrap(),
            );
            let norms: Vec<f32> = c.iter().map(norm_squared).collect();
            let (mut out, mut dist) = (vec![0u32; 500], vec![0f32; 500]);
            nearest_block(p, c, &norms, &mut out, &mut dist);
            for (i, point) in p.iter().enumerate() {
                let best = c.iter().map(|x| l2_squared(point, x)).fold(f32::INFINITY, f32::min);
                let chosen = l2_squared(point, c.get(out[i] as usize));
                assert!(chosen - best <= 1e-4, "dim {dim}, k {k}: {chosen} against {best}");
                assert!((dist[i] - chosen).abs() <= 1e-4, "dim {dim}, k {k}");
            }
        }
    }
}
