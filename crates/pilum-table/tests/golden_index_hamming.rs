//! Committed hamming indices: IVF_FLAT with the hamming metric over a
//! column of 8-byte binary codes (centroids are codes too), plus rows
//! appended after the build, in two fixtures that must keep reading and
//! answering their recorded queries the same way:
//! - `testdata/golden/dataset-v1.2-indexed-v4`: index format version 4,
//!   codes stored as f32 values (written before version 5; no longer
//!   regenerated);
//! - `testdata/golden/dataset-v1.4-indexed-v5`: index format version 5,
//!   codes stored as bytes. Regenerate (only with a `Format` entry in
//!   CHANGELOG.md) with
//!   `cargo test -p pilum-table --test golden_index_hamming -- --ignored regenerate_golden_v5_indexed_dataset`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::RecordBatch;
use common::stream_of;
use pilum_table::*;
use std::path::PathBuf;

const WIDTH: usize = 8;

const V4: &str = "dataset-v1.2-indexed-v4";
const V5: &str = "dataset-v1.4-indexed-v5";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/golden")
        .join(name)
}

fn expected_path(name: &str) -> PathBuf {
    fixture(&format!("{name}.expected"))
}

/// A deterministic code: one of 6 patterns with a few bits flipped by `id`.
fn code(id: i64) -> [u8; WIDTH] {
    let pattern = (id % 6) as u8;
    std::array::from_fn(|b| {
        let base = pattern.wrapping_mul(37).wrapping_add((b as u8).wrapping_mul(53));
        let flip: u8 = if (id + b as i64) % 5 == 0 {
            1 << ((id as usize * 7 + b * 3) % 8)
        } else {
            0
        };
        base ^ flip
    })
}

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    common::binary_batch(ids.clone(), ids.map(code), WIDTH)
}

async fn answers(ds: &Dataset) -> Vec<String> {
    let mut lines = Vec::new();
    for id in [2, 155, 333, 420] {
        let near: Vec<f32> = code(id).iter().map(|&b| f32::from(b ^ 0b100)).collect();
        for nprobes in [1, 3] {
            let query = VectorQuery {
                nprobes: Some(nprobes),
                ..VectorQuery::new("bits", near.clone(), 6)
            };
            lines.push(format!("{id} nprobes {nprobes}: {}", common::id_line(ds, &query).await));
        }
    }
    lines
}

fn location(name: &str) -> DatasetLocation {
    common::local_location(&fixture(name))
}

#[tokio::test]
#[ignore = "writes the fixture"]
async fn regenerate_golden_v5_indexed_dataset() {
    let _ = std::fs::remove_dir_all(fixture(V5));
    let params = WriteParams {
        max_rows_per_file: 200,
        ..WriteParams::default()
    };
    let first = batch(0..400);
    let mut ds = Dataset::write(
        location(V5),
        first.schema(),
        stream_of(vec![first]),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap();
    let hamming = VectorIndexParams {
        num_partitions: Some(4),
        metric: Metric::Hamming,
        ..VectorIndexParams::new("bits", IndexType::IvfFlat)
    };
    ds.create_index(&hamming, &Progress::none()).await.unwrap();
    ds.append(stream_of(vec![batch(400..450)]), &params).await.unwrap();
    std::fs::write(expected_path(V5), answers(&ds).await.join("\n") + "\n").unwrap();
}

async fn check_fixture(name: &str, version: u32) {
    let ds = Dataset::open_location(location(name)).await.unwrap();
    let segments = ds.index_segments();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].index_version(), version);
    assert_eq!(segments[0].kind_name(), "IVF_FLAT");
    assert_eq!(segments[0].metric(), Some(Metric::Hamming));
    assert_eq!(ds.index_statistics("bits_idx").await.unwrap().num_unindexed_rows, 50);
    let expected = std::fs::read_to_string(expected_path(name)).unwrap();
    assert_eq!(answers(&ds).await.join("\n") + "\n", expected);
}

#[tokio::test]
async fn golden_v4_indexed_dataset_reads_back_and_answers_the_same() {
    check_fixture(V4, 4).await;
}

#[tokio::test]
async fn golden_v5_indexed_dataset_reads_back_and_answers_the_same() {
    check_fixture(V5, 5).await;
}

/// Optimizing a version 4 segment (codes stored as f32) folds it, with the
/// rows appended since, into a version 5 segment (codes as bytes), which
/// answers with every partition probed exactly as an exact search does.
#[tokio::test]
async fn a_v4_segment_folds_into_a_v5_segment() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&fixture(V4), dir.path());
    let mut ds = Dataset::open_location(common::local_location(dir.path()))
        .await
        .unwrap();
    ds.optimize_indices(&OptimizeIndexOptions::default()).await.unwrap();
    let segments = ds.index_segments();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].index_version(), 5);
    assert_eq!(segments[0].num_entries(), 450);
    for id in [2, 155, 333, 420, 449] {
        let near: Vec<f32> = code(id).iter().map(|&b| f32::from(b ^ 0b100)).collect();
        let indexed = VectorQuery {
            nprobes: Some(4),
            index_only: true,
            ..VectorQuery::new("bits", near.clone(), 6)
        };
        let exact = VectorQuery {
            use_index: false,
            metric: Some(Metric::Hamming),
            ..VectorQuery::new("bits", near, 6)
        };
        let distances = |result: RecordBatch| common::distances_of(&result);
        assert_eq!(
            distances(ds.nearest(&indexed, None, false, Some(&["id"])).await.unwrap()),
            distances(ds.nearest(&exact, None, false, Some(&["id"])).await.unwrap()),
            "query near row {id}"
        );
    }
}
