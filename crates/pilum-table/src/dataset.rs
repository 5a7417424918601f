//! The dataset handle: one checked-out version plus shared caches.

use crate::cache::DatasetCache;
use crate::commit::{CommitConfig, commit};
use crate::error::{Result, TableError};
use crate::fragment_info::FragmentInfo;
use crate::location::DatasetLocation;
use crate::manifest::Manifest;
use crate::proto::{self, Operation};
use crate::rowids::RowIdIndex;
use crate::scanner::Scanner;
use crate::transaction::{Change, Transaction};
use crate::write::{BatchStream, WriteParams, write_fragments};
use arrow_schema::SchemaRef;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// How a write treats an existing dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WriteMode {
    /// Fail if a dataset exists.
    #[default]
    Create,
    /// Add rows (creating the dataset if there is none).
    Append,
    /// Replace schema and rows with a new version (creating if there is none).
    Overwrite,
}

/// One entry of the version history.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionInfo {
    /// Version number.
    pub version: u64,
    /// Commit time.
    pub timestamp: DateTime<Utc>,
    /// What the commit did.
    pub operation: crate::Operation,
    /// Live rows in the version.
    pub num_rows: u64,
    /// Fragments in the version.
    pub num_fragments: usize,
    /// Properties recorded with the commit.
    pub properties: HashMap<String, String>,
}

/// A dataset at one version. Cloning is cheap; write operations move the
/// handle to the version they commit.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub(crate) location: DatasetLocation,
    pub(crate) manifest: Arc<Manifest>,
    pub(crate) cache: Arc<DatasetCache>,
    row_ids: Arc<OnceLock<RowIdIndex>>,
    /// Per index segment (by uuid), the row ids whose live copy it covers
    /// in this version: computed once per version, not once per query.
    pub(crate) covered_ids: Arc<std::sync::Mutex<HashMap<String, Arc<roaring::RoaringTreemap>>>>,
    /// Fragments of this version opened by takes, kept for later ones.
    pub(crate) opened: Arc<crate::opened_fragments::OpenedFragments>,
    pub(crate) commit_config: CommitConfig,
}

impl Dataset {
    /// Opens the latest version at a local path, `file://`, `s3://` or `memory://` URI.
    pub async fn open(uri: &str) -> Result<Self> {
        Self::open_with_options(uri, &HashMap::new()).await
    }

    /// Opens the latest version with store options (see [`pilum_io::parse_uri_with_options`]).
    pub async fn open_with_options(uri: &str, options: &HashMap<String, String>) -> Result<Self> {
        let location = pilum_io::parse_uri_with_options(uri, options)?;
        Self::open_location(DatasetLocation::from_store_location(location, uri).with_storage_options(options.clone()))
            .await
    }

    /// Opens the latest version at `location`.
    pub async fn open_location(location: DatasetLocation) -> Result<Self> {
        let manifest = location
            .load_latest()
            .await?
            .ok_or_else(|| TableError::DatasetNotFound {
                uri: location.uri.clone(),
            })?;
        Ok(Self::from_manifest(
            location,
            manifest,
            Arc::default(),
            CommitConfig::default(),
        ))
    }

    pub(crate) fn from_manifest(
        mut location: DatasetLocation,
        manifest: Manifest,
        cache: Arc<DatasetCache>,
        commit_config: CommitConfig,
    ) -> Self {
        if !location.bases.same_as(&manifest.base_paths) {
            location.bases = Arc::new(crate::bases::BaseRoots::of(&manifest.base_paths));
        }
        Self {
            location,
            manifest: Arc::new(manifest),
            cache,
            row_ids: Arc::default(),
            covered_ids: Arc::default(),
            opened: Arc::default(),
            commit_config,
        }
    }

    /// Writes `batches` (all of `schema`) as a new dataset or into an existing one.
    pub async fn write(
        location: DatasetLocation,
        schema: SchemaRef,
        batches: BatchStream,
        mode: WriteMode,
        params: &WriteParams,
    ) -> Result<Self> {
        let existing = if mode == WriteMode::Create {
            // One listing: any version at all means the dataset exists (the
            // commit checks again, so a racing creator is caught there).
            if !location.list_versions().await?.is_empty() {
                return Err(TableError::DatasetAlreadyExists {
                    uri: location.uri.clone(),
                });
            }
            None
        } else {
            location.load_latest().await?.map(|manifest| {
                Self::from_manifest(location.clone(), manifest, Arc::default(), CommitConfig::default())
            })
        };
        match (existing, mode) {
            (Some(mut dataset), WriteMode::Append) => {
                dataset.append(batches, params).await?;
                Ok(dataset)
            }
            (existing, _) => {
                let table_schema = crate::schema::TableSchema::assign(schema.clone(), 0);
                let fragments = write_fragments(&location, &table_schema, batches, params).await?;
                let operation = match existing {
                    Some(_) => Operation::Overwrite,
                    None => Operation::Create,
                };
                let txn = Transaction::new(operation, Change::Replace { schema, fragments });
                let base = existing.map(|d| Arc::unwrap_or_clone(d.manifest));
                Self::commit_replace(location, base, txn).await
            }
        }
    }

    /// Commits a create or overwrite on top of `base` (none for a new dataset).
    pub(crate) async fn commit_replace(
        location: DatasetLocation,
        base: Option<Manifest>,
        txn: Transaction,
    ) -> Result<Self> {
        let cache = Arc::<DatasetCache>::default();
        let manifest = commit(&location, &cache, base.as_ref(), &txn, &CommitConfig::default()).await?;
        Ok(Self::from_manifest(location, manifest, cache, CommitConfig::default()))
    }

    /// Appends `batches`, which must match the dataset's schema.
    pub async fn append(&mut self, batches: BatchStream, params: &WriteParams) -> Result<()> {
        let fragments = write_fragments(&self.location, &self.manifest.schema, batches, params).await?;
        self.commit(Transaction::new(Operation::Append, Change::Append { fragments }))
            .await
    }

    /// Commits `txn` on top of this handle's version and moves the handle.
    pub(crate) async fn commit(&mut self, txn: Transaction) -> Result<()> {
        let manifest = commit(
            &self.location,
            &self.cache,
            Some(&self.manifest),
            &txn,
            &self.commit_config,
        )
        .await?;
        self.manifest = Arc::new(manifest);
        self.row_ids = Arc::default();
        self.covered_ids = Arc::default();
        self.opened = Arc::default();
        Ok(())
    }

    /// Runs `operation` (which plans against the handle and commits), and on a
    /// commit conflict re-runs it against the latest version, a few times.
    pub(crate) async fn with_retries<T, F>(&mut self, mut operation: F) -> Result<T>
    where
        F: for<'a> FnMut(&'a mut Dataset) -> futures::future::BoxFuture<'a, Result<T>>,
    {
        const ATTEMPTS: usize = 10;
        self.check_branch_live().await?;
        let mut last = None;
        for _ in 0..ATTEMPTS {
            match operation(self).await {
                Err(e @ TableError::CommitConflict { .. }) => {
                    last = Some(e);
                    *self = self.checkout_latest().await?;
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| TableError::CommitConflict {
            version: self.version(),
            reason: "too much contention".into(),
        }))
    }

    /// Sets how commits retry.
    pub fn with_commit_config(mut self, config: CommitConfig) -> Self {
        self.commit_config = config;
        self
    }

    /// The dataset's location.
    pub fn location(&self) -> &DatasetLocation {
        &self.location
    }

    /// The URI the dataset was opened with.
    pub fn uri(&self) -> &str {
        &self.location.uri
    }

    /// The checked-out version.
    pub fn version(&self) -> u64 {
        self.manifest.version
    }

    /// The manifest of the checked-out version.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The Arrow schema.
    pub fn schema(&self) -> &SchemaRef {
        self.manifest.schema.arrow()
    }

    /// The live fragments, in row order.
    pub async fn fragments(&self) -> Result<Vec<FragmentInfo>> {
        Ok(self.all_fragments().await?.iter().map(FragmentInfo::of).collect())
    }

    /// The ids of the live fragments, in row order.
    pub async fn fragment_ids(&self) -> Result<Vec<u64>> {
        Ok(self.all_fragments().await?.iter().map(|f| f.id).collect())
    }

    /// Every fragment of this version, reading its fragment pages (at most
    /// once per handle) when the list is kept in pages.
    pub(crate) async fn all_fragments(&self) -> Result<&Arc<Vec<proto::Fragment>>> {
        self.manifest.fragments.load(&self.location).await
    }

    /// The commit time of the checked-out version.
    pub fn timestamp(&self) -> DateTime<Utc> {
        micros_to_time(self.manifest.timestamp_micros)
    }

    /// The latest committed version number.
    pub async fn latest_version(&self) -> Result<u64> {
        Ok(self.checkout_latest().await?.version())
    }

    /// The latest version, sharing this handle's caches.
    pub async fn checkout_latest(&self) -> Result<Self> {
        let manifest = self
            .location
            .load_latest()
            .await?
            .ok_or_else(|| TableError::DatasetNotFound {
                uri: self.location.uri.clone(),
            })?;
        Ok(self.with_manifest(manifest))
    }

    /// Version `version`, sharing this handle's caches.
    pub async fn checkout_version(&self, version: u64) -> Result<Self> {
        if version == self.version() {
            return Ok(self.clone());
        }
        Ok(self.with_manifest(self.location.load_manifest(version).await?))
    }

    /// The newest version committed at or before `time`.
    pub async fn checkout_as_of(&self, time: DateTime<Utc>) -> Result<Self> {
        let versions = self.location.list_versions().await?;
        let target = time.timestamp_micros();
        // Commit times increase with versions; binary-search the manifests.
        let (mut low, mut high) = (0usize, versions.len());
        let mut found = None;
        while low < high {
            let mid = low + (high - low) / 2;
            let manifest = self.location.load_manifest(versions[mid]).await?;
            if manifest.timestamp_micros <= target {
                found = Some(manifest);
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        let manifest = found.ok_or_else(|| TableError::NoVersionAsOf {
            timestamp: time.to_rfc3339(),
        })?;
        Ok(self.with_manifest(manifest))
    }

    /// The newest version committed at or before a naive local time (the
    /// machine's time zone, as notebooks mean it).
    pub async fn checkout_as_of_local(&self, time: chrono::NaiveDateTime) -> Result<Self> {
        use chrono::TimeZone;
        let local = chrono::Local
            .from_local_datetime(&time)
            .earliest()
            .ok_or_else(|| TableError::InvalidArgument(format!("{time} does not exist in the local time zone")))?;
        self.checkout_as_of(local.with_timezone(&Utc)).await
    }

    /// The version tagged `name` (on the branch the tag points into).
    pub async fn checkout_tag(&self, name: &str) -> Result<Self> {
        let tag = self.tags().get_info(name).await?;
        if tag.branch.as_deref() == self.branch() {
            return self.checkout_version(tag.version).await;
        }
        self.checkout_branch(tag.branch.as_deref(), Some(tag.version)).await
    }

    fn with_manifest(&self, manifest: Manifest) -> Self {
        Self::from_manifest(self.location.clone(), manifest, self.cache.clone(), self.commit_config)
    }

    /// `manifest` read at `location` (e.g. another branch), sharing this
    /// handle's caches.
    pub(crate) fn at(&self, location: DatasetLocation, manifest: Manifest) -> Self {
        Self::from_manifest(location, manifest, self.cache.clone(), self.commit_config)
    }

    /// Every retained version, oldest first (reads each manifest).
    pub async fn versions(&self) -> Result<Vec<VersionInfo>> {
        let versions = self.location.list_versions().await?;
        let manifests = futures::future::try_join_all(versions.iter().map(|&v| self.location.load_manifest(v))).await?;
        Ok(manifests
            .into_iter()
            .map(|m| VersionInfo {
                version: m.version,
                timestamp: micros_to_time(m.timestamp_micros),
                operation: m.operation(),
                num_rows: m.live_rows(),
                num_fragments: m.fragments.len(),
                properties: m.transaction.properties.clone(),
            })
            .collect())
    }

    /// Makes the checked-out version's contents the latest version.
    pub async fn restore(&mut self) -> Result<()> {
        let restored = Box::new(self.manifest.as_ref().clone());
        let mut latest = self.checkout_latest().await?;
        latest
            .commit(Transaction::new(
                Operation::Restore,
                Change::Restore { manifest: restored },
            ))
            .await?;
        *self = latest;
        Ok(())
    }

    /// A scanner over this version.
    pub fn scan(&self) -> Scanner {
        Scanner::new(self.clone())
    }

    /// Live rows, from metadata alone when `filter` is `None`.
    pub async fn count_rows(&self, filter: Option<&str>) -> Result<u64> {
        match filter {
            None => Ok(self.manifest.live_rows()),
            Some(filter) => self.scan().filter(filter).count_rows().await,
        }
    }

    /// The id → address index of this version, built on first use.
    pub(crate) async fn row_id_index(&self) -> Result<&RowIdIndex> {
        let fragments = self.all_fragments().await?;
        Ok(self.row_ids.get_or_init(|| RowIdIndex::build(fragments)))
    }

    /// Sets (or removes, with `None`) table config and metadata entries.
    pub async fn update_config(
        &mut self,
        config: impl IntoIterator<Item = (String, Option<String>)>,
        metadata: impl IntoIterator<Item = (String, Option<String>)>,
    ) -> Result<()> {
        let change = Change::Config {
            config: config.into_iter().collect(),
            metadata: metadata.into_iter().collect(),
        };
        self.commit(Transaction::new(Operation::UpdateConfig, change)).await
    }
}

/// Microseconds since the epoch as a UTC time.
pub(crate) fn micros_to_time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}
