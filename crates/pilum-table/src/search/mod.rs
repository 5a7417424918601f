//! Search over a dataset version: vector search (a small planner that
//! searches the fragments an index covers through the index, the rest
//! exactly, and merges the two by distance) and full-text search (BM25
//! over inverted indices, unindexed fragments scored exactly).

mod among;
mod ann;
mod batch;
mod column;
mod exact;
mod hybrid;
mod output;
mod plan;
mod scalar_filter;
mod scalar_plan;
mod stats_prune;
mod text_leaf;
mod text_query;
mod text_search;
mod text_unindexed;
mod widen;

pub use batch::QUERY_INDEX;
pub(crate) use column::{VectorRows, VectorShape};
pub use hybrid::{Fusion, HybridSearch, RELEVANCE, Reranker, TEXT_RANK, VECTOR_RANK};
pub use plan::{DISTANCE, VectorQuery};
pub(crate) use scalar_plan::{Candidates, IndexedRows};
pub(crate) use stats_prune::may_match;
pub use text_query::{FullTextQuery, MatchQuery, Occur, Operator};
pub use text_search::{FullTextSearch, SCORE};
