//! Search results in pylance's column order.

use crate::errors::internal_error;
use arrow_array::RecordBatch;
use pyo3::PyResult;

/// Name of the row-id column searches return.
const ROW_ID: &str = "_rowid";

/// A search result (its columns, `_rowid`, then the score or distance) in
/// pylance's order when `with_row_id` is given: `_rowid` dropped, or moved
/// after the score. Unchanged for `None`.
pub fn pylance_order(batch: RecordBatch, with_row_id: Option<bool>) -> PyResult<RecordBatch> {
    let Some(keep) = with_row_id else {
        return Ok(batch);
    };
    let count = batch.num_columns();
    let row_id = count
        .checked_sub(2)
        .filter(|&at| batch.schema().field(at).name() == ROW_ID)
        .ok_or_else(|| internal_error("a search result lacks its _rowid column".to_string()))?;
    let mut order: Vec<usize> = (0..count).filter(|&i| i != row_id).collect();
    if keep {
        order.push(row_id);
    }
    batch
        .project(&order)
        .map_err(|e| internal_error(format!("reordering a search result: {e}")))
}
