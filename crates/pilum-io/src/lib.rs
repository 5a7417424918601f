//! Pilum's I/O layer over [`object_store`].
//!
//! [`ObjectReader`] issues ranged reads of one object, coalescing nearby
//! ranges into fewer requests and running them concurrently. [`ObjectSink`]
//! writes one object sequentially (multipart for large objects) while
//! tracking the byte position. [`CountingStore`] wraps any store and counts
//! requests, so tests can assert how many reads an operation costs.
#![forbid(unsafe_code)]

mod buffers;
mod cache_probe;
mod counting;
mod error;
mod reader;
mod sink;
mod uri;

pub use counting::{CountingStore, IoCounts};
pub use error::{IoError, Result};
pub use object_store::{ObjectStore, path::Path};
pub use reader::{ObjectReader, ReadOptions, read_local_object};
pub use sink::ObjectSink;
pub use uri::{StoreLocation, parse_uri, parse_uri_with_options};
