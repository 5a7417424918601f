//! The error type of `pilum-encoding`.

use pilum_core::CoreError;

/// Errors raised while encoding or decoding a chunk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodingError {
    /// The chunk ended before a field could be read.
    #[error("chunk is truncated: {0}")]
    Truncated(#[from] CoreError),
    /// The chunk's stored checksum does not match its bytes.
    #[error("chunk checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// CRC32 stored in the chunk.
        stored: u32,
        /// CRC32 of the bytes read.
        computed: u32,
    },
    /// An encoding or validity tag that this version does not know.
    #[error("unknown {what} tag {tag}")]
    UnknownTag {
        /// Which tag was read ("encoding", "validity").
        what: &'static str,
        /// The value read.
        tag: u8,
    },
    /// The chunk's fields contradict each other or the column's kind.
    #[error("invalid chunk: {0}")]
    Invalid(String),
    /// A single value is too large for the chunk format (4 GiB per value).
    #[error("value of {len} bytes exceeds the 4 GiB per-value limit")]
    ValueTooLarge {
        /// Length of the offending value.
        len: u64,
    },
    /// zstd failed to compress or decompress.
    #[error("zstd: {0}")]
    Zstd(#[from] std::io::Error),
}

impl EncodingError {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }
}

/// Result alias for [`EncodingError`].
pub type Result<T, E = EncodingError> = std::result::Result<T, E>;
