//! `pilum compact` and `pilum cleanup`.

use crate::args::{CleanupArgs, CompactArgs};
use crate::error::Result;
use crate::inspect::{done, open};
use crate::output::{self, Style};
use pilum::CompactionOptions;
use serde_json::json;
use std::collections::HashMap;

/// Runs `pilum compact`.
pub async fn compact(args: CompactArgs, style: Style, options: &HashMap<String, String>) -> Result<()> {
    let mut dataset = open(&args.uri, options).await?;
    let before = dataset.version();
    let mut compaction = CompactionOptions::default();
    if let Some(rows) = args.target_rows {
        compaction.target_rows_per_fragment = rows.max(1);
    }
    let metrics = dataset.compact_files(&compaction).await?;
    let committed = dataset.version() != before;
    let sentence = if committed {
        format!(
            "compacted: {} fragments replaced by {}, {} files written; version {}",
            metrics.fragments_removed,
            metrics.fragments_added,
            metrics.files_added,
            dataset.version()
        )
    } else {
        "nothing to compact".to_string()
    };
    done(
        style,
        json!({
            "version": dataset.version(),
            "committed": committed,
            "fragments_removed": metrics.fragments_removed,
            "fragments_added": metrics.fragments_added,
            "files_removed": metrics.files_removed,
            "files_added": metrics.files_added,
        }),
        &sentence,
    )
}

/// Runs `pilum cleanup`.
pub async fn cleanup(args: CleanupArgs, style: Style, options: &HashMap<String, String>) -> Result<()> {
    let mut dataset = open(&args.uri, options).await?;
    if let Some(branch) = &args.branch {
        dataset = dataset.checkout_branch(Some(branch), None).await?;
    }
    let cleanup = pilum::CleanupOptions {
        older_than: args.older_than,
        delete_unverified: args.delete_unverified,
    };
    let stats = dataset.cleanup_with_options(&cleanup, &pilum::Progress::none()).await?;
    done(
        style,
        json!({
            "versions_removed": stats.versions_removed,
            "files_removed": stats.files_removed,
            "bytes_removed": stats.bytes_removed,
        }),
        &format!(
            "removed {} versions and {} files ({})",
            stats.versions_removed,
            stats.files_removed,
            output::bytes(stats.bytes_removed)
        ),
    )
}
