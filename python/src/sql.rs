//! SQL from Python: `_Session` holds a DataFusion context with Pilum datasets
//! registered by name; results come back as Arrow tables.

use crate::dataset::PyDataset;
use crate::errors::PilumErr;
use crate::runtime::run;
use datafusion::prelude::SessionContext;
use pyo3::prelude::*;
use pyo3_arrow::PyTable;

/// A SQL session over Pilum datasets.
#[pyclass(name = "_Session", module = "pilum._native", frozen)]
pub struct PySession {
    context: SessionContext,
}

#[pymethods]
impl PySession {
    /// A new session; `ordered` runs queries on one partition so rows keep scan order.
    #[new]
    #[pyo3(signature = (ordered=false))]
    fn new(ordered: bool) -> Self {
        let context = if ordered {
            SessionContext::new_with_config(datafusion::prelude::SessionConfig::new().with_target_partitions(1))
        } else {
            SessionContext::new()
        };
        Self { context }
    }

    /// Registers `dataset` (at its current version) as table `name`, replacing any table of that name.
    fn register(&self, name: String, dataset: &PyDataset) -> PyResult<()> {
        let dataset = dataset.snapshot();
        self.context.deregister_table(name.as_str()).map_err(PilumErr::from)?;
        pilum_datafusion::register_dataset(&self.context, &name, dataset).map_err(PilumErr::from)?;
        Ok(())
    }

    /// Runs `query` (statements with effects, such as DML, run too) and returns all rows.
    fn sql(&self, py: Python<'_>, query: String) -> PyResult<PyTable> {
        let context = self.context.clone();
        let (batches, schema) = run(py, async move {
            let frame = context.sql(&query).await?;
            let schema = std::sync::Arc::new(frame.schema().as_arrow().clone());
            let batches = frame.collect().await?;
            Ok::<_, PilumErr>((batches, schema))
        })?;
        PyTable::try_new(batches, schema)
    }
}
