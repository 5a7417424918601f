//! Pilum's chunk encodings.
//!
//! A column page is cut into small, self-contained *chunks* (a few KiB each).
//! Each chunk carries its own validity, its own lightweight encoding
//! (plain, frame-of-reference bit-packing, run-length, dictionary indices, or
//! zstd over the plain form, optionally with a zstd dictionary trained on
//! the page, or one-byte codes of a symbol table trained on the page) and a
//! CRC32, so a reader can decode any row by fetching exactly one chunk.
//! [`plan_page`] chooses chunk boundaries and the page-wide options
//! (dictionary, zstd, symbol table) by sampling the data;
//! [`encode_chunk`] / [`decode_chunk`] turn one chunk into bytes and back.
//! The byte layout is specified in `format-spec/encodings.md`.
//!
//! This crate is sans-I/O and never panics on bad input: every decoder reads
//! through [`pilum_core::ByteCursor`] and reports [`EncodingError`].

mod bitpack;
mod chunk;
mod decode;
mod dictionary;
mod encode;
mod error;
mod integer;
mod kind;
mod plan;
mod selected;
mod symbols;
mod symbols_train;
mod wide;
mod zdict;

pub use bitpack::{bits_needed, pack_bits, unpack_bits};
pub use chunk::{ChunkValues, ValidityInput};
pub use decode::{DecodedChunk, DecodedValues, PageDictionaries, decode_chunk, decode_shared_chunk};
pub use dictionary::Dictionary;
pub use encode::{ChunkOptions, encode_chunk};
pub use error::{EncodingError, Result};
pub use kind::{IntegerSign, ValueKind};
pub use plan::{EncodedPage, PagePlan, PlanOptions, encode_page, plan_page};
pub use selected::decode_selected_chunk;
pub use symbols::{SYMBOL_DECODE_SLACK, SymbolTable};
pub use symbols_train::{SymbolEncoder, train as train_symbols};
pub use zdict::{ZstdDictionary, ZstdEncoderDictionary};

/// Largest number of values a chunk may hold.
pub const MAX_CHUNK_VALUES: usize = 4096;
/// Largest number of entries a page dictionary may hold.
pub const MAX_DICTIONARY_ENTRIES: usize = 1 << 16;
