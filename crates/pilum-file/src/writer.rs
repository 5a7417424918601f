//! Streaming writer of one Pilum file.
//!
//! Memory stays bounded for a stream of any length: each physical column
//! buffers at most about `page_bytes` before it is encoded and written, so
//! the writer holds roughly `(physical columns + cores) × 2 × page_bytes`
//! plus the batch being written and the upload buffer (8 MiB), whatever the
//! row count. Pages are encoded on blocking threads, up to one per core at
//! once, while the caller keeps shredding batches.

use crate::column_writer::{ColumnWriter, PendingPage};
use crate::error::{FileError, Result};
use crate::footer::{
    FEATURE_NARROW_FLAT, FEATURE_SYMBOL_TABLE, FEATURE_WIDE_FOR, FEATURE_ZSTD_DICTIONARY, FOOTER_LEN, Footer, HEADER,
    MAJOR_VERSION, MINOR_VERSION,
};
use crate::proto;
use crate::shred::{PendingBlobs, shred};
use crate::tree::{LENGTHS_KIND, Node, build_tree, list_columns, storage_type};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Schema, SchemaRef};
use bytes::Bytes;
use object_store::{ObjectStore, path::Path};
use pilum_encoding::PlanOptions;
use pilum_io::ObjectSink;
use prost::Message;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Pages are padded to start at multiples of this many bytes.
pub const PAGE_ALIGNMENT: u64 = 64;

/// Writer settings.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// A column's buffered values are encoded and written once they exceed this size.
    pub page_bytes: usize,
    /// Encoding choices (chunk size, dictionary, zstd).
    pub plan: PlanOptions,
    /// Parts of the file uploaded at once, each holding up to 8 MiB of
    /// written pages until it lands; `None` keeps the object store's default
    /// (8). Parallel parts speed up object-store uploads; the local store
    /// writes parts one after another, so there more only holds memory.
    pub uploads_in_flight: Option<usize>,
    /// Store flattened fixed-size lists (vectors) in FLAT pages at any width
    /// (`true`, the default). `false` keeps those narrower than
    /// [`FLAT_MIN_WIDTH`](crate::FLAT_MIN_WIDTH) bytes in chunked pages, as
    /// writers before format 1.3 did (for comparisons and for files that
    /// readers of 1.0–1.2 must open).
    pub flat_vectors: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            page_bytes: 4 * 1024 * 1024,
            plan: PlanOptions::default(),
            uploads_in_flight: None,
            flat_vectors: true,
        }
    }
}

/// What a finished file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSummary {
    /// Top-level rows.
    pub num_rows: u64,
    /// File size in bytes.
    pub file_size: u64,
}

/// Writes record batches into one Pilum file.
pub struct FileWriter {
    sink: ObjectSink,
    schema: SchemaRef,
    nodes: Vec<Node>,
    columns: Vec<ColumnWriter>,
    options: WriterOptions,
    num_rows: u64,
    /// Pages being encoded, oldest first; written in this order, which keeps
    /// each column's pages in row order.
    encoding: VecDeque<(usize, JoinHandle<Result<PendingPage>>)>,
    max_in_flight: usize,
}

impl std::fmt::Debug for FileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWriter")
            .field("path", self.sink.path())
            .field("num_rows", &self.num_rows)
            .finish()
    }
}

impl FileWriter {
    /// Starts a file at `path`; fails on a schema with unsupported types.
    pub async fn try_new(
        store: Arc<dyn ObjectStore>,
        path: Path,
        schema: SchemaRef,
        options: WriterOptions,
    ) -> Result<Self> {
        let (nodes, kinds) = build_tree(schema.fields())?;
        let lengths: Vec<usize> = nodes.iter().flat_map(list_columns).collect();
        let columns = kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| ColumnWriter::new(kind, kind == LENGTHS_KIND && lengths.contains(&i)))
            .collect();
        let mut sink = ObjectSink::new(store, path);
        if let Some(parts) = options.uploads_in_flight {
            sink = sink.with_uploads_in_flight(parts);
        }
        sink.write(Bytes::from_static(&HEADER)).await?;
        Ok(Self {
            sink,
            schema,
            nodes,
            columns,
            options,
            num_rows: 0,
            encoding: VecDeque::new(),
            max_in_flight: crate::options::cores(),
        })
    }

    /// The schema of the file being written.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows written so far.
    pub fn num_rows(&self) -> u64 {
        self.num_rows
    }

    /// Appends a batch whose schema matches the writer's. A batch larger
    /// than a quarter page is taken in row slices, flushing full columns
    /// between them, so no column buffers much more than a page.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        check_schema(&self.schema, batch.schema_ref())?;
        let rows = batch.num_rows();
        let bytes = slice_bytes(batch).max(1);
        let slice_rows = (rows as u128 * (self.options.page_bytes / 4).max(1) as u128 / bytes as u128).max(1) as usize;
        let mut offset = 0;
        while offset < rows {
            let count = slice_rows.min(rows - offset);
            self.write_slice(&batch.slice(offset, count)).await?;
            offset += count;
        }
        Ok(())
    }

    /// Shreds one slice into the column buffers and flushes the full ones.
    async fn write_slice(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut blobs = PendingBlobs {
            base: self.sink.position(),
            ..Default::default()
        };
        for ((node, field), array) in self.nodes.iter().zip(self.schema.fields()).zip(batch.columns()) {
            let storage = storage_type(field.data_type());
            let array: ArrayRef = if array.data_type() == &storage {
                array.clone()
            } else {
                arrow_cast::cast(array, &storage)?
            };
            shred(node, &array, &mut self.columns, &mut blobs)?;
        }
        for blob in blobs.values {
            self.sink.write(blob).await?;
        }
        self.num_rows += batch.num_rows() as u64;
        for i in 0..self.columns.len() {
            if self.columns[i].buffered_bytes() >= self.options.page_bytes {
                self.flush_column(i).await?;
            }
        }
        Ok(())
    }

    /// Hands column `i`'s buffered values to a blocking thread for encoding;
    /// writes the oldest encoded pages once more than `max_in_flight` wait.
    async fn flush_column(&mut self, i: usize) -> Result<()> {
        let Some(page) = self.columns[i].take_page() else {
            return Ok(());
        };
        let (plan, flat_vectors) = (self.options.plan, self.options.flat_vectors);
        self.encoding
            .push_back((i, tokio::task::spawn_blocking(move || page.encode(plan, flat_vectors))));
        while self.encoding.len() > self.max_in_flight {
            self.write_oldest_page().await?;
        }
        Ok(())
    }

    /// Waits for the oldest page being encoded and appends it to the file.
    async fn write_oldest_page(&mut self) -> Result<()> {
        let Some((i, task)) = self.encoding.pop_front() else {
            return Ok(());
        };
        let mut page = task.await.map_err(|e| {
            FileError::task_failed(&format!("encoding a page of column {i} of {}", self.sink.path()), e)
        })??;
        let pad = self.sink.position().next_multiple_of(PAGE_ALIGNMENT) - self.sink.position();
        if pad > 0 {
            self.sink.write(Bytes::from(vec![0u8; pad as usize])).await?;
        }
        page.meta.offset = self.sink.position();
        self.sink.write(Bytes::from(page.bytes)).await?;
        self.columns[i].pages.push(page.meta);
        Ok(())
    }

    /// Flushes every column, writes metadata and footer, and publishes the file.
    pub async fn finish(mut self) -> Result<WriteSummary> {
        for i in 0..self.columns.len() {
            self.flush_column(i).await?;
        }
        while !self.encoding.is_empty() {
            self.write_oldest_page().await?;
        }
        let mut required_features = 0;
        if self.columns.iter().any(|c| c.kind().wide_integer()) {
            required_features |= FEATURE_WIDE_FOR;
        }
        let narrow: Vec<bool> = self
            .columns
            .iter()
            .map(|c| crate::format::narrow_flat(c.kind()))
            .collect();
        let columns: Vec<proto::Column> = self.columns.into_iter().map(ColumnWriter::into_metadata).collect();
        let flat = proto::PageLayout::Flat as i32;
        if columns
            .iter()
            .zip(&narrow)
            .any(|(c, &narrow)| narrow && c.pages.iter().any(|p| p.layout == flat))
        {
            required_features |= FEATURE_NARROW_FLAT;
        }
        if columns
            .iter()
            .flat_map(|c| &c.pages)
            .any(|p| !p.zstd_dictionary.is_empty())
        {
            required_features |= FEATURE_ZSTD_DICTIONARY;
        }
        if columns
            .iter()
            .flat_map(|c| &c.pages)
            .any(|p| !p.symbol_table.is_empty())
        {
            required_features |= FEATURE_SYMBOL_TABLE;
        }
        let metadata = proto::FileMetadata {
            arrow_schema: schema_to_bytes(&self.schema),
            num_rows: self.num_rows,
            columns,
            created_by: format!("pilum {}", env!("CARGO_PKG_VERSION")),
        }
        .encode_to_vec();
        let footer = Footer {
            metadata_offset: self.sink.position(),
            metadata_length: metadata.len() as u64,
            metadata_crc32: crc32fast::hash(&metadata),
            required_features,
            major: MAJOR_VERSION,
            minor: MINOR_VERSION,
        };
        self.sink.write(Bytes::from(metadata)).await?;
        self.sink.write(Bytes::copy_from_slice(&footer.to_bytes())).await?;
        let file_size = self.sink.finish().await?;
        debug_assert_eq!(file_size, footer.metadata_offset + footer.metadata_length + FOOTER_LEN);
        Ok(WriteSummary {
            num_rows: self.num_rows,
            file_size,
        })
    }

    /// Abandons the file; nothing becomes visible at the path.
    pub async fn abort(self) -> Result<()> {
        Ok(self.sink.abort().await?)
    }
}

fn check_schema(expected: &Schema, found: &Schema) -> Result<()> {
    let same = expected.fields().len() == found.fields().len()
        && expected.fields().iter().zip(found.fields()).all(|(e, f)| {
            e.name() == f.name()
                && e.data_type().equals_datatype(f.data_type())
                && (e.is_nullable() || !f.is_nullable())
        });
    if same {
        Ok(())
    } else {
        Err(FileError::SchemaMismatch {
            expected: expected.to_string(),
            found: found.to_string(),
        })
    }
}

/// The schema as an Arrow IPC `Message` flatbuffer.
pub fn schema_to_bytes(schema: &Schema) -> Vec<u8> {
    let mut tracker = arrow_ipc::writer::DictionaryTracker::new(false);
    arrow_ipc::writer::IpcDataGenerator::default()
        .schema_to_bytes_with_dictionary_tracker(schema, &mut tracker, &arrow_ipc::writer::IpcWriteOptions::default())
        .ipc_message
}

/// Bytes of the values `batch` covers (not of the buffers it may slice).
fn slice_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|array| {
            let data = array.to_data();
            data.get_slice_memory_size()
                .unwrap_or_else(|_| data.get_array_memory_size())
        })
        .sum()
}
