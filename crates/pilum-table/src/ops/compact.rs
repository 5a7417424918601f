//! `compact_files`: merge small fragments and drop deleted rows, keeping
//! row ids so nothing keyed by them needs remapping.

use crate::dataset::Dataset;
use crate::error::Result;
use crate::manifest::fragment_live_rows;
use crate::progress::Progress;
use crate::proto::{self, Operation};
use crate::scanner::ROW_ID;
use crate::transaction::{Change, Transaction};
use crate::write::{WriteParams, write_fragments};
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use futures::StreamExt;
use std::sync::{Arc, Mutex};

/// What compaction rewrites.
#[derive(Debug, Clone, Copy)]
pub struct CompactionOptions {
    /// Fragments with fewer live rows are merged with their neighbours, up to this many rows.
    pub target_rows_per_fragment: u64,
    /// A fragment whose deleted fraction exceeds this is rewritten without its deleted rows.
    pub materialize_deletions_threshold: f64,
    /// Fragments that hold several data files (after added columns) are rewritten as one.
    pub merge_column_files: bool,
}

impl Default for CompactionOptions {
    fn default() -> Self {
        Self {
            target_rows_per_fragment: 1024 * 1024,
            materialize_deletions_threshold: 0.1,
            merge_column_files: false,
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompactionMetrics {
    /// Fragments replaced.
    pub fragments_removed: u64,
    /// Fragments written.
    pub fragments_added: u64,
    /// Data files no longer referenced by the new version.
    pub files_removed: u64,
    /// Data files written.
    pub files_added: u64,
}

impl Dataset {
    /// Rewrites small or heavily deleted fragments; commits one version
    /// (nothing when there is nothing to do). Older versions stay readable.
    pub async fn compact_files(&mut self, options: &CompactionOptions) -> Result<CompactionMetrics> {
        self.compact_files_with_progress(options, &Progress::none()).await
    }

    /// [`Dataset::compact_files`], reporting each rewritten group of fragments to `progress`.
    pub async fn compact_files_with_progress(
        &mut self,
        options: &CompactionOptions,
        progress: &Progress,
    ) -> Result<CompactionMetrics> {
        self.check_branch_live().await?;
        // Fragments covered by different index segments are never merged:
        // a merged fragment stays covered only if one segment covered all
        // its inputs (format-spec/index.md section 4).
        let segments = &self.manifest.indices;
        let coverage = |fragment: &proto::Fragment| -> Vec<usize> {
            segments
                .iter()
                .enumerate()
                .filter(|(_, s)| s.fragments.contains(fragment.id as u32))
                .map(|(i, _)| i)
                .collect()
        };
        let groups = plan(self.all_fragments().await?, options, &coverage);
        let total = groups.len() as u64;
        progress.report("fragment groups", 0, total);
        if groups.is_empty() {
            return Ok(CompactionMetrics::default());
        }
        let mut metrics = CompactionMetrics::default();
        let mut removed = Vec::new();
        let mut fragments = Vec::new();
        let mut group_sizes = Vec::new();
        let params = WriteParams {
            max_rows_per_file: options.target_rows_per_fragment,
            ..WriteParams::default()
        };
        for (done, group) in groups.into_iter().enumerate() {
            let ids: Vec<u64> = group.iter().map(|f| f.id).collect();
            let seen = Arc::new(Mutex::new(Vec::<u64>::new()));
            let columns: Vec<String> = self.schema().fields().iter().map(|f| f.name().clone()).collect();
            let rows = self
                .scan()
                .with_fragments(ids.clone())
                .with_row_id(true)
                .try_into_stream()
                .await?;
            let rows = rows
                .map({
                    let seen = seen.clone();
                    let width = columns.len();
                    move |batch| {
                        let batch = batch?;
                        if let Some(ids) = batch.column_by_name(ROW_ID) {
                            let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                            seen.extend_from_slice(ids.as_primitive::<UInt64Type>().values());
                        }
                        Ok(batch.project(&(0..width).collect::<Vec<_>>())?)
                    }
                })
                .boxed();
            let mut written = write_fragments(&self.location, &self.manifest.schema, rows, &params).await?;
            let row_ids = std::mem::take(&mut *seen.lock().unwrap_or_else(|p| p.into_inner()));
            super::assign_row_ids(&mut written, &row_ids);
            metrics.fragments_removed += group.len() as u64;
            metrics.files_removed += group.iter().map(|f| f.files.len() as u64).sum::<u64>();
            metrics.fragments_added += written.len() as u64;
            metrics.files_added += written.len() as u64;
            group_sizes.push((ids.len(), written.len()));
            removed.extend(ids);
            fragments.extend(written);
            progress.report("fragment groups", done as u64 + 1, total);
        }
        let change = Change::Rewrite {
            removed,
            fragments,
            groups: group_sizes,
        };
        let txn = Transaction::new(Operation::Compact, change);
        self.commit(txn).await?;
        Ok(metrics)
    }
}

/// Groups of adjacent fragments worth rewriting together.
/// Groups of adjacent fragments to rewrite together; fragments with
/// different `coverage` (the index segments covering them) never share a group.
fn plan(
    fragments: &[proto::Fragment],
    options: &CompactionOptions,
    coverage: &dyn Fn(&proto::Fragment) -> Vec<usize>,
) -> Vec<Vec<proto::Fragment>> {
    let target = options.target_rows_per_fragment;
    let mut groups = Vec::new();
    let mut current: Vec<proto::Fragment> = Vec::new();
    let mut current_rows = 0u64;
    let mut current_coverage: Vec<usize> = Vec::new();
    let flush = |current: &mut Vec<proto::Fragment>, groups: &mut Vec<Vec<proto::Fragment>>| {
        let worth = current.len() > 1 || current.first().is_some_and(|f| needs_rewrite(f, options));
        if worth {
            groups.push(std::mem::take(current));
        } else {
            current.clear();
        }
    };
    for fragment in fragments {
        let live = fragment_live_rows(fragment);
        let candidate = live < target || needs_rewrite(fragment, options);
        if !candidate {
            flush(&mut current, &mut groups);
            current_rows = 0;
            continue;
        }
        let covered_by = coverage(fragment);
        let differs = covered_by != current_coverage;
        if !current.is_empty() && (current_rows + live > target || differs) {
            flush(&mut current, &mut groups);
            current_rows = 0;
        }
        current_rows += live;
        current_coverage = covered_by;
        current.push(fragment.clone());
    }
    flush(&mut current, &mut groups);
    groups
}

fn needs_rewrite(fragment: &proto::Fragment, options: &CompactionOptions) -> bool {
    let deleted = fragment.deletion.as_ref().map_or(0, |d| d.num_deleted);
    let heavy = deleted as f64 > options.materialize_deletions_threshold * fragment.physical_rows as f64;
    heavy || (options.merge_column_files && fragment.files.len() > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(id: u64, rows: u64, deleted: u64) -> proto::Fragment {
        proto::Fragment {
            id,
            physical_rows: rows,
            deletion: (deleted > 0).then(|| proto::DeletionFile {
                num_deleted: deleted,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn groups_small_neighbours_and_heavily_deleted_fragments() {
        let options = CompactionOptions {
            target_rows_per_fragment: 100,
            ..Default::default()
        };
        let fragments = vec![
            fragment(1, 30, 0),
            fragment(2, 30, 0),
            fragment(3, 100, 0),
            fragment(4, 100, 50),
            fragment(5, 50, 0),
        ];
        let groups: Vec<Vec<u64>> = plan(&fragments, &options, &|_| Vec::new())
            .iter()
            .map(|g| g.iter().map(|f| f.id).collect())
            .collect();
        assert_eq!(groups, vec![vec![1, 2], vec![4, 5]]);
        assert!(plan(&[fragment(1, 100, 0)], &options, &|_| Vec::new()).is_empty());
    }

    #[test]
    fn fragments_covered_by_different_index_segments_are_not_merged() {
        let options = CompactionOptions {
            target_rows_per_fragment: 1000,
            ..Default::default()
        };
        let fragments: Vec<proto::Fragment> = (1..=5).map(|id| fragment(id, 10, 0)).collect();
        // Fragments 1-2 covered by segment 0, 3 by nothing, 4-5 by segment 1.
        let coverage = |f: &proto::Fragment| match f.id {
            1 | 2 => vec![0],
            4 | 5 => vec![1],
            _ => Vec::new(),
        };
        let groups: Vec<Vec<u64>> = plan(&fragments, &options, &coverage)
            .iter()
            .map(|g| g.iter().map(|f| f.id).collect())
            .collect();
        assert_eq!(groups, vec![vec![1, 2], vec![4, 5]]);
    }
}
