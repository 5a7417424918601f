//! Vector search among given rows: the `k` of a row set nearest to a query,
//! compared exactly (the rows' vectors read by row id). This is how a
//! full-text query pre-filters a vector search: its matches are the set.

use super::plan::VectorQuery;
use crate::dataset::Dataset;
use crate::error::Result;
use arrow_array::RecordBatch;
use pilum_index::Metric;

impl Dataset {
    /// The `query.k` rows of `rows` (live row ids) nearest to the query
    /// vector, compared exactly, with `columns` (all when `None`), `_rowid`
    /// and `_distance`. The metric is the query's, else that of a vector
    /// index on the column, else L2.
    pub async fn nearest_among(
        &self,
        query: &VectorQuery,
        rows: &[u64],
        columns: Option<&[&str]>,
    ) -> Result<RecordBatch> {
        let shape = self.check_vector_column(query)?;
        let field_id = self.manifest.schema.field_id(&query.column)?;
        let metric = query
            .metric
            .or_else(|| {
                self.manifest
                    .indices
                    .iter()
                    .find(|s| s.is_readable() && s.field_id() == Some(field_id))
                    .and_then(|s| s.metric())
            })
            .unwrap_or(Metric::L2);
        let mut ids = rows.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let winners = self.rank_rows(query, metric, shape, ids).await?;
        self.search_output(&winners, columns, None).await
    }
}
