//! The committed dataset `testdata/golden/dataset-v1.4-inverted-json`
//! holds an INVERTED segment of text index version 2 (a JSON column read
//! with its paths, positions kept), plus rows appended after the build
//! (unindexed). It must keep reading and answering its recorded queries —
//! ids and scores — the same way. Regenerate (only with a `Format` entry in
//! CHANGELOG.md) with
//! `cargo test -p pilum-table --test golden_inverted_json -- --ignored regenerate_golden_inverted_json_dataset`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use common::stream_of;
use pilum_table::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.4-inverted-json")
}

fn expected_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.4-inverted-json.expected")
}

const TITLES: [&str; 5] = [
    "Columnar files",
    "Search engines rank documents",
    "Inverted indices",
    "Vector search",
    "Phrase queries",
];
const TAGS: [&str; 4] = ["storage", "search", "index", "text"];

/// Row `id` as a JSON document; every 11th row null, every 17th not JSON.
fn document(id: i64) -> Option<String> {
    if id % 11 == 3 {
        return None;
    }
    if id % 17 == 5 {
        return Some(format!("plain search text {id}"));
    }
    let title = TITLES[(id % 5) as usize];
    let (a, b) = (TAGS[(id % 4) as usize], TAGS[((id * 3 + 1) % 4) as usize]);
    Some(format!(
        r#"{{"title": "{title}", "tags": ["{a}", "{b}"], "stats": {{"pages": {}, "draft": {}}}}}"#,
        id % 9,
        id % 2 == 0
    ))
}

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let meta = Field::new("meta", DataType::Utf8, true).with_metadata(HashMap::from([(
        "ARROW:extension:name".to_string(),
        "arrow.json".to_string(),
    )]));
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), meta]));
    let id: ArrayRef = Arc::new(Int64Array::from_iter_values(ids.clone()));
    let meta: ArrayRef = Arc::new(StringArray::from_iter(ids.map(document)));
    RecordBatch::try_new(schema, vec![id, meta]).unwrap()
}

fn location() -> DatasetLocation {
    common::local_location(&fixture())
}

async fn answers(ds: &Dataset) -> Vec<String> {
    let on = |column: &str, query: &str| FullTextQuery::Match(MatchQuery::new(query, Some(column.into())));
    let queries = vec![
        on("meta", "search"),
        on("meta.title", "search"),
        on("meta.tags", "index text"),
        on("meta.stats.pages", "4"),
        on("meta.stats.draft", "true"),
        FullTextQuery::Phrase {
            query: "rank documents".into(),
            column: Some("meta.title".into()),
            slop: 0,
        },
    ];
    common::text_answer_lines(ds, queries).await
}

#[tokio::test]
#[ignore = "writes the fixture"]
async fn regenerate_golden_inverted_json_dataset() {
    let _ = std::fs::remove_dir_all(fixture());
    let params = WriteParams {
        max_rows_per_file: 100,
        ..WriteParams::default()
    };
    let first = batch(0..200);
    let mut ds = Dataset::write(
        location(),
        first.schema(),
        stream_of(vec![first]),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap();
    let index = TextIndexParams {
        with_position: true,
        ..TextIndexParams::new("meta")
    };
    ds.create_text_index(&index, &Progress::none()).await.unwrap();
    ds.append(stream_of(vec![batch(200..240)]), &params).await.unwrap();
    std::fs::write(expected_path(), answers(&ds).await.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn golden_inverted_json_dataset_reads_back_and_answers_the_same() {
    let ds = Dataset::open_location(location()).await.unwrap();
    let segments = ds.index_segments();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].index_version(), 2);
    assert!(segments[0].text_info().unwrap().json);
    let expected = std::fs::read_to_string(expected_path()).unwrap();
    assert_eq!(answers(&ds).await.join("\n") + "\n", expected);
}
