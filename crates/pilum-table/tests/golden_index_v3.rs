//! The committed dataset `testdata/golden/dataset-v1.2-indexed-v3` holds
//! index format version 3 segments: IVF_PQ with 4-bit codes over an odd
//! number of sub-vectors (so the last code byte has an unused high
//! nibble) and IVF_HNSW_SQ (graphs over scalar codes), plus rows appended
//! after the builds. It must keep reading and
//! answering its recorded queries the same way. Regenerate (only with a
//! `Format` entry in CHANGELOG.md) with
//! `cargo test -p pilum-table --test golden_index_v3 -- --ignored regenerate_golden_v3_indexed_dataset`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::stream_of;
use pilum_table::*;
use std::path::PathBuf;

const DIM: usize = 8;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.2-indexed-v3")
}

fn expected_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.2-indexed-v3.expected")
}

/// A deterministic vector: 10 clusters, a small offset per `id`.
fn vector(id: i64) -> [f32; DIM] {
    let c = (id % 10) as f32;
    std::array::from_fn(|d| ((c * 5.0 + d as f32 * 3.0) % 7.0) / 3.0 + ((id * 13 + d as i64 * 29) % 89) as f32 / 300.0)
}

/// Rows `ids` with the same vectors in `emb` and `emb2`.
fn batch(ids: std::ops::Range<i64>) -> arrow_array::RecordBatch {
    let plain = common::vector_batch(ids.clone(), ids.flat_map(vector).collect(), DIM);
    let mut fields: Vec<arrow_schema::Field> = plain.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(fields[1].clone().with_name("emb2"));
    let mut columns = plain.columns().to_vec();
    columns.push(columns[1].clone());
    arrow_array::RecordBatch::try_new(std::sync::Arc::new(arrow_schema::Schema::new(fields)), columns).unwrap()
}

async fn answers(ds: &Dataset) -> Vec<String> {
    let mut lines = Vec::new();
    for id in [2, 155, 333, 420] {
        let near: Vec<f32> = vector(id).iter().map(|v| v + 0.01).collect();
        for refine in [0, 2] {
            let query = VectorQuery {
                refine_factor: Some(refine),
                ..VectorQuery::new("emb", near.clone(), 6)
            };
            lines.push(format!("{id} refine {refine}: {}", common::id_line(ds, &query).await));
        }
        let graph = VectorQuery {
            refine_factor: Some(0),
            ef: Some(8),
            ..VectorQuery::new("emb2", near.clone(), 6)
        };
        lines.push(format!("{id} graph: {}", common::id_line(ds, &graph).await));
    }
    lines
}

fn location() -> DatasetLocation {
    common::local_location(&fixture())
}

#[tokio::test]
#[ignore = "writes the fixture"]
async fn regenerate_golden_v3_indexed_dataset() {
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
    let four_bit = VectorIndexParams {
        num_partitions: Some(4),
        num_sub_vectors: Some(3),
        num_bits: 4,
        ..VectorIndexParams::new("emb", IndexType::IvfPq)
    };
    ds.create_index(&four_bit, &Progress::none()).await.unwrap();
    let graph = VectorIndexParams {
        num_partitions: Some(2),
        m: Some(4),
        ef_construction: Some(16),
        ..VectorIndexParams::new("emb2", IndexType::IvfHnswSq)
    };
    ds.create_index(&graph, &Progress::none()).await.unwrap();
    ds.append(stream_of(vec![batch(400..450)]), &params).await.unwrap();
    std::fs::write(expected_path(), answers(&ds).await.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn golden_v3_indexed_dataset_reads_back_and_answers_the_same() {
    let ds = Dataset::open_location(location()).await.unwrap();
    let segments = ds.index_segments();
    assert_eq!(segments.len(), 2);
    assert!(segments.iter().all(|s| s.index_version() == 3));
    let details = segments[0].vector_info().unwrap();
    assert_eq!((details.num_bits, details.num_sub_vectors), (4, 3));
    assert_eq!(segments[1].kind_name(), "IVF_HNSW_SQ");
    assert_eq!(segments[1].vector_info().unwrap().hnsw_m, 4);
    assert_eq!(ds.index_statistics("emb_idx").await.unwrap().num_unindexed_rows, 50);
    let expected = std::fs::read_to_string(expected_path()).unwrap();
    assert_eq!(answers(&ds).await.join("\n") + "\n", expected);
}
