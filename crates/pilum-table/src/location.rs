//! A dataset's store and root path, with the reads and writes of its
//! metadata objects.

use crate::error::{Result, TableError};
use crate::paths;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use pilum_file::WriterOptions;
use pilum_io::{ReadOptions, StoreLocation};
use std::sync::Arc;

/// Parts of a local data file written at once. The local store writes parts
/// one after another; each waiting part holds up to 8 MiB of encoded pages
/// (object stores' default of 8 raised a 200k-row write's peak memory from
/// about 90 to about 160 MiB).
pub const LOCAL_UPLOADS_IN_FLIGHT: usize = 2;

/// Where a dataset lives.
#[derive(Debug, Clone)]
pub struct DatasetLocation {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The dataset root inside the store.
    pub root: Path,
    /// The URI the user gave (for messages).
    pub uri: String,
    /// The root on the local filesystem, when the store is local.
    pub local_root: Option<std::path::PathBuf>,
    /// How readers of this store's files group ranges into requests.
    pub read_options: ReadOptions,
    /// The branch whose versions this location reads and commits (main
    /// when `None`); files always resolve against `root`.
    pub(crate) branch: Option<Arc<crate::branches::Lineage>>,
    /// Store options the dataset was opened with, reused for other roots.
    pub(crate) storage_options: Arc<std::collections::HashMap<String, String>>,
    /// Other roots (shallow-clone sources), resolved on first use.
    pub(crate) bases: Arc<crate::bases::BaseRoots>,
}

impl DatasetLocation {
    /// A location from a parsed URI.
    pub fn from_store_location(location: StoreLocation, uri: &str) -> Self {
        Self {
            store: location.store,
            root: location.path,
            uri: uri.to_string(),
            local_root: location.local_path,
            read_options: location.read_options,
            branch: None,
            storage_options: Arc::default(),
            bases: Arc::default(),
        }
    }

    /// The same location, remembering the store options it was opened with
    /// (used to reach the roots of shallow-clone sources).
    pub fn with_storage_options(mut self, options: std::collections::HashMap<String, String>) -> Self {
        self.storage_options = Arc::new(options);
        self
    }

    /// A location inside an existing store (e.g. a shared in-memory store),
    /// read with the local request policy (see [`Self::with_read_options`]).
    pub fn in_store(store: Arc<dyn ObjectStore>, root: &str) -> Self {
        Self {
            store,
            root: Path::from(root),
            uri: root.to_string(),
            local_root: None,
            read_options: ReadOptions::local(),
            branch: None,
            storage_options: Arc::default(),
            bases: Arc::default(),
        }
    }

    /// The same location, its files read with `options` (e.g.
    /// [`ReadOptions::object_store`] for a store reached over a network).
    pub fn with_read_options(mut self, options: ReadOptions) -> Self {
        self.read_options = options;
        self
    }

    /// `relative` under the root.
    pub fn child(&self, relative: &str) -> Path {
        paths::child(&self.root, relative)
    }

    /// `options` for data files written here: local files upload at most
    /// [`LOCAL_UPLOADS_IN_FLIGHT`] parts at once unless `options` says otherwise.
    pub fn writer_options(&self, options: WriterOptions) -> WriterOptions {
        match (options.uploads_in_flight, &self.local_root) {
            (None, Some(_)) => WriterOptions {
                uploads_in_flight: Some(LOCAL_UPLOADS_IN_FLIGHT),
                ..options
            },
            _ => options,
        }
    }

    /// The directory new files of this location's branch go under: "" on
    /// main, `"{branch directory}/"` on a branch.
    pub fn file_prefix(&self) -> String {
        match &self.branch {
            Some(lineage) => format!("{}/", lineage.directory()),
            None => String::new(),
        }
    }

    /// The branch this location reads and commits, `None` for main.
    pub fn branch_name(&self) -> Option<&str> {
        self.branch.as_ref().map(|lineage| lineage.name())
    }

    /// A [`StoreLocation`] of the object at `relative` (local files get the
    /// positional-read path).
    pub fn object(&self, relative: &str) -> StoreLocation {
        StoreLocation {
            store: self.store.clone(),
            path: self.child(relative),
            local_path: self.local_root.as_ref().map(|root| root.join(relative)),
            read_options: self.read_options,
        }
    }

    /// The local file of object `path` under the root, when the store is local.
    fn local_file(&self, path: &Path) -> Option<std::path::PathBuf> {
        let root = self.local_root.as_ref()?;
        let parts = path.prefix_match(&self.root)?;
        Some(parts.fold(root.clone(), |file, part| file.join(part.as_ref())))
    }

    /// Reads a whole object.
    pub async fn get(&self, path: &Path) -> Result<Bytes> {
        let result = self.store.get(path).await.map_err(|e| TableError::store(path, e))?;
        result.bytes().await.map_err(|e| TableError::store(path, e))
    }

    /// Reads a whole object, `None` when it does not exist. Local objects
    /// (hints, manifests, tags: small) are read on the calling thread.
    pub async fn get_opt(&self, path: &Path) -> Result<Option<Bytes>> {
        if let Some(file) = self.local_file(path) {
            return match pilum_io::read_local_object(path, &file) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(pilum_io::IoError::NotFound { .. }) => Ok(None),
                Err(e) => Err(TableError::Io(e)),
            };
        }
        match self.store.get(path).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(|e| TableError::store(path, e))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(TableError::store(path, e)),
        }
    }

    /// Writes an object only if it does not exist; `Ok(false)` when it does.
    pub async fn put_if_absent(&self, path: &Path, bytes: Bytes) -> Result<bool> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self.store.put_opts(path, PutPayload::from(bytes), options).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(TableError::store(path, e)),
        }
    }

    /// Writes (or replaces) an object.
    pub async fn put(&self, path: &Path, bytes: Bytes) -> Result<()> {
        self.store
            .put(path, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| TableError::store(path, e))
    }

    /// Deletes an object; a missing object is not an error.
    pub async fn delete(&self, path: &Path) -> Result<()> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(TableError::store(path, e)),
        }
    }

    /// Objects under `relative` (recursively), with sizes and modification times.
    pub async fn list(&self, relative: &str) -> Result<Vec<object_store::ObjectMeta>> {
        let prefix = self.child(relative);
        let listed: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| TableError::store(&prefix, e))?;
        Ok(listed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn local_files_upload_few_parts_at_once_unless_told() {
        let dir = std::env::temp_dir();
        let local = DatasetLocation::from_store_location(
            pilum_io::parse_uri(dir.to_str().unwrap()).unwrap(),
            dir.to_str().unwrap(),
        );
        let memory = DatasetLocation::in_store(Arc::new(object_store::memory::InMemory::new()), "t");
        let defaults = WriterOptions::default();
        assert_eq!(
            local.writer_options(defaults).uploads_in_flight,
            Some(LOCAL_UPLOADS_IN_FLIGHT)
        );
        assert_eq!(memory.writer_options(defaults).uploads_in_flight, None);
        let chosen = WriterOptions {
            uploads_in_flight: Some(5),
            ..defaults
        };
        assert_eq!(local.writer_options(chosen).uploads_in_flight, Some(5));
    }

    #[tokio::test]
    async fn local_metadata_reads_map_objects_to_files_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let uri = dir.path().join("my table").to_str().unwrap().to_string();
        let location = DatasetLocation::from_store_location(pilum_io::parse_uri(&uri).unwrap(), &uri);
        let hint = paths::latest_hint(&location.root);
        let file = location.local_file(&hint).unwrap();
        assert!(file.starts_with(dir.path().join("my table")), "{file:?}");
        assert_eq!(location.get_opt(&hint).await.unwrap(), None, "missing objects are None");
        location.put(&hint, Bytes::from_static(b"7")).await.unwrap();
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"7",
            "the store wrote the file read back"
        );
        assert_eq!(location.get_opt(&hint).await.unwrap(), Some(Bytes::from_static(b"7")));
        let outside = Path::from("elsewhere/_latest");
        assert_eq!(location.local_file(&outside), None);
        // Anything but a missing file is an error, e.g. a directory where an object should be.
        let directory = location.child("_versions/a-directory");
        std::fs::create_dir_all(location.local_file(&directory).unwrap()).unwrap();
        let read = location.get_opt(&directory).await;
        assert!(matches!(read, Err(TableError::Io(_))), "{read:?}");
    }
}
