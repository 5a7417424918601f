//! `pilum_text_search` and `pilum_hybrid_search`: full-text and hybrid
//! search in SQL.
//!
//! ```sql
//! SELECT id, _score FROM pilum_text_search('data/docs', 'text', 'error handling', 10);
//! SELECT * FROM pilum_text_search('data/docs', 'text', 'error handling', 10, 'lang = ''en''');
//! SELECT id, _relevance_score
//!   FROM pilum_hybrid_search('data/docs', 'emb', [0.1, 0.2], 'text', 'error handling', 10);
//! ```
//!
//! `pilum_text_search(uri, column, query, k [, filter])`: an OR match of
//! the analyzed `query` on `column` (which needs an inverted index; `NULL`
//! searches every indexed column), BM25-ranked: the dataset's columns,
//! `_rowid` and `_score`, best first. `pilum_hybrid_search(uri,
//! vector_column, query_vector, text_column, text_query, k [, filter])`:
//! both searches pre-filtered by `filter`, fused by Reciprocal Rank Fusion:
//! the columns, `_rowid`, `_relevance_score`, `_distance`, `_score`,
//! `_vector_rank` and `_text_rank`. A `filter` applies before ranking (so
//! k rows come back whenever k match); a `WHERE` on the result filters the
//! ranked rows instead.

use crate::error::external;
use crate::function::{block_on, literal, string_argument};
use crate::search::vector;
use datafusion::catalog::{MemTable, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::Expr;
use pilum_table::{Dataset, FullTextQuery, FullTextSearch, HybridSearch, MatchQuery, Predicate, VectorQuery};
use std::collections::HashMap;
use std::sync::Arc;

fn plan_error(function: &str, what: impl Into<String>) -> DataFusionError {
    DataFusionError::Plan(format!("{function}: {}", what.into()))
}

fn count(function: &str, expr: &Expr) -> Result<usize> {
    match literal(expr)?.cast_to(&arrow_schema::DataType::UInt64) {
        Ok(ScalarValue::UInt64(Some(k))) => Ok(k as usize),
        _ => Err(plan_error(
            function,
            format!("k must be a non-negative integer, got {expr}"),
        )),
    }
}

/// A column name, or `NULL` for every indexed column.
fn column(function: &str, expr: &Expr) -> Result<Option<String>> {
    if matches!(literal(expr), Ok(ScalarValue::Null) | Ok(ScalarValue::Utf8(None))) {
        return Ok(None);
    }
    string_argument(function, expr)
        .map(Some)
        .map_err(|_| plan_error(function, format!("the column must be a string or NULL, got {expr}")))
}

fn text(function: &str, expr: &Expr, what: &str) -> Result<String> {
    string_argument(function, expr).map_err(|_| plan_error(function, format!("{what} must be a string, got {expr}")))
}

fn table(batch: arrow_array::RecordBatch) -> Result<Arc<dyn TableProvider>> {
    let schema = batch.schema();
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}

/// The table function `pilum_text_search(uri, column, query, k [, filter])`.
#[derive(Debug, Clone, Default)]
pub struct PilumTextSearchFunction {
    storage_options: HashMap<String, String>,
}

impl PilumTextSearchFunction {
    /// A function that opens datasets with these object-store options.
    pub fn new(storage_options: HashMap<String, String>) -> Self {
        Self { storage_options }
    }
}

impl TableFunctionImpl for PilumTextSearchFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "pilum_text_search";
        let exprs = args.exprs();
        if !(4..=5).contains(&exprs.len()) {
            return Err(plan_error(
                NAME,
                "takes a dataset URI, a text column (or NULL), a query, k, and optionally a filter",
            ));
        }
        let uri = string_argument(NAME, &exprs[0])?;
        let column = column(NAME, &exprs[1])?;
        let query = text(NAME, &exprs[2], "the query")?;
        let k = count(NAME, &exprs[3])?;
        let filter = exprs.get(4).map(|e| text(NAME, e, "the filter")).transpose()?;
        let search = FullTextSearch {
            limit: Some(k),
            prefilter: true,
            filter: filter.map(Predicate::Sql),
            ..FullTextSearch::new(FullTextQuery::Match(MatchQuery::new(query, column)))
        };
        let options = self.storage_options.clone();
        let batch = block_on(async move {
            let dataset = Dataset::open_with_options(&uri, &options).await?;
            dataset.full_text_search(&search).await
        })?
        .map_err(external)?;
        table(batch)
    }
}

/// The table function `pilum_hybrid_search(uri, vector_column,
/// query_vector, text_column, text_query, k [, filter])`.
#[derive(Debug, Clone, Default)]
pub struct PilumHybridSearchFunction {
    storage_options: HashMap<String, String>,
}

impl PilumHybridSearchFunction {
    /// A function that opens datasets with these object-store options.
    pub fn new(storage_options: HashMap<String, String>) -> Self {
        Self { storage_options }
    }
}

impl TableFunctionImpl for PilumHybridSearchFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "pilum_hybrid_search";
        let exprs = args.exprs();
        if !(6..=7).contains(&exprs.len()) {
            return Err(plan_error(
                NAME,
                "takes a dataset URI, a vector column, a query vector, a text column (or NULL), a text query, k, and optionally a filter",
            ));
        }
        let uri = string_argument(NAME, &exprs[0])?;
        let vector_column = text(NAME, &exprs[1], "the vector column")?;
        let query_vector = vector(&exprs[2])?;
        let text_column = column(NAME, &exprs[3])?;
        let text_query = text(NAME, &exprs[4], "the text query")?;
        let k = count(NAME, &exprs[5])?;
        let filter = exprs.get(6).map(|e| text(NAME, e, "the filter")).transpose()?;
        let search = HybridSearch {
            filter: filter.map(Predicate::Sql),
            ..HybridSearch::new(
                VectorQuery::new(vector_column, query_vector, k),
                FullTextQuery::Match(MatchQuery::new(text_query, text_column)),
                k,
            )
        };
        let options = self.storage_options.clone();
        let batch = block_on(async move {
            let dataset = Dataset::open_with_options(&uri, &options).await?;
            dataset.hybrid_search(&search).await
        })?
        .map_err(external)?;
        table(batch)
    }
}
