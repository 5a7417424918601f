//! Distributed writes: each worker writes fragments without committing and
//! hands back a [`PendingFragments`], a small description that serializes
//! to bytes; one process then commits every worker's fragments as one
//! version ([`Dataset::commit_pending`]), through the same conflict
//! detection and rebase as any commit. Files of a worker whose fragments
//! are never committed stay unreferenced and cleanup removes them.
//!
//! Bytes (`format-spec/table.md` section 16): magic `PLPF`, u16 version
//! (1), u16 zero, the protobuf `PendingFragments`, then the CRC32 of the
//! protobuf bytes; integers little-endian.

use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::proto::{self, Operation};
use crate::schema::TableSchema;
use crate::transaction::{Change, Transaction};
use crate::write::{BatchStream, WriteParams, write_fragments};
use arrow_schema::SchemaRef;
use object_store::ObjectStoreExt;
use prost::Message;
use std::sync::Arc;

const MAGIC: [u8; 4] = *b"PLPF";
const VERSION: u16 = 1;
const HEADER_LEN: usize = 8;

/// Fragments written and not yet committed, with the schema they were
/// written for.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingFragments {
    schema: TableSchema,
    fragments: Vec<proto::Fragment>,
}

/// How [`Dataset::commit_pending`] applies pending fragments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PendingOperation {
    /// Add the rows to the dataset (which must exist, with the schema the
    /// fragments were written for).
    Append,
    /// Replace the dataset's schema and rows (creating it if there is none).
    Overwrite,
}

impl PendingFragments {
    /// Writes `batches` into new fragments of the dataset at `location`
    /// without committing them. For [`PendingOperation::Append`] the
    /// dataset must exist and the batches must match its schema; for
    /// [`PendingOperation::Overwrite`] `schema` is the new schema.
    pub async fn write(
        location: &DatasetLocation,
        schema: SchemaRef,
        batches: BatchStream,
        operation: PendingOperation,
        params: &WriteParams,
    ) -> Result<Self> {
        let table_schema = match operation {
            PendingOperation::Append => {
                let latest = location
                    .load_latest()
                    .await?
                    .ok_or_else(|| TableError::DatasetNotFound {
                        uri: location.uri.clone(),
                    })?;
                latest.schema
            }
            PendingOperation::Overwrite => TableSchema::assign(schema, 0),
        };
        let fragments = write_fragments(location, &table_schema, batches, params).await?;
        Ok(Self {
            schema: table_schema,
            fragments,
        })
    }

    /// The Arrow schema the fragments were written with.
    pub fn schema(&self) -> &SchemaRef {
        self.schema.arrow()
    }

    /// Rows in the fragments.
    pub fn num_rows(&self) -> u64 {
        self.fragments.iter().map(|f| f.physical_rows).sum()
    }

    /// Number of fragments.
    pub fn num_fragments(&self) -> usize {
        self.fragments.len()
    }

    /// Paths of the data files, relative to the dataset root.
    pub fn files(&self) -> Vec<String> {
        self.fragments
            .iter()
            .flat_map(|f| f.files.iter().map(|d| d.path.clone()))
            .collect()
    }

    /// One part per fragment (each with the schema), so a caller can hand
    /// out or inspect fragments one by one.
    pub fn split(self) -> Vec<Self> {
        let schema = self.schema;
        self.fragments
            .into_iter()
            .map(|fragment| Self {
                schema: schema.clone(),
                fragments: vec![fragment],
            })
            .collect()
    }

    /// The serialized form (see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let message = proto::PendingFragments {
            schema: Some(proto::Schema {
                arrow_schema: pilum_file::schema_to_bytes(self.schema.arrow()),
                field_ids: self.schema.field_ids().to_vec(),
            }),
            fragments: self.fragments.clone(),
        };
        frame(MAGIC, &message.encode_to_vec())
    }

    /// Parses [`Self::to_bytes`]'s output; damaged or foreign bytes are
    /// reported as corruption.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "pending fragments";
        let corrupt = |what: &str| TableError::corrupt(WHAT, what);
        let payload = unframe(MAGIC, bytes, WHAT)?;
        let message =
            proto::PendingFragments::decode(payload).map_err(|e| corrupt(&format!("does not decode: {e}")))?;
        let schema = message.schema.ok_or_else(|| corrupt("no schema"))?;
        let arrow = pilum_file::parse_schema(&schema.arrow_schema, WHAT)?;
        let schema = TableSchema::from_parts(Arc::new(arrow), schema.field_ids)?;
        for fragment in &message.fragments {
            if fragment.physical_rows == 0 || fragment.files.is_empty() || fragment.files.iter().any(|f| !safe(&f.path))
            {
                return Err(corrupt(
                    "a fragment without rows or files, or a file outside the dataset",
                ));
            }
        }
        Ok(Self {
            schema,
            fragments: message.fragments,
        })
    }
}

/// `payload` framed: `magic`, u16 version, u16 zero, the payload, its CRC32.
pub(crate) fn frame(magic: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + 4);
    out.extend_from_slice(&magic);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out
}

/// The payload of [`frame`]'s output; anything else is corruption of `what`.
pub(crate) fn unframe<'a>(magic: [u8; 4], bytes: &'a [u8], what: &str) -> Result<&'a [u8]> {
    let corrupt = |reason: String| TableError::corrupt(what, reason);
    if bytes.len() < HEADER_LEN + 4 || bytes[..4] != magic {
        return Err(corrupt(format!("not {what} (bad magic or too short)")));
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != VERSION {
        return Err(corrupt(format!(
            "version {version}; this library reads version {VERSION}"
        )));
    }
    let (payload, crc) = bytes[HEADER_LEN..].split_at(bytes.len() - HEADER_LEN - 4);
    if crc32fast::hash(payload).to_le_bytes() != crc {
        return Err(corrupt("checksum mismatch".into()));
    }
    Ok(payload)
}

/// Whether `path` stays inside the dataset's `data/` directory.
pub(crate) fn safe(path: &str) -> bool {
    path.starts_with("data/")
        && !path
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
}

impl Dataset {
    /// Commits fragments that workers wrote with [`PendingFragments::write`]
    /// as one version of the dataset at `location`, on top of `read_version`
    /// (the version the workers started from; the latest when `None`).
    /// Versions committed since are rebased over as for any commit. Every
    /// data file must exist with the size recorded and appear once, none
    /// may be part of the latest version already (a retried commit), and
    /// every part must share one schema: the dataset's, for an append.
    pub async fn commit_pending(
        location: DatasetLocation,
        operation: PendingOperation,
        parts: Vec<PendingFragments>,
        read_version: Option<u64>,
    ) -> Result<Dataset> {
        let Some(first) = parts.first() else {
            return Err(TableError::InvalidArgument("a commit needs at least one part".into()));
        };
        let schema = first.schema.clone();
        if parts.iter().any(|p| p.schema != schema) {
            return Err(TableError::SchemaMismatch {
                reason: "the parts were written with different schemas".into(),
            });
        }
        let fragments: Vec<proto::Fragment> = parts.into_iter().flat_map(|p| p.fragments).collect();
        let files: Vec<&proto::DataFile> = fragments.iter().flat_map(|f| &f.files).collect();
        check_files(&location, &files).await?;
        let base = match read_version {
            Some(version) => Some(location.load_manifest(version).await?),
            None => location.load_latest().await?,
        };
        match operation {
            PendingOperation::Append => {
                let base = base.ok_or_else(|| TableError::DatasetNotFound {
                    uri: location.uri.clone(),
                })?;
                if base.schema != schema {
                    return Err(TableError::SchemaMismatch {
                        reason: format!(
                            "the fragments were written for another schema than version {}'s",
                            base.version
                        ),
                    });
                }
                let mut dataset =
                    Dataset::from_manifest(location, base, Arc::default(), crate::commit::CommitConfig::default());
                dataset
                    .commit(Transaction::new(Operation::Append, Change::Append { fragments }))
                    .await?;
                Ok(dataset)
            }
            PendingOperation::Overwrite => {
                if schema.field_ids() != TableSchema::assign(schema.arrow().clone(), 0).field_ids() {
                    return Err(TableError::SchemaMismatch {
                        reason: "an overwrite needs fragments written for a new schema (PendingOperation::Overwrite)"
                            .into(),
                    });
                }
                let operation = if base.is_some() {
                    Operation::Overwrite
                } else {
                    Operation::Create
                };
                let change = Change::Replace {
                    schema: schema.arrow().clone(),
                    fragments,
                };
                Dataset::commit_replace(location, base, Transaction::new(operation, change)).await
            }
        }
    }
}

/// Fails unless every file exists with its recorded size, appears once,
/// and is not part of the latest version yet: committing a part twice (a
/// retried commit whose first attempt landed, say) would duplicate rows.
pub(crate) async fn check_files(location: &DatasetLocation, files: &[&proto::DataFile]) -> Result<()> {
    check_not_committed(location, files).await?;
    check_files_exist(location, files).await
}

async fn check_not_committed(location: &DatasetLocation, files: &[&proto::DataFile]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let paths: Vec<&str> = files.iter().map(|d| d.path.as_str()).collect();
    if let Some(twice) = paths.iter().find(|p| !seen.insert(**p)) {
        return Err(TableError::InvalidArgument(format!(
            "data file {twice} is in two of the parts to commit"
        )));
    }
    if let Some(latest) = location.load_latest().await? {
        let committed: std::collections::HashSet<&str> = latest
            .fragments
            .load(location)
            .await?
            .iter()
            .flat_map(|f| f.files.iter().map(|d| d.path.as_str()))
            .collect();
        if let Some(again) = paths.iter().find(|p| committed.contains(**p)) {
            return Err(TableError::InvalidArgument(format!(
                "data file {again} is already committed (version {}); committing it again would duplicate its rows",
                latest.version
            )));
        }
    }
    Ok(())
}

async fn check_files_exist(location: &DatasetLocation, files: &[&proto::DataFile]) -> Result<()> {
    for file in files {
        let path = crate::paths::child(&location.root, &file.path);
        let meta = location.store.head(&path).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => TableError::InvalidArgument(format!(
                "pending data file {} does not exist (already cleaned up, or written for another dataset)",
                file.path
            )),
            other => TableError::from(pilum_io::IoError::from_store(&path, other)),
        })?;
        if meta.size != file.size {
            return Err(TableError::corrupt(
                &file.path,
                format!("{} bytes, the fragment records {}", meta.size, file.size),
            ));
        }
    }
    Ok(())
}
