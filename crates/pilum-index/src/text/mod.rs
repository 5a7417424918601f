//! Full-text search structures, free of dataset concerns: analyzers that
//! turn text into terms, block-compressed posting lists (with optional
//! positions), their byte layouts, a bounded-memory build (accumulate,
//! spill runs, merge), BM25 scoring and top-k query evaluation with
//! block-max WAND, conjunctions, phrases and fuzzy term expansion.
//! Documents are numbered `0..n` within an index segment; the table layer
//! maps them to stable row ids and stores what these types produce.

mod accumulate;
mod analyzer;
mod bm25;
mod cursor;
mod fold;
pub mod format;
mod fuzzy;
mod json;
mod language;
mod phrase;
mod postings;
mod runs;
mod search;
mod varint;

pub use accumulate::{ELEMENT_GAP, InvertedAccumulator};
pub use analyzer::{Analyzer, AnalyzerConfig, BaseTokenizer, TermCache, Token};
pub use bm25::{Bm25, CorpusStats};
pub use fuzzy::{auto_fuzziness, edit_distance_within, expand_fuzzy, expand_prefix};
pub use json::{json_fields, path_qualifier};
pub use language::Language;
pub use phrase::{PhraseTerm, phrase_frequency, top_k_phrase};
pub use postings::{BLOCK_LEN, BlockMeta, MAX_DOC, Positions, PostingList, PostingListBuilder};
pub use runs::{RunReader, merge_runs};
pub use search::{
    DocFilter, ScoredDoc, SearchStats, TermQuery, in_query_order, top_k_and, top_k_or, top_k_or_with_stats,
};
