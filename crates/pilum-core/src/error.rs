//! The error type of `pilum-core`.

/// Errors raised by the primitives in this crate.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CoreError {
    /// A decoder asked for more bytes than the buffer holds.
    #[error("unexpected end of data at byte {offset}: needed {needed} more bytes, {available} available")]
    UnexpectedEnd {
        /// Position of the cursor when the read was attempted.
        offset: usize,
        /// Bytes the read needed.
        needed: usize,
        /// Bytes left in the buffer.
        available: usize,
    },
}

/// Result alias for [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
