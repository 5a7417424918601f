//! Generated protobuf types of `proto/table.proto` (see `format-spec/table.md`).
#![allow(missing_docs, clippy::all)]

include!(concat!(env!("OUT_DIR"), "/pilum.table.rs"));
