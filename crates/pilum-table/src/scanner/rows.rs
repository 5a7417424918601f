//! The rows a scan task keeps: which fragment rows a batch holds (deleted
//! rows dropped, a filter's mask applied), the projection assembled from
//! the filter's and the other columns, and `_rowid` / `_rowaddr` appended.

use super::ScanPlan;
use crate::error::{Result, TableError};
use crate::rowids;
use crate::scan_tasks::Task;
use arrow_array::{ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions, UInt64Array};
use roaring::RoaringBitmap;
use std::ops::Range;
use std::sync::Arc;

/// The projection's columns, from the filter's batch or the rest's.
pub(super) fn assemble(
    plan: &ScanPlan,
    filter_batch: &RecordBatch,
    rest: Option<&RecordBatch>,
    count: usize,
) -> Result<RecordBatch> {
    let columns = plan
        .projection
        .arrow()
        .fields()
        .iter()
        .map(|f| {
            filter_batch
                .column_by_name(f.name())
                .or_else(|| rest.and_then(|r| r.column_by_name(f.name())))
                .cloned()
                .ok_or_else(|| TableError::ColumnNotFound { name: f.name().clone() })
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(count));
    Ok(RecordBatch::try_new_with_options(
        plan.projection.arrow().clone(),
        columns,
        &options,
    )?)
}

/// The fragment rows (offsets) a batch holds; listed only when asked
/// (row ids, addresses, late materialization), as most scans never need them.
pub(super) enum Kept {
    /// Every row of the range.
    All(Range<u64>),
    /// These rows, ascending.
    Some(Vec<u64>),
    /// The rows of the first that a null-free mask (one entry per row) keeps.
    Masked(Box<Kept>, BooleanArray),
}

impl Kept {
    pub(super) fn len(&self) -> usize {
        match self {
            Self::All(rows) => (rows.end - rows.start) as usize,
            Self::Some(offsets) => offsets.len(),
            Self::Masked(_, mask) => mask.true_count(),
        }
    }

    /// The rows, listed.
    pub(super) fn offsets(&self) -> Vec<u64> {
        match self {
            Self::All(rows) => rows.clone().collect(),
            Self::Some(offsets) => offsets.clone(),
            Self::Masked(inner, mask) => {
                let picked = mask.values().set_indices();
                match inner.as_ref() {
                    Self::All(rows) => picked.map(|i| rows.start + i as u64).collect(),
                    other => {
                        let offsets = other.offsets();
                        picked.filter_map(|i| offsets.get(i).copied()).collect()
                    }
                }
            }
        }
    }
}

/// Non-deleted rows of `rows`, or `None` when none is deleted.
pub(super) fn live_mask(deletions: &RoaringBitmap, rows: &Range<u64>) -> Option<BooleanArray> {
    let (start, end) = (rows.start as u32, rows.end as u32);
    if deletions.range_cardinality(start..end) == 0 {
        return None;
    }
    Some((start..end).map(|row| Some(!deletions.contains(row))).collect())
}

/// Drops deleted rows; returns the batch and the rows it kept.
pub(super) fn apply_mask(
    batch: RecordBatch,
    live: Option<&BooleanArray>,
    rows: &Range<u64>,
) -> Result<(RecordBatch, Kept)> {
    match live {
        None => Ok((batch, Kept::All(rows.clone()))),
        Some(mask) => {
            let offsets = rows
                .clone()
                .zip(mask.values().iter())
                .filter_map(|(row, keep)| keep.then_some(row))
                .collect();
            Ok((
                arrow_select::filter::filter_record_batch(&batch, mask)?,
                Kept::Some(offsets),
            ))
        }
    }
}

/// Appends `_rowid` / `_rowaddr` for the `kept` rows of the task's fragment.
pub(super) fn finish(plan: &ScanPlan, task: &Task, batch: RecordBatch, kept: &Kept) -> Result<RecordBatch> {
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    let offsets = if plan.with_row_id || plan.with_row_address {
        kept.offsets()
    } else {
        Vec::new()
    };
    if plan.with_row_id {
        let sequence = task.fragment.row_ids.clone().unwrap_or_default();
        columns.push(Arc::new(UInt64Array::from(rowids::ids_at(
            &sequence,
            offsets.iter().copied(),
        ))));
    }
    if plan.with_row_address {
        let base = task.fragment.id << 32;
        columns.push(Arc::new(UInt64Array::from_iter_values(
            offsets.iter().map(|o| base | o),
        )));
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        plan.output.clone(),
        columns,
        &options,
    )?)
}
