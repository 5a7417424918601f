//! Exact vector search against brute force over the live rows: several
//! fragments, deletions, filters, every metric and bad queries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type, UInt64Type};
use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use common::stream_of;
use object_store::memory::InMemory;
use pilum_index::{Metric, Vectors, exact_search};
use pilum_table::*;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::sync::Arc;

const DIM: usize = 8;
const ROWS: i64 = 3000;

fn vectors(seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..ROWS as usize * DIM)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect()
}

fn batch(ids: std::ops::Range<i64>, values: &[f32], null_every: Option<i64>) -> RecordBatch {
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let slice = &values[ids.start as usize * DIM..ids.end as usize * DIM];
    let nulls = null_every.map(|n| ids.clone().map(|i| i % n != 0).collect::<Vec<_>>().into());
    let emb = FixedSizeListArray::try_new(
        item.clone(),
        DIM as i32,
        Arc::new(Float32Array::from(slice.to_vec())),
        nulls,
    )
    .unwrap();
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("emb", DataType::FixedSizeList(item, DIM as i32), true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![Arc::new(Int64Array::from_iter_values(ids)) as ArrayRef, Arc::new(emb)],
    )
    .unwrap()
}

/// Three fragments of 1,000 rows; rows with id % 7 == 3 deleted.
async fn dataset(values: &[f32], null_every: Option<i64>) -> Dataset {
    let location = DatasetLocation::in_store(Arc::new(InMemory::new()), "ds");
    let batches: Vec<RecordBatch> = (0..ROWS)
        .step_by(500)
        .map(|s| batch(s..s + 500, values, null_every))
        .collect();
    let params = WriteParams {
        max_rows_per_file: 1000,
        ..Default::default()
    };
    let mut ds = Dataset::write(
        location,
        batches[0].schema(),
        stream_of(batches),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap();
    assert_eq!(ds.fragments().await.unwrap().len(), 3);
    ds.delete("id % 7 = 3").await.unwrap();
    ds
}

/// Brute force over the live rows passing `keep`: (id, distance), nearest first.
fn truth(values: &[f32], query: &[f32], metric: Metric, k: usize, keep: impl Fn(i64) -> bool) -> Vec<(i64, f32)> {
    let live: Vec<i64> = (0..ROWS).filter(|&i| i % 7 != 3 && keep(i)).collect();
    let data: Vec<f32> = live
        .iter()
        .flat_map(|&i| values[i as usize * DIM..(i as usize + 1) * DIM].to_vec())
        .collect();
    let ids: Vec<u64> = live.iter().map(|&i| i as u64).collect();
    exact_search(query, Vectors::new(&data, DIM).unwrap(), Some(&ids), metric, k)
        .unwrap()
        .iter()
        .map(|n| (n.id as i64, n.distance))
        .collect()
}

fn got(result: &RecordBatch) -> Vec<(i64, f32)> {
    let ids = result.column_by_name("id").unwrap().as_primitive::<Int64Type>();
    let dist = result
        .column_by_name("_distance")
        .unwrap()
        .as_primitive::<Float32Type>();
    ids.values()
        .iter()
        .copied()
        .zip(dist.values().iter().copied())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_search_matches_brute_force_for_every_metric() {
    let values = vectors(1);
    let ds = dataset(&values, None).await;
    let mut rng = StdRng::seed_from_u64(9);
    for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
        for _ in 0..5 {
            let query: Vec<f32> = (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let q = VectorQuery::new("emb", query.clone(), 10).with_metric(metric);
            let result = ds.nearest_exact(&q, None, true, None).await.unwrap();
            let want = truth(&values, &query, metric, 10, |_| true);
            let have = got(&result);
            assert_eq!(
                have.iter().map(|r| r.0).collect::<Vec<_>>(),
                want.iter().map(|r| r.0).collect::<Vec<_>>(),
                "{metric}"
            );
            for ((_, a), (_, b)) in have.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{metric}: {a} vs {b}");
            }
            // The row ids returned are the rows' stable ids.
            let ids = result.column_by_name("_rowid").unwrap().as_primitive::<UInt64Type>();
            let taken = ds.take_rows(ids.values(), Some(&["id"])).await.unwrap();
            assert_eq!(
                taken.column(0).as_primitive::<Int64Type>().values(),
                result.column(0).as_primitive::<Int64Type>().values()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_candidates_first_and_null_vectors_never_match() {
    let values = vectors(2);
    let ds = dataset(&values, Some(5)).await;
    let query = vec![0.25f32; DIM];
    let q = VectorQuery::new("emb", query.clone(), 20).with_metric(Metric::L2);
    let result = ds
        .nearest_exact(&q, Some("id >= 2500"), true, Some(&["id"]))
        .await
        .unwrap();
    assert_eq!(result.num_columns(), 3, "id, _rowid, _distance");
    let want = truth(&values, &query, Metric::L2, 20, |i| i >= 2500 && i % 5 != 0);
    assert_eq!(
        got(&result).iter().map(|r| r.0).collect::<Vec<_>>(),
        want.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    // More rows asked for than match: every match, nearest first.
    let all = VectorQuery { k: 10_000, ..q.clone() };
    let result = ds.nearest_exact(&all, Some("id < 30"), true, None).await.unwrap();
    let want = truth(&values, &query, Metric::L2, 10_000, |i| i < 30 && i % 5 != 0);
    assert_eq!(result.num_rows(), want.len());
    // Without prefilter: the 20 nearest of all rows, then the filter.
    let post = ds
        .nearest_exact(&q, Some("id >= 2500"), false, Some(&["id"]))
        .await
        .unwrap();
    let nearest_all = truth(&values, &query, Metric::L2, 20, |i| i % 5 != 0);
    let want: Vec<i64> = nearest_all.iter().map(|r| r.0).filter(|&i| i >= 2500).collect();
    assert_eq!(got(&post).iter().map(|r| r.0).collect::<Vec<_>>(), want);
    assert!(post.num_rows() < 20);
    // The filter's column need not be returned.
    let only_vectors = ds
        .nearest_exact(&q, Some("id >= 2500"), false, Some(&["emb"]))
        .await
        .unwrap();
    let names: Vec<String> = only_vectors
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["emb", "_rowid", "_distance"]);
    assert_eq!(only_vectors.num_rows(), post.num_rows());
    let zero = VectorQuery { k: 0, ..q };
    assert_eq!(ds.nearest_exact(&zero, None, true, None).await.unwrap().num_rows(), 0);
}

#[tokio::test]
async fn bad_queries_are_invalid_arguments() {
    let values = vectors(3);
    let ds = dataset(&values, None).await;
    let q = |column: &str, query: Vec<f32>| VectorQuery::new(column, query, 3).with_metric(Metric::L2);
    for bad in [
        q("emb", vec![0.0; DIM - 1]),
        q("id", vec![0.0; DIM]),
        q("nope", vec![0.0; DIM]),
        q("emb", vec![f32::NAN; DIM]),
    ] {
        assert!(
            matches!(
                ds.nearest_exact(&bad, None, false, None).await,
                Err(TableError::InvalidArgument(_))
            ),
            "{bad:?}"
        );
    }
}
