//! Scalar indices on `_Dataset`: BTREE, BITMAP, LABEL_LIST, NGRAM and
//! ZONEMAP builds with pylance's kind names.

use crate::dataset::PyDataset;
use crate::errors::invalid_argument;
use crate::maintain::progress_hook;
use pilum::{ScalarIndexParams, ScalarIndexType};
use pyo3::prelude::*;

#[pymethods]
impl PyDataset {
    /// Builds a scalar index of `index_type` (pylance's name) on `column`
    /// and commits it; `rows_per_zone` sizes a ZONEMAP's zones.
    #[allow(clippy::too_many_arguments)] // the Python call's keyword arguments
    #[pyo3(signature = (column, index_type, name=None, replace=false, rows_per_zone=None, progress=None))]
    fn create_scalar_index(
        &self,
        py: Python<'_>,
        column: String,
        index_type: &str,
        name: Option<String>,
        replace: bool,
        rows_per_zone: Option<u32>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<()> {
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
        self.mutate(py, move |mut dataset| async move {
            dataset.create_scalar_index(&params, &progress).await?;
            Ok((dataset, ()))
        })
    }
}
