//! Blob columns in datasets: scans return the bytes, `take_blobs` opens them
//! lazily by position or row id, and rewrites (update, compaction) keep them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, Int64Array, LargeBinaryArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use pilum_table::*;
use std::collections::HashMap;
use std::sync::Arc;

/// Blob of row `id`: `id % 7 == 3` is null, others are `id`-dependent bytes of varying length.
fn blob_of(id: i64) -> Option<Vec<u8>> {
    (id % 7 != 3).then(|| {
        (0..(id as usize * 37) % 5000 + 1)
            .map(|i| (i as i64 * 31 + id) as u8)
            .collect()
    })
}

fn blob_batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let metadata = HashMap::from([(pilum_core::BLOB_META_KEY.to_string(), "true".to_string())]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("image", DataType::LargeBinary, true).with_metadata(metadata),
    ]));
    let blobs: Vec<Option<Vec<u8>>> = ids.clone().map(blob_of).collect();
    let blobs = LargeBinaryArray::from_iter(blobs.iter().map(|b| b.as_deref()));
    RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from_iter_values(ids)) as ArrayRef, Arc::new(blobs)],
    )
    .unwrap()
}

async fn blob_dataset(t: &TestLocation) -> Dataset {
    let batches = vec![blob_batch(0..150), blob_batch(150..300)];
    let schema = batches[0].schema();
    let params = WriteParams {
        max_rows_per_file: 100,
        ..WriteParams::default()
    };
    Dataset::write(
        t.location.clone(),
        schema,
        stream_of(batches),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap()
}

/// `(id, blob bytes)` of every row a scan returns.
async fn scanned(ds: &Dataset) -> Vec<(i64, Option<Vec<u8>>)> {
    let batch = ds.scan().try_into_batch().await.unwrap();
    let ids = column_i64(&batch, "id");
    let blobs = batch.column_by_name("image").unwrap().as_binary::<i64>();
    ids.into_iter()
        .enumerate()
        .map(|(i, id)| {
            (
                id,
                (!arrow_array::Array::is_null(blobs, i)).then(|| blobs.value(i).to_vec()),
            )
        })
        .collect()
}

async fn read_all(blob: Option<pilum_file::BlobFile>) -> Option<Vec<u8>> {
    match blob {
        Some(mut blob) => Some(blob.read_to_end().await.unwrap().to_vec()),
        None => None,
    }
}

#[tokio::test]
async fn scans_return_blob_bytes_and_take_blobs_opens_them_lazily() {
    for backend in [Backend::Memory, Backend::Local] {
        let t = TestLocation::new(backend);
        let ds = blob_dataset(&t).await;
        for (id, bytes) in scanned(&ds).await {
            assert_eq!(bytes, blob_of(id), "row {id}");
        }
        let offsets = [299u64, 0, 3, 150, 77];
        let blobs = ds.take_blobs("image", BlobRows::Offsets(&offsets)).await.unwrap();
        for (offset, blob) in offsets.iter().zip(blobs) {
            assert_eq!(read_all(blob).await, blob_of(*offset as i64), "offset {offset}");
        }
        // Partial reads fetch exactly the requested range.
        let mut blob = ds
            .take_blobs("image", BlobRows::Offsets(&[200]))
            .await
            .unwrap()
            .pop()
            .flatten()
            .unwrap();
        let whole = blob_of(200).unwrap();
        blob.seek(std::io::SeekFrom::Start(5)).unwrap();
        assert_eq!(blob.read(10).await.unwrap().as_ref(), &whole[5..15]);
        assert_eq!(blob.size(), whole.len() as u64);
    }
}

#[tokio::test]
async fn blobs_survive_delete_update_and_compaction() {
    let t = TestLocation::new(Backend::Local);
    let mut ds = blob_dataset(&t).await;
    ds.delete("id % 2 = 0").await.unwrap();
    ds.update(&[("id", "id + 1000")], Some("id < 50")).await.unwrap();
    let expect = |id: i64| blob_of(if id >= 1000 { id - 1000 } else { id });
    for (id, bytes) in scanned(&ds).await {
        assert_eq!(bytes, expect(id), "row {id} after update");
    }
    // Live position 0 is now the first odd id not moved by the update.
    let by_offset = ds.take_blobs("image", BlobRows::Offsets(&[0])).await.unwrap();
    let first = ds.take(&[0], Some(&["id"])).await.unwrap();
    assert_eq!(
        read_all(by_offset.into_iter().next().flatten()).await,
        expect(column_i64(&first, "id")[0])
    );
    let with_ids = ds.scan().with_row_id(true).try_into_batch().await.unwrap();
    let row_ids = column_u64(&with_ids, ROW_ID);
    let ids = column_i64(&with_ids, "id");
    let blobs = ds.take_blobs("image", BlobRows::RowIds(&row_ids)).await.unwrap();
    for (id, blob) in ids.iter().zip(blobs) {
        assert_eq!(read_all(blob).await, expect(*id), "row id of {id}");
    }
    ds.compact_files(&CompactionOptions::default()).await.unwrap();
    assert_eq!(ds.fragments().await.unwrap().len(), 1);
    for (id, bytes) in scanned(&ds).await {
        assert_eq!(bytes, expect(id), "row {id} after compaction");
    }
    let err = ds.take_blobs("id", BlobRows::Offsets(&[0])).await.unwrap_err();
    assert!(matches!(err, TableError::InvalidArgument(_)), "{err}");
    let err = ds.take_blobs("nope", BlobRows::Offsets(&[0])).await.unwrap_err();
    assert!(matches!(err, TableError::ColumnNotFound { .. }), "{err}");
}
