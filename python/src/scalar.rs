//! Scalar indices on `_Dataset`: BTREE, BITMAP, LABEL_LIST, NGRAM and
//! ZONEMAP builds with pylance's kind names.

use crate::dataset::PyDataset;
use crate::errors::invalid_argument;
use crate::maintain::progress_hook;
use pilum::{ScalarIndexParams, ScalarIndexType};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

#[pymethods]
impl PyDataset {
    /// Builds a scalar index of `index_type` (pylance's name) on `column`
    /// and commits it; `rows_per_zone` sizes a ZONEMAP's zones. With
    /// `fragments`, builds one segment over them without committing and
    /// returns it serialized (a distributed build).
    #[allow(clippy::too_many_arguments)] // the Python call's keyword arguments
    #[pyo3(signature = (column, index_type, name=None, replace=false, rows_per_zone=None, progress=None,
                        fragments=None))]
    fn create_scalar_index<'py>(
        &self,
        py: Python<'py>,
        column: String,
        index_type: &str,
        name: Option<String>,
        replace: bool,
        rows_per_zone: Option<u32>,
        progress: Option<Py<PyAny>>,
        fragments: Option<Vec<u64>>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let kind = ScalarIndexType::parse(index_type).ok_or_else(|| {
            invalid_argument(format!(
                "index_type: unknown scalar index type {index_type:?} (BTREE, BITMAP, LABEL_LIST, NGRAM, ZONEMAP)"
            ))
        })?;
        let mut params = ScalarIndexParams::new(column, kind);
        params.name = name;
        params.replace = replace;
        if let Some(rows) = rows_per_zone {
            if kind != ScalarIndexType::ZoneMap {
                return Err(invalid_argument("rows_per_zone applies to ZONEMAP indices only"));
            }
            params.zone_rows = rows;
        }
        let progress = progress_hook(progress);
        let built = self.mutate(py, move |mut dataset| async move {
            if let Some(fragments) = fragments {
                let segment = dataset
                    .build_scalar_index_segment(&params, &fragments, &progress)
                    .await?;
                return Ok((dataset, Some(segment.to_bytes())));
            }
            dataset.create_scalar_index(&params, &progress).await?;
            Ok((dataset, None))
        })?;
        Ok(built.map(|bytes| PyBytes::new(py, &bytes)))
    }
}
