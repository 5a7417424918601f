//! Rust errors as specific Python exceptions. The exception classes live in
//! `pilum.errors` (so they can subclass several built-ins); this module maps
//! each error variant to one of them.

use datafusion::error::DataFusionError;
use pilum::{FileError, IoError, TableError};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Any error a binding call can end with.
#[derive(Debug)]
pub(crate) enum PilumErr {
    /// From the table layer (and, through it, files and storage).
    Table(TableError),
    /// From SQL planning or execution.
    Sql(pilum_datafusion::SqlError),
    /// Already a Python exception.
    Python(PyErr),
}

impl From<TableError> for PilumErr {
    fn from(e: TableError) -> Self {
        Self::Table(e)
    }
}

impl From<pilum_datafusion::SqlError> for PilumErr {
    fn from(e: pilum_datafusion::SqlError) -> Self {
        Self::Sql(e)
    }
}

impl From<DataFusionError> for PilumErr {
    fn from(e: DataFusionError) -> Self {
        Self::Sql(pilum_datafusion::SqlError::from(e))
    }
}

impl From<PyErr> for PilumErr {
    fn from(e: PyErr) -> Self {
        Self::Python(e)
    }
}

impl From<PilumErr> for PyErr {
    fn from(e: PilumErr) -> Self {
        e.into_py_err()
    }
}

impl PilumErr {
    /// The Python exception for this error.
    pub fn into_py_err(self) -> PyErr {
        match self {
            Self::Python(e) => e,
            Self::Table(e) => raise(table_class(&e), e.to_string()),
            Self::Sql(pilum_datafusion::SqlError::Table(e)) => raise(table_class(&e), e.to_string()),
            Self::Sql(e) => raise("SqlError", e.to_string()),
        }
    }
}

/// Maps a table error to its class name in `pilum.errors`.
pub fn table_class(e: &TableError) -> &'static str {
    match e {
        TableError::DatasetNotFound { .. } => "DatasetNotFoundError",
        TableError::DatasetAlreadyExists { .. } => "DatasetAlreadyExistsError",
        TableError::VersionNotFound { .. } | TableError::NoVersionAsOf { .. } => "VersionNotFoundError",
        TableError::TagNotFound { .. } => "TagNotFoundError",
        TableError::TagAlreadyExists { .. } => "TagAlreadyExistsError",
        TableError::InvalidTagName { .. } => "InvalidTagNameError",
        TableError::BranchNotFound { .. } => "BranchNotFoundError",
        TableError::BranchAlreadyExists { .. } => "BranchAlreadyExistsError",
        TableError::InvalidBranchName { .. } => "InvalidBranchNameError",
        TableError::BranchInUse { .. } => "BranchInUseError",
        TableError::SchemaMismatch { .. } => "SchemaMismatchError",
        TableError::ColumnNotFound { .. } => "ColumnNotFoundError",
        TableError::InvalidExpression { .. } => "InvalidFilterError",
        TableError::CommitConflict { .. } => "CommitConflictError",
        TableError::UnsupportedFeatures { .. } => "UnsupportedVersionError",
        TableError::Corrupt { .. } => "CorruptFileError",
        TableError::RowNotFound { .. } => "RowNotFoundError",
        TableError::InvalidArgument(_) => "InvalidArgumentError",
        TableError::IndexNotFound { .. } => "IndexNotFoundError",
        TableError::IndexAlreadyExists { .. } => "IndexAlreadyExistsError",
        TableError::InvalidIndexParams { .. } | TableError::Index { .. } => "InvalidIndexParamsError",
        TableError::File(e) => file_class(e),
        TableError::Io(e) => io_class(e),
        TableError::Execution(_) => "ExecutionError",
        TableError::Internal { .. } => "PilumInternalError",
        TableError::LocalIo { .. } => "StorageError",
        TableError::Arrow(_) => "SchemaMismatchError",
        // A variant added after this list: the base class, never a crash.
        _ => "PilumError",
    }
}

fn file_class(e: &FileError) -> &'static str {
    match e {
        FileError::NotPilum { .. } | FileError::Corrupt { .. } | FileError::Chunk { .. } => "CorruptFileError",
        // Read paths wrap decoder errors in `Chunk` with the file's path; a
        // bare encoding error comes from the writer (e.g. a value too large).
        FileError::Encoding(_) => "InvalidArgumentError",
        FileError::UnsupportedVersion { .. } | FileError::UnsupportedFeatures { .. } => "UnsupportedVersionError",
        FileError::SchemaMismatch { .. } | FileError::UnsupportedType { .. } | FileError::Arrow(_) => {
            "SchemaMismatchError"
        }
        FileError::ColumnNotFound { .. } => "ColumnNotFoundError",
        FileError::RowOutOfBounds { .. } => "RowNotFoundError",
        FileError::NotABlobColumn { .. } | FileError::InvalidArgument(_) => "InvalidArgumentError",
        FileError::Io(e) => io_class(e),
        FileError::NoRuntime | FileError::Internal { .. } => "PilumInternalError",
        _ => "PilumError",
    }
}

fn io_class(e: &IoError) -> &'static str {
    match e {
        IoError::NotFound { .. } => "ObjectNotFoundError",
        IoError::ShortRead { .. } => "CorruptFileError",
        IoError::InvalidUri { .. } => "InvalidArgumentError",
        IoError::Store { .. } => "StorageError",
        _ => "PilumError",
    }
}

/// Builds exception `class` of `pilum.errors` with `message`; falls back to
/// `RuntimeError` if the module cannot be imported.
fn raise(class: &str, message: String) -> PyErr {
    Python::attach(|py| {
        let found = py
            .import("pilum.errors")
            .and_then(|module| module.getattr(class))
            .and_then(|cls| Ok(cls.cast_into::<PyType>()?));
        match found {
            Ok(cls) => PyErr::from_type(cls, (message,)),
            Err(_) => PyRuntimeError::new_err(message),
        }
    })
}

/// A `PilumInternalError` (for panics and impossible states).
pub fn internal_error(message: String) -> PyErr {
    raise("PilumInternalError", message)
}

/// An `InvalidArgumentError` (a `ValueError`) for bad arguments.
pub fn invalid_argument(message: impl Into<String>) -> PyErr {
    raise("InvalidArgumentError", message.into())
}
