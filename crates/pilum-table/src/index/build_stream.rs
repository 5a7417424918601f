//! The bounded-memory build: the column streams past twice and is never
//! held whole.
//!
//! 1. A seeded reservoir keeps a uniform training sample while the column
//!    is scanned once (and the vectors are counted).
//! 2. The model trains on the sample.
//! 3. A second scan encodes batch by batch; entries spill to local disk by
//!    partition once `spill budget` bytes are buffered, and calibration
//!    queries track their exact neighbours.
//! 4. Partitions are gathered from the spill one at a time and written to
//!    `storage.pilum`, the calibration observing each.
//!
//! Memory is bounded by the sample (a quarter of the limit, but at least
//! 65,536 vectors or 40 per partition), the spill budget (another quarter),
//! one scan batch, one partition and the calibration's candidates (321 per
//! query) — not by the table's size.

use super::build::{VectorIndexParams, default_partitions, train_index, training_size};
use super::files::{Extent, StorageWriter};
use super::segment::{IndexedShape, VectorColumn};
use super::spill::Spill;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::progress::Progress;
use crate::proto;
use crate::scan_tasks::blocking;
use futures::TryStreamExt;
use pilum_index::{Calibration, CalibrationParams, IvfIndex, PqShape, Reservoir, StreamCalibration, Vectors};
use rand::SeedableRng;
use std::sync::Arc;

/// The files a build wrote, and what the manifest entry records of them.
pub(crate) struct BuiltFiles {
    pub uuid: String,
    pub index: IvfIndex,
    pub calibration: Calibration,
    pub storage: (proto::IndexFile, Vec<Extent>),
    pub skipped: u64,
}

impl Dataset {
    /// Builds a segment's files without holding the column; see the module
    /// documentation. `sub_vectors` is the PQ width (None for other kinds).
    pub(crate) async fn build_streamed(
        &self,
        params: &VectorIndexParams,
        shape: IndexedShape,
        sub_vectors: Option<PqShape>,
        spill_budget: usize,
        progress: &Progress,
    ) -> Result<BuiltFiles> {
        let (dim, index_dim) = (shape.column.dim, shape.index_dim);
        // Pass 1: the sample.
        let live = self.vector_scan(params).count_rows().await? as usize;
        // Sized on the first batch, which tells how many vectors a row holds.
        let mut reservoir: Option<Reservoir> = None;
        let mut skipped = 0u64;
        let mut stream = self.vector_scan(params).try_into_stream().await?;
        progress.report("sampling", 0, live as u64);
        let mut rows_seen = 0u64;
        while let Some(batch) = stream.try_next().await? {
            let usable = VectorColumn::of_batch(&batch, &params.column, shape, true)?;
            let reservoir = match &mut reservoir {
                Some(r) => r,
                None => {
                    let per_row = usable.ids.len() as f64 / batch.num_rows().max(1) as f64;
                    let estimate = (live as f64 * per_row).ceil() as usize;
                    reservoir.insert(Reservoir::new(sample_capacity(params, estimate, dim), dim, params.seed))
                }
            };
            for (v, &id) in usable.whole().chunks_exact(dim).zip(&usable.ids) {
                reservoir.offer(v, id).map_err(TableError::index)?;
            }
            skipped += usable.skipped;
            rows_seen += batch.num_rows() as u64;
            progress.report("sampling", rows_seen, live as u64);
        }
        let reservoir = reservoir.unwrap_or_else(|| Reservoir::new(0, dim, params.seed));
        let vectors = reservoir.seen() as usize;
        let partitions = super::build::check_partitions(params, vectors, sub_vectors)?;
        // Training, and the calibration queries.
        let (sample, sample_ids) = reservoir.into_parts();
        let trained_params = params.clone();
        progress.report("training", 0, 1);
        let (index, calibration) = blocking("index training task", move || -> Result<_> {
            let prefix: Vec<f32> = if index_dim < dim {
                sample.chunks_exact(dim).flat_map(|v| v[..index_dim].to_vec()).collect()
            } else {
                Vec::new()
            };
            let view =
                Vectors::new(if index_dim < dim { &prefix } else { &sample }, index_dim).map_err(TableError::index)?;
            let index = train_index(view, &trained_params, partitions, sub_vectors)?;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(trained_params.seed ^ 0x5eed);
            let defaults = CalibrationParams::default();
            let count = defaults.queries.min(view.len() / 2).max(1).min(view.len());
            let chosen = rand::seq::index::sample(&mut rng, view.len(), count).into_vec();
            let queries: Vec<f32> = chosen.iter().flat_map(|&i| view.get(i).to_vec()).collect();
            let whole: Vec<f32> = chosen
                .iter()
                .flat_map(|&i| sample[i * dim..(i + 1) * dim].to_vec())
                .collect();
            let ids: Vec<u64> = chosen.iter().map(|&i| sample_ids[i]).collect();
            let full = (index_dim < dim)
                .then(|| Vectors::new(&whole, dim))
                .transpose()
                .map_err(TableError::index)?;
            let queries = Vectors::new(&queries, index_dim).map_err(TableError::index)?;
            let calibration = StreamCalibration::new(trained_params.metric, queries, full, &ids, defaults)
                .map_err(TableError::index)?;
            Ok((index, calibration))
        })
        .await?;
        progress.report("training", 1, 1);
        // Pass 2: encode and spill.
        let index = Arc::new(index);
        let mut state = (
            calibration,
            Spill::new(
                partitions,
                index.payload_width(),
                index.byte_payload_width().is_none(),
                spill_budget,
            )?,
        );
        let mut stream = self.vector_scan(params).try_into_stream().await?;
        let mut encoded = 0u64;
        progress.report("encoding", 0, vectors as u64);
        while let Some(batch) = stream.try_next().await? {
            let batch = VectorColumn::of_batch(&batch, &params.column, shape, true)?;
            encoded += batch.ids.len() as u64;
            let index = index.clone();
            state = blocking("index encoding task", move || -> Result<_> {
                let (mut calibration, mut spill) = state;
                let indexed = Vectors::new(&batch.values, index_dim).map_err(TableError::index)?;
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                let (assignment, payload) = index.encode(indexed, threads).map_err(TableError::index)?;
                let truth_space = match &batch.full {
                    Some(full) => Vectors::new(full, dim).map_err(TableError::index)?,
                    None => indexed,
                };
                calibration
                    .observe(truth_space, &batch.ids, &assignment)
                    .map_err(TableError::index)?;
                spill.add(&assignment, &batch.ids, &payload)?;
                Ok((calibration, spill))
            })
            .await?;
            progress.report("encoding", encoded, vectors as u64);
        }
        if encoded != vectors as u64 {
            return Err(TableError::Internal {
                what: format!(
                    "the two scans of an index build disagree ({vectors} vectors sampled, {encoded} encoded)"
                ),
            });
        }
        // Write partition by partition.
        let (mut calibration, spill) = state;
        calibration.nprobes(&index).map_err(TableError::index)?;
        let spill = Arc::new(spill);
        let uuid = crate::paths::random_id();
        let mut writer = StorageWriter::create(&self.location, &uuid, &index).await?;
        progress.report("writing", 0, partitions as u64);
        // A few partitions at a time: one per core when each needs a graph
        // (IVF_HNSW_SQ), else one.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let step = if index.hnsw().is_some() { threads } else { 1 };
        for first in (0..partitions).step_by(step) {
            let (index, spill) = (index.clone(), spill.clone());
            let last = (first + step).min(partitions);
            let read_index = index.clone();
            let (parts, observed) = blocking("index writing task", move || -> Result<_> {
                let mut parts = Vec::with_capacity(last - first);
                for p in first..last {
                    let part = spill.partition(p)?;
                    calibration
                        .observe_partition(&read_index, p as u32, &part)
                        .map_err(TableError::index)?;
                    parts.push(part);
                }
                Ok((parts, calibration))
            })
            .await?;
            calibration = observed;
            // Graphs are built one per task on the runtime's blocking pool,
            // whose threads outlive the chunk, rather than on fresh threads
            // per chunk. (Resident memory still grows with the table under
            // glibc's malloc, which keeps freed graph buffers in per-thread
            // arenas: benches/RESULTS.md, "IVF_HNSW_SQ streamed builds".)
            let parts = futures::future::try_join_all(parts.into_iter().enumerate().map(|(i, part)| {
                let index = index.clone();
                let number = (first + i) as u32;
                blocking("index graph task", move || {
                    index.finish_partition(number, part).map_err(TableError::index)
                })
            }))
            .await?;
            for part in parts {
                writer.push(part).await?;
            }
            progress.report("writing", last as u64, partitions as u64);
        }
        let storage = writer.finish().await?;
        let index = Arc::unwrap_or_clone(index);
        let calibration = calibration.finish(&index);
        Ok(BuiltFiles {
            uuid,
            index,
            calibration,
            storage,
            skipped,
        })
    }
}

impl Dataset {
    /// A scan of the indexed column with row ids, over the build's fragments.
    fn vector_scan(&self, params: &VectorIndexParams) -> crate::scanner::Scanner {
        let scan = self.scan().project([params.column.as_str()]).with_row_id(true);
        match &params.fragments {
            Some(ids) => scan.with_fragments(ids.clone()),
            None => scan,
        }
    }
}

/// Training vectors kept for an estimated `vectors`: what an in-memory
/// build would train on, but at most a quarter of the memory limit — and
/// at least 65,536 vectors (PQ codebooks need them) or 40 per partition.
fn sample_capacity(params: &VectorIndexParams, vectors: usize, dim: usize) -> usize {
    let partitions = params
        .num_partitions
        .unwrap_or_else(|| default_partitions(params.index_type, vectors));
    let affordable = params.memory_limit / 4 / (dim * 4).max(1);
    training_size(partitions, params.sample_rate, usize::MAX).min(affordable.max(65_536).max(40 * partitions))
}
