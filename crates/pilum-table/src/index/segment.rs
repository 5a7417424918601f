//! Reading a vector column for indexing, and writing a segment's files.

use super::files::{write_model, write_storage};
use super::{IndexSegment, VECTOR_INDEX_VERSION};
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::proto;
use crate::scanner::ROW_ID;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt64Type};
use arrow_array::{Array, FixedSizeListArray};
use arrow_schema::DataType;
use futures::TryStreamExt;
use pilum_index::{IvfIndex, Partition};
use roaring::RoaringBitmap;

/// Vectors read for indexing: values, their row ids, and rows skipped.
pub(crate) struct VectorColumn {
    pub values: Vec<f32>,
    pub ids: Vec<u64>,
    pub skipped: u64,
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
    /// The live vectors of `column` in `fragments` (all when `None`) as f32
    /// with their row ids; null, NaN and infinite vectors are counted, not kept.
    pub(crate) async fn read_vectors(
        &self,
        column: &str,
        dim: usize,
        fragments: Option<Vec<u64>>,
    ) -> Result<VectorColumn> {
        let mut out = VectorColumn {
            values: Vec::new(),
            ids: Vec::new(),
            skipped: 0,
        };
        let mut scan = self.scan().project([column]).with_row_id(true);
        if let Some(ids) = fragments {
            scan = scan.with_fragments(ids);
        }
        let mut stream = scan.try_into_stream().await?;
        while let Some(batch) = stream.try_next().await? {
            let missing = || TableError::Internal {
                what: "index build scan lacks a column".into(),
            };
            let list: &FixedSizeListArray = batch.column_by_name(column).ok_or_else(missing)?.as_fixed_size_list();
            let ids = batch
                .column_by_name(ROW_ID)
                .ok_or_else(missing)?
                .as_primitive::<UInt64Type>();
            let values = arrow_cast::cast(list.values(), &DataType::Float32)?;
            let values = values.as_primitive::<Float32Type>();
            for row in 0..list.len() {
                let start = list.value_offset(row) as usize;
                let Some(vector) = values.values().get(start..start + dim) else {
                    out.skipped += 1;
                    continue;
                };
                let has_null_item = values.null_count() > 0 && (start..start + dim).any(|i| values.is_null(i));
                if list.is_null(row) || has_null_item || vector.iter().any(|v| !v.is_finite()) {
                    out.skipped += 1;
                    continue;
                }
                out.values.extend_from_slice(vector);
                out.ids.push(ids.value(row));
            }
        }
        Ok(out)
    }

    /// Writes the files of a new segment holding `partitions` under a fresh
    /// uuid, and returns its manifest entry.
    pub(crate) async fn write_segment(
        &self,
        index: &IvfIndex,
        partitions: &[Partition],
        new: NewSegment,
    ) -> Result<IndexSegment> {
        let uuid = crate::paths::random_id();
        let (storage, extents) = write_storage(&self.location, &uuid, index, partitions).await?;
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
                index_version: VECTOR_INDEX_VERSION,
                created_at_micros: chrono::Utc::now().timestamp_micros(),
                num_entries: partitions.iter().map(|p| p.len() as u64).sum(),
                files,
                details: Some(proto::index_segment::Details::Vector(details)),
            },
            fragments: new.fragments,
        })
    }
}
