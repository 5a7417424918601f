//! Maintenance on `_Dataset`: compaction and cleanup, with progress reports.

use crate::dataset::PyDataset;
use crate::runtime::run;
use pilum::{CompactionOptions, Progress, ProgressUpdate};
use pyo3::prelude::*;
use std::time::Duration;

/// A Pilum progress hook calling `callback(stage, done, total)` in Python.
pub(crate) fn progress_hook(callback: Option<Py<PyAny>>) -> Progress {
    match callback {
        None => Progress::none(),
        Some(callback) => Progress::new(move |update: ProgressUpdate| {
            Python::attach(|py| {
                // A failing progress bar must not fail the operation, but a
                // Ctrl-C that Python delivered inside the callback must still
                // cancel it: re-arm the interrupt for the next signal check.
                if let Err(error) = callback.call1(py, (update.stage, update.done, update.total))
                    && error.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py)
                {
                    let _ = py
                        .import("_thread")
                        .and_then(|thread| thread.call_method0("interrupt_main"));
                }
            });
        }),
    }
}

#[pymethods]
impl PyDataset {
    /// Merges small fragments and drops deleted rows; returns
    /// `(fragments_removed, fragments_added, files_removed, files_added)`.
    #[pyo3(signature = (target_rows_per_fragment, materialize_deletions_threshold, merge_column_files, progress=None))]
    fn compact_files(
        &self,
        py: Python<'_>,
        target_rows_per_fragment: u64,
        materialize_deletions_threshold: f64,
        merge_column_files: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<(u64, u64, u64, u64)> {
        let options = CompactionOptions {
            target_rows_per_fragment: target_rows_per_fragment.max(1),
            materialize_deletions_threshold,
            merge_column_files,
        };
        let progress = progress_hook(progress);
        self.mutate(py, move |mut dataset| async move {
            let m = dataset.compact_files_with_progress(&options, &progress).await?;
            Ok((
                dataset,
                (m.fragments_removed, m.fragments_added, m.files_removed, m.files_added),
            ))
        })
    }

    /// Deletes versions older than `older_than_seconds` (keeping the latest and
    /// tagged ones) and unreferenced files; returns
    /// `(versions_removed, files_removed, bytes_removed)`.
    #[pyo3(signature = (older_than_seconds, progress=None, delete_unverified=false))]
    fn cleanup_old_versions(
        &self,
        py: Python<'_>,
        older_than_seconds: f64,
        progress: Option<Py<PyAny>>,
        delete_unverified: bool,
    ) -> PyResult<(u64, u64, u64)> {
        let options = pilum::CleanupOptions {
            older_than: Duration::try_from_secs_f64(older_than_seconds.max(0.0)).unwrap_or(Duration::MAX),
            delete_unverified,
        };
        let progress = progress_hook(progress);
        let dataset = self.snapshot();
        let stats = run(
            py,
            async move { dataset.cleanup_with_options(&options, &progress).await },
        )?;
        Ok((stats.versions_removed, stats.files_removed, stats.bytes_removed))
    }
}
