//! `pilum_search`: exact vector search from SQL, against the Rust API and a
//! brute force over the rows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field};
use common::{uri, write};
use pilum_datafusion::Session;
use std::sync::Arc;

/// Row i: id i, label i % 3, vector [i / 10, (i % 7) - 3, 1].
fn vectors(n: i64) -> RecordBatch {
    let values: Vec<f32> = (0..n)
        .flat_map(|i| [i as f32 / 10.0, (i % 7) as f32 - 3.0, 1.0])
        .collect();
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let emb = FixedSizeListArray::try_new(item, 3, Arc::new(Float32Array::from(values)), None).unwrap();
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef),
        ("label", Arc::new(Int64Array::from_iter_values((0..n).map(|i| i % 3)))),
        ("emb", Arc::new(emb)),
    ])
    .unwrap()
}

fn brute(n: i64, q: [f32; 3], keep: impl Fn(i64) -> bool, k: usize) -> Vec<i64> {
    let mut rows: Vec<(f32, i64)> = (0..n)
        .filter(|&i| keep(i))
        .map(|i| {
            let v = [i as f32 / 10.0, (i % 7) as f32 - 3.0, 1.0];
            (v.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(), i)
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    rows.into_iter().take(k).map(|r| r.1).collect()
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
async fn search_from_sql_matches_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = uri(&dir, "v");
    write(&dir, "v", vec![vectors(500)], 200).await;
    let session = Session::new();
    let q = [12.3f32, -1.0, 1.0];
    let got = session
        .collect(&format!(
            "SELECT * FROM pilum_search('{path}', 'emb', [12.3, -1, 1.0], 5)"
        ))
        .await
        .unwrap();
    assert_eq!(ids(&got), brute(500, q, |_| true, 5));
    let names: Vec<String> = got[0].schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "label", "emb", "_rowid", "_distance"]);
    let distances = got[0]
        .column_by_name("_distance")
        .unwrap()
        .as_primitive::<Float32Type>();
    assert!(distances.values().windows(2).all(|w| w[0] <= w[1]), "nearest first");
    // The filter argument applies before the search; WHERE applies after it.
    let pre = session
        .collect(&format!(
            "SELECT id FROM pilum_search('{path}', 'emb', [12.3, -1, 1.0], 5, 'l2', 'label = 1')"
        ))
        .await
        .unwrap();
    assert_eq!(ids(&pre), brute(500, q, |i| i % 3 == 1, 5));
    let post = session
        .collect(&format!(
            "SELECT id FROM pilum_search('{path}', 'emb', [12.3, -1, 1.0], 5) WHERE label = 1 ORDER BY _distance"
        ))
        .await
        .unwrap();
    let want: Vec<i64> = brute(500, q, |_| true, 5).into_iter().filter(|i| i % 3 == 1).collect();
    assert_eq!(ids(&post), want);
    let cosine = session
        .collect(&format!(
            "SELECT id FROM pilum_search('{path}', 'emb', [1, 0, 0], 3, 'cosine')"
        ))
        .await
        .unwrap();
    assert_eq!(ids(&cosine).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_search_arguments_are_plan_or_table_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = uri(&dir, "v");
    write(&dir, "v", vec![vectors(20)], 100).await;
    let session = Session::new();
    for sql in [
        format!("SELECT * FROM pilum_search('{path}', 'emb', [1, 2, 3])"),
        format!("SELECT * FROM pilum_search('{path}', 'emb', 'not a vector', 3)"),
        format!("SELECT * FROM pilum_search('{path}', 'emb', [1, 2, 3], -1)"),
        format!("SELECT * FROM pilum_search('{path}', 'emb', [1, 2, 3], 3, 'manhattan')"),
        format!("SELECT * FROM pilum_search('{path}', 'emb', [1, 2], 3)"),
        format!("SELECT * FROM pilum_search('{path}', 'id', [1, 2, 3], 3)"),
    ] {
        let result = session.collect(&sql).await;
        let message = match result {
            Err(error) => error.to_string(),
            Ok(_) => panic!("{sql} succeeded"),
        };
        assert!(
            message.contains("pilum_search") || message.contains("invalid argument"),
            "{sql}: {message}"
        );
    }
}
