//! Exact k-nearest-neighbor search: a scan of the vector column (with the
//! caller's filter applied first), a running top-k by stable row id, then a
//! take of the winners' other columns.

use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::expr::CompiledExpr;
use crate::scan_tasks::spawned;
use crate::scanner::ROW_ID;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use arrow_select::filter::{filter as filter_array, filter_record_batch};
use futures::TryStreamExt;
use pilum_index::{Metric, Neighbor, TopK};
use std::sync::Arc;

/// Name of the distance column search results carry.
pub const DISTANCE: &str = "_distance";

/// A nearest-neighbor query over one vector column.
#[derive(Debug, Clone)]
pub struct VectorQuery {
    /// The vector column: `FixedSizeList` of f16, f32 or f64.
    pub column: String,
    /// The query vector (as many values as the column's list size).
    pub query: Vec<f32>,
    /// Rows to return at most.
    pub k: usize,
    /// The distance to rank by.
    pub metric: Metric,
}

impl Dataset {
    /// The `query.k` live rows nearest to the query vector, nearest first,
    /// compared exactly (no index). With `prefilter`, `filter` (SQL)
    /// selects the candidates first, so `k` rows come back whenever at
    /// least `k` match; without it the `k` nearest of all rows are found
    /// first and `filter` then drops some of them (pylance's default). The
    /// result has `columns` (all when `None`), then `_rowid` and
    /// `_distance` (f32, pylance's values: squared L2, `1 − cos`, `1 − dot`);
    /// rows whose vector is null never match. Ties are broken by row id.
    pub async fn nearest_exact(
        &self,
        query: &VectorQuery,
        filter: Option<&str>,
        prefilter: bool,
        columns: Option<&[&str]>,
    ) -> Result<RecordBatch> {
        let dim = self.check_vector_column(query)?;
        let post = match (filter, prefilter) {
            (Some(sql), false) => Some(CompiledExpr::compile_predicate(sql, self.schema())?),
            _ => None,
        };
        let mut scan = self.scan().project([query.column.as_str()]).with_row_id(true);
        if let (Some(filter), true) = (filter, prefilter) {
            scan = scan.filter(filter);
        }
        // Batches are ranked on the runtime's workers, several at once, each
        // into its own top-k; the partial results merge at the end.
        let shared = Arc::new(query.clone());
        let parallelism = pilum_file::cores().max(1);
        let top = scan
            .try_into_stream()
            .await?
            .map_ok(|batch| {
                let query = shared.clone();
                spawned("vector search ranking", async move {
                    let mut top = TopK::new(query.k);
                    rank_batch(&batch, dim, &query, &mut top)?;
                    Ok(top.into_sorted())
                })
            })
            .try_buffer_unordered(parallelism)
            .try_fold(TopK::new(query.k), |mut top, part: Vec<Neighbor>| {
                for neighbor in part {
                    top.push(neighbor.distance, neighbor.id);
                }
                futures::future::ready(Ok(top))
            })
            .await?;
        let winners = top.into_sorted();
        let output: Vec<String> = match columns {
            Some(names) => names.iter().map(|n| n.to_string()).collect(),
            None => self.schema().fields().iter().map(|f| f.name().clone()).collect(),
        };
        let mut needed = output.clone();
        if let Some(post) = &post {
            needed.extend(post.columns().into_iter().filter(|c| !output.contains(c)));
        }
        let needed_refs: Vec<&str> = needed.iter().map(String::as_str).collect();
        let ids = UInt64Array::from_iter_values(winners.iter().map(|n| n.id));
        let distances = Float32Array::from_iter_values(winners.iter().map(|n| n.distance));
        let mut rows = self.take_rows(ids.values(), Some(&needed_refs)).await?;
        let (mut ids, mut distances): (ArrayRef, ArrayRef) = (Arc::new(ids), Arc::new(distances));
        if let Some(post) = &post {
            let mask = post.mask(&rows)?;
            rows = filter_record_batch(&rows, &mask)?;
            ids = filter_array(&ids, &mask)?;
            distances = filter_array(&distances, &mask)?;
        }
        let positions = output
            .iter()
            .map(|name| rows.schema().index_of(name))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let rows = rows.project(&positions)?;
        let mut fields: Vec<Field> = rows.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut arrays: Vec<ArrayRef> = rows.columns().to_vec();
        fields.push(Field::new(ROW_ID, DataType::UInt64, false));
        arrays.push(ids);
        fields.push(Field::new(DISTANCE, DataType::Float32, false));
        arrays.push(distances);
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }

    /// The list size of the query's column, after checking that it is a
    /// vector column matching the query.
    fn check_vector_column(&self, query: &VectorQuery) -> Result<usize> {
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
fn rank_batch(batch: &RecordBatch, dim: usize, query: &VectorQuery, top: &mut TopK) -> Result<()> {
    let column = query.column.as_str();
    let prepared = query.metric.prepare_query(&query.query);
    let missing = |name: &str| TableError::Internal {
        what: format!("vector search scan lacks column {name}"),
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
            what: format!("vector {row} of a scanned batch is shorter than {dim} values"),
        })?;
        let distance = query.metric.distance_prepared(&prepared, vector);
        if distance.is_nan() {
            continue;
        }
        top.push(distance, ids.value(row));
    }
    Ok(())
}
