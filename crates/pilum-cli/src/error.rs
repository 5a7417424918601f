//! The error type of the command-line tool.

use pilum::{SqlError, TableError};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A SQL statement failed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// A dataset operation failed.
    #[error(transparent)]
    Table(#[from] TableError),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Arrow could not read, convert or print data.
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
    /// A Parquet file could not be read or written.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The interactive shell's line editor failed.
    #[error("line editor: {0}")]
    Editor(#[from] rustyline::error::ReadlineError),
    /// Arguments that parse but make no sense together.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// Wraps an I/O error on `path`.
    pub fn file(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Self::File {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// Result alias of the tool.
pub type Result<T, E = CliError> = std::result::Result<T, E>;
