//! Several query vectors in one call: each is searched as a single query
//! and the results are concatenated, led by a `query_index` column (the
//! position of the query, as pylance numbers them).

use super::plan::VectorQuery;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use arrow_array::{ArrayRef, Int32Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use futures::future::try_join_all;
use std::sync::Arc;

/// Name of the column that says which query a row answers.
pub const QUERY_INDEX: &str = "query_index";

impl Dataset {
    /// [`Dataset::nearest`] for every vector of `queries` (each with the
    /// settings of `template`, whose own `query` is ignored): the rows of
    /// query 0, then of query 1, ..., with `query_index` (Int32) first.
    pub async fn nearest_batch(
        &self,
        queries: &[Vec<f32>],
        template: &VectorQuery,
        filter: Option<&str>,
        prefilter: bool,
        columns: Option<&[&str]>,
    ) -> Result<RecordBatch> {
        if queries.is_empty() {
            return Err(TableError::InvalidArgument(
                "a batch search needs at least one query vector".into(),
            ));
        }
        let searches = queries.iter().map(|q| {
            let query = VectorQuery {
                query: q.clone(),
                ..template.clone()
            };
            async move { self.nearest(&query, filter, prefilter, columns).await }
        });
        let results = try_join_all(searches).await?;
        let schema = results[0].schema();
        let mut fields = vec![Field::new(QUERY_INDEX, DataType::Int32, false)];
        fields.extend(schema.fields().iter().map(|f| f.as_ref().clone()));
        let with_index = Arc::new(Schema::new(fields));
        let mut parts = Vec::with_capacity(results.len());
        for (i, batch) in results.iter().enumerate() {
            let index: ArrayRef = Arc::new(Int32Array::from(vec![i as i32; batch.num_rows()]));
            let mut columns = vec![index];
            columns.extend(batch.columns().iter().cloned());
            parts.push(RecordBatch::try_new(with_index.clone(), columns)?);
        }
        Ok(arrow_select::concat::concat_batches(&with_index, &parts)?)
    }
}
