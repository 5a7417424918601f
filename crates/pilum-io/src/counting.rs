//! An [`ObjectStore`] wrapper that counts read requests and bytes.

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions, Result, path::Path,
};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Requests counted by a [`CountingStore`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoCounts {
    /// GET requests (ranged or whole), HEADs included.
    pub reads: u64,
    /// Bytes returned by ranged GETs.
    pub bytes_read: u64,
    /// PUT and multipart-upload requests started.
    pub writes: u64,
    /// LIST requests started.
    pub lists: u64,
    /// Bytes sent by single-request PUTs.
    pub bytes_written: u64,
}

/// Wraps a store and counts what passes through it.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    reads: AtomicU64,
    bytes_read: AtomicU64,
    writes: AtomicU64,
    lists: AtomicU64,
    bytes_written: AtomicU64,
}

impl CountingStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            reads: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            lists: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
        }
    }

    /// Counts so far.
    pub fn counts(&self) -> IoCounts {
        IoCounts {
            reads: self.reads.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            lists: self.lists.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
        }
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        for c in [
            &self.reads,
            &self.bytes_read,
            &self.writes,
            &self.lists,
            &self.bytes_written,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountingStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.bytes_written
            .fetch_add(payload.content_length() as u64, Ordering::Relaxed);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let result = self.inner.get_opts(location, options).await?;
        self.bytes_read
            .fetch_add(result.range.end - result.range.start, Ordering::Relaxed);
        Ok(result)
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectReader;
    use object_store::{ObjectStoreExt, memory::InMemory};

    #[tokio::test]
    async fn counts_coalesced_requests() {
        let store = Arc::new(CountingStore::new(Arc::new(InMemory::new())));
        let path = Path::from("f");
        store.put(&path, PutPayload::from(vec![7u8; 100_000])).await.unwrap();
        assert_eq!(store.counts().writes, 1);
        let reader = ObjectReader::new(store.clone(), path);
        let got = reader
            .read_ranges(&[0..10, 20..30, 50_000..50_001, 99_999..100_000])
            .await
            .unwrap();
        assert_eq!(got.iter().map(|b| b.len()).collect::<Vec<_>>(), vec![10, 10, 1, 1]);
        let counts = store.counts();
        assert_eq!(counts.reads, 3, "0..10 and 20..30 share one request");
        assert_eq!(counts.bytes_read, 30 + 1 + 1);
        store.reset();
        assert_eq!(store.counts(), IoCounts::default());
        assert!(reader.read_range(99_990..100_010).await.is_err());
    }

    #[tokio::test]
    async fn prefetched_spans_serve_reads_without_requests() {
        let store = Arc::new(CountingStore::new(Arc::new(InMemory::new())));
        let path = Path::from("f");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        store.put(&path, PutPayload::from(data.clone())).await.unwrap();
        let reader = ObjectReader::new(store.clone(), path).with_options(crate::ReadOptions::object_store());
        store.reset();
        // Ranges 100 KB apart share one request under the object-store policy.
        let ahead = reader.prefetch(&[0..100, 100_000..100_500]).await.unwrap();
        assert_eq!(store.counts().reads, 1);
        let got = ahead
            .read_ranges(&[10..20, 100_100..100_200, 50_000..50_010])
            .await
            .unwrap();
        assert_eq!(got[0].as_ref(), &data[10..20]);
        assert_eq!(got[1].as_ref(), &data[100_100..100_200]);
        assert_eq!(got[2].as_ref(), &data[50_000..50_010]);
        assert_eq!(store.counts().reads, 1, "inside the prefetched span: no request");
        assert_eq!(
            ahead.read_range(199_000..199_010).await.unwrap().as_ref(),
            &data[199_000..199_010]
        );
        assert_eq!(store.counts().reads, 2, "outside it: one request");
        // The original reader is unchanged.
        reader.read_range(0..10).await.unwrap();
        assert_eq!(store.counts().reads, 3);
    }
}
