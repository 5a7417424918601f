//! The commit loop: rebase a transaction on the latest version, write the
//! next manifest with put-if-absent, retry with jittered backoff.

use crate::cache::DatasetCache;
use crate::deletion::write_deletions;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::manifest::Manifest;
use crate::page_layout::{EditableList, Touch};
use crate::paths;
use crate::proto::{self, Operation};
use crate::rowids;
use crate::schema::TableSchema;
use crate::transaction::{Change, Transaction};
use rand::Rng;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// How hard a commit tries before giving up with a conflict.
#[derive(Debug, Clone, Copy)]
pub struct CommitConfig {
    /// Attempts after the first that lost the race for a version number.
    pub max_retries: u32,
    /// Base of the jittered exponential backoff between attempts.
    pub backoff: Duration,
}

impl Default for CommitConfig {
    fn default() -> Self {
        Self {
            max_retries: 20,
            backoff: Duration::from_millis(10),
        }
    }
}

/// Commits `txn` as version 1 of a new dataset: one listing proves that no
/// version exists (not even a later one whose version 1 cleanup removed),
/// then claiming version 1 with put-if-absent settles a race with another
/// creator. Two requests, where probing the hint and version 1 cost four.
async fn commit_create(location: &DatasetLocation, cache: &DatasetCache, txn: &Transaction) -> Result<Manifest> {
    let exists = || TableError::DatasetAlreadyExists {
        uri: location.uri.clone(),
    };
    if !location.list_versions().await?.is_empty() {
        return Err(exists());
    }
    let manifest = build(location, cache, None, None, &[], txn, 1).await?;
    if !location
        .put_if_absent(&location.manifest_path(1), manifest.to_bytes())
        .await?
    {
        return Err(exists());
    }
    // The hint only speeds up opening; a failed write is harmless.
    let _ = location.write_hint(1).await;
    Ok(manifest)
}

/// Commits `txn`, which was planned against `base` (`None` to create).
/// Returns the committed manifest.
pub async fn commit(
    location: &DatasetLocation,
    cache: &DatasetCache,
    base: Option<&Manifest>,
    txn: &Transaction,
    config: &CommitConfig,
) -> Result<Manifest> {
    let Some(base) = base else {
        return commit_create(location, cache, txn).await;
    };
    crate::branches::check_live(location).await?;
    let mut others: Vec<Manifest> = Vec::new();
    let mut next = base.version + 1;
    // The highest version known to have been committed: one at or below it
    // that is missing was cleaned up, not yet claimed.
    let mut committed = base.version;
    // Never claim a version number that cleanup already freed: find the
    // latest version and insist every version since ours is still there.
    if let Some(latest) = location.load_latest().await? {
        check_writable(&latest)?;
        committed = committed.max(latest.version);
        if latest.version > base.version {
            // The first newer version is checked here once, not reloaded below.
            let Some(first) = location.try_load_manifest(next).await? else {
                return Err(cleaned_up(next, latest.version));
            };
            check_writable(&first)?;
            txn.check(&first)?;
            others.push(first);
            next += 1;
        }
    }
    for attempt in 0..=config.max_retries {
        // Load every version committed since we read, checking each once.
        while let Some(other) = location.try_load_manifest(next).await? {
            check_writable(&other)?;
            txn.check(&other)?;
            others.push(other);
            next += 1;
        }
        // A missing `next` is free only above every version known to be
        // committed and above every cleanup's mark (a cleanup marks the
        // versions it may delete before deleting them).
        let mark = location.cleanup_mark().await?;
        if next <= committed || next < mark {
            return Err(cleaned_up(next, committed.max(mark)));
        }
        let latest = others.last().unwrap_or(base);
        let manifest = build(location, cache, Some(base), Some(latest), &others, txn, next).await?;
        let path = location.manifest_path(next);
        if location.put_if_absent(&path, manifest.to_bytes()).await? {
            // The hint only speeds up opening; a failed write is harmless.
            let _ = location.write_hint(next).await;
            return Ok(manifest);
        }
        // Another writer claimed `next`.
        committed = next;
        if attempt == config.max_retries {
            break;
        }
        let slots = 1u64 << attempt.min(8);
        let slot = rand::rng().random_range(0..=slots);
        tokio::time::sleep(config.backoff * slot as u32).await;
    }
    Err(TableError::CommitConflict {
        version: next,
        reason: format!("gave up after {} attempts to claim a version", config.max_retries + 1),
    })
}

/// The conflict of a commit whose next version number was cleaned up.
fn cleaned_up(next: u64, latest: u64) -> TableError {
    TableError::CommitConflict {
        version: latest,
        reason: format!("version {next} was cleaned up; reopen the dataset at its latest version"),
    }
}

/// Refuses to build on a version written with writer features we lack.
fn check_writable(manifest: &Manifest) -> Result<()> {
    let unknown = manifest.writer_features & !crate::manifest::KNOWN_WRITER_FEATURES;
    if unknown != 0 {
        return Err(TableError::UnsupportedFeatures {
            version: manifest.version,
            kind: "writer",
            flags: unknown,
        });
    }
    Ok(())
}

/// Builds version `version` from `latest` plus the transaction.
async fn build(
    location: &DatasetLocation,
    cache: &DatasetCache,
    base: Option<&Manifest>,
    latest: Option<&Manifest>,
    others: &[Manifest],
    txn: &Transaction,
    version: u64,
) -> Result<Manifest> {
    let mut record = proto::Transaction {
        read_version: base.map_or(0, |m| m.version),
        uuid: paths::random_id(),
        operation: txn.operation as i32,
        predicate: txn.predicate.clone(),
        properties: txn.properties.clone(),
        index_names: txn.index_names.clone(),
        ..Default::default()
    };
    let mut ids = IdAllocator::from(latest);
    let (schema, list, max_field_id) = match &txn.change {
        Change::Replace { schema, fragments } => {
            // Files were written with ids counted from 0; shift them to the
            // fresh ids this version assigns.
            let first = ids.next_field_id;
            let schema = TableSchema::assign(schema.clone(), first);
            let mut fragments = ids.fresh(fragments, &mut record);
            for file in fragments.iter_mut().flat_map(|f| f.files.iter_mut()) {
                for id in &mut file.field_ids {
                    *id += first;
                }
            }
            let max_field_id = schema.max_field_id().max(ids.next_field_id - 1);
            (schema, EditableList::fresh(fragments), max_field_id)
        }
        Change::Restore { manifest } => {
            record.restored_version = manifest.version;
            let max_field_id = manifest.max_field_id.max(ids.next_field_id - 1);
            let list = EditableList::of(location, manifest, &Touch::Nothing).await?;
            (manifest.schema.clone(), list, max_field_id)
        }
        _ => {
            let latest = latest.ok_or_else(|| TableError::DatasetNotFound {
                uri: location.uri.clone(),
            })?;
            let mut list = EditableList::of(location, latest, &touched_by(txn)).await?;
            let mut schema = latest.schema.clone();
            apply(
                location,
                cache,
                base,
                latest,
                others,
                txn,
                &mut ids,
                &mut list.fragments,
                &mut schema,
                &mut record,
            )
            .await?;
            let max_field_id = schema.max_field_id().max(latest.max_field_id);
            (schema, list, max_field_id)
        }
    };
    let (mut config, mut metadata) = match &txn.change {
        Change::Restore { manifest } => (manifest.config.clone(), manifest.metadata.clone()),
        _ => latest
            .map(|m| (m.config.clone(), m.metadata.clone()))
            .unwrap_or_default(),
    };
    if let Change::Config {
        config: config_changes,
        metadata: metadata_changes,
    } = &txn.change
    {
        for (map, changes) in [(&mut config, config_changes), (&mut metadata, metadata_changes)] {
            for (key, value) in changes {
                match value {
                    Some(value) => map.insert(key.clone(), value.clone()),
                    None => map.remove(key),
                };
            }
        }
    }
    let indices = crate::index::carry_forward(latest, txn, &list.live_ids(), &list.real_ids(), &schema)?;
    let per_page = crate::fragment_pages::fragments_per_page(&config)?;
    let resized = match (&txn.change, latest) {
        (Change::Config { .. }, Some(latest)) => {
            per_page != crate::fragment_pages::fragments_per_page(&latest.config).unwrap_or(per_page)
        }
        _ => false,
    };
    // A new page size lays the whole list out again.
    let list = if resized {
        list.into_fresh(location).await?
    } else {
        list
    };
    let fragments = list.finish(location, &schema, per_page).await?;
    let base_paths = match &txn.change {
        Change::Replace { .. } => Vec::new(),
        Change::Restore { manifest } => manifest.base_paths.as_ref().clone(),
        _ => latest.map(|m| m.base_paths.as_ref().clone()).unwrap_or_default(),
    };
    let mut manifest = Manifest {
        version,
        // Commit times never go backwards, whatever the writers' clocks say,
        // so time travel by timestamp can binary-search the versions.
        timestamp_micros: chrono::Utc::now()
            .timestamp_micros()
            .max(latest.map_or(i64::MIN, |m| m.timestamp_micros.saturating_add(1))),
        writer_version: format!("pilum {}", env!("CARGO_PKG_VERSION")),
        schema,
        fragments,
        max_fragment_id: ids.max_fragment_id,
        next_row_id: ids.next_row_id,
        max_field_id,
        config,
        metadata,
        transaction: record,
        indices: Arc::new(indices),
        base_paths: Arc::new(base_paths),
        writer_features: 0,
    };
    manifest.writer_features = manifest.reader_features()
        | if manifest.indices.is_empty() {
            0
        } else {
            crate::manifest::FEATURE_INDICES
        };
    Ok(manifest)
}

/// Issues fragment ids and row ids past everything the latest version used.
struct IdAllocator {
    max_fragment_id: u64,
    next_row_id: u64,
    next_field_id: i32,
}

impl IdAllocator {
    fn from(latest: Option<&Manifest>) -> Self {
        Self {
            max_fragment_id: latest.map_or(0, |m| m.max_fragment_id),
            next_row_id: latest.map_or(0, |m| m.next_row_id),
            next_field_id: latest.map_or(0, |m| m.max_field_id + 1),
        }
    }

    /// Assigns ids and fresh row ids to new fragments.
    fn fresh(&mut self, fragments: &[proto::Fragment], record: &mut proto::Transaction) -> Vec<proto::Fragment> {
        fragments
            .iter()
            .map(|fragment| {
                let ids = rowids::fresh(self.next_row_id, fragment.physical_rows);
                self.next_row_id += fragment.physical_rows;
                self.keep_ids(fragment, ids, record)
            })
            .collect()
    }

    /// Assigns an id to a fragment whose row ids are already set.
    fn keep_ids(
        &mut self,
        fragment: &proto::Fragment,
        row_ids: proto::RowIdSequence,
        record: &mut proto::Transaction,
    ) -> proto::Fragment {
        self.max_fragment_id += 1;
        record.added_fragments += 1;
        record.added_rows += fragment.physical_rows;
        proto::Fragment {
            id: self.max_fragment_id,
            row_ids: Some(row_ids),
            ..fragment.clone()
        }
    }

    fn moved(&mut self, fragments: &[proto::Fragment], record: &mut proto::Transaction) -> Vec<proto::Fragment> {
        fragments
            .iter()
            .map(|f| self.keep_ids(f, f.row_ids.clone().unwrap_or_default(), record))
            .collect()
    }
}

/// Applies an incremental change to the latest fragments and schema.
#[allow(clippy::too_many_arguments)]
async fn apply(
    location: &DatasetLocation,
    cache: &DatasetCache,
    base: Option<&Manifest>,
    latest: &Manifest,
    others: &[Manifest],
    txn: &Transaction,
    ids: &mut IdAllocator,
    fragments: &mut Vec<proto::Fragment>,
    schema: &mut TableSchema,
    record: &mut proto::Transaction,
) -> Result<()> {
    match &txn.change {
        Change::Append { fragments: new } => fragments.extend(ids.fresh(new, record)),
        Change::Rows {
            deleted,
            moved,
            inserted,
        } => {
            let mut removed = HashSet::new();
            for (&id, delta) in deleted {
                let Some(position) = fragments.iter().position(|f| f.id == id) else {
                    // Only a concurrent delete may remove a fragment we delete from.
                    if txn.operation == Operation::Delete {
                        continue;
                    }
                    return Err(conflict(latest, format!("fragment {id} no longer exists")));
                };
                let current = cache.deletions(location, &fragments[position]).await?;
                let in_base = match base {
                    Some(base) => base.fragments.find(location, id).await?,
                    None => None,
                };
                let read = match &in_base {
                    Some(f) => cache.deletions(location, f).await?,
                    None => current.clone(),
                };
                let concurrent = current.as_ref() - read.as_ref();
                let only_deletes = txn.operation == Operation::Delete
                    && others.iter().all(|o| {
                        o.transaction.operation() == Operation::Delete
                            || !o.transaction.modified_fragments.contains(&id)
                    });
                if !only_deletes && !concurrent.is_disjoint(delta) {
                    return Err(conflict(latest, format!("rows of fragment {id} changed concurrently")));
                }
                let union = current.as_ref() | delta;
                record.modified_fragments.push(id);
                if union.len() >= fragments[position].physical_rows {
                    removed.insert(id);
                    record.removed_fragments.push(id);
                } else {
                    let file = write_deletions(location, id, record.read_version, &union).await?;
                    fragments[position].deletion = Some(file);
                }
            }
            fragments.retain(|f| !removed.contains(&f.id));
            fragments.extend(ids.moved(moved, record));
            fragments.extend(ids.fresh(inserted, record));
        }
        Change::Schema {
            schema: new_schema,
            added_files,
            superseded,
        } => {
            for (id, files) in added_files {
                let fragment = fragments
                    .iter_mut()
                    .find(|f| f.id == *id)
                    .ok_or_else(|| conflict(latest, format!("fragment {id} no longer exists")))?;
                for file in &mut fragment.files {
                    for field in &mut file.field_ids {
                        if superseded.contains(field) {
                            *field = -1;
                        }
                    }
                }
                fragment.files.extend(files.iter().cloned());
                record.modified_fragments.push(*id);
            }
            *schema = new_schema.clone();
        }
        Change::Rewrite {
            removed,
            fragments: new,
            ..
        } => {
            let Some(first) = fragments.iter().position(|f| removed.contains(&f.id)) else {
                return Err(conflict(latest, "the rewritten fragments no longer exist".into()));
            };
            let present = fragments.iter().filter(|f| removed.contains(&f.id)).count();
            if present != removed.len() {
                return Err(conflict(latest, "a rewritten fragment no longer exists".into()));
            }
            let replacements = ids.moved(new, record);
            fragments.retain(|f| !removed.contains(&f.id));
            let at = first.min(fragments.len());
            fragments.splice(at..at, replacements);
            record.removed_fragments.extend(removed.iter().copied());
        }
        Change::Config { .. } | Change::Indices { .. } => {}
        Change::Replace { .. } | Change::Restore { .. } => {}
    }
    Ok(())
}

/// The fragments a change needs to read from a paged list.
fn touched_by(txn: &Transaction) -> Touch {
    match &txn.change {
        Change::Rows { deleted, .. } => Touch::Ids(deleted.keys().copied().collect()),
        Change::Schema { added_files, .. } => Touch::Ids(added_files.keys().copied().collect()),
        Change::Rewrite { removed, .. } => Touch::Ids(removed.clone()),
        Change::Indices { added, .. } => Touch::Ids(
            added
                .iter()
                .flat_map(|segment| segment.fragments.iter().map(u64::from))
                .collect(),
        ),
        Change::Append { .. } | Change::Config { .. } | Change::Replace { .. } | Change::Restore { .. } => {
            Touch::Nothing
        }
    }
}

fn conflict(latest: &Manifest, reason: String) -> TableError {
    TableError::CommitConflict {
        version: latest.version,
        reason,
    }
}
