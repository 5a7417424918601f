//! Base paths: other dataset roots whose files a version references in
//! place (the sources of shallow clones), and how a file's `base_id` finds
//! its root.

use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::proto;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use pilum_io::ReadOptions;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The base paths of the checked-out version, each resolved to a location
/// on first use.
#[derive(Debug, Default)]
pub(crate) struct BaseRoots {
    paths: Vec<proto::BasePath>,
    resolved: Mutex<HashMap<u32, DatasetLocation>>,
}

impl BaseRoots {
    /// The roots of a version's `base_paths`.
    pub fn of(paths: &[proto::BasePath]) -> Self {
        Self {
            paths: paths.to_vec(),
            resolved: Mutex::default(),
        }
    }

    /// Whether these are the roots of `paths`.
    pub fn same_as(&self, paths: &[proto::BasePath]) -> bool {
        self.paths == paths
    }
}

impl DatasetLocation {
    /// The location files of base `id` resolve against: this location for 0.
    pub(crate) fn base(&self, id: u32) -> Result<DatasetLocation> {
        if id == 0 {
            return Ok(self.clone());
        }
        if let Some(found) = lock(&self.bases.resolved).get(&id) {
            return Ok(found.clone());
        }
        let base = self.bases.paths.iter().find(|b| b.id == id).ok_or_else(|| {
            TableError::corrupt(
                &self.uri,
                format!("a file names base path {id}, which the version does not define"),
            )
        })?;
        let resolved = self.root_at(&base.uri)?;
        lock(&self.bases.resolved).insert(id, resolved.clone());
        Ok(resolved)
    }

    /// A location for root `uri` (as [`Self::base_uri`] writes it), reusing
    /// this location's store when the root is in it.
    pub(crate) fn root_at(&self, uri: &str) -> Result<DatasetLocation> {
        let same_store = |root: Path, local_root: Option<std::path::PathBuf>| DatasetLocation {
            root,
            uri: uri.to_string(),
            local_root,
            branch: None,
            bases: Arc::default(),
            ..self.clone()
        };
        if let Some(path) = uri.strip_prefix("memory:///") {
            return Ok(same_store(Path::from(path), None));
        }
        if let Some(local) = uri.strip_prefix("file://") {
            let absolute = std::path::PathBuf::from(local);
            let root = Path::from_absolute_path(&absolute).map_err(|e| TableError::InvalidArgument(e.to_string()))?;
            return Ok(DatasetLocation {
                store: Arc::new(LocalFileSystem::new()),
                read_options: ReadOptions::local(),
                ..same_store(root, Some(absolute))
            });
        }
        if let (Some(own), Some(other)) = (s3_bucket(&self.uri), s3_bucket(uri))
            && own == other
        {
            let prefix = uri.trim_start_matches("s3://")[other.len()..].trim_matches('/');
            return Ok(same_store(Path::from(prefix), None));
        }
        let parsed = pilum_io::parse_uri_with_options(uri, &self.storage_options)?;
        Ok(DatasetLocation::from_store_location(parsed, uri)
            .with_storage_options(self.storage_options.as_ref().clone()))
    }

    /// The URI under which another dataset's versions can name this root
    /// as a base path.
    pub(crate) fn base_uri(&self) -> String {
        if let Some(local) = &self.local_root {
            return format!("file://{}", local.display());
        }
        match s3_bucket(&self.uri) {
            Some(bucket) => format!("s3://{bucket}/{}", self.root.as_ref()),
            None => format!("memory:///{}", self.root.as_ref()),
        }
    }
}

/// The bucket of an `s3://` URI.
fn s3_bucket(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("s3://")?;
    rest.split('/').next().filter(|b| !b.is_empty())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
