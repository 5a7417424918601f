//! `cleanup_old_versions`: delete a branch's old manifests and the files
//! no retained version of any branch references. There is no automatic
//! retention: versions live until a caller cleans up.
//!
//! Safe against concurrent writers, branches, tags and clones:
//! - a file no manifest ever referenced (a write in flight, or a failed
//!   one) is *unverified* and survives [`UNVERIFIED_GRACE`] unless the
//!   caller opts in with `delete_unverified`;
//! - versions are deleted under an intent that creators of branches, tags
//!   and clones check (see `pins.rs`), so a version one of them is
//!   pinning is either kept or reported gone to its creator.

use crate::branches::BranchInfo;
use crate::clone::pins;
use crate::dataset::Dataset;
use crate::error::Result;
use crate::location::DatasetLocation;
use crate::manifest::Manifest;
use crate::paths;
use crate::pins::{Intent, relative};
use crate::progress::Progress;
use crate::proto;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How long a file that no manifest ever referenced is presumed to belong
/// to a write still in flight.
pub const UNVERIFIED_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);
/// A clone pin whose target holds no dataset is dropped after this long.
const PIN_GRACE: chrono::Duration = chrono::Duration::hours(1);

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

/// What a cleanup may delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupOptions {
    /// Versions committed longer ago than this go, and so do the files only
    /// they referenced.
    pub older_than: Duration,
    /// Also delete files no manifest ever referenced once older than
    /// `older_than` (instead of [`UNVERIFIED_GRACE`]). Unsafe while a write
    /// may be in flight: its files are such files until it commits.
    pub delete_unverified: bool,
}

impl CleanupOptions {
    /// Versions older than `older_than`; unverified files after the grace.
    pub fn older_than(older_than: Duration) -> Self {
        Self {
            older_than,
            delete_unverified: false,
        }
    }
}

/// Versions of one branch directory that something outside it pins.
type Pinned = HashMap<String, HashSet<u64>>;

impl Dataset {
    /// Deletes this branch's versions committed more than `older_than` ago,
    /// except the latest and every version a tag, a branch created from it
    /// or a shallow clone names; then the files no remaining version of any
    /// branch references. Files no manifest ever referenced are kept for
    /// [`UNVERIFIED_GRACE`] (see [`Dataset::cleanup_with_options`]).
    pub async fn cleanup_old_versions(&self, older_than: Duration) -> Result<CleanupStats> {
        self.cleanup_with_options(&CleanupOptions::older_than(older_than), &Progress::none())
            .await
    }

    /// [`Dataset::cleanup_old_versions`], reporting manifests examined and
    /// files deleted to `progress`.
    pub async fn cleanup_old_versions_with_progress(
        &self,
        older_than: Duration,
        progress: &Progress,
    ) -> Result<CleanupStats> {
        self.cleanup_with_options(&CleanupOptions::older_than(older_than), progress)
            .await
    }

    /// Cleanup with every option.
    pub async fn cleanup_with_options(&self, options: &CleanupOptions, progress: &Progress) -> Result<CleanupStats> {
        let latest = self.checkout_latest().await?;
        let location = &latest.location;
        // Readers find the latest version from the hint; make it current
        // before any older manifest disappears.
        location.write_hint(latest.version()).await?;
        let now = chrono::Utc::now();
        let cutoff = now - chrono::Duration::from_std(options.older_than).unwrap_or(chrono::Duration::MAX);
        let own_directory = self.branch_directory();
        let mut stats = CleanupStats::default();

        // 1. This branch's versions: kept, or doomed.
        let pinned = pinned_versions(self, now).await?;
        let versions = location.list_versions_in(&own_directory).await?;
        let total = versions.len() as u64;
        let mut doomed: Vec<(u64, Manifest)> = Vec::new();
        for (done, version) in versions.into_iter().enumerate() {
            progress.report("versions examined", done as u64, total);
            let Some(manifest) = location.try_load_manifest(version).await? else {
                continue;
            };
            let keep = version >= latest.version()
                || is_pinned(&pinned, &own_directory, version)
                || manifest.timestamp_micros >= cutoff.timestamp_micros();
            if !keep {
                doomed.push((version, manifest));
            }
        }
        progress.report("versions examined", total, total);

        // 2. Announce, look again for new pins, delete the rest. The intent
        // covers the manifests only: it is withdrawn before the file sweep,
        // which reads every remaining manifest anyway.
        let mut verified: HashSet<String> = HashSet::new();
        if !doomed.is_empty() {
            let intent = Intent::announce(
                location,
                doomed
                    .iter()
                    .map(|(v, _)| relative(location, &location.manifest_path(*v)))
                    .collect(),
            )
            .await?;
            let deleted = delete_doomed(self, &mut doomed, &latest, now, &mut verified, &mut stats, progress).await;
            intent.finish(location).await?;
            deleted?;
        }
        sweep_files(self, options, now, cutoff, &verified, &mut stats).await?;
        location.prune_cleanup_marks(latest.version()).await?;
        Ok(stats)
    }

    /// The directory holding this branch's own manifests ("" for main).
    fn branch_directory(&self) -> String {
        self.location
            .branch
            .as_ref()
            .map(|lineage| lineage.directory().to_string())
            .unwrap_or_default()
    }
}

/// Drops the versions pinned since the first look, marks the cleanup
/// (writers never claim a number below the mark again: a stale writer would
/// otherwise re-create a deleted version, hidden below the latest), then
/// deletes the doomed manifests, collecting their files into `verified`.
async fn delete_doomed(
    dataset: &Dataset,
    doomed: &mut Vec<(u64, Manifest)>,
    latest: &Dataset,
    now: chrono::DateTime<chrono::Utc>,
    verified: &mut HashSet<String>,
    stats: &mut CleanupStats,
    progress: &Progress,
) -> Result<()> {
    let location = &latest.location;
    let own_directory = dataset.branch_directory();
    let pinned = pinned_versions(dataset, now).await?;
    doomed.retain(|(version, _)| !is_pinned(&pinned, &own_directory, *version));
    if doomed.is_empty() {
        return Ok(());
    }
    location.mark_cleanup(latest.version()).await?;
    let total = doomed.len() as u64;
    for (version, manifest) in doomed.iter() {
        location.delete(&location.manifest_path(*version)).await?;
        add_referenced(verified, location, manifest).await?;
        stats.versions_removed += 1;
        progress.report("versions removed", stats.versions_removed, total);
    }
    Ok(())
}

/// Deletes files no retained manifest of any live branch references:
/// files of deleted versions (`verified`) once older than the cutoff,
/// others once past the grace (or the cutoff with `delete_unverified`).
async fn sweep_files(
    dataset: &Dataset,
    options: &CleanupOptions,
    now: chrono::DateTime<chrono::Utc>,
    cutoff: chrono::DateTime<chrono::Utc>,
    verified: &HashSet<String>,
    stats: &mut CleanupStats,
) -> Result<()> {
    let location = &dataset.location;
    let branches = dataset.branches().list().await?;
    let live: HashSet<&str> = branches.iter().map(|b| b.directory.as_str()).collect();
    let referenced = referenced_everywhere(location, &branches).await?;
    let grace = chrono::Duration::from_std(UNVERIFIED_GRACE).unwrap_or(chrono::Duration::MAX);
    let unverified_cutoff = if options.delete_unverified {
        cutoff
    } else {
        cutoff.min(now - grace)
    };
    let mut directories: Vec<String> = file_directories("");
    for branch in &branches {
        directories.extend(file_directories(&branch.directory));
    }
    // Directories of deleted branches (a crash mid-delete): all garbage,
    // under the unverified rule since nothing live names them.
    let mut dead_dirs = HashSet::new();
    for object in location.list(paths::TREE_DIR).await? {
        let path = relative(location, &object.location);
        let mut parts = path.splitn(3, '/');
        if let (Some(_), Some(dir)) = (parts.next(), parts.next()) {
            let directory = format!("{}/{dir}", paths::TREE_DIR);
            if !live.contains(directory.as_str()) {
                dead_dirs.insert(directory);
            }
        }
    }
    directories.extend(dead_dirs);
    for directory in directories {
        for object in location.list(&directory).await? {
            let path = relative(location, &object.location);
            if referenced.contains(&path) {
                continue;
            }
            let limit = if verified.contains(&path) {
                cutoff
            } else {
                unverified_cutoff
            };
            if object.last_modified < limit {
                location.delete(&object.location).await?;
                stats.files_removed += 1;
                stats.bytes_removed += object.size;
            }
        }
    }
    Ok(())
}

/// The directories of files written on main ("") or a branch directory
/// (whole dead directories are listed instead).
fn file_directories(directory: &str) -> Vec<String> {
    [
        paths::DATA_DIR,
        paths::DELETIONS_DIR,
        crate::index::INDICES_DIR,
        crate::fragment_pages::FRAGMENTS_DIR,
    ]
    .iter()
    .map(|d| {
        if directory.is_empty() {
            d.to_string()
        } else {
            format!("{directory}/{d}")
        }
    })
    .collect()
}

/// Files (of this root) referenced by any manifest of main or a live branch.
async fn referenced_everywhere(location: &DatasetLocation, branches: &[BranchInfo]) -> Result<HashSet<String>> {
    let mut referenced = HashSet::new();
    let directories = std::iter::once("").chain(branches.iter().map(|b| b.directory.as_str()));
    for directory in directories {
        for version in location.list_versions_in(directory).await? {
            let path = paths::manifest(&location.child(directory), version);
            // Deleted since the listing by another cleanup: nothing to keep.
            if let Some(bytes) = location.get_opt(&path).await? {
                add_referenced(&mut referenced, location, &Manifest::from_bytes(&bytes, path.as_ref())?).await?;
            }
        }
    }
    Ok(referenced)
}

/// Versions pinned by tags, branches (their fork points) and live clone
/// pins, by the directory ("" for main) holding them. Clone pins whose
/// target no longer holds a dataset are dropped after [`PIN_GRACE`].
async fn pinned_versions(dataset: &Dataset, now: chrono::DateTime<chrono::Utc>) -> Result<Pinned> {
    let location = &dataset.location;
    let branches = dataset.branches().list().await?;
    let directory_of = |branch: Option<&str>, version: u64| -> String {
        let own = match branch {
            None => String::new(),
            Some(name) => branches
                .iter()
                .find(|b| b.name == name)
                .map(|b| b.directory.clone())
                .unwrap_or_default(),
        };
        storing_directory(&branches, own, version)
    };
    let mut pinned = Pinned::new();
    let mut pin = |directory: String, version: u64| {
        pinned.entry(directory).or_default().insert(version);
    };
    for tag in dataset.tags().list().await? {
        pin(directory_of(tag.branch.as_deref(), tag.version), tag.version);
    }
    for branch in &branches {
        pin(
            directory_of(branch.parent_branch.as_deref(), branch.parent_version),
            branch.parent_version,
        );
    }
    for stored in pins(location).await? {
        if now - stored.last_modified > PIN_GRACE && clone_is_gone(location, &stored.pin.target_uri).await {
            location.delete(&stored.path).await?;
            continue;
        }
        let branch = (!stored.pin.branch.is_empty()).then_some(stored.pin.branch.as_str());
        pin(directory_of(branch, stored.pin.version), stored.pin.version);
    }
    Ok(pinned)
}

/// The directory storing `version` of the branch whose own directory is
/// `directory`: a branch's versions up to its fork point live with its
/// ancestors.
fn storing_directory(branches: &[BranchInfo], mut directory: String, version: u64) -> String {
    for _ in 0..=branches.len() {
        let Some(branch) = branches.iter().find(|b| b.directory == directory) else {
            return directory;
        };
        if version > branch.parent_version {
            return directory;
        }
        directory = match &branch.parent_branch {
            None => String::new(),
            Some(parent) => branches
                .iter()
                .find(|b| &b.name == parent)
                .map(|b| b.directory.clone())
                .unwrap_or_default(),
        };
    }
    directory
}

fn is_pinned(pinned: &Pinned, directory: &str, version: u64) -> bool {
    pinned
        .get(directory)
        .is_some_and(|versions| versions.contains(&version))
}

/// Whether a clone target holds no dataset (unreachable targets count as
/// present: a pin is only dropped on proof).
async fn clone_is_gone(location: &DatasetLocation, target_uri: &str) -> bool {
    let target = match location.root_at(target_uri) {
        Ok(target) => target,
        Err(_) => return false,
    };
    matches!(target.list_versions_in("").await, Ok(versions) if versions.is_empty())
}

/// Adds the data, deletion, index and fragment-page files `manifest`
/// references in its own root (files of base paths belong to other
/// datasets). A page already in `referenced` is not read again: its files
/// were added with it.
async fn add_referenced(
    referenced: &mut HashSet<String>,
    location: &DatasetLocation,
    manifest: &Manifest,
) -> Result<()> {
    for segment in manifest.indices.iter().filter(|s| s.message.base_id == 0) {
        referenced.extend(segment.message.files.iter().map(|f| f.path.clone()));
    }
    match manifest.fragments.pages() {
        None => add_fragment_files(referenced, manifest.fragments.get()?),
        Some(pages) => {
            for page in pages.iter() {
                if referenced.insert(page.path.clone()) {
                    let fragments = crate::fragment_pages::load_page(location, page).await?;
                    add_fragment_files(referenced, &fragments);
                }
            }
        }
    }
    Ok(())
}

fn add_fragment_files(referenced: &mut HashSet<String>, fragments: &[proto::Fragment]) {
    for fragment in fragments {
        referenced.extend(fragment.files.iter().filter(|f| f.base_id == 0).map(|f| f.path.clone()));
        referenced.extend(
            fragment
                .deletion
                .iter()
                .filter(|d| d.base_id == 0)
                .map(|d| d.path.clone()),
        );
    }
}
