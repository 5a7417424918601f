//! Synchronous wrappers over the async file API, driven by a shared
//! multi-threaded Tokio runtime. Do not call them from inside an async task.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use object_store::{ObjectStore, path::Path};
use pilum_file::{FileError, ReadOptions, Result, ScanOptions, WriteSummary, WriterOptions};
use pilum_io::parse_uri;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, OnceLock};
use tokio::runtime::Runtime;

fn runtime() -> Result<&'static Runtime> {
    static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(FileError::InvalidArgument(
            "blocking Pilum calls cannot run inside an async runtime; use the async API".into(),
        ));
    }
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| FileError::InvalidArgument(format!("cannot start the I/O runtime: {e}")))
}

fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    Ok(runtime()?.block_on(future))
}

/// Synchronous [`pilum_file::FileWriter`].
#[derive(Debug)]
pub struct FileWriter {
    inner: pilum_file::FileWriter,
}

impl FileWriter {
    /// Creates a file at a local path or URI with default options.
    pub fn create(uri: &str, schema: SchemaRef) -> Result<Self> {
        let location = parse_uri(uri)?;
        Self::try_new(location.store, location.path, schema, WriterOptions::default())
    }

    /// Creates a file at `path` in `store`.
    pub fn try_new(store: Arc<dyn ObjectStore>, path: Path, schema: SchemaRef, options: WriterOptions) -> Result<Self> {
        let inner = block_on(pilum_file::FileWriter::try_new(store, path, schema, options))??;
        Ok(Self { inner })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        block_on(self.inner.write(batch))?
    }

    /// Finishes and publishes the file.
    pub fn finish(self) -> Result<WriteSummary> {
        block_on(self.inner.finish())?
    }
}

/// Synchronous [`pilum_file::FileReader`].
#[derive(Debug, Clone)]
pub struct FileReader {
    inner: pilum_file::FileReader,
}

impl FileReader {
    /// Opens a file at a local path or URI.
    pub fn open(uri: &str) -> Result<Self> {
        let location = parse_uri(uri)?;
        Ok(Self {
            inner: block_on(pilum_file::FileReader::open_location(&location))??,
        })
    }

    /// Opens `path` in `store`.
    pub fn open_in(store: Arc<dyn ObjectStore>, path: Path) -> Result<Self> {
        Ok(Self {
            inner: block_on(pilum_file::FileReader::open(store, path))??,
        })
    }

    /// The async reader underneath.
    pub fn as_async(&self) -> &pilum_file::FileReader {
        &self.inner
    }

    /// The file's schema.
    pub fn schema(&self) -> &SchemaRef {
        self.inner.schema()
    }

    /// Rows in the file.
    pub fn num_rows(&self) -> u64 {
        self.inner.num_rows()
    }

    /// Reads the rows at `indices`, in order.
    pub fn take(&self, indices: &[u64], options: &ReadOptions) -> Result<RecordBatch> {
        block_on(self.inner.take(indices, options))?
    }

    /// Reads a contiguous range of rows.
    pub fn read_range(&self, rows: std::ops::Range<u64>, options: &ReadOptions) -> Result<RecordBatch> {
        block_on(self.inner.read_range(rows, options))?
    }

    /// Scans the file into an iterator of batches (read ahead in parallel).
    pub fn scan(&self, options: ScanOptions) -> Result<impl Iterator<Item = Result<RecordBatch>>> {
        let rt = runtime()?;
        let mut stream = {
            let _guard = rt.enter();
            self.inner.scan(options)?
        };
        Ok(std::iter::from_fn(move || {
            rt.block_on(futures::StreamExt::next(&mut stream))
        }))
    }

    /// Opens one blob as a synchronous, seekable reader (`None` when null).
    pub fn open_blob(&self, column: &str, row: u64) -> Result<Option<BlobReader>> {
        let blob = block_on(self.inner.open_blob(column, row))??;
        Ok(blob.map(|inner| BlobReader { inner }))
    }
}

/// A blob implementing [`std::io::Read`] and [`std::io::Seek`] with ranged reads.
#[derive(Debug, Clone)]
pub struct BlobReader {
    inner: pilum_file::BlobFile,
}

impl BlobReader {
    /// Blob size in bytes.
    pub fn size(&self) -> u64 {
        self.inner.size()
    }

    /// Current position.
    pub fn tell(&self) -> u64 {
        self.inner.tell()
    }
}

fn io_error(e: FileError) -> std::io::Error {
    std::io::Error::other(e)
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let bytes = block_on(self.inner.read(buf.len() as u64))
            .map_err(io_error)?
            .map_err(io_error)?;
        buf[..bytes.len()].copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    /// Reads the rest of the blob with a single ranged request.
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        let bytes = block_on(self.inner.read_to_end())
            .map_err(io_error)?
            .map_err(io_error)?;
        buf.extend_from_slice(&bytes);
        Ok(bytes.len())
    }
}

impl Seek for BlobReader {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner
            .seek(pos)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    }
}
