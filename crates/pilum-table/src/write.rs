//! Streaming record batches into new data files and fragments, bounded by
//! rows and bytes per file.

use crate::arrays::conform;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::paths;
use crate::proto;
use crate::schema::TableSchema;
use crate::stats::StatisticsCollector;
use arrow_array::{ArrayRef, RecordBatch};
use futures::stream::{BoxStream, StreamExt};
use pilum_file::{FileWriter, MAJOR_VERSION, MINOR_VERSION, WriterOptions};

/// How new data files are cut.
#[derive(Debug, Clone, Copy)]
pub struct WriteParams {
    /// Rows per data file (and fragment) at most.
    pub max_rows_per_file: u64,
    /// Approximate uncompressed Arrow bytes per data file at most.
    pub max_bytes_per_file: u64,
    /// File writer settings.
    pub file: WriterOptions,
}

impl Default for WriteParams {
    fn default() -> Self {
        Self {
            max_rows_per_file: 1024 * 1024,
            max_bytes_per_file: 64 * 1024 * 1024 * 1024,
            file: WriterOptions::default(),
        }
    }
}

/// A stream of Arrow record batches, as every write operation takes it.
pub type BatchStream = BoxStream<'static, Result<RecordBatch>>;

/// Reorders and relabels `batch` to `schema`; fails on missing, extra or
/// differently typed columns and on nulls in non-nullable columns.
pub fn conform_batch(batch: &RecordBatch, schema: &TableSchema) -> Result<RecordBatch> {
    let target = schema.arrow();
    if batch.num_columns() != target.fields().len() {
        let found: Vec<&String> = batch.schema_ref().fields().iter().map(|f| f.name()).collect();
        let expected: Vec<&String> = target.fields().iter().map(|f| f.name()).collect();
        return Err(TableError::SchemaMismatch {
            reason: format!("expected columns {expected:?}, got {found:?}"),
        });
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(target.fields().len());
    for field in target.fields() {
        let column = batch
            .column_by_name(field.name())
            .ok_or_else(|| TableError::SchemaMismatch {
                reason: format!("missing column {:?}", field.name()),
            })?;
        if !field.data_type().equals_datatype(column.data_type()) {
            return Err(TableError::SchemaMismatch {
                reason: format!(
                    "column {:?} has type {}, the dataset has {}",
                    field.name(),
                    column.data_type(),
                    field.data_type()
                ),
            });
        }
        columns.push(conform(column.clone(), field.data_type())?);
    }
    RecordBatch::try_new(target.clone(), columns).map_err(|e| TableError::SchemaMismatch { reason: e.to_string() })
}

/// Writes `batches` into new fragments whose ids and row ids are assigned at
/// commit time. Partial files of a failed write are removed; finished ones
/// stay unreferenced until cleanup.
pub async fn write_fragments(
    location: &DatasetLocation,
    schema: &TableSchema,
    mut batches: BatchStream,
    params: &WriteParams,
) -> Result<Vec<proto::Fragment>> {
    let mut fragments = Vec::new();
    let mut current: Option<OpenFile> = None;
    let result: Result<()> = async {
        while let Some(batch) = batches.next().await {
            let batch = conform_batch(&batch?, schema)?;
            let row_bytes = (batch.get_array_memory_size() / batch.num_rows().max(1)).max(1) as u64;
            let mut offset = 0;
            while offset < batch.num_rows() {
                if current.is_none() {
                    current = Some(OpenFile::start(location, schema, params.file).await?);
                }
                let Some(file) = current.as_mut() else { continue };
                let rows_left = params.max_rows_per_file.saturating_sub(file.rows);
                let bytes_left = params.max_bytes_per_file.saturating_sub(file.bytes) / row_bytes;
                let room = rows_left.min(bytes_left).max(1) as usize;
                let take = room.min(batch.num_rows() - offset);
                let slice = batch.slice(offset, take);
                file.write(&slice).await?;
                file.rows += take as u64;
                file.bytes += take as u64 * row_bytes;
                offset += take;
                if (file.rows >= params.max_rows_per_file || file.bytes >= params.max_bytes_per_file)
                    && let Some(full) = current.take()
                {
                    fragments.push(full.finish(schema).await?);
                }
            }
        }
        if let Some(last) = current.take() {
            fragments.push(last.finish(schema).await?);
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(fragments),
        Err(e) => {
            if let Some(open) = current.take() {
                open.abort().await;
            }
            Err(e)
        }
    }
}

/// A data file being written, with its columns' statistics: the files of
/// new fragments, and of columns added to existing ones.
pub(crate) struct OpenFile {
    path: String,
    writer: FileWriter,
    statistics: StatisticsCollector,
    rows: u64,
    bytes: u64,
}

impl OpenFile {
    pub(crate) async fn start(
        location: &DatasetLocation,
        schema: &TableSchema,
        options: WriterOptions,
    ) -> Result<Self> {
        let path = format!("{}{}", location.file_prefix(), paths::new_data_file());
        let writer = FileWriter::try_new(
            location.store.clone(),
            location.child(&path),
            schema.arrow().clone(),
            location.writer_options(options),
        )
        .await?;
        Ok(Self {
            path,
            writer,
            statistics: StatisticsCollector::new(schema),
            rows: 0,
            bytes: 0,
        })
    }

    /// Appends `batch` (of the file's schema).
    pub(crate) async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.statistics.update(batch)?;
        self.writer.write(batch).await?;
        Ok(())
    }

    /// Removes the partial file (failures are ignored: cleanup finds it).
    pub(crate) async fn abort(self) {
        let _ = self.writer.abort().await;
    }

    /// Publishes the file; its manifest entry and its row count.
    pub(crate) async fn finish_file(self, schema: &TableSchema) -> Result<(proto::DataFile, u64)> {
        let summary = self.writer.finish().await?;
        let file = data_file(
            self.path,
            schema.top_level_ids(),
            summary.file_size,
            self.statistics.finish()?,
        );
        Ok((file, summary.num_rows))
    }

    async fn finish(self, schema: &TableSchema) -> Result<proto::Fragment> {
        let (file, physical_rows) = self.finish_file(schema).await?;
        Ok(proto::Fragment {
            id: 0,
            files: vec![file],
            physical_rows,
            deletion: None,
            row_ids: None,
        })
    }
}

/// The manifest entry of a finished data file.
pub(crate) fn data_file(
    path: String,
    field_ids: Vec<i32>,
    size: u64,
    statistics: Vec<proto::ColumnStatistics>,
) -> proto::DataFile {
    proto::DataFile {
        path,
        field_ids,
        size,
        format_major: u32::from(MAJOR_VERSION),
        format_minor: u32::from(MINOR_VERSION),
        statistics,
        base_id: 0,
    }
}
