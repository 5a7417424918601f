//! Seeded, deterministic k-means: k-means++ seeding, then Lloyd's
//! iterations. Assignments run on several threads, but every sum is taken
//! in point order, so the centroids are the same bits for any thread count.

use crate::error::{IndexError, Result};
use crate::kernels::{l2_squared, norm_squared};
use crate::vectors::Vectors;
use rand::{Rng, SeedableRng, seq::index::sample};
use rand_chacha::ChaCha8Rng;

/// Points one assignment task handles.
const CHUNK_POINTS: usize = 4096;

/// Parameters of a k-means run.
#[derive(Debug, Clone)]
pub struct KMeans {
    /// Number of clusters.
    pub k: usize,
    /// Lloyd iterations at most.
    pub max_iters: usize,
    /// Stop when an iteration lowers the mean squared distance by less
    /// than this fraction.
    pub tolerance: f64,
    /// Seed of every random choice (sampling and seeding).
    pub seed: u64,
    /// Training uses at most this many points per cluster (a random
    /// sample of them); more rarely moves the centroids.
    pub max_points_per_centroid: usize,
    /// Threads for the assignment step.
    pub threads: usize,
}

/// The outcome of a k-means run.
#[derive(Debug, Clone)]
pub struct KMeansResult {
    /// `k` centroids, row-major.
    pub centroids: Vec<f32>,
    /// Values per centroid.
    pub dim: usize,
    /// Lloyd iterations run.
    pub iterations: usize,
    /// Mean squared distance of the training points to their centroids.
    pub mean_distance: f64,
}

impl KMeans {
    /// `k` clusters with defaults: 25 iterations, tolerance 1e-4, seed 42,
    /// 256 points per centroid, every available core.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            max_iters: 25,
            tolerance: 1e-4,
            seed: 42,
            max_points_per_centroid: 256,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// Clusters `data` (squared L2).
    pub fn train(&self, data: Vectors<'_>) -> Result<KMeansResult> {
        if self.k == 0 {
            return Err(IndexError::params("k-means needs at least one cluster"));
        }
        if data.len() < self.k {
            return Err(IndexError::TooFewVectors {
                needed: self.k,
                found: data.len(),
            });
        }
        if data.as_slice().iter().any(|v| !v.is_finite()) {
            return Err(IndexError::params("training vectors hold NaN or infinite values"));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let limit = self.k.saturating_mul(self.max_points_per_centroid.max(1));
        let sampled: Vec<f32>;
        let points = if data.len() > limit {
            let mut picked = sample(&mut rng, data.len(), limit).into_vec();
            picked.sort_unstable();
            sampled = picked.iter().flat_map(|&i| data.get(i).iter().copied()).collect();
            Vectors::new(&sampled, data.dim())?
        } else {
            data
        };
        let dim = points.dim();
        let seeding_limit = self.k.saturating_mul(SEED_POINTS_PER_CENTROID);
        let seeding_points: Vec<f32>;
        let seeding = if points.len() > seeding_limit {
            let mut picked = sample(&mut rng, points.len(), seeding_limit).into_vec();
            picked.sort_unstable();
            seeding_points = picked.iter().flat_map(|&i| points.get(i).iter().copied()).collect();
            Vectors::new(&seeding_points, dim)?
        } else {
            points
        };
        let mut centroids = seed_plus_plus(seeding, self.k, &mut rng, self.threads);
        let mut assignment = vec![0u32; points.len()];
        let mut distance = vec![0f32; points.len()];
        let mut previous = f64::INFINITY;
        let mut iterations = 0;
        let mut mean = f64::INFINITY;
        for _ in 0..self.max_iters.max(1) {
            iterations += 1;
            let view = Vectors::new(&centroids, dim)?;
            assign(points, view, self.threads, &mut assignment, &mut distance);
            mean = distance.iter().map(|&d| d as f64).sum::<f64>() / points.len() as f64;
            centroids = update(points, &assignment, &mut distance, self.k);
            if previous.is_finite() && previous - mean <= self.tolerance * previous {
                break;
            }
            previous = mean;
        }
        Ok(KMeansResult {
            centroids,
            dim,
            iterations,
            mean_distance: mean,
        })
    }
}

/// k-means++ picks its seeds among at most this many points per cluster
/// (a random sample of the training points): its cost grows with points ×
/// clusters, and Lloyd's iterations over every training point refine the
/// seeds anyway.
const SEED_POINTS_PER_CENTROID: usize = 32;

/// Points per block of k-means++'s running sums.
const SEED_BLOCK: usize = 1024;

/// k-means++: the first centroid uniformly, each next one with probability
/// proportional to its squared distance from the nearest chosen so far.
/// The distances are summed per block of [`SEED_BLOCK`] points as they are
/// updated, so drawing a point walks block sums and then one block instead
/// of every point.
fn seed_plus_plus(points: Vectors<'_>, k: usize, rng: &mut ChaCha8Rng, threads: usize) -> Vec<f32> {
    let mut centroids = Vec::with_capacity(k * points.dim());
    let first = rng.random_range(0..points.len());
    centroids.extend_from_slice(points.get(first));
    let mut nearest: Vec<f32> = points.iter().map(|p| l2_squared(p, points.get(first))).collect();
    let mut block_sums: Vec<f64> = nearest.chunks(SEED_BLOCK).map(block_sum).collect();
    for _ in 1..k {
        let total: f64 = block_sums.iter().sum();
        let chosen = if total > 0.0 {
            draw(&nearest, &block_sums, rng.random::<f64>() * total)
        } else {
            // Every point coincides with a centroid: any point will do.
            rng.random_range(0..points.len())
        };
        let c = points.get(chosen);
        centroids.extend_from_slice(c);
        lower_nearest(points, c, &mut nearest, &mut block_sums, threads);
    }
    centroids
}

/// Lowers each point's distance to its nearest centroid by the new centroid
/// `c` and recomputes the block sums, block by block; the blocks are shared
/// among `threads` threads once the points hold enough values to pay for
/// them (each block's result does not depend on which thread computed it).
fn lower_nearest(points: Vectors<'_>, c: &[f32], nearest: &mut [f32], block_sums: &mut [f64], threads: usize) {
    let dim = points.dim();
    let blocks = nearest
        .chunks_mut(SEED_BLOCK)
        .zip(block_sums.iter_mut())
        .zip(points.as_slice().chunks(SEED_BLOCK * dim));
    let lower = |((block, sum), data): ((&mut [f32], &mut f64), &[f32])| {
        for (d, p) in block.iter_mut().zip(data.chunks_exact(dim)) {
            *d = d.min(l2_squared(p, c));
        }
        *sum = block_sum(block);
    };
    let threads = threads.clamp(1, block_sums_len(points.len()));
    if threads == 1 || points.as_slice().len() < PARALLEL_SEED_VALUES {
        blocks.for_each(lower);
        return;
    }
    let mut lanes: Vec<Vec<_>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, block) in blocks.enumerate() {
        lanes[i % threads].push(block);
    }
    std::thread::scope(|scope| {
        for lane in lanes {
            scope.spawn(move || lane.into_iter().for_each(lower));
        }
    });
}

/// Below this many point values, one k-means++ step is too short to share.
const PARALLEL_SEED_VALUES: usize = 1 << 20;

fn block_sums_len(points: usize) -> usize {
    points.div_ceil(SEED_BLOCK).max(1)
}

/// A block's distances summed in f64, in point order.
fn block_sum(block: &[f32]) -> f64 {
    block.iter().map(|&d| d as f64).sum()
}

/// The point where the running sum of `nearest` passes `target`: the block
/// first, by its sum, then the point inside it (the last point when
/// rounding leaves the target past every sum).
fn draw(nearest: &[f32], block_sums: &[f64], mut target: f64) -> usize {
    for (b, &sum) in block_sums.iter().enumerate() {
        if target < sum {
            let start = b * SEED_BLOCK;
            for (i, &d) in nearest[start..(start + SEED_BLOCK).min(nearest.len())]
                .iter()
                .enumerate()
            {
                target -= d as f64;
                if target < 0.0 {
                    return start + i;
                }
            }
            return last_positive(nearest, start..(start + SEED_BLOCK).min(nearest.len()));
        }
        target -= sum;
    }
    last_positive(nearest, 0..nearest.len())
}

/// The last point of `range` not yet at distance zero (so rounding never
/// picks a point that is already a centroid), else the range's last point.
fn last_positive(nearest: &[f32], range: std::ops::Range<usize>) -> usize {
    let end = range.end.saturating_sub(1);
    range.rev().find(|&i| nearest[i] > 0.0).unwrap_or(end)
}

/// A chunk of the assignment: its first point, and its slots for the
/// nearest centroid and the distance to it.
type Chunk<'a> = (usize, &'a mut [u32], &'a mut [f32]);

/// The nearest centroid of every point and its squared distance, computed
/// in chunks of [`CHUNK_POINTS`] spread over `threads` threads.
pub(crate) fn assign(points: Vectors<'_>, centroids: Vectors<'_>, threads: usize, out: &mut [u32], dist: &mut [f32]) {
    let chunks: Vec<Chunk<'_>> = out
        .chunks_mut(CHUNK_POINTS)
        .zip(dist.chunks_mut(CHUNK_POINTS))
        .enumerate()
        .map(|(i, (o, d))| (i * CHUNK_POINTS, o, d))
        .collect();
    let centroid_norms: Vec<f32> = centroids.iter().map(norm_squared).collect();
    let run = |(start, o, d): Chunk<'_>| {
        let block = points.slice(start..start + o.len());
        crate::gemm::nearest_block(block, centroids, &centroid_norms, o, d);
    };
    let threads = threads.clamp(1, chunks.len().max(1));
    if threads == 1 {
        chunks.into_iter().for_each(run);
        return;
    }
    let mut lanes: Vec<Vec<Chunk<'_>>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, chunk) in chunks.into_iter().enumerate() {
        lanes[i % threads].push(chunk);
    }
    std::thread::scope(|scope| {
        for lane in lanes {
            scope.spawn(move || lane.into_iter().for_each(run));
        }
    });
}

/// The nearest of `centroids` to `point` (first on ties) and its distance.
pub(crate) fn nearest(point: &[f32], centroids: Vectors<'_>) -> (u32, f32) {
    let mut best = (0u32, f32::INFINITY);
    for (c, centroid) in centroids.iter().enumerate() {
        let d = l2_squared(point, centroid);
        if d < best.1 {
            best = (c as u32, d);
        }
    }
    best
}

/// New centroids: the mean of each cluster's points (summed in point
/// order). An empty cluster takes the point farthest from its centroid,
/// so no centroid is wasted.
fn update(points: Vectors<'_>, assignment: &[u32], distance: &mut [f32], k: usize) -> Vec<f32> {
    let dim = points.dim();
    let mut sums = vec![0f64; k * dim];
    let mut counts = vec![0usize; k];
    for (p, &c) in points.iter().zip(assignment) {
        let c = c as usize;
        counts[c] += 1;
        for (s, &v) in sums[c * dim..(c + 1) * dim].iter_mut().zip(p) {
            *s += v as f64;
        }
    }
    let mut centroids = vec![0f32; k * dim];
    for c in 0..k {
        if counts[c] > 0 {
            for (out, s) in centroids[c * dim..(c + 1) * dim]
                .iter_mut()
                .zip(&sums[c * dim..(c + 1) * dim])
            {
                *out = (*s / counts[c] as f64) as f32;
            }
            continue;
        }
        let far = distance
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map_or(0, |(i, _)| i);
        centroids[c * dim..(c + 1) * dim].copy_from_slice(points.get(far));
        distance[far] = -1.0;
    }
    centroids
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// `per` points around each of `centers` (spread ±`noise`).
    pub(crate) fn blobs(centers: &[Vec<f32>], per: usize, noise: f32, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::new();
        for _ in 0..per {
            for c in centers {
                out.extend(c.iter().map(|&x| x + rng.random_range(-noise..noise)));
            }
        }
        out
    }

    #[test]
    fn finds_well_separated_clusters() {
        let centers: Vec<Vec<f32>> = (0..8)
            .map(|i| {
                (0..16)
                    .map(|d| ((i * 7 + d) % 5) as f32 * 10.0 + i as f32 * 3.0)
                    .collect()
            })
            .collect();
        let data = blobs(&centers, 200, 0.5, 1);
        let result = KMeans::new(8).train(Vectors::new(&data, 16).unwrap()).unwrap();
        let found = Vectors::new(&result.centroids, 16).unwrap();
        for c in &centers {
            let (_, d) = nearest(c, found);
            assert!(d < 0.5, "a true center is {d} from the nearest centroid");
        }
        assert!(result.mean_distance < 16.0 * 0.25);
    }

    #[test]
    fn same_bits_for_any_thread_count_and_seed_dependent() {
        let centers: Vec<Vec<f32>> = (0..5).map(|i| vec![i as f32 * 4.0; 8]).collect();
        let data = blobs(&centers, 3000, 2.5, 2);
        let view = Vectors::new(&data, 8).unwrap();
        let mut params = KMeans::new(20);
        params.threads = 1;
        let one = params.train(view).unwrap();
        params.threads = 3;
        let three = params.train(view).unwrap();
        assert_eq!(one.centroids, three.centroids);
        params.seed = 7;
        assert_ne!(params.train(view).unwrap().centroids, one.centroids);
    }

    #[test]
    fn rejects_bad_input_and_fills_every_cluster() {
        let data = vec![1.0f32; 12];
        let view = Vectors::new(&data, 3).unwrap();
        assert!(matches!(
            KMeans::new(5).train(view),
            Err(IndexError::TooFewVectors { needed: 5, found: 4 })
        ));
        assert!(matches!(
            KMeans::new(0).train(view),
            Err(IndexError::InvalidParams { .. })
        ));
        // Identical points: every centroid is still a point of the data.
        let result = KMeans::new(3).train(view).unwrap();
        assert!(result.centroids.iter().all(|&v| v == 1.0));
        let nan = [1.0, f32::NAN, 0.0];
        assert!(KMeans::new(1).train(Vectors::new(&nan, 3).unwrap()).is_err());
    }
}
