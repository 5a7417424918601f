//! SQL from Python: `_Session` holds a DataFusion context with Pilum datasets
//! registered by name; results come back as Arrow tables.

use crate::dataset::PyDataset;
use crate::errors::PilumErr;
use crate::runtime::run;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::compute::cast;
use datafusion::common::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};
use pilum_datafusion::Session;
use pyo3::prelude::*;
use pyo3_arrow::PyTable;
use std::sync::Arc;

/// A SQL session over Pilum datasets.
#[pyclass(name = "_Session", module = "pilum._native", frozen)]
pub struct PySession {
    session: Session,
}

#[pymethods]
impl PySession {
    /// A new session; `ordered` runs queries on one partition so rows keep scan order.
    #[new]
    #[pyo3(signature = (ordered=false))]
    fn new(ordered: bool) -> Self {
        let context = if ordered {
            SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1))
        } else {
            SessionContext::new()
        };
        Self {
            session: Session::with_context(context),
        }
    }

    /// Registers `dataset` (at its current version) as table `name`, replacing any table of that name.
    fn register(&self, name: String, dataset: &PyDataset) -> PyResult<()> {
        let dataset = dataset.snapshot();
        self.session.deregister(&name).map_err(PilumErr::from)?;
        self.session.register(&name, dataset).map_err(PilumErr::from)?;
        Ok(())
    }

    /// Runs `query` and returns all rows. `INSERT`, `DELETE` and `UPDATE`
    /// commit one version each; `pilum_scan('uri', version)` reads old versions.
    /// Strings come back as `string` / `binary` (DataFusion works on views).
    fn sql(&self, py: Python<'_>, query: String) -> PyResult<PyTable> {
        let session = self.session.clone();
        let (batches, schema) = run(py, async move {
            let frame = session.sql(&query).await?;
            let schema = without_views(frame.schema().as_arrow());
            let batches = frame
                .collect()
                .await?
                .into_iter()
                .map(|batch| cast_columns(batch, &schema))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, PilumErr>((batches, schema))
        })?;
        PyTable::try_new(batches, schema)
    }
}

/// `schema` with top-level view columns as plain `Utf8` / `Binary`.
fn without_views(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| match field.data_type() {
            DataType::Utf8View => field.as_ref().clone().with_data_type(DataType::Utf8),
            DataType::BinaryView => field.as_ref().clone().with_data_type(DataType::Binary),
            _ => field.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` with each column cast to its type in `schema`.
fn cast_columns(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, DataFusionError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| cast(column, field.data_type()))
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
