//! The files of a vector index segment, all Pilum files
//! (`format-spec/index.md`):
//! - `ivf.pilum`: one row per partition: `centroid`, and `offset`, `length`
//!   and `crc32` of its slice of `storage.pilum`;
//! - `quantizer.pilum` (IVF_PQ): `codebook`, the PQ centroids' values;
//! - `storage.pilum`: one row per entry, partition after partition:
//!   `_rowid` and either `vector` (IVF_FLAT) or `pq_code` (IVF_PQ).

use super::INDICES_DIR;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::proto;
use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, UInt8Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt8Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use pilum_file::{FileReader, FileWriter, WriterOptions};
use pilum_index::{IvfIndex, IvfModel, Metric, Partition, Payload, ProductQuantizer, ScalarQuantizer};
use std::collections::HashMap;
use std::sync::Arc;

/// Schema metadata key naming what an index file is.
const ROLE_KEY: &str = "pilum:index-role";

/// The path of `role`'s file of segment `uuid`, relative to the root.
pub(crate) fn path(uuid: &str, role: &str) -> String {
    format!("{INDICES_DIR}/{uuid}/{role}.pilum")
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
    }
    hasher.finalize()
}

fn schema_with_role(fields: Vec<Field>, role: &str) -> Arc<Schema> {
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

async fn write_file(
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
            path(uuid, "ivf"),
            "ivf",
            RecordBatch::try_new(schema, columns)?,
        )
        .await?,
    ];
    if let Some(pq) = index.quantizer() {
        let schema = schema_with_role(vec![Field::new("codebook", DataType::Float32, false)], "quantizer");
        let column: ArrayRef = Arc::new(Float32Array::from(pq.codebooks().to_vec()));
        let batch = RecordBatch::try_new(schema, vec![column])?;
        files.push(write_file(location, path(uuid, "quantizer"), "quantizer", batch).await?);
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
        files.push(write_file(location, path(uuid, "quantizer"), "quantizer", batch).await?);
    }
    Ok(files)
}

/// Writes `storage.pilum`: every partition's entries in partition order.
/// Returns the file and each partition's extent.
pub(crate) async fn write_storage(
    location: &DatasetLocation,
    uuid: &str,
    index: &IvfIndex,
    partitions: &[Partition],
) -> Result<(proto::IndexFile, Vec<Extent>)> {
    let (payload_field, width) = match (code_column(index), index.code_width()) {
        (Some(name), Some(width)) => (vector_field(name, DataType::UInt8, width), width),
        _ => (
            vector_field("vector", DataType::Float32, index.ivf().dim()),
            index.ivf().dim(),
        ),
    };
    let schema = schema_with_role(
        vec![Field::new("_rowid", DataType::UInt64, false), payload_field],
        "storage",
    );
    let relative = path(uuid, "storage");
    let mut writer = FileWriter::try_new(
        location.store.clone(),
        location.child(&relative),
        schema.clone(),
        location.writer_options(WriterOptions::default()),
    )
    .await?;
    let mut extents = Vec::with_capacity(partitions.len());
    let mut offset = 0u64;
    for partition in partitions {
        extents.push(Extent {
            offset,
            length: partition.len() as u64,
            crc32: partition_crc(partition),
        });
        offset += partition.len() as u64;
        if partition.is_empty() {
            continue;
        }
        let payload: ArrayRef = match &partition.payload {
            Payload::Codes(codes) => {
                let mut b = FixedSizeListBuilder::new(UInt8Builder::new(), width as i32)
                    .with_field(Arc::new(Field::new("item", DataType::UInt8, false)));
                for code in codes.chunks_exact(width) {
                    b.values().append_slice(code);
                    b.append(true);
                }
                Arc::new(b.finish())
            }
            Payload::Vectors(values) => {
                let mut b = FixedSizeListBuilder::new(Float32Builder::new(), width as i32)
                    .with_field(Arc::new(Field::new("item", DataType::Float32, false)));
                for v in values.chunks_exact(width) {
                    b.values().append_slice(v);
                    b.append(true);
                }
                Arc::new(b.finish())
            }
        };
        let ids: ArrayRef = Arc::new(UInt64Array::from(partition.ids.clone()));
        writer
            .write(&RecordBatch::try_new(schema.clone(), vec![ids, payload])?)
            .await?;
    }
    let summary = writer.finish().await?;
    let file = proto::IndexFile {
        role: "storage".into(),
        path: relative,
        size: summary.file_size,
    };
    Ok((file, extents))
}

/// Opens an index file listed by a segment (one request when its size is known).
pub(crate) async fn open(location: &DatasetLocation, file: &proto::IndexFile) -> Result<FileReader> {
    let object = location.object(&file.path);
    let reader = if file.size > 0 {
        FileReader::open_location_with_size(&object, file.size).await?
    } else {
        FileReader::open_location(&object).await?
    };
    let role = reader.schema().metadata().get(ROLE_KEY).map(String::as_str);
    if role != Some(file.role.as_str()) {
        return Err(TableError::corrupt(
            &file.path,
            format!("index file has role {role:?}, the manifest says {:?}", file.role),
        ));
    }
    Ok(reader)
}

/// Reads the model: the IVF index and each partition's extent, checked
/// against the segment's details and the storage file's length.
pub(crate) async fn read_model(
    location: &DatasetLocation,
    ivf_file: &proto::IndexFile,
    quantizer_file: Option<&proto::IndexFile>,
    details: &proto::VectorIndexDetails,
    metric: Metric,
    storage_rows: u64,
) -> Result<(IvfIndex, Vec<Extent>)> {
    let dim = details.dimension as usize;
    let reader = open(location, ivf_file).await?;
    let batch = reader
        .read_range(0..reader.num_rows(), &pilum_file::ReadOptions::default())
        .await?;
    let corrupt = |what: String| TableError::corrupt(&ivf_file.path, what);
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| corrupt(format!("no column {name}")))
    };
    let centroid = column("centroid")?;
    let centroids = centroid
        .as_fixed_size_list_opt()
        .filter(|l| l.value_length() as usize == dim)
        .ok_or_else(|| corrupt(format!("centroids are not {dim}-d f32 vectors")))?;
    let values = flat_values::<Float32Type>(centroids).ok_or_else(|| corrupt("centroids are not f32".into()))?;
    let ivf = IvfModel::from_centroids(metric, dim, values.to_vec()).map_err(|e| corrupt(e.to_string()))?;
    let (offsets, lengths, crcs) = (column("offset")?, column("length")?, column("crc32")?);
    let (Some(offsets), Some(lengths), Some(crcs)) = (
        offsets.as_primitive_opt::<UInt64Type>(),
        lengths.as_primitive_opt::<UInt64Type>(),
        crcs.as_primitive_opt::<UInt32Type>(),
    ) else {
        return Err(corrupt("partition extents have the wrong types".into()));
    };
    let mut extents = Vec::with_capacity(offsets.len());
    let mut expected = 0u64;
    for i in 0..offsets.len() {
        let extent = Extent {
            offset: offsets.value(i),
            length: lengths.value(i),
            crc32: crcs.value(i),
        };
        if extent.offset != expected {
            return Err(corrupt(format!(
                "partition {i} starts at {} instead of {expected}",
                extent.offset
            )));
        }
        expected = expected.saturating_add(extent.length);
        extents.push(extent);
    }
    if expected != storage_rows || extents.len() != ivf.num_partitions() {
        return Err(corrupt(format!(
            "{} partitions cover {expected} entries; storage has {storage_rows}, centroids {}",
            extents.len(),
            ivf.num_partitions()
        )));
    }
    if let (Some(file), 0) = (quantizer_file, details.num_sub_vectors) {
        let reader = open(location, file).await?;
        let batch = reader
            .read_range(0..reader.num_rows(), &pilum_file::ReadOptions::default())
            .await?;
        let range = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_primitive_opt::<Float32Type>())
                .map(|c| c.values().to_vec())
                .ok_or_else(|| TableError::corrupt(&file.path, format!("no f32 {name} column")))
        };
        let sq = ScalarQuantizer::from_ranges(range("lo")?, range("hi")?)
            .map_err(|e| TableError::corrupt(&file.path, e.to_string()))?;
        let index = IvfIndex::from_parts_sq(ivf, sq).map_err(|e| TableError::corrupt(&file.path, e.to_string()))?;
        check_model(&index, details, ivf_file, Some(file))?;
        return Ok((index, extents));
    }
    let pq = match quantizer_file {
        None => None,
        Some(file) => {
            let reader = open(location, file).await?;
            let batch = reader
                .read_range(0..reader.num_rows(), &pilum_file::ReadOptions::default())
                .await?;
            let codebook = batch
                .column_by_name("codebook")
                .and_then(|c| c.as_primitive_opt::<Float32Type>())
                .ok_or_else(|| TableError::corrupt(&file.path, "no f32 codebook column"))?;
            let m = details.num_sub_vectors as usize;
            Some(
                ProductQuantizer::from_codebooks(dim, m, codebook.values().to_vec())
                    .map_err(|e| TableError::corrupt(&file.path, e.to_string()))?,
            )
        }
    };
    let index = IvfIndex::from_parts(ivf, pq).map_err(|e| corrupt(e.to_string()))?;
    check_model(&index, details, ivf_file, quantizer_file)?;
    Ok((index, extents))
}

/// Checks the model's checksum against the manifest's.
fn check_model(
    index: &IvfIndex,
    details: &proto::VectorIndexDetails,
    ivf_file: &proto::IndexFile,
    quantizer_file: Option<&proto::IndexFile>,
) -> Result<()> {
    if model_crc(index) != details.model_crc32 {
        let path = quantizer_file.map_or(ivf_file.path.as_str(), |q| q.path.as_str());
        return Err(TableError::corrupt(
            format!("{} or {path}", ivf_file.path),
            "model checksum mismatch (centroids or quantizer)",
        ));
    }
    Ok(())
}

/// The storage column holding codes, for quantized kinds.
fn code_column(index: &IvfIndex) -> Option<&'static str> {
    if index.quantizer().is_some() {
        Some("pq_code")
    } else if index.scalar_quantizer().is_some() {
        Some("sq_code")
    } else {
        None
    }
}

/// Reads partition `number` from the storage file and checks it.
pub(crate) async fn read_partition(
    storage: &FileReader,
    storage_path: &str,
    index: &IvfIndex,
    number: usize,
    extent: Extent,
) -> Result<Partition> {
    let batch = if extent.length == 0 {
        None
    } else {
        let rows = extent.offset..extent.offset + extent.length;
        Some(storage.read_range(rows, &pilum_file::ReadOptions::default()).await?)
    };
    decode_partition(batch.as_ref(), storage_path, index, number, extent)
}

/// Reads every partition with one read of the whole storage file.
pub(crate) async fn read_all_partitions(
    storage: &FileReader,
    storage_path: &str,
    index: &IvfIndex,
    extents: &[Extent],
) -> Result<Vec<Partition>> {
    let all = storage
        .read_range(0..storage.num_rows(), &pilum_file::ReadOptions::default())
        .await?;
    extents
        .iter()
        .enumerate()
        .map(|(number, extent)| {
            let rows = (extent.length > 0).then(|| all.slice(extent.offset as usize, extent.length as usize));
            decode_partition(rows.as_ref(), storage_path, index, number, *extent)
        })
        .collect()
}

/// Checks and decodes the rows of one partition (`None` when it is empty).
fn decode_partition(
    batch: Option<&RecordBatch>,
    storage_path: &str,
    index: &IvfIndex,
    number: usize,
    extent: Extent,
) -> Result<Partition> {
    let corrupt = |what: String| TableError::corrupt(storage_path, format!("partition {number}: {what}"));
    let partition = match batch {
        None => Partition {
            ids: Vec::new(),
            payload: match index.code_width() {
                Some(_) => Payload::Codes(Vec::new()),
                None => Payload::Vectors(Vec::new()),
            },
        },
        Some(batch) => {
            let ids = batch
                .column_by_name("_rowid")
                .and_then(|c| c.as_primitive_opt::<UInt64Type>())
                .ok_or_else(|| corrupt("no u64 _rowid column".into()))?
                .values()
                .to_vec();
            let payload = match code_column(index) {
                Some(name) => {
                    let codes = batch
                        .column_by_name(name)
                        .and_then(|c| c.as_fixed_size_list_opt())
                        .and_then(flat_values::<UInt8Type>)
                        .ok_or_else(|| corrupt(format!("no u8 {name} column")))?;
                    Payload::Codes(codes.to_vec())
                }
                None => {
                    let vectors = batch
                        .column_by_name("vector")
                        .and_then(|c| c.as_fixed_size_list_opt())
                        .and_then(flat_values::<Float32Type>)
                        .ok_or_else(|| corrupt("no f32 vector column".into()))?;
                    Payload::Vectors(vectors.to_vec())
                }
            };
            Partition { ids, payload }
        }
    };
    index.validate(&partition).map_err(|e| corrupt(e.to_string()))?;
    if partition_crc(&partition) != extent.crc32 {
        return Err(corrupt("checksum mismatch".into()));
    }
    Ok(partition)
}

/// The values of a fixed-size list without nulls, as a slice of `T`.
fn flat_values<T: arrow_array::ArrowPrimitiveType>(list: &FixedSizeListArray) -> Option<&[T::Native]> {
    if list.null_count() > 0 {
        return None;
    }
    let values = list.values().as_primitive_opt::<T>()?;
    let start = list.offset() * list.value_length() as usize;
    values
        .values()
        .get(start..start + list.len() * list.value_length() as usize)
}
