//! The committed dataset fixtures in `testdata/golden/dataset-v1.*` must
//! keep reading: `dataset-v1.0` (manifest 1.0, no column statistics) and
//! `dataset-v1.1` (manifest 1.1, with them), both written by the same steps.
//! Write the current version's fixture (only with a `Format` entry in
//! CHANGELOG.md) with
//! `cargo test -p pilum-table --test golden -- --ignored regenerate_golden_dataset`;
//! released fixtures are never rewritten.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use pilum_table::*;
use std::path::PathBuf;

/// Fixtures, oldest first; the last is the one the current writer produces.
const FIXTURES: [&str; 2] = ["dataset-v1.0", "dataset-v1.1"];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/golden")
        .join(name)
}

fn location(path: &std::path::Path) -> DatasetLocation {
    let uri = path.to_string_lossy().to_string();
    DatasetLocation::from_store_location(pilum_io::parse_uri(&uri).unwrap(), &uri)
}

#[tokio::test]
#[ignore = "writes the fixture"]
async fn regenerate_golden_dataset() {
    let path = fixture(FIXTURES[FIXTURES.len() - 1]);
    let _ = std::fs::remove_dir_all(&path);
    let params = WriteParams {
        max_rows_per_file: 50,
        ..WriteParams::default()
    };
    let mut ds = create(&location(&path), vec![batch(0..120)], &params).await; // v1
    ds.append(stream_of(vec![batch(120..150)]), &params).await.unwrap(); // v2
    ds.delete("id % 10 = 0").await.unwrap(); // v3
    ds.add_columns(NewColumns::Sql(vec![("doubled".into(), "value * 2".into())]))
        .await
        .unwrap(); // v4
    ds.update(&[("text", "upper(text)")], Some("id < 5")).await.unwrap(); // v5
    ds.tags().create("golden", 4).await.unwrap();
}

#[tokio::test]
async fn golden_datasets_read_back() {
    for name in FIXTURES {
        golden_dataset_reads_back(name).await;
    }
}

/// Column statistics: none in 1.0 manifests; null counts and bounds per file in 1.1.
#[tokio::test]
async fn golden_statistics() {
    let old = Dataset::open_location(location(&fixture("dataset-v1.0")))
        .await
        .unwrap();
    assert_eq!(old.column_summary("id", None), None);
    let ds = Dataset::open_location(location(&fixture("dataset-v1.1")))
        .await
        .unwrap();
    let first = ds.fragments().await.unwrap()[0].id;
    let summary = ds.column_summary("id", Some(&[first])).unwrap();
    let (min, max) = summary.bounds.unwrap();
    assert_eq!(min, datafusion::common::ScalarValue::Int64(Some(0)));
    assert_eq!(max, datafusion::common::ScalarValue::Int64(Some(49)));
    assert_eq!(summary.null_count, 0);
    // The added column's files carry their own statistics.
    assert!(ds.column_summary("doubled", None).is_some());
}

async fn golden_dataset_reads_back(name: &str) {
    let ds = Dataset::open_location(location(&fixture(name))).await.unwrap();
    assert_eq!(ds.version(), 5);
    let live: Vec<i64> = (0..150).filter(|i| i % 10 != 0).collect();
    assert_eq!(ids(&ds).await, live);
    let rows = ds
        .scan()
        .project(["id", "text", "doubled"])
        .filter("id IN (3, 77)")
        .try_into_batch()
        .await
        .unwrap();
    let mut pairs: Vec<(i64, i64)> = column_i64(&rows, "id")
        .into_iter()
        .zip(column_i64(&rows, "doubled"))
        .collect();
    pairs.sort_unstable();
    assert_eq!(pairs, vec![(3, 60), (77, 1540)]);
    let upper = ds
        .scan()
        .project(["text"])
        .filter("id = 3")
        .try_into_batch()
        .await
        .unwrap();
    assert_eq!(
        arrow_array::cast::AsArray::as_string::<i32>(upper.column(0)).value(0),
        "ROW 3"
    );
    let v1 = ds.checkout_version(1).await.unwrap();
    assert_eq!(ids(&v1).await, (0..120).collect::<Vec<_>>());
    assert_eq!(ds.checkout_tag("golden").await.unwrap().version(), 4);
    assert_eq!(
        column_i64(&ds.take_rows(&[7, 121], Some(&["id"])).await.unwrap(), "id"),
        vec![7, 121]
    );
    let ops: Vec<Operation> = ds.versions().await.unwrap().iter().map(|v| v.operation).collect();
    assert_eq!(
        ops,
        vec![
            Operation::Create,
            Operation::Append,
            Operation::Delete,
            Operation::AddColumns,
            Operation::Update
        ]
    );
}
