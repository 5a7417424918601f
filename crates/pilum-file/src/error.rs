//! The error type of `pilum-file`.

use arrow_schema::ArrowError;
use pilum_encoding::EncodingError;
use pilum_io::IoError;

/// Errors raised while writing or reading a Pilum file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The object is not a Pilum file (wrong magic bytes or too small).
    #[error("{path}: not a Pilum file: {reason}")]
    NotPilum {
        /// Object path.
        path: String,
        /// What gave it away.
        reason: String,
    },
    /// The file was written by an incompatible format version.
    #[error("{path}: unsupported format version {major}.{minor} (this reader supports 1.x)")]
    UnsupportedVersion {
        /// Object path.
        path: String,
        /// Major version in the footer.
        major: u16,
        /// Minor version in the footer.
        minor: u16,
    },
    /// The file requires features this reader does not have.
    #[error("{path}: requires unknown format features {flags:#x}")]
    UnsupportedFeatures {
        /// Object path.
        path: String,
        /// The unknown feature bits.
        flags: u32,
    },
    /// The file's bytes contradict its own metadata.
    #[error("{path}: corrupt file: {what}")]
    Corrupt {
        /// Object path.
        path: String,
        /// What is inconsistent.
        what: String,
    },
    /// A chunk failed to decode.
    #[error("{path}: column {column}, page {page}, chunk {chunk}: {source}")]
    Chunk {
        /// Object path.
        path: String,
        /// Physical column index.
        column: usize,
        /// Page index within the column.
        page: usize,
        /// Chunk index within the page.
        chunk: usize,
        /// Decoder error.
        #[source]
        source: EncodingError,
    },
    /// A field's type cannot be stored.
    #[error("field {field:?}: unsupported data type {data_type}")]
    UnsupportedType {
        /// Field name.
        field: String,
        /// The type.
        data_type: String,
    },
    /// A batch's schema differs from the writer's schema.
    #[error("schema mismatch: expected {expected}, got {found}")]
    SchemaMismatch {
        /// The writer's schema.
        expected: String,
        /// The batch's schema.
        found: String,
    },
    /// A requested row is past the end of the file.
    #[error("row {row} is out of bounds for a file of {num_rows} rows")]
    RowOutOfBounds {
        /// The requested row.
        row: u64,
        /// Rows in the file.
        num_rows: u64,
    },
    /// No column of that name exists.
    #[error("no column named {name:?}")]
    ColumnNotFound {
        /// The name asked for.
        name: String,
    },
    /// The column is not a blob column.
    #[error("column {name:?} is not a blob column")]
    NotABlobColumn {
        /// Column name.
        name: String,
    },
    /// An argument is out of its valid range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A bug in this library, not a problem with the file or the call: a
    /// read or encode task panicked, or one of the reader's own invariants broke.
    #[error("internal error: {what}")]
    Internal {
        /// What failed.
        what: String,
    },
    /// Async reads need a Tokio runtime.
    #[error("no Tokio runtime: call async reads from within a runtime, or use the synchronous API")]
    NoRuntime,
    /// Encoding a page failed.
    #[error("encoding failed: {0}")]
    Encoding(#[from] EncodingError),
    /// Reading or writing the object failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// An Arrow operation failed.
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
}

impl FileError {
    pub(crate) fn corrupt(path: &impl ToString, what: impl Into<String>) -> Self {
        FileError::Corrupt {
            path: path.to_string(),
            what: what.into(),
        }
    }

    pub(crate) fn internal(what: impl Into<String>) -> Self {
        FileError::Internal { what: what.into() }
    }

    /// The error of a spawned task (`what`, e.g. "take task of `path`")
    /// that panicked or was cancelled.
    pub(crate) fn task_failed(what: &str, error: tokio::task::JoinError) -> Self {
        FileError::Internal {
            what: format!("{what} failed: {error}"),
        }
    }
}

/// Result alias for [`FileError`].
pub type Result<T, E = FileError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[tokio::test]
    async fn a_panicked_task_is_an_internal_error_with_its_message() {
        let joined = tokio::spawn(async { panic!("boom") }).await.unwrap_err();
        let err = FileError::task_failed("encoding a page of column 3 of f.pilum", joined);
        assert!(matches!(err, FileError::Internal { .. }));
        let message = err.to_string();
        assert!(
            message.contains("column 3 of f.pilum") && message.contains("panicked") && message.contains("boom"),
            "{message}"
        );
    }
}
