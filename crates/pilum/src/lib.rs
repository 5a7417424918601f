//! Pilum: a columnar file format and table library for multimodal AI data.
//!
//! This facade re-exports the public API of the Pilum crates and adds a
//! synchronous layer ([`blocking`]) for callers without an async runtime.
//! SQL over datasets (DataFusion) lives in [`sql`]; its [`Session`] is
//! re-exported here.
//!
//! ```no_run
//! use std::sync::Arc;
//! use arrow_array::{Int64Array, RecordBatch};
//! use pilum::blocking::{FileReader, FileWriter};
//!
//! # fn main() -> Result<(), pilum::FileError> {
//! let batch = RecordBatch::try_from_iter([("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as _)])?;
//! let mut writer = FileWriter::create("/tmp/example.pilum", batch.schema())?;
//! writer.write(&batch)?;
//! writer.finish()?;
//! let reader = FileReader::open("/tmp/example.pilum")?;
//! let rows = reader.take(&[2, 0], &pilum::ReadOptions::default())?;
//! assert_eq!(rows.num_rows(), 2);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod blocking;

pub use pilum_file::{
    BlobFile, BlobMode, FileError, FileReader, FileWriter, PlanOptions, ReadOptions, Result, ScanOptions, WriteSummary,
    WriterOptions, blob_description_type,
};
pub use pilum_io::{CountingStore, IoCounts, IoError, StoreLocation, parse_uri, parse_uri_with_options};
pub use pilum_table::{
    AnalyzerConfig, BaseTokenizer, BatchStream, BlobRows, BranchInfo, Branches, CleanupOptions, CleanupStats,
    ColumnAlteration, ColumnSummary, CommitConfig, CompactionMetrics, CompactionOptions, DEFAULT_METADATA_CACHE_BYTES,
    DISTANCE, DataFileInfo, Dataset, DatasetLocation, DeletionFileInfo, FragmentInfo, FragmentPageInfo, FullTextQuery,
    FullTextSearch, Fusion, HybridSearch, IndexDescription, IndexFileInfo, IndexSegment, IndexStatistics, IndexType,
    Language, MAIN_BRANCH, MatchQuery, Materialization, MergeInsertBuilder, MergeStats, Metric, NewColumns, Occur,
    Operation, Operator, OptimizeIndexOptions, PendingColumns, PendingFragments, PendingOperation, Predicate, Progress,
    ProgressUpdate, QUERY_INDEX, RELEVANCE, ROW_ADDRESS, ROW_ID, Reranker, SCORE, ScalarIndexParams, ScalarIndexType,
    Scanner, TEXT_RANK, TableError, TagInfo, TextIndexParams, TextSegmentInfo, UNVERIFIED_GRACE, VECTOR_RANK,
    VectorIndexParams, VectorQuery, VectorSegmentInfo, VersionInfo, VersionRef, WhenMatched, WhenNotMatchedBySource,
    WriteMode, WriteParams, clear_metadata_cache, metadata_cache_bytes, validate_branch_name,
};

/// SQL over datasets through DataFusion (the `pilum-datafusion` crate).
pub use pilum_datafusion as sql;
pub use pilum_datafusion::{PilumTable, Session, SqlError, VersionSpec, register_dataset};

/// The Pilum file format version this library writes (`major.minor`).
pub use pilum_file::{MAJOR_VERSION as FILE_MAJOR_VERSION, MINOR_VERSION as FILE_MINOR_VERSION};

/// Field metadata key that marks a binary column as a blob column.
pub use pilum_core::{BLOB_META_KEY, LANCE_BLOB_META_KEY};
