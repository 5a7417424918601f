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
        if !uri.contains("://") {
            return Ok(self.relative_root(uri));
        }
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

    /// The root at `relative` (segments, `..` allowed) from this root, in
    /// the same store.
    fn relative_root(&self, relative: &str) -> DatasetLocation {
        let mut parts: Vec<String> = self.root.parts().map(|p| p.as_ref().to_string()).collect();
        let mut local = self.local_root.clone();
        for segment in relative.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    parts.pop();
                    if let Some(path) = &mut local {
                        path.pop();
                    }
                }
                other => {
                    parts.push(other.to_string());
                    if let Some(path) = &mut local {
                        path.push(other);
                    }
                }
            }
        }
        DatasetLocation {
            root: Path::from_iter(parts),
            uri: relative.to_string(),
            local_root: local,
            branch: None,
            bases: Arc::default(),
            ..self.clone()
        }
    }

    /// How this root names `other` as a base path: a relative path when both
    /// live in one store (so the pair can move together), else
    /// [`Self::base_uri`].
    pub(crate) fn uri_of(&self, other: &DatasetLocation) -> String {
        let same_store = match (&self.local_root, &other.local_root) {
            (Some(_), Some(_)) => true,
            (None, None) => match (s3_bucket(&self.uri), s3_bucket(&other.uri)) {
                (Some(a), Some(b)) => a == b,
                (None, None) => Arc::ptr_eq(&self.store, &other.store),
                _ => false,
            },
            _ => false,
        };
        if !same_store {
            return other.base_uri();
        }
        let mine: Vec<_> = self.root.parts().collect();
        let theirs: Vec<_> = other.root.parts().collect();
        let common = mine.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
        let mut segments: Vec<String> = vec!["..".to_string(); mine.len() - common];
        segments.extend(theirs[common..].iter().map(|p| p.as_ref().to_string()));
        if segments.is_empty() {
            ".".to_string()
        } else {
            segments.join("/")
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn roots_in_one_store_name_each_other_relatively() {
        let store: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let clone = DatasetLocation::in_store(store.clone(), "a/c/clone");
        let source = DatasetLocation::in_store(store.clone(), "a/b/ds");
        let uri = clone.uri_of(&source);
        assert_eq!(uri, "../../b/ds");
        assert_eq!(clone.root_at(&uri).unwrap().root, source.root);
        assert_eq!(clone.uri_of(&clone), ".");
        // Another store is named absolutely.
        let elsewhere = DatasetLocation::in_store(Arc::new(object_store::memory::InMemory::new()), "x");
        assert_eq!(clone.uri_of(&elsewhere), "memory:///x");
        let dir = std::env::temp_dir().join("pilum-bases-test");
        let local = |name: &str| {
            let path = dir.join(name);
            let uri = path.to_string_lossy().to_string();
            DatasetLocation::from_store_location(pilum_io::parse_uri(&uri).unwrap(), &uri)
        };
        let (from, to) = (local("clones/one"), local("src"));
        let uri = from.uri_of(&to);
        assert_eq!(uri, "../../src");
        let back = from.root_at(&uri).unwrap();
        assert_eq!((back.root, back.local_root), (to.root, to.local_root));
    }
}
