//! Arrow streams across the boundary: Python readers (anything exporting
//! `__arrow_c_stream__`) into Pilum batch streams, and Pilum scans out as
//! Arrow C streams, both without copying buffers.

use crate::runtime::runtime;
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use futures::StreamExt;
use pilum::{BatchStream, TableError};
use pyo3::prelude::*;
use pyo3_arrow::PyRecordBatchReader;

/// The schema and batches of a Python Arrow stream. `progress`, when given,
/// is called with the row count of each batch as it is consumed.
pub fn input_stream(reader: PyRecordBatchReader, progress: Option<Py<PyAny>>) -> PyResult<(SchemaRef, BatchStream)> {
    let reader = reader.into_reader()?;
    let schema = reader.schema();
    let stream = futures::stream::iter(reader).map(move |batch| {
        let batch = batch.map_err(TableError::Arrow)?;
        if let Some(callback) = &progress {
            Python::attach(|py| callback.call1(py, (batch.num_rows(),)))
                .map_err(|e| TableError::InvalidArgument(format!("progress callback failed: {e}")))?;
        }
        Ok(batch)
    });
    Ok((schema, stream.boxed()))
}

/// A Pilum batch stream as a blocking Arrow reader, pulled on the shared runtime.
pub struct BlockingReader {
    schema: SchemaRef,
    stream: Option<BatchStream>,
}

impl BlockingReader {
    /// Wraps `stream`, whose batches all have `schema`.
    pub fn new(schema: SchemaRef, stream: BatchStream) -> Self {
        Self {
            schema,
            stream: Some(stream),
        }
    }

    /// The reader as a Python object exporting `__arrow_c_stream__`.
    pub fn into_py(self) -> PyRecordBatchReader {
        PyRecordBatchReader::new(Box::new(self))
    }
}

impl Iterator for BlockingReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let stream = self.stream.as_mut()?;
        if tokio::runtime::Handle::try_current().is_ok() {
            self.stream = None;
            return Some(Err(ArrowError::ExternalError(
                "a Pilum stream cannot be read from inside an async runtime thread".into(),
            )));
        }
        let rt = match runtime() {
            Ok(rt) => rt,
            Err(e) => return Some(Err(ArrowError::ExternalError(Box::new(e)))),
        };
        match rt.block_on(stream.next()) {
            Some(Ok(batch)) => Some(Ok(batch)),
            Some(Err(e)) => {
                self.stream = None;
                Some(Err(ArrowError::ExternalError(Box::new(e))))
            }
            None => {
                self.stream = None;
                None
            }
        }
    }
}

impl RecordBatchReader for BlockingReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
