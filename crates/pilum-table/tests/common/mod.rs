//! Helpers shared by the dataset tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow_array::builder::{FixedSizeListBuilder, UInt8Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt64Type};
use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use futures::stream;
use object_store::memory::InMemory;
use pilum_table::{BatchStream, Dataset, DatasetLocation, WriteMode, WriteParams};
use std::sync::Arc;

pub mod vectors;

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("value", DataType::Int64, true),
        Field::new("text", DataType::Utf8, true),
        Field::new(
            "vec",
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), 4),
            true,
        ),
    ]))
}

/// Rows with ids `ids`: value = id * 10, text = "row {id}", vec = [id; 4].
pub fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let n = (ids.end - ids.start) as usize;
    let values: Vec<f32> = ids.clone().flat_map(|i| [i as f32; 4]).collect();
    let vec = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float32, true)),
        4,
        Arc::new(Float32Array::from(values)),
        None,
    )
    .unwrap();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(ids.clone())) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(ids.clone().map(|i| i * 10))),
            Arc::new(StringArray::from_iter_values(ids.clone().map(|i| format!("row {i}")))),
            Arc::new(vec),
        ],
    )
    .inspect(|b| assert_eq!(b.num_rows(), n))
    .unwrap()
}

pub fn stream_of(batches: Vec<RecordBatch>) -> BatchStream {
    Box::pin(stream::iter(batches.into_iter().map(Ok)))
}

/// A fresh location in memory or on local disk (the directory lives as long as the guard).
pub enum Backend {
    Memory,
    Local,
}

pub struct TestLocation {
    pub location: DatasetLocation,
    _dir: Option<tempfile::TempDir>,
}

impl TestLocation {
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Memory => Self {
                location: DatasetLocation::in_store(Arc::new(InMemory::new()), "ds"),
                _dir: None,
            },
            Backend::Local => {
                let dir = tempfile::tempdir().unwrap();
                let uri = dir.path().join("ds").to_string_lossy().to_string();
                let parsed = pilum_io::parse_uri(&uri).unwrap();
                Self {
                    location: DatasetLocation::from_store_location(parsed, &uri),
                    _dir: Some(dir),
                }
            }
        }
    }
}

pub async fn create(location: &DatasetLocation, batches: Vec<RecordBatch>, params: &WriteParams) -> Dataset {
    Dataset::write(
        location.clone(),
        schema(),
        stream_of(batches),
        WriteMode::Create,
        params,
    )
    .await
    .unwrap()
}

/// Sorted ids of every live row.
pub async fn ids(dataset: &Dataset) -> Vec<i64> {
    let batch = dataset.scan().project(["id"]).try_into_batch().await.unwrap();
    let mut ids: Vec<i64> = batch.column(0).as_primitive::<Int64Type>().values().to_vec();
    ids.sort_unstable();
    ids
}

pub fn column_i64(batch: &RecordBatch, name: &str) -> Vec<i64> {
    batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

/// The `id` column of a search result.
pub fn ids_of(result: &RecordBatch) -> Vec<i64> {
    column_i64(result, "id")
}

/// The `_distance` column of a search result.
pub fn distances_of(result: &RecordBatch) -> Vec<f32> {
    result
        .column_by_name("_distance")
        .unwrap()
        .as_primitive::<arrow_array::types::Float32Type>()
        .values()
        .to_vec()
}

/// The ids `query` finds in `ds`, space-separated (golden fixtures record
/// them).
pub async fn id_line(ds: &Dataset, query: &pilum_table::VectorQuery) -> String {
    let result = ds.nearest(query, None, false, Some(&["id"])).await.unwrap();
    let ids: Vec<String> = ids_of(&result).iter().map(|i| i.to_string()).collect();
    ids.join(" ")
}

/// The `id`s (int64) and `_score`s of a full-text search's best `k` rows.
pub async fn text_hits(ds: &Dataset, query: pilum_table::FullTextQuery, k: Option<usize>) -> Vec<(i64, f32)> {
    let result = ds
        .full_text_search(&pilum_table::FullTextSearch {
            limit: k,
            columns: Some(vec!["id".into()]),
            ..pilum_table::FullTextSearch::new(query)
        })
        .await
        .unwrap();
    let ids = result.column_by_name("id").unwrap().as_primitive::<Int64Type>();
    let scores = result
        .column_by_name(pilum_table::SCORE)
        .unwrap()
        .as_primitive::<arrow_array::types::Float32Type>();
    ids.values()
        .iter()
        .copied()
        .zip(scores.values().iter().copied())
        .collect()
}

/// One line per query, `query {i}: id:score ...` over the best 8 rows
/// (golden full-text fixtures record them).
pub async fn text_answer_lines(ds: &Dataset, queries: Vec<pilum_table::FullTextQuery>) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, query) in queries.into_iter().enumerate() {
        let row: Vec<String> = text_hits(ds, query, Some(8))
            .await
            .iter()
            .map(|(id, s)| format!("{id}:{s:.5}"))
            .collect();
        lines.push(format!("query {i}: {}", row.join(" ")));
    }
    lines
}

/// Recall of `got` against `truth`: the fraction of `truth` found.
pub fn recall(got: &[i64], truth: &[i64]) -> f32 {
    truth.iter().filter(|id| got.contains(id)).count() as f32 / truth.len().max(1) as f32
}

pub fn column_u64(batch: &RecordBatch, name: &str) -> Vec<u64> {
    batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec()
}

/// Runs `test` against the in-memory store, then the local filesystem.
pub async fn for_each_backend<F, Fut>(test: F)
where
    F: Fn(TestLocation) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    test(TestLocation::new(Backend::Memory)).await;
    test(TestLocation::new(Backend::Local)).await;
}

/// Write parameters that cut files at 100 rows.
pub fn small_files() -> WriteParams {
    WriteParams {
        max_rows_per_file: 100,
        ..WriteParams::default()
    }
}

/// A dataset location on local disk at `path`.
pub fn local_location(path: &std::path::Path) -> DatasetLocation {
    let uri = path.to_string_lossy().to_string();
    DatasetLocation::from_store_location(pilum_io::parse_uri(&uri).unwrap(), &uri)
}

/// Rows `ids` with an `emb` column of `dim`-d f32 vectors taken in order
/// from `values` (`ids.len() * dim` of them).
pub fn vector_batch(ids: std::ops::Range<i64>, values: Vec<f32>, dim: usize) -> RecordBatch {
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let emb =
        FixedSizeListArray::try_new(item.clone(), dim as i32, Arc::new(Float32Array::from(values)), None).unwrap();
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("emb", DataType::FixedSizeList(item, dim as i32), true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![Arc::new(Int64Array::from_iter_values(ids)) as ArrayRef, Arc::new(emb)],
    )
    .unwrap()
}

/// Rows `ids` with a `bits` column of binary codes (`FixedSizeList<u8>`,
/// `width` bytes each), one code per id, in order.
pub fn binary_batch<C: AsRef<[u8]>>(
    ids: std::ops::Range<i64>,
    codes: impl IntoIterator<Item = C>,
    width: usize,
) -> RecordBatch {
    let mut builder = FixedSizeListBuilder::new(UInt8Builder::new(), width as i32);
    for code in codes {
        builder.values().append_slice(code.as_ref());
        builder.append(true);
    }
    let bits: ArrayRef = Arc::new(builder.finish());
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("bits", bits.data_type().clone(), true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![Arc::new(Int64Array::from_iter_values(ids)), bits],
    )
    .unwrap()
}

/// A dataset root beside `location` (the same store).
pub fn sibling(location: &DatasetLocation, name: &str) -> DatasetLocation {
    match &location.local_root {
        Some(root) => local_location(&root.parent().unwrap().join(name)),
        None => DatasetLocation::in_store(location.store.clone(), name),
    }
}

/// Copies a directory tree (a pristine dataset, to damage a copy of it).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `ids` in ascending order.
pub fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

/// A change to a file's bytes, for bad-file sweeps.
pub type Damage = Box<dyn Fn(&mut Vec<u8>)>;

/// Damages of a file of `size` bytes: `flips` single-byte flips (half
/// spread evenly over the file, half at random offsets, each with a random
/// non-zero mask) and truncations to 0, half and all but one byte.
pub fn byte_damages(size: usize, flips: usize, rng: &mut impl rand::Rng) -> Vec<Damage> {
    let mut damages: Vec<Damage> = Vec::new();
    for i in 0..flips {
        let at = if i < flips / 2 {
            i * size / (flips / 2)
        } else {
            rng.random_range(0..size)
        };
        let mask = rng.random_range(1u8..=255);
        damages.push(Box::new(move |b: &mut Vec<u8>| b[at] ^= mask));
    }
    for keep in [0, size / 2, size - 1] {
        damages.push(Box::new(move |b: &mut Vec<u8>| b.truncate(keep)));
    }
    damages
}
