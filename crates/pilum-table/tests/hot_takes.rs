//! Takes gathered from decoded columns give exactly the rows of the usual
//! read path: same values, nulls, order and errors, across deletes, added
//! columns and columns no file holds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use pilum_table::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

const ROWS: i64 = 1_000;

/// `id`, `score` (f64, every seventh null), `small` (i32), `text`.
fn rows(ids: std::ops::Range<i64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("score", DataType::Float64, true),
        Field::new("small", DataType::Int32, false),
        Field::new("text", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(ids.clone())),
        Arc::new(Float64Array::from_iter(
            ids.clone().map(|i| (i % 7 != 0).then_some(i as f64 / 4.0)),
        )),
        Arc::new(Int32Array::from_iter_values(ids.clone().map(|i| (i % 100) as i32))),
        Arc::new(StringArray::from_iter_values(ids.map(|i| format!("row {i}")))),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

async fn written(location: &DatasetLocation) -> Dataset {
    let batch = rows(0..ROWS);
    Dataset::write(
        location.clone(),
        batch.schema(),
        stream_of(vec![batch]),
        WriteMode::Create,
        &small_files(),
    )
    .await
    .unwrap()
}

/// A handle on the same version that never gathers from decoded columns.
async fn reference(ds: &Dataset) -> Dataset {
    let plain = Dataset::open_location(ds.location().clone()).await.unwrap();
    plain.set_hot_column_bytes(0);
    plain
}

/// Takes `rounds` random id lists with each projection through both handles and compares them.
async fn compare(hot: &Dataset, plain: &Dataset, projections: &[&[&str]], live: &[u64], rounds: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for round in 0..rounds {
        let count = rng.random_range(1..12);
        let ids: Vec<u64> = (0..count).map(|_| live[rng.random_range(0..live.len())]).collect();
        for projection in projections {
            let got = hot.take_rows(&ids, Some(projection)).await.unwrap();
            let want = plain.take_rows(&ids, Some(projection)).await.unwrap();
            assert_eq!(got, want, "round {round}, ids {ids:?}, columns {projection:?}");
        }
    }
}

#[tokio::test]
async fn repeated_takes_gather_the_same_rows_as_the_read_path() {
    for_each_backend(|t| async move {
        let mut ds = written(&t.location).await;
        let plain = reference(&ds).await;
        let all: Vec<u64> = (0..ROWS as u64).collect();
        let projections: &[&[&str]] = &[&["id"], &["score", "id"], &["small", "score"], &["id", "text"]];
        compare(&ds, &plain, projections, &all, 40, 1).await;
        let (held, budget) = ds.hot_column_bytes();
        assert_eq!(budget, DEFAULT_HOT_COLUMN_BYTES);
        assert!(held > 0, "columns taken forty times are held decoded");
        assert_eq!(plain.hot_column_bytes().0, 0, "a zero budget keeps nothing");

        // Deleted rows are found missing before any column is read.
        ds.delete(Predicate::Sql("id % 5 = 0".into())).await.unwrap();
        let plain = reference(&ds).await;
        let err = ds.take_rows(&[1, 5], Some(&["id"])).await.unwrap_err();
        assert!(matches!(err, TableError::RowNotFound { row: 5 }), "{err}");
        let live: Vec<u64> = all.iter().copied().filter(|id| id % 5 != 0).collect();
        compare(&ds, &plain, projections, &live, 20, 2).await;

        // A column added later lives in its own files; one added as all
        // nulls lives in none.
        ds.add_columns(NewColumns::Sql(vec![("twice".into(), "id * 2".into())]))
            .await
            .unwrap();
        ds.add_columns(NewColumns::AllNulls(vec![Field::new("later", DataType::Int64, true)]))
            .await
            .unwrap();
        let plain = reference(&ds).await;
        let projections: &[&[&str]] = &[&["twice", "id"], &["later", "score"], &["later"]];
        compare(&ds, &plain, projections, &live, 20, 3).await;
        let twice = ds.take_rows(&[7, 3], Some(&["twice"])).await.unwrap();
        assert_eq!(column_i64(&twice, "twice"), vec![14, 6]);
    })
    .await;
}

#[tokio::test]
async fn takes_by_position_share_the_decoded_columns() {
    let t = TestLocation::new(Backend::Local);
    let ds = written(&t.location).await;
    let plain = reference(&ds).await;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for _ in 0..30 {
        let offsets: Vec<u64> = (0..5).map(|_| rng.random_range(0..ROWS as u64)).collect();
        let got = ds.take(&offsets, Some(&["score", "small"])).await.unwrap();
        assert_eq!(got, plain.take(&offsets, Some(&["score", "small"])).await.unwrap());
    }
    assert!(ds.hot_column_bytes().0 > 0);
    ds.set_hot_column_bytes(0);
    assert_eq!(ds.hot_column_bytes(), (0, 0), "a zero budget drops what was held");
}

/// A version keeps the fragments its takes opened; a commit through the
/// handle starts afresh, and a handle still on the older version keeps
/// reading that version's rows.
#[tokio::test]
async fn opened_fragments_belong_to_their_version() {
    let t = TestLocation::new(Backend::Local);
    let mut ds = written(&t.location).await;
    let ids = [3u64, 5, 10, 999];
    for _ in 0..3 {
        let rows = ds.take_rows(&ids, Some(&["id", "text"])).await.unwrap();
        assert_eq!(column_i64(&rows, "id"), vec![3, 5, 10, 999]);
    }
    let before = ds.clone();
    ds.delete(Predicate::Sql("id = 5".into())).await.unwrap();
    let err = ds.take_rows(&ids, Some(&["id"])).await.unwrap_err();
    assert!(matches!(err, TableError::RowNotFound { row: 5 }), "{err}");
    let old = before.take_rows(&ids, Some(&["id", "text"])).await.unwrap();
    assert_eq!(column_i64(&old, "id"), vec![3, 5, 10, 999]);

    // An update moves row 10 into a new fragment: takes find the new copy.
    ds.update(&[("text", "'moved'")], Some("id = 10")).await.unwrap();
    let rows = ds.take_rows(&[10, 3], Some(&["id", "text"])).await.unwrap();
    assert_eq!(column_i64(&rows, "id"), vec![10, 3]);
    let text = rows
        .column_by_name("text")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!((text.value(0), text.value(1)), ("moved", "row 3"));
    let old = before.take_rows(&[10], Some(&["text"])).await.unwrap();
    let text = old
        .column_by_name("text")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(text.value(0), "row 10");
}
