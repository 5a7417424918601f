//! The error type of `pilum-table`.

use pilum_file::FileError;
use pilum_io::IoError;

/// Errors raised by dataset operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// No dataset exists at the location.
    #[error("dataset not found at {uri}")]
    DatasetNotFound {
        /// The dataset location.
        uri: String,
    },
    /// `create` found a dataset already there.
    #[error("dataset already exists at {uri}")]
    DatasetAlreadyExists {
        /// The dataset location.
        uri: String,
    },
    /// The requested version does not exist (or was cleaned up).
    #[error("version {version} not found")]
    VersionNotFound {
        /// The requested version.
        version: u64,
    },
    /// No version was committed at or before the requested time.
    #[error("no version at or before {timestamp}")]
    NoVersionAsOf {
        /// The requested time (RFC 3339).
        timestamp: String,
    },
    /// The tag does not exist.
    #[error("tag {name:?} not found")]
    TagNotFound {
        /// Tag name.
        name: String,
    },
    /// The tag already exists.
    #[error("tag {name:?} already exists")]
    TagAlreadyExists {
        /// Tag name.
        name: String,
    },
    /// A tag name outside the allowed alphabet.
    #[error("invalid tag name {name:?}: {reason}")]
    InvalidTagName {
        /// The rejected name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The branch does not exist (or was deleted).
    #[error("branch {name:?} not found")]
    BranchNotFound {
        /// Branch name.
        name: String,
    },
    /// A branch of that name already exists.
    #[error("branch {name:?} already exists")]
    BranchAlreadyExists {
        /// Branch name.
        name: String,
    },
    /// A branch name outside the allowed alphabet, or reserved.
    #[error("invalid branch name {name:?}: {reason}")]
    InvalidBranchName {
        /// The rejected name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A branch that other references still depend on cannot be deleted.
    #[error("branch {name:?} is still in use: {reason}")]
    BranchInUse {
        /// Branch name.
        name: String,
        /// What depends on it (child branches, tags, clones).
        reason: String,
    },
    /// Data whose schema does not match the dataset's.
    #[error("schema mismatch: {reason}")]
    SchemaMismatch {
        /// What differs.
        reason: String,
    },
    /// A column named by the caller does not exist.
    #[error("column {name:?} not found")]
    ColumnNotFound {
        /// The column name or path.
        name: String,
    },
    /// A SQL predicate or expression that does not parse or type-check.
    #[error("invalid expression {expression:?}: {reason}")]
    InvalidExpression {
        /// The expression text.
        expression: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Another writer committed a change that cannot be reconciled.
    #[error("commit conflict at version {version}: {reason}")]
    CommitConflict {
        /// The version this commit tried to build on or conflicted with.
        version: u64,
        /// Why the commits cannot both land.
        reason: String,
    },
    /// The dataset needs features this library does not have.
    #[error("version {version} requires unknown {kind} features {flags:#x}")]
    UnsupportedFeatures {
        /// The version.
        version: u64,
        /// "reader" or "writer".
        kind: &'static str,
        /// Unknown feature bits.
        flags: u64,
    },
    /// Metadata bytes that contradict themselves.
    #[error("{path}: corrupt dataset metadata: {what}")]
    Corrupt {
        /// Object path.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// A row offset or row id that does not exist (or is deleted).
    #[error("row {row} not found")]
    RowNotFound {
        /// The offset or id.
        row: u64,
    },
    /// An argument outside its valid range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No index has the name.
    #[error("index {name:?} not found")]
    IndexNotFound {
        /// The index name.
        name: String,
    },
    /// An index with the name exists (and `replace` was not asked for).
    #[error("index {name:?} already exists")]
    IndexAlreadyExists {
        /// The index name.
        name: String,
    },
    /// Index parameters that do not fit the column or each other.
    #[error("invalid index parameters: {what}")]
    InvalidIndexParams {
        /// What is wrong.
        what: String,
    },
    /// An index algorithm failed (bad parameters for the data, or a stored
    /// index whose contents contradict themselves, named by `path`).
    #[error("{}index error: {source}", path.as_ref().map(|p| format!("{p}: ")).unwrap_or_default())]
    Index {
        /// The index file involved, if any.
        path: Option<String>,
        /// The algorithm's error.
        source: pilum_index::IndexError,
    },
    /// A data file failed to write or read.
    #[error(transparent)]
    File(#[from] FileError),
    /// Object-store I/O failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A local file the library writes for itself (an index build's spill
    /// under the temporary directory) failed: full disk, permissions, a
    /// missing `TMPDIR`.
    #[error("local file {path}: {source}")]
    LocalIo {
        /// The file or directory.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A bug in this library, not a problem with the data or the call: a
    /// scan task panicked, or an invariant broke.
    #[error("internal error: {what}")]
    Internal {
        /// What failed.
        what: String,
    },
    /// Query evaluation failed inside DataFusion.
    #[error("query evaluation failed: {0}")]
    Execution(String),
    /// Arrow compute failed.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
}

impl TableError {
    pub(crate) fn corrupt(path: impl ToString, what: impl ToString) -> Self {
        Self::Corrupt {
            path: path.to_string(),
            what: what.to_string(),
        }
    }

    pub(crate) fn index(source: pilum_index::IndexError) -> Self {
        match source {
            pilum_index::IndexError::InvalidParams { what } => Self::InvalidIndexParams { what },
            source @ pilum_index::IndexError::WorkerPanicked { .. } => Self::Internal {
                what: source.to_string(),
            },
            source => Self::Index { path: None, source },
        }
    }

    pub(crate) fn store(path: &object_store::path::Path, source: object_store::Error) -> Self {
        Self::Io(IoError::from_store(path, source))
    }

    /// Whether retrying the whole operation against the latest version may succeed.
    pub fn is_retryable_conflict(&self) -> bool {
        matches!(self, Self::CommitConflict { .. })
    }
}

impl From<datafusion::error::DataFusionError> for TableError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Self::Execution(e.to_string())
    }
}

/// Result alias of this crate.
pub type Result<T, E = TableError> = std::result::Result<T, E>;
