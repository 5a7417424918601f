//! IVF_HNSW_SQ: an IVF model whose partitions keep 8-bit scalar codes and
//! a navigable graph over them, so a probe compares the query with the
//! members its graph walk reaches instead of every member.

use crate::error::{IndexError, Result};
use crate::hnsw::{HnswGraph, HnswParams};
use crate::ivf_index::IvfIndex;
use crate::kmeans::KMeans;
use crate::metric::Metric;
use crate::partition::{GraphCodes, Partition, Payload};
use crate::sq::ScalarQuantizer;
use crate::vectors::Vectors;

/// Bytes of decoded values a partition's graph build may hold (per
/// partition being built); larger partitions compare codes directly.
const DECODE_BYTES: usize = 128 << 20;

impl IvfIndex {
    /// Trains `partitions` centroids and an 8-bit scalar quantizer, whose
    /// partitions get graphs built with `hnsw` (see [`Self::finish_partition`]).
    pub fn train_hnsw_sq(
        sample: Vectors<'_>,
        metric: Metric,
        partitions: usize,
        hnsw: HnswParams,
        params: &KMeans,
    ) -> Result<Self> {
        check(hnsw)?;
        let mut index = Self::train_sq(sample, metric, partitions, params)?;
        index.hnsw = Some(hnsw);
        Ok(index)
    }

    /// An IVF_HNSW_SQ model from stored parts (shapes are checked).
    pub fn from_parts_hnsw_sq(ivf: crate::ivf::IvfModel, sq: ScalarQuantizer, hnsw: HnswParams) -> Result<Self> {
        check(hnsw).map_err(|e| IndexError::Corrupt { what: e.to_string() })?;
        let mut index = Self::from_parts_sq(ivf, sq)?;
        index.hnsw = Some(hnsw);
        Ok(index)
    }

    /// The graph parameters (IVF_HNSW_SQ only).
    pub fn hnsw(&self) -> Option<HnswParams> {
        self.hnsw
    }

    /// A partition as it is stored: for IVF_HNSW_SQ, its codes with the
    /// graph over them (built here, seeded by the partition's number, so
    /// builds are deterministic); other kinds unchanged.
    pub fn finish_partition(&self, number: u32, partition: Partition) -> Result<Partition> {
        let (Some(hnsw), Some(sq), Payload::Codes(codes)) = (self.hnsw, self.scalar_quantizer(), &partition.payload)
        else {
            return Ok(partition);
        };
        let dim = sq.dim();
        let pairs = sq.code_metric(self.ivf().metric());
        let code = |i: u32| &codes[i as usize * dim..(i as usize + 1) * dim];
        let params = HnswParams {
            seed: hnsw.seed.wrapping_add(number as u64),
            ..hnsw
        };
        // Codes are compared directly where their kernel is the faster one
        // (50k x 128-d: 6.7 s against 8.1 s decoded; 60k x 768-d: 24 s
        // against 28 s); else decoded values make each distance cheaper (the
        // f32 kernels), unless the partition is too large to decode within
        // the budget.
        let graph = if !pairs.fast_on_codes() && codes.len().saturating_mul(4) <= DECODE_BYTES {
            let mut values = Vec::with_capacity(codes.len());
            for c in codes.chunks_exact(dim) {
                pairs.decode_into(c, &mut values);
            }
            let row = |i: u32| &values[i as usize * dim..(i as usize + 1) * dim];
            HnswGraph::build(partition.len(), params, &|a, b| pairs.decoded_distance(row(a), row(b)))?
        } else {
            HnswGraph::build(partition.len(), params, &|a, b| pairs.distance(code(a), code(b)))?
        };
        let Payload::Codes(codes) = partition.payload else {
            return Ok(partition);
        };
        Ok(Partition {
            ids: partition.ids,
            payload: Payload::Graph(GraphCodes { codes, graph }),
        })
    }

    /// [`Self::finish_partition`] for many partitions (numbered from
    /// `first`) on `threads` threads.
    pub fn finish_partitions(&self, first: u32, partitions: Vec<Partition>, threads: usize) -> Result<Vec<Partition>> {
        if self.hnsw.is_none() {
            return Ok(partitions);
        }
        let threads = threads.clamp(1, partitions.len().max(1));
        let count = partitions.len();
        // Partition i goes to thread i mod threads (partitions are of
        // similar size, so this balances); results return by position.
        let mut shares: Vec<Vec<(usize, Partition)>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, part) in partitions.into_iter().enumerate() {
            shares[i % threads].push((i, part));
        }
        let mut out: Vec<Option<Result<Partition>>> = (0..count).map(|_| None).collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = shares
                .into_iter()
                .map(|share| {
                    scope.spawn(move || {
                        share
                            .into_iter()
                            .map(|(i, part)| (i, self.finish_partition(first + i as u32, part)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for handle in handles {
                for (i, result) in handle.join().unwrap_or_default() {
                    out[i] = Some(result);
                }
            }
        });
        out.into_iter()
            .map(|s| s.unwrap_or(Err(IndexError::WorkerPanicked { task: "graph build" })))
            .collect()
    }
}

fn check(hnsw: HnswParams) -> Result<()> {
    if hnsw.m < 2 || hnsw.m > 256 || hnsw.ef_construction == 0 {
        return Err(IndexError::params(format!(
            "IVF_HNSW_SQ needs m in 2..=256 and ef_construction ≥ 1, got m={} ef_construction={}",
            hnsw.m, hnsw.ef_construction
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::exact::exact_search;
    use crate::kmeans::tests::blobs;
    use crate::partition::group_by_partition;
    use crate::topk::TopK;

    #[test]
    fn graph_partitions_reach_the_recall_of_a_full_scan() {
        let centers: Vec<Vec<f32>> = (0..10)
            .map(|c| (0..12).map(|d| (((c * 5 + d * 7) % 13) as f32 - 6.0) / 3.0).collect())
            .collect();
        let data = blobs(&centers, 300, 0.7, 8);
        let view = Vectors::new(&data, 12).unwrap();
        for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
            let index = IvfIndex::train_hnsw_sq(view, metric, 4, HnswParams::default(), &KMeans::new(4)).unwrap();
            let (assignment, payload) = index.encode(view, 2).unwrap();
            let ids: Vec<u64> = (0..view.len() as u64).collect();
            let parts = group_by_partition(4, &ids, &assignment, &payload, index.payload_width()).unwrap();
            let graphs = index.finish_partitions(0, parts.clone(), 2).unwrap();
            assert_eq!(
                graphs[1],
                index.finish_partition(1, parts[1].clone()).unwrap(),
                "deterministic"
            );
            let (mut hits, mut total) = (0, 0);
            for q in (0..view.len()).step_by(97) {
                let query: Vec<f32> = view.get(q).iter().map(|x| x + 0.03).collect();
                let probe = index.probe(&query, 4).unwrap();
                let mut top = TopK::new(10);
                for &(p, _) in &probe.ranked {
                    let part = &graphs[p as usize];
                    assert!(matches!(part.payload, Payload::Graph(_)));
                    index.validate(part).unwrap();
                    index
                        .search_partition(&probe, p, part, &mut top, &mut |_| true)
                        .unwrap();
                }
                let got: Vec<u64> = top.into_sorted().iter().map(|n| n.id).collect();
                let truth = exact_search(&query, view, None, metric, 10).unwrap();
                hits += truth.iter().filter(|n| got.contains(&n.id)).count();
                total += 10;
            }
            let recall = hits as f32 / total as f32;
            assert!(recall >= 0.9, "{metric}: recall@10 {recall}");
        }
        let bad = HnswParams {
            m: 1,
            ..HnswParams::default()
        };
        assert!(IvfIndex::train_hnsw_sq(view, Metric::L2, 4, bad, &KMeans::new(4)).is_err());
    }
}
