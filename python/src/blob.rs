//! Blob values as Python file-like objects: reads fetch only the requested
//! byte ranges, so large images, audio or video are read lazily.

use crate::dataset::PyDataset;
use crate::errors::invalid_argument;
use crate::runtime::run;
use pilum::{BlobFile, BlobRows, TableError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::io::SeekFrom;
use std::sync::Mutex;

/// One blob, opened for reading (the Python `pilum.BlobFile` wraps it).
#[pyclass(name = "_BlobFile", module = "pilum._native", frozen)]
pub struct PyBlobFile {
    inner: Mutex<BlobFile>,
}

impl PyBlobFile {
    fn blob(&self) -> BlobFile {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[pymethods]
impl PyBlobFile {
    /// Size in bytes.
    fn size(&self) -> u64 {
        self.blob().size()
    }

    /// Current position.
    fn tell(&self) -> u64 {
        self.blob().tell()
    }

    /// Moves the position (`whence` 0: start, 1: current, 2: end); returns it.
    #[pyo3(signature = (offset, whence=0))]
    fn seek(&self, offset: i64, whence: u8) -> PyResult<u64> {
        let target = match whence {
            0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| invalid_argument("negative seek position"))?),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            other => return Err(invalid_argument(format!("invalid whence {other}"))),
        };
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Ok(guard
            .seek(target)
            .map_err(TableError::from)
            .map_err(crate::errors::PilumErr::from)?)
    }

    /// Reads up to `size` bytes (to the end when negative) from the position, with one ranged request.
    #[pyo3(signature = (size=-1))]
    fn read<'py>(&self, py: Python<'py>, size: i64) -> PyResult<Bound<'py, PyBytes>> {
        let mut blob = self.blob();
        let want = if size < 0 {
            blob.size().saturating_sub(blob.tell())
        } else {
            size as u64
        };
        let (bytes, blob) = run(py, async move {
            let bytes = blob.read(want).await.map_err(TableError::from)?;
            Ok::<_, TableError>((bytes, blob))
        })?;
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .seek(SeekFrom::Start(blob.tell()))
            .ok();
        Ok(PyBytes::new(py, &bytes))
    }
}

#[pymethods]
impl PyDataset {
    /// Opens blobs of `column` by live position (`indices`) or stable row id (`ids`).
    #[pyo3(signature = (column, indices=None, ids=None))]
    fn take_blobs(
        &self,
        py: Python<'_>,
        column: String,
        indices: Option<Vec<u64>>,
        ids: Option<Vec<u64>>,
    ) -> PyResult<Vec<Option<PyBlobFile>>> {
        let dataset = self.snapshot();
        let blobs = run(py, async move {
            let rows = match (&indices, &ids) {
                (Some(indices), None) => BlobRows::Offsets(indices),
                (None, Some(ids)) => BlobRows::RowIds(ids),
                _ => {
                    return Err(TableError::InvalidArgument(
                        "pass exactly one of indices and ids".into(),
                    ));
                }
            };
            dataset.take_blobs(&column, rows).await
        })?;
        Ok(blobs
            .into_iter()
            .map(|blob| {
                blob.map(|inner| PyBlobFile {
                    inner: Mutex::new(inner),
                })
            })
            .collect())
    }
}
