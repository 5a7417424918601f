//! The clustered vector table the vector-index tests share: `ROWS` rows
//! of `DIM`-d vectors in four fragments, and default index parameters.

use super::{stream_of, vector_batch};
use arrow_array::RecordBatch;
use pilum_table::{Dataset, DatasetLocation, IndexType, Metric, VectorIndexParams, WriteMode, WriteParams};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::sync::Arc;

pub const DIM: usize = 16;
pub const ROWS: i64 = 8000;

/// Vectors around 40 centres (spread 0.45), `count` of them, seeded.
pub fn clustered(count: usize, seed: u64) -> Vec<f32> {
    let mut centres_rng = StdRng::seed_from_u64(1);
    let centres: Vec<f32> = (0..40 * DIM).map(|_| centres_rng.random_range(-1.0f32..1.0)).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .flat_map(|_| {
            let c = rng.random_range(0..40);
            (0..DIM)
                .map(|d| centres[c * DIM + d] + rng.random_range(-0.45f32..0.45))
                .collect::<Vec<_>>()
        })
        .collect()
}

pub fn batch(ids: std::ops::Range<i64>, values: &[f32]) -> RecordBatch {
    vector_batch(ids, values.to_vec(), DIM)
}

/// `ROWS` clustered rows in four fragments, at `location`.
pub async fn dataset_at(location: DatasetLocation) -> Dataset {
    let values = clustered(ROWS as usize, 2);
    let batches: Vec<RecordBatch> = (0..ROWS)
        .step_by(1000)
        .map(|s| batch(s..s + 1000, &values[s as usize * DIM..(s as usize + 1000) * DIM]))
        .collect();
    let params = WriteParams {
        max_rows_per_file: 2000,
        ..Default::default()
    };
    Dataset::write(
        location,
        batches[0].schema(),
        stream_of(batches),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap()
}

pub async fn dataset() -> Dataset {
    dataset_at(DatasetLocation::in_store(
        Arc::new(object_store::memory::InMemory::new()),
        "ds",
    ))
    .await
}

pub fn params(kind: IndexType, metric: Metric) -> VectorIndexParams {
    VectorIndexParams {
        metric,
        replace: true,
        ..VectorIndexParams::new("emb", kind)
    }
}
