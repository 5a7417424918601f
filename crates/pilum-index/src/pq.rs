//! Product quantization with 8-bit or 4-bit codes: a vector is cut into
//! `m` sub-vectors, each replaced by the index of the nearest of 256 (or
//! 16) centroids trained for its sub-space. Distances to a query come from
//! a lookup table of `m × 256` (or `m × 16`) partial distances, one add per
//! sub-vector. A 4-bit code packs two sub-vectors per byte, the even
//! sub-vector in the low nibble.

use crate::error::{IndexError, Result, check_dim};
use crate::kernels::{dot, l2_squared};
use crate::kmeans::{KMeans, nearest};
use crate::metric::Metric;
use crate::vectors::Vectors;

/// Centroids per sub-space of 8-bit codes.
pub const CODEBOOK_SIZE: usize = 256;

/// The shape of a product quantizer to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PqShape {
    /// Sub-vectors per vector.
    pub sub_vectors: usize,
    /// Bits per sub-vector code: 8, or 4 (two codes a byte).
    pub bits: u8,
}

/// A trained product quantizer.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductQuantizer {
    dim: usize,
    /// Bits per sub-vector code (8 or 4).
    bits: u8,
    /// Start of each sub-vector, plus `dim` at the end (`m + 1` values).
    bounds: Vec<usize>,
    /// For sub-space `s`: 2^bits centroids of its width, row-major, one
    /// sub-space after another.
    codebooks: Vec<f32>,
}

/// Sub-vector boundaries: `m` parts whose widths differ by at most one.
fn split(dim: usize, m: usize) -> Vec<usize> {
    (0..=m).map(|s| s * dim / m).collect()
}

/// One codebook per sub-space, trained independently: the sub-spaces are
/// shared among `params.threads` threads, each k-means on one thread, so
/// the serial steps of k-means (seeding, centroid updates) run in parallel
/// too. Sub-space `s` is seeded with `params.seed + 0 + 1 + … + s`, so the
/// codebooks do not depend on the thread count.
fn train_codebooks(data: Vectors<'_>, bounds: &[usize], size: usize, params: &KMeans) -> Result<Vec<Vec<f32>>> {
    let m = bounds.len() - 1;
    let train_one = |s: usize| -> Result<Vec<f32>> {
        let (lo, hi) = (bounds[s], bounds[s + 1]);
        let sub: Vec<f32> = data.iter().flat_map(|v| v[lo..hi].iter().copied()).collect();
        let mut one = params.clone();
        one.k = size;
        one.threads = 1;
        one.seed = (0..=s as u64).fold(params.seed, u64::wrapping_add);
        Ok(one.train(Vectors::new(&sub, hi - lo)?)?.centroids)
    };
    let threads = params.threads.clamp(1, m.max(1));
    if threads == 1 {
        return (0..m).map(train_one).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut trained: Vec<(usize, Result<Vec<f32>>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let s = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if s >= m {
                            return done;
                        }
                        done.push((s, train_one(s)));
                    }
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
    });
    if trained.len() != m {
        return Err(IndexError::WorkerPanicked {
            task: "codebook training",
        });
    }
    trained.sort_by_key(|(s, _)| *s);
    trained.into_iter().map(|(_, book)| book).collect()
}

impl ProductQuantizer {
    /// Trains `shape.sub_vectors` codebooks on `data` (at least 2^bits
    /// vectors); `params` supplies the k-means settings (its `k` is
    /// replaced by 2^bits).
    pub fn train(data: Vectors<'_>, shape: PqShape, params: &KMeans) -> Result<Self> {
        let dim = data.dim();
        let m = shape.sub_vectors;
        if m == 0 || m > dim {
            return Err(IndexError::params(format!(
                "num_sub_vectors must be in 1..={dim}, got {m}"
            )));
        }
        let size = codebook_size(shape.bits)?;
        if data.len() < size {
            return Err(IndexError::TooFewVectors {
                needed: size,
                found: data.len(),
            });
        }
        let bounds = split(dim, m);
        let books = train_codebooks(data, &bounds, size, params)?;
        let mut codebooks = Vec::with_capacity(size * dim);
        for book in books {
            codebooks.extend(book);
        }
        Ok(Self {
            dim,
            bits: shape.bits,
            bounds,
            codebooks,
        })
    }

    /// A quantizer from stored codebooks (`m` sub-spaces of 2^bits
    /// centroids over `dim` values); inconsistent shapes or non-finite
    /// values are corruption.
    pub fn from_codebooks(dim: usize, shape: PqShape, codebooks: Vec<f32>) -> Result<Self> {
        let m = shape.sub_vectors;
        let size = codebook_size(shape.bits).map_err(|_| IndexError::Corrupt {
            what: format!("{}-bit product quantization codes", shape.bits),
        })?;
        if m == 0 || m > dim || codebooks.len() != size * dim {
            return Err(IndexError::Corrupt {
                what: format!(
                    "{} codebook values for {m} sub-vectors of {} bits over a {dim}-d vector",
                    codebooks.len(),
                    shape.bits
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
            bits: shape.bits,
            bounds: split(dim, m),
            codebooks,
        })
    }

    /// Values per vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Sub-vectors per code.
    pub fn num_sub_vectors(&self) -> usize {
        self.bounds.len() - 1
    }

    /// Bits per sub-vector code (8 or 4).
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// Centroids per sub-space (256 or 16).
    pub fn codebook_size(&self) -> usize {
        1 << self.bits
    }

    /// Bytes per code: one per sub-vector, or one per two for 4-bit codes.
    pub fn code_bytes(&self) -> usize {
        match self.bits {
            4 => self.num_sub_vectors().div_ceil(2),
            _ => self.num_sub_vectors(),
        }
    }

    /// The codebooks, sub-space after sub-space.
    pub fn codebooks(&self) -> &[f32] {
        &self.codebooks
    }

    /// Values of sub-space `s` within a vector.
    pub(crate) fn sub_range(&self, s: usize) -> std::ops::Range<usize> {
        self.bounds[s]..self.bounds[s + 1]
    }

    /// Codebook of sub-space `s`: 2^bits centroids of its width.
    pub(crate) fn codebook(&self, s: usize) -> Vectors<'_> {
        let (lo, hi) = (self.bounds[s], self.bounds[s + 1]);
        let size = self.codebook_size();
        Vectors::trusted(&self.codebooks[size * lo..size * hi], hi - lo)
    }

    /// The code of `v` ([`Self::code_bytes`] bytes).
    pub fn encode(&self, v: &[f32]) -> Result<Vec<u8>> {
        check_dim(self.dim, v.len())?;
        let indices: Vec<u8> = (0..self.num_sub_vectors())
            .map(|s| nearest(&v[self.bounds[s]..self.bounds[s + 1]], self.codebook(s)).0 as u8)
            .collect();
        Ok(self.pack(&indices))
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
        Ok(self.pack(&codes))
    }

    /// Row-major centroid indices (one byte each) as stored codes: as they
    /// are for 8-bit codes, two to a byte for 4-bit ones.
    fn pack(&self, indices: &[u8]) -> Vec<u8> {
        if self.bits != 4 {
            return indices.to_vec();
        }
        let m = self.num_sub_vectors();
        indices
            .chunks_exact(m)
            .flat_map(|row| row.chunks(2).map(|pair| pair[0] | pair.get(1).map_or(0, |h| h << 4)))
            .collect()
    }

    /// The centroid index of sub-vector `s` in `code`.
    pub fn code_index(&self, code: &[u8], s: usize) -> usize {
        match self.bits {
            4 => ((code[s / 2] >> (4 * (s % 2))) & 0x0f) as usize,
            _ => code[s] as usize,
        }
    }

    /// The vector a code stands for.
    pub fn decode(&self, code: &[u8]) -> Result<Vec<f32>> {
        self.check_code(code)?;
        Ok((0..self.num_sub_vectors())
            .flat_map(|s| self.codebook(s).get(self.code_index(code, s)).iter().copied())
            .collect())
    }

    /// The distance a `table` of this quantizer gives `code`.
    pub fn code_distance(&self, table: &[f32], code: &[u8]) -> f32 {
        if self.bits == 8 {
            return Self::table_distance(table, code);
        }
        let mut sums = [0f32; 2];
        for (t, (rows, &byte)) in table.chunks_exact(32).zip(code).enumerate() {
            sums[t & 1] += rows[(byte & 0x0f) as usize] + rows[16 + (byte >> 4) as usize];
        }
        // An odd count leaves one 16-entry row after the last pair.
        let m = self.num_sub_vectors();
        if !m.is_multiple_of(2)
            && let (Some(row), Some(&byte)) = (table.get((m - 1) * 16..m * 16), code.get(m / 2))
        {
            sums[0] += row[(byte & 0x0f) as usize];
        }
        sums[0] + sums[1]
    }

    /// The lookup table of `query` under `metric`: entry `s * 2^bits + c` is
    /// sub-vector `s`'s part of the distance to centroid `c`. For L2 the
    /// parts sum to the squared distance to the decoded vector; for dot to
    /// its negated inner product (which ranks like [`Metric::Dot`], one
    /// less). Cosine is L2 over unit-length vectors and is prepared by the
    /// caller.
    pub fn distance_table(&self, query: &[f32], metric: Metric) -> Result<Vec<f32>> {
        check_dim(self.dim, query.len())?;
        let mut table = Vec::with_capacity(self.num_sub_vectors() * self.codebook_size());
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
        if code.len() == self.code_bytes() {
            Ok(())
        } else {
            Err(IndexError::Corrupt {
                what: format!(
                    "a code of {} bytes for {} sub-vectors of {} bits",
                    code.len(),
                    self.num_sub_vectors(),
                    self.bits
                ),
            })
        }
    }
}

/// Centroids per sub-space for codes of `bits` bits (8 or 4).
fn codebook_size(bits: u8) -> Result<usize> {
    match bits {
        4 | 8 => Ok(1 << bits),
        other => Err(IndexError::params(format!("num_bits must be 4 or 8, got {other}"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn shape(sub_vectors: usize) -> PqShape {
        PqShape { sub_vectors, bits: 8 }
    }

    fn random(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    #[test]
    fn table_distances_equal_distances_to_the_decoded_vector() {
        let data = random(2000, 20, 3);
        let pq = ProductQuantizer::train(Vectors::new(&data, 20).unwrap(), shape(6), &KMeans::new(256)).unwrap();
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
    fn four_bit_codes_pack_two_sub_vectors_a_byte_and_give_table_distances() {
        let data = random(1000, 14, 8);
        let view = Vectors::new(&data, 14).unwrap();
        let pq = ProductQuantizer::train(
            view,
            PqShape {
                sub_vectors: 7,
                bits: 4,
            },
            &KMeans::new(16),
        )
        .unwrap();
        assert_eq!((pq.code_bytes(), pq.codebook_size()), (4, 16));
        let codes = pq.encode_batch(view).unwrap();
        assert_eq!(codes.len(), 1000 * 4);
        let query = random(1, 14, 9);
        let table = pq.distance_table(&query, Metric::L2).unwrap();
        assert_eq!(table.len(), 7 * 16);
        for (v, code) in data.chunks(14).zip(codes.chunks_exact(4)).take(50) {
            assert_eq!(code, pq.encode(v).unwrap().as_slice());
            assert!(code[3] >> 4 == 0, "the unused high nibble stays zero");
            let decoded = pq.decode(code).unwrap();
            let want = Metric::L2.distance(&query, &decoded);
            let got = pq.code_distance(&table, code);
            assert!((got - want).abs() <= 1e-4 * want.max(1.0), "{got} vs {want}");
        }
        let stored = ProductQuantizer::from_codebooks(
            14,
            PqShape {
                sub_vectors: 7,
                bits: 4,
            },
            pq.codebooks().to_vec(),
        );
        assert_eq!(stored.unwrap(), pq);
        assert!(
            ProductQuantizer::from_codebooks(
                14,
                PqShape {
                    sub_vectors: 7,
                    bits: 8
                },
                pq.codebooks().to_vec()
            )
            .is_err()
        );
        assert!(
            ProductQuantizer::train(
                view,
                PqShape {
                    sub_vectors: 7,
                    bits: 5
                },
                &KMeans::new(16)
            )
            .is_err()
        );
    }

    #[test]
    fn codes_approximate_the_vectors() {
        let data = random(3000, 16, 5);
        let pq = ProductQuantizer::train(Vectors::new(&data, 16).unwrap(), shape(8), &KMeans::new(256)).unwrap();
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
        assert!(ProductQuantizer::train(view, shape(9), &KMeans::new(256)).is_err());
        assert!(ProductQuantizer::train(view.slice(0..100), shape(2), &KMeans::new(256)).is_err());
        assert!(matches!(
            ProductQuantizer::from_codebooks(8, shape(2), vec![0.0; 10]),
            Err(IndexError::Corrupt { .. })
        ));
        let pq = ProductQuantizer::from_codebooks(8, shape(2), vec![0.5; 256 * 8]).unwrap();
        assert!(matches!(pq.decode(&[1, 2, 3]), Err(IndexError::Corrupt { .. })));
    }
}
