//! What an inverted (full-text) index build is asked for, and how its
//! analyzer settings are recorded in and read back from a segment.

use crate::error::{Result, TableError};
use crate::proto;
use pilum_index::text::{AnalyzerConfig, BaseTokenizer, Language};

/// An inverted index build: every field has a documented default
/// (pylance's: simple words, lower-cased, ASCII-folded, English stop words
/// removed, English stemming, terms of at most 40 bytes, no positions).
#[derive(Debug, Clone)]
pub struct TextIndexParams {
    /// The text column: a string column (UTF-8, large or view), a list
    /// of strings (each element is analyzed; positions continue across
    /// elements with a gap, so a phrase never spans two), a struct of such
    /// fields, or a JSON column (`arrow.json`: every string, number and
    /// boolean of a document is a text, also searchable by its path as
    /// column `{column}.{path}`).
    pub column: String,
    /// The index name; default `{column}_idx`.
    pub name: Option<String>,
    /// Replace an index of the same name instead of failing.
    pub replace: bool,
    /// How text becomes terms.
    pub analyzer: AnalyzerConfig,
    /// Keep term positions (phrase queries need them; larger index).
    pub with_position: bool,
    /// Memory the build's term buffers may hold before spilling sorted
    /// runs to local disk, in bytes; default 1 GiB.
    pub memory_limit: usize,
    /// Read the column's values as JSON documents with paths; default
    /// `None`: when the column's type is `arrow.json`.
    pub json: Option<bool>,
}

impl TextIndexParams {
    /// Defaults for `column`.
    pub fn new(column: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            name: None,
            replace: false,
            analyzer: AnalyzerConfig::default(),
            with_position: false,
            memory_limit: 1 << 30,
            json: None,
        }
    }

    /// The name used: the given one or `{column}_idx`.
    pub fn resolved_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("{}_idx", self.column))
    }
}

/// The stored form of an analyzer and build.
pub(crate) fn details_of(params: &TextIndexParams) -> proto::TextIndexDetails {
    let a = &params.analyzer;
    let (base, min, max) = match a.base {
        BaseTokenizer::Simple => ("simple", 0, 0),
        BaseTokenizer::Whitespace => ("whitespace", 0, 0),
        BaseTokenizer::Raw => ("raw", 0, 0),
        BaseTokenizer::NGram { min, max } => ("ngram", min as u32, max as u32),
        _ => ("unknown", 0, 0),
    };
    proto::TextIndexDetails {
        base_tokenizer: base.to_string(),
        ngram_min: min,
        ngram_max: max,
        lower_case: a.lower_case,
        ascii_folding: a.ascii_folding,
        max_token_length: a.max_token_length as u32,
        stop_words_language: a.stop_words.map_or(String::new(), |l| l.name().to_string()),
        stem_language: a.stem.map_or(String::new(), |l| l.name().to_string()),
        with_position: params.with_position,
        ..Default::default()
    }
}

/// The analyzer a segment was built with (queries must analyze alike).
pub(crate) fn analyzer_of(details: &proto::TextIndexDetails) -> Result<AnalyzerConfig> {
    let language = |name: &str| -> Result<Option<Language>> {
        if name.is_empty() {
            Ok(None)
        } else {
            Language::parse(name).map(Some).map_err(TableError::index)
        }
    };
    let base = match details.base_tokenizer.as_str() {
        "simple" => BaseTokenizer::Simple,
        "whitespace" => BaseTokenizer::Whitespace,
        "raw" => BaseTokenizer::Raw,
        "ngram" => BaseTokenizer::NGram {
            min: details.ngram_min as usize,
            max: details.ngram_max as usize,
        },
        other => {
            return Err(TableError::InvalidIndexParams {
                what: format!("unknown base tokenizer {other:?} (supported: simple, whitespace, raw, ngram)"),
            });
        }
    };
    Ok(AnalyzerConfig {
        base,
        lower_case: details.lower_case,
        ascii_folding: details.ascii_folding,
        max_token_length: details.max_token_length as usize,
        stop_words: language(&details.stop_words_language)?,
        stem: language(&details.stem_language)?,
    })
}
