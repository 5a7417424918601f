//! A scan's tasks: row ranges of its fragments read and decoded as one
//! batch each, cut where the widest flat-stored column's pages start so
//! each task reads that column from one page and shares its buffer, and run
//! on the runtime's worker threads.

use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::fragment::FragmentReader;
use crate::proto;
use crate::schema::TableSchema;
use std::ops::Range;
use std::sync::Arc;

/// Rows of one fragment read as one batch.
pub(crate) struct Task {
    pub fragment: Arc<proto::Fragment>,
    pub rows: Range<u64>,
}

/// The rows of each selected fragment a scan reads, before cutting.
pub(crate) struct TaskList {
    pub spans: Vec<Task>,
    /// Rows of the offset still to skip in the output.
    pub offset_left: u64,
}

/// Cuts `span` into tasks of at most `step` rows at the page starts of the
/// widest flat-stored column of `projection` in its fragment.
pub(crate) async fn cut_span(dataset: &Dataset, projection: &TableSchema, span: Task, step: u64) -> Result<Vec<Task>> {
    let reader = FragmentReader::open(&dataset.location, &dataset.cache, span.fragment.clone()).await?;
    let page_starts = reader.flat_page_starts(projection)?;
    Ok(cut_rows(span.rows, &page_starts, step)
        .into_iter()
        .map(|rows| Task {
            fragment: span.fragment.clone(),
            rows,
        })
        .collect())
}

/// Decoded bytes a scan task aims for on object storage: its columns'
/// pages then come in a few large requests, where batch-sized tasks cost
/// one request per column and batch.
const REMOTE_TASK_BYTES: f64 = 32.0 * 1024.0 * 1024.0;

/// Rows per scan task on object storage: `rows` (the local sizing) raised
/// to about [`REMOTE_TASK_BYTES`] of decoded rows when their size is known.
/// Tasks then return batches larger than the scan's batch size, which
/// [`split_batch`] cuts back.
pub(crate) fn remote_task_rows(rows: u64, row_bytes: Option<f64>) -> u64 {
    match row_bytes.filter(|b| *b >= 1.0) {
        Some(bytes) => rows.max((REMOTE_TASK_BYTES / bytes) as u64),
        None => rows,
    }
}

/// `batch` cut into slices of at most `rows` rows (zero-copy).
pub(crate) fn split_batch(
    batch: arrow_array::RecordBatch,
    rows: usize,
) -> futures::stream::Iter<std::vec::IntoIter<Result<arrow_array::RecordBatch>>> {
    let rows = rows.max(1);
    let n = batch.num_rows();
    let slices: Vec<Result<arrow_array::RecordBatch>> = if n <= rows {
        vec![Ok(batch)]
    } else {
        (0..n)
            .step_by(rows)
            .map(|at| Ok(batch.slice(at, rows.min(n - at))))
            .collect()
    };
    futures::stream::iter(slices)
}

/// Runs `task` on the current runtime's worker threads when there is one, so
/// the batches a scan reads ahead are decoded in parallel, not in turn. A
/// task that panics is a [`TableError::Internal`] naming it (`what`).
pub(crate) async fn spawned<T: Send + 'static>(
    what: &str,
    task: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.spawn(task).await.map_err(|e| TableError::Internal {
            what: format!("{what} failed: {e}"),
        })?,
        Err(_) => task.await,
    }
}

/// Runs CPU-bound `work` (index training, encoding) on the runtime's
/// blocking pool; a panic inside becomes an internal error naming `what`.
pub(crate) async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TableError::Internal {
            what: format!("{what} failed: {e}"),
        })?
}

/// Cuts `rows` into ranges of at most `step` rows. Without page starts the
/// ranges are `step` rows each (the last may be shorter). With them, no
/// range crosses a page start unless the pages it covers are all smaller
/// than `step` together: consecutive pages are grouped up to `step` rows,
/// and a page longer than `step` is cut into equal parts.
pub(crate) fn cut_rows(rows: Range<u64>, page_starts: &[u64], step: u64) -> Vec<Range<u64>> {
    let step = step.max(1);
    let mut out = Vec::new();
    if page_starts.is_empty() {
        let mut at = rows.start;
        while at < rows.end {
            let end = at.saturating_add(step).min(rows.end);
            out.push(at..end);
            at = end;
        }
        return out;
    }
    let inner = page_starts.iter().copied().filter(|&p| p > rows.start && p < rows.end);
    let mut open = rows.start;
    let mut segment_start = rows.start;
    for segment_end in inner.chain(std::iter::once(rows.end)) {
        if segment_end <= segment_start {
            continue;
        }
        let len = segment_end - segment_start;
        if len > step {
            if open < segment_start {
                out.push(open..segment_start);
            }
            let parts = len.div_ceil(step);
            out.extend((0..parts).map(|k| segment_start + len * k / parts..segment_start + len * (k + 1) / parts));
            open = segment_end;
        } else if segment_end - open > step {
            out.push(open..segment_start);
            open = segment_start;
        }
        segment_start = segment_end;
    }
    if open < rows.end {
        out.push(open..rows.end);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_task_is_an_internal_error() {
        let err = spawned("scan task of fragment 4", async {
            if true {
                panic!("boom");
            }
            Ok(())
        })
        .await
        .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, TableError::Internal { .. }), "{err:?}");
        assert!(
            message.contains("fragment 4") && message.contains("panicked") && message.contains("boom"),
            "{message}"
        );
        assert_eq!(spawned("a task", async { Ok(7) }).await.unwrap(), 7);
    }

    #[test]
    fn without_pages_steps_evenly() {
        assert_eq!(cut_rows(0..10, &[], 4), vec![0..4, 4..8, 8..10]);
        assert_eq!(cut_rows(3..3, &[], 4), Vec::<Range<u64>>::new());
    }

    #[test]
    fn a_page_longer_than_a_step_is_cut_in_equal_parts() {
        // Pages of 8,496 rows, steps of 8,192: two tasks per page, none crossing one.
        let starts = [0, 8496, 16992];
        assert_eq!(
            cut_rows(0..20000, &starts, 8192),
            vec![0..4248, 4248..8496, 8496..12744, 12744..16992, 16992..20000]
        );
    }

    #[test]
    fn small_pages_are_grouped_up_to_a_step() {
        let starts = [0, 3, 6, 9, 12];
        assert_eq!(cut_rows(0..14, &starts, 7), vec![0..6, 6..12, 12..14]);
        // A range starting inside a page.
        assert_eq!(cut_rows(4..14, &starts, 7), vec![4..9, 9..14]);
    }

    proptest! {
        #[test]
        fn tasks_cover_the_rows_in_order_within_the_step(
            start in 0u64..50,
            len in 0u64..400,
            step in 1u64..64,
            gaps in proptest::collection::vec(1u64..90, 0..12),
        ) {
            let mut starts = vec![0u64];
            for g in gaps {
                let last = *starts.last().unwrap();
                starts.push(last + g);
            }
            let rows = start..start + len;
            let tasks = cut_rows(rows.clone(), &starts, step);
            let mut at = rows.start;
            for task in &tasks {
                prop_assert_eq!(task.start, at);
                prop_assert!(task.end > task.start && task.end - task.start <= step);
                // A task crosses a page start only to group whole pages (clipped to the rows).
                let crosses = starts.iter().any(|&p| p > task.start && p < task.end);
                if crosses {
                    let bounds: Vec<u64> = std::iter::once(rows.start)
                        .chain(starts.iter().copied().filter(|&p| p > rows.start && p < rows.end))
                        .chain(std::iter::once(rows.end))
                        .collect();
                    for page in bounds.windows(2).filter(|b| b[0] < task.end && b[1] > task.start) {
                        prop_assert!(task.start <= page[0] && page[1] <= task.end, "{task:?} cuts page {page:?}");
                    }
                }
                at = task.end;
            }
            prop_assert_eq!(at, rows.end);
        }
    }
}
