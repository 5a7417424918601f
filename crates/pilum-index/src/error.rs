//! The crate's error type.

/// What can go wrong in an index algorithm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// A parameter is out of range or inconsistent with the data.
    #[error("invalid index parameter: {what}")]
    InvalidParams {
        /// What is wrong.
        what: String,
    },
    /// A vector has the wrong number of dimensions.
    #[error("vector has {found} dimensions, the index has {expected}")]
    DimensionMismatch {
        /// The index's dimension.
        expected: usize,
        /// The vector's.
        found: usize,
    },
    /// Training needs more vectors than it was given.
    #[error("training needs at least {needed} vectors, got {found}")]
    TooFewVectors {
        /// The minimum.
        needed: usize,
        /// What was given.
        found: usize,
    },
    /// A worker thread of a parallel step panicked (a bug, not bad input).
    #[error("a {task} thread panicked")]
    WorkerPanicked {
        /// The step whose thread failed.
        task: &'static str,
    },
    /// Stored index data contradicts itself (the caller names the file).
    #[error("corrupt index data: {what}")]
    Corrupt {
        /// What is inconsistent.
        what: String,
    },
    /// Stored index data of a layout version this library does not read.
    #[error("unsupported index data: {what}")]
    Unsupported {
        /// What is not supported.
        what: String,
    },
    /// Spilled build data could not be written or read back.
    #[error("index build spill: {what}")]
    Spill {
        /// What failed.
        what: String,
    },
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, IndexError>;

impl IndexError {
    pub(crate) fn params(what: impl Into<String>) -> Self {
        Self::InvalidParams { what: what.into() }
    }
}

/// `Ok` when a vector of `found` values fits an index of `expected`.
pub(crate) fn check_dim(expected: usize, found: usize) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(IndexError::DimensionMismatch { expected, found })
    }
}
