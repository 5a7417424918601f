//! Sequential writing of one object with a running byte position.

use crate::error::{IoError, Result};
use bytes::Bytes;
use object_store::{ObjectStore, buffered::BufWriter, path::Path};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Upload buffer: objects smaller than this are written with one PUT.
const UPLOAD_CAPACITY: usize = 8 * 1024 * 1024;

/// Writes one object front to back. Nothing is visible at the path until
/// [`ObjectSink::finish`] succeeds (object stores publish on completion; the
/// local store writes to a staging file and renames it).
#[derive(Debug)]
pub struct ObjectSink {
    writer: BufWriter,
    path: Path,
    position: u64,
}

impl ObjectSink {
    /// A sink writing `path` in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, path: Path) -> Self {
        let writer = BufWriter::with_capacity(store, path.clone(), UPLOAD_CAPACITY);
        Self {
            writer,
            path,
            position: 0,
        }
    }

    /// Uploads at most `parts` parts of the object at once (at least one).
    pub fn with_uploads_in_flight(mut self, parts: usize) -> Self {
        self.writer = self.writer.with_max_concurrency(parts.max(1));
        self
    }

    /// Bytes written so far: the offset the next write lands at.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The object's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `bytes`.
    pub async fn write(&mut self, bytes: Bytes) -> Result<()> {
        self.position += bytes.len() as u64;
        self.writer
            .put(bytes)
            .await
            .map_err(|e| IoError::from_store(&self.path, e))
    }

    /// Completes the object and makes it visible.
    pub async fn finish(mut self) -> Result<u64> {
        self.writer.shutdown().await.map_err(|e| IoError::Store {
            path: self.path.to_string(),
            source: object_store::Error::Generic {
                store: "sink",
                source: Box::new(e),
            },
        })?;
        Ok(self.position)
    }

    /// Abandons the object, removing any partial upload.
    pub async fn abort(mut self) -> Result<()> {
        self.writer
            .abort()
            .await
            .map_err(|e| IoError::from_store(&self.path, e))
    }
}
