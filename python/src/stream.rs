//! Arrow streams across the boundary: Python readers (anything exporting
//! `__arrow_c_stream__`) into Pilum batch streams, and Pilum scans out as
//! Arrow C streams, both without copying buffers.

use crate::errors::table_class;
use crate::runtime::runtime;
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use futures::StreamExt;
use pilum::{BatchStream, TableError};
use pyo3::prelude::*;
use pyo3_arrow::PyRecordBatchReader;

/// Batches a reader thread may run ahead of the writer.
const INPUT_QUEUE: usize = 2;

/// The schema and batches of a Python Arrow stream. `progress`, when given,
/// is called with the row count of each batch as it is consumed.
///
/// A dedicated thread pulls the (blocking) reader, so the producer may be
/// Python code, another Pilum scan, or anything else that blocks, without
/// stalling or re-entering the async runtime.
pub fn input_stream(reader: PyRecordBatchReader, progress: Option<Py<PyAny>>) -> PyResult<(SchemaRef, BatchStream)> {
    let reader = reader.into_reader()?;
    let schema = reader.schema();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<RecordBatch, TableError>>(INPUT_QUEUE);
    let thread = std::thread::Builder::new()
        .name("pilum-input".into())
        .spawn(move || pull_reader(reader, progress, sender))
        .map_err(|e| crate::errors::internal_error(format!("cannot start the input thread: {e}")))?;
    let mut input = InputThread {
        receiver,
        thread: Some(thread),
    };
    let stream = futures::stream::poll_fn(move |cx| input.receiver.poll_recv(cx));
    Ok((schema, stream.boxed()))
}

/// The receiving end of the input thread. Dropping it (the write finished,
/// failed or was interrupted) stops the thread and waits for it, so no
/// thread is left calling into the producer, e.g. while Python exits.
struct InputThread {
    receiver: tokio::sync::mpsc::Receiver<Result<RecordBatch, TableError>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for InputThread {
    fn drop(&mut self) {
        self.receiver.close();
        while self.receiver.try_recv().is_ok() {}
        if let Some(thread) = self.thread.take() {
            // The thread may need the GIL to finish its current batch: wait without holding it.
            Python::attach(|py| {
                py.detach(|| {
                    let _ = thread.join();
                })
            });
        }
    }
}

/// Sends the reader's batches until it ends, fails, or the receiver goes away.
fn pull_reader(
    reader: Box<dyn RecordBatchReader + Send>,
    progress: Option<Py<PyAny>>,
    sender: tokio::sync::mpsc::Sender<Result<RecordBatch, TableError>>,
) {
    for batch in reader {
        let item = batch.map_err(TableError::Arrow).and_then(|batch| {
            if let Some(callback) = &progress {
                Python::attach(|py| callback.call1(py, (batch.num_rows(),)))
                    .map_err(|e| TableError::InvalidArgument(format!("progress callback failed: {e}")))?;
            }
            Ok(batch)
        });
        let failed = item.is_err();
        if sender.blocking_send(item).is_err() || failed {
            return;
        }
    }
}

/// A scan error on its way through an Arrow C stream: its text names the
/// `pilum.errors` class (`[pilum:Class] message`) so the Python side can
/// raise the right exception again.
#[derive(Debug)]
struct TaggedError(String);

impl std::fmt::Display for TaggedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TaggedError {}

fn tagged(e: &TableError) -> ArrowError {
    ArrowError::ExternalError(Box::new(TaggedError(format!("[pilum:{}] {e}", table_class(e)))))
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
                Some(Err(tagged(&e)))
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
