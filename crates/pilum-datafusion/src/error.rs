//! The error type of `pilum-datafusion`.

use datafusion::error::DataFusionError;
use pilum_table::TableError;

/// Errors raised by SQL over Pilum datasets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The query does not parse, names unknown tables or columns, or does
    /// not type-check.
    #[error("invalid query: {0}")]
    Plan(DataFusionError),
    /// The query is valid SQL that this integration or DataFusion does not run.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// Running the query failed.
    #[error("query failed: {0}")]
    Execution(DataFusionError),
    /// A dataset operation failed (not found, commit conflict, I/O, ...).
    #[error(transparent)]
    Table(#[from] TableError),
    /// An argument outside its valid range (a bad table name, a bad option).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Result alias of this crate.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;

impl From<DataFusionError> for SqlError {
    fn from(error: DataFusionError) -> Self {
        classify(error)
    }
}

/// Sorts a DataFusion error into a variant, unwrapping dataset errors that
/// travelled through DataFusion.
fn classify(error: DataFusionError) -> SqlError {
    match error {
        DataFusionError::Context(message, inner) => match classify(*inner) {
            SqlError::Plan(e) => SqlError::Plan(DataFusionError::Context(message, Box::new(e))),
            SqlError::Execution(e) => SqlError::Execution(DataFusionError::Context(message, Box::new(e))),
            unwrapped => unwrapped,
        },
        DataFusionError::Diagnostic(_, inner) => classify(*inner),
        DataFusionError::External(source) => match source.downcast::<TableError>() {
            Ok(table) => SqlError::Table(*table),
            Err(source) => match source.downcast::<DataFusionError>() {
                Ok(inner) => classify(*inner),
                Err(source) => SqlError::Execution(DataFusionError::External(source)),
            },
        },
        DataFusionError::NotImplemented(message) => SqlError::Unsupported(message),
        e @ (DataFusionError::Plan(_)
        | DataFusionError::SQL(_, _)
        | DataFusionError::SchemaError(_, _)
        | DataFusionError::Configuration(_)) => SqlError::Plan(e),
        other => SqlError::Execution(other),
    }
}

/// Wraps a dataset error for DataFusion so [`SqlError`] can recover it.
pub(crate) fn external(error: TableError) -> DataFusionError {
    DataFusionError::External(Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_dataset_errors_through_context() {
        let wrapped = external(TableError::DatasetNotFound { uri: "x".into() }).context("opening");
        assert!(matches!(
            SqlError::from(wrapped),
            SqlError::Table(TableError::DatasetNotFound { .. })
        ));
        let plan = DataFusionError::Plan("bad".into()).context("DELETE");
        assert!(matches!(SqlError::from(plan), SqlError::Plan(_)));
        assert!(matches!(
            SqlError::from(DataFusionError::NotImplemented("x".into())),
            SqlError::Unsupported(_)
        ));
    }
}
