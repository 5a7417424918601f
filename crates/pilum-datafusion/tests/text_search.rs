//! `pilum_text_search` and `pilum_hybrid_search` from SQL return what the
//! Rust API returns, with the filter argument applied before ranking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field};
use common::{uri, write};
use pilum_datafusion::Session;
use pilum_table::{
    Dataset, FullTextQuery, FullTextSearch, HybridSearch, Predicate, Progress, TextIndexParams, VectorQuery,
};
use std::sync::Arc;

const WORDS: [&str; 5] = ["harbor", "signal", "meadow", "copper", "glacier"];

fn rows(n: i64) -> RecordBatch {
    let values: Vec<f32> = (0..n).flat_map(|i| [i as f32 / 10.0, (i % 7) as f32, 1.0]).collect();
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let emb = FixedSizeListArray::try_new(item, 3, Arc::new(Float32Array::from(values)), None).unwrap();
    let text = StringArray::from_iter_values(
        (0..n).map(|i| format!("{} {} note", WORDS[(i % 5) as usize], WORDS[((i / 5) % 5) as usize])),
    );
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef),
        ("text", Arc::new(text)),
        ("emb", Arc::new(emb)),
    ])
    .unwrap()
}

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            b.column_by_name("id")
                .unwrap()
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_hybrid_search_from_sql_match_the_rust_api() {
    let dir = tempfile::tempdir().unwrap();
    let path = uri(&dir, "t");
    write(&dir, "t", vec![rows(300)], 100).await;
    let mut ds = Dataset::open(&path).await.unwrap();
    ds.create_text_index(&TextIndexParams::new("text"), &Progress::none())
        .await
        .unwrap();
    let session = Session::new();
    let text = session
        .collect(&format!(
            "SELECT * FROM pilum_text_search('{path}', 'text', 'glacier copper', 7, 'id > 20')"
        ))
        .await
        .unwrap();
    let rust = ds
        .full_text_search(&FullTextSearch {
            limit: Some(7),
            filter: Some(Predicate::Sql("id > 20".into())),
            prefilter: true,
            ..FullTextSearch::new(FullTextQuery::text("glacier copper"))
        })
        .await
        .unwrap();
    assert_eq!(ids(&text), ids(&[rust]));
    assert_eq!(ids(&text).len(), 7);
    let names: Vec<String> = text[0].schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "text", "emb", "_rowid", "_score"]);
    let all_columns = session
        .collect(&format!(
            "SELECT id FROM pilum_text_search('{path}', NULL, 'meadow', 3)"
        ))
        .await
        .unwrap();
    assert_eq!(ids(&all_columns).len(), 3);
    let hybrid = session
        .collect(&format!(
            "SELECT id, _relevance_score FROM pilum_hybrid_search('{path}', 'emb', [12.3, 1, 1.0], 'text', 'glacier', 5, 'id % 2 = 0')"
        ))
        .await
        .unwrap();
    let rust = ds
        .hybrid_search(&HybridSearch {
            filter: Some(Predicate::Sql("id % 2 = 0".into())),
            ..HybridSearch::new(
                VectorQuery::new("emb", vec![12.3, 1.0, 1.0], 5),
                FullTextQuery::Match(pilum_table::MatchQuery::new("glacier", Some("text".into()))),
                5,
            )
        })
        .await
        .unwrap();
    assert_eq!(ids(&hybrid), ids(&[rust]));
    assert!(ids(&hybrid).iter().all(|i| i % 2 == 0));
    let err = session
        .collect(&format!("SELECT * FROM pilum_text_search('{path}', 'id', 'x', 3)"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("inverted index"), "{err}");
}
