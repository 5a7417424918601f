//! The table provider.

use crate::exec::PilumScanExec;
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::{Result, Statistics};
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use pilum_table::Dataset;
use std::sync::Arc;

/// One version of a dataset as a DataFusion table.
#[derive(Debug, Clone)]
pub struct PilumTable {
    dataset: Dataset,
}

impl PilumTable {
    /// A table over the dataset's checked-out version.
    pub fn new(dataset: Dataset) -> Self {
        Self { dataset }
    }

    /// The dataset version this table reads.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }
}

/// Registers `dataset` (at its checked-out version) as table `name`.
pub fn register_dataset(ctx: &SessionContext, name: &str, dataset: Dataset) -> Result<()> {
    ctx.register_table(name, Arc::new(PilumTable::new(dataset)))?;
    Ok(())
}

/// The SQL text of a filter our scanner can evaluate itself, if any.
/// Column references lose their table qualifier (the scanner sees one table).
pub(crate) fn filter_sql(expr: &Expr) -> Option<String> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    let unqualified = expr
        .clone()
        .transform(|e| {
            Ok(match e {
                Expr::Column(column) => {
                    Transformed::yes(Expr::Column(datafusion::common::Column::new_unqualified(column.name)))
                }
                other => Transformed::no(other),
            })
        })
        .ok()?
        .data;
    Some(datafusion::sql::unparser::expr_to_sql(&unqualified).ok()?.to_string())
}

#[async_trait]
impl TableProvider for PilumTable {
    fn schema(&self) -> SchemaRef {
        self.dataset.schema().clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        // The scan evaluates a pushed filter on every row it reads (deleted
        // rows excluded), so a filter it can take is applied exactly.
        Ok(filters
            .iter()
            .map(|f| match filter_sql(f) {
                Some(sql) if compiles(&self.dataset, &sql) => TableProviderFilterPushDown::Exact,
                _ => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    fn statistics(&self) -> Option<Statistics> {
        let rows = self.dataset.manifest().live_rows() as usize;
        let mut statistics = Statistics::new_unknown(self.dataset.schema());
        statistics.num_rows = Precision::Exact(rows);
        Some(statistics)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let predicate = filters
            .iter()
            .map(|f| filter_sql(f).map(|sql| format!("({sql})")))
            .collect::<Option<Vec<_>>>()
            .map(|parts| parts.join(" AND "))
            .filter(|sql| !sql.is_empty());
        let partitions = state.config().target_partitions().max(1);
        Ok(Arc::new(PilumScanExec::try_new(
            self.dataset.clone(),
            projection.cloned(),
            predicate,
            limit,
            partitions,
        )?))
    }
}

fn compiles(dataset: &Dataset, sql: &str) -> bool {
    pilum_table::CompiledExpr::compile_predicate(sql, dataset.schema()).is_ok()
}
