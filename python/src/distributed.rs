//! Distributed writes from Python: workers write fragments without
//! committing (`write_pending`, one serialized part per fragment), and one
//! process commits every part as one version (`commit_pending`).

use crate::dataset::{PyDataset, location, write_params};
use crate::errors::{PilumErr, invalid_argument};
use crate::runtime::run;
use crate::stream::input_stream;
use pilum::{Dataset, IndexSegment, PendingColumns, PendingFragments, PendingOperation};
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
    let params = write_params(max_rows_per_file, max_bytes_per_file)?;
    let (schema, batches) = input_stream(data, progress)?;
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

/// What a serialized part describes.
type PartInfo = (&'static str, u64, Vec<String>, Vec<u64>, Option<u64>);

/// `(kind, rows, data file paths, fragment ids, base version)` of a
/// serialized part: kind `fragments` (new rows; no fragment ids or base
/// version yet) or `columns` (new columns for existing fragments of the
/// base version; rows not recorded, 0).
#[pyfunction]
pub fn pending_info(bytes: &[u8]) -> PyResult<PartInfo> {
    if bytes.starts_with(b"PLPC") {
        let part = PendingColumns::from_bytes(bytes).map_err(PilumErr::from)?;
        return Ok((
            "columns",
            0,
            part.files(),
            part.fragment_ids(),
            Some(part.base_version()),
        ));
    }
    let part = PendingFragments::from_bytes(bytes).map_err(PilumErr::from)?;
    Ok(("fragments", part.num_rows(), part.files(), Vec::new(), None))
}

/// The Arrow schema a serialized part was written with (for new columns:
/// the schema the commit gives the dataset).
#[pyfunction]
pub fn pending_schema(bytes: &[u8]) -> PyResult<PySchema> {
    if bytes.starts_with(b"PLPC") {
        let part = PendingColumns::from_bytes(bytes).map_err(PilumErr::from)?;
        return Ok(PySchema::new(part.schema().clone()));
    }
    let part = PendingFragments::from_bytes(bytes).map_err(PilumErr::from)?;
    Ok(PySchema::new(part.schema().clone()))
}

/// Writes new columns (`data`, one row per live row in scan order) for
/// fragment `fragment_id` of version `version`; returns the serialized part.
#[pyfunction]
#[pyo3(signature = (data, uri, version, fragment_id, storage_options=None))]
pub fn write_pending_columns<'py>(
    py: Python<'py>,
    data: PyRecordBatchReader,
    uri: String,
    version: u64,
    fragment_id: u64,
    storage_options: Option<HashMap<String, String>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let (schema, batches) = input_stream(data, None)?;
    let part = run(py, async move {
        let dataset = Dataset::open_location(location(&uri, storage_options)?).await?;
        let dataset = dataset.checkout_version(version).await?;
        dataset.write_pending_columns(fragment_id, schema, batches).await
    })?;
    Ok(PyBytes::new(py, &part.to_bytes()))
}

/// Commits serialized column parts as one version adding the columns.
#[pyfunction]
#[pyo3(signature = (uri, parts, storage_options=None))]
pub fn commit_pending_columns(
    py: Python<'_>,
    uri: String,
    parts: Vec<Vec<u8>>,
    storage_options: Option<HashMap<String, String>>,
) -> PyResult<PyDataset> {
    let parts = parts
        .iter()
        .map(|bytes| PendingColumns::from_bytes(bytes))
        .collect::<Result<Vec<_>, _>>()
        .map_err(PilumErr::from)?;
    let dataset = run(py, async move {
        Dataset::commit_pending_columns(location(&uri, storage_options)?, parts).await
    })?;
    Ok(PyDataset::new(dataset))
}

/// Builds (without committing) a segment of the vector index `trained`
/// (a serialized segment) over fragments `fragments` of version `version`
/// with `trained`'s model; returns it serialized.
#[pyfunction]
#[pyo3(signature = (uri, version, trained, fragments, memory_limit=1 << 30, storage_options=None))]
pub fn build_index_segment<'py>(
    py: Python<'py>,
    uri: String,
    version: u64,
    trained: &[u8],
    fragments: Vec<u64>,
    memory_limit: usize,
    storage_options: Option<HashMap<String, String>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let trained = IndexSegment::from_bytes(trained).map_err(PilumErr::from)?;
    let segment = run(py, async move {
        let dataset = Dataset::open_location(location(&uri, storage_options)?).await?;
        let dataset = dataset.checkout_version(version).await?;
        dataset.build_index_segment(&trained, &fragments, memory_limit).await
    })?;
    Ok(PyBytes::new(py, &segment.to_bytes()))
}

/// Commits serialized segments of one vector index as one version.
#[pyfunction]
#[pyo3(signature = (uri, parts, replace=false, storage_options=None))]
pub fn commit_index_segments(
    py: Python<'_>,
    uri: String,
    parts: Vec<Vec<u8>>,
    replace: bool,
    storage_options: Option<HashMap<String, String>>,
) -> PyResult<PyDataset> {
    let segments = parts
        .iter()
        .map(|bytes| IndexSegment::from_bytes(bytes))
        .collect::<Result<Vec<_>, _>>()
        .map_err(PilumErr::from)?;
    let dataset = run(py, async move {
        let mut dataset = Dataset::open_location(location(&uri, storage_options)?).await?;
        dataset.commit_index_segments(segments, replace).await?;
        Ok::<_, pilum::TableError>(dataset)
    })?;
    Ok(PyDataset::new(dataset))
}

/// `(name, uuid, kind, fragment ids)` of a serialized index segment.
#[pyfunction]
pub fn index_segment_info(bytes: &[u8]) -> PyResult<(String, String, String, Vec<u64>)> {
    let segment = IndexSegment::from_bytes(bytes).map_err(PilumErr::from)?;
    Ok((
        segment.name().to_string(),
        segment.uuid().to_string(),
        segment.kind_name().to_string(),
        segment.fragment_ids(),
    ))
}
