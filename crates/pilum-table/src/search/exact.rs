//! Exact k-nearest-neighbor search: a scan of the vector column over some
//! fragments (with a filter applied first, if any) and a running top-k by
//! stable row id.

use super::column::{VectorRows, VectorShape};
use super::plan::VectorQuery;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::scan_tasks::spawned;
use crate::scanner::ROW_ID;
use arrow_array::cast::AsArray;
use arrow_array::types::{UInt8Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt64Array};
use futures::TryStreamExt;
use pilum_index::{Metric, MultiQuery, Neighbor, TopK};
use std::sync::Arc;

/// How a query scores a row: vector against vector, or MaxSim of the
/// query's bag against the row's bag (multivector columns).
#[derive(Debug, Clone)]
pub(crate) enum Scorer {
    /// One vector per row.
    Single { metric: Metric, prepared: Vec<f32> },
    /// A bag per row.
    Multi(MultiQuery),
}

impl Scorer {
    /// The scorer of `query` (one vector, or a bag of `shape.dim`-value
    /// vectors for a multivector column).
    pub fn new(metric: Metric, query: &[f32], shape: VectorShape) -> Self {
        if shape.multivector {
            Self::Multi(MultiQuery::new(metric, query, shape.dim))
        } else {
            Self::Single {
                metric,
                prepared: metric.prepare_query(query),
            }
        }
    }

    /// The distance to a row's values; `None` when it cannot match (NaN).
    pub fn distance(&self, row: &[f32]) -> Option<f32> {
        let d = match self {
            Self::Single { metric, prepared } => metric.distance_prepared(prepared, row),
            Self::Multi(query) => query.distance(row)?,
        };
        (!d.is_nan()).then_some(d)
    }
}

impl Dataset {
    /// The `k` rows nearest to the query among the live rows of `fragments`
    /// (all when `None`) that pass `filter`, compared exactly.
    pub(crate) async fn exact_neighbors(
        &self,
        query: &VectorQuery,
        metric: Metric,
        shape: VectorShape,
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
        let scorer = Arc::new(Scorer::new(metric, &query.query, shape));
        let k = query.k;
        let parallelism = pilum_file::cores().max(1);
        let top = scan
            .try_into_stream()
            .await?
            .map_ok(|batch| {
                let (column, scorer) = (column.clone(), scorer.clone());
                spawned("vector search ranking", async move {
                    let mut top = TopK::new(k);
                    rank_batch(&batch, &column, shape, &scorer, &mut top)?;
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

    /// The shape of the query's column, after checking that it is a vector
    /// column matching the query: one vector of the column's size, or for
    /// a multivector column one or more such vectors one after another.
    pub(crate) fn check_vector_column(&self, query: &VectorQuery) -> Result<VectorShape> {
        let schema = self.schema();
        let field = schema
            .field_with_name(&query.column)
            .map_err(|_| TableError::InvalidArgument(format!("no column {:?} to search", query.column)))?;
        let shape = VectorShape::of(&query.column, field.data_type())?;
        let size = shape.dim;
        let fits = if shape.multivector {
            !query.query.is_empty() && query.query.len().is_multiple_of(size)
        } else {
            query.query.len() == size
        };
        if !fits {
            let wanted = if shape.multivector {
                format!("a multiple of {size} (one or more query vectors)")
            } else {
                size.to_string()
            };
            return Err(TableError::InvalidArgument(format!(
                "query vector has {} values, column {:?} needs {wanted}",
                query.query.len(),
                query.column
            )));
        }
        if query.query.iter().any(|v| !v.is_finite()) {
            return Err(TableError::InvalidArgument(
                "query vector holds NaN or infinite values".into(),
            ));
        }
        Ok(shape)
    }
}

/// Offers every row of `batch` (the vector column and `_rowid`) to `top`.
pub(crate) fn rank_batch(
    batch: &RecordBatch,
    column: &str,
    shape: VectorShape,
    scorer: &Scorer,
    top: &mut TopK,
) -> Result<()> {
    let missing = |name: &str| TableError::Internal {
        what: format!("vector search batch lacks column {name}"),
    };
    let vectors = batch.column_by_name(column).ok_or_else(|| missing(column))?;
    let ids = batch.column_by_name(ROW_ID).ok_or_else(|| missing(ROW_ID))?;
    let ids = ids.as_primitive::<UInt64Type>();
    if let Scorer::Single {
        metric: Metric::Hamming,
        prepared,
    } = scorer
        && rank_codes(vectors, prepared, ids, top)
    {
        return Ok(());
    }
    let rows = VectorRows::new(vectors, shape)?;
    for row in 0..rows.len() {
        let Some(values) = rows.row(row) else { continue };
        if let Some(distance) = scorer.distance(values) {
            top.push(distance, ids.value(row));
        }
    }
    Ok(())
}

/// Hamming search straight over a `FixedSizeList<UInt8>` column's bytes
/// (no conversion to f32): offers every non-null row to `top` and returns
/// true, or returns false (nothing offered) when the column is not one
/// whose values are all present bytes, or the query is not a code of its
/// width, for the general path to handle.
fn rank_codes(vectors: &ArrayRef, query: &[f32], ids: &UInt64Array, top: &mut TopK) -> bool {
    let Some(list) = vectors.as_fixed_size_list_opt() else {
        return false;
    };
    let Some(bytes) = list.values().as_primitive_opt::<UInt8Type>() else {
        return false;
    };
    let width = list.value_length() as usize;
    let Some(code) = pilum_index::binary::to_bytes(query) else {
        return false;
    };
    if bytes.null_count() > 0 || code.len() != width {
        return false;
    }
    let values = bytes.values();
    for row in 0..list.len() {
        if list.is_null(row) {
            continue;
        }
        let start = list.value_offset(row) as usize;
        let Some(row_code) = values.get(start..start + width) else {
            continue;
        };
        top.push(
            pilum_index::binary::hamming_bytes(&code, row_code) as f32,
            ids.value(row),
        );
    }
    true
}
