//! Calibration of an index whose vectors stream past instead of sitting in
//! memory (a bounded-memory build): the same defaults as
//! [`crate::calibrate_encoded`], gathered in three steps.
//!
//! 1. [`StreamCalibration::observe`], for every batch as it is encoded:
//!    each query's exact nearest neighbours so far, with their partitions.
//! 2. [`StreamCalibration::nprobes`]: the probes that reach the target
//!    fraction of those neighbours.
//! 3. [`StreamCalibration::observe_partition`], for every partition as it
//!    is written: the index's distances of the candidates each query's
//!    probes reach; [`StreamCalibration::finish`] then picks the refine
//!    factor whose window holds the target fraction of reached neighbours.

use crate::calibrate::{Calibration, CalibrationParams, REFINE_STEPS, quantile};
use crate::error::{IndexError, Result};
use crate::ivf_index::IvfIndex;
use crate::ivf_tables::Probe;
use crate::metric::Metric;
use crate::partition::{Partition, Payload};
use crate::topk::TopK;
use crate::vectors::Vectors;

/// One query's state.
#[derive(Debug, Clone)]
struct Query {
    id: u64,
    /// The query prepared for exact distances (the whole vector).
    truth: Vec<f32>,
    /// The query in the index's space (a prefix for prefix indices).
    probe_vector: Vec<f32>,
    /// The exact nearest so far: (distance, id, partition), nearest first.
    nearest: Vec<(f32, u64, u32)>,
    probe: Option<Probe>,
    rank_of: Vec<usize>,
    /// Index distances of the candidates the probes reach: the smallest
    /// `CANDIDATE_CAP` (positions past it all choose the largest factor).
    candidates: TopK,
    /// Index distance of each true neighbour, once its partition is seen.
    neighbour_estimates: Vec<f32>,
}

/// Calibration state of a streamed build; see the module documentation.
#[derive(Debug, Clone)]
pub struct StreamCalibration {
    metric: Metric,
    params: CalibrationParams,
    prefix: bool,
    queries: Vec<Query>,
    nprobes: Option<usize>,
}

impl StreamCalibration {
    /// Calibration with `queries` (vectors of the indexed data, in the
    /// index's space) whose ids are `ids`; `full` holds the same vectors
    /// whole when the index covers a prefix.
    pub fn new(
        metric: Metric,
        queries: Vectors<'_>,
        full: Option<Vectors<'_>>,
        ids: &[u64],
        params: CalibrationParams,
    ) -> Result<Self> {
        if ids.len() != queries.len() || full.is_some_and(|f| f.len() != queries.len()) {
            return Err(IndexError::params("one id and one whole vector per calibration query"));
        }
        let queries = (0..queries.len())
            .map(|i| Query {
                id: ids[i],
                truth: metric.prepare_query(full.unwrap_or(queries).get(i)),
                probe_vector: queries.get(i).to_vec(),
                nearest: Vec::with_capacity(params.k + 1),
                probe: None,
                rank_of: Vec::new(),
                candidates: TopK::new(candidate_cap(params.k)),
                neighbour_estimates: Vec::new(),
            })
            .collect();
        Ok(Self {
            metric,
            params,
            prefix: full.is_some(),
            queries,
            nprobes: None,
        })
    }

    /// Records a batch of the indexed vectors (whole, the space true
    /// neighbours are found in), their ids and partitions.
    pub fn observe(&mut self, vectors: Vectors<'_>, ids: &[u64], assignment: &[u32]) -> Result<()> {
        if ids.len() != vectors.len() || assignment.len() != vectors.len() {
            return Err(IndexError::params("one id and one partition per observed vector"));
        }
        if self.nprobes.is_some() {
            return Err(IndexError::params("vectors are observed before nprobes is fixed"));
        }
        let (metric, k) = (self.metric, self.params.k);
        let threads = self.params.threads.clamp(1, self.queries.len().max(1));
        let per = self.queries.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for chunk in self.queries.chunks_mut(per) {
                scope.spawn(move || {
                    for query in chunk {
                        for (i, v) in vectors.iter().enumerate() {
                            if ids[i] == query.id {
                                continue;
                            }
                            let d = metric.distance_prepared(&query.truth, v);
                            if !d.is_nan() {
                                keep_nearest(&mut query.nearest, k, (d, ids[i], assignment[i]));
                            }
                        }
                    }
                });
            }
        });
        Ok(())
    }

    /// The partitions a query should probe by default (fixed from here on).
    pub fn nprobes(&mut self, index: &IvfIndex) -> Result<usize> {
        let partitions = index.ivf().num_partitions();
        let mut ranks = Vec::new();
        for query in &mut self.queries {
            let probe = index.probe(&query.probe_vector, partitions)?;
            query.rank_of = vec![usize::MAX; partitions];
            for (rank, &(p, _)) in probe.ranked.iter().enumerate() {
                query.rank_of[p as usize] = rank;
            }
            ranks.extend(
                query
                    .nearest
                    .iter()
                    .map(|n| query.rank_of.get(n.2 as usize).copied().unwrap_or(usize::MAX)),
            );
            query.neighbour_estimates = vec![f32::INFINITY; query.nearest.len()];
            query.probe = Some(probe);
        }
        let nprobes = quantile(&mut ranks, self.params.probe_recall)
            .map_or(partitions, |r| r + 1)
            .clamp(partitions.min(4), partitions);
        self.nprobes = Some(nprobes);
        Ok(nprobes)
    }

    /// Records partition `number` as written: the index's distances of its
    /// members for the queries that probe it.
    pub fn observe_partition(&mut self, index: &IvfIndex, number: u32, partition: &Partition) -> Result<()> {
        let Some(nprobes) = self.nprobes else {
            return Err(IndexError::params(
                "nprobes must be fixed before partitions are observed",
            ));
        };
        let metric = self.metric;
        for query in &mut self.queries {
            let (Some(probe), Some(&rank)) = (&query.probe, query.rank_of.get(number as usize)) else {
                continue;
            };
            if rank >= nprobes {
                continue;
            }
            let estimate: Box<dyn Fn(usize) -> f32> = match &partition.payload {
                Payload::Codes(_) | Payload::FastScan(_) | Payload::Graph(_) => {
                    let width = index
                        .byte_payload_width()
                        .ok_or_else(|| IndexError::params("codes without a quantizer"))?;
                    let codes = partition.payload.code_rows().unwrap_or_default();
                    let estimator = index.estimator(probe, number)?;
                    Box::new(move |i| {
                        codes
                            .get(i * width..(i + 1) * width)
                            .map_or(f32::INFINITY, |code| estimator.distance(code))
                    })
                }
                Payload::Vectors(values) => {
                    let dim = index.ivf().dim();
                    let prepared = probe.prepared.clone();
                    Box::new(move |i| {
                        values
                            .get(i * dim..(i + 1) * dim)
                            .map_or(f32::INFINITY, |v| metric.distance_prepared(&prepared, v))
                    })
                }
            };
            for (i, &id) in partition.ids.iter().enumerate() {
                if id == query.id {
                    continue;
                }
                let d = estimate(i);
                query.candidates.push(d, id);
                for (n, neighbour) in query.nearest.iter().enumerate() {
                    if neighbour.1 == id && d < query.neighbour_estimates[n] {
                        query.neighbour_estimates[n] = d;
                    }
                }
            }
        }
        Ok(())
    }

    /// The calibrated defaults.
    pub fn finish(self, index: &IvfIndex) -> Calibration {
        let partitions = index.ivf().num_partitions();
        let nprobes = self.nprobes.unwrap_or(partitions);
        if index.code_width().is_none() && !self.prefix {
            return Calibration {
                nprobes,
                refine_factor: 0,
            };
        }
        let mut positions = Vec::new();
        for query in self.queries {
            let candidates: Vec<f32> = query.candidates.into_sorted().iter().map(|n| n.distance).collect();
            for d in query.neighbour_estimates.iter().filter(|d| d.is_finite()) {
                positions.push(candidates.partition_point(|&x| x < *d));
            }
        }
        let needed = quantile(&mut positions, self.params.refine_recall).map_or(0, |p| p + 1);
        let refine_factor = REFINE_STEPS
            .iter()
            .copied()
            .find(|r| r * self.params.k >= needed)
            .unwrap_or(REFINE_STEPS[REFINE_STEPS.len() - 1]);
        Calibration { nprobes, refine_factor }
    }
}

/// Candidates kept per query: a position at or past the largest refine
/// window (k × 32) selects the largest factor, so farther ones need no count.
fn candidate_cap(k: usize) -> usize {
    REFINE_STEPS[REFINE_STEPS.len() - 1] * k + 1
}

/// Keeps the `k` nearest in `nearest` (ascending; ties by id).
fn keep_nearest(nearest: &mut Vec<(f32, u64, u32)>, k: usize, candidate: (f32, u64, u32)) {
    let order = |a: &(f32, u64, u32), b: &(f32, u64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    if nearest.len() == k
        && nearest
            .last()
            .is_some_and(|last| order(&candidate, last) != std::cmp::Ordering::Less)
    {
        return;
    }
    let at = nearest.partition_point(|x| order(x, &candidate) == std::cmp::Ordering::Less);
    nearest.insert(at, candidate);
    nearest.truncate(k);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::calibrate::calibrate_encoded;
    use crate::kmeans::KMeans;
    use crate::kmeans::tests::blobs;
    use crate::partition::group_by_partition;

    /// Streaming the data in batches gives the defaults of the in-memory
    /// calibration when both use the same queries.
    #[test]
    fn streamed_defaults_equal_in_memory_ones() {
        let centers: Vec<Vec<f32>> = (0..20)
            .map(|c| (0..16).map(|d| (((c * 5 + d * 11) % 13) as f32 - 6.0) / 3.0).collect())
            .collect();
        let data = blobs(&centers, 120, 0.7, 3);
        let view = Vectors::new(&data, 16).unwrap();
        let pq = |sub_vectors, bits| Some(crate::pq::PqShape { sub_vectors, bits });
        for sub_vectors in [None, pq(4, 8), pq(8, 4)] {
            let index = IvfIndex::train(view, Metric::L2, 30, sub_vectors, &KMeans::new(30)).unwrap();
            let (assignment, payload) = index.encode(view, 2).unwrap();
            let params = CalibrationParams {
                queries: 2400,
                ..CalibrationParams::default()
            };
            // All vectors as queries: the in-memory method then uses them all too.
            let in_memory = calibrate_encoded(&index, view, &assignment, &payload, &params).unwrap();
            let ids: Vec<u64> = (0..view.len() as u64).collect();
            let chosen: Vec<usize> = {
                use rand::SeedableRng;
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(params.seed);
                rand::seq::index::sample(&mut rng, view.len(), params.queries.min(view.len() / 2)).into_vec()
            };
            let query_values: Vec<f32> = chosen.iter().flat_map(|&i| view.get(i).to_vec()).collect();
            let query_ids: Vec<u64> = chosen.iter().map(|&i| i as u64).collect();
            let queries = Vectors::new(&query_values, 16).unwrap();
            let mut stream = StreamCalibration::new(Metric::L2, queries, None, &query_ids, params).unwrap();
            for start in (0..view.len()).step_by(500) {
                let end = (start + 500).min(view.len());
                let batch = Vectors::new(&data[start * 16..end * 16], 16).unwrap();
                stream
                    .observe(batch, &ids[start..end], &assignment[start..end])
                    .unwrap();
            }
            let nprobes = stream.nprobes(&index).unwrap();
            let parts = group_by_partition(30, &ids, &assignment, &payload, index.payload_width()).unwrap();
            for (p, part) in parts.iter().enumerate() {
                stream.observe_partition(&index, p as u32, part).unwrap();
            }
            let streamed = stream.finish(&index);
            assert_eq!(streamed.nprobes, nprobes);
            assert_eq!(streamed, in_memory, "{sub_vectors:?}");
        }
    }
}
