//! Schema evolution and upserts on `_Dataset`: add, drop, alter and merge
//! columns; merge-insert. Each commits one version and moves the handle.

use crate::dataset::PyDataset;
use crate::errors::invalid_argument;
use crate::stream::input_stream;
use pilum::{ColumnAlteration, NewColumns};
use pyo3::prelude::*;
use pyo3_arrow::{PyDataType, PyRecordBatchReader, PySchema};

/// One `alter_columns` entry from Python: `(path, new name, nullable, data type)`.
type Alteration = (String, Option<String>, Option<bool>, Option<PyDataType>);

#[pymethods]
impl PyDataset {
    /// Adds columns computed by SQL expressions over existing columns.
    fn add_columns_sql(&self, py: Python<'_>, columns: Vec<(String, String)>) -> PyResult<()> {
        self.mutate(py, move |mut dataset| async move {
            dataset.add_columns(NewColumns::Sql(columns)).await?;
            Ok((dataset, ()))
        })
    }

    /// Adds all-null columns with the fields of `schema` (metadata only).
    fn add_columns_null(&self, py: Python<'_>, schema: PySchema) -> PyResult<()> {
        let fields: Vec<_> = schema
            .into_inner()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        self.mutate(py, move |mut dataset| async move {
            dataset.add_columns(NewColumns::AllNulls(fields)).await?;
            Ok((dataset, ()))
        })
    }

    /// Drops columns (metadata only).
    fn drop_columns(&self, py: Python<'_>, names: Vec<String>) -> PyResult<()> {
        self.mutate(py, move |mut dataset| async move {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            dataset.drop_columns(&names).await?;
            Ok((dataset, ()))
        })
    }

    /// Renames, changes nullability or casts columns: `(path, name, nullable, data_type)`.
    fn alter_columns(&self, py: Python<'_>, alterations: Vec<Alteration>) -> PyResult<()> {
        let alterations: Vec<ColumnAlteration> = alterations
            .into_iter()
            .map(|(path, rename, nullable, data_type)| ColumnAlteration {
                path,
                rename,
                nullable,
                data_type: data_type.map(PyDataType::into_inner),
            })
            .collect();
        self.mutate(py, move |mut dataset| async move {
            dataset.alter_columns(&alterations).await?;
            Ok((dataset, ()))
        })
    }

    /// Adds the columns of `data`, joined on `left_on` (dataset) = `right_on` (data).
    fn merge(&self, py: Python<'_>, data: PyRecordBatchReader, left_on: String, right_on: String) -> PyResult<()> {
        let (schema, batches) = input_stream(data, None)?;
        self.mutate(py, move |mut dataset| async move {
            dataset.merge(schema, batches, &left_on, &right_on).await?;
            Ok((dataset, ()))
        })
    }

    /// Upserts `data` keyed on `on`; returns `(inserted, updated, deleted)`.
    #[pyo3(signature = (data, on, update_all, update_condition, insert_all, delete_by_source, delete_condition))]
    #[allow(clippy::too_many_arguments)]
    fn merge_insert(
        &self,
        py: Python<'_>,
        data: PyRecordBatchReader,
        on: Vec<String>,
        update_all: bool,
        update_condition: Option<String>,
        insert_all: bool,
        delete_by_source: bool,
        delete_condition: Option<String>,
    ) -> PyResult<(u64, u64, u64)> {
        if on.is_empty() {
            return Err(invalid_argument("merge_insert needs at least one key column in `on`"));
        }
        let (_, batches) = input_stream(data, None)?;
        self.mutate(py, move |dataset| async move {
            let mut builder = dataset.merge_insert(on);
            if update_all {
                builder = builder.when_matched_update_all(update_condition.as_deref());
            }
            if insert_all {
                builder = builder.when_not_matched_insert_all();
            }
            if delete_by_source {
                builder = builder.when_not_matched_by_source_delete(delete_condition.as_deref());
            }
            let (dataset, stats) = builder.execute(batches).await?;
            Ok((dataset, (stats.inserted, stats.updated, stats.deleted)))
        })
    }
}
