//! The in-memory build: the column is read once and held as f32, the
//! model trains on a sample of it, every vector is encoded, the query
//! defaults are calibrated on all of them, and the partitions are written.

use super::build::{VectorIndexParams, check_partitions, train_index, training_size};
use super::build_stream::BuiltFiles;
use super::files::write_storage;
use super::segment::IndexedShape;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::progress::Progress;
use crate::scan_tasks::blocking;
use pilum_index::{CalibrationParams, PqShape, Vectors, calibrate_encoded, calibrate_prefix, group_by_partition};
use rand::SeedableRng;
use rand::seq::index::sample;

impl Dataset {
    /// Builds a segment's files holding the column in memory.
    pub(crate) async fn build_in_memory(
        &self,
        params: &VectorIndexParams,
        shape: IndexedShape,
        sub_vectors: Option<PqShape>,
        progress: &Progress,
    ) -> Result<BuiltFiles> {
        let (dim, full_dim) = (shape.index_dim, shape.column.dim);
        progress.report("reading vectors", 0, 1);
        let column = self
            .read_vectors(&params.column, shape, true, params.fragments.clone())
            .await?;
        progress.report("reading vectors", 1, 1);
        let partitions = check_partitions(params, column.ids.len(), sub_vectors)?;
        let params = params.clone();
        progress.report("training", 0, 1);
        let (index, calibration, grouped, skipped) = blocking("index build task", move || -> Result<_> {
            let data = Vectors::new(&column.values, dim).map_err(TableError::index)?;
            let training = training_sample(
                data,
                training_size(partitions, params.sample_rate, data.len()),
                params.seed,
            );
            let training = Vectors::new(&training, dim).map_err(TableError::index)?;
            let index = train_index(training, &params, partitions, sub_vectors)?;
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let (assignment, payload) = index.encode(data, threads).map_err(TableError::index)?;
            let calibration = match &column.full {
                Some(full) => {
                    let full = Vectors::new(full, full_dim).map_err(TableError::index)?;
                    calibrate_prefix(&index, data, full, &assignment, &payload, &CalibrationParams::default())
                }
                None => calibrate_encoded(&index, data, &assignment, &payload, &CalibrationParams::default()),
            }
            .map_err(TableError::index)?;
            let grouped = group_by_partition(partitions, &column.ids, &assignment, &payload, index.payload_width())
                .map_err(TableError::index)?;
            Ok((index, calibration, grouped, column.skipped))
        })
        .await?;
        progress.report("training", 1, 1);
        progress.report("writing", 0, 1);
        let uuid = crate::paths::random_id();
        let storage = write_storage(&self.location, &uuid, &index, grouped).await?;
        progress.report("writing", 1, 1);
        Ok(BuiltFiles {
            uuid,
            index,
            calibration,
            storage,
            skipped,
        })
    }
}

/// A seeded random sample of `wanted` vectors of `data`, in random order.
fn training_sample(data: Vectors<'_>, wanted: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let chosen = sample(&mut rng, data.len(), wanted.min(data.len()));
    chosen.iter().flat_map(|i| data.get(i).iter().copied()).collect()
}
