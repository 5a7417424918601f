//! DML through DataFusion's provider hooks: each statement that changes rows
//! commits exactly one version, the next query sees it, and statements the
//! hooks cannot apply exactly are refused without touching the dataset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use common::{batch, count, ints, plan_text, uri, version_count, write};
use datafusion::prelude::SessionContext;
use pilum_datafusion::{PilumTable, Session, SqlError, register_dataset};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_statement_commits_one_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = uri(&dir, "t");
    let ds = write(&dir, "t", vec![batch(0..100)], 30).await;
    let session = Session::new();
    session.register("t", ds).unwrap();
    assert_eq!(version_count(&path).await, 1);

    let inserted = session
        .collect("INSERT INTO t VALUES (100, 'new', 1.5), (101, NULL, NULL)")
        .await
        .unwrap();
    assert_eq!(count(&inserted), 2);
    assert_eq!(version_count(&path).await, 2);
    let rows = session.collect("SELECT count(*), count(name) FROM t").await.unwrap();
    assert_eq!(ints(&rows, 0), vec![Some(102)]);
    assert_eq!(ints(&rows, 1), vec![Some(102 - 20 - 1)], "nulls inserted as nulls");

    let deleted = session.collect("DELETE FROM t WHERE id % 2 = 0").await.unwrap();
    assert_eq!(count(&deleted), 51);
    assert_eq!(version_count(&path).await, 3);
    let left = session
        .collect("SELECT count(*) FROM t WHERE id % 2 = 0")
        .await
        .unwrap();
    assert_eq!(ints(&left, 0), vec![Some(0)], "deleted rows never appear");

    let updated = session
        .collect("UPDATE t SET name = upper(name), score = score * 2 WHERE id < 10")
        .await
        .unwrap();
    assert_eq!(count(&updated), 5, "odd ids below 10");
    assert_eq!(version_count(&path).await, 4);
    let rows = session
        .collect("SELECT id, name, score FROM t WHERE id < 10 ORDER BY id")
        .await
        .unwrap();
    assert_eq!(ints(&rows, 0), vec![Some(1), Some(3), Some(5), Some(7), Some(9)]);
    let names: Vec<Option<&str>> = rows.iter().flat_map(|b| b.column(1).as_string_view().iter()).collect();
    assert_eq!(names, vec![Some("N1"), Some("N3"), Some("N5"), Some("N7"), None]);
    let scores: Vec<Option<f64>> = rows
        .iter()
        .flat_map(|b| b.column(2).as_primitive::<Float64Type>().iter())
        .collect();
    assert_eq!(scores, vec![Some(1.0), Some(3.0), Some(5.0), Some(7.0), Some(9.0)]);

    // Statements that change nothing commit nothing.
    let none = session.collect("DELETE FROM t WHERE id > 1000").await.unwrap();
    assert_eq!(count(&none), 0);
    let none = session
        .collect("UPDATE t SET score = 0 WHERE name = 'nobody'")
        .await
        .unwrap();
    assert_eq!(count(&none), 0);
    let none = session
        .collect("INSERT INTO t SELECT * FROM t WHERE id < 0")
        .await
        .unwrap();
    assert_eq!(count(&none), 0);
    assert_eq!(version_count(&path).await, 4);

    // INSERT ... SELECT from the table itself reads the version before the insert.
    let copied = session
        .collect("INSERT INTO t SELECT id + 1000, name, score FROM t")
        .await
        .unwrap();
    assert_eq!(count(&copied), 51);
    assert_eq!(version_count(&path).await, 5);
    let rows = session.collect("SELECT count(*) FROM t").await.unwrap();
    assert_eq!(ints(&rows, 0), vec![Some(102)]);

    let replaced = session
        .collect("INSERT OVERWRITE t SELECT id, name, score FROM t WHERE id >= 1000 AND id < 1010")
        .await
        .unwrap();
    assert_eq!(count(&replaced), 5);
    assert_eq!(version_count(&path).await, 6);
    let rows = session.collect("SELECT min(id), count(*) FROM t").await.unwrap();
    assert_eq!((ints(&rows, 0), ints(&rows, 1)), (vec![Some(1001)], vec![Some(5)]));

    let truncated = session.collect("TRUNCATE TABLE t").await.unwrap();
    assert_eq!(count(&truncated), 5);
    assert_eq!(version_count(&path).await, 7);
    let rows = session.collect("SELECT count(*) FROM t").await.unwrap();
    assert_eq!(ints(&rows, 0), vec![Some(0)]);

    // The versions are real: older ones still read as they were.
    let v3 = session
        .collect(&format!("SELECT count(*) FROM pilum_scan('{path}', 3)"))
        .await
        .unwrap();
    assert_eq!(ints(&v3, 0), vec![Some(51)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_dataset_supports_dml_on_a_plain_context() {
    let dir = tempfile::tempdir().unwrap();
    let path = uri(&dir, "t");
    let ds = write(&dir, "t", vec![batch(0..10)], 100).await;
    let ctx = SessionContext::new();
    register_dataset(&ctx, "t", ds).unwrap();
    let deleted = ctx
        .sql("DELETE FROM t WHERE name IS NULL")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(count(&deleted), 2);
    let refused = ctx
        .sql("DELETE FROM t WHERE id IN (SELECT 1)")
        .await
        .unwrap()
        .collect()
        .await;
    assert!(refused.is_err(), "the guard is installed by register_dataset");
    assert_eq!(version_count(&path).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_statements_it_cannot_apply_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = uri(&dir, "t");
    let ds = write(&dir, "t", vec![batch(0..50)], 20).await;
    let other = write(&dir, "o", vec![batch(0..3)], 20).await;
    let session = Session::new();
    session.register("t", ds.clone()).unwrap();
    session.register("o", other).unwrap();
    session
        .context()
        .register_table("snap", Arc::new(PilumTable::snapshot(ds)))
        .unwrap();

    for statement in [
        "DELETE FROM t WHERE id IN (SELECT id FROM o)",
        "DELETE FROM t WHERE EXISTS (SELECT 1 FROM o WHERE o.id = t.id)",
        "DELETE FROM t WHERE id > (SELECT max(id) FROM o)",
        "UPDATE t SET score = (SELECT max(score) FROM o)",
        "UPDATE t SET score = 0 WHERE id IN (SELECT id FROM o)",
    ] {
        let result = match session.sql(statement).await {
            Ok(frame) => frame.collect().await.map_err(SqlError::from),
            Err(e) => Err(e),
        };
        assert!(
            matches!(result, Err(SqlError::Unsupported(_))),
            "{statement}: {result:?}"
        );
    }
    let snapshot = session.collect("DELETE FROM snap WHERE id = 1").await;
    assert!(matches!(snapshot, Err(SqlError::Plan(_))), "{snapshot:?}");
    let unknown = session.collect("UPDATE t SET nope = 1").await;
    assert!(matches!(unknown, Err(SqlError::Plan(_))), "{unknown:?}");
    assert_eq!(version_count(&path).await, 1, "nothing committed");
    let rows = session.collect("SELECT count(*) FROM t").await.unwrap();
    assert_eq!(ints(&rows, 0), vec![Some(50)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_plans_without_committing() {
    let dir = tempfile::tempdir().unwrap();
    let path = uri(&dir, "t");
    let ds = write(&dir, "t", vec![batch(0..10)], 100).await;
    let session = Session::new();
    session.register("t", ds).unwrap();
    let plan = plan_text(&session.collect("EXPLAIN DELETE FROM t WHERE id < 5").await.unwrap());
    assert!(
        plan.contains("PilumDeleteExec") && plan.contains("predicate=(id < 5)"),
        "{plan}"
    );
    let plan = plan_text(
        &session
            .collect("EXPLAIN UPDATE t SET score = id WHERE id < 5")
            .await
            .unwrap(),
    );
    assert!(plan.contains("PilumUpdateExec"), "{plan}");
    let plan = plan_text(
        &session
            .collect("EXPLAIN INSERT INTO t VALUES (1, 'a', 2.0)")
            .await
            .unwrap(),
    );
    assert!(plan.contains("PilumSink"), "{plan}");
    assert_eq!(version_count(&path).await, 1);
}
