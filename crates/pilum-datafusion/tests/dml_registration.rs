//! DML through every way a Pilum table reaches a DataFusion context: the
//! provider itself refuses a `DELETE`/`UPDATE` unless the session runs the
//! DML guard, so a statement whose conditions DataFusion rewrote (subqueries
//! decorrelated into joins, `EXISTS`, scalar subqueries) can never reach the
//! table as a weaker predicate, however the table was registered.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{batch, count, ints, uri, version_count, write};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use pilum_datafusion::{PilumTable, PilumTableFactory, Session, SqlError, install_dml_guard, register_dataset};
use std::sync::Arc;

/// Statements whose conditions DataFusion rewrites before the provider sees
/// them, each with the SELECT that counts the rows it names.
const REWRITTEN: &[(&str, &str)] = &[
    (
        "DELETE FROM t WHERE id IN (SELECT id FROM o)",
        "SELECT count(*) FROM t WHERE id IN (SELECT id FROM o)",
    ),
    (
        "DELETE FROM t WHERE id NOT IN (SELECT id FROM o)",
        "SELECT count(*) FROM t WHERE id NOT IN (SELECT id FROM o)",
    ),
    (
        "DELETE FROM t WHERE EXISTS (SELECT 1 FROM o WHERE o.id = t.id)",
        "SELECT count(*) FROM t WHERE EXISTS (SELECT 1 FROM o WHERE o.id = t.id)",
    ),
    (
        "DELETE FROM t WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.id = t.id)",
        "SELECT count(*) FROM t WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.id = t.id)",
    ),
    (
        "DELETE FROM t WHERE id IN (SELECT o.id FROM o WHERE o.score = t.score)",
        "SELECT count(*) FROM t WHERE id IN (SELECT o.id FROM o WHERE o.score = t.score)",
    ),
    (
        "DELETE FROM t WHERE id > (SELECT max(id) FROM o) AND id < 40",
        "SELECT count(*) FROM t WHERE id > (SELECT max(id) FROM o) AND id < 40",
    ),
    (
        "UPDATE t SET score = 0 WHERE id IN (SELECT id FROM o)",
        "SELECT count(*) FROM t WHERE id IN (SELECT id FROM o)",
    ),
    (
        "UPDATE t SET score = (SELECT max(score) FROM o) WHERE id < 5",
        "SELECT count(*) FROM t WHERE id < 5",
    ),
];

/// A statement every guarded path applies, and the rows it deletes.
const PLAIN_DELETE: (&str, u64) = ("DELETE FROM t WHERE id >= 45 OR name IS NULL", 14);

async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<arrow_array::RecordBatch>, SqlError> {
    let frame = ctx.sql(sql).await.map_err(SqlError::from)?;
    frame.collect().await.map_err(SqlError::from)
}

async fn live_rows(ctx: &SessionContext) -> i64 {
    let rows = run(ctx, "SELECT count(*) FROM t").await.unwrap();
    ints(&rows, 0)[0].unwrap()
}

/// Every rewritten statement fails and leaves the table as it was.
async fn assert_rewritten_refused(ctx: &SessionContext, path: &str) {
    let versions = version_count(path).await;
    for (statement, select) in REWRITTEN {
        // The rows the statement names: a DELETE that lost its subquery would take more.
        let named = ints(&run(ctx, select).await.unwrap(), 0)[0].unwrap();
        assert!(named < 50, "{select} names {named} of 50 rows");
        let result = run(ctx, statement).await;
        assert!(
            matches!(result, Err(SqlError::Unsupported(_))),
            "{statement}: {result:?}"
        );
        assert_eq!(live_rows(ctx).await, 50, "{statement} changed nothing");
    }
    assert_eq!(version_count(path).await, versions, "nothing committed");
}

async fn fixture() -> (tempfile::TempDir, String, pilum_table::Dataset, pilum_table::Dataset) {
    let dir = tempfile::tempdir().unwrap();
    let path = uri(&dir, "t");
    let t = write(&dir, "t", vec![batch(0..50)], 20).await;
    let o = write(&dir, "o", vec![batch(0..3)], 20).await;
    (dir, path, t, o)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_table_on_a_plain_context_refuses_dml_until_guarded() {
    let (_dir, path, t, o) = fixture().await;
    let ctx = SessionContext::new();
    ctx.register_table("t", Arc::new(PilumTable::new(t))).unwrap();
    ctx.register_table("o", Arc::new(PilumTable::new(o))).unwrap();

    assert_rewritten_refused(&ctx, &path).await;
    // Without the guard, even a plain DELETE is refused: the provider cannot
    // tell whether DataFusion dropped part of its condition.
    for statement in ["DELETE FROM t WHERE id < 5", "UPDATE t SET score = 1 WHERE id < 5"] {
        let result = run(&ctx, statement).await;
        let Err(SqlError::Unsupported(message)) = &result else {
            panic!("{statement}: {result:?}");
        };
        assert!(message.contains("install_dml_guard"), "{message}");
    }

    install_dml_guard(&ctx);
    assert_rewritten_refused(&ctx, &path).await;
    let deleted = run(&ctx, PLAIN_DELETE.0).await.unwrap();
    assert_eq!(count(&deleted), PLAIN_DELETE.1);
    assert_eq!(live_rows(&ctx).await, 50 - PLAIN_DELETE.1 as i64);
    assert_eq!(version_count(&path).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_factory_on_a_plain_context_refuses_dml() {
    let (dir, path, _t, _o) = fixture().await;
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_table_factory("PILUM".into(), Arc::new(PilumTableFactory::default()))
        .build();
    let ctx = SessionContext::new_with_state(state);
    for name in ["t", "o"] {
        let location = uri(&dir, name);
        run(
            &ctx,
            &format!("CREATE EXTERNAL TABLE {name} STORED AS PILUM LOCATION '{location}'"),
        )
        .await
        .unwrap();
    }
    assert_rewritten_refused(&ctx, &path).await;
    let plain = run(&ctx, PLAIN_DELETE.0).await;
    assert!(matches!(plain, Err(SqlError::Unsupported(_))), "{plain:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_paths_refuse_rewritten_statements_and_apply_plain_ones() {
    // Session::register, the table factory inside a Session, and register_dataset.
    for path_kind in ["session", "session_factory", "register_dataset"] {
        let (dir, path, t, o) = fixture().await;
        let session = Session::new();
        let ctx = session.context().clone();
        match path_kind {
            "session" => {
                session.register("t", t).unwrap();
                session.register("o", o).unwrap();
            }
            "session_factory" => {
                for name in ["t", "o"] {
                    let location = uri(&dir, name);
                    session
                        .collect(&format!(
                            "CREATE EXTERNAL TABLE {name} STORED AS PILUM LOCATION '{location}'"
                        ))
                        .await
                        .unwrap();
                }
            }
            _ => {
                let ctx = SessionContext::new();
                register_dataset(&ctx, "t", t).unwrap();
                register_dataset(&ctx, "o", o).unwrap();
                assert_rewritten_refused(&ctx, &path).await;
                assert_eq!(count(&run(&ctx, PLAIN_DELETE.0).await.unwrap()), PLAIN_DELETE.1);
                continue;
            }
        }
        assert_rewritten_refused(&ctx, &path).await;
        let deleted = run(&ctx, PLAIN_DELETE.0).await.unwrap();
        assert_eq!(count(&deleted), PLAIN_DELETE.1, "{path_kind}");
        assert_eq!(live_rows(&ctx).await, 50 - PLAIN_DELETE.1 as i64, "{path_kind}");
    }
}
