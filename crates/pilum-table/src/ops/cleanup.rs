//! `cleanup_old_versions`: delete old manifests and the files no retained
//! version references. There is no automatic retention: versions live
//! until a caller cleans up.

use crate::dataset::Dataset;
use crate::error::Result;
use crate::paths;
use crate::progress::Progress;
use std::collections::HashSet;
use std::time::Duration;

/// What a cleanup removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CleanupStats {
    /// Manifests deleted.
    pub versions_removed: u64,
    /// Data, deletion and index files deleted.
    pub files_removed: u64,
    /// Bytes of those files.
    pub bytes_removed: u64,
}

impl Dataset {
    /// Deletes versions committed more than `older_than` ago, except the
    /// latest and every tagged version, then deletes data and deletion files
    /// that no retained version references and that are themselves older
    /// than `older_than`. A write still in flight whose files are older than
    /// `older_than` can lose them, so pass a period longer than any write.
    pub async fn cleanup_old_versions(&self, older_than: Duration) -> Result<CleanupStats> {
        self.cleanup_old_versions_with_progress(older_than, &Progress::none())
            .await
    }

    /// [`Dataset::cleanup_old_versions`], reporting manifests examined and
    /// files deleted to `progress`.
    pub async fn cleanup_old_versions_with_progress(
        &self,
        older_than: Duration,
        progress: &Progress,
    ) -> Result<CleanupStats> {
        let latest = self.checkout_latest().await?;
        let location = &self.location;
        // Readers find the latest version from the hint; make it current
        // before any older manifest disappears.
        location.write_hint(latest.version()).await?;
        let cutoff = chrono::Utc::now() - chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
        let tagged: HashSet<u64> = self.tags().list().await?.iter().map(|t| t.version).collect();
        let mut stats = CleanupStats::default();
        let mut referenced: HashSet<String> = HashSet::new();
        let mut doomed = Vec::new();
        let versions = location.list_versions().await?;
        let total = versions.len() as u64;
        for (done, version) in versions.into_iter().enumerate() {
            progress.report("versions examined", done as u64, total);
            let manifest = location.load_manifest(version).await?;
            let keep = version >= latest.version()
                || tagged.contains(&version)
                || manifest.timestamp_micros >= cutoff.timestamp_micros();
            if keep {
                add_referenced(&mut referenced, &manifest);
            } else {
                doomed.push(version);
            }
        }
        progress.report("versions examined", total, total);
        let doomed_total = doomed.len() as u64;
        for version in doomed {
            location.delete(&paths::manifest(&location.root, version)).await?;
            stats.versions_removed += 1;
            progress.report("versions removed", stats.versions_removed, doomed_total);
        }
        // Versions committed while we looked keep their files too.
        let mut next = latest.version() + 1;
        while let Some(manifest) = location.try_load_manifest(next).await? {
            add_referenced(&mut referenced, &manifest);
            next += 1;
        }
        let root_prefix = format!("{}/", location.root.as_ref());
        for directory in [paths::DATA_DIR, paths::DELETIONS_DIR, crate::index::INDICES_DIR] {
            for object in location.list(directory).await? {
                let full = object.location.as_ref();
                let relative = full.strip_prefix(&root_prefix).unwrap_or(full);
                if !referenced.contains(relative) && object.last_modified < cutoff {
                    location.delete(&object.location).await?;
                    stats.files_removed += 1;
                    stats.bytes_removed += object.size;
                }
            }
        }
        Ok(stats)
    }
}

/// Adds the data, deletion and index files `manifest` references.
fn add_referenced(referenced: &mut HashSet<String>, manifest: &crate::manifest::Manifest) {
    for segment in manifest.indices.iter() {
        referenced.extend(segment.message.files.iter().map(|f| f.path.clone()));
    }
    for fragment in manifest.fragments.iter() {
        referenced.extend(fragment.files.iter().map(|f| f.path.clone()));
        referenced.extend(fragment.deletion.iter().map(|d| d.path.clone()));
    }
}
