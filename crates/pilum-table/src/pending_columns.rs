//! Distributed column additions: each worker computes new columns for some
//! fragments of one version and writes them as data files without
//! committing ([`Dataset::write_pending_columns`]); one process commits
//! every worker's files as one version that adds the columns
//! ([`Dataset::commit_pending_columns`]). A cluster can so compute a new
//! embedding column for every fragment in parallel. Fragments no part
//! covers read the new columns as nulls.
//!
//! Bytes (`format-spec/table.md` section 16): as pending fragments, with
//! magic `PLPC` and the protobuf `PendingColumns`.

use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::pending::{check_files, frame, unframe};
use crate::proto::{self, Operation};
use crate::schema::TableSchema;
use crate::transaction::{Change, Transaction};
use crate::write::{BatchStream, OpenFile};
use arrow_array::{RecordBatch, UInt32Array, new_null_array};
use arrow_schema::SchemaRef;
use futures::StreamExt;
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;

const MAGIC: [u8; 4] = *b"PLPC";

/// New columns written for some fragments of one version, not committed.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingColumns {
    base_version: u64,
    schema: TableSchema,
    files: Vec<(u64, proto::DataFile)>,
}

impl PendingColumns {
    /// The version the columns were computed on.
    pub fn base_version(&self) -> u64 {
        self.base_version
    }

    /// The schema the commit gives the dataset (old columns, then new ones).
    pub fn schema(&self) -> &SchemaRef {
        self.schema.arrow()
    }

    /// Fragment ids the part holds columns for.
    pub fn fragment_ids(&self) -> Vec<u64> {
        self.files.iter().map(|(id, _)| *id).collect()
    }

    /// Paths of the data files, relative to the dataset root.
    pub fn files(&self) -> Vec<String> {
        self.files.iter().map(|(_, f)| f.path.clone()).collect()
    }

    /// The serialized form (see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let message = proto::PendingColumns {
            base_version: self.base_version,
            schema: Some(proto::Schema {
                arrow_schema: pilum_file::schema_to_bytes(self.schema.arrow()),
                field_ids: self.schema.field_ids().to_vec(),
            }),
            fragment_ids: self.files.iter().map(|(id, _)| *id).collect(),
            files: self.files.iter().map(|(_, f)| f.clone()).collect(),
        };
        frame(MAGIC, &message.encode_to_vec())
    }

    /// Parses [`Self::to_bytes`]'s output; damaged or foreign bytes are
    /// reported as corruption.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "pending columns";
        let payload = unframe(MAGIC, bytes, WHAT)?;
        let corrupt = |what: &str| TableError::corrupt(WHAT, what);
        let message = proto::PendingColumns::decode(payload).map_err(|e| corrupt(&format!("does not decode: {e}")))?;
        let schema = message.schema.ok_or_else(|| corrupt("no schema"))?;
        let arrow = pilum_file::parse_schema(&schema.arrow_schema, WHAT)?;
        let schema = TableSchema::from_parts(Arc::new(arrow), schema.field_ids)?;
        if message.fragment_ids.len() != message.files.len()
            || message.files.iter().any(|f| !crate::pending::safe(&f.path))
        {
            return Err(corrupt(
                "fragment ids and files do not pair up, or a file lies outside the dataset",
            ));
        }
        Ok(Self {
            base_version: message.base_version,
            schema,
            files: message.fragment_ids.into_iter().zip(message.files).collect(),
        })
    }
}

impl Dataset {
    /// Writes new columns for fragment `fragment_id` of this version
    /// without committing them. `batches` (with schema `columns`) hold one
    /// row per live row of the fragment, in scan order; deleted rows get
    /// nulls. The new fields follow the dataset's, and every worker adding
    /// the same fields to the same version gets the same field ids.
    pub async fn write_pending_columns(
        &self,
        fragment_id: u64,
        columns: SchemaRef,
        mut batches: BatchStream,
    ) -> Result<PendingColumns> {
        let fragment = self
            .manifest
            .fragments
            .find(&self.location, fragment_id)
            .await?
            .ok_or_else(|| {
                TableError::InvalidArgument(format!("version {} has no fragment {fragment_id}", self.version()))
            })?;
        let table = self.manifest.schema.clone();
        let fields: Vec<arrow_schema::Field> = columns.fields().iter().map(|f| f.as_ref().clone()).collect();
        let schema = table.with_added(&fields, self.manifest.max_field_id)?;
        let output = schema.fields_from(table.arrow().fields().len());
        let deleted = match &fragment.deletion {
            Some(_) => self.cache.deletions(&self.location, &fragment).await?,
            None => Arc::default(),
        };
        let mut file = OpenFile::start(&self.location, &output, Default::default()).await?;
        let mut position = 0u64;
        let result: Result<()> = async {
            while let Some(batch) = batches.next().await {
                let batch = crate::write::conform_batch(&batch?, &output)?;
                // The physical rows this batch's live rows span (deleted rows between them get nulls).
                let mut indices = Vec::with_capacity(batch.num_rows());
                let mut taken = 0u32;
                while (taken as usize) < batch.num_rows() {
                    if position >= fragment.physical_rows {
                        return Err(row_count_error(fragment_id, &fragment, deleted.len()));
                    }
                    if deleted.contains(position as u32) {
                        indices.push(None);
                    } else {
                        indices.push(Some(taken));
                        taken += 1;
                    }
                    position += 1;
                }
                file.write(&place(&batch, &UInt32Array::from(indices))?).await?;
            }
            // Deleted rows after the last live one.
            let rest = (fragment.physical_rows - position) as usize;
            if (position..fragment.physical_rows).any(|p| !deleted.contains(p as u32)) {
                return Err(row_count_error(fragment_id, &fragment, deleted.len()));
            }
            if rest > 0 {
                let nulls: Vec<_> = output
                    .arrow()
                    .fields()
                    .iter()
                    .map(|f| new_null_array(f.data_type(), rest))
                    .collect();
                file.write(&RecordBatch::try_new(output.arrow().clone(), nulls)?)
                    .await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            file.abort().await;
            return Err(e);
        }
        let (file, _) = file.finish_file(&output).await?;
        Ok(PendingColumns {
            base_version: self.version(),
            schema,
            files: vec![(fragment_id, file)],
        })
    }

    /// Commits new columns that workers wrote with
    /// [`Dataset::write_pending_columns`] as one version of the dataset at
    /// `location`. Every part must come from the same version and add the
    /// same columns; each fragment may be covered once. A commit since the
    /// base version that changed rows (an append, a delete) or the schema
    /// is a conflict ([`TableError::CommitConflict`]): the columns would
    /// miss rows. Workers then compute their parts on the latest version.
    pub async fn commit_pending_columns(location: DatasetLocation, parts: Vec<PendingColumns>) -> Result<Dataset> {
        let Some(first) = parts.first() else {
            return Err(TableError::InvalidArgument("a commit needs at least one part".into()));
        };
        let (base_version, schema) = (first.base_version, first.schema.clone());
        if parts
            .iter()
            .any(|p| p.base_version != base_version || p.schema != schema)
        {
            return Err(TableError::SchemaMismatch {
                reason: "the parts add different columns, or to different versions".into(),
            });
        }
        let mut added: HashMap<u64, Vec<proto::DataFile>> = HashMap::new();
        for (id, file) in parts.into_iter().flat_map(|p| p.files) {
            if added.insert(id, vec![file]).is_some() {
                return Err(TableError::InvalidArgument(format!(
                    "fragment {id} has columns in two parts"
                )));
            }
        }
        let base = location.load_manifest(base_version).await?;
        let base_fragments = base.fragments.load(&location).await?;
        if let Some(id) = added.keys().find(|id| !base_fragments.iter().any(|f| f.id == **id)) {
            return Err(TableError::InvalidArgument(format!(
                "version {base_version} has no fragment {id}"
            )));
        }
        let files: Vec<&proto::DataFile> = added.values().flatten().collect();
        check_files(&location, &files).await?;
        let mut dataset =
            Dataset::from_manifest(location, base, Arc::default(), crate::commit::CommitConfig::default());
        let change = Change::Schema {
            schema,
            added_files: added,
            superseded: Vec::new(),
        };
        dataset.commit(Transaction::new(Operation::AddColumns, change)).await?;
        Ok(dataset)
    }
}

/// `batch`'s rows at `indices` (null where an index is null).
fn place(batch: &RecordBatch, indices: &UInt32Array) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .map(|c| arrow_select::take::take(c, indices, None))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

fn row_count_error(fragment_id: u64, fragment: &proto::Fragment, deleted: u64) -> TableError {
    TableError::InvalidArgument(format!(
        "fragment {fragment_id} has {} live rows; the new columns must have one row per live row",
        fragment.physical_rows.saturating_sub(deleted)
    ))
}
