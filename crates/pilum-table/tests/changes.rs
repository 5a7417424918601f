//! Row changes (delete, update, merge insert, stable row ids) and
//! zero-copy schema evolution; run against the in-memory store and the
//! local filesystem.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use pilum_table::*;
use std::sync::Arc;

#[tokio::test]
async fn delete_update_and_stable_row_ids() {
    for_each_backend(|t| async move {
        let mut ds = create(&t.location, vec![batch(0..300)], &small_files()).await;
        assert_eq!(ds.delete("id % 10 = 0").await.unwrap(), 30);
        assert_eq!(ds.count_rows(None).await.unwrap(), 270);
        assert_eq!(ds.delete("id < 0").await.unwrap(), 0);
        let live: Vec<i64> = (0..300).filter(|i| i % 10 != 0).collect();
        assert_eq!(ids(&ds).await, live);
        // take honours deletions: live position 0 is id 1.
        assert_eq!(
            column_i64(&ds.take(&[0, 9], Some(&["id"])).await.unwrap(), "id"),
            vec![1, 11]
        );
        assert!(matches!(
            ds.take_rows(&[10], None).await,
            Err(TableError::RowNotFound { row: 10 })
        ));
        // Update rewrites rows but keeps their ids.
        assert_eq!(
            ds.update(
                &[("value", "value + 1"), ("text", "upper(text)")],
                Some("id BETWEEN 41 AND 45")
            )
            .await
            .unwrap(),
            5
        );
        // Ids next to the moved ones still resolve (their runs overlap).
        assert_eq!(
            column_i64(&ds.take_rows(&[46, 41, 40 + 1], Some(&["id"])).await.unwrap(), "id"),
            vec![46, 41, 41]
        );
        let row = ds.take_rows(&[43], None).await.unwrap();
        assert_eq!(column_i64(&row, "value"), vec![431]);
        assert_eq!(
            row.column_by_name("text").unwrap().as_string::<i32>().value(0),
            "ROW 43"
        );
        assert_eq!(ds.count_rows(None).await.unwrap(), 270);
        // Delete everything in the first fragment: it leaves the manifest.
        let first = ds.fragments().await.unwrap()[0].id;
        ds.delete("id < 100").await.unwrap();
        assert!(ds.fragments().await.unwrap().iter().all(|f| f.id != first));
        // Compaction keeps row ids and old versions.
        let before = ds.scan().with_row_id(true).try_into_batch().await.unwrap();
        let version_before = ds.version();
        let metrics = ds
            .compact_files(&CompactionOptions {
                target_rows_per_fragment: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(metrics.fragments_removed >= 2);
        assert_eq!(ds.fragments().await.unwrap().len(), 1);
        assert!(ds.fragments().await.unwrap()[0].deletion.is_none());
        let after = ds.scan().with_row_id(true).try_into_batch().await.unwrap();
        let pairs = |b: &RecordBatch| {
            let mut v: Vec<(u64, i64)> = column_u64(b, ROW_ID).into_iter().zip(column_i64(b, "value")).collect();
            v.sort_unstable();
            v
        };
        assert_eq!(pairs(&before), pairs(&after));
        assert_eq!(
            column_i64(&ds.take_rows(&[143], Some(&["value"])).await.unwrap(), "value"),
            vec![1430]
        );
        let old = ds.checkout_version(version_before).await.unwrap();
        assert_eq!(old.count_rows(None).await.unwrap(), ds.count_rows(None).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn merge_insert_clauses() {
    for_each_backend(|t| async move {
        let ds = create(&t.location, vec![batch(0..10)], &WriteParams::default()).await;
        // Source: ids 5..15 with value = -id.
        let mut source = batch(5..15);
        let negated = Int64Array::from_iter_values((5..15).map(|i: i64| -i));
        let mut columns = source.columns().to_vec();
        columns[1] = Arc::new(negated);
        source = RecordBatch::try_new(source.schema(), columns).unwrap();
        let (ds, stats) = ds
            .merge_insert(["id"])
            .when_matched_update_all(Some("source.value < target.value AND target.id < 8"))
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(Some("id < 2"))
            .execute(stream_of(vec![source.clone()]))
            .await
            .unwrap();
        assert_eq!(
            stats,
            MergeStats {
                inserted: 5,
                updated: 3,
                deleted: 2
            }
        );
        let all = ds.scan().project(["id", "value"]).try_into_batch().await.unwrap();
        let mut rows: Vec<(i64, i64)> = column_i64(&all, "id")
            .into_iter()
            .zip(column_i64(&all, "value"))
            .collect();
        rows.sort_unstable();
        let mut expected: Vec<(i64, i64)> = (2..5).map(|i| (i, i * 10)).collect();
        expected.extend((5..8).map(|i| (i, -i)));
        expected.extend((8..10).map(|i| (i, i * 10)));
        expected.extend((10..15).map(|i| (i, -i)));
        assert_eq!(rows, expected);
        // Updated rows kept their row ids; inserted rows got new ones.
        assert_eq!(
            column_i64(&ds.take_rows(&[6], Some(&["value"])).await.unwrap(), "value"),
            vec![-6]
        );
        let (ds, stats) = ds
            .merge_insert(["id"])
            .when_not_matched_insert_all()
            .execute(stream_of(vec![source]))
            .await
            .unwrap();
        assert_eq!(stats, MergeStats::default());
        let mut dup = batch(0..2);
        dup = arrow_select::concat::concat_batches(&dup.schema(), &[dup.clone(), dup]).unwrap();
        let err = ds
            .merge_insert(["id"])
            .when_matched_update_all(None)
            .execute(stream_of(vec![dup]))
            .await;
        assert!(matches!(err, Err(TableError::InvalidArgument(_))));
    })
    .await;
}

/// Hashes every data file so tests can prove they were not rewritten.
async fn data_files(ds: &Dataset) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for meta in ds.location().list("data").await.unwrap() {
        let bytes = ds.location().get(&meta.location).await.unwrap();
        out.push((meta.location.to_string(), bytes.to_vec()));
    }
    out.sort();
    out
}

#[tokio::test]
async fn schema_evolution_is_zero_copy() {
    for_each_backend(|t| async move {
        let mut ds = create(&t.location, vec![batch(0..250)], &small_files()).await;
        ds.delete("id = 3").await.unwrap();
        let original = data_files(&ds).await;
        ds.add_columns(NewColumns::Sql(vec![
            ("doubled".into(), "value * 2".into()),
            ("label".into(), "concat('#', CAST(id AS VARCHAR))".into()),
        ]))
        .await
        .unwrap();
        let after_add = data_files(&ds).await;
        assert!(
            original.iter().all(|f| after_add.contains(f)),
            "existing files untouched"
        );
        assert_eq!(
            after_add.len(),
            original.len() + ds.fragments().await.unwrap().len(),
            "one new file per fragment"
        );
        let rows = ds
            .scan()
            .project(["id", "doubled", "label"])
            .filter("id = 7")
            .try_into_batch()
            .await
            .unwrap();
        assert_eq!(column_i64(&rows, "doubled"), vec![140]);
        assert_eq!(rows.column_by_name("label").unwrap().as_string::<i32>().value(0), "#7");
        ds.add_columns(NewColumns::AllNulls(vec![Field::new(
            "embedding",
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), 8),
            true,
        )]))
        .await
        .unwrap();
        assert_eq!(data_files(&ds).await, after_add, "all-null columns are metadata only");
        assert_eq!(nulls_in(&ds, "embedding").await, 249);
        // Merge a column from Arrow data joined on id (missing keys give nulls).
        let extra_schema = Arc::new(Schema::new(vec![
            Field::new("key", DataType::Int64, false),
            Field::new("score", DataType::Int64, true),
        ]));
        let extra = RecordBatch::try_new(
            extra_schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(Int64Array::from(vec![100, 200])),
            ],
        )
        .unwrap();
        ds.merge(extra_schema, stream_of(vec![extra]), "id", "key")
            .await
            .unwrap();
        let scores = ds
            .scan()
            .project(["score"])
            .filter("id < 3")
            .try_into_batch()
            .await
            .unwrap();
        let scores = scores.column(0).as_primitive::<Int64Type>();
        assert_eq!((scores.is_null(0), scores.value(1), scores.value(2)), (true, 100, 200));
        let before_metadata_ops = data_files(&ds).await;
        ds.drop_columns(&["text"]).await.unwrap();
        ds.alter_columns(&[ColumnAlteration {
            path: "value".into(),
            rename: Some("amount".into()),
            ..Default::default()
        }])
        .await
        .unwrap();
        assert_eq!(
            data_files(&ds).await,
            before_metadata_ops,
            "drop and rename are metadata only"
        );
        assert!(ds.schema().index_of("text").is_err());
        assert_eq!(
            column_i64(
                &ds.scan()
                    .project(["amount"])
                    .filter("id = 5")
                    .try_into_batch()
                    .await
                    .unwrap(),
                "amount"
            ),
            vec![50]
        );
        // Re-adding a dropped name gets a new field id: old data does not come back.
        ds.add_columns(NewColumns::AllNulls(vec![Field::new("text", DataType::Utf8, true)]))
            .await
            .unwrap();
        assert_eq!(nulls_in(&ds, "text").await, 249);
        // Cast rewrites only that column.
        ds.alter_columns(&[ColumnAlteration {
            path: "amount".into(),
            data_type: Some(DataType::Float64),
            ..Default::default()
        }])
        .await
        .unwrap();
        let after_cast = data_files(&ds).await;
        assert!(before_metadata_ops.iter().all(|f| after_cast.contains(f)));
        let amounts = ds
            .scan()
            .project(["amount"])
            .filter("id = 5")
            .try_into_batch()
            .await
            .unwrap();
        assert_eq!(
            amounts
                .column(0)
                .as_primitive::<arrow_array::types::Float64Type>()
                .value(0),
            50.0
        );
        // Appends after the cast use the new type; old versions still read.
        let v1 = ds.checkout_version(1).await.unwrap();
        assert_eq!(
            column_i64(
                &v1.scan()
                    .project(["value"])
                    .filter("id = 5")
                    .try_into_batch()
                    .await
                    .unwrap(),
                "value"
            ),
            vec![50]
        );
        assert!(matches!(
            ds.drop_columns(&["missing"]).await,
            Err(TableError::ColumnNotFound { .. })
        ));
        // Nullability: allowed when no value is null, refused otherwise; metadata only.
        ds.alter_columns(&[ColumnAlteration {
            path: "doubled".into(),
            nullable: Some(false),
            ..Default::default()
        }])
        .await
        .unwrap();
        assert!(!ds.schema().field_with_name("doubled").unwrap().is_nullable());
        let refused = ds
            .alter_columns(&[ColumnAlteration {
                path: "score".into(),
                nullable: Some(false),
                ..Default::default()
            }])
            .await;
        assert!(matches!(refused, Err(TableError::InvalidArgument(_))), "{refused:?}");
        assert_eq!(data_files(&ds).await, after_cast);
    })
    .await;
}

/// Null count of column `name` over a scan of `ds`.
async fn nulls_in(ds: &Dataset, name: &str) -> usize {
    ds.scan()
        .project([name])
        .try_into_batch()
        .await
        .unwrap()
        .column(0)
        .null_count()
}

/// Conditions given as DataFusion expressions select, delete and update
/// exactly the rows their SQL spelling does.
#[tokio::test]
async fn typed_predicates_match_their_sql_spelling() {
    use datafusion::prelude::{col, lit};
    for_each_backend(|t| async move {
        let ds = create(&t.location, vec![batch(0..300)], &small_files()).await;
        let typed = col("id").gt(lit(250i64)).or((col("id") % lit(7i64)).eq(lit(0i64)));
        let sql = "id > 250 OR id % 7 = 0";
        let by_expr = ds
            .scan()
            .project(["id"])
            .filter(typed.clone())
            .try_into_batch()
            .await
            .unwrap();
        let by_sql = ds.scan().project(["id"]).filter(sql).try_into_batch().await.unwrap();
        assert_eq!(column_i64(&by_expr, "id"), column_i64(&by_sql, "id"));
        assert_eq!(
            ds.scan().filter(typed.clone()).count_rows().await.unwrap(),
            by_sql.num_rows() as u64
        );
        let mut deleted = ds.clone();
        assert_eq!(deleted.delete(typed.clone()).await.unwrap(), by_sql.num_rows() as u64);
        let survivors: Vec<i64> = (0..300).filter(|i| !(*i > 250 || i % 7 == 0)).collect();
        assert_eq!(ids(&deleted).await, survivors);
        // The update starts from the handle's version and re-runs on the
        // latest one, where the delete above removed id 0.
        let mut updated = ds.clone();
        let changed = updated
            .update_matching(&[("value", "value * 2")], Some(col("id").lt(lit(3i64)).into()))
            .await
            .unwrap();
        assert_eq!(changed, 2);
        let values = updated
            .scan()
            .project(["value"])
            .filter("id < 3")
            .try_into_batch()
            .await
            .unwrap();
        assert_eq!(column_i64(&values, "value"), vec![20, 40]);
        // A typed condition that is not boolean, or names no column, is refused.
        let mut refused = ds.clone();
        assert!(refused.delete(col("id")).await.is_err());
        assert!(refused.delete(col("nope").gt(lit(1i64))).await.is_err());
        assert_eq!(refused.count_rows(None).await.unwrap(), 300);
    })
    .await;
}
