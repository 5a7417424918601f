//! Reading a vector segment's files (layout in `files.rs` and
//! `format-spec/index.md`), checking every invariant a query relies on:
//! roles, extents tiling the storage file, checksums of the model and of
//! each partition, ascending row ids and payload widths.

use super::files::{Extent, ROLE_KEY, code_column, model_crc, partition_crc};
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::proto;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt8Type, UInt32Type, UInt64Type};
use arrow_array::{Array, FixedSizeListArray, RecordBatch};
use pilum_file::FileReader;
use pilum_index::{
    GraphCodes, HnswGraph, HnswParams, IvfIndex, IvfModel, Metric, Partition, Payload, PqShape, ProductQuantizer,
    ScalarQuantizer, binary::to_bytes,
};

/// Opens an index file listed by a segment (one request when its size is known).
pub(crate) async fn open(location: &DatasetLocation, file: &proto::IndexFile) -> Result<FileReader> {
    let reader = crate::metadata_cache::open_file(location, &file.path, file.size).await?;
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
        let index = if details.hnsw_m != 0 {
            let graph = HnswParams {
                m: details.hnsw_m as usize,
                ef_construction: details.hnsw_ef_construction as usize,
                seed: details.seed,
            };
            IvfIndex::from_parts_hnsw_sq(ivf, sq, graph)
        } else {
            IvfIndex::from_parts_sq(ivf, sq)
        }
        .map_err(|e| TableError::corrupt(&file.path, e.to_string()))?;
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
            let bits = match details.num_bits {
                0 | 8 => 8,
                4 => 4,
                other => return Err(TableError::corrupt(&file.path, format!("{other}-bit PQ codes"))),
            };
            let shape = PqShape {
                sub_vectors: details.num_sub_vectors as usize,
                bits,
            };
            Some(
                ProductQuantizer::from_codebooks(dim, shape, codebook.values().to_vec())
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

/// How a segment's storage file lays out its rows, beyond what the model
/// says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StorageLayout {
    /// A multivector index: a row's entries share its id.
    pub repeated_ids: bool,
    /// A hamming segment of index version 4, which stores its binary codes
    /// as f32 byte values in a `vector` column (version 5 stores bytes).
    pub f32_binary_codes: bool,
}

impl StorageLayout {
    /// The layout of `segment`'s storage file.
    pub(crate) fn of(segment: &super::IndexSegment) -> Self {
        let hamming = segment
            .vector()
            .is_some_and(|details| details.metric() == proto::VectorMetric::Hamming);
        Self {
            repeated_ids: segment.is_multivector(),
            f32_binary_codes: hamming && segment.message.index_version < super::BINARY_BYTES_VERSION,
        }
    }
}

/// Reads partition `number` from the storage file and checks it.
pub(crate) async fn read_partition(
    storage: &FileReader,
    storage_path: &str,
    index: &IvfIndex,
    number: usize,
    extent: Extent,
    layout: StorageLayout,
) -> Result<Partition> {
    let batch = if extent.length == 0 {
        None
    } else {
        let rows = extent.offset..extent.offset + extent.length;
        Some(storage.read_range(rows, &pilum_file::ReadOptions::default()).await?)
    };
    decode_partition(batch.as_ref(), storage_path, index, number, extent, layout)
}

/// Reads every partition with one read of the whole storage file.
pub(crate) async fn read_all_partitions(
    storage: &FileReader,
    storage_path: &str,
    index: &IvfIndex,
    extents: &[Extent],
    layout: StorageLayout,
) -> Result<Vec<Partition>> {
    let all = storage
        .read_range(0..storage.num_rows(), &pilum_file::ReadOptions::default())
        .await?;
    extents
        .iter()
        .enumerate()
        .map(|(number, extent)| {
            let rows = (extent.length > 0).then(|| all.slice(extent.offset as usize, extent.length as usize));
            decode_partition(rows.as_ref(), storage_path, index, number, *extent, layout)
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
    layout: StorageLayout,
) -> Result<Partition> {
    let corrupt = |what: String| TableError::corrupt(storage_path, format!("partition {number}: {what}"));
    let partition = match batch {
        None => Partition {
            ids: Vec::new(),
            payload: match index.byte_payload_width() {
                Some(_) if index.hnsw().is_some() => Payload::Graph(GraphCodes {
                    codes: Vec::new(),
                    graph: HnswGraph::from_links(vec![0], Vec::new()).map_err(|e| corrupt(e.to_string()))?,
                }),
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
            let payload = match code_column(index).filter(|_| !layout.f32_binary_codes) {
                Some(name) => {
                    let codes = batch
                        .column_by_name(name)
                        .and_then(|c| c.as_fixed_size_list_opt())
                        .and_then(flat_values::<UInt8Type>)
                        .ok_or_else(|| corrupt(format!("no u8 {name} column")))?;
                    match index.hnsw() {
                        None => Payload::Codes(codes.to_vec()),
                        Some(_) => {
                            let links = batch
                                .column_by_name("links")
                                .and_then(|c| c.as_list_opt::<i32>())
                                .filter(|l| l.null_count() == 0)
                                .ok_or_else(|| corrupt("no links column".into()))?;
                            let values = links
                                .values()
                                .as_primitive_opt::<UInt32Type>()
                                .ok_or_else(|| corrupt("links are not u32".into()))?;
                            let base = links.value_offsets()[0];
                            let starts: Vec<u32> = links.value_offsets().iter().map(|&o| (o - base) as u32).collect();
                            let end = links.value_offsets()[links.len()];
                            let flat = values
                                .values()
                                .get(base as usize..end as usize)
                                .ok_or_else(|| corrupt("links run past their values".into()))?
                                .to_vec();
                            let graph = HnswGraph::from_links(starts, flat).map_err(|e| corrupt(e.to_string()))?;
                            Payload::Graph(GraphCodes {
                                codes: codes.to_vec(),
                                graph,
                            })
                        }
                    }
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
    // Only a multivector index repeats ids (a row's vectors share its id).
    if !layout.repeated_ids && partition.ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(corrupt("a partition's ids repeat".into()));
    }
    if partition_crc(&partition) != extent.crc32 {
        return Err(corrupt("checksum mismatch".into()));
    }
    let partition = match partition.payload {
        Payload::Vectors(values) if layout.f32_binary_codes => Partition {
            ids: partition.ids,
            payload: Payload::Codes(
                to_bytes(&values)
                    .ok_or_else(|| corrupt("a hamming partition holds a value that is not a byte".into()))?,
            ),
        },
        _ => partition,
    };
    index.validate(&partition).map_err(|e| corrupt(e.to_string()))?;
    index.prepare_partition(partition).map_err(|e| corrupt(e.to_string()))
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
