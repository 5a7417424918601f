//! The committed dataset `testdata/golden/dataset-v1.2-scalar` holds one
//! segment of each scalar kind (scalar index version 1): BTREE on `num`,
//! BITMAP on `cat`, LABEL_LIST on `tags`, NGRAM on `code` and ZONEMAP on
//! `day`, plus rows appended after the builds (unindexed). It must keep
//! reading and answering its recorded filters the same way, through its
//! indices. Regenerate (only with a `Format` entry in CHANGELOG.md) with
//! `cargo test -p pilum-table --test golden_scalar -- --ignored regenerate_golden_scalar_dataset`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use common::stream_of;
use pilum_table::*;
use std::path::PathBuf;
use std::sync::Arc;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.2-scalar")
}

fn expected_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.2-scalar.expected")
}

const CATS: [&str; 4] = ["red", "green", "blue", "ünï"];
const LABELS: [&str; 5] = ["a", "b", "c", "d", "e"];

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let id: ArrayRef = Arc::new(Int64Array::from_iter_values(ids.clone()));
    let num: ArrayRef = Arc::new(Int32Array::from_iter(
        ids.clone().map(|i| (i % 11 != 3).then_some((i * 7 % 50) as i32 - 25)),
    ));
    let cat: ArrayRef = Arc::new(StringArray::from_iter(
        ids.clone().map(|i| (i % 9 != 4).then_some(CATS[(i % 4) as usize])),
    ));
    let mut tags = ListBuilder::new(StringBuilder::new());
    for i in ids.clone() {
        if i % 10 == 6 {
            tags.append(false);
            continue;
        }
        for k in 0..(i % 3) {
            tags.values().append_value(LABELS[((i + k * 2) % 5) as usize]);
        }
        tags.append(true);
    }
    let tags: ArrayRef = Arc::new(tags.finish());
    let code: ArrayRef =
        Arc::new(StringArray::from_iter(ids.clone().map(|i| {
            (i % 13 != 5).then(|| format!("fn handler_{}(x) {{ step_{} }}", i % 37, i % 5))
        })));
    let day: ArrayRef = Arc::new(Int64Array::from_iter(ids.map(|i| (i % 17 != 2).then_some(i + i % 7))));
    RecordBatch::try_from_iter(vec![
        ("id", id),
        ("num", num),
        ("cat", cat),
        ("tags", tags),
        ("code", code),
        ("day", day),
    ])
    .unwrap()
}

fn location() -> DatasetLocation {
    common::local_location(&fixture())
}

const FILTERS: [&str; 10] = [
    "num = 3",
    "num BETWEEN -5 AND 2 OR num IS NULL",
    "cat IN ('green', 'ünï')",
    "cat IS NULL",
    "array_has_all(tags, make_array('a', 'c'))",
    "array_has_any(tags, make_array('e'))",
    "contains(code, 'handler_12(')",
    "code ~ 'handler_3[0-2]\\('",
    "day BETWEEN 100 AND 140",
    "num > 10 AND cat = 'red' AND day < 200",
];

async fn answers(ds: &Dataset, indexed: bool) -> Vec<String> {
    let mut lines = Vec::new();
    for filter in FILTERS {
        let batch = ds
            .scan()
            .project(["id"])
            .filter(filter)
            .use_scalar_index(indexed)
            .try_into_batch()
            .await
            .unwrap();
        let mut ids = batch.column(0).as_primitive::<Int64Type>().values().to_vec();
        ids.sort_unstable();
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        lines.push(format!("{filter}: {}", ids.join(" ")));
    }
    lines
}

#[tokio::test]
#[ignore = "writes the fixture"]
async fn regenerate_golden_scalar_dataset() {
    let _ = std::fs::remove_dir_all(fixture());
    let params = WriteParams {
        max_rows_per_file: 100,
        ..WriteParams::default()
    };
    let first = batch(0..240);
    let mut ds = Dataset::write(
        location(),
        first.schema(),
        stream_of(vec![first]),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap();
    use ScalarIndexType::*;
    for (column, kind) in [
        ("num", BTree),
        ("cat", Bitmap),
        ("tags", LabelList),
        ("code", NGram),
        ("day", ZoneMap),
    ] {
        let mut index = ScalarIndexParams::new(column, kind);
        index.zone_rows = 32;
        ds.create_scalar_index(&index, &Progress::none()).await.unwrap();
    }
    ds.append(stream_of(vec![batch(240..300)]), &params).await.unwrap();
    std::fs::write(expected_path(), answers(&ds, true).await.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn golden_scalar_dataset_reads_back_and_answers_the_same() {
    let ds = Dataset::open_location(location()).await.unwrap();
    let kinds: Vec<&str> = ds.index_segments().iter().map(|s| s.kind_name()).collect();
    assert_eq!(kinds, ["BTREE", "BITMAP", "LABEL_LIST", "NGRAM", "ZONEMAP"]);
    assert!(ds.index_segments().iter().all(|s| s.index_version() == 1));
    assert_eq!(ds.index_statistics("num_idx").await.unwrap().num_unindexed_rows, 60);
    let expected = std::fs::read_to_string(expected_path()).unwrap();
    assert_eq!(answers(&ds, true).await.join("\n") + "\n", expected);
    assert_eq!(answers(&ds, false).await.join("\n") + "\n", expected);
}
