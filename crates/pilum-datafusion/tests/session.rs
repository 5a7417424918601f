//! The session helper: datasets by path, registration by URI and version,
//! time travel with `pilum_scan`, typed errors, and which filters are
//! pushed into the scan.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::Int64Array;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_schema::DataType;
use common::{batch, ints, plan_text, uri, write};
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use pilum_datafusion::{Session, SqlError, VersionSpec};
use pilum_table::TableError;
use std::collections::HashMap;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_by_version_tag_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = uri(&dir, "t");
    let mut ds = write(&dir, "t", vec![batch(0..10)], 100).await;
    ds.tags().create("first", 1).await.unwrap();
    let after_v1 = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    ds.delete("id < 4").await.unwrap();
    let session = Session::new();

    let count = |sql: String| {
        let session = session.clone();
        async move { ints(&session.collect(&sql).await.unwrap(), 0) }
    };
    assert_eq!(
        count(format!("SELECT count(*) FROM pilum_scan('{path}')")).await,
        vec![Some(6)]
    );
    assert_eq!(
        count(format!("SELECT count(*) FROM pilum_scan('{path}', 1)")).await,
        vec![Some(10)]
    );
    assert_eq!(
        count(format!("SELECT count(*) FROM pilum_scan('{path}', 'first')")).await,
        vec![Some(10)]
    );
    let at = after_v1.format("%Y-%m-%d %H:%M:%S%.6f");
    assert_eq!(
        count(format!("SELECT count(*) FROM pilum_scan('{path}', TIMESTAMP '{at}')")).await,
        vec![Some(10)]
    );
    // A dataset by path is its latest version; versions join with each other.
    assert_eq!(count(format!("SELECT count(*) FROM '{path}'")).await, vec![Some(6)]);
    let joined = format!(
        "SELECT count(*) FROM pilum_scan('{path}', 1) AS old LEFT JOIN '{path}' AS new ON old.id = new.id WHERE new.id IS NULL"
    );
    assert_eq!(count(joined).await, vec![Some(4)], "rows deleted since version 1");

    let missing_version = session.collect(&format!("SELECT * FROM pilum_scan('{path}', 9)")).await;
    assert!(
        matches!(
            missing_version,
            Err(SqlError::Table(TableError::VersionNotFound { version: 9 }))
        ),
        "{missing_version:?}"
    );
    let missing_tag = session
        .collect(&format!("SELECT * FROM pilum_scan('{path}', 'nope')"))
        .await;
    assert!(
        matches!(missing_tag, Err(SqlError::Table(TableError::TagNotFound { .. }))),
        "{missing_tag:?}"
    );
    let missing = session
        .collect("SELECT * FROM pilum_scan('/definitely/not/here')")
        .await;
    assert!(
        matches!(missing, Err(SqlError::Table(TableError::DatasetNotFound { .. }))),
        "{missing:?}"
    );
    for bad in [
        "SELECT * FROM pilum_scan()".to_string(),
        format!("SELECT * FROM pilum_scan('{path}', 1, 2)"),
        format!("SELECT * FROM pilum_scan('{path}', 1.5)"),
        "SELECT * FROM pilum_scan(42)".to_string(),
    ] {
        let result = session.collect(&bad).await;
        assert!(matches!(result, Err(SqlError::Plan(_))), "{bad}: {result:?}");
    }
    let unknown = session.collect("SELECT * FROM no_such_table").await;
    assert!(matches!(unknown, Err(SqlError::Plan(_))), "{unknown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_by_uri_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = uri(&dir, "t");
    let mut ds = write(&dir, "t", vec![batch(0..10)], 100).await;
    ds.delete("id = 0").await.unwrap();
    let session = Session::new();
    let latest = session.register_uri("t", &path, &HashMap::new()).await.unwrap();
    assert_eq!(latest.version(), 2);
    let old = session
        .register_uri_at("t1", &path, &VersionSpec::Version(1), &HashMap::new())
        .await
        .unwrap();
    assert_eq!(old.version(), 1);
    let rows = session
        .collect("SELECT (SELECT count(*) FROM t) AS a, (SELECT count(*) FROM t1) AS b")
        .await
        .unwrap();
    assert_eq!((ints(&rows, 0), ints(&rows, 1)), (vec![Some(9)], vec![Some(10)]));
    session.collect("DELETE FROM t WHERE id = 1").await.unwrap();
    assert_eq!(
        session.dataset("t").await.unwrap().unwrap().version(),
        3,
        "the table moved"
    );
    assert!(session.deregister("t1").unwrap());
    assert!(session.dataset("t1").await.unwrap().is_none());
    let missing = session.register_uri("m", &uri(&dir, "missing"), &HashMap::new()).await;
    assert!(matches!(
        missing,
        Err(SqlError::Table(TableError::DatasetNotFound { .. }))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_exactly_evaluable_filters_are_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let ds = write(&dir, "t", vec![batch(0..100)], 25).await;
    let session = Session::new();
    session.register("t", ds).unwrap();

    let plan = plan_text(
        &session
            .collect("EXPLAIN SELECT id FROM t WHERE id > 90 AND name IS NOT NULL")
            .await
            .unwrap(),
    );
    assert!(plan.contains("PilumScanExec") && !plan.contains("FilterExec"), "{plan}");
    // A volatile filter must be evaluated by DataFusion, once per row.
    let plan = plan_text(
        &session
            .collect("EXPLAIN SELECT id FROM t WHERE id > 90 AND random() < 2")
            .await
            .unwrap(),
    );
    assert!(
        plan.contains("FilterExec") && plan.contains("predicate=(id > 90)"),
        "{plan}"
    );
    // A filter over the session's own (immutable) function reaches the scan
    // as an expression that carries the function, so the scan evaluates it.
    let distance = |args: &[ColumnarValue]| {
        let values = args[0].clone().into_array(1)?;
        let distance: Int64Array = values
            .as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.map(|v| (v - 50).abs()))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(distance)))
    };
    session.context().register_udf(create_udf(
        "my_abs",
        vec![DataType::Int64],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(distance),
    ));
    let plan = plan_text(
        &session
            .collect("EXPLAIN SELECT id FROM t WHERE my_abs(id) < 3")
            .await
            .unwrap(),
    );
    assert!(
        plan.contains("predicate=(my_abs(id) < 3)") && !plan.contains("FilterExec"),
        "{plan}"
    );
    let rows = session
        .collect("SELECT id FROM t WHERE my_abs(id) < 3 ORDER BY id")
        .await
        .unwrap();
    assert_eq!(ints(&rows, 0), vec![Some(48), Some(49), Some(50), Some(51), Some(52)]);

    let rows = session
        .collect("SELECT count(*) FROM t WHERE score IS NULL OR name IS NULL")
        .await
        .unwrap();
    let expected = (0..100).filter(|i| i % 7 == 6 || i % 5 == 4).count() as i64;
    assert_eq!(ints(&rows, 0), vec![Some(expected)]);
    let rows = session
        .collect("SELECT id FROM t WHERE id >= 40 LIMIT 3")
        .await
        .unwrap();
    assert_eq!(ints(&rows, 0).len(), 3);
}
