//! Distributed writes from Python: workers write fragments without
//! committing (`write_pending`, one serialized part per fragment), and one
//! process commits every part as one version (`commit_pending`).

use crate::dataset::{PyDataset, location};
use crate::errors::{PilumErr, invalid_argument};
use crate::runtime::run;
use crate::stream::input_stream;
use pilum::{Dataset, PendingFragments, PendingOperation, WriteParams};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3_arrow::{PyRecordBatchReader, PySchema};
use std::collections::HashMap;

fn operation(name: &str) -> PyResult<PendingOperation> {
    match name {
        "append" => Ok(PendingOperation::Append),
        "overwrite" => Ok(PendingOperation::Overwrite),
        other => Err(invalid_argument(format!(
            "unknown operation {other:?}: use append or overwrite"
        ))),
    }
}

/// Writes `data` into new fragments of the dataset at `uri` without
/// committing; returns one serialized part per fragment.
#[pyfunction]
#[pyo3(signature = (data, uri, mode, max_rows_per_file, max_bytes_per_file, storage_options=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn write_pending<'py>(
    py: Python<'py>,
    data: PyRecordBatchReader,
    uri: String,
    mode: &str,
    max_rows_per_file: u64,
    max_bytes_per_file: u64,
    storage_options: Option<HashMap<String, String>>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let operation = operation(mode)?;
    if max_rows_per_file == 0 || max_bytes_per_file == 0 {
        return Err(invalid_argument(
            "max_rows_per_file and max_bytes_per_file must be positive",
        ));
    }
    let (schema, batches) = input_stream(data, progress)?;
    let params = WriteParams {
        max_rows_per_file,
        max_bytes_per_file,
        ..WriteParams::default()
    };
    let pending = run(py, async move {
        PendingFragments::write(&location(&uri, storage_options)?, schema, batches, operation, &params).await
    })?;
    Ok(pending
        .split()
        .into_iter()
        .map(|part| PyBytes::new(py, &part.to_bytes()))
        .collect())
}

/// Commits serialized parts as one version: `operation` append or overwrite,
/// on top of `read_version` (the latest when None).
#[pyfunction]
#[pyo3(signature = (uri, operation, parts, read_version=None, storage_options=None))]
pub fn commit_pending(
    py: Python<'_>,
    uri: String,
    operation: &str,
    parts: Vec<Vec<u8>>,
    read_version: Option<u64>,
    storage_options: Option<HashMap<String, String>>,
) -> PyResult<PyDataset> {
    let operation = self::operation(operation)?;
    let parts = parts
        .iter()
        .map(|bytes| PendingFragments::from_bytes(bytes))
        .collect::<Result<Vec<_>, _>>()
        .map_err(PilumErr::from)?;
    let dataset = run(py, async move {
        Dataset::commit_pending(location(&uri, storage_options)?, operation, parts, read_version).await
    })?;
    Ok(PyDataset::new(dataset))
}

/// `(rows, data file paths)` of a serialized part.
#[pyfunction]
pub fn pending_info(bytes: &[u8]) -> PyResult<(u64, Vec<String>)> {
    let part = PendingFragments::from_bytes(bytes).map_err(PilumErr::from)?;
    Ok((part.num_rows(), part.files()))
}

/// The Arrow schema a serialized part was written with.
#[pyfunction]
pub fn pending_schema(bytes: &[u8]) -> PyResult<PySchema> {
    let part = PendingFragments::from_bytes(bytes).map_err(PilumErr::from)?;
    Ok(PySchema::new(part.schema().clone()))
}
