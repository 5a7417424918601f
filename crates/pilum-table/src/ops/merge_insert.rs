//! `merge_insert(on)`: upserts keyed on one or more columns. The source is
//! held in memory and hashed by key; the target is streamed.

use super::delete::add_addresses;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::expr::{CompiledExpr, JoinedPredicate};
use crate::proto::Operation;
use crate::scanner::{ROW_ADDRESS, ROW_ID};
use crate::transaction::{Change, Transaction};
use crate::write::{BatchStream, WriteParams, conform_batch, write_fragments};
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{RecordBatch, UInt32Array};
use arrow_row::{RowConverter, Rows, SortField};
use futures::TryStreamExt;
use futures::stream;
use roaring::RoaringBitmap;
use std::collections::{BTreeMap, HashMap};

/// What to do with a target row whose key appears in the source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WhenMatched {
    /// Keep the target row.
    #[default]
    DoNothing,
    /// Replace the target row by the source row.
    UpdateAll,
    /// Replace it only when the SQL condition (over `target.*` and `source.*`) holds.
    UpdateIf(String),
}

/// What to do with a target row whose key is absent from the source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WhenNotMatchedBySource {
    /// Keep it.
    #[default]
    Keep,
    /// Delete it.
    Delete,
    /// Delete it when the SQL condition (over the target's columns) holds.
    DeleteIf(String),
}

/// Rows changed by a merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergeStats {
    /// Source rows inserted.
    pub inserted: u64,
    /// Target rows replaced by source rows.
    pub updated: u64,
    /// Target rows deleted.
    pub deleted: u64,
}

/// Configures and runs a merge-insert.
#[derive(Debug, Clone)]
pub struct MergeInsertBuilder {
    dataset: Dataset,
    on: Vec<String>,
    when_matched: WhenMatched,
    insert_not_matched: bool,
    when_not_matched_by_source: WhenNotMatchedBySource,
}

impl Dataset {
    /// Starts a merge-insert keyed on `on`. By default nothing happens:
    /// choose the clauses on the builder.
    pub fn merge_insert<S: Into<String>>(&self, on: impl IntoIterator<Item = S>) -> MergeInsertBuilder {
        MergeInsertBuilder {
            dataset: self.clone(),
            on: on.into_iter().map(Into::into).collect(),
            when_matched: WhenMatched::DoNothing,
            insert_not_matched: false,
            when_not_matched_by_source: WhenNotMatchedBySource::Keep,
        }
    }
}

impl MergeInsertBuilder {
    /// Replaces matched rows (only where `condition` holds, if given).
    pub fn when_matched_update_all(mut self, condition: Option<&str>) -> Self {
        self.when_matched = match condition {
            Some(c) => WhenMatched::UpdateIf(c.to_string()),
            None => WhenMatched::UpdateAll,
        };
        self
    }

    /// Inserts source rows whose key is not in the target.
    pub fn when_not_matched_insert_all(mut self) -> Self {
        self.insert_not_matched = true;
        self
    }

    /// Deletes target rows whose key is not in the source (where `condition` holds, if given).
    pub fn when_not_matched_by_source_delete(mut self, condition: Option<&str>) -> Self {
        self.when_not_matched_by_source = match condition {
            Some(c) => WhenNotMatchedBySource::DeleteIf(c.to_string()),
            None => WhenNotMatchedBySource::Delete,
        };
        self
    }

    /// Runs the merge with `source` (the dataset's full schema) and commits
    /// one version; returns the new dataset state and the counts.
    pub async fn execute(self, source: BatchStream) -> Result<(Dataset, MergeStats)> {
        let batches = super::collect(source).await?;
        let mut dataset = self.dataset.clone();
        let stats = dataset
            .with_retries(move |dataset| {
                let (this, batches) = (self.clone(), batches.clone());
                Box::pin(async move { this.execute_once(dataset, batches).await })
            })
            .await?;
        Ok((dataset, stats))
    }

    async fn execute_once(&self, dataset: &mut Dataset, batches: Vec<RecordBatch>) -> Result<MergeStats> {
        let schema = dataset.manifest.schema.clone();
        if self.on.is_empty() {
            return Err(TableError::InvalidArgument(
                "merge_insert needs at least one key column".into(),
            ));
        }
        let conformed = batches
            .iter()
            .map(|b| conform_batch(b, &schema))
            .collect::<Result<Vec<_>>>()?;
        let source = arrow_select::concat::concat_batches(schema.arrow(), &conformed)?;
        let key_indices = self.on.iter().map(|k| schema.index_of(k)).collect::<Result<Vec<_>>>()?;
        let converter = RowConverter::new(
            key_indices
                .iter()
                .map(|&i| SortField::new(schema.arrow().field(i).data_type().clone()))
                .collect(),
        )?;
        let source_keys = converter.convert_columns(source.project(&key_indices)?.columns())?;
        let mut by_key: HashMap<&[u8], u32> = HashMap::with_capacity(source.num_rows());
        for row in 0..source.num_rows() {
            if by_key.insert(source_keys.row(row).data(), row as u32).is_some() {
                return Err(TableError::InvalidArgument(format!(
                    "the merge source holds key {:?} more than once",
                    source_keys.row(row)
                )));
            }
        }
        let update_if = match &self.when_matched {
            WhenMatched::UpdateIf(sql) => Some(JoinedPredicate::compile(sql, schema.arrow(), schema.arrow())?),
            _ => None,
        };
        let delete_if = match &self.when_not_matched_by_source {
            WhenNotMatchedBySource::DeleteIf(sql) => Some(CompiledExpr::compile_predicate(sql, schema.arrow())?),
            _ => None,
        };
        let needs_all_columns = update_if.is_some() || delete_if.is_some();
        let mut scan = dataset.scan().with_row_id(true).with_row_address(true);
        if !needs_all_columns {
            scan = scan.project(self.on.clone());
        }
        let mut target = scan.try_into_stream().await?;
        let mut matched = RoaringBitmap::new();
        let mut deleted: BTreeMap<u64, RoaringBitmap> = BTreeMap::new();
        let (mut moved_rows, mut moved_ids) = (Vec::new(), Vec::new());
        let mut stats = MergeStats::default();
        while let Some(batch) = target.try_next().await? {
            let key_columns = self
                .on
                .iter()
                .map(|k| {
                    batch
                        .column_by_name(k)
                        .cloned()
                        .ok_or_else(|| TableError::ColumnNotFound { name: k.clone() })
                })
                .collect::<Result<Vec<_>>>()?;
            let keys: Rows = converter.convert_columns(&key_columns)?;
            let (Some(ids), Some(addresses)) = (batch.column_by_name(ROW_ID), batch.column_by_name(ROW_ADDRESS)) else {
                return Err(TableError::Execution("scan lost its row id columns".into()));
            };
            let (ids, addresses) = (ids.as_primitive::<UInt64Type>(), addresses.as_primitive::<UInt64Type>());
            let mut hits: Vec<(usize, u32)> = Vec::new();
            let mut misses: Vec<usize> = Vec::new();
            for row in 0..batch.num_rows() {
                match by_key.get(keys.row(row).data()) {
                    Some(&source_row) => {
                        matched.insert(source_row);
                        hits.push((row, source_row));
                    }
                    None => misses.push(row),
                }
            }
            let updates: Vec<(usize, u32)> = match (&self.when_matched, &update_if) {
                (WhenMatched::DoNothing, _) => Vec::new(),
                (_, None) => hits,
                (_, Some(condition)) => {
                    let target_rows = UInt32Array::from_iter_values(hits.iter().map(|h| h.0 as u32));
                    let source_rows = UInt32Array::from_iter_values(hits.iter().map(|h| h.1));
                    let target_part = take_batch(
                        &batch.project(&(0..schema.arrow().fields().len()).collect::<Vec<_>>())?,
                        &target_rows,
                    )?;
                    let source_part = take_batch(&source, &source_rows)?;
                    let mask = condition.mask(&target_part, &source_part)?;
                    hits.into_iter()
                        .zip(mask.values().iter())
                        .filter_map(|(h, keep)| keep.then_some(h))
                        .collect()
                }
            };
            let removals: Vec<usize> = match (&self.when_not_matched_by_source, &delete_if) {
                (WhenNotMatchedBySource::Keep, _) => Vec::new(),
                (_, None) => misses,
                (_, Some(condition)) => {
                    let mask = condition.mask(&batch)?;
                    misses.into_iter().filter(|&row| mask.value(row)).collect()
                }
            };
            for &(row, source_row) in &updates {
                moved_rows.push(source_row);
                moved_ids.push(ids.value(row));
            }
            let gone: Vec<u64> = updates
                .iter()
                .map(|u| u.0)
                .chain(removals.iter().copied())
                .map(|r| addresses.value(r))
                .collect();
            add_addresses(&mut deleted, &gone.into());
            stats.updated += updates.len() as u64;
            stats.deleted += removals.len() as u64;
        }
        let inserted_rows: Vec<u32> = if self.insert_not_matched {
            (0..source.num_rows() as u32)
                .filter(|r| !matched.contains(*r))
                .collect()
        } else {
            Vec::new()
        };
        stats.inserted = inserted_rows.len() as u64;
        if stats == MergeStats::default() {
            return Ok(stats);
        }
        let params = WriteParams::default();
        let mut moved = write_rows(dataset, &source, moved_rows, &params).await?;
        super::assign_row_ids(&mut moved, &moved_ids);
        let inserted = write_rows(dataset, &source, inserted_rows, &params).await?;
        let txn = Transaction::new(
            Operation::MergeInsert,
            Change::Rows {
                deleted,
                moved,
                inserted,
            },
        );
        dataset.commit(txn).await?;
        Ok(stats)
    }
}

fn take_batch(batch: &RecordBatch, rows: &UInt32Array) -> Result<RecordBatch> {
    Ok(arrow_select::take::take_record_batch(batch, rows)?)
}

/// Writes the source rows `rows` (in order) as new fragments.
async fn write_rows(
    dataset: &Dataset,
    source: &RecordBatch,
    rows: Vec<u32>,
    params: &WriteParams,
) -> Result<Vec<crate::proto::Fragment>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let batch = take_batch(source, &UInt32Array::from(rows))?;
    let batches: BatchStream = Box::pin(stream::iter([Ok(batch)]));
    write_fragments(&dataset.location, &dataset.manifest.schema, batches, params).await
}
