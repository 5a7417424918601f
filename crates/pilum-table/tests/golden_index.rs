//! The committed indexed dataset `testdata/golden/dataset-v1.2-indexed`
//! (dataset format 1.2, index format 1) must keep reading and answering its
//! recorded queries the same way. It holds an IVF_FLAT index with a delta
//! segment, an IVF_PQ index and an IVF_SQ index on the same column, rows appended after the
//! build (uncovered) and rows deleted after it. Regenerate (only with a
//! `Format` entry in CHANGELOG.md) with
//! `cargo test -p pilum-table --test golden_index -- --ignored regenerate_golden_indexed_dataset`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::RecordBatch;
use common::stream_of;
use pilum_index::Metric;
use pilum_table::*;
use std::path::PathBuf;

const DIM: usize = 8;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.2-indexed")
}

fn expected_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.2-indexed.expected")
}

/// A deterministic vector for row `id`: 12 clusters, a small offset per row.
fn vector(id: i64) -> [f32; DIM] {
    let c = (id % 12) as f32;
    std::array::from_fn(|d| ((c * 7.0 + d as f32 * 3.0) % 11.0) / 5.0 + ((id * 31 + d as i64 * 17) % 97) as f32 / 400.0)
}

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let values: Vec<f32> = ids.clone().flat_map(vector).collect();
    common::vector_batch(ids, values, DIM)
}

/// The recorded queries: (index use, metric, query row).
fn queries() -> Vec<(bool, Metric, i64)> {
    let mut out = Vec::new();
    for id in [3, 250, 611, 699] {
        for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
            out.push((true, metric, id));
        }
    }
    out
}

async fn answers(ds: &Dataset) -> Vec<String> {
    let mut lines = Vec::new();
    for (use_index, metric, id) in queries() {
        let mut query = VectorQuery::new("emb", vector(id).iter().map(|v| v + 0.01).collect(), 8).with_metric(metric);
        query.use_index = use_index;
        lines.push(format!("{metric} {id}: {}", common::id_line(ds, &query).await));
    }
    lines
}

fn location() -> DatasetLocation {
    common::local_location(&fixture())
}

#[tokio::test]
#[ignore = "writes the fixture"]
async fn regenerate_golden_indexed_dataset() {
    let _ = std::fs::remove_dir_all(fixture());
    let params = WriteParams {
        max_rows_per_file: 300,
        ..WriteParams::default()
    };
    let first = batch(0..600);
    let mut ds = Dataset::write(
        location(),
        first.schema(),
        stream_of(vec![first]),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap();
    let flat = VectorIndexParams {
        name: Some("flat".into()),
        num_partitions: Some(6),
        ..VectorIndexParams::new("emb", IndexType::IvfFlat)
    };
    ds.create_index(&flat, &Progress::none()).await.unwrap();
    let pq = VectorIndexParams {
        name: Some("pq".into()),
        metric: Metric::Cosine,
        num_partitions: Some(4),
        num_sub_vectors: Some(4),
        ..VectorIndexParams::new("emb", IndexType::IvfPq)
    };
    ds.create_index(&pq, &Progress::none()).await.unwrap();
    let sq = VectorIndexParams {
        name: Some("sq".into()),
        metric: Metric::Dot,
        num_partitions: Some(3),
        ..VectorIndexParams::new("emb", IndexType::IvfSq)
    };
    ds.create_index(&sq, &Progress::none()).await.unwrap();
    ds.append(stream_of(vec![batch(600..650)]), &params).await.unwrap();
    let delta = OptimizeIndexOptions {
        num_indices_to_merge: 0,
        index_names: Some(vec!["flat".into()]),
        retrain: false,
        ..Default::default()
    };
    ds.optimize_indices(&delta).await.unwrap();
    ds.append(stream_of(vec![batch(650..700)]), &params).await.unwrap();
    ds.delete("id % 9 = 4").await.unwrap();
    std::fs::write(expected_path(), answers(&ds).await.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn golden_indexed_dataset_reads_back_and_answers_the_same() {
    let ds = Dataset::open_location(location()).await.unwrap();
    let segments = ds.index_segments();
    assert_eq!(segments.len(), 4, "flat, its delta, pq and sq");
    assert_eq!(ds.index_statistics("sq").await.unwrap().index_type, "IVF_SQ");
    let flat = ds.index_statistics("flat").await.unwrap();
    assert_eq!(
        (flat.index_type.as_str(), flat.num_indices, flat.num_unindexed_rows),
        ("IVF_FLAT", 2, 44)
    );
    let pq = ds.index_statistics("pq").await.unwrap();
    assert_eq!((pq.index_type.as_str(), pq.metric.as_str()), ("IVF_PQ", "cosine"));
    let expected = std::fs::read_to_string(expected_path()).unwrap();
    assert_eq!(answers(&ds).await.join("\n") + "\n", expected);
    // Full-probe IVF_FLAT still equals exact search over the live rows.
    for id in [10, 640, 690] {
        let query = VectorQuery {
            nprobes: Some(6),
            ..VectorQuery::new("emb", vector(id).to_vec(), 5).with_metric(Metric::L2)
        };
        let indexed = ds.nearest(&query, None, false, Some(&["id"])).await.unwrap();
        let exact = ds.nearest_exact(&query, None, false, Some(&["id"])).await.unwrap();
        assert_eq!(indexed.column(0), exact.column(0));
    }
}
