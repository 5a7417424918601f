//! The table provider.

use crate::dml::{DmlExec, DmlOp, PilumSink};
use crate::exec::PilumScanExec;
use crate::filters::{conjunction, expr_sql, pushable_filter};
use crate::guard::{ensure_guarded, install_dml_guard};
use crate::statistics::column_statistics;
use crate::views::{view_schema, views_enabled};
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::{DataFusionError, Result, SchemaExt, Statistics};
use datafusion::datasource::TableType;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use pilum_table::Dataset;
use std::sync::{Arc, RwLock};

/// Blocks of 1,024 rows sampled to estimate a pushed filter's selectivity.
const SELECTIVITY_SAMPLE_BLOCKS: usize = 16;

/// A dataset as a DataFusion table.
///
/// Queries read the version the table holds; `INSERT INTO`, `DELETE` and
/// `UPDATE` each commit one new version (none when they change no rows) and
/// move the table to it, so the next query sees the change. A table made
/// with [`PilumTable::snapshot`] is read-only. `DELETE` and `UPDATE` run only
/// in a session whose analyzer has the [`DmlGuard`](crate::DmlGuard)
/// (installed by [`register_dataset`], [`Session`](crate::Session) and
/// [`install_dml_guard`](crate::install_dml_guard)); elsewhere they are
/// refused, whoever registered the table.
#[derive(Debug, Clone)]
pub struct PilumTable {
    pub(crate) shared: Arc<Shared>,
    /// Whether string and binary columns are presented as view types.
    view_types: bool,
}

/// State shared by a table and the DML plans it hands out.
#[derive(Debug)]
pub(crate) struct Shared {
    current: RwLock<Dataset>,
    /// Serialises this table's writes so each builds on the previous one.
    pub(crate) writes: tokio::sync::Mutex<()>,
    read_only: bool,
}

impl Shared {
    pub(crate) fn current(&self) -> Dataset {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn set(&self, dataset: Dataset) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = dataset;
    }
}

impl PilumTable {
    /// A writable table over the dataset's checked-out version. Its string
    /// and binary columns read as `Utf8View` / `BinaryView`, as DataFusion
    /// reads Parquet by default; see [`PilumTable::with_view_types`].
    pub fn new(dataset: Dataset) -> Self {
        Self::build(dataset, false)
    }

    /// A read-only table over one version (time travel).
    pub fn snapshot(dataset: Dataset) -> Self {
        Self::build(dataset, true)
    }

    fn build(dataset: Dataset, read_only: bool) -> Self {
        Self {
            shared: Arc::new(Shared {
                current: RwLock::new(dataset),
                writes: tokio::sync::Mutex::new(()),
                read_only,
            }),
            view_types: true,
        }
    }

    /// Presents string and binary columns as view types (`true`, the
    /// default) or as stored (`false`). Stored bytes are the same either way.
    pub fn with_view_types(mut self, view_types: bool) -> Self {
        self.view_types = view_types;
        self
    }

    /// A table for `dataset` that follows `config`'s
    /// `datafusion.execution.parquet.schema_force_view_types`.
    pub(crate) fn for_session(dataset: Dataset, config: &SessionConfig) -> Self {
        Self::new(dataset).with_view_types(views_enabled(config))
    }

    /// The dataset version this table reads now.
    pub fn dataset(&self) -> Dataset {
        self.shared.current()
    }

    /// Whether DML is refused.
    pub fn is_read_only(&self) -> bool {
        self.shared.read_only
    }

    fn check_writable(&self) -> Result<()> {
        if self.shared.read_only {
            let dataset = self.dataset();
            return Err(DataFusionError::Plan(format!(
                "{} at version {} is a read-only snapshot",
                dataset.uri(),
                dataset.version()
            )));
        }
        Ok(())
    }
}

/// Registers `dataset` (at its checked-out version) as table `name`, and
/// installs the check that refuses DML this integration cannot apply exactly.
pub fn register_dataset(ctx: &SessionContext, name: &str, dataset: Dataset) -> Result<()> {
    install_dml_guard(ctx);
    let table = PilumTable::for_session(dataset, &ctx.copied_config());
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

#[async_trait]
impl TableProvider for PilumTable {
    fn schema(&self) -> SchemaRef {
        let dataset = self.dataset();
        if self.view_types {
            view_schema(dataset.schema())
        } else {
            dataset.schema().clone()
        }
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        // The scan evaluates a pushed filter on every live row it reads, so a
        // filter it takes is applied exactly; the rest stay with DataFusion.
        let dataset = self.dataset();
        Ok(filters
            .iter()
            .map(|f| match pushable_filter(f, dataset.schema()) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    fn statistics(&self) -> Option<Statistics> {
        let dataset = self.dataset();
        let schema = self.schema();
        let mut statistics = Statistics::new_unknown(&schema);
        statistics.num_rows = Precision::Exact(dataset.manifest().live_rows() as usize);
        statistics.column_statistics = column_statistics(&dataset, &schema, None);
        Some(statistics)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let dataset = self.dataset();
        // DataFusion passes only the filters accepted above; each must still
        // compile, or the scan would return rows the query excludes.
        let mut parts = Vec::with_capacity(filters.len());
        for filter in filters {
            let expr = pushable_filter(filter, dataset.schema())
                .ok_or_else(|| DataFusionError::Internal(format!("filter {filter} cannot be pushed")))?;
            parts.push(expr);
        }
        let predicate = datafusion::logical_expr::utils::conjunction(parts);
        // Planners size joins from the scan's row estimate; a sample beats a
        // fixed guess. A failed sample only loses the estimate.
        let selectivity = match &predicate {
            Some(expr) => dataset
                .estimate_selectivity(expr.clone(), SELECTIVITY_SAMPLE_BLOCKS)
                .await
                .ok()
                .flatten(),
            None => None,
        };
        let partitions = state.config().target_partitions().max(1);
        let exec = PilumScanExec::try_new(dataset, projection.cloned(), predicate, limit, partitions)
            .await?
            .with_view_types(self.view_types)
            .with_selectivity(selectivity);
        Ok(Arc::new(exec))
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.check_writable()?;
        let overwrite = match insert_op {
            InsertOp::Append => false,
            InsertOp::Overwrite => true,
            InsertOp::Replace => {
                return Err(DataFusionError::NotImplemented(
                    "REPLACE INTO a Pilum dataset; use INSERT INTO or INSERT OVERWRITE".into(),
                ));
            }
        };
        self.schema().logically_equivalent_names_and_types(&input.schema())?;
        let sink = PilumSink::new(self.shared.clone(), self.dataset().schema().clone(), overwrite);
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }

    async fn delete_from(&self, state: &dyn Session, filters: Vec<Expr>) -> Result<Arc<dyn ExecutionPlan>> {
        self.check_writable()?;
        ensure_guarded(state, "DELETE", self.dataset().uri(), &filters)?;
        let predicate = conjunction(&filters, self.dataset().schema())?;
        Ok(Arc::new(DmlExec::new(self.shared.clone(), DmlOp::Delete { predicate })))
    }

    async fn update(
        &self,
        state: &dyn Session,
        assignments: Vec<(String, Expr)>,
        filters: Vec<Expr>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.check_writable()?;
        let conditions: Vec<Expr> = filters
            .iter()
            .cloned()
            .chain(assignments.iter().map(|(_, value)| value.clone()))
            .collect();
        ensure_guarded(state, "UPDATE", self.dataset().uri(), &conditions)?;
        let predicate = conjunction(&filters, self.dataset().schema())?;
        let assignments = assignments
            .iter()
            .map(|(column, value)| Ok((column.clone(), expr_sql(value)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(DmlExec::new(
            self.shared.clone(),
            DmlOp::Update { assignments, predicate },
        )))
    }

    async fn truncate(&self, _state: &dyn Session) -> Result<Arc<dyn ExecutionPlan>> {
        self.check_writable()?;
        Ok(Arc::new(DmlExec::new(
            self.shared.clone(),
            DmlOp::Delete { predicate: None },
        )))
    }
}
