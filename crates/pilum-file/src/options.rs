//! What a read returns and how a scan runs: the options of reads and scans.

use crate::read::BlobMode;
use std::ops::Range;

/// Which columns to read and how to return blobs.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Top-level column names to read, in output order; `None` reads all.
    pub columns: Option<Vec<String>>,
    /// How blob columns are returned.
    pub blob_mode: BlobMode,
    /// Returns top-level string and binary columns as `Utf8View` /
    /// `BinaryView` arrays that share the decoded bytes (see [`ReadOptions::with_string_views`]).
    pub string_views: bool,
}

impl ReadOptions {
    /// Reads only `columns`.
    pub fn with_columns<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.columns = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the blob mode.
    pub fn with_blob_mode(mut self, blob_mode: BlobMode) -> Self {
        self.blob_mode = blob_mode;
        self
    }

    /// Returns top-level `Utf8`, `LargeUtf8` and `Binary` columns (and those
    /// stored from view types) as `Utf8View` / `BinaryView`: no value bytes
    /// are copied, and a dictionary-encoded row costs one 16-byte view.
    pub fn with_string_views(mut self, string_views: bool) -> Self {
        self.string_views = string_views;
        self
    }
}

/// Options of a streaming scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Columns and blob mode.
    pub read: ReadOptions,
    /// Rows per output batch.
    pub batch_size: usize,
    /// Rows to scan; `None` scans the whole file.
    pub rows: Option<Range<u64>>,
    /// Batches read and decoded concurrently (memory grows with it).
    pub parallelism: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        let cores = cores();
        Self {
            read: ReadOptions::default(),
            batch_size: 8192,
            rows: None,
            parallelism: 2 * cores,
        }
    }
}

/// Where the pages of a flat-stored column start (see [`FileReader::widest_flat_column`](crate::FileReader::widest_flat_column)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatColumnPages {
    /// Bytes the column's pages take in the file.
    pub stored_bytes: u64,
    /// The first row of each page, ascending, starting at 0.
    pub page_starts: Vec<u64>,
}

/// The machine's parallelism, read once: `available_parallelism` reads
/// cgroup files on every call, too slow for a per-take decision.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
