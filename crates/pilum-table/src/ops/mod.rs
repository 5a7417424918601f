//! Operations that change a dataset: deletes, updates, upserts, schema
//! evolution, compaction and cleanup.

mod cleanup;
mod columns;
mod compact;
mod delete;
mod merge_insert;
mod update;

pub use cleanup::{CleanupOptions, CleanupStats, UNVERIFIED_GRACE};
pub use columns::{ColumnAlteration, NewColumns};
pub use compact::{CompactionMetrics, CompactionOptions};
pub use merge_insert::{MergeInsertBuilder, MergeStats, WhenMatched, WhenNotMatchedBySource};

use crate::error::Result;
use crate::proto;
use crate::rowids;
use crate::write::BatchStream;
use arrow_array::RecordBatch;
use futures::TryStreamExt;

/// Gives written fragments the row ids of the rows they hold, in order.
pub(crate) fn assign_row_ids(fragments: &mut [proto::Fragment], ids: &[u64]) {
    let mut at = 0usize;
    for fragment in fragments {
        let end = (at + fragment.physical_rows as usize).min(ids.len());
        fragment.row_ids = Some(rowids::from_ids(&ids[at..end]));
        at = end;
    }
}

/// Collects a stream into memory.
pub(crate) async fn collect(batches: BatchStream) -> Result<Vec<RecordBatch>> {
    batches.try_collect().await
}
