//! The Pilum columnar file format.
//!
//! A Pilum file holds one table of any Arrow schema. There are no row
//! groups: each physical column is a sequence of pages flushed by size, and
//! each page is a sequence of small self-contained chunks (or, for wide
//! values such as embeddings, a flat array), so one row of one column costs
//! one ranged read once the metadata is loaded. Blob columns keep their bytes
//! out of line and can be opened as ranged byte streams. The byte layout is
//! specified in `format-spec/file.md`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pilum_file::FileError> {
//! use std::sync::Arc;
//! use arrow_array::{Int64Array, RecordBatch};
//! use object_store::{memory::InMemory, path::Path};
//! use pilum_file::{FileReader, FileWriter, ReadOptions, WriterOptions};
//!
//! let store = Arc::new(InMemory::new());
//! let batch = RecordBatch::try_from_iter([("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as _)])?;
//! let mut writer = FileWriter::try_new(store.clone(), Path::from("t.pilum"), batch.schema(), WriterOptions::default()).await?;
//! writer.write(&batch).await?;
//! writer.finish().await?;
//! let reader = FileReader::open(store, Path::from("t.pilum")).await?;
//! let rows = reader.take(&[2, 0], &ReadOptions::default()).await?;
//! assert_eq!(rows.num_rows(), 2);
//! # Ok(()) }
//! ```

mod assemble;
mod blob;
mod column_writer;
mod error;
mod footer;
mod format;
mod inner;
mod layout;
mod options;
mod prefetch;
/// The generated protobuf messages of the file metadata: public only with
/// the `internals` feature (this crate's tests), never part of the API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod proto;
#[cfg(not(feature = "internals"))]
mod proto;
mod read;
mod reader;
mod shred;
mod tree;
mod units;
mod views;
mod writer;

pub use blob::BlobFile;
pub use error::{FileError, Result};
pub use footer::{
    FEATURE_NARROW_FLAT, FEATURE_SYMBOL_TABLE, FEATURE_WIDE_FOR, FEATURE_ZSTD_DICTIONARY, FOOTER_LEN, HEADER,
    HEADER_LEN, KNOWN_FEATURES, MAGIC, MAJOR_VERSION, MINOR_VERSION,
};
pub use format::FLAT_MIN_WIDTH;
pub use options::{FlatColumnPages, ReadOptions, ScanOptions, cores};
pub use pilum_encoding::PlanOptions;
pub use read::{BlobMode, blob_description_type};
pub use reader::{FileReader, OPEN_READ_BYTES, parse_schema};
pub use writer::{FileWriter, PAGE_ALIGNMENT, WriteSummary, WriterOptions, schema_to_bytes};
