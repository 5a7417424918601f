//! Property test: random operation sequences against a simple in-memory model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::{Int64Array, RecordBatch};
use common::*;
use pilum_table::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
enum Op {
    Append(i64),
    Delete(i64, i64),
    Update(i64, i64),
    Upsert(i64, i64),
    Compact,
    Restore(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1i64..40).prop_map(Op::Append),
        (2i64..6, 0i64..6).prop_map(|(m, r)| Op::Delete(m, r % m)),
        (2i64..6, 0i64..6).prop_map(|(m, r)| Op::Update(m, r % m)),
        (0i64..60, 1i64..15).prop_map(|(s, n)| Op::Upsert(s, n)),
        Just(Op::Compact),
        (1u64..5).prop_map(Op::Restore),
    ]
}

/// id → value, plus the row id each live id had when it was written.
#[derive(Default, Clone)]
struct Model {
    rows: BTreeMap<i64, i64>,
}

async fn check(ds: &Dataset, model: &Model, row_ids: &mut BTreeMap<i64, u64>) {
    let batch = ds
        .scan()
        .project(["id", "value"])
        .with_row_id(true)
        .try_into_batch()
        .await
        .unwrap();
    let mut seen: Vec<(i64, i64)> = column_i64(&batch, "id")
        .into_iter()
        .zip(column_i64(&batch, "value"))
        .collect();
    seen.sort_unstable();
    let expected: Vec<(i64, i64)> = model.rows.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(seen, expected);
    assert_eq!(ds.count_rows(None).await.unwrap(), model.rows.len() as u64);
    // Every live row is reachable by its row id.
    let by_id = ds.take_rows(&column_u64(&batch, ROW_ID), Some(&["id"])).await.unwrap();
    assert_eq!(column_i64(&by_id, "id"), column_i64(&batch, "id"));
    for (id, row_id) in column_i64(&batch, "id").into_iter().zip(column_u64(&batch, ROW_ID)) {
        // A row keeps its id through updates, upserts and compaction.
        let first = *row_ids.entry(id).or_insert(row_id);
        assert_eq!(first, row_id, "row id of {id} changed");
    }
}

async fn run(ops: Vec<Op>) {
    let t = TestLocation::new(Backend::Memory);
    let params = WriteParams {
        max_rows_per_file: 16,
        ..WriteParams::default()
    };
    let mut ds = create(&t.location, vec![batch(0..20)], &params).await;
    let mut model = Model::default();
    model.rows.extend((0..20).map(|i| (i, i * 10)));
    // The model at every committed version (an operation that changes
    // nothing commits nothing and keeps the version).
    let mut history = BTreeMap::from([(ds.version(), model.clone())]);
    let mut row_ids = BTreeMap::new();
    let mut next_id = 1000;
    for op in ops {
        match op {
            Op::Append(n) => {
                ds.append(stream_of(vec![batch(next_id..next_id + n)]), &params)
                    .await
                    .unwrap();
                model.rows.extend((next_id..next_id + n).map(|i| (i, i * 10)));
                next_id += n;
            }
            Op::Delete(m, r) => {
                let deleted = ds.delete(&format!("id % {m} = {r}")).await.unwrap();
                let before = model.rows.len();
                model.rows.retain(|id, _| id % m != r);
                row_ids.retain(|id, _| id % m != r);
                assert_eq!(deleted as usize, before - model.rows.len());
            }
            Op::Update(m, r) => {
                ds.update(&[("value", "value + 1")], Some(&format!("id % {m} = {r}")))
                    .await
                    .unwrap();
                model
                    .rows
                    .iter_mut()
                    .filter(|(id, _)| *id % m == r)
                    .for_each(|(_, v)| *v += 1);
            }
            Op::Upsert(start, n) => {
                let mut source = batch(start..start + n);
                let mut columns = source.columns().to_vec();
                columns[1] = Arc::new(Int64Array::from_iter_values((start..start + n).map(|i| -i)));
                source = RecordBatch::try_new(source.schema(), columns).unwrap();
                let (next, _) = ds
                    .merge_insert(["id"])
                    .when_matched_update_all(None)
                    .when_not_matched_insert_all()
                    .execute(stream_of(vec![source]))
                    .await
                    .unwrap();
                ds = next;
                // Keys that were absent are new rows with new row ids.
                row_ids.retain(|id, _| !(start..start + n).contains(id) || model.rows.contains_key(id));
                model.rows.extend((start..start + n).map(|i| (i, -i)));
            }
            Op::Compact => {
                ds.compact_files(&CompactionOptions {
                    target_rows_per_fragment: 64,
                    ..Default::default()
                })
                .await
                .unwrap();
            }
            Op::Restore(back) => {
                let Some(target) = ds.version().checked_sub(back).filter(|v| *v >= 1) else {
                    continue;
                };
                let mut old = ds.checkout_version(target).await.unwrap();
                old.restore().await.unwrap();
                ds = old;
                model = history[&target].clone();
                // Restored rows keep the ids they had in that version.
                row_ids.clear();
            }
        }
        history.insert(ds.version(), model.clone());
        check(&ds, &model, &mut row_ids).await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn operations_match_the_model(ops in proptest::collection::vec(op(), 1..12)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops));
    }
}
