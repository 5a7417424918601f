//! Pilum datasets: versioned tables made of Pilum files.
//!
//! A dataset is a directory (or object-store prefix) holding data files,
//! deletion files, one manifest per version and tags. Every commit writes
//! the next manifest with put-if-absent, so commits are atomic on the local
//! filesystem and on object stores; concurrent writers rebase compatible
//! changes and get [`TableError::CommitConflict`] for incompatible ones.
//! Rows have stable ids that survive compaction and updates. Filters and
//! SQL expressions are parsed and evaluated by DataFusion. The layout is
//! specified in `format-spec/table.md`.
#![forbid(unsafe_code)]

mod arrays;
mod bases;
mod blobs;
mod branches;
mod cache;
mod clone;
mod column_summary;
mod commit;
mod dataset;
mod deletion;
mod error;
mod expr;
mod fragment;
mod fragment_info;
mod fragment_list;
mod fragment_pages;
mod hot_columns;
mod index;
mod location;
mod lru_bytes;
mod manifest;
mod metadata_cache;
mod opened_fragments;
mod operation;
mod ops;
mod page_layout;
mod paths;
mod pending;
mod pending_columns;
mod pins;
mod predicate;
mod progress;
/// The generated protobuf messages of manifests and index sections: public
/// only with the `internals` feature (this crate's tests), never part of the API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod proto;
#[cfg(not(feature = "internals"))]
mod proto;
mod rowids;
mod scan_tasks;
mod scanner;
mod schema;
mod search;
mod selectivity;
mod stats;
mod tags;
mod take;
mod transaction;
mod versions;
mod write;

pub use blobs::BlobRows;
pub use branches::{BranchInfo, Branches, MAIN_BRANCH, VersionRef, validate_branch_name};
pub use column_summary::ColumnSummary;
pub use commit::CommitConfig;
pub use dataset::{Dataset, VersionInfo, WriteMode};
pub use error::{Result, TableError};
pub use expr::{CompiledExpr, without_qualifiers};
pub use fragment_info::{DataFileInfo, DeletionFileInfo, FragmentInfo, FragmentPageInfo};
pub use hot_columns::DEFAULT_HOT_COLUMN_BYTES;
pub use index::{
    DEFAULT_INDEX_CACHE_BYTES, DEFAULT_ZONE_ROWS, IndexDescription, IndexFileInfo, IndexSegment, IndexStatistics,
    IndexType, OptimizeIndexOptions, SCALAR_INDEX_VERSION, ScalarIndexParams, ScalarIndexType, TEXT_INDEX_VERSION,
    TextIndexParams, TextSegmentInfo, VectorIndexParams, VectorSegmentInfo,
};
pub use location::DatasetLocation;
pub use manifest::{
    FEATURE_BASE_PATHS, FEATURE_FRAGMENT_PAGES, FEATURE_INDICES, KNOWN_FEATURES, KNOWN_WRITER_FEATURES, MANIFEST_MAGIC,
    Manifest,
};
pub use metadata_cache::{DEFAULT_METADATA_CACHE_BYTES, clear_metadata_cache, metadata_cache_bytes};
pub use operation::Operation;
pub use ops::*;
pub use pending::{PendingFragments, PendingOperation};
pub use pending_columns::PendingColumns;
pub use pilum_index::Metric;
pub use pilum_index::text::{AnalyzerConfig, BaseTokenizer, Language};
pub use predicate::Predicate;
pub use progress::{Progress, ProgressUpdate};
pub use scanner::{Materialization, ROW_ADDRESS, ROW_ID, Scanner};
pub use schema::{TableSchema, value_bytes, view_type};
pub use search::{
    DISTANCE, FullTextQuery, FullTextSearch, Fusion, HybridSearch, MatchQuery, Occur, Operator, QUERY_INDEX, RELEVANCE,
    Reranker, SCORE, TEXT_RANK, VECTOR_RANK, VectorQuery,
};
pub use stats::MAX_BOUND_BYTES;
pub use tags::{TagInfo, Tags, validate_tag_name};
pub use write::{BatchStream, WriteParams, conform_batch};
