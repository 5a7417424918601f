//! Full-text search structures, free of dataset concerns: analyzers that
//! turn text into terms, block-compressed posting lists, BM25 scoring and
//! top-k query evaluation with block-max WAND over them. Documents are
//! numbered `0..n` within an index segment; the table layer maps them to
//! stable row ids and stores what these types produce.

mod analyzer;
mod bm25;
mod cursor;
mod fold;
mod language;
mod postings;
mod search;

pub use analyzer::{Analyzer, AnalyzerConfig, BaseTokenizer, Token};
pub use bm25::{Bm25, CorpusStats};
pub use language::Language;
pub use postings::{BLOCK_LEN, BlockMeta, MAX_DOC, PostingList, PostingListBuilder};
pub use search::{ScoredDoc, SearchStats, TermQuery, top_k_and, top_k_or, top_k_or_with_stats};
