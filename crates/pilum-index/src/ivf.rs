//! Inverted-file partitioning: centroids that split vectors into
//! partitions, and the ranking of partitions a query probes.

use crate::binary::{assign_codes, hamming_bytes, nearest_code, to_bytes};
use crate::error::{IndexError, Result, check_dim};
use crate::kernels::{dot, normalized};
use crate::kmeans::{KMeans, assign, nearest};
use crate::metric::Metric;
use crate::vectors::Vectors;
use std::borrow::Cow;

/// Partition centroids for one metric.
///
/// Cosine works on unit-length vectors throughout (training, assignment
/// and queries are normalized first), where ranking by L2 equals ranking
/// by cosine. Dot trains and assigns by L2 but probes the partitions whose
/// centroids have the largest inner product with the query. Hamming
/// clusters binary codes in Hamming space: its centroids are codes too
/// (byte values), and every distance counts differing bits.
#[derive(Debug, Clone, PartialEq)]
pub struct IvfModel {
    metric: Metric,
    dim: usize,
    centroids: Vec<f32>,
    /// The centroids as binary codes (hamming models; empty otherwise).
    codes: Vec<u8>,
}

impl IvfModel {
    /// Trains `partitions` centroids on `data` with `params` (its `k` is
    /// replaced by `partitions`).
    pub fn train(data: Vectors<'_>, metric: Metric, partitions: usize, params: &KMeans) -> Result<Self> {
        let mut params = params.clone();
        params.k = partitions;
        if metric == Metric::Hamming {
            let centroids = crate::binary::train_binary(data, &params)?;
            return Self::from_centroids(metric, data.dim(), centroids);
        }
        let prepared = prepare_block(metric, data);
        let data = match &prepared {
            Some(values) => Vectors::new(values, data.dim())?,
            None => data,
        };
        let result = params.train(data)?;
        Self::from_centroids(metric, data.dim(), result.centroids)
    }

    /// A model from stored centroids (row-major, `dim` values each);
    /// non-finite values or a ragged length are corruption.
    pub fn from_centroids(metric: Metric, dim: usize, centroids: Vec<f32>) -> Result<Self> {
        if dim == 0 || centroids.is_empty() || !centroids.len().is_multiple_of(dim) {
            return Err(IndexError::Corrupt {
                what: format!("{} centroid values for dimension {dim}", centroids.len()),
            });
        }
        if centroids.iter().any(|v| !v.is_finite()) {
            return Err(IndexError::Corrupt {
                what: "a centroid holds NaN or infinite values".into(),
            });
        }
        let codes = if metric == Metric::Hamming {
            to_bytes(&centroids).ok_or_else(|| IndexError::Corrupt {
                what: "a hamming centroid holds a value that is not a byte".into(),
            })?
        } else {
            Vec::new()
        };
        Ok(Self {
            metric,
            dim,
            centroids,
            codes,
        })
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Values per vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of partitions.
    pub fn num_partitions(&self) -> usize {
        self.centroids.len() / self.dim
    }

    /// The centroids, row-major.
    pub fn centroids(&self) -> &[f32] {
        &self.centroids
    }

    fn centroid_view(&self) -> Vectors<'_> {
        Vectors::trusted(&self.centroids, self.dim)
    }

    /// `v` as the model compares it (unit length for cosine).
    pub fn prepare<'a>(&self, v: &'a [f32]) -> Cow<'a, [f32]> {
        match self.metric {
            Metric::Cosine => Cow::Owned(normalized(v)),
            _ => Cow::Borrowed(v),
        }
    }

    /// The partition of every vector of `data`, on `threads` threads.
    pub fn assign(&self, data: Vectors<'_>, threads: usize) -> Result<Vec<u32>> {
        check_dim(self.dim, data.dim())?;
        if self.metric == Metric::Hamming {
            let codes = binary_codes(data.as_slice())?;
            return Ok(assign_codes(&codes, &self.codes, self.dim, threads));
        }
        let prepared = prepare_block(self.metric, data);
        let data = match &prepared {
            Some(values) => Vectors::new(values, data.dim())?,
            None => data,
        };
        let mut out = vec![0u32; data.len()];
        let mut dist = vec![0f32; data.len()];
        assign(data, self.centroid_view(), threads, &mut out, &mut dist);
        Ok(out)
    }

    /// The partition of one vector.
    pub fn assign_one(&self, v: &[f32]) -> Result<u32> {
        check_dim(self.dim, v.len())?;
        if self.metric == Metric::Hamming {
            return Ok(nearest_code(&binary_codes(v)?, &self.codes, self.dim).0);
        }
        Ok(nearest(&self.prepare(v), self.centroid_view()).0)
    }

    /// The `nprobes` partitions to search for `query`, nearest first, with
    /// the query's distance to each centroid.
    pub fn rank(&self, query: &[f32], nprobes: usize) -> Result<Vec<(u32, f32)>> {
        check_dim(self.dim, query.len())?;
        if self.metric == Metric::Hamming {
            let code = binary_codes(query)?;
            let mut ranked: Vec<(u32, f32)> = self
                .codes
                .chunks_exact(self.dim)
                .enumerate()
                .map(|(i, c)| (i as u32, hamming_bytes(&code, c) as f32))
                .collect();
            return Ok(keep_nearest(ranked.as_mut_slice(), nprobes));
        }
        let query = self.prepare(query);
        let mut ranked: Vec<(u32, f32)> = self
            .centroid_view()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let d = match self.metric {
                    Metric::Dot => -dot(&query, c),
                    _ => crate::kernels::l2_squared(&query, c),
                };
                (i as u32, d)
            })
            .collect();
        Ok(keep_nearest(ranked.as_mut_slice(), nprobes))
    }

    /// `v` minus the centroid of `partition` (both as prepared).
    pub fn residual(&self, v: &[f32], partition: u32) -> Result<Vec<f32>> {
        check_dim(self.dim, v.len())?;
        if self.metric == Metric::Hamming {
            return Err(IndexError::params(
                "binary codes have no residuals (hamming indexes IVF_FLAT only)",
            ));
        }
        let c = self.centroid_view();
        if partition as usize >= c.len() {
            return Err(IndexError::Corrupt {
                what: format!("partition {partition} of {}", c.len()),
            });
        }
        Ok(self
            .prepare(v)
            .iter()
            .zip(c.get(partition as usize))
            .map(|(x, y)| x - y)
            .collect())
    }
}

/// The `nprobes` nearest of `ranked` (partition, distance), nearest first,
/// ties by partition.
fn keep_nearest(ranked: &mut [(u32, f32)], nprobes: usize) -> Vec<(u32, f32)> {
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    ranked.iter().take(nprobes.max(1)).copied().collect()
}

/// The bytes of binary codes given as f32 values.
fn binary_codes(values: &[f32]) -> Result<Vec<u8>> {
    to_bytes(values).ok_or_else(|| IndexError::params("hamming vectors must hold bytes (whole numbers 0 to 255)"))
}

/// `data` normalized to unit length when `metric` is cosine (`None`: use
/// it as it is).
fn prepare_block(metric: Metric, data: Vectors<'_>) -> Option<Vec<f32>> {
    (metric == Metric::Cosine).then(|| data.iter().flat_map(normalized).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn assigns_to_the_nearest_centroid_and_ranks_probes() {
        let centroids = vec![0.0, 0.0, 10.0, 0.0, 0.0, 10.0];
        let model = IvfModel::from_centroids(Metric::L2, 2, centroids).unwrap();
        let data = [9.0, 1.0, 1.0, 1.0, 0.0, 8.0];
        assert_eq!(model.assign(Vectors::new(&data, 2).unwrap(), 2).unwrap(), vec![1, 0, 2]);
        let ranked = model.rank(&[9.0, 2.0], 2).unwrap();
        assert_eq!(ranked.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 0]);
        assert_eq!(model.residual(&[9.0, 2.0], 1).unwrap(), vec![-1.0, 2.0]);
        assert!(matches!(
            model.rank(&[1.0], 1),
            Err(IndexError::DimensionMismatch { .. })
        ));
    }

    #[test]
    fn dot_probes_by_inner_product_and_cosine_by_angle() {
        let centroids = vec![1.0, 0.0, 5.0, 5.0];
        let dot = IvfModel::from_centroids(Metric::Dot, 2, centroids.clone()).unwrap();
        assert_eq!(dot.rank(&[1.0, 0.1], 1).unwrap()[0].0, 1, "5.5 beats 1.0");
        let cos = IvfModel::from_centroids(Metric::Cosine, 2, vec![1.0, 0.0, 0.6, 0.8]).unwrap();
        assert_eq!(cos.assign_one(&[100.0, 1.0]).unwrap(), 0);
    }

    #[test]
    fn hamming_models_rank_and_assign_by_differing_bits() {
        // Codes 0b0000_0000, 0b1111_0000 and 0b1111_1111.
        let model = IvfModel::from_centroids(Metric::Hamming, 1, vec![0.0, 240.0, 255.0]).unwrap();
        assert_eq!(model.assign_one(&[0b1110_0000 as f32]).unwrap(), 1);
        let ranked = model.rank(&[0b0000_0011 as f32], 3).unwrap();
        assert_eq!(ranked, vec![(0, 2.0), (1, 6.0), (2, 6.0)]);
        let data = Vectors::new(&[1.0, 254.0, 16.0], 1).unwrap();
        assert_eq!(model.assign(data, 1).unwrap(), vec![0, 2, 0]);
        assert!(model.residual(&[1.0], 0).is_err());
        assert!(model.assign_one(&[0.5]).is_err());
        assert!(IvfModel::from_centroids(Metric::Hamming, 1, vec![1.5]).is_err());
    }

    #[test]
    fn stored_centroids_are_validated() {
        assert!(matches!(
            IvfModel::from_centroids(Metric::L2, 3, vec![1.0; 4]),
            Err(IndexError::Corrupt { .. })
        ));
        assert!(IvfModel::from_centroids(Metric::L2, 2, vec![1.0, f32::NAN]).is_err());
        assert!(IvfModel::from_centroids(Metric::L2, 0, vec![]).is_err());
    }
}
