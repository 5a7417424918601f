//! An inverted-file index: an [`IvfModel`] that routes vectors to
//! partitions, and the payload each partition keeps per member: the
//! vectors themselves (IVF_FLAT), product-quantization codes of the
//! residual to the partition centroid (IVF_PQ), or 8-bit scalar codes of
//! the vector (IVF_SQ).
//!
//! Partitions hold ids chosen by the caller (the table layer uses stable
//! row ids). A search probes partitions nearest first and offers members to
//! a [`TopK`]; the caller decides which ids are acceptable, and is asked
//! only about members that would enter the top-k.

use crate::binary::{hamming_bytes, to_bytes};
use crate::error::{IndexError, Result, check_dim};
use crate::fastscan::FastScanCodes;
use crate::hnsw::HnswParams;
use crate::ivf::IvfModel;
use crate::ivf_tables::Probe;
use crate::kmeans::KMeans;
use crate::metric::Metric;
use crate::partition::{Partition, Payload};
use crate::pq::{PqShape, ProductQuantizer};
use crate::pq_terms::{PartitionTerms, query_terms};
use crate::sq::ScalarQuantizer;
use crate::topk::TopK;
use crate::vectors::Vectors;
use std::sync::Arc;

/// A trained IVF index model: partitions, plus a quantizer for IVF_PQ.
#[derive(Debug, Clone, PartialEq)]
pub struct IvfIndex {
    pub(crate) ivf: IvfModel,
    pub(crate) pq: Option<ProductQuantizer>,
    /// The scalar quantizer (IVF_SQ).
    pub(crate) sq: Option<ScalarQuantizer>,
    /// Per-partition distance terms (IVF_PQ with L2 or cosine).
    pub(crate) terms: Option<Arc<PartitionTerms>>,
    /// How each partition's graph is built (IVF_HNSW_SQ).
    pub(crate) hnsw: Option<HnswParams>,
}

impl IvfIndex {
    /// Trains on `sample`: `partitions` centroids and, when `pq` is set, a
    /// product quantizer of that shape over the sample's residuals.
    pub fn train(
        sample: Vectors<'_>,
        metric: Metric,
        partitions: usize,
        pq: Option<PqShape>,
        params: &KMeans,
    ) -> Result<Self> {
        if metric == Metric::Hamming && pq.is_some() {
            return Err(IndexError::params(
                "the hamming metric indexes binary codes with IVF_FLAT only (codes cannot be quantized further)",
            ));
        }
        if partitions == 0 || partitions > sample.len() {
            return Err(IndexError::params(format!(
                "num_partitions must be in 1..={} (the vectors available), got {partitions}",
                sample.len()
            )));
        }
        let ivf = IvfModel::train(sample, metric, partitions, params)?;
        let pq = match pq {
            None => None,
            Some(shape) => {
                let assignment = ivf.assign(sample, params.threads)?;
                let mut residuals = Vec::with_capacity(sample.as_slice().len());
                for (v, &p) in sample.iter().zip(&assignment) {
                    residuals.extend(ivf.residual(v, p)?);
                }
                Some(ProductQuantizer::train(
                    Vectors::new(&residuals, sample.dim())?,
                    shape,
                    params,
                )?)
            }
        };
        Ok(Self::assemble(ivf, pq))
    }

    /// Trains `partitions` centroids and an 8-bit scalar quantizer over the
    /// sample's vectors (as the metric compares them).
    pub fn train_sq(sample: Vectors<'_>, metric: Metric, partitions: usize, params: &KMeans) -> Result<Self> {
        if metric == Metric::Hamming {
            return Err(IndexError::params(
                "the hamming metric indexes binary codes with IVF_FLAT only (codes cannot be quantized further)",
            ));
        }
        let flat = Self::train(sample, metric, partitions, None, params)?;
        let mut prepared = Vec::with_capacity(sample.as_slice().len());
        for v in sample.iter() {
            prepared.extend_from_slice(&flat.ivf.prepare(v));
        }
        let sq = ScalarQuantizer::train(Vectors::new(&prepared, sample.dim())?)?;
        Ok(Self { sq: Some(sq), ..flat })
    }

    /// An IVF_SQ model from stored parts (shapes are checked).
    pub fn from_parts_sq(ivf: IvfModel, sq: ScalarQuantizer) -> Result<Self> {
        check_dim(ivf.dim(), sq.dim()).map_err(|_| IndexError::Corrupt {
            what: format!("the quantizer has {} dimensions, the centroids {}", sq.dim(), ivf.dim()),
        })?;
        Ok(Self {
            sq: Some(sq),
            ..Self::assemble(ivf, None)
        })
    }

    fn assemble(ivf: IvfModel, pq: Option<ProductQuantizer>) -> Self {
        let terms = match (&pq, ivf.metric()) {
            (Some(pq), Metric::L2 | Metric::Cosine) => PartitionTerms::compute(&ivf, pq).map(Arc::new),
            _ => None,
        };
        Self {
            ivf,
            pq,
            sq: None,
            terms,
            hnsw: None,
        }
    }

    /// An index model from stored parts (shapes are checked).
    pub fn from_parts(ivf: IvfModel, pq: Option<ProductQuantizer>) -> Result<Self> {
        if let Some(pq) = &pq {
            check_dim(ivf.dim(), pq.dim()).map_err(|_| IndexError::Corrupt {
                what: format!("the quantizer has {} dimensions, the centroids {}", pq.dim(), ivf.dim()),
            })?;
        }
        Ok(Self::assemble(ivf, pq))
    }

    /// The partition model.
    pub fn ivf(&self) -> &IvfModel {
        &self.ivf
    }

    /// The quantizer (IVF_PQ only).
    pub fn quantizer(&self) -> Option<&ProductQuantizer> {
        self.pq.as_ref()
    }

    /// The scalar quantizer (IVF_SQ only).
    pub fn scalar_quantizer(&self) -> Option<&ScalarQuantizer> {
        self.sq.as_ref()
    }

    /// Bytes per member's code, for quantized kinds (None: IVF_FLAT keeps vectors).
    pub fn code_width(&self) -> Option<usize> {
        match (&self.pq, &self.sq) {
            (Some(pq), _) => Some(pq.code_bytes()),
            (None, Some(sq)) => Some(sq.dim()),
            (None, None) => None,
        }
    }

    /// Bytes per member of a byte payload: the quantizer's code (IVF_PQ,
    /// IVF_SQ) or, for the hamming metric, the binary code itself; `None`
    /// when members keep f32 vectors (IVF_FLAT).
    pub fn byte_payload_width(&self) -> Option<usize> {
        match self.code_width() {
            Some(width) => Some(width),
            None if self.ivf.metric() == Metric::Hamming => Some(self.ivf.dim()),
            None => None,
        }
    }

    /// Bytes of payload per member.
    pub fn payload_width(&self) -> usize {
        self.byte_payload_width().unwrap_or(self.ivf.dim() * 4)
    }

    /// Routes `data` to partitions on `threads` threads: the partition of
    /// every vector, and its payload (the vector itself without a
    /// quantizer, else its code).
    pub fn encode(&self, data: Vectors<'_>, threads: usize) -> Result<(Vec<u32>, Payload)> {
        let assignment = self.ivf.assign(data, threads)?;
        if let Some(sq) = &self.sq {
            let mut prepared = Vec::with_capacity(data.as_slice().len());
            for v in data.iter() {
                prepared.extend_from_slice(&self.ivf.prepare(v));
            }
            let codes = sq.encode_batch(Vectors::new(&prepared, data.dim())?)?;
            return Ok((assignment, Payload::Codes(codes)));
        }
        let Some(pq) = &self.pq else {
            if self.ivf.metric() == Metric::Hamming {
                let codes = to_bytes(data.as_slice())
                    .ok_or_else(|| IndexError::params("hamming vectors must hold bytes (whole numbers 0 to 255)"))?;
                return Ok((assignment, Payload::Codes(codes)));
            }
            return Ok((assignment, Payload::Vectors(data.as_slice().to_vec())));
        };
        let m = pq.code_bytes();
        let mut codes = vec![0u8; data.len() * m];
        let threads = threads.clamp(1, data.len().max(1));
        let per = data.len().div_ceil(threads).max(1);
        let results: Vec<Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = codes
                .chunks_mut(per * m)
                .enumerate()
                .map(|(chunk, out)| {
                    let assignment = &assignment;
                    scope.spawn(move || -> Result<()> {
                        let first = chunk * per;
                        let rows = out.len() / m;
                        let mut residuals = Vec::with_capacity(rows * data.dim());
                        for (row, &partition) in assignment.iter().enumerate().skip(first).take(rows) {
                            residuals.extend(self.ivf.residual(data.get(row), partition)?);
                        }
                        out.copy_from_slice(&pq.encode_batch(Vectors::new(&residuals, data.dim())?)?);
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or(Err(IndexError::WorkerPanicked { task: "PQ encoding" }))
                })
                .collect()
        });
        results.into_iter().collect::<Result<()>>()?;
        Ok((assignment, Payload::Codes(codes)))
    }

    /// Checks that a stored partition fits this model.
    pub fn validate(&self, partition: &Partition) -> Result<()> {
        let expected = partition.len() * self.payload_width();
        let four_bit = self.pq.as_ref().is_some_and(|pq| pq.bits() == 4);
        let found = match &partition.payload {
            Payload::Vectors(v) if self.byte_payload_width().is_none() => v.len() * 4,
            Payload::Codes(c) if self.byte_payload_width().is_some() => c.len(),
            Payload::FastScan(packed) if four_bit => packed.len() * self.payload_width(),
            Payload::Graph(graph) if self.hnsw.is_some() && graph.graph.len() == partition.len() => graph.codes.len(),
            _ => {
                return Err(IndexError::Corrupt {
                    what: "a partition's payload does not match the index kind".into(),
                });
            }
        };
        if found != expected {
            return Err(IndexError::Corrupt {
                what: format!(
                    "a partition of {} members holds {found} payload bytes, expected {expected}",
                    partition.len()
                ),
            });
        }
        // Non-decreasing: the vectors of one multivector row share its id.
        if partition.ids.windows(2).any(|w| w[0] > w[1]) {
            return Err(IndexError::Corrupt {
                what: "a partition's ids do not ascend".into(),
            });
        }
        Ok(())
    }

    /// The form of a stored partition that searches fastest: 4-bit codes
    /// interleaved for the SIMD scan, other payloads as they are.
    pub fn prepare_partition(&self, partition: Partition) -> Result<Partition> {
        match (&self.pq, partition.payload) {
            (Some(pq), Payload::Codes(codes)) if pq.bits() == 4 => Ok(Partition {
                ids: partition.ids,
                payload: Payload::FastScan(FastScanCodes::from_rows(&codes, pq.num_sub_vectors())?),
            }),
            (_, payload) => Ok(Partition {
                ids: partition.ids,
                payload,
            }),
        }
    }

    /// Prepares `query` (unit length for cosine) and ranks the `nprobes`
    /// partitions nearest to it.
    pub fn probe(&self, query: &[f32], nprobes: usize) -> Result<Probe> {
        check_dim(self.ivf.dim(), query.len())?;
        let prepared = self.ivf.metric().prepare_query(query);
        let ranked = self.ivf.rank(&prepared, nprobes)?;
        let terms = match (&self.pq, self.ivf.metric()) {
            (Some(pq), Metric::Dot) => pq.distance_table(&prepared, Metric::Dot)?,
            (Some(pq), _) if self.terms.is_some() => query_terms(pq, &prepared),
            _ => Vec::new(),
        };
        let sq = match &self.sq {
            Some(sq) => Some(sq.prepare(&prepared, self.ivf.metric())?),
            None => None,
        };
        let code = if self.ivf.metric() == Metric::Hamming {
            to_bytes(&prepared)
                .ok_or_else(|| IndexError::params("a hamming query holds bytes (whole numbers 0 to 255)"))?
        } else {
            Vec::new()
        };
        Ok(Probe {
            prepared,
            ranked,
            terms,
            sq,
            code,
            ef: 0,
        })
    }

    /// Offers the members of `partition` (number `index`) to `top`,
    /// with `accept` deciding, for members that would enter, whether their
    /// id may. Distances follow the metric's definition: exact for
    /// IVF_FLAT, estimated from codes for IVF_PQ.
    pub fn search_partition(
        &self,
        probe: &Probe,
        index: u32,
        partition: &Partition,
        top: &mut TopK,
        accept: &mut dyn FnMut(u64) -> bool,
    ) -> Result<()> {
        let metric = self.ivf.metric();
        match (&partition.payload, &self.pq, &probe.sq) {
            (Payload::Codes(codes), None, None) if metric == Metric::Hamming => offer(
                &partition.ids,
                codes.chunks_exact(self.ivf.dim()),
                |code| hamming_bytes(&probe.code, code) as f32,
                top,
                accept,
            ),
            (Payload::Vectors(vectors), None, None) if metric != Metric::Hamming => offer(
                &partition.ids,
                vectors.chunks_exact(self.ivf.dim()),
                |v| metric.distance_prepared(&probe.prepared, v),
                top,
                accept,
            ),
            (Payload::Graph(graph), None, Some(query)) => {
                let ef = probe.ef.max(top.capacity());
                let mut threshold = top.threshold();
                let dim = self.ivf.dim();
                let found = graph.graph.search(ef, &|i| {
                    let at = i as usize * dim;
                    graph
                        .codes
                        .get(at..at + dim)
                        .map_or(f32::INFINITY, |code| query.distance(code))
                });
                for (d, member) in found {
                    let Some(&id) = partition.ids.get(member as usize) else {
                        continue;
                    };
                    if d < threshold && accept(id) {
                        top.push(d, id);
                        threshold = top.threshold();
                    }
                }
            }
            (Payload::Codes(codes), None, Some(query)) => offer(
                &partition.ids,
                codes.chunks_exact(self.ivf.dim()),
                |code| query.distance(code),
                top,
                accept,
            ),
            (Payload::Codes(codes), Some(pq), None) => {
                let table = self.code_table(probe, index)?;
                offer(
                    &partition.ids,
                    codes.chunks_exact(pq.code_bytes()),
                    |code| table.distance(code),
                    top,
                    accept,
                );
            }
            (Payload::FastScan(packed), Some(_), None) => {
                let table = self.code_table(probe, index)?;
                let quantized = table.quantized.as_ref().ok_or_else(|| IndexError::Corrupt {
                    what: "4-bit codes in an index of 8-bit codes".into(),
                })?;
                let mut sums = Vec::with_capacity(packed.len());
                packed.scan(quantized, &mut sums)?;
                let mut threshold = top.threshold();
                for (id, &sum) in partition.ids.iter().zip(&sums) {
                    let d = table.offset + table.scale * quantized.distance(sum);
                    if d < threshold && accept(*id) {
                        top.push(d, *id);
                        threshold = top.threshold();
                    }
                }
            }
            _ => {
                return Err(IndexError::Corrupt {
                    what: "a partition's payload does not match the index kind".into(),
                });
            }
        }
        Ok(())
    }
}

/// Offers each member (`ids` with their vectors or codes) to `top`; the
/// caller's `accept` is asked only about members that would enter.
fn offer<'a, T: 'a>(
    ids: &[u64],
    items: impl Iterator<Item = &'a [T]>,
    distance: impl Fn(&[T]) -> f32,
    top: &mut TopK,
    accept: &mut dyn FnMut(u64) -> bool,
) {
    let mut threshold = top.threshold();
    for (id, item) in ids.iter().zip(items) {
        let d = distance(item);
        if d < threshold && accept(*id) {
            top.push(d, *id);
            threshold = top.threshold();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::exact::exact_search;
    use crate::kmeans::tests::blobs;
    use crate::partition::group_by_partition;

    fn index_and_data(sub_vectors: Option<usize>, metric: Metric) -> (IvfIndex, Vec<f32>, Vec<Partition>) {
        let centers: Vec<Vec<f32>> = (0..8)
            .map(|c| (0..16).map(|d| ((c * 16 + d) % 7) as f32 - 3.0).collect())
            .collect();
        let data = blobs(&centers, 200, 0.4, 3);
        let view = Vectors::new(&data, 16).unwrap();
        let mut params = KMeans::new(8);
        params.max_iters = 10;
        let shape = sub_vectors.map(|sub_vectors| PqShape { sub_vectors, bits: 8 });
        let index = IvfIndex::train(view, metric, 8, shape, &params).unwrap();
        let (assignment, payload) = index.encode(view, 2).unwrap();
        let ids: Vec<u64> = (0..view.len() as u64).map(|i| i * 3 + 1).collect();
        let parts = group_by_partition(8, &ids, &assignment, &payload, index.payload_width()).unwrap();
        for part in &parts {
            index.validate(part).unwrap();
        }
        (index, data, parts)
    }

    fn search_all(index: &IvfIndex, parts: &[Partition], query: &[f32], k: usize) -> Vec<u64> {
        let probe = index.probe(query, parts.len()).unwrap();
        let mut top = TopK::new(k);
        for &(p, _) in &probe.ranked {
            index
                .search_partition(&probe, p, &parts[p as usize], &mut top, &mut |_| true)
                .unwrap();
        }
        top.into_sorted().iter().map(|n| n.id).collect()
    }

    #[test]
    fn flat_with_every_partition_probed_equals_exact_search() {
        for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
            let (index, data, parts) = index_and_data(None, metric);
            let view = Vectors::new(&data, 16).unwrap();
            for q in [0usize, 333, 1200] {
                let query = view.get(q);
                let exact: Vec<u64> = exact_search(query, view, None, metric, 10)
                    .unwrap()
                    .iter()
                    .map(|n| n.id * 3 + 1)
                    .collect();
                assert_eq!(search_all(&index, &parts, query, 10), exact, "{metric}");
            }
        }
    }

    #[test]
    fn pq_distances_approximate_the_metric() {
        for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
            let (index, data, parts) = index_and_data(Some(8), metric);
            let view = Vectors::new(&data, 16).unwrap();
            let query = view.get(17);
            let probe = index.probe(query, 8).unwrap();
            let mut top = TopK::new(5);
            for &(p, _) in &probe.ranked {
                index
                    .search_partition(&probe, p, &parts[p as usize], &mut top, &mut |_| true)
                    .unwrap();
            }
            for n in top.into_sorted() {
                let exact = metric.distance(query, view.get(((n.id - 1) / 3) as usize));
                let scale = if metric == Metric::L2 { 16.0 * 0.4 } else { 0.3 };
                assert!(
                    (n.distance - exact).abs() < scale,
                    "{metric}: {} vs {exact}",
                    n.distance
                );
            }
        }
    }

    #[test]
    fn precomputed_terms_give_the_residual_table_distances() {
        for metric in [Metric::L2, Metric::Cosine] {
            let (index, data, parts) = index_and_data(Some(8), metric);
            assert!(index.terms.is_some());
            let pq = index.quantizer().unwrap();
            let query = Vectors::new(&data, 16).unwrap().get(40).to_vec();
            let probe = index.probe(&query, 8).unwrap();
            for &(p, _) in &probe.ranked {
                let fast = index.code_table(&probe, p).unwrap();
                let residual = index.ivf().residual(&probe.prepared, p).unwrap();
                let slow = pq.distance_table(&residual, Metric::L2).unwrap();
                let Payload::Codes(codes) = &parts[p as usize].payload else {
                    panic!()
                };
                for code in codes.chunks_exact(8).take(20) {
                    let want = fast.scale * ProductQuantizer::table_distance(&slow, code);
                    let got = fast.distance(code);
                    assert!(
                        (got - want).abs() <= 1e-3 * want.abs().max(1.0),
                        "{metric}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn four_bit_codes_scan_alike_interleaved_or_row_major_and_near_the_exact_distance() {
        let centers: Vec<Vec<f32>> = (0..8)
            .map(|c| (0..16).map(|d| ((c * 16 + d) % 7) as f32 - 3.0).collect())
            .collect();
        let data = blobs(&centers, 200, 0.4, 3);
        let view = Vectors::new(&data, 16).unwrap();
        for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
            let shape = PqShape {
                sub_vectors: 8,
                bits: 4,
            };
            let index = IvfIndex::train(view, metric, 8, Some(shape), &KMeans::new(8)).unwrap();
            assert_eq!(index.code_width(), Some(4));
            let (assignment, payload) = index.encode(view, 2).unwrap();
            let ids: Vec<u64> = (0..view.len() as u64).collect();
            let parts = group_by_partition(8, &ids, &assignment, &payload, 4).unwrap();
            let query = view.get(77).to_vec();
            let probe = index.probe(&query, 8).unwrap();
            let (mut rows, mut packed) = (TopK::new(60), TopK::new(60));
            for &(p, _) in &probe.ranked {
                let part = &parts[p as usize];
                index
                    .search_partition(&probe, p, part, &mut rows, &mut |_| true)
                    .unwrap();
                let prepared = index.prepare_partition(part.clone()).unwrap();
                assert!(matches!(prepared.payload, Payload::FastScan(_)));
                index.validate(&prepared).unwrap();
                index
                    .search_partition(&probe, p, &prepared, &mut packed, &mut |_| true)
                    .unwrap();
            }
            let (rows, packed) = (rows.into_sorted(), packed.into_sorted());
            assert_eq!(rows, packed, "{metric}");
            for n in &rows {
                let exact = metric.distance(&query, view.get(n.id as usize));
                let slack = match metric {
                    Metric::L2 => 16.0 * 0.5,
                    Metric::Dot => 0.02 * exact.abs(),
                    _ => 0.4,
                };
                assert!(
                    (n.distance - exact).abs() < slack,
                    "{metric}: {} vs {exact}",
                    n.distance
                );
            }
        }
    }

    #[test]
    fn rejected_ids_never_enter_and_corrupt_partitions_are_refused() {
        let (index, data, parts) = index_and_data(Some(4), Metric::L2);
        let query = Vectors::new(&data, 16).unwrap().get(5).to_vec();
        let probe = index.probe(&query, 8).unwrap();
        let mut top = TopK::new(50);
        for &(p, _) in &probe.ranked {
            index
                .search_partition(&probe, p, &parts[p as usize], &mut top, &mut |id| id % 2 == 0)
                .unwrap();
        }
        assert!(top.into_sorted().iter().all(|n| n.id % 2 == 0));
        let mut bad = parts[0].clone();
        bad.ids.push(0);
        assert!(matches!(index.validate(&bad), Err(IndexError::Corrupt { .. })));
    }
}
