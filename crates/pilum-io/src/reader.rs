//! Ranged, coalesced, concurrent reads of one object.

use crate::error::{IoError, Result};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::{ObjectStore, ObjectStoreExt, path::Path};
use pilum_core::coalesce_ranges;
use std::ops::Range;
use std::sync::Arc;

/// How reads are grouped into requests.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Ranges closer than this many bytes are fetched by one request.
    pub coalesce_gap: u64,
    /// A coalesced request never grows past this size.
    pub max_request: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            coalesce_gap: 4 * 1024,
            max_request: 16 * 1024 * 1024,
            concurrency: 32,
        }
    }
}

/// Reads byte ranges of one object.
#[derive(Debug, Clone)]
pub struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    options: ReadOptions,
}

impl ObjectReader {
    /// A reader of `path` in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, path: Path) -> Self {
        Self {
            store,
            path,
            options: ReadOptions::default(),
        }
    }

    /// Replaces the read options.
    pub fn with_options(mut self, options: ReadOptions) -> Self {
        self.options = options;
        self
    }

    /// The object's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store the object lives in.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The object's size in bytes (one HEAD request).
    pub async fn size(&self) -> Result<u64> {
        let meta = self
            .store
            .head(&self.path)
            .await
            .map_err(|e| IoError::from_store(&self.path, e))?;
        Ok(meta.size)
    }

    /// Reads one range with one request.
    pub async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        if range.start >= range.end {
            return Ok(Bytes::new());
        }
        let bytes = self
            .store
            .get_range(&self.path, range.clone())
            .await
            .map_err(|e| IoError::from_store(&self.path, e))?;
        if bytes.len() as u64 != range.end - range.start {
            return Err(IoError::ShortRead {
                path: self.path.to_string(),
                start: range.start,
                end: range.end,
                got: bytes.len() as u64,
            });
        }
        Ok(bytes)
    }

    /// Reads several ranges, returning their bytes in the order given.
    /// Nearby ranges share a request; requests run concurrently.
    pub async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let groups = coalesce_ranges(ranges, self.options.coalesce_gap, self.options.max_request);
        let fetched: Vec<(Range<u64>, Vec<usize>, Bytes)> = stream::iter(groups)
            .map(|group| async move {
                let bytes = self.read_range(group.range.clone()).await?;
                Ok::<_, IoError>((group.range, group.members, bytes))
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .try_collect()
            .await?;
        let mut out = vec![Bytes::new(); ranges.len()];
        for (range, members, bytes) in fetched {
            for i in members {
                let r = &ranges[i];
                out[i] = bytes.slice((r.start - range.start) as usize..(r.end - range.start) as usize);
            }
        }
        Ok(out)
    }
}
