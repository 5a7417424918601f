//! Shared primitives of Pilum used by every other crate: a bounds-checked byte
//! cursor for decoders, byte-range coalescing for the I/O layer, and helpers
//! that read Pilum's field-level metadata (such as the blob marker).
#![forbid(unsafe_code)]

mod blob;
mod cursor;
mod error;
mod ranges;

pub use blob::{BLOB_META_KEY, LANCE_BLOB_META_KEY, is_blob_field};
pub use cursor::ByteCursor;
pub use error::{CoreError, Result};
pub use ranges::{CoalescedRange, coalesce_ranges};
