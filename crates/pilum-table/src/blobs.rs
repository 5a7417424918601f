//! Blob columns at the dataset level: values opened lazily as seekable byte
//! streams, located by live position or by stable row id.

use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use pilum_file::BlobFile;
use std::collections::BTreeMap;

/// Which rows `Dataset::take_blobs` opens.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum BlobRows<'a> {
    /// Live positions (0 = first live row), as for `Dataset::take`.
    Offsets(&'a [u64]),
    /// Stable row ids, as for `Dataset::take_rows`.
    RowIds(&'a [u64]),
}

impl Dataset {
    /// Opens the blobs of blob column `column` at `rows`, in that order,
    /// reading only their 16-byte descriptions; `None` for null values.
    pub async fn take_blobs(&self, column: &str, rows: BlobRows<'_>) -> Result<Vec<Option<BlobFile>>> {
        let schema = &self.manifest.schema;
        let index = schema.index_of(column)?;
        if !pilum_core::is_blob_field(schema.arrow().field(index)) {
            return Err(TableError::InvalidArgument(format!(
                "column {column:?} is not a blob column"
            )));
        }
        let field_id = schema.field_id(column)?;
        let mut readers = crate::opened_fragments::Readers::new();
        let located = match rows {
            BlobRows::Offsets(offsets) => self.locate_offsets(offsets, &mut readers).await?,
            BlobRows::RowIds(ids) => self.locate_row_ids(ids, &mut readers).await?,
        };
        // One description read per fragment, then back into request order.
        let mut per_fragment: BTreeMap<usize, Vec<(usize, u64)>> = BTreeMap::new();
        for (slot, &(position, offset)) in located.iter().enumerate() {
            per_fragment.entry(position).or_default().push((slot, offset));
        }
        let mut blobs: Vec<Option<BlobFile>> = vec![None; located.len()];
        for (position, wanted) in per_fragment {
            let offsets: Vec<u64> = wanted.iter().map(|(_, offset)| *offset).collect();
            let reader = readers
                .get(&position)
                .ok_or_else(|| TableError::InvalidArgument(format!("fragment at {position} was not opened")))?;
            let opened = reader.take_blobs(field_id, &offsets).await?;
            for ((slot, _), blob) in wanted.into_iter().zip(opened) {
                blobs[slot] = blob;
            }
        }
        Ok(blobs)
    }
}
