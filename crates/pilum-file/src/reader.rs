//! Opening a Pilum file and reading rows: by position (take), by range, or
//! as a parallel stream of batches (scan).

use crate::blob::BlobFile;
use crate::error::{FileError, Result};
use crate::footer::Footer;
use crate::inner::Inner;
use crate::layout::build_layout;
use crate::options::{FlatColumnPages, ReadOptions, ScanOptions, cores};
use crate::proto;
use crate::read::{BlobMode, blob_range};
use crate::tree::{Node, build_tree};
use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_schema::{Schema, SchemaRef};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::{ObjectStore, path::Path};
use pilum_io::ObjectReader;
use prost::Message;
use std::ops::Range;
use std::sync::Arc;

/// Bytes read from the end of a file when opening it; metadata that fits
/// costs no second request.
pub const OPEN_READ_BYTES: u64 = 64 * 1024;

/// Bytes of stored data a scan task aims to read.
const SCAN_TASK_BYTES: u64 = 4 * 1024 * 1024;

/// Bytes a scan task aims to read from a store where requests are
/// expensive: each column's share becomes one or a few large requests.
const REMOTE_SCAN_TASK_BYTES: u64 = 32 * 1024 * 1024;

/// Fewest rows a parallel take gives one task.
const TAKE_ROWS_PER_TASK: usize = 32;

/// A take is split into parallel parts only when its rows lie at least this
/// far apart on average.
const TAKE_SPLIT_MIN_GAP: u64 = 64;

/// A reader of one Pilum file. Cheap to clone; all methods are async and
/// need a Tokio runtime (see `pilum::blocking` for a synchronous API).
#[derive(Debug, Clone)]
pub struct FileReader {
    inner: Arc<Inner>,
}

impl FileReader {
    /// Opens `path`, asking the store for its size first (one extra request).
    pub async fn open(store: Arc<dyn ObjectStore>, path: Path) -> Result<Self> {
        let reader = ObjectReader::new(store, path);
        let size = reader.size().await?;
        Self::open_reader(reader, size).await
    }

    /// Opens `path` whose size is known (e.g. from a manifest): one request
    /// when the metadata fits in the last [`OPEN_READ_BYTES`], two otherwise.
    pub async fn open_with_size(store: Arc<dyn ObjectStore>, path: Path, file_size: u64) -> Result<Self> {
        Self::open_reader(ObjectReader::new(store, path), file_size).await
    }

    /// Opens the file at `location` (local files are read with positional
    /// reads of one handle, which pins the file as it was when opened).
    pub async fn open_location(location: &pilum_io::StoreLocation) -> Result<Self> {
        let reader = location.reader()?;
        let size = reader.size().await?;
        Self::open_reader(reader, size).await
    }

    /// Opens the file at `location` whose size is known: one request when the
    /// metadata fits in the last [`OPEN_READ_BYTES`].
    pub async fn open_location_with_size(location: &pilum_io::StoreLocation, file_size: u64) -> Result<Self> {
        Self::open_reader(location.reader()?, file_size).await
    }

    /// Opens the file at a local path, `file://` or `memory://` URI.
    pub async fn open_uri(uri: &str) -> Result<Self> {
        Self::open_location(&pilum_io::parse_uri(uri)?).await
    }

    async fn open_reader(reader: ObjectReader, file_size: u64) -> Result<Self> {
        let path = reader.path().to_string();
        let tail_start = file_size.saturating_sub(OPEN_READ_BYTES);
        let tail = reader.read_range(tail_start..file_size).await?;
        let footer = Footer::parse(&tail, file_size, &path)?;
        let meta_bytes = if footer.metadata_offset >= tail_start {
            let at = (footer.metadata_offset - tail_start) as usize;
            tail.slice(at..at + footer.metadata_length as usize)
        } else {
            reader
                .read_range(footer.metadata_offset..footer.metadata_offset + footer.metadata_length)
                .await?
        };
        if crc32fast::hash(&meta_bytes) != footer.metadata_crc32 {
            return Err(FileError::corrupt(&path, "metadata checksum mismatch"));
        }
        let meta = proto::FileMetadata::decode(meta_bytes.as_ref())
            .map_err(|e| FileError::corrupt(&path, format!("metadata does not decode: {e}")))?;
        let schema = Arc::new(parse_schema(&meta.arrow_schema, &path)?);
        let (nodes, kinds) = build_tree(schema.fields())
            .map_err(|e| FileError::corrupt(&path, format!("schema cannot be read back: {e}")))?;
        let lengths: Vec<usize> = nodes.iter().flat_map(crate::tree::list_columns).collect();
        let columns = build_layout(&path, &meta.columns, &kinds, &lengths, footer.metadata_offset)?;
        for node in &nodes {
            let stored = columns[node.column()].num_values;
            if stored != meta.num_rows {
                return Err(FileError::corrupt(
                    &path,
                    format!("column {} holds {stored} of {} rows", node.column(), meta.num_rows),
                ));
            }
        }
        let inner = Inner {
            reader,
            schema,
            nodes,
            columns,
            num_rows: meta.num_rows,
            file_size,
            created_by: meta.created_by,
            value_bytes_recorded: footer.minor >= 2,
            metadata_bytes: footer.metadata_length,
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Size of the file's metadata section in bytes (what a reader keeps
    /// decoded, roughly).
    pub fn metadata_bytes(&self) -> u64 {
        self.inner.metadata_bytes
    }

    /// The file's schema (as written).
    pub fn schema(&self) -> &SchemaRef {
        &self.inner.schema
    }

    /// Rows in the file.
    pub fn num_rows(&self) -> u64 {
        self.inner.num_rows
    }

    /// File size in bytes.
    pub fn file_size(&self) -> u64 {
        self.inner.file_size
    }

    /// The writer recorded in the file, e.g. `pilum 0.1.0`.
    pub fn created_by(&self) -> &str {
        &self.inner.created_by
    }

    /// The object path.
    pub fn path(&self) -> &Path {
        self.inner.reader.path()
    }

    /// Average bytes per row of the columns `options` selects once decoded
    /// (values, plus 4-byte offsets of variable-width values, plus blob bytes
    /// when blobs are read as bytes), from sizes the writer recorded; `None`
    /// for files that do not record them (format 1.0 and 1.1).
    pub fn value_bytes_per_row(&self, options: &ReadOptions) -> Result<Option<f64>> {
        self.inner.value_bytes_per_row(options)
    }

    /// The projected column stored in flat pages (vectors of any width, and
    /// other fixed-width values of at least
    /// [`FLAT_MIN_WIDTH`](crate::FLAT_MIN_WIDTH) bytes; one per row)
    /// with the most stored bytes, and the rows at which its pages start;
    /// `None` when no projected column is stored flat. A scan cut at these
    /// rows reads each batch's values of that column out of one page, which
    /// then backs the batch without a copy.
    pub fn widest_flat_column(&self, options: &ReadOptions) -> Result<Option<FlatColumnPages>> {
        let mut widest: Option<FlatColumnPages> = None;
        for i in self.inner.projection(options)? {
            let Node::Leaf { column, .. } = &self.inner.nodes[i] else {
                continue;
            };
            let layout = &self.inner.columns[*column];
            if layout.pages.is_empty() || !layout.pages.iter().all(|p| p.flat) {
                continue;
            }
            let stored_bytes = layout.pages.iter().map(|p| p.length).sum();
            if widest.as_ref().is_none_or(|w| stored_bytes > w.stored_bytes) {
                widest = Some(FlatColumnPages {
                    stored_bytes,
                    page_starts: layout.pages.iter().map(|p| p.first_value).collect(),
                });
            }
        }
        Ok(widest)
    }

    /// Physical columns and pages, for inspection tools: `(values, pages)` per column.
    pub fn column_stats(&self) -> Vec<(u64, usize)> {
        self.inner
            .columns
            .iter()
            .map(|c| (c.num_values, c.pages.len()))
            .collect()
    }

    /// Reads rows `rows` (a contiguous range).
    pub async fn read_range(&self, rows: Range<u64>, options: &ReadOptions) -> Result<RecordBatch> {
        if rows.end > self.num_rows() || rows.start > rows.end {
            return Err(FileError::RowOutOfBounds {
                row: rows.end,
                num_rows: self.num_rows(),
            });
        }
        self.inner.read_ranges(vec![rows], options).await
    }

    /// Reads the rows at `indices`, in the order given (duplicates allowed).
    /// Costs at most one read request per row for each fixed-width or
    /// variable-width column, and two for list columns; nearby rows share requests.
    pub async fn take(&self, indices: &[u64], options: &ReadOptions) -> Result<RecordBatch> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.num_rows()) {
            return Err(FileError::RowOutOfBounds {
                row: bad,
                num_rows: self.num_rows(),
            });
        }
        let mut sorted = indices.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let (batches, part_len) = self.take_sorted_in_parts(&sorted, options).await?;
        if let [batch] = batches.as_slice() {
            if sorted.as_slice() == indices {
                return Ok(batch.clone());
            }
            let positions: UInt32Array = indices
                .iter()
                .map(|i| sorted.binary_search(i).map(|p| p as u32).unwrap_or(0))
                .collect();
            return Ok(arrow_select::take::take_record_batch(batch, &positions)?);
        }
        let slots: Vec<(usize, usize)> = indices
            .iter()
            .map(|i| {
                let p = sorted.binary_search(i).unwrap_or(0);
                (p / part_len, p % part_len)
            })
            .collect();
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        Ok(arrow_select::interleave::interleave_record_batch(&refs, &slots)?)
    }

    /// Reads sorted, distinct rows. Large selections are split into equal
    /// parts decoded in parallel on the runtime (decoding, not I/O, bounds
    /// a take from cached files); returns one batch per part, in order, and
    /// the rows per part.
    async fn take_sorted_in_parts(&self, sorted: &[u64], options: &ReadOptions) -> Result<(Vec<RecordBatch>, usize)> {
        // Dense selections (a scan's late materialization) share chunks,
        // which parts would decode twice; their caller runs in parallel already.
        let span = match (sorted.first(), sorted.last()) {
            (Some(first), Some(last)) => last - first + 1,
            _ => 0,
        };
        let sparse = span >= sorted.len() as u64 * TAKE_SPLIT_MIN_GAP;
        let parts = if sparse {
            (sorted.len() / TAKE_ROWS_PER_TASK).clamp(1, cores())
        } else {
            1
        };
        let handle = tokio::runtime::Handle::try_current();
        let (Ok(handle), true) = (handle, parts > 1) else {
            let batch = self.inner.read_ranges(row_runs(sorted), options).await?;
            return Ok((vec![batch], sorted.len().max(1)));
        };
        let part_len = sorted.len().div_ceil(parts);
        let tasks = sorted.chunks(part_len).map(|part| {
            let (inner, options, ranges) = (self.inner.clone(), options.clone(), row_runs(part));
            handle.spawn(async move { inner.read_ranges(ranges, &options).await })
        });
        let what = format!("take task of {}", self.path());
        let batches = futures::future::join_all(tasks.collect::<Vec<_>>())
            .await
            .into_iter()
            .map(|joined| joined.map_err(|e| FileError::task_failed(&what, e))?)
            .collect::<Result<Vec<_>>>()?;
        Ok((batches, part_len))
    }

    /// Streams the file (or `options.rows`) in batches, reading and decoding
    /// up to `options.parallelism` batches at once on the current runtime.
    pub fn scan(&self, options: ScanOptions) -> Result<BoxStream<'static, Result<RecordBatch>>> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| FileError::NoRuntime)?;
        let rows = options.rows.clone().unwrap_or(0..self.num_rows());
        if rows.end > self.num_rows() || rows.start > rows.end {
            return Err(FileError::RowOutOfBounds {
                row: rows.end,
                num_rows: self.num_rows(),
            });
        }
        if options.batch_size == 0 {
            return Err(FileError::InvalidArgument("batch_size must be positive".into()));
        }
        self.inner.output_schema(&options.read)?;
        // Each task reads about SCAN_TASK_BYTES (at least one batch), so
        // narrow projections are not dominated by per-task overhead; memory
        // stays near parallelism × SCAN_TASK_BYTES.
        let batch = options.batch_size as u64;
        let per_row = self.inner.bytes_per_row(&options.read)?.max(1.0);
        let task_bytes = if self.inner.reader.options().remote {
            REMOTE_SCAN_TASK_BYTES
        } else {
            SCAN_TASK_BYTES
        };
        let batches_per_task = ((task_bytes as f64 / per_row) as u64 / batch).clamp(1, 64);
        let step = batch * batches_per_task;
        let inner = self.inner.clone();
        let read = Arc::new(options.read);
        let what = format!("scan task of {}", self.path());
        let stream = stream::iter((rows.start..rows.end).step_by(step as usize))
            .map(move |start| {
                let (inner, read) = (inner.clone(), read.clone());
                let range = start..(start + step).min(rows.end);
                handle.spawn(async move { inner.read_ranges(vec![range], &read).await })
            })
            .buffered(options.parallelism.max(1))
            .map(move |joined| {
                let task = joined.map_err(|e| FileError::task_failed(&what, e))?;
                let slices = task.map(|b| {
                    let n = b.num_rows();
                    (0..n)
                        .step_by(batch as usize)
                        .map(move |at| Ok(b.slice(at, (batch as usize).min(n - at))))
                });
                Ok::<_, FileError>(stream::iter(slices.into_iter().flatten().collect::<Vec<_>>()))
            })
            .try_flatten();
        Ok(stream.boxed())
    }

    /// Opens blob `row` of blob column `column` as a seekable byte stream;
    /// `None` when the value is null. Reads only the 16-byte description.
    pub async fn open_blob(&self, column: &str, row: u64) -> Result<Option<BlobFile>> {
        Ok(self.take_blobs(column, &[row]).await?.pop().flatten())
    }

    /// Opens several blobs of `column` at once (descriptions fetched together).
    pub async fn take_blobs(&self, column: &str, rows: &[u64]) -> Result<Vec<Option<BlobFile>>> {
        let (index, _) = self
            .inner
            .schema
            .column_with_name(column)
            .ok_or_else(|| FileError::ColumnNotFound { name: column.into() })?;
        if !matches!(self.inner.nodes[index], Node::Blob { .. }) {
            return Err(FileError::NotABlobColumn { name: column.into() });
        }
        let options = ReadOptions::default()
            .with_columns([column])
            .with_blob_mode(BlobMode::Descriptions);
        let batch = self.take(rows, &options).await?;
        let descriptions = batch.column(0).as_struct();
        let positions = descriptions.column(0).as_primitive::<arrow_array::types::UInt64Type>();
        let sizes = descriptions.column(1).as_primitive::<arrow_array::types::UInt64Type>();
        (0..batch.num_rows())
            .map(|i| {
                if descriptions.is_null(i) {
                    return Ok(None);
                }
                let (position, size) = (positions.value(i), sizes.value(i));
                blob_range(position, size, self.file_size(), self.path().as_ref())?;
                Ok(Some(BlobFile::new(self.inner.reader.clone(), position, size)))
            })
            .collect()
    }
}

/// Sorted, distinct rows as runs of consecutive rows.
fn row_runs(sorted: &[u64]) -> Vec<Range<u64>> {
    let mut runs: Vec<Range<u64>> = Vec::new();
    for &row in sorted {
        match runs.last_mut() {
            Some(last) if last.end == row => last.end += 1,
            _ => runs.push(row..row + 1),
        }
    }
    runs
}

/// Parses the stored Arrow schema. arrow-ipc verifies the flatbuffer but can
/// still panic on some inconsistent schemas, so the conversion is isolated.
pub fn parse_schema(bytes: &[u8], path: &str) -> Result<Schema> {
    let parsed = std::panic::catch_unwind(|| arrow_ipc::convert::try_schema_from_flatbuffer_bytes(bytes));
    match parsed {
        Ok(Ok(schema)) => Ok(schema),
        Ok(Err(e)) => Err(FileError::corrupt(&path, format!("schema does not parse: {e}"))),
        Err(_) => Err(FileError::corrupt(&path, "schema does not parse")),
    }
}
