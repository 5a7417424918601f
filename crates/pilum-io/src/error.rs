//! The error type of `pilum-io`.

/// Errors raised by object reads and writes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// The object does not exist.
    #[error("{path}: not found")]
    NotFound {
        /// Object path.
        path: String,
    },
    /// The store failed the request.
    #[error("{path}: {source}")]
    Store {
        /// Object path.
        path: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// A read returned fewer bytes than requested (the object is shorter than expected).
    #[error("{path}: short read: asked for bytes {start}..{end}, got {got}")]
    ShortRead {
        /// Object path.
        path: String,
        /// Requested start.
        start: u64,
        /// Requested end.
        end: u64,
        /// Bytes received.
        got: u64,
    },
    /// A URI could not be understood.
    #[error("invalid URI {uri:?}: {reason}")]
    InvalidUri {
        /// The URI given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl IoError {
    /// Wraps a store error, turning "not found" into [`IoError::NotFound`].
    pub fn from_store(path: &object_store::path::Path, source: object_store::Error) -> Self {
        match source {
            object_store::Error::NotFound { .. } => IoError::NotFound { path: path.to_string() },
            source => IoError::Store {
                path: path.to_string(),
                source,
            },
        }
    }
}

/// Result alias for [`IoError`].
pub type Result<T, E = IoError> = std::result::Result<T, E>;
