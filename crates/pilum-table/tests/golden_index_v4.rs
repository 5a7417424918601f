//! The committed dataset `testdata/golden/dataset-v1.2-indexed-v4` holds an
//! index format version 4 segment: IVF_FLAT with the hamming metric over a
//! column of 8-byte binary codes (centroids are codes too), plus rows
//! appended after the build. It must keep reading and answering its
//! recorded queries the same way. Regenerate (only with a `Format` entry
//! in CHANGELOG.md) with
//! `cargo test -p pilum-table --test golden_index_v4 -- --ignored regenerate_golden_v4_indexed_dataset`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::RecordBatch;
use common::stream_of;
use pilum_table::*;
use std::path::PathBuf;

const WIDTH: usize = 8;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.2-indexed-v4")
}

fn expected_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.2-indexed-v4.expected")
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

fn location() -> DatasetLocation {
    common::local_location(&fixture())
}

#[tokio::test]
#[ignore = "writes the fixture"]
async fn regenerate_golden_v4_indexed_dataset() {
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
    let hamming = VectorIndexParams {
        num_partitions: Some(4),
        metric: Metric::Hamming,
        ..VectorIndexParams::new("bits", IndexType::IvfFlat)
    };
    ds.create_index(&hamming, &Progress::none()).await.unwrap();
    ds.append(stream_of(vec![batch(400..450)]), &params).await.unwrap();
    std::fs::write(expected_path(), answers(&ds).await.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn golden_v4_indexed_dataset_reads_back_and_answers_the_same() {
    let ds = Dataset::open_location(location()).await.unwrap();
    let segments = ds.index_segments();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].index_version(), 4);
    assert_eq!(segments[0].kind_name(), "IVF_FLAT");
    assert_eq!(segments[0].metric(), Some(Metric::Hamming));
    assert_eq!(ds.index_statistics("bits_idx").await.unwrap().num_unindexed_rows, 50);
    let expected = std::fs::read_to_string(expected_path()).unwrap();
    assert_eq!(answers(&ds).await.join("\n") + "\n", expected);
}
