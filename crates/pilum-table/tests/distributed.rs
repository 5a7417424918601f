//! Distributed writes: workers write pending fragments without committing,
//! their descriptions travel as bytes, and one commit lands them all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

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
        // Files removed by cleanup before the commit: refused, naming the file.
        ds.cleanup_old_versions(Duration::ZERO).await.unwrap();
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
