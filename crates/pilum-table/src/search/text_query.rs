//! Full-text queries, as pylance's `lance.query` names them: match,
//! phrase, multi-column match, boost and boolean combinations (plus
//! prefix). Scores are BM25 (k1 = 1.2, b = 0.75) over the corpus of the
//! column's inverted index.

/// How the terms of a match combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Operator {
    /// A document needs any term (or `minimum_should_match` of them).
    #[default]
    Or,
    /// A document needs every term.
    And,
}

/// Terms of `query` (analyzed as the index analyzes its column).
#[derive(Debug, Clone, PartialEq)]
pub struct MatchQuery {
    /// The text.
    pub query: String,
    /// The column; `None` searches every column with an inverted index.
    pub column: Option<String>,
    /// OR (default) or AND.
    pub operator: Operator,
    /// Multiplies the scores (default 1).
    pub boost: f32,
    /// Edits a term may differ by: `Some(0)` (default) exact, `Some(1)` or
    /// `Some(2)`, or `None` for automatic (0 up to 2 characters, 1 up to 5,
    /// else 2).
    pub fuzziness: Option<u32>,
    /// Dictionary terms a fuzzy term expands to at most (default 50).
    pub max_expansions: usize,
    /// Leading characters a fuzzy expansion must share (default 0).
    pub prefix_length: usize,
    /// With OR: terms a document must hold at least (default 1).
    pub minimum_should_match: usize,
}

impl MatchQuery {
    /// An exact OR match of `query` on `column`.
    pub fn new(query: impl Into<String>, column: Option<String>) -> Self {
        Self {
            query: query.into(),
            column,
            operator: Operator::Or,
            boost: 1.0,
            fuzziness: Some(0),
            max_expansions: 50,
            prefix_length: 0,
            minimum_should_match: 1,
        }
    }
}

/// How a clause of a boolean query takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occur {
    /// Every result matches it; its score counts.
    Must,
    /// Its score counts where it matches; with no `Must` clause a result
    /// matches at least one `Should` clause.
    Should,
    /// No result matches it.
    MustNot,
}

/// A full-text query.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FullTextQuery {
    /// Terms of a text.
    Match(MatchQuery),
    /// The terms of a text in order, each at most `slop` positions further
    /// from the previous one than in the text (in total); needs an index
    /// built with positions.
    Phrase {
        /// The text.
        query: String,
        /// The column; `None` for the only indexed column.
        column: Option<String>,
        /// Extra positions allowed (default 0: adjacent).
        slop: u32,
    },
    /// Terms starting with `prefix` (after analysis; no stemming of the
    /// prefix itself beyond the index's lower-casing and folding).
    Prefix {
        /// The prefix.
        prefix: String,
        /// The column.
        column: Option<String>,
        /// Terms it expands to at most (default 50).
        max_expansions: usize,
    },
    /// The same text matched in several columns, scores added (each
    /// column's multiplied by its boost).
    MultiMatch {
        /// The text.
        query: String,
        /// The columns.
        columns: Vec<String>,
        /// One boost per column (default 1 each).
        boosts: Option<Vec<f32>>,
        /// OR or AND within each column.
        operator: Operator,
    },
    /// Results of `positive`, scores multiplied by `negative_boost` where
    /// `negative` also matches.
    Boost {
        /// What is searched.
        positive: Box<FullTextQuery>,
        /// What demotes.
        negative: Box<FullTextQuery>,
        /// The factor (default 0.5).
        negative_boost: f32,
    },
    /// Clauses combined.
    Boolean(Vec<(Occur, FullTextQuery)>),
}

impl FullTextQuery {
    /// An OR match of `query` over every indexed column (pylance's meaning
    /// of a plain string).
    pub fn text(query: impl Into<String>) -> Self {
        Self::Match(MatchQuery::new(query, None))
    }
}
