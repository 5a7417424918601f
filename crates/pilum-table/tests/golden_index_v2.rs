//! The committed dataset `testdata/golden/dataset-v1.2-indexed-v2` holds
//! index format version 2 segments: a matryoshka prefix index (IVF_SQ on
//! the first 4 of 8 values) and an IVF_FLAT index over a multivector
//! column, plus rows appended after the builds. It must keep reading and
//! answering its recorded queries the same way. Regenerate (only with a
//! `Format` entry in CHANGELOG.md) with
//! `cargo test -p pilum-table --test golden_index_v2 -- --ignored regenerate_golden_v2_indexed_dataset`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, ListBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema};
use common::stream_of;
use pilum_index::Metric;
use pilum_table::*;
use std::path::PathBuf;
use std::sync::Arc;

const DIM: usize = 8;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.2-indexed-v2")
}

fn expected_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.2-indexed-v2.expected")
}

/// A deterministic vector: 10 clusters, a small offset per `id`.
fn vector(id: i64) -> [f32; DIM] {
    let c = (id % 10) as f32;
    std::array::from_fn(|d| ((c * 5.0 + d as f32 * 3.0) % 7.0) / 3.0 + ((id * 13 + d as i64 * 29) % 89) as f32 / 300.0)
}

/// Rows `ids`: `emb` (one vector) and `mv` (a bag of 1–3 vectors).
fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let plain = common::vector_batch(ids.clone(), ids.clone().flat_map(vector).collect(), DIM);
    let mut bags = ListBuilder::new(FixedSizeListBuilder::new(Float32Builder::new(), DIM as i32));
    for id in ids {
        for j in 0..=(id % 3) {
            bags.values().values().append_slice(&vector(id * 7 + j));
            bags.values().append(true);
        }
        bags.append(true);
    }
    let mv: ArrayRef = Arc::new(bags.finish());
    let mut fields: Vec<Field> = plain.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("mv", mv.data_type().clone(), true));
    let mut columns = plain.columns().to_vec();
    columns.push(mv);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

async fn answers(ds: &Dataset) -> Vec<String> {
    let mut lines = Vec::new();
    for id in [2, 155, 333, 420] {
        let prefix = VectorQuery::new("emb", vector(id).iter().map(|v| v + 0.01).collect(), 6);
        let bag: Vec<f32> = [vector(id * 7), vector(id * 7 + 1)].concat();
        let multi = VectorQuery::new("mv", bag, 6).with_metric(Metric::Cosine);
        for (what, query) in [("emb", prefix), ("mv", multi)] {
            lines.push(format!("{what} {id}: {}", common::id_line(ds, &query).await));
        }
    }
    lines
}

fn location() -> DatasetLocation {
    common::local_location(&fixture())
}

#[tokio::test]
#[ignore = "writes the fixture"]
async fn regenerate_golden_v2_indexed_dataset() {
    let _ = std::fs::remove_dir_all(fixture());
    let params = WriteParams {
        max_rows_per_file: 200,
        ..WriteParams::default()
    };
    let first = batch(0..400);
    let mut ds = Dataset::write(
        location(),
        first.schema(),
        stream_of(vec![first]),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap();
    let prefix = VectorIndexParams {
        name: Some("prefix".into()),
        num_partitions: Some(4),
        dimensions: Some(4),
        ..VectorIndexParams::new("emb", IndexType::IvfSq)
    };
    ds.create_index(&prefix, &Progress::none()).await.unwrap();
    let multi = VectorIndexParams {
        name: Some("multi".into()),
        metric: Metric::Cosine,
        num_partitions: Some(5),
        ..VectorIndexParams::new("mv", IndexType::IvfFlat)
    };
    ds.create_index(&multi, &Progress::none()).await.unwrap();
    ds.append(stream_of(vec![batch(400..450)]), &params).await.unwrap();
    std::fs::write(expected_path(), answers(&ds).await.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn golden_v2_indexed_dataset_reads_back_and_answers_the_same() {
    let ds = Dataset::open_location(location()).await.unwrap();
    let segments = ds.index_segments();
    assert_eq!(segments.len(), 2);
    assert!(segments.iter().all(|s| s.index_version() == 2));
    let prefix = segments.iter().find(|s| s.name() == "prefix").unwrap();
    assert!(prefix.is_prefix() && prefix.index_dim() == 4);
    let multi = segments.iter().find(|s| s.name() == "multi").unwrap();
    assert!(multi.is_multivector());
    assert_eq!(ds.index_statistics("multi").await.unwrap().num_unindexed_rows, 50);
    let expected = std::fs::read_to_string(expected_path()).unwrap();
    assert_eq!(answers(&ds).await.join("\n") + "\n", expected);
}
