//! An opened file's validated state, and reading row ranges of it into
//! record batches.

use crate::error::{FileError, Result};
use crate::layout::ColumnLayout;
use crate::options::ReadOptions;
use crate::prefetch::planned_bytes;
use crate::read::{BlobMode, ReadContext, blob_description_type};
use crate::tree::Node;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use pilum_io::ObjectReader;
use std::ops::Range;
use std::sync::Arc;

/// An opened file: its schema, column tree and validated layout.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) reader: ObjectReader,
    pub(crate) schema: SchemaRef,
    pub(crate) nodes: Vec<Node>,
    pub(crate) columns: Vec<ColumnLayout>,
    pub(crate) num_rows: u64,
    pub(crate) file_size: u64,
    pub(crate) created_by: String,
    /// The writer recorded `Column.value_bytes` (format 1.2 and later).
    pub(crate) value_bytes_recorded: bool,
    /// Size of the metadata section in bytes.
    pub(crate) metadata_bytes: u64,
}

impl Inner {
    pub(crate) fn projection(&self, options: &ReadOptions) -> Result<Vec<usize>> {
        match &options.columns {
            None => Ok((0..self.schema.fields().len()).collect()),
            Some(names) => names
                .iter()
                .map(|n| {
                    self.schema
                        .index_of(n)
                        .map_err(|_| FileError::ColumnNotFound { name: n.clone() })
                })
                .collect(),
        }
    }

    /// Average stored bytes per row of the projected columns (blob bytes
    /// included when blobs are read as bytes).
    pub(crate) fn bytes_per_row(&self, options: &ReadOptions) -> Result<f64> {
        let total = self.projected_bytes(options, |c| c.pages.iter().map(|p| p.length).sum())?;
        Ok(total as f64 / self.num_rows.max(1) as f64)
    }

    /// Average bytes per row of the projected columns once decoded (values,
    /// plus 4-byte offsets of variable-width values); `None` when the file
    /// does not record its value sizes (1.0 and 1.1 files).
    pub(crate) fn value_bytes_per_row(&self, options: &ReadOptions) -> Result<Option<f64>> {
        if !self.value_bytes_recorded {
            return Ok(None);
        }
        let total = self.projected_bytes(options, |c| match c.kind {
            pilum_encoding::ValueKind::Variable => c.value_bytes + 4 * c.num_values,
            _ => c.value_bytes,
        })?;
        Ok(Some(total as f64 / self.num_rows.max(1) as f64))
    }

    /// Sum of `bytes(column)` over the physical columns of the projection,
    /// plus blob bytes when blobs are read as bytes.
    fn projected_bytes(&self, options: &ReadOptions, bytes: impl Fn(&ColumnLayout) -> u64) -> Result<u64> {
        let page_bytes = |columns: std::ops::Range<usize>| -> u64 {
            self.columns[columns]
                .iter()
                .flat_map(|c| &c.pages)
                .map(|p| p.length)
                .sum()
        };
        let mut total = 0u64;
        for i in self.projection(options)? {
            let end = self.nodes.get(i + 1).map_or(self.columns.len(), Node::column);
            total += self.columns[self.nodes[i].column()..end]
                .iter()
                .map(&bytes)
                .sum::<u64>();
            if matches!(self.nodes[i], Node::Blob { .. }) && options.blob_mode == BlobMode::Bytes {
                total += self.file_size.saturating_sub(page_bytes(0..self.columns.len()));
            }
        }
        Ok(total)
    }

    pub(crate) fn output_schema(&self, options: &ReadOptions) -> Result<SchemaRef> {
        let fields: Vec<Field> = self
            .projection(options)?
            .into_iter()
            .map(|i| {
                let field = self.schema.field(i);
                match (&self.nodes[i], options.blob_mode) {
                    (Node::Blob { .. }, BlobMode::Descriptions) => {
                        field.clone().with_data_type(blob_description_type())
                    }
                    (node, _) => match view_type(node, field, options) {
                        Some(view) => field.clone().with_data_type(view),
                        None => field.clone(),
                    },
                }
            })
            .collect();
        Ok(Arc::new(Schema::new_with_metadata(
            fields,
            self.schema.metadata().clone(),
        )))
    }

    pub(crate) async fn read_ranges(&self, ranges: Vec<Range<u64>>, options: &ReadOptions) -> Result<RecordBatch> {
        let projection = self.projection(options)?;
        let rows: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        // Where requests are expensive, all columns' pages are fetched in
        // one coalesced batch first, so columns share requests.
        let prefetched;
        let reader = if self.reader.options().remote && projection.len() > 1 {
            let path = self.reader.path().to_string();
            let bytes = planned_bytes(&path, &self.nodes, &self.columns, &projection, &ranges)?;
            prefetched = self.reader.prefetch(&bytes).await?;
            &prefetched
        } else {
            &self.reader
        };
        let ctx = ReadContext {
            reader,
            columns: &self.columns,
            blob_mode: options.blob_mode,
            file_size: self.file_size,
        };
        let arrays = futures::future::try_join_all(projection.iter().map(|&i| {
            let node = &self.nodes[i];
            match (node, view_type(node, self.schema.field(i), options)) {
                (Node::Leaf { column, .. }, Some(view)) => {
                    ctx.read_views(*column, ranges.clone(), view == DataType::Utf8View)
                }
                _ => ctx.read_node(node, ranges.clone()),
            }
        }))
        .await?;
        let mut fields = Vec::with_capacity(arrays.len());
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(arrays.len());
        for (&i, array) in projection.iter().zip(arrays) {
            let field = self.schema.field(i);
            if array.data_type() == field.data_type() {
                columns.push(array);
                fields.push(field.clone());
            } else if view_type(&self.nodes[i], field, options).is_some()
                || contains_blob_descriptions(&self.nodes[i], options.blob_mode)
            {
                // Views and blob descriptions change the column's type on purpose.
                fields.push(field.clone().with_data_type(array.data_type().clone()));
                columns.push(array);
            } else {
                columns.push(arrow_cast::cast(&array, field.data_type())?);
                fields.push(field.clone());
            }
        }
        let schema = Arc::new(Schema::new_with_metadata(fields, self.schema.metadata().clone()));
        let options = RecordBatchOptions::new().with_row_count(Some(rows as usize));
        // The arrays match the schema's types and the row count, so what
        // Arrow rejects here is data contradicting the schema (nulls in a
        // non-nullable column).
        RecordBatch::try_new_with_options(schema, columns, &options)
            .map_err(|e| FileError::corrupt(self.reader.path(), format!("columns contradict the schema: {e}")))
    }
}

/// The view type a top-level column is read as, when `options` asks for views.
fn view_type(node: &Node, field: &Field, options: &ReadOptions) -> Option<DataType> {
    let Node::Leaf { storage, .. } = node else {
        return None;
    };
    if !options.string_views {
        return None;
    }
    match (storage, field.data_type()) {
        (DataType::Utf8 | DataType::LargeUtf8, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
            Some(DataType::Utf8View)
        }
        (DataType::Binary | DataType::LargeBinary, DataType::Binary | DataType::BinaryView) => {
            Some(DataType::BinaryView)
        }
        _ => None,
    }
}

fn contains_blob_descriptions(node: &Node, mode: BlobMode) -> bool {
    mode == BlobMode::Descriptions
        && match node {
            Node::Blob { .. } => true,
            Node::Struct { children, .. } => children.iter().any(|c| contains_blob_descriptions(c, mode)),
            Node::List { child, .. } | Node::FixedList { child, .. } => contains_blob_descriptions(child, mode),
            _ => false,
        }
}
