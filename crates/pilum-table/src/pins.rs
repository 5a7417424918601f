//! How cleanup and the creators of references (branches, tags, shallow
//! clones) avoid losing a version between them.
//!
//! Both sides write first and list second. Cleanup writes an *intent*
//! naming the manifests it is about to delete, then lists the references,
//! keeps every version they name, deletes the rest and removes the intent.
//! A creator writes its reference, then lists intents, waits for any intent
//! naming its version to finish, then checks that the version still exists.
//! Whichever listing comes second sees the other side's object, so either
//! cleanup keeps the version or the creator finds it gone and withdraws.

use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::paths;
use crate::proto;
use bytes::Bytes;
use object_store::path::Path;
use prost::Message;
use std::time::Duration;

/// An intent older than this belongs to a cleanup that died; it is ignored.
const INTENT_LIFETIME: chrono::Duration = chrono::Duration::hours(24);
/// How long a creator waits for a cleanup that names its version.
const WAIT_LIMIT: Duration = Duration::from_secs(120);

/// `path` relative to the dataset root.
pub(crate) fn relative(location: &DatasetLocation, path: &Path) -> String {
    let root = format!("{}/", location.root.as_ref());
    path.as_ref().strip_prefix(&root).unwrap_or(path.as_ref()).to_string()
}

/// A cleanup's intent, removed when dropped through [`Intent::finish`].
pub(crate) struct Intent {
    path: Path,
}

impl Intent {
    /// Announces that the manifests at `manifests` (relative paths) are
    /// about to be deleted.
    pub async fn announce(location: &DatasetLocation, manifests: Vec<String>) -> Result<Self> {
        let record = proto::CleanupIntent {
            started_at_micros: chrono::Utc::now().timestamp_micros(),
            manifests,
        };
        let path = paths::child(
            &location.root,
            &format!("{}/{}.cleanup", paths::CLEANUPS_DIR, paths::random_id()),
        );
        location.put(&path, Bytes::from(record.encode_to_vec())).await?;
        Ok(Self { path })
    }

    /// Withdraws the intent.
    pub async fn finish(self, location: &DatasetLocation) -> Result<()> {
        location.delete(&self.path).await
    }
}

/// Called by a creator after writing a reference to `version` stored at
/// `manifest`: waits for cleanups about to delete it, then checks that it
/// still exists.
pub(crate) async fn confirm(location: &DatasetLocation, manifest: &Path, version: u64) -> Result<()> {
    let target = relative(location, manifest);
    let started = std::time::Instant::now();
    while naming(location, &target).await? {
        if started.elapsed() > WAIT_LIMIT {
            return Err(TableError::CommitConflict {
                version,
                reason: "a cleanup deleting this version did not finish".into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    match location.get_opt(manifest).await? {
        Some(_) => Ok(()),
        None => Err(TableError::VersionNotFound { version }),
    }
}

/// Whether a live intent names `target`.
async fn naming(location: &DatasetLocation, target: &str) -> Result<bool> {
    let now = chrono::Utc::now();
    for meta in location.list(paths::CLEANUPS_DIR).await? {
        if now - meta.last_modified > INTENT_LIFETIME {
            continue;
        }
        // Gone since the listing: that cleanup finished.
        let Some(bytes) = location.get_opt(&meta.location).await? else {
            continue;
        };
        let intent =
            proto::CleanupIntent::decode(bytes.as_ref()).map_err(|e| TableError::corrupt(&meta.location, e))?;
        if intent.manifests.iter().any(|m| m == target) {
            return Ok(true);
        }
    }
    Ok(false)
}
