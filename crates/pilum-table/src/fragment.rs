//! Reading the rows of one fragment: its data files joined by field id,
//! missing columns as nulls, and its deletion vector.

use crate::arrays::conform;
use crate::cache::DatasetCache;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::proto;
use crate::schema::TableSchema;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use arrow_schema::DataType;
use pilum_file::{BlobFile, BlobMode, FileReader, FlatColumnPages, ReadOptions};
use roaring::RoaringBitmap;
use std::ops::Range;
use std::sync::Arc;

mod hot;

/// An opened fragment.
#[derive(Debug, Clone)]
pub struct FragmentReader {
    fragment: Arc<proto::Fragment>,
    /// Open readers of the data files, in the fragment's order.
    files: Vec<FileReader>,
    deletions: Arc<RoaringBitmap>,
    /// The dataset handle's decoded columns, which takes gather from.
    hot: Arc<crate::hot_columns::HotColumns>,
}

impl FragmentReader {
    /// Opens the data files holding any of `field_ids` (all files when `None`)
    /// and loads the deletion vector.
    pub async fn open(
        location: &DatasetLocation,
        cache: &DatasetCache,
        fragment: Arc<proto::Fragment>,
    ) -> Result<Self> {
        let files = futures::future::try_join_all(fragment.files.iter().map(|file| cache.file(location, file))).await?;
        for (file, reader) in fragment.files.iter().zip(&files) {
            if reader.num_rows() != fragment.physical_rows || reader.schema().fields().len() != file.field_ids.len() {
                return Err(TableError::corrupt(
                    &file.path,
                    format!("data file does not match fragment {}", fragment.id),
                ));
            }
        }
        let deletions = cache.deletions(location, &fragment).await?;
        Ok(Self {
            fragment,
            files,
            deletions,
            hot: cache.hot.clone(),
        })
    }

    /// Deleted row offsets.
    pub fn deletions(&self) -> &RoaringBitmap {
        &self.deletions
    }

    /// Average decoded bytes per row of the projected columns, from the
    /// sizes its data files record; `None` when a file does not record them.
    pub fn value_bytes_per_row(&self, projection: &TableSchema) -> Result<Option<f64>> {
        Ok(self.column_value_bytes(projection)?.map(|bytes| bytes.iter().sum()))
    }

    /// Average decoded bytes per row of the widest projected column (0 when
    /// none is projected); `None` when a file does not record sizes.
    pub fn widest_value_bytes(&self, projection: &TableSchema) -> Result<Option<f64>> {
        Ok(self
            .column_value_bytes(projection)?
            .map(|bytes| bytes.into_iter().fold(0.0, f64::max)))
    }

    /// Average decoded bytes per row of each projected top-level column
    /// stored in this fragment.
    fn column_value_bytes(&self, projection: &TableSchema) -> Result<Option<Vec<f64>>> {
        let mut sizes = Vec::new();
        for (file, column) in self.sources(projection).into_iter().flatten() {
            let reader = &self.files[file];
            let options = ReadOptions::default()
                .with_columns([reader.schema().field(column).name().clone()])
                .with_blob_mode(BlobMode::Bytes);
            match reader.value_bytes_per_row(&options)? {
                Some(bytes) => sizes.push(bytes),
                None => return Ok(None),
            }
        }
        Ok(Some(sizes))
    }

    /// The rows at which the pages of the projected column stored flat with
    /// the most bytes start (see [`FileReader::widest_flat_column`]); empty
    /// when no projected column is stored flat.
    pub fn flat_page_starts(&self, projection: &TableSchema) -> Result<Vec<u64>> {
        let sources = self.sources(projection);
        let mut widest: Option<FlatColumnPages> = None;
        for (_, file, columns) in self.columns_by_file(&sources) {
            let options = ReadOptions::default().with_columns(columns);
            if let Some(pages) = file.widest_flat_column(&options)?
                && widest.as_ref().is_none_or(|w| pages.stored_bytes > w.stored_bytes)
            {
                widest = Some(pages);
            }
        }
        Ok(widest.map(|w| w.page_starts).unwrap_or_default())
    }

    /// Physical rows `rows` of the projected columns (deleted rows included).
    pub async fn read_range(&self, projection: &TableSchema, rows: Range<u64>) -> Result<RecordBatch> {
        let count = (rows.end - rows.start) as usize;
        self.read_with(projection, count, |file, options| {
            let rows = rows.clone();
            async move { file.read_range(rows, &options).await }
        })
        .await
    }

    /// Physical rows at `offsets`, in that order, of the projected columns.
    pub async fn take(&self, projection: &TableSchema, offsets: &[u64]) -> Result<RecordBatch> {
        if let Some(batch) = self.take_hot(projection, offsets).await? {
            return Ok(batch);
        }
        self.read_with(projection, offsets.len(), |file, options| async move {
            file.take(offsets, &options).await
        })
        .await
    }

    /// Opens the blobs of field `field_id` at physical `offsets`; `None` for
    /// null values and for fragments written before the column existed.
    pub async fn take_blobs(&self, field_id: i32, offsets: &[u64]) -> Result<Vec<Option<BlobFile>>> {
        match self.locate(field_id) {
            Some((file, column)) => {
                let reader = &self.files[file];
                let name = reader.schema().field(column).name().clone();
                Ok(reader.take_blobs(&name, offsets).await?)
            }
            None => Ok(vec![None; offsets.len()]),
        }
    }

    async fn read_with<'a, F, Fut>(&'a self, projection: &TableSchema, num_rows: usize, read: F) -> Result<RecordBatch>
    where
        F: Fn(&'a FileReader, ReadOptions) -> Fut,
        Fut: std::future::Future<Output = pilum_file::Result<RecordBatch>>,
    {
        let views = projection
            .arrow()
            .fields()
            .iter()
            .any(|f| matches!(f.data_type(), DataType::Utf8View | DataType::BinaryView));
        let sources = self.sources(projection);
        let mut reads = Vec::new();
        for (index, file, columns) in self.columns_by_file(&sources) {
            // Blob columns come back as their bytes: rewrites (update, compaction)
            // must carry them, and lazy access goes through `take_blobs`.
            let options = ReadOptions::default()
                .with_columns(columns)
                .with_blob_mode(BlobMode::Bytes)
                .with_string_views(views);
            reads.push((index, read(file, options)));
        }
        let (indices, futures): (Vec<usize>, Vec<_>) = reads.into_iter().unzip();
        let batches = futures::future::try_join_all(futures).await?;
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(sources.len());
        for (field, source) in projection.arrow().fields().iter().zip(&sources) {
            let column = match source {
                Some((file, column)) => {
                    let at = indices.iter().position(|i| i == file).unwrap_or_default();
                    let name = self.files[*file].schema().field(*column).name();
                    let array = batches[at]
                        .column_by_name(name)
                        .ok_or_else(|| TableError::corrupt(&self.fragment.files[*file].path, "column missing"))?;
                    conform(array.clone(), field.data_type())?
                }
                None => new_null_array(field.data_type(), num_rows),
            };
            columns.push(column);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(num_rows));
        RecordBatch::try_new_with_options(projection.arrow().clone(), columns, &options).map_err(|e| {
            TableError::SchemaMismatch {
                reason: format!("fragment {}: {e}", self.fragment.id),
            }
        })
    }

    /// (file index, column index in the file) of each top-level field of
    /// `projection`; `None` for fields no file holds.
    fn sources(&self, projection: &TableSchema) -> Vec<Option<(usize, usize)>> {
        projection
            .top_level_ids()
            .into_iter()
            .map(|id| self.locate(id))
            .collect()
    }

    /// Each file that `sources` reads from, with the names of its columns read.
    fn columns_by_file(&self, sources: &[Option<(usize, usize)>]) -> Vec<(usize, &FileReader, Vec<String>)> {
        (self.files.iter().enumerate())
            .filter_map(|(index, file)| {
                let columns: Vec<String> = (sources.iter().flatten())
                    .filter(|(f, _)| *f == index)
                    .map(|(_, c)| file.schema().field(*c).name().clone())
                    .collect();
                (!columns.is_empty()).then_some((index, file, columns))
            })
            .collect()
    }

    /// The file and column holding field `id`; later files win.
    fn locate(&self, id: i32) -> Option<(usize, usize)> {
        self.fragment
            .files
            .iter()
            .enumerate()
            .rev()
            .find_map(|(f, file)| file.field_ids.iter().position(|&fid| fid == id).map(|c| (f, c)))
    }
}
