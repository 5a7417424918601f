//! The committed fixture `testdata/golden/dataset-v1.4-pages` (dataset
//! format 1.4: a fragment list kept in pages, through appends, a delete and
//! a compaction) must keep reading. Write it (only with a `Format` entry in
//! CHANGELOG.md) with
//! `cargo test -p pilum-table --test golden_pages -- --ignored regenerate`;
//! released fixtures are never rewritten.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use pilum_table::*;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.4-pages")
}

fn tens() -> WriteParams {
    WriteParams {
        max_rows_per_file: 10,
        ..WriteParams::default()
    }
}

#[tokio::test]
#[ignore = "writes the fixture"]
async fn regenerate() {
    let root = fixture();
    let _ = std::fs::remove_dir_all(&root);
    let mut ds = create(&local_location(&root), vec![batch(0..100)], &tens()).await; // v1: 10 fragments inline
    ds.update_config([("pilum.fragments_per_page".to_string(), Some("3".to_string()))], [])
        .await
        .unwrap(); // v2: pages of 3, 3, 3, 1
    ds.append(stream_of(vec![batch(100..120)]), &tens()).await.unwrap(); // v3
    ds.delete("id = 15 OR id = 16").await.unwrap(); // v4
    ds.compact_files(&CompactionOptions {
        target_rows_per_fragment: 30,
        ..CompactionOptions::default()
    })
    .await
    .unwrap(); // v5
}

#[tokio::test]
async fn golden_pages_read_back() {
    let ds = Dataset::open_location(local_location(&fixture())).await.unwrap();
    assert_eq!(ds.version(), 5);
    let expected: Vec<i64> = (0..120).filter(|i| *i != 15 && *i != 16).collect();
    assert_eq!(ds.count_rows(None).await.unwrap(), expected.len() as u64);
    assert_eq!(ids(&ds).await, expected);
    assert_eq!(
        ds.manifest().reader_features() & FEATURE_FRAGMENT_PAGES,
        FEATURE_FRAGMENT_PAGES
    );
    let v1 = ds.checkout_version(1).await.unwrap();
    assert!(v1.manifest().fragment_pages().is_empty(), "10 fragments fit inline");
    assert_eq!(ids(&v1).await, (0..100).collect::<Vec<_>>());
    let v2 = ds.checkout_version(2).await.unwrap();
    let sizes: Vec<u64> = v2
        .manifest()
        .fragment_pages()
        .iter()
        .map(|p| p.fragment_count)
        .collect();
    assert_eq!(sizes, vec![3, 3, 3, 1]);
    let v3 = ds.checkout_version(3).await.unwrap();
    assert_eq!(ids(&v3).await, (0..120).collect::<Vec<_>>());
    // The append kept v2's full pages.
    let v2_pages = v2.manifest().fragment_pages();
    let v3_pages = v3.manifest().fragment_pages();
    assert_eq!(v2_pages[..3], v3_pages[..3]);
    let v4 = ds.checkout_version(4).await.unwrap();
    assert_eq!(ids(&v4).await, expected);
    let narrow = ds.scan().filter("id >= 40 AND id < 50").try_into_batch().await.unwrap();
    assert_eq!(column_i64(&narrow, "id"), (40..50).collect::<Vec<_>>());
}
