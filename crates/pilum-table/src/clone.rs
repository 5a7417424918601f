//! Clones: a new dataset whose first version is a version of this one.
//! A shallow clone references the source's files in place through a base
//! path and pins the source version so the source's cleanup keeps it; a
//! deep clone copies every file.

use crate::branches::VersionRef;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::manifest::Manifest;
use crate::paths;
use crate::proto::{self, Operation};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;

/// Copies of files running at once in a deep clone.
const COPIES_IN_FLIGHT: usize = 8;

impl Dataset {
    /// Creates a dataset at `target` whose version 1 is `reference` of this
    /// dataset, its files referenced in place (nothing is copied). Its own
    /// writes go to `target`; this dataset's cleanup keeps the cloned
    /// version and its files while the clone exists.
    pub async fn shallow_clone(&self, target: DatasetLocation, reference: &VersionRef) -> Result<Dataset> {
        let source = self.checkout_ref(reference).await?;
        refuse_existing(&target).await?;
        let pin = Pin::write(&source, &target).await?;
        let result = async {
            let manifest = shallow_manifest(&source, &target).await?;
            create_first_version(&target, manifest).await
        }
        .await;
        if result.is_err() {
            pin.remove(&self.location).await;
        }
        result
    }

    /// Creates a dataset at `target` whose version 1 is `reference` of this
    /// dataset, with every file it references copied (server-side when both
    /// live in one store). The source is pinned only while copying.
    pub async fn deep_clone(&self, target: DatasetLocation, reference: &VersionRef) -> Result<Dataset> {
        let source = self.checkout_ref(reference).await?;
        refuse_existing(&target).await?;
        let pin = Pin::write(&source, &target).await?;
        let result = async {
            let manifest = deep_copy(&source, &target).await?;
            create_first_version(&target, manifest).await
        }
        .await;
        pin.remove(&self.location).await;
        result
    }
}

async fn refuse_existing(target: &DatasetLocation) -> Result<()> {
    if target.list_versions().await?.is_empty() {
        Ok(())
    } else {
        Err(TableError::DatasetAlreadyExists {
            uri: target.uri.clone(),
        })
    }
}

/// Writes `manifest` as version 1 at `target` (put-if-absent).
async fn create_first_version(target: &DatasetLocation, mut manifest: Manifest) -> Result<Dataset> {
    manifest.version = 1;
    manifest.timestamp_micros = chrono::Utc::now().timestamp_micros();
    manifest.writer_version = format!("pilum {}", env!("CARGO_PKG_VERSION"));
    manifest.transaction = proto::Transaction {
        uuid: paths::random_id(),
        operation: Operation::Clone as i32,
        ..Default::default()
    };
    let features = manifest.writer_features & crate::manifest::FEATURE_INDICES;
    manifest.writer_features = manifest.reader_features() | features;
    if !target
        .put_if_absent(&target.manifest_path(1), manifest.to_bytes())
        .await?
    {
        return Err(TableError::DatasetAlreadyExists {
            uri: target.uri.clone(),
        });
    }
    let _ = target.write_hint(1).await;
    Ok(Dataset::from_manifest(
        target.clone(),
        manifest,
        Arc::default(),
        crate::commit::CommitConfig::default(),
    ))
}

/// The source's manifest with every file moved to a base path: the
/// source's own root becomes a new base, its bases keep theirs.
async fn shallow_manifest(source: &Dataset, target: &DatasetLocation) -> Result<Manifest> {
    let mut manifest = source.manifest().clone();
    let mut bases: Vec<proto::BasePath> = Vec::new();
    let mut remap: HashMap<u32, u32> = HashMap::new();
    let own = proto::BasePath {
        id: 1,
        uri: target.uri_of(&source.location),
        source_branch: source.branch().unwrap_or_default().to_string(),
        source_version: source.version(),
    };
    bases.push(own);
    remap.insert(0, 1);
    for base in source.manifest().base_paths.iter() {
        let id = bases.len() as u32 + 1;
        remap.insert(base.id, id);
        // Re-expressed from the target's root (relative forms are per root).
        let root = source.location.base(base.id)?;
        bases.push(proto::BasePath {
            id,
            uri: target.uri_of(&root),
            ..base.clone()
        });
    }
    let moved = |old: u32| {
        remap
            .get(&old)
            .copied()
            .ok_or_else(|| TableError::corrupt(&source.location.uri, format!("a file names undefined base path {old}")))
    };
    let mut fragments = source.all_fragments().await?.as_ref().clone();
    for fragment in &mut fragments {
        for file in &mut fragment.files {
            file.base_id = moved(file.base_id)?;
        }
        if let Some(deletion) = &mut fragment.deletion {
            deletion.base_id = moved(deletion.base_id)?;
        }
    }
    let mut indices = manifest.indices.as_ref().clone();
    for segment in &mut indices {
        segment.message.base_id = moved(segment.message.base_id)?;
    }
    manifest.fragments = lay_out(target, &manifest, fragments).await?;
    manifest.indices = Arc::new(indices);
    manifest.base_paths = Arc::new(bases);
    Ok(manifest)
}

/// Copies every file of the source version into `target` under the same
/// relative path and returns the manifest that references the copies.
async fn deep_copy(source: &Dataset, target: &DatasetLocation) -> Result<Manifest> {
    let mut manifest = source.manifest().clone();
    let mut copies: Vec<(u32, String)> = Vec::new();
    let mut fragments = source.all_fragments().await?.as_ref().clone();
    for fragment in &mut fragments {
        for file in &mut fragment.files {
            copies.push((std::mem::take(&mut file.base_id), file.path.clone()));
        }
        if let Some(deletion) = &mut fragment.deletion {
            copies.push((std::mem::take(&mut deletion.base_id), deletion.path.clone()));
        }
    }
    let mut indices = manifest.indices.as_ref().clone();
    for segment in &mut indices {
        let base = std::mem::take(&mut segment.message.base_id);
        copies.extend(segment.message.files.iter().map(|f| (base, f.path.clone())));
    }
    let mut seen = HashMap::new();
    for (base, path) in &copies {
        if let Some(other) = seen.insert(path.clone(), *base)
            && other != *base
        {
            return Err(TableError::InvalidArgument(format!(
                "two roots of the source hold a file named {path}; a deep clone cannot place both"
            )));
        }
    }
    futures::stream::iter(copies)
        .map(|(base, path)| async move {
            let from = source.location.base(base)?;
            copy_object(&from, target, &path).await
        })
        .buffer_unordered(COPIES_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    manifest.fragments = lay_out(target, &manifest, fragments).await?;
    manifest.indices = Arc::new(indices);
    manifest.base_paths = Arc::default();
    Ok(manifest)
}

/// The clone's fragment list, in pages of its own when it needs them.
async fn lay_out(
    target: &DatasetLocation,
    manifest: &Manifest,
    fragments: Vec<proto::Fragment>,
) -> Result<crate::fragment_list::FragmentList> {
    let per_page = crate::fragment_pages::fragments_per_page(&manifest.config)?;
    crate::page_layout::EditableList::fresh(fragments)
        .finish(target, &manifest.schema, per_page)
        .await
}

/// Copies `relative` from one root to another: a server-side copy within
/// one store, else a streamed download and upload.
async fn copy_object(from: &DatasetLocation, to: &DatasetLocation, relative: &str) -> Result<()> {
    let (source, destination) = (from.child(relative), to.child(relative));
    if Arc::ptr_eq(&from.store, &to.store) || (from.local_root.is_some() && to.local_root.is_some()) {
        if let Some(local) = &to.local_root {
            // The local store copies into an existing directory only.
            let file = local.join(relative);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).map_err(|source| TableError::LocalIo {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
        }
        return from
            .store
            .copy(&source, &destination)
            .await
            .map_err(|e| TableError::store(&source, e));
    }
    let mut stream = from
        .store
        .get(&source)
        .await
        .map_err(|e| TableError::store(&source, e))?
        .into_stream();
    let mut sink = pilum_io::ObjectSink::new(to.store.clone(), destination.clone());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| TableError::store(&source, e))?;
        sink.write(chunk).await?;
    }
    sink.finish().await?;
    Ok(())
}

/// A clone's pin on its source version, in the source's `_refs/clones/`.
struct Pin {
    path: Path,
}

impl Pin {
    /// Writes the pin, then makes sure no cleanup deleted the version.
    async fn write(source: &Dataset, target: &DatasetLocation) -> Result<Self> {
        let record = proto::ClonePin {
            target_uri: source.location.uri_of(target),
            branch: source.branch().unwrap_or_default().to_string(),
            version: source.version(),
            created_at_micros: chrono::Utc::now().timestamp_micros(),
        };
        let root = &source.location;
        let path = paths::child(
            &root.root,
            &format!("{}/{}.clone", paths::CLONES_DIR, paths::random_id()),
        );
        root.put(&path, Bytes::from(record.encode_to_vec())).await?;
        let pin = Self { path };
        let manifest = root.manifest_path(source.version());
        if let Err(e) = crate::pins::confirm(root, &manifest, source.version()).await {
            pin.remove(root).await;
            return Err(e);
        }
        Ok(pin)
    }

    async fn remove(self, location: &DatasetLocation) {
        let _ = location.delete(&self.path).await;
    }
}

/// A pin with its object path.
pub(crate) struct StoredPin {
    pub path: Path,
    pub pin: proto::ClonePin,
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

/// Every clone pin on this dataset.
pub(crate) async fn pins(location: &DatasetLocation) -> Result<Vec<StoredPin>> {
    let mut out = Vec::new();
    for meta in location.list(paths::CLONES_DIR).await? {
        let Some(bytes) = location.get_opt(&meta.location).await? else {
            continue;
        };
        let pin = proto::ClonePin::decode(bytes.as_ref()).map_err(|e| TableError::corrupt(&meta.location, e))?;
        out.push(StoredPin {
            path: meta.location,
            pin,
            last_modified: meta.last_modified,
        });
    }
    Ok(out)
}

/// The target URIs of clones pinning versions of `branch` (`None`: main).
pub(crate) async fn pins_on(location: &DatasetLocation, branch: Option<&str>) -> Result<Vec<String>> {
    let wanted = branch.unwrap_or_default();
    Ok(pins(location)
        .await?
        .into_iter()
        .filter(|p| p.pin.branch == wanted)
        .map(|p| p.pin.target_uri)
        .collect())
}
