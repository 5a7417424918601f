//! Generated protobuf types of the file metadata (`proto/file.proto`).
#![allow(missing_docs, clippy::all, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/pilum.file.v1.rs"));
