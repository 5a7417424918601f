//! `_Dataset`: the native handle behind `pilum.PilumDataset`. Each method is
//! one Pilum operation run with the GIL released; write operations move the
//! handle to the version they commit.

use crate::errors::{PilumErr, invalid_argument};
use crate::runtime::run;
use crate::stream::{BlockingReader, input_stream};
use pilum::{Dataset, DatasetLocation, TableError, WriteMode, WriteParams};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::{PyRecordBatchReader, PySchema, PyTable};
use std::collections::HashMap;
use std::sync::Mutex;

/// A dataset at one version.
#[pyclass(name = "_Dataset", module = "pilum._native", frozen)]
pub struct PyDataset {
    inner: Mutex<Dataset>,
}

impl PyDataset {
    pub fn new(dataset: Dataset) -> Self {
        Self {
            inner: Mutex::new(dataset),
        }
    }

    /// A cheap copy of the current handle.
    pub fn snapshot(&self) -> Dataset {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Points this handle at `dataset` (after a commit).
    pub fn replace(&self, dataset: Dataset) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = dataset;
    }
}

/// Resolves `uri` (local path, `file://`, `memory://`, `s3://`) with storage options.
pub fn location(uri: &str, storage_options: Option<HashMap<String, String>>) -> Result<DatasetLocation, TableError> {
    let options = storage_options.unwrap_or_default();
    let store = pilum::parse_uri_with_options(uri, &options)?;
    Ok(DatasetLocation::from_store_location(store, uri).with_storage_options(options))
}

/// Moves `dataset` to a version, a tag, or the latest version at or before `asof_micros` (UTC).
async fn checkout(
    dataset: Dataset,
    version: Option<u64>,
    tag: Option<String>,
    asof_micros: Option<i64>,
) -> Result<Dataset, TableError> {
    match (version, tag, asof_micros) {
        (Some(version), _, _) => dataset.checkout_version(version).await,
        (None, Some(tag), _) => dataset.checkout_tag(&tag).await,
        (None, None, Some(micros)) => {
            let time = chrono::DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| TableError::InvalidArgument(format!("timestamp {micros} µs is out of range")))?;
            dataset.checkout_as_of(time).await
        }
        (None, None, None) => Ok(dataset),
    }
}

/// The write mode named `mode`.
pub(crate) fn write_mode(mode: &str) -> PyResult<WriteMode> {
    match mode {
        "create" => Ok(WriteMode::Create),
        "append" => Ok(WriteMode::Append),
        "overwrite" => Ok(WriteMode::Overwrite),
        other => Err(invalid_argument(format!(
            "unknown mode {other:?}: use create, append or overwrite"
        ))),
    }
}

/// Write parameters with these file size limits (both must be positive).
pub fn write_params(max_rows_per_file: u64, max_bytes_per_file: u64) -> PyResult<WriteParams> {
    if max_rows_per_file == 0 || max_bytes_per_file == 0 {
        return Err(invalid_argument(
            "max_rows_per_file and max_bytes_per_file must be positive",
        ));
    }
    Ok(WriteParams {
        max_rows_per_file,
        max_bytes_per_file,
        ..WriteParams::default()
    })
}

#[pymethods]
impl PyDataset {
    /// Opens the dataset at `uri`: the latest version, or `version`, `tag`, or
    /// the version current at `asof_micros` (microseconds since the epoch, UTC).
    #[staticmethod]
    #[pyo3(signature = (uri, version=None, tag=None, asof_micros=None, storage_options=None, branch=None))]
    fn open(
        py: Python<'_>,
        uri: String,
        version: Option<u64>,
        tag: Option<String>,
        asof_micros: Option<i64>,
        storage_options: Option<HashMap<String, String>>,
        branch: Option<String>,
    ) -> PyResult<Self> {
        let dataset = run(py, async move {
            let location = location(&uri, storage_options)?.on_branch(branch.as_deref()).await?;
            let dataset = Dataset::open_location(location).await?;
            checkout(dataset, version, tag, asof_micros).await
        })?;
        Ok(Self::new(dataset))
    }

    /// Writes an Arrow stream as a new dataset (`mode` create/overwrite) or appends to one.
    #[staticmethod]
    #[pyo3(signature = (data, uri, mode, max_rows_per_file, max_bytes_per_file, storage_options=None, progress=None, branch=None))]
    #[allow(clippy::too_many_arguments)]
    fn write(
        py: Python<'_>,
        data: PyRecordBatchReader,
        uri: String,
        mode: &str,
        max_rows_per_file: u64,
        max_bytes_per_file: u64,
        storage_options: Option<HashMap<String, String>>,
        progress: Option<Py<PyAny>>,
        branch: Option<String>,
    ) -> PyResult<Self> {
        let mode = write_mode(mode)?;
        let params = write_params(max_rows_per_file, max_bytes_per_file)?;
        let (schema, batches) = input_stream(data, progress)?;
        let dataset = run(py, async move {
            let location = location(&uri, storage_options)?.on_branch(branch.as_deref()).await?;
            Dataset::write(location, schema, batches, mode, &params).await
        })?;
        Ok(Self::new(dataset))
    }

    /// The URI the dataset was opened with.
    #[getter]
    fn uri(&self) -> String {
        self.snapshot().uri().to_string()
    }

    /// The version this handle reads.
    #[getter]
    fn version(&self) -> u64 {
        self.snapshot().version()
    }

    /// The Arrow schema (exported through `__arrow_c_schema__`).
    #[getter]
    fn schema(&self) -> PySchema {
        PySchema::new(self.snapshot().schema().clone())
    }

    /// The Pilum file format version of this version's data: the newest
    /// `major.minor` among its data files, or the version this library
    /// writes when the version has no data files.
    #[getter]
    fn data_storage_version(&self, py: Python<'_>) -> PyResult<String> {
        let dataset = self.snapshot();
        let fragments = run(py, async move { dataset.fragments().await })?;
        let newest = fragments
            .iter()
            .flat_map(|f| f.files.iter().map(|d| d.format_version))
            .max()
            .unwrap_or((
                u32::from(pilum::FILE_MAJOR_VERSION),
                u32::from(pilum::FILE_MINOR_VERSION),
            ));
        Ok(format!("{}.{}", newest.0, newest.1))
    }

    /// Live rows in this version per the manifest, and fragment count.
    fn stats(&self) -> (u64, usize) {
        let dataset = self.snapshot();
        (dataset.manifest().live_rows(), dataset.manifest().fragment_count())
    }

    /// The newest committed version.
    fn latest_version(&self, py: Python<'_>) -> PyResult<u64> {
        let dataset = self.snapshot();
        run(py, async move { dataset.latest_version().await })
    }

    /// The version history, oldest first.
    fn versions<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let dataset = self.snapshot();
        let versions = run(py, async move { dataset.versions().await })?;
        versions
            .into_iter()
            .map(|info| {
                let entry = PyDict::new(py);
                entry.set_item("version", info.version)?;
                entry.set_item("timestamp", info.timestamp)?;
                entry.set_item("operation", info.operation.name())?;
                entry.set_item("num_rows", info.num_rows)?;
                entry.set_item("num_fragments", info.num_fragments)?;
                entry.set_item("metadata", info.properties)?;
                Ok(entry)
            })
            .collect()
    }

    /// A handle at another version, tag or time (this one is unchanged).
    #[pyo3(signature = (version=None, tag=None, asof_micros=None, latest=false))]
    fn checkout(
        &self,
        py: Python<'_>,
        version: Option<u64>,
        tag: Option<String>,
        asof_micros: Option<i64>,
        latest: bool,
    ) -> PyResult<Self> {
        let dataset = self.snapshot();
        let moved = run(py, async move {
            if latest {
                return dataset.checkout_latest().await;
            }
            checkout(dataset, version, tag, asof_micros).await
        })?;
        Ok(Self::new(moved))
    }

    /// Commits this (older) version as the newest one.
    fn restore(&self, py: Python<'_>) -> PyResult<()> {
        let mut dataset = self.snapshot();
        let restored = run(py, async move {
            dataset.restore().await?;
            Ok::<_, TableError>(dataset)
        })?;
        self.replace(restored);
        Ok(())
    }

    /// Deletes tag `name`.
    fn tag_delete(&self, py: Python<'_>, name: String) -> PyResult<()> {
        let dataset = self.snapshot();
        run(py, async move { dataset.tags().delete(&name).await })
    }

    /// The version tag `name` points at.
    fn tag_version(&self, py: Python<'_>, name: String) -> PyResult<u64> {
        let dataset = self.snapshot();
        run(py, async move { dataset.tags().get(&name).await })
    }

    /// Rows matching `filter` (all live rows without one).
    #[pyo3(signature = (filter=None, use_scalar_index=true))]
    fn count_rows(&self, py: Python<'_>, filter: Option<String>, use_scalar_index: bool) -> PyResult<u64> {
        let dataset = self.snapshot();
        run(py, async move {
            match filter {
                Some(filter) => {
                    dataset
                        .scan()
                        .filter(filter)
                        .use_scalar_index(use_scalar_index)
                        .count_rows()
                        .await
                }
                None => dataset.count_rows(None).await,
            }
        })
    }

    /// The fragments: `(id, physical_rows, deleted_rows, [(path, size)], deletion_path)`.
    #[allow(clippy::type_complexity)]
    fn fragments(&self, py: Python<'_>) -> PyResult<Vec<(u64, u64, u64, Vec<(String, u64)>, Option<String>)>> {
        let dataset = self.snapshot();
        let fragments = run(py, async move { dataset.fragments().await })?;
        Ok(fragments
            .iter()
            .map(|f| {
                let deleted = f.deletion.as_ref().map_or(0, |d| d.num_deleted);
                let files = f.files.iter().map(|d| (d.path.clone(), d.size)).collect();
                let deletion = f.deletion.as_ref().map(|d| d.path.clone());
                (f.id, f.physical_rows, deleted, files, deletion)
            })
            .collect())
    }

    /// Rows at live positions `indices`, in that order.
    #[pyo3(signature = (indices, columns=None))]
    fn take(&self, py: Python<'_>, indices: Vec<u64>, columns: Option<Vec<String>>) -> PyResult<PyTable> {
        let dataset = self.snapshot();
        let batch = run(py, async move {
            let names: Option<Vec<&str>> = columns.as_ref().map(|c| c.iter().map(String::as_str).collect());
            dataset.take(&indices, names.as_deref()).await
        })?;
        let schema = batch.schema();
        PyTable::try_new(vec![batch], schema)
    }

    /// Rows with stable row ids `ids`, in that order.
    #[pyo3(signature = (ids, columns=None))]
    fn take_rows(&self, py: Python<'_>, ids: Vec<u64>, columns: Option<Vec<String>>) -> PyResult<PyTable> {
        let dataset = self.snapshot();
        let batch = run(py, async move {
            let names: Option<Vec<&str>> = columns.as_ref().map(|c| c.iter().map(String::as_str).collect());
            dataset.take_rows(&ids, names.as_deref()).await
        })?;
        let schema = batch.schema();
        PyTable::try_new(vec![batch], schema)
    }

    /// Deletes rows matching a SQL predicate; returns how many.
    fn delete(&self, py: Python<'_>, predicate: String) -> PyResult<u64> {
        self.mutate(py, move |mut dataset| async move {
            let deleted = dataset.delete(&predicate).await?;
            Ok((dataset, deleted))
        })
    }

    /// Sets columns to SQL expressions where `predicate` holds; returns rows updated.
    #[pyo3(signature = (values, predicate=None))]
    fn update(&self, py: Python<'_>, values: Vec<(String, String)>, predicate: Option<String>) -> PyResult<u64> {
        self.mutate(py, move |mut dataset| async move {
            let pairs: Vec<(&str, &str)> = values.iter().map(|(c, e)| (c.as_str(), e.as_str())).collect();
            let updated = dataset.update(&pairs, predicate.as_deref()).await?;
            Ok((dataset, updated))
        })
    }

    /// Sets configuration keys (`None` removes one).
    fn update_config(&self, py: Python<'_>, values: HashMap<String, Option<String>>) -> PyResult<()> {
        self.mutate(py, move |mut dataset| async move {
            dataset.update_config(values, std::iter::empty()).await?;
            Ok((dataset, ()))
        })
    }

    /// Scans as a lazy Arrow stream.
    #[pyo3(signature = (columns=None, filter=None, limit=None, offset=None, with_row_id=false,
        with_row_address=false, batch_size=None, fragments=None, late_materialization=None,
        use_scalar_index=true))]
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        py: Python<'_>,
        columns: Option<Vec<String>>,
        filter: Option<String>,
        limit: Option<u64>,
        offset: Option<u64>,
        with_row_id: bool,
        with_row_address: bool,
        batch_size: Option<usize>,
        fragments: Option<Vec<u64>>,
        late_materialization: Option<bool>,
        use_scalar_index: bool,
    ) -> PyResult<PyRecordBatchReader> {
        let scanner = crate::scan::ScanRequest {
            use_scalar_index,
            columns,
            filter,
            limit,
            offset,
            with_row_id,
            with_row_address,
            batch_size,
            fragments,
            late_materialization,
        }
        .scanner(&self.snapshot());
        let (schema, stream) = run(py, async move {
            let schema = scanner.output_schema()?;
            Ok::<_, TableError>((schema, scanner.try_into_stream().await?))
        })?;
        Ok(BlockingReader::new(schema, stream).into_py())
    }

    /// The schema a scan with these options returns.
    #[pyo3(signature = (columns=None, with_row_id=false, with_row_address=false))]
    fn scan_schema(
        &self,
        columns: Option<Vec<String>>,
        with_row_id: bool,
        with_row_address: bool,
    ) -> PyResult<PySchema> {
        let scanner = crate::scan::ScanRequest {
            columns,
            with_row_id,
            with_row_address,
            ..Default::default()
        }
        .scanner(&self.snapshot());
        Ok(PySchema::new(scanner.output_schema().map_err(PilumErr::from)?))
    }
}

impl PyDataset {
    /// Runs a write operation on a copy of the handle and, when it commits,
    /// points this handle at the new version.
    pub fn mutate<T, F, Fut>(&self, py: Python<'_>, operation: F) -> PyResult<T>
    where
        T: Send,
        F: FnOnce(Dataset) -> Fut + Send,
        Fut: std::future::Future<Output = Result<(Dataset, T), PilumErr>> + Send,
    {
        let dataset = self.snapshot();
        let (dataset, value) = run(py, async move { operation(dataset).await })?;
        self.replace(dataset);
        Ok(value)
    }
}
