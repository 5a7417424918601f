//! Takes served from decoded columns (see [`crate::hot_columns`]).

use super::FragmentReader;
use crate::arrays::conform;
use crate::cache::cache_key;
use crate::error::{Result, TableError};
use crate::hot_columns::{HotKey, HotLookup};
use crate::schema::TableSchema;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, UInt64Array, new_null_array};
use arrow_select::take::take;
use pilum_file::ReadOptions;
use std::sync::Arc;

/// Where one projected column of a hot take comes from.
enum Source {
    /// Held decoded.
    Held(ArrayRef),
    /// To decode whole now: (file, column in the file).
    Load(usize, usize),
    /// No file of the fragment holds it (added later): nulls.
    Absent,
}

impl FragmentReader {
    /// Physical rows at `offsets` of the projected columns, gathered from
    /// decoded columns, when every projected column is (or now becomes)
    /// held; `None` sends the take down the usual read path.
    pub(super) async fn take_hot(&self, projection: &TableSchema, offsets: &[u64]) -> Result<Option<RecordBatch>> {
        let fields = projection.arrow().fields();
        let in_range = offsets.iter().all(|&o| o < self.fragment.physical_rows);
        if fields.is_empty() || offsets.is_empty() || !in_range || self.hot.budget() == 0 {
            return Ok(None);
        }
        // Only takes whose every column could be held count towards loading one.
        let mut widths = Vec::with_capacity(fields.len());
        for located in self.sources(projection) {
            let width = match located {
                Some((file, column)) => match self.files[file].schema().field(column).data_type().primitive_width() {
                    Some(width) => Some((file, column, width as u64)),
                    None => return Ok(None),
                },
                None => None,
            };
            widths.push(width);
        }
        let mut sources = Vec::with_capacity(fields.len());
        for width in widths {
            let Some((file, column, width)) = width else {
                sources.push(Source::Absent);
                continue;
            };
            let decoded_bytes = width.saturating_mul(self.fragment.physical_rows);
            sources.push(match self.hot.lookup(&self.hot_key(file, column), decoded_bytes) {
                HotLookup::Hit(array) => Source::Held(array),
                HotLookup::Load => Source::Load(file, column),
                HotLookup::Miss => return Ok(None),
            });
        }
        let indices = UInt64Array::from(offsets.to_vec());
        let mut columns = Vec::with_capacity(fields.len());
        for (field, source) in fields.iter().zip(sources) {
            let whole = match source {
                Source::Held(array) => array,
                Source::Load(file, column) => self.decode_whole(file, column).await?,
                Source::Absent => {
                    columns.push(new_null_array(field.data_type(), offsets.len()));
                    continue;
                }
            };
            columns.push(conform(take(whole.as_ref(), &indices, None)?, field.data_type())?);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(offsets.len()));
        RecordBatch::try_new_with_options(projection.arrow().clone(), columns, &options)
            .map(Some)
            .map_err(|e| TableError::SchemaMismatch {
                reason: format!("fragment {}: {e}", self.fragment.id),
            })
    }

    /// Decodes column `column` of data file `file` whole and keeps it.
    async fn decode_whole(&self, file: usize, column: usize) -> Result<ArrayRef> {
        let reader = &self.files[file];
        let name = reader.schema().field(column).name().clone();
        let options = ReadOptions::default().with_columns([name]);
        let batch = reader.read_range(0..reader.num_rows(), &options).await?;
        let array = batch.column(0).clone();
        self.hot.insert(self.hot_key(file, column), array.clone());
        Ok(array)
    }

    fn hot_key(&self, file: usize, column: usize) -> HotKey {
        let data_file = &self.fragment.files[file];
        (Arc::from(cache_key(data_file.base_id, &data_file.path)), column)
    }
}
