//! Public, read-only accessors of an index segment's manifest entry, so
//! callers read what a segment records without the stored messages.

use super::IndexSegment;
use pilum_index::Metric;

/// A file of an index segment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexFileInfo {
    /// What the file holds: `ivf`, `quantizer` or `storage` (vector
    /// kinds); `postings`, `terms` or `docs` (INVERTED).
    pub role: String,
    /// Path relative to the dataset root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// What a vector index segment records about its model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VectorSegmentInfo {
    /// The metric it ranks by (`None` for a metric this library does not know).
    pub metric: Option<Metric>,
    /// Values per indexed vector (a matryoshka prefix when below the column's).
    pub dimension: u32,
    /// The column's values per vector.
    pub column_dimension: u32,
    /// IVF partitions.
    pub num_partitions: u32,
    /// PQ sub-vectors (0 for kinds without PQ).
    pub num_sub_vectors: u32,
    /// Bits per PQ code (0 for kinds without PQ).
    pub num_bits: u32,
    /// HNSW links per node (0 without a graph).
    pub hnsw_m: u32,
    /// HNSW build beam width (0 without a graph).
    pub hnsw_ef_construction: u32,
    /// Partitions a query probes unless it says otherwise.
    pub default_nprobes: u32,
    /// Exact re-rank window, as a multiple of k, unless a query says otherwise.
    pub default_refine_factor: u32,
    /// Rows of covered fragments left out (null, NaN or infinite vectors).
    pub skipped_rows: u64,
    /// Whether it indexes the vectors of a multivector column.
    pub multivector: bool,
}

impl IndexSegment {
    /// Top-level field ids of the indexed columns.
    pub fn field_ids(&self) -> &[i32] {
        &self.message.field_ids
    }

    /// The dataset version the build read.
    pub fn dataset_version(&self) -> u64 {
        self.message.dataset_version
    }

    /// Entries in the segment (indexed vectors).
    pub fn num_entries(&self) -> u64 {
        self.message.num_entries
    }

    /// Build time, microseconds since the Unix epoch (UTC).
    pub fn created_at_micros(&self) -> i64 {
        self.message.created_at_micros
    }

    /// Format version of the segment's files.
    pub fn index_version(&self) -> u32 {
        self.message.index_version
    }

    /// The files the segment reads.
    pub fn files(&self) -> Vec<IndexFileInfo> {
        self.message
            .files
            .iter()
            .map(|f| IndexFileInfo {
                role: f.role.clone(),
                path: f.path.clone(),
                size: f.size,
            })
            .collect()
    }

    /// The analyzer and corpus totals, for INVERTED.
    pub fn text_info(&self) -> Option<TextSegmentInfo> {
        let d = self.text()?;
        Some(TextSegmentInfo {
            base_tokenizer: d.base_tokenizer.clone(),
            stop_words_language: (!d.stop_words_language.is_empty()).then(|| d.stop_words_language.clone()),
            stem_language: (!d.stem_language.is_empty()).then(|| d.stem_language.clone()),
            lower_case: d.lower_case,
            ascii_folding: d.ascii_folding,
            max_token_length: d.max_token_length,
            with_position: d.with_position,
            num_docs: d.num_docs,
            total_terms: d.total_terms,
            num_terms: d.num_terms,
            skipped_rows: d.skipped_rows,
            json: d.json,
        })
    }

    /// The model's parameters, for vector kinds.
    pub fn vector_info(&self) -> Option<VectorSegmentInfo> {
        let d = self.vector()?;
        Some(VectorSegmentInfo {
            metric: self.metric(),
            dimension: d.dimension,
            column_dimension: if d.column_dimension == 0 {
                d.dimension
            } else {
                d.column_dimension
            },
            num_partitions: d.num_partitions,
            num_sub_vectors: d.num_sub_vectors,
            num_bits: d.num_bits,
            hnsw_m: d.hnsw_m,
            hnsw_ef_construction: d.hnsw_ef_construction,
            default_nprobes: d.default_nprobes,
            default_refine_factor: d.default_refine_factor,
            skipped_rows: d.skipped_rows,
            multivector: d.multivector,
        })
    }
}

/// What an INVERTED segment records: its analyzer and corpus totals.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TextSegmentInfo {
    /// `simple`, `whitespace`, `raw` or `ngram`.
    pub base_tokenizer: String,
    /// Language whose stop words were removed.
    pub stop_words_language: Option<String>,
    /// Language of the stemmer.
    pub stem_language: Option<String>,
    /// Terms lower-cased.
    pub lower_case: bool,
    /// Accents folded to ASCII.
    pub ascii_folding: bool,
    /// Longer terms dropped (0: no limit).
    pub max_token_length: u32,
    /// Postings carry positions (phrase queries).
    pub with_position: bool,
    /// Documents indexed.
    pub num_docs: u64,
    /// Terms in all documents.
    pub total_terms: u64,
    /// Distinct terms.
    pub num_terms: u64,
    /// Null rows of covered fragments.
    pub skipped_rows: u64,
    /// The column's values were read as JSON documents, terms also indexed
    /// under their paths (text index version 2).
    pub json: bool,
}
