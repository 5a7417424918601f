//! Exact k-nearest-neighbor search: a scan of the vector column over some
//! fragments (with a filter applied first, if any) and a running top-k by
//! stable row id.

use super::plan::VectorQuery;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::scan_tasks::spawned;
use crate::scanner::ROW_ID;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt64Type};
use arrow_array::{Array, FixedSizeListArray, RecordBatch};
use arrow_schema::DataType;
use futures::TryStreamExt;
use pilum_index::{Metric, Neighbor, TopK};
use std::sync::Arc;

impl Dataset {
    /// The `k` rows nearest to the query among the live rows of `fragments`
    /// (all when `None`) that pass `filter`, compared exactly.
    pub(crate) async fn exact_neighbors(
        &self,
        query: &VectorQuery,
        metric: Metric,
        dim: usize,
        fragments: Option<Vec<u64>>,
        filter: Option<&str>,
    ) -> Result<Vec<Neighbor>> {
        let mut scan = self.scan().project([query.column.as_str()]).with_row_id(true);
        if let Some(filter) = filter {
            scan = scan.filter(filter);
        }
        if let Some(ids) = fragments {
            scan = scan.with_fragments(ids);
        }
        // Batches are ranked on the runtime's workers, several at once, each
        // into its own top-k; the partial results merge as they arrive.
        let column: Arc<str> = Arc::from(query.column.as_str());
        let prepared = Arc::new(metric.prepare_query(&query.query));
        let k = query.k;
        let parallelism = pilum_file::cores().max(1);
        let top = scan
            .try_into_stream()
            .await?
            .map_ok(|batch| {
                let (column, prepared) = (column.clone(), prepared.clone());
                spawned("vector search ranking", async move {
                    let mut top = TopK::new(k);
                    rank_batch(&batch, &column, dim, metric, &prepared, &mut top)?;
                    Ok(top.into_sorted())
                })
            })
            .try_buffer_unordered(parallelism)
            .try_fold(TopK::new(k), |mut top, part: Vec<Neighbor>| {
                for neighbor in part {
                    top.push(neighbor.distance, neighbor.id);
                }
                futures::future::ready(Ok(top))
            })
            .await?;
        Ok(top.into_sorted())
    }

    /// The list size of the query's column, after checking that it is a
    /// vector column matching the query.
    pub(crate) fn check_vector_column(&self, query: &VectorQuery) -> Result<usize> {
        let schema = self.schema();
        let field = schema
            .field_with_name(&query.column)
            .map_err(|_| TableError::InvalidArgument(format!("no column {:?} to search", query.column)))?;
        let (item, size) = match field.data_type() {
            DataType::FixedSizeList(item, size) => (item.data_type(), *size as usize),
            other => {
                return Err(TableError::InvalidArgument(format!(
                    "column {:?} is {other}, not a vector column (a fixed-size list of floats)",
                    query.column
                )));
            }
        };
        if !matches!(item, DataType::Float16 | DataType::Float32 | DataType::Float64) {
            return Err(TableError::InvalidArgument(format!(
                "column {:?} holds {item} vectors; vector search needs f16, f32 or f64",
                query.column
            )));
        }
        if query.query.len() != size {
            return Err(TableError::InvalidArgument(format!(
                "query vector has {} values, column {:?} has {size}",
                query.query.len(),
                query.column
            )));
        }
        if query.query.iter().any(|v| !v.is_finite()) {
            return Err(TableError::InvalidArgument(
                "query vector holds NaN or infinite values".into(),
            ));
        }
        Ok(size)
    }
}

/// Offers every row of `batch` (the vector column and `_rowid`) to `top`.
pub(crate) fn rank_batch(
    batch: &RecordBatch,
    column: &str,
    dim: usize,
    metric: Metric,
    prepared: &[f32],
    top: &mut TopK,
) -> Result<()> {
    let missing = |name: &str| TableError::Internal {
        what: format!("vector search batch lacks column {name}"),
    };
    let vectors = batch.column_by_name(column).ok_or_else(|| missing(column))?;
    let ids = batch.column_by_name(ROW_ID).ok_or_else(|| missing(ROW_ID))?;
    let ids = ids.as_primitive::<UInt64Type>();
    let list: &FixedSizeListArray = vectors.as_fixed_size_list();
    let values = arrow_cast::cast(list.values(), &DataType::Float32)?;
    let values = values.as_primitive::<Float32Type>().values();
    for row in 0..list.len() {
        if list.is_null(row) {
            continue;
        }
        let start = list.value_offset(row) as usize;
        let vector = values.get(start..start + dim).ok_or_else(|| TableError::Internal {
            what: format!("vector {row} of a batch is shorter than {dim} values"),
        })?;
        let distance = metric.distance_prepared(prepared, vector);
        if distance.is_nan() {
            continue;
        }
        top.push(distance, ids.value(row));
    }
    Ok(())
}
