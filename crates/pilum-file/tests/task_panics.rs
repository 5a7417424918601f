//! A panic inside a spawned read task (parallel take parts, scan tasks) is
//! an internal error naming the task's file, not an argument error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use async_trait::async_trait;
use futures::TryStreamExt;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use pilum_file::{FileError, FileReader, FileWriter, ReadOptions, ScanOptions, WriterOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A store whose reads panic once it is armed (after the file is open).
#[derive(Debug)]
struct PanickingStore {
    inner: InMemory,
    armed: AtomicBool,
}

impl std::fmt::Display for PanickingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PanickingStore")
    }
}

#[async_trait]
impl ObjectStore for PanickingStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if self.armed.load(Ordering::Relaxed) {
            panic!("injected read panic");
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

const ROWS: i64 = 10_000;

/// A file of `ROWS` rows on a [`PanickingStore`], opened, with the store armed.
async fn armed_reader() -> (Arc<PanickingStore>, FileReader) {
    let store = Arc::new(PanickingStore {
        inner: InMemory::new(),
        armed: AtomicBool::new(false),
    });
    let batch =
        RecordBatch::try_from_iter([("id", Arc::new(Int64Array::from_iter_values(0..ROWS)) as ArrayRef)]).unwrap();
    let path = Path::from("panics/t.pilum");
    let mut writer = FileWriter::try_new(store.clone(), path.clone(), batch.schema(), WriterOptions::default())
        .await
        .unwrap();
    writer.write(&batch).await.unwrap();
    writer.finish().await.unwrap();
    let reader = FileReader::open(store.clone(), path).await.unwrap();
    store.armed.store(true, Ordering::Relaxed);
    (store, reader)
}

fn assert_internal(err: FileError, task: &str) {
    let message = err.to_string();
    assert!(matches!(err, FileError::Internal { .. }), "{task}: {err:?}");
    assert!(
        message.contains(task) && message.contains("panics/t.pilum") && message.contains("panicked"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_scan_task_is_an_internal_error() {
    let (_store, reader) = armed_reader().await;
    let err = reader
        .scan(ScanOptions::default())
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_internal(err, "scan task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_take_part_is_an_internal_error() {
    // Sparse takes are split into parallel parts only with more than one core;
    // on one core the take runs on the caller's task, with nothing to join.
    if pilum_file::cores() < 2 {
        return;
    }
    let (_store, reader) = armed_reader().await;
    let rows: Vec<u64> = (0..ROWS as u64).step_by(100).collect();
    let err = reader.take(&rows, &ReadOptions::default()).await.unwrap_err();
    assert_internal(err, "take task");
}
