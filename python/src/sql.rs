//! SQL from Python: `_Session` holds a DataFusion context with Pilum datasets
//! registered by name; results come back as Arrow tables.

use crate::dataset::PyDataset;
use crate::errors::PilumErr;
use crate::runtime::run;
use datafusion::prelude::{SessionConfig, SessionContext};
use pilum_datafusion::Session;
use pyo3::prelude::*;
use pyo3_arrow::PyTable;

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
    fn sql(&self, py: Python<'_>, query: String) -> PyResult<PyTable> {
        let session = self.session.clone();
        let (batches, schema) = run(py, async move {
            let frame = session.sql(&query).await?;
            let schema = std::sync::Arc::new(frame.schema().as_arrow().clone());
            let batches = frame.collect().await?;
            Ok::<_, PilumErr>((batches, schema))
        })?;
        PyTable::try_new(batches, schema)
    }
}
