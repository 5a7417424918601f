//! SQL over datasets through DataFusion: results against expectations,
//! pushdown visible in plans, deletions honoured, time travel by version.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::prelude::SessionContext;
use pilum_datafusion::register_dataset;
use pilum_table::Dataset;
use std::sync::Arc;

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from_iter_values(ids.clone())) as ArrayRef),
        (
            "grp",
            Arc::new(Int64Array::from_iter_values(ids.clone().map(|i| i % 3))),
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(ids.map(|i| format!("n{i}")))),
        ),
    ])
    .unwrap()
}

async fn dataset(dir: &tempfile::TempDir) -> Dataset {
    let mut ds = common::write(dir, "ds", vec![batch(0..500), batch(500..1000)], 100).await;
    ds.delete("id % 10 = 0").await.unwrap();
    ds
}

async fn query(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}

fn int_column(batches: &[RecordBatch], index: usize) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| b.column(index).as_primitive::<Int64Type>().values().to_vec())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_match_expectations() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(&dir).await;
    let ctx = SessionContext::new();
    register_dataset(&ctx, "t", ds.clone()).unwrap();
    register_dataset(&ctx, "t_v1", ds.checkout_version(1).await.unwrap()).unwrap();

    let count = query(&ctx, "SELECT count(*) AS n FROM t").await;
    assert_eq!(int_column(&count, 0), vec![900], "deleted rows never appear");
    let old = query(&ctx, "SELECT count(*) FROM t_v1").await;
    assert_eq!(int_column(&old, 0), vec![1000], "an older version by registration");

    let filtered = query(
        &ctx,
        "SELECT id FROM t WHERE id BETWEEN 95 AND 105 AND name <> 'n99' ORDER BY id",
    )
    .await;
    assert_eq!(int_column(&filtered, 0), vec![95, 96, 97, 98, 101, 102, 103, 104, 105]);

    let grouped = query(&ctx, "SELECT grp, count(*), sum(id) FROM t GROUP BY grp ORDER BY grp").await;
    let expected: Vec<(i64, i64, i64)> = (0..3)
        .map(|g| {
            let ids: Vec<i64> = (0..1000).filter(|i| i % 3 == g && i % 10 != 0).collect();
            (g, ids.len() as i64, ids.iter().sum())
        })
        .collect();
    let got: Vec<(i64, i64, i64)> = int_column(&grouped, 0)
        .into_iter()
        .zip(int_column(&grouped, 1))
        .zip(int_column(&grouped, 2))
        .map(|((a, b), c)| (a, b, c))
        .collect();
    assert_eq!(got, expected);

    let joined = query(
        &ctx,
        "SELECT count(*) FROM t JOIN t_v1 ON t.id = t_v1.id WHERE t_v1.id < 100",
    )
    .await;
    assert_eq!(int_column(&joined, 0), vec![90]);

    let window = query(
        &ctx,
        "SELECT id, row_number() OVER (PARTITION BY grp ORDER BY id) AS r FROM t WHERE id < 12 ORDER BY id",
    )
    .await;
    assert_eq!(int_column(&window, 0), vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 11]);

    let limited = query(&ctx, "SELECT id FROM t WHERE grp = 1 LIMIT 3").await;
    assert_eq!(int_column(&limited, 0).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_are_pushed_into_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(&dir).await;
    let ctx = SessionContext::new();
    register_dataset(&ctx, "t", ds).unwrap();
    let plan = query(&ctx, "EXPLAIN SELECT name FROM t WHERE id > 990 AND grp = 1").await;
    let text = plan
        .iter()
        .flat_map(|b| {
            (0..b.num_rows())
                .map(|i| b.column(1).as_string::<i32>().value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("PilumScanExec"), "{text}");
    assert!(text.contains("predicate=((id > 990) AND (grp = 1))"), "{text}");
    assert!(
        !text.contains("FilterExec"),
        "exact pushdown needs no FilterExec:\n{text}"
    );
    let rows = query(&ctx, "SELECT name FROM t WHERE id > 990 AND grp = 1 ORDER BY name").await;
    let names: Vec<String> = rows
        .iter()
        .flat_map(|b| {
            (0..b.num_rows())
                .map(|i| b.column(0).as_string_view().value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(names, vec!["n991", "n994", "n997"]);
    let err = ctx.sql("SELECT nope FROM t").await;
    assert!(err.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_filters_are_sized_by_a_sample() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(&dir).await;
    // Small tables are sampled whole: 9 live rows of 1,000 match (deleted ones count too).
    let estimate = ds.estimate_selectivity("id > 990", 16).await.unwrap().unwrap();
    assert!((estimate - 0.009).abs() < 1e-9, "{estimate}");
    assert_eq!(
        ds.estimate_selectivity("id > 990", 0).await.unwrap(),
        None,
        "no blocks, no estimate"
    );
    assert!(ds.estimate_selectivity("nope > 1", 16).await.is_err(), "unknown column");
    let ctx = SessionContext::new();
    register_dataset(&ctx, "t", ds).unwrap();
    let plan = ctx
        .sql("SELECT name FROM t WHERE id > 990")
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let text = datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string();
    assert!(text.contains("selectivity=0.0090"), "{text}");
    let stats = datafusion::physical_plan::statistics::StatisticsContext::new()
        .compute(
            plan.as_ref(),
            &datafusion::physical_plan::statistics::StatisticsArgs::new(),
        )
        .unwrap();
    // 900 live rows × 0.009, rounded up.
    assert_eq!(
        stats.num_rows,
        datafusion::common::stats::Precision::Inexact(9),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_tables_are_sampled_in_spread_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let batches = (0..5).map(|i| batch(i * 10_000..(i + 1) * 10_000)).collect();
    let ds = common::write(&dir, "big", batches, 7_000).await;
    // 4 blocks of 1,024 rows out of 50,000; a third of the ids match in every block.
    let estimate = ds.estimate_selectivity("grp = 1", 4).await.unwrap().unwrap();
    assert!((estimate - 1.0 / 3.0).abs() < 0.01, "{estimate}");
    let late = ds.estimate_selectivity("id >= 40000", 4).await.unwrap().unwrap();
    assert!((late - 0.25).abs() < 0.01, "the last of 4 spread blocks: {late}");
}

/// Column statistics from the manifest: exact without deletions (so DataFusion
/// answers `min`/`max`/`count(col)` from metadata), inexact bounds after a
/// delete, and right answers either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_statistics_drive_planning_and_stay_correct() {
    use datafusion::catalog::TableProvider;
    use datafusion::common::ScalarValue;
    use datafusion::common::stats::Precision;
    let dir = tempfile::tempdir().unwrap();
    let names = |ids: std::ops::Range<i64>| {
        Arc::new(StringArray::from_iter(
            ids.map(|i| (i % 4 != 0).then(|| format!("n{i:04}"))),
        )) as ArrayRef
    };
    let part = |ids: std::ops::Range<i64>| {
        RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from_iter_values(ids.clone())) as ArrayRef),
            ("name", names(ids)),
        ])
        .unwrap()
    };
    let mut ds = common::write(&dir, "stats", vec![part(0..600), part(600..1000)], 300).await;
    let table = pilum_datafusion::PilumTable::new(ds.clone());
    let stats = table.statistics().unwrap();
    let (id, name) = (&stats.column_statistics[0], &stats.column_statistics[1]);
    assert_eq!(id.min_value, Precision::Exact(ScalarValue::Int64(Some(0))));
    assert_eq!(id.max_value, Precision::Exact(ScalarValue::Int64(Some(999))));
    assert_eq!(id.null_count, Precision::Exact(0));
    assert_eq!(name.null_count, Precision::Exact(250));
    // Presented as a view column, bounds are views too.
    assert_eq!(
        name.min_value,
        Precision::Exact(ScalarValue::Utf8View(Some("n0001".into())))
    );
    assert_eq!(
        name.max_value,
        Precision::Exact(ScalarValue::Utf8View(Some("n0999".into())))
    );

    let ctx = SessionContext::new();
    register_dataset(&ctx, "t", ds.clone()).unwrap();
    let sql = "SELECT max(id), min(id), count(name) FROM t";
    let plan = ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
    let text = datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string();
    assert!(!text.contains("PilumScanExec"), "answered from statistics:\n{text}");
    let answer = |batches: Vec<RecordBatch>| {
        (0..3)
            .map(|i| batches[0].column(i).as_primitive::<Int64Type>().value(0))
            .collect::<Vec<_>>()
    };
    assert_eq!(answer(query(&ctx, sql).await), vec![999, 0, 750]);

    ds.delete("id >= 990 OR id = 0 OR id = 1").await.unwrap();
    let table = pilum_datafusion::PilumTable::new(ds.clone());
    let stats = table.statistics().unwrap();
    assert_eq!(
        stats.column_statistics[0].max_value,
        Precision::Inexact(ScalarValue::Int64(Some(999)))
    );
    let ctx = SessionContext::new();
    register_dataset(&ctx, "t", ds).unwrap();
    let plan = ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
    let text = datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string();
    assert!(
        text.contains("PilumScanExec"),
        "inexact statistics need the scan:\n{text}"
    );
    // 0 and 1..=989 minus multiples of 4 (null names) among the deleted: 1 (n0001) and 990..999.
    let expected_names = 750 - 1 - (990..1000).filter(|i| i % 4 != 0).count() as i64;
    assert_eq!(answer(query(&ctx, sql).await), vec![989, 2, expected_names]);
}
