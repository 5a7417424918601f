//! Reading a vector column for indexing, and writing a segment's files.

use super::IndexSegment;
use super::files::{Extent, write_model};
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::proto;
use crate::scanner::ROW_ID;
use crate::search::{VectorRows, VectorShape};
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use futures::TryStreamExt;
use pilum_index::IvfIndex;
use roaring::RoaringBitmap;

/// Vectors read for indexing: values (the indexed prefix of each), their
/// row ids (repeated for the vectors of one multivector row), and rows
/// skipped.
pub(crate) struct VectorColumn {
    pub values: Vec<f32>,
    /// The whole vectors, when asked for and the index covers a prefix.
    pub full: Option<Vec<f32>>,
    pub ids: Vec<u64>,
    pub skipped: u64,
}

impl VectorColumn {
    /// The usable vectors of one scan batch (`column` and `_rowid`), cut to
    /// `shape.index_dim` values; `keep_full` also keeps the whole vectors
    /// of a prefix index. A vector holding null, NaN or infinite values is
    /// left out; rows left with no vector count as skipped.
    pub fn of_batch(batch: &RecordBatch, column: &str, shape: IndexedShape, keep_full: bool) -> Result<Self> {
        let dim = shape.column.dim;
        let prefix = shape.index_dim.min(dim);
        let missing = |name: &str| TableError::Internal {
            what: format!("index build scan lacks column {name}"),
        };
        let rows = VectorRows::new(
            batch.column_by_name(column).ok_or_else(|| missing(column))?,
            shape.column,
        )?;
        let ids = batch
            .column_by_name(ROW_ID)
            .ok_or_else(|| missing(ROW_ID))?
            .as_primitive::<UInt64Type>();
        let mut out = Self {
            values: Vec::new(),
            full: (keep_full && prefix < dim).then(Vec::new),
            ids: Vec::new(),
            skipped: 0,
        };
        for row in 0..rows.len() {
            let mut kept = false;
            for vector in rows.row(row).unwrap_or_default().chunks_exact(dim) {
                if vector.iter().any(|v| !v.is_finite()) {
                    continue;
                }
                out.values.extend_from_slice(&vector[..prefix]);
                if let Some(full) = out.full.as_mut() {
                    full.extend_from_slice(vector);
                }
                out.ids.push(ids.value(row));
                kept = true;
            }
            out.skipped += u64::from(!kept);
        }
        Ok(out)
    }

    /// The whole vectors: `full` for a prefix index, else `values`.
    pub fn whole(&self) -> &[f32] {
        self.full.as_deref().unwrap_or(&self.values)
    }

    fn extend(&mut self, batch: VectorColumn) {
        self.values.extend(batch.values);
        if let (Some(full), Some(more)) = (self.full.as_mut(), batch.full) {
            full.extend(more);
        }
        self.ids.extend(batch.ids);
        self.skipped += batch.skipped;
    }
}

/// How a column is read for indexing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexedShape {
    /// The column's shape.
    pub column: VectorShape,
    /// Values indexed per vector (a prefix when below `column.dim`).
    pub index_dim: usize,
}

impl IndexedShape {
    /// The shape a segment was built for, on a column of shape `column`.
    pub fn of_segment(column: VectorShape, details: &proto::VectorIndexDetails) -> Self {
        Self {
            column,
            index_dim: details.dimension as usize,
        }
    }
}

/// What a new segment records besides its files.
pub(crate) struct NewSegment {
    pub name: String,
    pub field_id: i32,
    pub kind: proto::IndexKind,
    pub details: proto::VectorIndexDetails,
    pub fragments: RoaringBitmap,
}

impl Dataset {
    /// The live vectors of `column` in `fragments` (all when `None`), as
    /// [`VectorColumn::of_batch`] reads each batch.
    pub(crate) async fn read_vectors(
        &self,
        column: &str,
        shape: IndexedShape,
        keep_full: bool,
        fragments: Option<Vec<u64>>,
    ) -> Result<VectorColumn> {
        let mut out = VectorColumn {
            values: Vec::new(),
            full: (keep_full && shape.index_dim < shape.column.dim).then(Vec::new),
            ids: Vec::new(),
            skipped: 0,
        };
        let mut scan = self.scan().project([column]).with_row_id(true);
        if let Some(ids) = fragments {
            scan = scan.with_fragments(ids);
        }
        let mut stream = scan.try_into_stream().await?;
        while let Some(batch) = stream.try_next().await? {
            out.extend(VectorColumn::of_batch(&batch, column, shape, keep_full)?);
        }
        Ok(out)
    }

    /// Writes the model files of segment `uuid`, whose storage is written,
    /// and returns its manifest entry.
    pub(crate) async fn finish_segment(
        &self,
        uuid: String,
        index: &IvfIndex,
        (storage, extents): (proto::IndexFile, Vec<Extent>),
        new: NewSegment,
    ) -> Result<IndexSegment> {
        let mut files = write_model(&self.location, &uuid, index, &extents).await?;
        files.push(storage);
        let details = proto::VectorIndexDetails {
            model_crc32: super::files::model_crc(index),
            ..new.details
        };
        Ok(IndexSegment {
            message: proto::IndexSegment {
                uuid,
                name: new.name,
                kind: new.kind as i32,
                field_ids: vec![new.field_id],
                dataset_version: self.version(),
                fragment_bitmap: Vec::new(),
                index_version: index_version(&details),
                created_at_micros: chrono::Utc::now().timestamp_micros(),
                num_entries: extents.iter().map(|e| e.length).sum(),
                files,
                base_id: 0,
                details: Some(proto::index_segment::Details::Vector(details)),
            },
            fragments: new.fragments,
        })
    }
}

/// The oldest index format version that can describe `details`: 5 for
/// the hamming metric (binary codes stored as bytes), 3 for 4-bit PQ codes
/// or a graph (IVF_HNSW_SQ), 2 for prefix or multivector indices, else 1
/// (so older readers keep reading what they can).
fn index_version(details: &proto::VectorIndexDetails) -> u32 {
    if details.metric() == proto::VectorMetric::Hamming {
        super::BINARY_BYTES_VERSION
    } else if details.num_bits == 4 || details.hnsw_m != 0 {
        3
    } else if details.column_dimension != 0 || details.multivector {
        2
    } else {
        1
    }
}
