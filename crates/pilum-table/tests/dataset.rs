//! End-to-end dataset tests of the life cycle: create, append, overwrite,
//! time travel, file cutting, bad inputs and cleanup; run against the
//! in-memory store and the local filesystem.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema};
use common::*;
use pilum_table::*;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn create_append_overwrite_and_time_travel() {
    for_each_backend(|t| async move {
        let loc = &t.location;
        let mut ds = create(loc, vec![batch(0..250)], &small_files()).await;
        assert_eq!(ds.version(), 1);
        assert_eq!(ds.fragments().await.unwrap().len(), 3);
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
    let rows: Vec<u64> = by_rows
        .fragments()
        .await
        .unwrap()
        .iter()
        .map(|f| f.physical_rows)
        .collect();
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
        by_bytes.fragments().await.unwrap().len() >= 3,
        "{} fragments",
        by_bytes.fragments().await.unwrap().len()
    );
    assert_eq!(ids(&by_bytes).await, (0..1000).collect::<Vec<_>>());
}

/// A table of fewer rows than the scan reads at once is split into tasks
/// of at least 1,024 rows, one per batch read concurrently, so every core
/// decodes; rows come back complete and in order.
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
        // Version 1's file; the orphan data file of the refused append was
        // never referenced, so it could be a write in flight: it stays.
        assert_eq!((stats.versions_removed, stats.files_removed), (1, 1));
        assert_eq!(ds.versions().await.unwrap().len(), 1);
        let unverified = CleanupOptions {
            older_than: Duration::ZERO,
            delete_unverified: true,
        };
        let stats = ds.cleanup_with_options(&unverified, &Progress::none()).await.unwrap();
        assert_eq!(
            (stats.versions_removed, stats.files_removed),
            (0, 1),
            "the orphan, on request"
        );
    })
    .await;
}
