//! Helpers shared by the SQL integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt64Type};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use futures::stream;
use pilum_table::{Dataset, DatasetLocation, WriteMode, WriteParams};
use std::sync::Arc;

/// Rows `ids` with `name = 'n<id>'` (null when id % 5 = 4) and `score = id / 2` (null when id % 7 = 6).
pub fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from_iter_values(ids.clone())) as ArrayRef),
        (
            "name",
            Arc::new(StringArray::from_iter(
                ids.clone().map(|i| (i % 5 != 4).then(|| format!("n{i}"))),
            )),
        ),
        (
            "score",
            Arc::new(Float64Array::from_iter(
                ids.map(|i| (i % 7 != 6).then_some(i as f64 / 2.0)),
            )),
        ),
    ])
    .unwrap()
}

/// A dataset of `batches` at `dir/name`, cut into files of `rows_per_file` rows.
pub async fn write(dir: &tempfile::TempDir, name: &str, batches: Vec<RecordBatch>, rows_per_file: u64) -> Dataset {
    let uri = uri(dir, name);
    let location = DatasetLocation::from_store_location(pilum_io::parse_uri(&uri).unwrap(), &uri);
    let schema = batches[0].schema();
    let params = WriteParams {
        max_rows_per_file: rows_per_file,
        ..Default::default()
    };
    Dataset::write(
        location,
        schema,
        Box::pin(stream::iter(batches.into_iter().map(Ok))),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap()
}

pub fn uri(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_string_lossy().to_string()
}

/// Column `index` of all batches as i64 (nulls as `None`).
pub fn ints(batches: &[RecordBatch], index: usize) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| b.column(index).as_primitive::<Int64Type>().iter().collect::<Vec<_>>())
        .collect()
}

/// The single `count` of a DML result.
pub fn count(batches: &[RecordBatch]) -> u64 {
    let values: Vec<u64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec())
        .collect();
    assert_eq!(values.len(), 1, "one count row");
    values[0]
}

/// The plan text of `EXPLAIN <query>`.
pub fn plan_text(batches: &[RecordBatch]) -> String {
    batches
        .iter()
        .flat_map(|b| {
            (0..b.num_rows())
                .map(|i| b.column(1).as_string::<i32>().value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Versions committed at `uri`.
pub async fn version_count(uri: &str) -> usize {
    Dataset::open(uri).await.unwrap().versions().await.unwrap().len()
}
