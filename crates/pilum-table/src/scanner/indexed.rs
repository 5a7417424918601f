//! Scan tasks of fragments that scalar indices narrowed: only the
//! candidate rows are read (by position when they are sparse, as a masked
//! range when dense), and the filter is re-checked on them unless the
//! indices answered it exactly.

use super::ScanPlan;
use super::rows::{Kept, assemble, finish};
use crate::error::Result;
use crate::fragment::FragmentReader;
use crate::scan_tasks::Task;
use crate::schema::TableSchema;
use crate::search::{Candidates, IndexedRows};
use arrow_array::{Array, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow_buffer::BooleanBufferBuilder;
use std::ops::Range;

/// Narrowed fragments with at most this many candidates are read as one
/// task (the scan's row-sized tasks would mostly find none).
pub(super) const ONE_TASK_CANDIDATES: u64 = 16_384;

/// Shrinks each span of a narrowed fragment to its first..last candidate.
pub(super) fn narrow_spans(spans: &mut [Task], indexed: &IndexedRows) {
    for span in spans {
        let Some(candidates) = indexed.get(&span.fragment.id) else {
            continue;
        };
        if let (Some(min), Some(max)) = (candidates.offsets.min(), candidates.offsets.max()) {
            let start = span.rows.start.max(min as u64);
            let end = span.rows.end.min(max as u64 + 1).max(start);
            span.rows = start..end;
        }
    }
}

/// The task size for `span`: whole for a narrowed fragment with few
/// candidates, else the scan's `step`.
pub(super) fn span_step(plan: &ScanPlan, span: &Task, step: u64) -> u64 {
    let few = plan
        .indexed
        .as_ref()
        .and_then(|i| i.get(&span.fragment.id))
        .is_some_and(|c| c.offsets.len() <= ONE_TASK_CANDIDATES);
    if few { u64::MAX } else { step }
}

/// Runs `task` over its candidate rows.
pub(super) async fn run_candidates(
    reader: &FragmentReader,
    plan: &ScanPlan,
    task: &Task,
    candidates: &Candidates,
) -> Result<RecordBatch> {
    let deletions = reader.deletions();
    let offsets: Vec<u64> = candidates
        .offsets
        .range(task.rows.start as u32..task.rows.end as u32)
        .filter(|o| !deletions.contains(*o))
        .map(u64::from)
        .collect();
    if offsets.is_empty() {
        return Ok(RecordBatch::new_empty(plan.output.clone()));
    }
    let filter = match &plan.filter {
        Some(filter) if !candidates.exact => filter,
        _ => {
            let batch = read_rows(reader, &plan.projection, &task.rows, &offsets).await?;
            return finish(plan, task, batch, &Kept::Some(offsets));
        }
    };
    let filter_batch = read_rows(reader, &plan.filter_schema, &task.rows, &offsets).await?;
    let matches = filter.mask(&filter_batch)?;
    let matches = match matches.nulls() {
        Some(_) => arrow_select::filter::prep_null_mask_filter(&matches),
        None => matches,
    };
    let kept: Vec<u64> = offsets
        .iter()
        .zip(matches.values().iter())
        .filter_map(|(&offset, keep)| keep.then_some(offset))
        .collect();
    if kept.is_empty() {
        return Ok(RecordBatch::new_empty(plan.output.clone()));
    }
    let filter_batch = arrow_select::filter::filter_record_batch(&filter_batch, &matches)?;
    let rest = if plan.rest_schema.arrow().fields().is_empty() {
        None
    } else {
        Some(read_rows(reader, &plan.rest_schema, &task.rows, &kept).await?)
    };
    let batch = assemble(plan, &filter_batch, rest.as_ref(), kept.len())?;
    finish(plan, task, batch, &Kept::Some(kept))
}

/// Rows `offsets` (ascending, within `rows`) of `schema`'s columns.
async fn read_rows(
    reader: &FragmentReader,
    schema: &TableSchema,
    rows: &Range<u64>,
    offsets: &[u64],
) -> Result<RecordBatch> {
    if schema.arrow().fields().is_empty() {
        let options = RecordBatchOptions::new().with_row_count(Some(offsets.len()));
        return Ok(RecordBatch::try_new_with_options(
            schema.arrow().clone(),
            Vec::new(),
            &options,
        )?);
    }
    // Fetch by position while the candidates touch under half the chunks
    // (of the widest column: its recorded value size says how many rows a
    // chunk holds), or are under one row in SPARSE_ROWS (chunks of scalar
    // values then decode only the rows fetched); else read the range and mask.
    let span = rows.end - rows.start;
    let measured = reader.widest_value_bytes(schema)?.filter(|b| *b >= 1.0);
    let per_chunk = match measured {
        Some(bytes) => ((super::CHUNK_BYTES as f64 / bytes) as usize).clamp(1, super::MAX_CHUNK_ROWS),
        None => super::chunk_rows(schema.arrow()),
    } as u64;
    let wanted = offsets.len() as u64;
    if wanted.saturating_mul(per_chunk).saturating_mul(2) < span || wanted.saturating_mul(SPARSE_ROWS) < span {
        return reader.take(schema, offsets).await;
    }
    let all = reader.read_range(schema, rows.clone()).await?;
    let mut keep = BooleanBufferBuilder::new(span as usize);
    keep.append_n(span as usize, false);
    for &offset in offsets {
        keep.set_bit((offset - rows.start) as usize, true);
    }
    Ok(arrow_select::filter::filter_record_batch(
        &all,
        &BooleanArray::new(keep.finish(), None),
    )?)
}

/// Candidates fewer than one row in this many are fetched by position.
const SPARSE_ROWS: u64 = 8;
