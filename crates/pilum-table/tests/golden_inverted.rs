//! The committed dataset `testdata/golden/dataset-v1.2-inverted` holds an
//! INVERTED segment (text index version 1) with positions over a text
//! column, plus rows appended after the build (unindexed). It must keep
//! reading and answering its recorded queries — ids and scores — the same
//! way. Regenerate (only with a `Format` entry in CHANGELOG.md) with
//! `cargo test -p pilum-table --test golden_inverted -- --ignored regenerate_golden_inverted_dataset`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use common::stream_of;
use pilum_table::*;
use std::path::PathBuf;
use std::sync::Arc;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.2-inverted")
}

fn expected_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.2-inverted.expected")
}

const SENTENCES: [&str; 8] = [
    "Columnar files keep each column's pages together",
    "A search engine ranks documents by relevance",
    "Inverted indices map every term to its postings",
    "Vector search finds the nearest embeddings",
    "Phrase queries need the positions of terms",
    "Compaction rewrites small fragments into large ones",
    "東京は日本の首都です",
    "Les moteurs de recherche classent les documents",
];

/// Row `id`: two sentences chosen by `id`, every 13th row null.
fn text(id: i64) -> Option<String> {
    (id % 13 != 7).then(|| {
        let a = SENTENCES[(id % 8) as usize];
        let b = SENTENCES[((id * 5 + 3) % 8) as usize];
        format!("{a}. {b}.")
    })
}

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let id: ArrayRef = Arc::new(Int64Array::from_iter_values(ids.clone()));
    let body: ArrayRef = Arc::new(StringArray::from_iter(ids.map(text)));
    RecordBatch::try_from_iter(vec![("id", id), ("body", body)]).unwrap()
}

fn location() -> DatasetLocation {
    common::local_location(&fixture())
}

async fn answers(ds: &Dataset) -> Vec<String> {
    let queries = vec![
        FullTextQuery::text("search documents"),
        FullTextQuery::Match(MatchQuery {
            operator: Operator::And,
            ..MatchQuery::new("search engine", None)
        }),
        FullTextQuery::Phrase {
            query: "nearest embeddings".into(),
            column: None,
            slop: 0,
        },
        FullTextQuery::text("東京"),
        FullTextQuery::Match(MatchQuery {
            fuzziness: Some(1),
            ..MatchQuery::new("documnts", None)
        }),
    ];
    common::text_answer_lines(ds, queries).await
}

#[tokio::test]
#[ignore = "writes the fixture"]
async fn regenerate_golden_inverted_dataset() {
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
    let index = TextIndexParams {
        with_position: true,
        ..TextIndexParams::new("body")
    };
    ds.create_text_index(&index, &Progress::none()).await.unwrap();
    ds.append(stream_of(vec![batch(240..300)]), &params).await.unwrap();
    std::fs::write(expected_path(), answers(&ds).await.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn golden_inverted_dataset_reads_back_and_answers_the_same() {
    let ds = Dataset::open_location(location()).await.unwrap();
    let segments = ds.index_segments();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].kind_name(), "INVERTED");
    assert_eq!(segments[0].index_version(), 1);
    let info = segments[0].text_info().unwrap();
    assert!(info.with_position && info.num_docs > 200, "{info:?}");
    assert_eq!(ds.index_statistics("body_idx").await.unwrap().num_unindexed_rows, 60);
    let expected = std::fs::read_to_string(expected_path()).unwrap();
    assert_eq!(answers(&ds).await.join("\n") + "\n", expected);
}
