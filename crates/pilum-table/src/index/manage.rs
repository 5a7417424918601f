//! Listing, describing and dropping indices.

use super::IndexSegment;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::manifest::fragment_live_rows;
use crate::proto::Operation;
use crate::transaction::{Change, Transaction};
use roaring::RoaringBitmap;

/// One logical index of a version: its segments, summarized.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDescription {
    /// The name.
    pub name: String,
    /// The kind (`IVF_PQ`, `IVF_FLAT`).
    pub index_type: String,
    /// Indexed column names.
    pub field_names: Vec<String>,
    /// Indexed top-level field ids.
    pub field_ids: Vec<i32>,
    /// The segments.
    pub segments: Vec<IndexSegment>,
    /// Live rows in covered fragments.
    pub num_rows_indexed: u64,
}

/// Coverage of one logical index in a version.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexStatistics {
    /// The kind.
    pub index_type: String,
    /// Segments of the index.
    pub num_indices: usize,
    /// Live rows in covered fragments.
    pub num_indexed_rows: u64,
    /// Live rows in uncovered fragments (searched exactly).
    pub num_unindexed_rows: u64,
    /// Covered live fragments.
    pub num_indexed_fragments: u64,
    /// Uncovered live fragments.
    pub num_unindexed_fragments: u64,
    /// The metric (`l2`, `cosine`, `dot`).
    pub metric: String,
    /// Partitions per segment.
    pub num_partitions: u32,
    /// Partitions probed by default.
    pub default_nprobes: u32,
    /// Default refine factor (0: none).
    pub default_refine_factor: u32,
}

impl Dataset {
    /// Bounds the memory of loaded index partitions, shared by every
    /// version of this handle (default [`crate::DEFAULT_INDEX_CACHE_BYTES`],
    /// 4 GiB); the least recently used go first, and are read again from
    /// their files when probed. A smaller budget drops entries at once.
    pub fn set_index_cache_bytes(&self, bytes: usize) {
        self.cache.segments.partitions.set_budget(bytes);
    }

    /// Bytes of loaded index partitions held now, and the budget.
    pub fn index_cache_bytes(&self) -> (usize, usize) {
        let cache = &self.cache.segments.partitions;
        (cache.bytes(), cache.budget())
    }

    /// The index segments of this version.
    pub fn index_segments(&self) -> &[IndexSegment] {
        &self.manifest.indices
    }

    /// The uuids of the segments a build of index `name` replaces: none
    /// when it does not exist; an error when it does and `replace` is not set.
    pub(crate) fn replaced_segments(&self, name: &str, replace: bool) -> Result<Vec<String>> {
        let existing: Vec<String> = self.segments_named(name).iter().map(|s| s.uuid().to_string()).collect();
        if !existing.is_empty() && !replace {
            return Err(TableError::IndexAlreadyExists { name: name.into() });
        }
        Ok(existing)
    }

    /// Commits a newly built `segment` of index `name`, replacing the
    /// segments `existing` (a `CREATE_INDEX` version).
    pub(crate) async fn commit_new_index(
        &mut self,
        name: String,
        segment: IndexSegment,
        existing: Vec<String>,
    ) -> Result<()> {
        let change = Change::Indices {
            added: vec![segment],
            removed: existing,
        };
        let mut txn = Transaction::new(Operation::CreateIndex, change);
        txn.index_names = vec![name];
        self.commit(txn).await
    }

    /// The segments of index `name` (none when it does not exist).
    pub(crate) fn segments_named(&self, name: &str) -> Vec<&IndexSegment> {
        self.manifest.indices.iter().filter(|s| s.name() == name).collect()
    }

    /// The logical indices of this version, in order of first segment.
    pub async fn describe_indices(&self) -> Result<Vec<IndexDescription>> {
        let mut out: Vec<IndexDescription> = Vec::new();
        for segment in self.manifest.indices.iter() {
            match out.iter_mut().find(|d| d.name == segment.name()) {
                Some(d) => d.segments.push(segment.clone()),
                None => out.push(IndexDescription {
                    name: segment.name().to_string(),
                    index_type: segment.kind_name().to_string(),
                    field_names: segment
                        .message
                        .field_ids
                        .iter()
                        .filter_map(|id| self.manifest.schema.field_name(*id))
                        .collect(),
                    field_ids: segment.message.field_ids.clone(),
                    segments: vec![segment.clone()],
                    num_rows_indexed: 0,
                }),
            }
        }
        for d in &mut out {
            d.num_rows_indexed = self.coverage(&d.segments).await?.0;
        }
        Ok(out)
    }

    /// Coverage statistics of index `name`.
    pub async fn index_statistics(&self, name: &str) -> Result<IndexStatistics> {
        let segments: Vec<IndexSegment> = self.segments_named(name).into_iter().cloned().collect();
        let first = segments
            .first()
            .ok_or_else(|| TableError::IndexNotFound { name: name.into() })?;
        let (indexed_rows, indexed_fragments) = self.coverage(&segments).await?;
        let details = first.vector().cloned().unwrap_or_default();
        Ok(IndexStatistics {
            index_type: first.kind_name().to_string(),
            num_indices: segments.len(),
            num_indexed_rows: indexed_rows,
            num_unindexed_rows: self.manifest.live_rows() - indexed_rows,
            num_indexed_fragments: indexed_fragments,
            num_unindexed_fragments: self.manifest.fragments.len() as u64 - indexed_fragments,
            metric: super::loaded::metric_of(&details).map_or_else(|_| "unknown".into(), |m| m.name().to_string()),
            num_partitions: details.num_partitions,
            default_nprobes: details.default_nprobes,
            default_refine_factor: details.default_refine_factor,
        })
    }

    /// Live rows and fragments covered by `segments`.
    async fn coverage(&self, segments: &[IndexSegment]) -> Result<(u64, u64)> {
        let covered: RoaringBitmap = segments.iter().fold(RoaringBitmap::new(), |acc, s| acc | &s.fragments);
        Ok(self
            .all_fragments()
            .await?
            .iter()
            .filter(|f| covered.contains(f.id as u32))
            .fold((0, 0), |(rows, count), f| (rows + fragment_live_rows(f), count + 1)))
    }

    /// Drops index `name` (every segment) in a new version; its files stay
    /// until cleanup removes the versions that use them.
    pub async fn drop_index(&mut self, name: &str) -> Result<()> {
        let removed: Vec<String> = self.segments_named(name).iter().map(|s| s.uuid().to_string()).collect();
        if removed.is_empty() {
            return Err(TableError::IndexNotFound { name: name.into() });
        }
        let mut txn = Transaction::new(
            Operation::DropIndex,
            Change::Indices {
                added: Vec::new(),
                removed,
            },
        );
        txn.index_names = vec![name.to_string()];
        self.commit(txn).await
    }
}
