//! Product quantization with 8-bit codes: a vector is cut into `m`
//! sub-vectors, each replaced by the index of the nearest of 256 centroids
//! trained for its sub-space. Distances to a query come from a lookup
//! table of `m × 256` partial distances, one add per sub-vector.

use crate::error::{IndexError, Result, check_dim};
use crate::kernels::{dot, l2_squared};
use crate::kmeans::{KMeans, nearest};
use crate::metric::Metric;
use crate::vectors::Vectors;

/// Centroids per sub-space (8-bit codes).
pub const CODEBOOK_SIZE: usize = 256;

/// A trained product quantizer.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductQuantizer {
    dim: usize,
    /// Start of each sub-vector, plus `dim` at the end (`m + 1` values).
    bounds: Vec<usize>,
    /// For sub-space `s`: 256 centroids of its width, row-major, one
    /// sub-space after another.
    codebooks: Vec<f32>,
}

/// Sub-vector boundaries: `m` parts whose widths differ by at most one.
fn split(dim: usize, m: usize) -> Vec<usize> {
    (0..=m).map(|s| s * dim / m).collect()
}

impl ProductQuantizer {
    /// Trains `m` codebooks on `data` (at least 256 vectors); `params`
    /// supplies the k-means settings (its `k` is replaced by 256).
    pub fn train(data: Vectors<'_>, m: usize, params: &KMeans) -> Result<Self> {
        let dim = data.dim();
        if m == 0 || m > dim {
            return Err(IndexError::params(format!(
                "num_sub_vectors must be in 1..={dim}, got {m}"
            )));
        }
        if data.len() < CODEBOOK_SIZE {
            return Err(IndexError::TooFewVectors {
                needed: CODEBOOK_SIZE,
                found: data.len(),
            });
        }
        let bounds = split(dim, m);
        let mut params = params.clone();
        params.k = CODEBOOK_SIZE;
        let mut codebooks = Vec::with_capacity(CODEBOOK_SIZE * dim);
        for s in 0..m {
            let (lo, hi) = (bounds[s], bounds[s + 1]);
            let sub: Vec<f32> = data.iter().flat_map(|v| v[lo..hi].iter().copied()).collect();
            params.seed = params.seed.wrapping_add(s as u64);
            codebooks.extend(params.train(Vectors::new(&sub, hi - lo)?)?.centroids);
        }
        Ok(Self { dim, bounds, codebooks })
    }

    /// A quantizer from stored codebooks (`m` sub-spaces of 256 centroids
    /// over `dim` values); inconsistent shapes or non-finite values are
    /// corruption.
    pub fn from_codebooks(dim: usize, m: usize, codebooks: Vec<f32>) -> Result<Self> {
        if m == 0 || m > dim || codebooks.len() != CODEBOOK_SIZE * dim {
            return Err(IndexError::Corrupt {
                what: format!(
                    "{} codebook values for {m} sub-vectors of a {dim}-d vector",
                    codebooks.len()
                ),
            });
        }
        if codebooks.iter().any(|v| !v.is_finite()) {
            return Err(IndexError::Corrupt {
                what: "a codebook holds NaN or infinite values".into(),
            });
        }
        Ok(Self {
            dim,
            bounds: split(dim, m),
            codebooks,
        })
    }

    /// Values per vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Sub-vectors (bytes per code).
    pub fn num_sub_vectors(&self) -> usize {
        self.bounds.len() - 1
    }

    /// The codebooks, sub-space after sub-space.
    pub fn codebooks(&self) -> &[f32] {
        &self.codebooks
    }

    /// Values of sub-space `s` within a vector.
    pub(crate) fn sub_range(&self, s: usize) -> std::ops::Range<usize> {
        self.bounds[s]..self.bounds[s + 1]
    }

    /// Codebook of sub-space `s`: 256 centroids of its width.
    pub(crate) fn codebook(&self, s: usize) -> Vectors<'_> {
        let (lo, hi) = (self.bounds[s], self.bounds[s + 1]);
        Vectors::trusted(&self.codebooks[CODEBOOK_SIZE * lo..CODEBOOK_SIZE * hi], hi - lo)
    }

    /// The code of `v`: one byte per sub-vector.
    pub fn encode(&self, v: &[f32]) -> Result<Vec<u8>> {
        check_dim(self.dim, v.len())?;
        Ok((0..self.num_sub_vectors())
            .map(|s| nearest(&v[self.bounds[s]..self.bounds[s + 1]], self.codebook(s)).0 as u8)
            .collect())
    }

    /// The codes of every vector of `data`, row after row (one matrix
    /// product per sub-space instead of one distance at a time).
    pub fn encode_batch(&self, data: Vectors<'_>) -> Result<Vec<u8>> {
        check_dim(self.dim, data.dim())?;
        let m = self.num_sub_vectors();
        let n = data.len();
        let mut codes = vec![0u8; n * m];
        let mut nearest_ids = vec![0u32; n];
        let mut distances = vec![0f32; n];
        for s in 0..m {
            let (lo, hi) = (self.bounds[s], self.bounds[s + 1]);
            let sub: Vec<f32> = data.iter().flat_map(|v| v[lo..hi].iter().copied()).collect();
            let book = self.codebook(s);
            let norms: Vec<f32> = book.iter().map(crate::kernels::norm_squared).collect();
            crate::gemm::nearest_block(
                Vectors::trusted(&sub, hi - lo),
                book,
                &norms,
                &mut nearest_ids,
                &mut distances,
            );
            for (i, &c) in nearest_ids.iter().enumerate() {
                codes[i * m + s] = c as u8;
            }
        }
        Ok(codes)
    }

    /// The vector a code stands for.
    pub fn decode(&self, code: &[u8]) -> Result<Vec<f32>> {
        self.check_code(code)?;
        Ok(code
            .iter()
            .enumerate()
            .flat_map(|(s, &c)| self.codebook(s).get(c as usize).iter().copied())
            .collect())
    }

    /// The lookup table of `query` under `metric`: entry `s * 256 + c` is
    /// sub-vector `s`'s part of the distance to centroid `c`. For L2 the
    /// parts sum to the squared distance to the decoded vector; for dot to
    /// its negated inner product (which ranks like [`Metric::Dot`], one
    /// less). Cosine is L2 over unit-length vectors and is prepared by the
    /// caller.
    pub fn distance_table(&self, query: &[f32], metric: Metric) -> Result<Vec<f32>> {
        check_dim(self.dim, query.len())?;
        let mut table = Vec::with_capacity(self.num_sub_vectors() * CODEBOOK_SIZE);
        for s in 0..self.num_sub_vectors() {
            let q = &query[self.bounds[s]..self.bounds[s + 1]];
            table.extend(self.codebook(s).iter().map(|c| match metric {
                Metric::Dot => -dot(q, c),
                _ => l2_squared(q, c),
            }));
        }
        Ok(table)
    }

    /// The distance a `table` gives `code` (codes of this quantizer). Rows
    /// of 256 entries are indexed by a byte, so no bounds checks remain, and
    /// four running sums break the chain of dependent additions.
    pub fn table_distance(table: &[f32], code: &[u8]) -> f32 {
        let (rows, _) = table.as_chunks::<CODEBOOK_SIZE>();
        let mut sums = [0f32; 4];
        for (i, (row, &c)) in rows.iter().zip(code).enumerate() {
            sums[i & 3] += row[c as usize];
        }
        (sums[0] + sums[1]) + (sums[2] + sums[3])
    }

    fn check_code(&self, code: &[u8]) -> Result<()> {
        if code.len() == self.num_sub_vectors() {
            Ok(())
        } else {
            Err(IndexError::Corrupt {
                what: format!(
                    "a code of {} bytes for {} sub-vectors",
                    code.len(),
                    self.num_sub_vectors()
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    #[test]
    fn table_distances_equal_distances_to_the_decoded_vector() {
        let data = random(2000, 20, 3);
        let pq = ProductQuantizer::train(Vectors::new(&data, 20).unwrap(), 6, &KMeans::new(256)).unwrap();
        assert_eq!(pq.num_sub_vectors(), 6, "widths 3 and 4 mixed");
        let query = random(1, 20, 4);
        for metric in [Metric::L2, Metric::Dot] {
            let table = pq.distance_table(&query, metric).unwrap();
            for v in data.chunks(20).take(50) {
                let code = pq.encode(v).unwrap();
                let decoded = pq.decode(&code).unwrap();
                let want = match metric {
                    Metric::Dot => metric.distance(&query, &decoded) - 1.0,
                    _ => metric.distance(&query, &decoded),
                };
                let got = ProductQuantizer::table_distance(&table, &code);
                assert!(
                    (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "{metric}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn codes_approximate_the_vectors() {
        let data = random(3000, 16, 5);
        let pq = ProductQuantizer::train(Vectors::new(&data, 16).unwrap(), 8, &KMeans::new(256)).unwrap();
        let (mut err, mut norm) = (0f64, 0f64);
        for v in data.chunks(16) {
            let back = pq.decode(&pq.encode(v).unwrap()).unwrap();
            err += l2_squared(v, &back) as f64;
            norm += dot(v, v) as f64;
        }
        assert!(err / norm < 0.1, "relative reconstruction error {}", err / norm);
    }

    #[test]
    fn bad_parameters_and_stored_codebooks_are_rejected() {
        let data = random(300, 8, 6);
        let view = Vectors::new(&data, 8).unwrap();
        assert!(ProductQuantizer::train(view, 9, &KMeans::new(256)).is_err());
        assert!(ProductQuantizer::train(view.slice(0..100), 2, &KMeans::new(256)).is_err());
        assert!(matches!(
            ProductQuantizer::from_codebooks(8, 2, vec![0.0; 10]),
            Err(IndexError::Corrupt { .. })
        ));
        let pq = ProductQuantizer::from_codebooks(8, 2, vec![0.5; 256 * 8]).unwrap();
        assert!(matches!(pq.decode(&[1, 2, 3]), Err(IndexError::Corrupt { .. })));
    }
}
