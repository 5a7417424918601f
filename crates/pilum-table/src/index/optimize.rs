//! `optimize_indices`: index the fragments an index does not cover yet,
//! with the index's trained model, as a new segment or merged with the
//! newest segments; or retrain from scratch.

use super::IndexSegment;
use super::build::{IndexType, VectorIndexParams};
use super::files::StorageWriter;
use super::metric_of;
use super::segment::{IndexedShape, NewSegment, VectorColumn};
use super::spill::Spill;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::progress::Progress;
use crate::proto::{self, Operation};
use crate::scan_tasks::blocking;
use crate::transaction::{Change, Transaction};
use futures::TryStreamExt;
use pilum_index::{Partition, Vectors, merge_partitions};
use roaring::{RoaringBitmap, RoaringTreemap};
use std::sync::Arc;

/// Options of [`Dataset::optimize_indices`].
#[derive(Debug, Clone)]
pub struct OptimizeIndexOptions {
    /// 0: index the uncovered fragments as a new segment; n ≥ 1: fold them
    /// and the newest n segments sharing the model into one segment
    /// (dropping the entries of deleted and updated rows). Default 1.
    pub num_indices_to_merge: usize,
    /// Only these indices (all when `None`).
    pub index_names: Option<Vec<String>>,
    /// Train a new model on all live rows and replace every segment.
    pub retrain: bool,
    /// Memory an update may use, in bytes (default 1 GiB): new rows are
    /// encoded batch by batch and spilled to the temporary directory past a
    /// quarter of it, and segments are written one partition at a time; a
    /// retrain builds as `create_index` does with this `memory_limit`.
    pub memory_limit: usize,
}

impl Default for OptimizeIndexOptions {
    fn default() -> Self {
        Self {
            num_indices_to_merge: 1,
            index_names: None,
            retrain: false,
            memory_limit: 1 << 30,
        }
    }
}

impl Dataset {
    /// Brings indices up to date with the table (see
    /// [`OptimizeIndexOptions`]); commits one version when anything changed.
    pub async fn optimize_indices(&mut self, options: &OptimizeIndexOptions) -> Result<()> {
        let mut names: Vec<String> = Vec::new();
        for segment in self.manifest.indices.iter() {
            if !names.iter().any(|n| n == segment.name()) {
                names.push(segment.name().to_string());
            }
        }
        if let Some(wanted) = &options.index_names {
            for name in wanted {
                if !names.contains(name) {
                    return Err(TableError::IndexNotFound { name: name.clone() });
                }
            }
            names.retain(|n| wanted.contains(n));
        }
        if options.retrain {
            for name in names {
                if self.segments_named(&name).iter().any(|s| s.is_text()) {
                    let params = self.text_params_of(&name, options.memory_limit)?;
                    self.create_text_index(&params, &Progress::none()).await?;
                    continue;
                }
                if self.segments_named(&name).iter().any(|s| s.scalar_type().is_some()) {
                    let params = self.scalar_params_of(&name)?;
                    self.create_scalar_index(&params, &Progress::none()).await?;
                    continue;
                }
                let params = VectorIndexParams {
                    memory_limit: options.memory_limit,
                    ..self.params_of(&name)?
                };
                self.create_index(&params, &Progress::none()).await?;
            }
            return Ok(());
        }
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        for name in &names {
            let update = if self.segments_named(name).iter().any(|s| s.is_text()) {
                self.update_text_index(name, options.num_indices_to_merge, options.memory_limit)
                    .await?
            } else if self.segments_named(name).iter().any(|s| s.scalar_type().is_some()) {
                self.update_scalar_index(name, options.num_indices_to_merge).await?
            } else {
                self.update_index(name, options.num_indices_to_merge, options.memory_limit)
                    .await?
            };
            if let Some((segment, folded)) = update {
                added.push(segment);
                removed.extend(folded);
            }
        }
        if added.is_empty() {
            return Ok(());
        }
        let mut txn = Transaction::new(Operation::OptimizeIndices, Change::Indices { added, removed });
        txn.index_names = names;
        self.commit(txn).await
    }

    /// The build parameters that reproduce index `name`'s newest segment.
    fn params_of(&self, name: &str) -> Result<VectorIndexParams> {
        let segment = self
            .segments_named(name)
            .last()
            .copied()
            .ok_or_else(|| TableError::IndexNotFound { name: name.into() })?;
        let details = segment.vector().cloned().unwrap_or_default();
        let column = segment
            .field_id()
            .and_then(|id| self.manifest.schema.field_name(id))
            .ok_or_else(|| TableError::IndexNotFound { name: name.into() })?;
        let index_type = match segment.message.kind() {
            proto::IndexKind::IvfPq => IndexType::IvfPq,
            proto::IndexKind::IvfSq => IndexType::IvfSq,
            proto::IndexKind::IvfHnswSq => IndexType::IvfHnswSq,
            _ => IndexType::IvfFlat,
        };
        Ok(VectorIndexParams {
            name: Some(name.to_string()),
            metric: metric_of(&details)?,
            replace: true,
            num_partitions: Some(details.num_partitions as usize),
            num_sub_vectors: (index_type == IndexType::IvfPq).then_some(details.num_sub_vectors as usize),
            num_bits: if details.num_bits == 4 { 4 } else { 8 },
            m: (details.hnsw_m != 0).then_some(details.hnsw_m as usize),
            ef_construction: (details.hnsw_ef_construction != 0).then_some(details.hnsw_ef_construction as usize),
            seed: details.seed,
            dimensions: (details.column_dimension != 0).then_some(details.dimension as usize),
            ..VectorIndexParams::new(column, index_type)
        })
    }

    /// A segment covering the uncovered fragments (plus the folded
    /// segments' live entries), and the uuids it replaces; `None` when
    /// there is nothing to do.
    async fn update_index(
        &self,
        name: &str,
        merge: usize,
        memory_limit: usize,
    ) -> Result<Option<(IndexSegment, Vec<String>)>> {
        let segments: Vec<IndexSegment> = self.segments_named(name).into_iter().cloned().collect();
        let Some(newest) = segments
            .iter()
            .filter(|s| s.is_readable())
            .max_by_key(|s| s.message.created_at_micros)
        else {
            return Ok(None);
        };
        let Some(column) = newest.field_id().and_then(|id| self.manifest.schema.field_name(id)) else {
            return Ok(None);
        };
        let model = self.cache.segments.get(&self.location, newest).await?;
        let covered = segments.iter().fold(RoaringBitmap::new(), |acc, s| acc | &s.fragments);
        let uncovered: Vec<u64> = self
            .all_fragments()
            .await?
            .iter()
            .map(|f| f.id)
            .filter(|id| !covered.contains(*id as u32))
            .collect();
        // Segments folded: the newest `merge` that share the model.
        let mut folded: Vec<(&IndexSegment, RoaringTreemap)> = Vec::new();
        let mut by_age: Vec<&IndexSegment> = segments.iter().filter(|s| s.is_readable()).collect();
        by_age.sort_by_key(|s| std::cmp::Reverse(s.message.created_at_micros));
        for segment in by_age.into_iter().take(merge) {
            let loaded = self.cache.segments.get(&self.location, segment).await?;
            if loaded.index == model.index {
                folded.push((segment, std::sync::Arc::unwrap_or_clone(self.valid_ids(segment).await?)));
            }
        }
        if uncovered.is_empty() && folded.len() <= 1 {
            return Ok(None);
        }
        let uuids = folded.iter().map(|(s, _)| s.uuid().to_string()).collect();
        let segment = self
            .encode_segment(name, newest, &column, uncovered, folded, memory_limit)
            .await?;
        Ok(Some((segment, uuids)))
    }

    /// A segment of index `name` with `model`'s model (a segment of it)
    /// over fragments `uncovered`, plus the live entries of `folded`.
    pub(crate) async fn encode_segment(
        &self,
        name: &str,
        newest: &IndexSegment,
        column: &str,
        uncovered: Vec<u64>,
        folded: Vec<(&IndexSegment, RoaringTreemap)>,
        memory_limit: usize,
    ) -> Result<IndexSegment> {
        let details = newest.vector().cloned().unwrap_or_default();
        let model = self.cache.segments.get(&self.location, newest).await?;
        let dim = details.dimension as usize;
        let (_, column_shape) = self.vector_field(column)?;
        let shape = IndexedShape::of_segment(column_shape, &details);
        // The uncovered rows are encoded batch by batch into a spill, and
        // the segment is written partition by partition: an update holds
        // one batch, then one partition (fresh and folded entries), never
        // the new rows or the whole index.
        let budget = memory_limit / 4;
        let index = Arc::new(model.index.clone());
        let partitions_count = index.ivf().num_partitions();
        let mut spill = Spill::new(
            partitions_count,
            index.payload_width(),
            index.byte_payload_width().is_none(),
            budget,
        )?;
        let mut fresh_skipped = 0u64;
        if !uncovered.is_empty() {
            let mut stream = self
                .scan()
                .project([column])
                .with_row_id(true)
                .with_fragments(uncovered.clone())
                .try_into_stream()
                .await?;
            while let Some(batch) = stream.try_next().await? {
                let batch = VectorColumn::of_batch(&batch, column, shape, false)?;
                fresh_skipped += batch.skipped;
                let index = index.clone();
                spill = blocking("index update task", move || -> Result<Spill> {
                    let data = Vectors::new(&batch.values, dim).map_err(TableError::index)?;
                    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                    let (assignment, payload) = index.encode(data, threads).map_err(TableError::index)?;
                    spill.add(&assignment, &batch.ids, &payload)?;
                    Ok(spill)
                })
                .await?;
            }
        }
        let spill = Arc::new(spill);
        let uuid = crate::paths::random_id();
        let mut writer = StorageWriter::create(&self.location, &uuid, &model.index).await?;
        let width = model.index.byte_payload_width().unwrap_or(dim);
        for p in 0..partitions_count {
            let fresh_spill = spill.clone();
            let fresh_part = blocking("index update task", move || fresh_spill.partition(p)).await?;
            let mut loaded_parts = Vec::with_capacity(folded.len());
            for (segment, _) in &folded {
                let loaded = self.cache.segments.get(&self.location, segment).await?;
                loaded_parts.push(loaded.partition(p as u32).await?);
            }
            let mut parts: Vec<&Partition> = vec![&fresh_part];
            parts.extend(loaded_parts.iter().map(|p| p.as_ref()));
            // Fresh entries are live by construction; folded ones only if
            // their row is still live in a fragment their segment covers.
            let keep = |id: u64| folded.iter().any(|(_, valid)| valid.contains(id));
            let mut part = merge_partitions(&parts[1..], width, &keep).map_err(TableError::index)?;
            if !fresh_part.is_empty() {
                part = merge_partitions(&[&fresh_part, &part], width, &|_| true).map_err(TableError::index)?;
            }
            drop(loaded_parts);
            // IVF_HNSW_SQ partitions get their graph (others are unchanged).
            let index = index.clone();
            let part = blocking("index graph task", move || {
                index.finish_partition(p as u32, part).map_err(TableError::index)
            })
            .await?;
            writer.push(part).await?;
        }
        let storage = writer.finish().await?;
        let mut fragments: RoaringBitmap = uncovered.iter().map(|&id| id as u32).collect();
        for (segment, _) in &folded {
            fragments |= &segment.fragments;
        }
        let folded_skipped: u64 = folded
            .iter()
            .filter_map(|(s, _)| s.vector())
            .map(|d| d.skipped_rows)
            .sum();
        let details = proto::VectorIndexDetails {
            skipped_rows: folded_skipped + fresh_skipped,
            ..details
        };
        self.finish_segment(
            uuid,
            &model.index,
            storage,
            NewSegment {
                name: name.to_string(),
                field_id: newest.field_id().unwrap_or_default(),
                kind: newest.message.kind(),
                details,
                fragments,
            },
        )
        .await
    }
}
