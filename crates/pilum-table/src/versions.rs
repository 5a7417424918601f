//! Finding manifests: by version, the latest, and every retained version,
//! on main or along a branch's lineage (a branch's versions up to its fork
//! point are its parent's).

use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::manifest::Manifest;
use crate::paths;
use bytes::Bytes;
use object_store::path::Path;

impl DatasetLocation {
    /// The directory (relative to the root, "" for main) whose `_versions/`
    /// holds `version` of this location's branch.
    fn directory_of(&self, version: u64) -> &str {
        match &self.branch {
            Some(lineage) => lineage.directory_of(version),
            None => "",
        }
    }

    /// The manifest object of `version` of this location's branch.
    pub fn manifest_path(&self, version: u64) -> Path {
        paths::manifest(&self.child(self.directory_of(version)), version)
    }

    /// The root of this location's own `_versions/` (the branch directory's
    /// on a branch).
    fn own_versions_root(&self) -> Path {
        match &self.branch {
            Some(lineage) => self.child(lineage.directory()),
            None => self.root.clone(),
        }
    }

    /// Loads the manifest of `version`.
    pub async fn load_manifest(&self, version: u64) -> Result<Manifest> {
        let path = self.manifest_path(version);
        match self.get_opt(&path).await? {
            Some(bytes) => crate::metadata_cache::manifest(self, path.as_ref(), &bytes),
            None => Err(TableError::VersionNotFound { version }),
        }
    }

    /// Loads the manifest of `version` if it exists.
    pub async fn try_load_manifest(&self, version: u64) -> Result<Option<Manifest>> {
        match self.load_manifest(version).await {
            Ok(manifest) => Ok(Some(manifest)),
            Err(TableError::VersionNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Version numbers of the manifests in `{directory}/_versions/`.
    pub(crate) async fn list_versions_in(&self, directory: &str) -> Result<Vec<u64>> {
        let relative = if directory.is_empty() {
            paths::VERSIONS_DIR.to_string()
        } else {
            format!("{directory}/{}", paths::VERSIONS_DIR)
        };
        let mut versions: Vec<u64> = self
            .list(&relative)
            .await?
            .iter()
            .filter_map(|meta| meta.location.filename().and_then(paths::parse_manifest_name))
            .collect();
        versions.sort_unstable();
        Ok(versions)
    }

    /// Every retained version number of this location's branch, ascending:
    /// its own, then (on a branch) its ancestors' up to each fork point.
    pub async fn list_versions(&self) -> Result<Vec<u64>> {
        let Some(lineage) = &self.branch else {
            return self.list_versions_in("").await;
        };
        let mut versions = Vec::new();
        for (directory, above, up_to) in lineage.ranges() {
            let listed = self.list_versions_in(directory).await?;
            versions.extend(listed.into_iter().filter(|v| *v > above && *v <= up_to));
        }
        versions.sort_unstable();
        versions.dedup();
        Ok(versions)
    }

    /// The latest manifest, or `None` when no version exists.
    ///
    /// Reads the latest-version hint, then probes the versions after it with
    /// exponential then binary search, so the cost is a small constant when
    /// the hint is current (hint, manifest, one miss) and logarithmic in its
    /// lag otherwise. A hint naming a cleaned-up version falls back to a
    /// listing. A branch without commits of its own is its fork point.
    pub async fn load_latest(&self) -> Result<Option<Manifest>> {
        let Some(hint) = self.read_hint().await? else {
            return self.load_latest_by_listing().await;
        };
        let (current, next) = futures::join!(self.try_load_manifest(hint), self.try_load_manifest(hint + 1));
        let (mut known, mut manifest) = match (current?, next?) {
            (Some(current), None) => return Ok(Some(current)),
            (_, Some(next)) => (hint + 1, next),
            (None, None) => return self.load_latest_by_listing().await,
        };
        // Gallop forward while versions exist, then binary-search the gap.
        let mut step = 1u64;
        let mut missing = loop {
            let probe = known + step;
            match self.try_load_manifest(probe).await? {
                Some(found) => {
                    known = probe;
                    manifest = found;
                    step *= 2;
                }
                None => break probe,
            }
        };
        while missing - known > 1 {
            let mid = known + (missing - known) / 2;
            match self.try_load_manifest(mid).await? {
                Some(found) => {
                    known = mid;
                    manifest = found;
                }
                None => missing = mid,
            }
        }
        Ok(Some(manifest))
    }

    async fn load_latest_by_listing(&self) -> Result<Option<Manifest>> {
        if let Some(lineage) = &self.branch {
            // A branch's own versions, else its fork point (which cleanup
            // keeps) if the branch still exists.
            return match self.list_versions_in(lineage.directory()).await?.last() {
                Some(&latest) => Ok(Some(self.load_manifest(latest).await?)),
                None => {
                    crate::branches::check_live(self).await?;
                    Ok(Some(self.load_manifest(lineage.parent_version()).await?))
                }
            };
        }
        match self.list_versions_in("").await?.last() {
            Some(&latest) => Ok(Some(self.load_manifest(latest).await?)),
            None => Ok(None),
        }
    }

    async fn read_hint(&self) -> Result<Option<u64>> {
        let path = paths::latest_hint(&self.own_versions_root());
        let Some(bytes) = self.get_opt(&path).await? else {
            return Ok(None);
        };
        Ok(std::str::from_utf8(&bytes).ok().and_then(|s| s.trim().parse().ok()))
    }

    /// The highest cleanup mark of this location's own `_versions/` (0 when
    /// none): every missing version below it was deleted by a cleanup, and
    /// must never be claimed again. One small listing.
    pub(crate) async fn cleanup_mark(&self) -> Result<u64> {
        Ok(self.cleanup_marks().await?.into_iter().max().unwrap_or(0))
    }

    async fn cleanup_marks(&self) -> Result<Vec<u64>> {
        let listed = self.list(&self.cleaned_dir()).await?;
        Ok(listed
            .iter()
            .filter_map(|meta| meta.location.filename())
            .filter(|name| name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()))
            .filter_map(|name| name.parse().ok())
            .collect())
    }

    /// `_versions/_cleaned` of this location's own versions, relative to the root.
    fn cleaned_dir(&self) -> String {
        match &self.branch {
            Some(lineage) => format!("{}/{}/{}", lineage.directory(), paths::VERSIONS_DIR, paths::CLEANED_DIR),
            None => format!("{}/{}", paths::VERSIONS_DIR, paths::CLEANED_DIR),
        }
    }

    /// Records, before a cleanup deletes versions below `latest`, that it
    /// may; then drops lower marks (only the highest matters).
    pub(crate) async fn mark_cleanup(&self, latest: u64) -> Result<()> {
        let directory = self.cleaned_dir();
        self.put(&self.child(&format!("{directory}/{latest:020}")), Bytes::new())
            .await
    }

    /// Deletes cleanup marks below `latest` (after a cleanup with that mark).
    pub(crate) async fn prune_cleanup_marks(&self, latest: u64) -> Result<()> {
        let directory = self.cleaned_dir();
        for mark in self.cleanup_marks().await? {
            if mark < latest {
                self.delete(&self.child(&format!("{directory}/{mark:020}"))).await?;
            }
        }
        Ok(())
    }

    /// Records `version` as the latest (best effort; readers verify it).
    pub async fn write_hint(&self, version: u64) -> Result<()> {
        self.put(
            &paths::latest_hint(&self.own_versions_root()),
            Bytes::from(version.to_string()),
        )
        .await
    }
}
