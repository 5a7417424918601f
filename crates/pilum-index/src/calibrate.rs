//! Query defaults derived from the data, so that an untuned search is
//! accurate: how many partitions to probe, and how many candidates to
//! re-rank exactly, for a target recall.
//!
//! Sample vectors serve as queries against the rest of the sample. For
//! each query's exact top-k, the method records at which probe rank each
//! true neighbor's partition comes, and at which position the quantized
//! distances place it among the probed candidates; the defaults are the
//! smallest values reaching the target fraction of neighbors.

use crate::error::{IndexError, Result};
use crate::exact::exact_search;
use crate::ivf_index::IvfIndex;
use crate::partition::Payload;
use crate::vectors::Vectors;
use rand::SeedableRng;
use rand::seq::index::sample as sample_indices;
use rand_chacha::ChaCha8Rng;

/// Refine factors tried, smallest first.
pub(crate) const REFINE_STEPS: [usize; 6] = [1, 2, 4, 8, 16, 32];

/// Defaults chosen for an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibration {
    /// Partitions to probe.
    pub nprobes: usize,
    /// Candidates to re-rank, as a multiple of k (0 for IVF_FLAT, whose
    /// distances are exact).
    pub refine_factor: usize,
}

/// Settings of a calibration.
#[derive(Debug, Clone, Copy)]
pub struct CalibrationParams {
    /// Neighbors per query (the k the defaults are tuned for).
    pub k: usize,
    /// Sample vectors used as queries.
    pub queries: usize,
    /// Fraction of true neighbors the probes must reach.
    pub probe_recall: f32,
    /// Fraction of reached neighbors the refine window must hold.
    pub refine_recall: f32,
    /// Seed of the query choice.
    pub seed: u64,
    /// Threads for the exact searches.
    pub threads: usize,
}

impl Default for CalibrationParams {
    fn default() -> Self {
        Self {
            k: 10,
            queries: 100,
            probe_recall: 0.97,
            refine_recall: 0.97,
            seed: 7,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Calibrates `index` on `sample` (vectors from the indexed data).
pub fn calibrate(index: &IvfIndex, sample: Vectors<'_>, params: &CalibrationParams) -> Result<Calibration> {
    let (assignment, payload) = index.encode(sample, params.threads)?;
    calibrate_encoded(index, sample, &assignment, &payload, params)
}

/// Calibrates `index` on the vectors it indexes, already routed to their
/// partitions (`assignment`) and encoded (`payload`), as a build has them:
/// queries are some of the vectors, searched against all the others, so
/// the defaults hold at the index's real density.
pub fn calibrate_encoded(
    index: &IvfIndex,
    sample: Vectors<'_>,
    assignment: &[u32],
    payload: &Payload,
    params: &CalibrationParams,
) -> Result<Calibration> {
    calibrate_against(index, sample, None, assignment, payload, params)
}

/// [`calibrate_encoded`] for an index over a prefix of each vector (a
/// matryoshka index): `sample` holds the indexed prefixes, `full` the
/// whole vectors (same order). True neighbors are found on the whole
/// vectors, so the refine factor covers both quantization and the
/// prefix's approximation, even for an index without a quantizer.
pub fn calibrate_prefix(
    index: &IvfIndex,
    sample: Vectors<'_>,
    full: Vectors<'_>,
    assignment: &[u32],
    payload: &Payload,
    params: &CalibrationParams,
) -> Result<Calibration> {
    if full.len() != sample.len() {
        return Err(IndexError::params("one whole vector per indexed prefix is needed"));
    }
    calibrate_against(index, sample, Some(full), assignment, payload, params)
}

fn calibrate_against(
    index: &IvfIndex,
    sample: Vectors<'_>,
    full: Option<Vectors<'_>>,
    assignment: &[u32],
    payload: &Payload,
    params: &CalibrationParams,
) -> Result<Calibration> {
    let n = sample.len();
    let partitions = index.ivf().num_partitions();
    if n <= params.k + 1 || params.queries == 0 {
        return Ok(Calibration {
            nprobes: partitions,
            refine_factor: if index.code_width().is_some() || full.is_some() {
                4
            } else {
                0
            },
        });
    }
    if assignment.len() != n {
        return Err(IndexError::params("one partition per vector is needed"));
    }
    let metric = index.ivf().metric();
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let chosen = sample_indices(&mut rng, n, params.queries.min(n / 2).max(1)).into_vec();
    let mut probe_ranks = Vec::new();
    let mut cases = Vec::with_capacity(chosen.len());
    let truths = exact_truths(full.unwrap_or(sample), &chosen, metric, params)?;
    for (&q, truth) in chosen.iter().zip(truths) {
        let query = sample.get(q);
        let probe = index.probe(query, partitions)?;
        let mut rank_of = vec![usize::MAX; partitions];
        for (rank, &(p, _)) in probe.ranked.iter().enumerate() {
            rank_of[p as usize] = rank;
        }
        probe_ranks.extend(truth.iter().map(|&id| rank_of[assignment[id as usize] as usize]));
        cases.push((q, truth, probe, rank_of));
    }
    let nprobes = quantile(&mut probe_ranks, params.probe_recall).map_or(partitions, |r| r + 1);
    let nprobes = nprobes.clamp(partitions.min(4), partitions);
    if index.code_width().is_none() && full.is_none() {
        return Ok(Calibration {
            nprobes,
            refine_factor: 0,
        });
    }
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); partitions];
    for (i, &p) in assignment.iter().enumerate() {
        members[p as usize].push(i);
    }
    let mut positions = Vec::new();
    for (q, truth, probe, rank_of) in cases {
        // The index's distances (quantized, or on the prefix) of the
        // candidates the probes reach.
        let mut distance_of = vec![f32::INFINITY; n];
        let prepared = metric.prepare_query(sample.get(q));
        for &(p, _) in &probe.ranked[..nprobes] {
            match payload {
                Payload::Codes(_) | Payload::FastScan(_) | Payload::Graph(_) => {
                    let m = index
                        .byte_payload_width()
                        .ok_or_else(|| IndexError::params("codes without a quantizer"))?;
                    let codes = payload.code_rows().unwrap_or_default();
                    let table = index.estimator(&probe, p)?;
                    for &i in members[p as usize].iter().filter(|&&i| i != q) {
                        let code = codes
                            .get(i * m..(i + 1) * m)
                            .ok_or_else(|| IndexError::params("short code block"))?;
                        distance_of[i] = table.distance(code);
                    }
                }
                Payload::Vectors(_) => {
                    for &i in members[p as usize].iter().filter(|&&i| i != q) {
                        distance_of[i] = metric.distance_prepared(&prepared, sample.get(i));
                    }
                }
            }
        }
        for id in truth {
            let id = id as usize;
            if rank_of[assignment[id] as usize] >= nprobes {
                continue;
            }
            let d = distance_of[id];
            positions.push(distance_of.iter().filter(|&&x| x < d).count());
        }
    }
    let needed = quantile(&mut positions, params.refine_recall).map_or(0, |p| p + 1);
    let refine_factor = REFINE_STEPS
        .iter()
        .copied()
        .find(|r| r * params.k >= needed)
        .unwrap_or(REFINE_STEPS[REFINE_STEPS.len() - 1]);
    Ok(Calibration { nprobes, refine_factor })
}

/// The exact `k` nearest of each chosen vector among all the others, on
/// several threads.
fn exact_truths(
    data: Vectors<'_>,
    chosen: &[usize],
    metric: crate::Metric,
    params: &CalibrationParams,
) -> Result<Vec<Vec<u64>>> {
    let threads = params.threads.clamp(1, chosen.len().max(1));
    let per = chosen.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Vec<Vec<u64>>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chosen
            .chunks(per)
            .map(|part| {
                scope.spawn(move || -> Result<Vec<Vec<u64>>> {
                    part.iter()
                        .map(|&q| {
                            // The query is one of the vectors: ask for one more and drop it.
                            Ok(exact_search(data.get(q), data, None, metric, params.k + 1)?
                                .into_iter()
                                .map(|nb| nb.id)
                                .filter(|&id| id as usize != q)
                                .take(params.k)
                                .collect())
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or(Err(IndexError::WorkerPanicked { task: "calibration" }))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(chosen.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

/// The value below which `fraction` of `values` fall (None when empty).
pub(crate) fn quantile(values: &mut [usize], fraction: f32) -> Option<usize> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let at = ((values.len() as f32 * fraction).ceil() as usize).clamp(1, values.len()) - 1;
    Some(values[at])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::kmeans::KMeans;
    use crate::kmeans::tests::blobs;
    use crate::metric::Metric;
    use crate::partition::group_by_partition;
    use crate::topk::TopK;

    #[test]
    fn calibrated_defaults_reach_the_target_recall_on_held_out_queries() {
        let centers: Vec<Vec<f32>> = (0..30)
            .map(|c| (0..24).map(|d| (((c * 7 + d * 13) % 17) as f32 - 8.0) / 4.0).collect())
            .collect();
        let data = blobs(&centers, 100, 0.6, 5);
        let queries = blobs(&centers, 2, 0.6, 99);
        let view = Vectors::new(&data, 24).unwrap();
        let pq = |sub_vectors, bits| Some(crate::pq::PqShape { sub_vectors, bits });
        for sub_vectors in [None, pq(6, 8), pq(12, 4)] {
            let index = IvfIndex::train(view, Metric::L2, 40, sub_vectors, &KMeans::new(40)).unwrap();
            let calibration = calibrate(&index, view, &CalibrationParams::default()).unwrap();
            assert!((4..=40).contains(&calibration.nprobes), "{calibration:?}");
            assert_eq!(calibration.refine_factor == 0, sub_vectors.is_none(), "{calibration:?}");
            let (assignment, payload) = index.encode(view, 2).unwrap();
            let ids: Vec<u64> = (0..view.len() as u64).collect();
            // Searched as a loaded index searches them (4-bit codes interleaved).
            let parts: Vec<_> = group_by_partition(40, &ids, &assignment, &payload, index.payload_width())
                .unwrap()
                .into_iter()
                .map(|p| index.prepare_partition(p).unwrap())
                .collect();
            let (mut hits, mut total) = (0, 0);
            for query in queries.chunks_exact(24) {
                let probe = index.probe(query, calibration.nprobes).unwrap();
                let mut top = TopK::new(10 * calibration.refine_factor.max(1));
                for &(p, _) in &probe.ranked {
                    index
                        .search_partition(&probe, p, &parts[p as usize], &mut top, &mut |_| true)
                        .unwrap();
                }
                let mut refined = TopK::new(10);
                for n in top.into_sorted() {
                    refined.push(Metric::L2.distance(query, view.get(n.id as usize)), n.id);
                }
                let got: Vec<u64> = refined.into_sorted().iter().map(|n| n.id).collect();
                let truth = exact_search(query, view, None, Metric::L2, 10).unwrap();
                hits += truth.iter().filter(|n| got.contains(&n.id)).count();
                total += 10;
            }
            let recall = hits as f32 / total as f32;
            assert!(recall >= 0.9, "recall {recall} with {calibration:?}");
        }
    }
}
