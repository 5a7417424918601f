//! The files of a vector index segment, all Pilum files
//! (`format-spec/index.md`):
//! - `ivf.pilum`: one row per partition: `centroid`, and `offset`, `length`
//!   and `crc32` of its slice of `storage.pilum`;
//! - `quantizer.pilum` (IVF_PQ): `codebook`, the PQ centroids' values;
//! - `storage.pilum`: one row per entry, partition after partition:
//!   `_rowid` and `vector` (IVF_FLAT), `pq_code` (IVF_PQ) or `sq_code` (IVF_SQ).
//!
//! This module writes them and holds what writing and reading share;
//! `read.rs` opens and checks them.

use super::INDICES_DIR;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::proto;
use arrow_array::builder::{FixedSizeListBuilder, Float32Builder};
use arrow_array::{
    ArrayRef, FixedSizeListArray, Float32Array, ListArray, RecordBatch, UInt8Array, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use pilum_file::{FileWriter, WriterOptions};
use pilum_index::{GraphCodes, IvfIndex, Partition, Payload};
use std::collections::HashMap;
use std::sync::Arc;

/// Schema metadata key naming what an index file is.
pub(crate) const ROLE_KEY: &str = "pilum:index-role";

/// The path of `role`'s file of segment `uuid`, relative to the root (under
/// the branch's directory on a branch).
pub(crate) fn path(location: &DatasetLocation, uuid: &str, role: &str) -> String {
    format!("{}{INDICES_DIR}/{uuid}/{role}.pilum", location.file_prefix())
}

/// Where one partition lives in `storage.pilum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    pub offset: u64,
    pub length: u64,
    pub crc32: u32,
}

/// CRC-32 of a model: centroid values, then codebook values (little-endian f32).
pub(crate) fn model_crc(index: &IvfIndex) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    for v in index.ivf().centroids() {
        hasher.update(&v.to_le_bytes());
    }
    if let Some(pq) = index.quantizer() {
        for v in pq.codebooks() {
            hasher.update(&v.to_le_bytes());
        }
    }
    if let Some(sq) = index.scalar_quantizer() {
        for v in sq.lo().iter().chain(sq.hi()) {
            hasher.update(&v.to_le_bytes());
        }
    }
    hasher.finalize()
}

/// CRC-32 of a partition: its ids (little-endian), then its payload bytes.
pub(crate) fn partition_crc(partition: &Partition) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    for id in &partition.ids {
        hasher.update(&id.to_le_bytes());
    }
    match &partition.payload {
        Payload::Vectors(values) => {
            for v in values {
                hasher.update(&v.to_le_bytes());
            }
        }
        Payload::Codes(codes) => hasher.update(codes),
        // Then each member's links: their count and values (u32 LE).
        Payload::Graph(graph) => {
            hasher.update(&graph.codes);
            let (starts, links) = (graph.graph.starts(), graph.graph.links());
            for w in starts.windows(2) {
                let member = &links[w[0] as usize..w[1] as usize];
                hasher.update(&(member.len() as u32).to_le_bytes());
                for v in member {
                    hasher.update(&v.to_le_bytes());
                }
            }
        }
        // Interleaved 4-bit codes are checked as stored: row-major.
        Payload::FastScan(packed) => {
            for i in 0..packed.len() {
                hasher.update(&packed.row(i));
            }
        }
    }
    hasher.finalize()
}

pub(crate) fn schema_with_role(fields: Vec<Field>, role: &str) -> Arc<Schema> {
    let metadata = HashMap::from([(ROLE_KEY.to_string(), role.to_string())]);
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

fn vector_field(name: &str, item: DataType, width: usize) -> Field {
    Field::new(
        name,
        DataType::FixedSizeList(Arc::new(Field::new("item", item, false)), width as i32),
        false,
    )
}

pub(crate) async fn write_file(
    location: &DatasetLocation,
    relative: String,
    role: &str,
    batch: RecordBatch,
) -> Result<proto::IndexFile> {
    let mut writer = FileWriter::try_new(
        location.store.clone(),
        location.child(&relative),
        batch.schema(),
        location.writer_options(WriterOptions::default()),
    )
    .await?;
    writer.write(&batch).await?;
    let summary = writer.finish().await?;
    Ok(proto::IndexFile {
        role: role.to_string(),
        path: relative,
        size: summary.file_size,
    })
}

/// Writes the model files of segment `uuid`: `ivf.pilum` (with the
/// partitions' extents) and, for IVF_PQ, `quantizer.pilum`.
pub(crate) async fn write_model(
    location: &DatasetLocation,
    uuid: &str,
    index: &IvfIndex,
    extents: &[Extent],
) -> Result<Vec<proto::IndexFile>> {
    let ivf = index.ivf();
    let dim = ivf.dim();
    let mut centroids = FixedSizeListBuilder::new(Float32Builder::new(), dim as i32).with_field(Arc::new(Field::new(
        "item",
        DataType::Float32,
        false,
    )));
    for c in ivf.centroids().chunks_exact(dim) {
        centroids.values().append_slice(c);
        centroids.append(true);
    }
    let schema = schema_with_role(
        vec![
            vector_field("centroid", DataType::Float32, dim),
            Field::new("offset", DataType::UInt64, false),
            Field::new("length", DataType::UInt64, false),
            Field::new("crc32", DataType::UInt32, false),
        ],
        "ivf",
    );
    let columns: Vec<ArrayRef> = vec![
        Arc::new(centroids.finish()),
        Arc::new(UInt64Array::from_iter_values(extents.iter().map(|e| e.offset))),
        Arc::new(UInt64Array::from_iter_values(extents.iter().map(|e| e.length))),
        Arc::new(UInt32Array::from_iter_values(extents.iter().map(|e| e.crc32))),
    ];
    let mut files = vec![
        write_file(
            location,
            path(location, uuid, "ivf"),
            "ivf",
            RecordBatch::try_new(schema, columns)?,
        )
        .await?,
    ];
    if let Some(pq) = index.quantizer() {
        let schema = schema_with_role(vec![Field::new("codebook", DataType::Float32, false)], "quantizer");
        let column: ArrayRef = Arc::new(Float32Array::from(pq.codebooks().to_vec()));
        let batch = RecordBatch::try_new(schema, vec![column])?;
        files.push(write_file(location, path(location, uuid, "quantizer"), "quantizer", batch).await?);
    }
    if let Some(sq) = index.scalar_quantizer() {
        let schema = schema_with_role(
            vec![
                Field::new("lo", DataType::Float32, false),
                Field::new("hi", DataType::Float32, false),
            ],
            "quantizer",
        );
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float32Array::from(sq.lo().to_vec())),
            Arc::new(Float32Array::from(sq.hi().to_vec())),
        ];
        let batch = RecordBatch::try_new(schema, columns)?;
        files.push(write_file(location, path(location, uuid, "quantizer"), "quantizer", batch).await?);
    }
    Ok(files)
}

/// Writes `storage.pilum`: every partition's entries in partition order.
/// Returns the file and each partition's extent.
pub(crate) async fn write_storage(
    location: &DatasetLocation,
    uuid: &str,
    index: &IvfIndex,
    partitions: Vec<Partition>,
) -> Result<(proto::IndexFile, Vec<Extent>)> {
    let mut writer = StorageWriter::create(location, uuid, index).await?;
    // IVF_HNSW_SQ partitions get their graphs first, on every core.
    let partitions = if index.hnsw().is_some() {
        let index = index.clone();
        crate::scan_tasks::blocking("index graph build", move || {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            index
                .finish_partitions(0, partitions, threads)
                .map_err(TableError::index)
        })
        .await?
    } else {
        partitions
    };
    for partition in partitions {
        writer.push(partition).await?;
    }
    writer.finish().await
}

/// `storage.pilum` written one partition at a time, in partition order,
/// so a build never holds more than one partition.
pub(crate) struct StorageWriter {
    writer: FileWriter,
    schema: Arc<Schema>,
    relative: String,
    width: usize,
    extents: Vec<Extent>,
    offset: u64,
}

impl StorageWriter {
    /// Opens segment `uuid`'s storage file for `index`'s payload.
    pub async fn create(location: &DatasetLocation, uuid: &str, index: &IvfIndex) -> Result<Self> {
        let (payload_field, width) = match (code_column(index), index.byte_payload_width()) {
            (Some(name), Some(width)) => (vector_field(name, DataType::UInt8, width), width),
            _ => (
                vector_field("vector", DataType::Float32, index.ivf().dim()),
                index.ivf().dim(),
            ),
        };
        let mut fields = vec![Field::new("_rowid", DataType::UInt64, false), payload_field];
        if index.hnsw().is_some() {
            fields.push(links_field());
        }
        let schema = schema_with_role(fields, "storage");
        let relative = path(location, uuid, "storage");
        let writer = FileWriter::try_new(
            location.store.clone(),
            location.child(&relative),
            schema.clone(),
            location.writer_options(WriterOptions::default()),
        )
        .await?;
        Ok(Self {
            writer,
            schema,
            relative,
            width,
            extents: Vec::new(),
            offset: 0,
        })
    }

    /// Appends the next partition. Its buffers become the written
    /// columns' buffers (codes, vectors, ids and links are not copied).
    pub async fn push(&mut self, partition: Partition) -> Result<()> {
        let width = self.width;
        self.extents.push(Extent {
            offset: self.offset,
            length: partition.len() as u64,
            crc32: partition_crc(&partition),
        });
        self.offset += partition.len() as u64;
        if partition.is_empty() {
            return Ok(());
        }
        let Partition { ids, payload } = partition;
        let (payload, graph) = match payload {
            Payload::Graph(GraphCodes { codes, graph }) => (Payload::Codes(codes), Some(graph)),
            other => (other, None),
        };
        let item = |data_type| Arc::new(Field::new("item", data_type, false));
        let payload: ArrayRef = match payload {
            Payload::Vectors(values) => Arc::new(FixedSizeListArray::try_new(
                item(DataType::Float32),
                width as i32,
                Arc::new(Float32Array::from(values)),
                None,
            )?),
            codes => {
                let codes = match codes {
                    Payload::Codes(codes) => codes,
                    other => other.code_rows().map(|c| c.into_owned()).unwrap_or_default(),
                };
                Arc::new(FixedSizeListArray::try_new(
                    item(DataType::UInt8),
                    width as i32,
                    Arc::new(UInt8Array::from(codes)),
                    None,
                )?)
            }
        };
        let ids: ArrayRef = Arc::new(UInt64Array::from(ids));
        let mut columns = vec![ids, payload];
        if self.schema.fields().len() == 3 {
            let Some(graph) = graph else {
                return Err(TableError::Internal {
                    what: "an IVF_HNSW_SQ partition reached the writer without its graph".into(),
                });
            };
            let (starts, links) = graph.into_parts();
            let starts: Vec<i32> = starts.iter().map(|&s| s as i32).collect();
            columns.push(Arc::new(ListArray::try_new(
                item(DataType::UInt32),
                arrow_buffer::OffsetBuffer::new(starts.into()),
                Arc::new(UInt32Array::from(links)),
                None,
            )?));
        }
        self.writer
            .write(&RecordBatch::try_new(self.schema.clone(), columns)?)
            .await?;
        Ok(())
    }

    /// Closes the file: it and each partition's extent.
    pub async fn finish(self) -> Result<(proto::IndexFile, Vec<Extent>)> {
        let summary = self.writer.finish().await?;
        let file = proto::IndexFile {
            role: "storage".into(),
            path: self.relative,
            size: summary.file_size,
        };
        Ok((file, self.extents))
    }
}

/// The storage column of a graph's links (IVF_HNSW_SQ): per member, for
/// each level, the neighbour count then the neighbours' positions.
fn links_field() -> Field {
    Field::new(
        "links",
        DataType::List(Arc::new(Field::new("item", DataType::UInt32, false))),
        false,
    )
}

/// The storage column holding codes, for quantized kinds.
pub(crate) fn code_column(index: &IvfIndex) -> Option<&'static str> {
    if index.quantizer().is_some() {
        Some("pq_code")
    } else if index.scalar_quantizer().is_some() {
        Some("sq_code")
    } else if index.byte_payload_width().is_some() {
        Some("code")
    } else {
        None
    }
}
