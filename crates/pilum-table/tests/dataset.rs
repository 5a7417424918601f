//! End-to-end dataset tests, run against the in-memory store and the local filesystem.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use pilum_table::*;
use std::sync::Arc;
use std::time::Duration;

async fn for_each_backend<F, Fut>(test: F)
where
    F: Fn(TestLocation) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    test(TestLocation::new(Backend::Memory)).await;
    test(TestLocation::new(Backend::Local)).await;
}

fn small_files() -> WriteParams {
    WriteParams {
        max_rows_per_file: 100,
        ..WriteParams::default()
    }
}

#[tokio::test]
async fn create_append_overwrite_and_time_travel() {
    for_each_backend(|t| async move {
        let loc = &t.location;
        let mut ds = create(loc, vec![batch(0..250)], &small_files()).await;
        assert_eq!(ds.version(), 1);
        assert_eq!(ds.fragments().len(), 3);
        assert_eq!(ds.count_rows(None).await.unwrap(), 250);
        ds.append(stream_of(vec![batch(250..300)]), &small_files())
            .await
            .unwrap();
        assert_eq!(ds.version(), 2);
        assert_eq!(ids(&ds).await, (0..300).collect::<Vec<_>>());
        ds.tags().create("before-overwrite", 2).await.unwrap();
        let over = Dataset::write(
            loc.clone(),
            schema(),
            stream_of(vec![batch(1000..1010)]),
            WriteMode::Overwrite,
            &WriteParams::default(),
        )
        .await
        .unwrap();
        assert_eq!(over.version(), 3);
        assert_eq!(ids(&over).await, (1000..1010).collect::<Vec<_>>());
        let reopened = Dataset::open_location(loc.clone()).await.unwrap();
        assert_eq!(reopened.version(), 3);
        let v1 = reopened.checkout_version(1).await.unwrap();
        assert_eq!(v1.count_rows(None).await.unwrap(), 250);
        let tagged = reopened.checkout_tag("before-overwrite").await.unwrap();
        assert_eq!(tagged.version(), 2);
        let as_of = reopened.checkout_as_of(v1.timestamp()).await.unwrap();
        assert_eq!(as_of.version(), 1);
        let naive_local = v1.timestamp().with_timezone(&chrono::Local).naive_local();
        assert_eq!(reopened.checkout_as_of_local(naive_local).await.unwrap().version(), 1);
        let in_tokyo = v1
            .timestamp()
            .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap());
        assert_eq!(
            reopened
                .checkout_as_of(in_tokyo.with_timezone(&chrono::Utc))
                .await
                .unwrap()
                .version(),
            1
        );
        // Tags move and disappear.
        reopened.tags().create("moving", 1).await.unwrap();
        reopened.tags().update("moving", 3).await.unwrap();
        let tags: Vec<(String, u64)> = reopened
            .tags()
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.name, t.version))
            .collect();
        assert_eq!(
            tags,
            vec![("before-overwrite".to_string(), 2), ("moving".to_string(), 3)]
        );
        reopened.tags().delete("moving").await.unwrap();
        assert!(matches!(
            reopened.tags().delete("moving").await,
            Err(TableError::TagNotFound { .. })
        ));
        assert!(matches!(
            reopened
                .checkout_as_of(v1.timestamp() - chrono::Duration::seconds(10))
                .await,
            Err(TableError::NoVersionAsOf { .. })
        ));
        let versions = reopened.versions().await.unwrap();
        let ops: Vec<Operation> = versions.iter().map(|v| v.operation).collect();
        assert_eq!(ops, vec![Operation::Create, Operation::Append, Operation::Overwrite]);
        assert_eq!(
            versions.iter().map(|v| v.num_rows).collect::<Vec<_>>(),
            vec![250, 300, 10]
        );
        // Restore makes version 1's rows the latest, as a new version.
        let mut old = reopened.checkout_version(1).await.unwrap();
        old.restore().await.unwrap();
        assert_eq!(old.version(), 4);
        assert_eq!(
            Dataset::open_location(loc.clone())
                .await
                .unwrap()
                .count_rows(None)
                .await
                .unwrap(),
            250
        );
    })
    .await;
}

#[tokio::test]
async fn files_are_cut_by_rows_and_by_bytes() {
    let t = TestLocation::new(Backend::Memory);
    let by_rows = create(
        &t.location,
        vec![batch(0..1000)],
        &WriteParams {
            max_rows_per_file: 300,
            ..Default::default()
        },
    )
    .await;
    let rows: Vec<u64> = by_rows.fragments().iter().map(|f| f.physical_rows).collect();
    assert_eq!(rows, vec![300, 300, 300, 100]);
    let t = TestLocation::new(Backend::Memory);
    // About 100 bytes per row in memory: 20 KB files hold ~200 rows.
    let by_bytes = create(
        &t.location,
        vec![batch(0..1000)],
        &WriteParams {
            max_bytes_per_file: 20_000,
            ..Default::default()
        },
    )
    .await;
    assert!(
        by_bytes.fragments().len() >= 3,
        "{} fragments",
        by_bytes.fragments().len()
    );
    assert_eq!(ids(&by_bytes).await, (0..1000).collect::<Vec<_>>());
}

/// A table of fewer rows than the scan reads at once is split into tasks
/// of at least 1,024 rows, one per batch read concurrently, so every core
/// decodes; rows come back complete and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_tables_scan_in_parallel_tasks() {
    let t = TestLocation::new(Backend::Memory);
    let ds = create(&t.location, vec![batch(0..5000)], &WriteParams::default()).await;
    let batches: Vec<RecordBatch> = futures::TryStreamExt::try_collect(
        ds.scan()
            .project(["id"])
            .parallelism(4)
            .try_into_stream()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let sizes: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(sizes, vec![1250; 4]);
    let small_batches = ds
        .scan()
        .project(["id"])
        .parallelism(8)
        .batch_size(500)
        .try_into_stream()
        .await
        .unwrap();
    let sizes: Vec<usize> = futures::TryStreamExt::try_collect::<Vec<RecordBatch>>(small_batches)
        .await
        .unwrap()
        .iter()
        .map(RecordBatch::num_rows)
        .collect();
    assert_eq!(sizes, vec![500; 10], "a batch size below the floor is kept");
    assert_eq!(ids(&ds).await, (0..5000).collect::<Vec<_>>());
}

/// Tasks of wide rows (documents) hold about 8 MiB of decoded values, not a
/// full batch: 8 KB rows come back about 1,000 to a batch, complete and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_of_wide_rows_cut_batches_by_decoded_bytes() {
    let t = TestLocation::new(Backend::Memory);
    let rows = 3000usize;
    let text: arrow_array::StringArray = (0..rows).map(|i| Some(format!("{i:08}").repeat(1000))).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from_iter_values(0..rows as i64)), Arc::new(text)],
    )
    .unwrap();
    let schema = batch.schema();
    let ds = Dataset::write(
        t.location.clone(),
        schema,
        stream_of(vec![batch]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    let batches: Vec<RecordBatch> =
        futures::TryStreamExt::try_collect(ds.scan().parallelism(2).try_into_stream().await.unwrap())
            .await
            .unwrap();
    let sizes: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
    // 8,000 text bytes + a 4-byte offset + an 8-byte id per row: 8 MiB / 8,012 B = 1,047 rows.
    assert_eq!(sizes, vec![1047, 1047, 906], "8 KB rows: 8 MiB tasks");
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ids, (0..rows as i64).collect::<Vec<_>>());
    let narrow: Vec<RecordBatch> = futures::TryStreamExt::try_collect(
        ds.scan()
            .project(["id"])
            .parallelism(2)
            .try_into_stream()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(narrow.len(), 2, "narrow projections keep row-count tasks");
}

#[tokio::test]
async fn bad_inputs_give_typed_errors() {
    for_each_backend(|t| async move {
        let loc = &t.location;
        assert!(matches!(
            Dataset::open_location(loc.clone()).await,
            Err(TableError::DatasetNotFound { .. })
        ));
        let mut ds = create(loc, vec![batch(0..10)], &WriteParams::default()).await;
        let again = Dataset::write(
            loc.clone(),
            schema(),
            stream_of(vec![batch(0..1)]),
            WriteMode::Create,
            &WriteParams::default(),
        )
        .await;
        assert!(matches!(again, Err(TableError::DatasetAlreadyExists { .. })));
        let other = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)]));
        let wrong = RecordBatch::try_new(other, vec![Arc::new(arrow_array::StringArray::from(vec!["x"]))]).unwrap();
        assert!(matches!(
            ds.append(stream_of(vec![wrong]), &WriteParams::default()).await,
            Err(TableError::SchemaMismatch { .. })
        ));
        assert!(matches!(
            ds.scan().filter("nope = 1").try_into_batch().await,
            Err(TableError::ColumnNotFound { .. })
        ));
        assert!(matches!(
            ds.scan().filter("id = = 1").try_into_batch().await,
            Err(TableError::InvalidExpression { .. })
        ));
        assert!(matches!(
            ds.delete("id +").await,
            Err(TableError::InvalidExpression { .. })
        ));
        assert!(matches!(
            ds.checkout_version(99).await,
            Err(TableError::VersionNotFound { version: 99 })
        ));
        assert!(matches!(
            ds.checkout_tag("missing").await,
            Err(TableError::TagNotFound { .. })
        ));
        assert!(matches!(
            ds.tags().create("../escape", 1).await,
            Err(TableError::InvalidTagName { .. })
        ));
        assert!(matches!(
            ds.tags().create("t", 7).await,
            Err(TableError::VersionNotFound { .. })
        ));
        ds.tags().create("t", 1).await.unwrap();
        assert!(matches!(
            ds.tags().create("t", 1).await,
            Err(TableError::TagAlreadyExists { .. })
        ));
        assert!(matches!(
            ds.scan().project(["missing"]).try_into_batch().await,
            Err(TableError::ColumnNotFound { .. })
        ));
        assert!(matches!(
            ds.take(&[10], None).await,
            Err(TableError::RowNotFound { .. })
        ));
        // Nothing above changed the data.
        assert_eq!(ds.version(), 1);
        assert_eq!(ids(&ds).await, (0..10).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn scanner_filters_limits_and_row_ids() {
    for_each_backend(|t| async move {
        let ds = create(&t.location, vec![batch(0..1000)], &small_files()).await;
        let even = ds
            .scan()
            .filter("id % 2 = 0 AND text LIKE 'row 1%'")
            .project(["id", "value"])
            .try_into_batch()
            .await
            .unwrap();
        let expected: Vec<i64> = (0..1000)
            .filter(|i| i % 2 == 0 && i.to_string().starts_with('1'))
            .collect();
        assert_eq!(column_i64(&even, "id"), expected);
        assert_eq!(
            column_i64(&even, "value"),
            expected.iter().map(|i| i * 10).collect::<Vec<_>>()
        );
        for style in [Materialization::Early, Materialization::Late, Materialization::Auto] {
            let rows = ds
                .scan()
                .filter("id >= 990")
                .materialization(style)
                .try_into_batch()
                .await
                .unwrap();
            assert_eq!(
                column_i64(&rows, "value"),
                (990..1000).map(|i| i * 10).collect::<Vec<_>>()
            );
            assert_eq!(
                rows.column_by_name("text").unwrap().as_string::<i32>().value(0),
                "row 990"
            );
        }
        let page = ds
            .scan()
            .project(["id"])
            .limit(Some(15), Some(195))
            .batch_size(7)
            .try_into_batch()
            .await
            .unwrap();
        assert_eq!(column_i64(&page, "id"), (195..210).collect::<Vec<_>>());
        let filtered_page = ds
            .scan()
            .filter("id % 3 = 0")
            .limit(Some(4), Some(2))
            .try_into_batch()
            .await
            .unwrap();
        assert_eq!(column_i64(&filtered_page, "id"), vec![6, 9, 12, 15]);
        let with_ids = ds
            .scan()
            .project(["id"])
            .with_row_id(true)
            .with_row_address(true)
            .try_into_batch()
            .await
            .unwrap();
        assert_eq!(column_u64(&with_ids, ROW_ID), (0..1000).collect::<Vec<u64>>());
        let addresses = column_u64(&with_ids, ROW_ADDRESS);
        assert_eq!(addresses[100], (2u64 << 32), "row 100 opens the second fragment");
        assert_eq!(ds.count_rows(Some("id < 10")).await.unwrap(), 10);
        let some = ds
            .scan()
            .with_fragments([ds.fragments()[1].id])
            .project(["id"])
            .try_into_batch()
            .await
            .unwrap();
        assert_eq!(column_i64(&some, "id"), (100..200).collect::<Vec<_>>());
        let taken = ds.take(&[999, 0, 500], Some(&["id", "text"])).await.unwrap();
        assert_eq!(column_i64(&taken, "id"), vec![999, 0, 500]);
        let by_id = ds.take_rows(&[5, 750], None).await.unwrap();
        assert_eq!(column_i64(&by_id, "id"), vec![5, 750]);
    })
    .await;
}

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
        let first = ds.fragments()[0].id;
        ds.delete("id < 100").await.unwrap();
        assert!(ds.fragments().iter().all(|f| f.id != first));
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
        assert_eq!(ds.fragments().len(), 1);
        assert!(ds.fragments()[0].deletion.is_none());
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
            original.len() + ds.fragments().len(),
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
        assert_eq!(
            ds.scan()
                .project(["embedding"])
                .try_into_batch()
                .await
                .unwrap()
                .column(0)
                .null_count(),
            249
        );
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
        assert_eq!(
            ds.scan()
                .project(["text"])
                .try_into_batch()
                .await
                .unwrap()
                .column(0)
                .null_count(),
            249
        );
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

#[tokio::test]
async fn cleanup_removes_only_unreferenced_files() {
    for_each_backend(|t| async move {
        let mut ds = create(&t.location, vec![batch(0..100)], &WriteParams::default()).await;
        ds.tags().create("keep", 1).await.unwrap();
        let v2 = Dataset::write(
            t.location.clone(),
            schema(),
            stream_of(vec![batch(100..200)]),
            WriteMode::Overwrite,
            &WriteParams::default(),
        )
        .await
        .unwrap();
        ds = v2;
        Dataset::write(
            t.location.clone(),
            schema(),
            stream_of(vec![batch(200..300)]),
            WriteMode::Overwrite,
            &WriteParams::default(),
        )
        .await
        .unwrap();
        ds = ds.checkout_latest().await.unwrap();
        // Nothing is old enough yet.
        assert_eq!(
            ds.cleanup_old_versions(Duration::from_secs(3600)).await.unwrap(),
            CleanupStats::default()
        );
        let stats = ds.cleanup_old_versions(Duration::ZERO).await.unwrap();
        assert_eq!(stats.versions_removed, 1, "version 2 goes; 1 is tagged, 3 is latest");
        assert_eq!(stats.files_removed, 1);
        assert!(matches!(
            ds.checkout_version(2).await,
            Err(TableError::VersionNotFound { .. })
        ));
        assert_eq!(
            ids(&ds.checkout_tag("keep").await.unwrap()).await,
            (0..100).collect::<Vec<_>>()
        );
        assert_eq!(
            ids(&Dataset::open_location(t.location.clone()).await.unwrap()).await,
            (200..300).collect::<Vec<_>>()
        );
        // A handle on the tagged version must not re-create cleaned-up version 2.
        let mut stale = ds.checkout_tag("keep").await.unwrap();
        let err = stale
            .append(stream_of(vec![batch(500..501)]), &WriteParams::default())
            .await;
        assert!(matches!(err, Err(TableError::CommitConflict { .. })), "{err:?}");
        assert!(matches!(
            ds.checkout_version(2).await,
            Err(TableError::VersionNotFound { .. })
        ));
        ds.tags().delete("keep").await.unwrap();
        let stats = ds.cleanup_old_versions(Duration::ZERO).await.unwrap();
        // Version 1's file, and the orphan data file of the refused append.
        assert_eq!((stats.versions_removed, stats.files_removed), (1, 2));
        assert_eq!(ds.versions().await.unwrap().len(), 1);
    })
    .await;
}
