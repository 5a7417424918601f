//! Distributed writes: workers write pending fragments without committing,
//! their descriptions travel as bytes, and one commit lands them all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::Array;
use common::*;
use pilum_table::*;
use std::time::Duration;

async fn pending(
    location: &DatasetLocation,
    ids: std::ops::Range<i64>,
    operation: PendingOperation,
) -> PendingFragments {
    let params = WriteParams {
        max_rows_per_file: 40,
        ..WriteParams::default()
    };
    PendingFragments::write(location, schema(), stream_of(vec![batch(ids)]), operation, &params)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_write_and_one_commit_lands_them_all() {
    for_each_backend(|t| async move {
        let ds = create(&t.location, vec![batch(0..10)], &WriteParams::default()).await;
        // Three workers write concurrently; nothing is visible before the commit.
        let mut handles = Vec::new();
        for worker in 0..3i64 {
            let location = t.location.clone();
            handles.push(tokio::spawn(async move {
                let ids = 100 * (worker + 1)..100 * (worker + 1) + 90;
                pending(&location, ids, PendingOperation::Append).await.to_bytes()
            }));
        }
        let mut parts = Vec::new();
        for handle in handles {
            parts.push(PendingFragments::from_bytes(&handle.await.unwrap()).unwrap());
        }
        assert!(parts.iter().all(|p| p.num_rows() == 90 && p.num_fragments() == 3));
        let latest = Dataset::open_location(t.location.clone()).await.unwrap();
        assert_eq!((latest.version(), latest.count_rows(None).await.unwrap()), (1, 10));
        // A writer appends meanwhile: the commit rebases over it.
        let mut other = ds.clone();
        other
            .append(stream_of(vec![batch(10..20)]), &WriteParams::default())
            .await
            .unwrap();
        let committed = Dataset::commit_pending(t.location.clone(), PendingOperation::Append, parts, Some(1))
            .await
            .unwrap();
        assert_eq!(committed.version(), 3);
        let mut want: Vec<i64> = (0..20).collect();
        for worker in 1..=3 {
            want.extend(100 * worker..100 * worker + 90);
        }
        let mut got = ids(&committed).await;
        got.sort_unstable();
        assert_eq!(got, want);
        // Stable row ids are fresh and distinct.
        let rows = committed
            .scan()
            .project(["id"])
            .with_row_id(true)
            .try_into_batch()
            .await
            .unwrap();
        let mut row_ids = column_u64(&rows, ROW_ID);
        row_ids.sort_unstable();
        row_ids.dedup();
        assert_eq!(row_ids.len(), want.len());
    })
    .await;
}

#[tokio::test]
async fn an_overwrite_from_parts_creates_or_replaces_the_dataset() {
    for_each_backend(|t| async move {
        let parts = vec![
            pending(&t.location, 0..50, PendingOperation::Overwrite).await,
            pending(&t.location, 50..80, PendingOperation::Overwrite).await,
        ];
        let ds = Dataset::commit_pending(t.location.clone(), PendingOperation::Overwrite, parts, None)
            .await
            .unwrap();
        assert_eq!((ds.version(), ids(&ds).await), (1, (0..80).collect::<Vec<i64>>()));
        assert_eq!(ds.manifest().operation(), Operation::Create);
        let parts = vec![pending(&t.location, 500..510, PendingOperation::Overwrite).await];
        let ds = Dataset::commit_pending(t.location.clone(), PendingOperation::Overwrite, parts, None)
            .await
            .unwrap();
        assert_eq!((ds.version(), ids(&ds).await), (2, (500..510).collect::<Vec<i64>>()));
        assert_eq!(ds.manifest().operation(), Operation::Overwrite);
    })
    .await;
}

#[tokio::test]
async fn bad_parts_are_refused_and_commit_nothing() {
    for_each_backend(|t| async move {
        // Appending needs a dataset.
        let refused = PendingFragments::write(
            &t.location,
            schema(),
            stream_of(vec![batch(0..5)]),
            PendingOperation::Append,
            &WriteParams::default(),
        )
        .await;
        assert!(
            matches!(refused, Err(TableError::DatasetNotFound { .. })),
            "{refused:?}"
        );
        let ds = create(&t.location, vec![batch(0..10)], &WriteParams::default()).await;
        let part = pending(&t.location, 100..150, PendingOperation::Append).await;
        let bytes = part.to_bytes();
        // Damaged, foreign or truncated bytes are corruption.
        let mut flipped = bytes.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x40;
        for bad in [
            flipped,
            b"PARQUET!".to_vec(),
            bytes[..bytes.len() - 3].to_vec(),
            Vec::new(),
        ] {
            let result = PendingFragments::from_bytes(&bad);
            assert!(matches!(result, Err(TableError::Corrupt { .. })), "{result:?}");
        }
        // No parts, or parts of different schemas.
        let none = Dataset::commit_pending(t.location.clone(), PendingOperation::Append, vec![], None).await;
        assert!(matches!(none, Err(TableError::InvalidArgument(_))), "{none:?}");
        let other = pending(&t.location, 0..5, PendingOperation::Overwrite);
        let mixed = vec![part.clone(), {
            let mut renamed = other.await;
            // An overwrite part with another schema: rename a column.
            let fields: Vec<arrow_schema::Field> = renamed
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_name(format!("x_{}", f.name())))
                .collect();
            let arrow = std::sync::Arc::new(arrow_schema::Schema::new(fields));
            renamed = PendingFragments::write(
                &t.location,
                arrow.clone(),
                stream_of(vec![
                    arrow_array::RecordBatch::try_new(arrow, batch(0..5).columns().to_vec()).unwrap(),
                ]),
                PendingOperation::Overwrite,
                &WriteParams::default(),
            )
            .await
            .unwrap();
            renamed
        }];
        let mixed = Dataset::commit_pending(t.location.clone(), PendingOperation::Append, mixed, None).await;
        assert!(matches!(mixed, Err(TableError::SchemaMismatch { .. })), "{mixed:?}");
        // The same part twice in one commit, or committed again: refused.
        let twice = vec![part.clone(), part.clone()];
        let twice = Dataset::commit_pending(t.location.clone(), PendingOperation::Append, twice, None).await;
        assert!(matches!(twice, Err(TableError::InvalidArgument(_))), "{twice:?}");
        let again = pending(&t.location, 700..710, PendingOperation::Append).await;
        let landed = Dataset::commit_pending(t.location.clone(), PendingOperation::Append, vec![again.clone()], None)
            .await
            .unwrap();
        assert_eq!(landed.count_rows(None).await.unwrap(), 20);
        let retried = Dataset::commit_pending(t.location.clone(), PendingOperation::Append, vec![again], None).await;
        match retried {
            Err(TableError::InvalidArgument(what)) => assert!(what.contains("already committed"), "{what}"),
            other => panic!("{other:?}"),
        }
        // Files removed by cleanup before the commit (never referenced, so
        // only on request): refused, naming the file.
        let unverified = CleanupOptions {
            older_than: Duration::ZERO,
            delete_unverified: true,
        };
        ds.cleanup_with_options(&unverified, &Progress::none()).await.unwrap();
        let gone = Dataset::commit_pending(t.location.clone(), PendingOperation::Append, vec![part], None).await;
        match gone {
            Err(TableError::InvalidArgument(what)) => assert!(what.contains("data/"), "{what}"),
            other => panic!("{other:?}"),
        }
        let latest = Dataset::open_location(t.location.clone()).await.unwrap();
        assert_eq!((latest.version(), latest.count_rows(None).await.unwrap()), (2, 20));
    })
    .await;
}

/// A worker's new column for one fragment: `id * 2` over its live rows, in scan order.
async fn doubled(ds: &Dataset, fragment: u64) -> PendingColumns {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    let live = ds
        .scan()
        .project(["id"])
        .with_fragments([fragment])
        .try_into_batch()
        .await
        .unwrap();
    let values: arrow_array::Int64Array = live
        .column(0)
        .as_primitive::<Int64Type>()
        .iter()
        .map(|v| v.map(|v| v * 2))
        .collect();
    let schema = std::sync::Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
        "doubled",
        arrow_schema::DataType::Int64,
        true,
    )]));
    let batch = arrow_array::RecordBatch::try_new(schema.clone(), vec![std::sync::Arc::new(values)]).unwrap();
    // Two batches, to cross a batch boundary.
    let (a, b) = (
        batch.slice(0, batch.num_rows() / 2),
        batch.slice(batch.num_rows() / 2, batch.num_rows() - batch.num_rows() / 2),
    );
    ds.write_pending_columns(fragment, schema, stream_of(vec![a, b]))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_add_a_column_fragment_by_fragment_in_one_commit() {
    for_each_backend(|t| async move {
        let mut ds = create(&t.location, vec![batch(0..300)], &small_files()).await;
        ds.delete("id % 7 = 3").await.unwrap();
        let base = ds.clone();
        let mut parts = Vec::new();
        for fragment in base.fragment_ids().await.unwrap() {
            let part = doubled(&base, fragment).await;
            parts.push(PendingColumns::from_bytes(&part.to_bytes()).unwrap());
        }
        assert!(parts.iter().all(|p| p.base_version() == base.version()));
        // An append landing meanwhile is a conflict (the new rows would miss
        // the column): nothing is committed, and the workers redo their parts
        // on the latest version.
        let mut other = base.clone();
        other
            .append(stream_of(vec![batch(1000..1005)]), &WriteParams::default())
            .await
            .unwrap();
        let conflict = Dataset::commit_pending_columns(t.location.clone(), parts).await;
        assert!(
            matches!(conflict, Err(TableError::CommitConflict { .. })),
            "{conflict:?}"
        );
        let latest = Dataset::open_location(t.location.clone()).await.unwrap();
        assert!(latest.schema().field_with_name("doubled").is_err());
        let mut parts = Vec::new();
        for fragment in latest.fragment_ids().await.unwrap() {
            parts.push(doubled(&latest, fragment).await);
        }
        let committed = Dataset::commit_pending_columns(t.location.clone(), parts)
            .await
            .unwrap();
        assert_eq!(committed.version(), latest.version() + 1);
        assert_eq!(committed.manifest().operation(), Operation::AddColumns);
        let rows = committed
            .scan()
            .project(["id", "doubled"])
            .try_into_batch()
            .await
            .unwrap();
        let (ids, doubled_values) = (column_i64(&rows, "id"), rows.column_by_name("doubled").unwrap().clone());
        let doubled_values = doubled_values
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .unwrap();
        assert_eq!(doubled_values.null_count(), 0);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(doubled_values.value(i), id * 2, "row {id}");
        }
        assert_eq!(ids.len(), 300 - 43 + 5);
    })
    .await;
}

#[tokio::test]
async fn bad_column_parts_are_refused() {
    for_each_backend(|t| async move {
        let ds = create(&t.location, vec![batch(0..300)], &small_files()).await;
        let fragments = ds.fragment_ids().await.unwrap();
        assert!(fragments.len() >= 2);
        let schema = std::sync::Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "x",
            arrow_schema::DataType::Int64,
            true,
        )]));
        let short = arrow_array::RecordBatch::try_new(
            schema.clone(),
            vec![std::sync::Arc::new(arrow_array::Int64Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        // Too few rows for the fragment, too many, an unknown fragment.
        let few = ds
            .write_pending_columns(fragments[0], schema.clone(), stream_of(vec![short.clone()]))
            .await;
        assert!(matches!(few, Err(TableError::InvalidArgument(_))), "{few:?}");
        let many = ds
            .write_pending_columns(fragments[0], schema.clone(), stream_of(vec![short.clone(); 200]))
            .await;
        assert!(matches!(many, Err(TableError::InvalidArgument(_))), "{many:?}");
        let unknown = ds
            .write_pending_columns(9999, schema.clone(), stream_of(vec![short]))
            .await;
        assert!(matches!(unknown, Err(TableError::InvalidArgument(_))), "{unknown:?}");
        // The same fragment in two parts; damaged bytes; nothing committed.
        let part = doubled(&ds, fragments[1]).await;
        let twice = Dataset::commit_pending_columns(t.location.clone(), vec![part.clone(), part.clone()]).await;
        assert!(matches!(twice, Err(TableError::InvalidArgument(_))), "{twice:?}");
        let mut bytes = part.to_bytes();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        assert!(matches!(
            PendingColumns::from_bytes(&bytes),
            Err(TableError::Corrupt { .. })
        ));
        assert!(matches!(
            PendingFragments::from_bytes(&part.to_bytes()),
            Err(TableError::Corrupt { .. })
        ));
        let latest = Dataset::open_location(t.location.clone()).await.unwrap();
        assert_eq!(latest.version(), 1);
        assert!(latest.schema().field_with_name("doubled").is_err());
        // One part covering one fragment commits; the others read nulls.
        let one = Dataset::commit_pending_columns(t.location.clone(), vec![part])
            .await
            .unwrap();
        let rows = one.scan().project(["doubled"]).try_into_batch().await.unwrap();
        let covered = rows.column(0).len() - rows.column(0).null_count();
        assert_eq!(covered as u64, ds.fragments().await.unwrap()[1].live_rows());
    })
    .await;
}
