//! The scan operator: one partition per group of fragments.

use crate::filters::display_sql;
use crate::statistics::column_statistics;
use crate::views::{conform, view_schema};
use arrow_schema::SchemaRef;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{ColumnStatistics, DataFusionError, Result, Statistics};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, StatisticsArgs};
use futures::{StreamExt, TryStreamExt};
use pilum_table::Dataset;
use std::sync::Arc;

/// Scans a dataset version with a projection, an optional predicate and
/// an optional limit; partition `i` reads the `i`-th contiguous group of fragments.
#[derive(Debug)]
pub struct PilumScanExec {
    dataset: Dataset,
    columns: Vec<String>,
    predicate: Option<Expr>,
    limit: Option<usize>,
    /// Share of rows the predicate is estimated to keep.
    selectivity: f64,
    groups: Vec<Vec<u64>>,
    /// Live rows of each group, from the manifest.
    group_rows: Vec<u64>,
    /// Whether string and binary columns are decoded to view types.
    view_types: bool,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl PilumScanExec {
    /// Plans the scan over at most `partitions` partitions.
    pub async fn try_new(
        dataset: Dataset,
        projection: Option<Vec<usize>>,
        predicate: Option<Expr>,
        limit: Option<usize>,
        partitions: usize,
    ) -> Result<Self> {
        let full = dataset.schema().clone();
        let indices = projection.unwrap_or_else(|| (0..full.fields().len()).collect());
        let schema = Arc::new(full.project(&indices)?);
        let columns = indices.iter().map(|&i| full.field(i).name().clone()).collect();
        let fragments = dataset.fragments().await.map_err(crate::error::external)?;
        let per_group = fragments.len().div_ceil(partitions.max(1)).max(1);
        let mut groups: Vec<Vec<u64>> = fragments
            .chunks(per_group)
            .map(|g| g.iter().map(|f| f.id).collect())
            .collect();
        let mut group_rows: Vec<u64> = fragments
            .chunks(per_group)
            .map(|g| g.iter().map(|f| f.live_rows()).sum())
            .collect();
        if groups.is_empty() {
            groups.push(Vec::new());
            group_rows.push(0);
        }
        let properties = Arc::new(plan_properties(schema.clone(), groups.len()));
        Ok(Self {
            dataset,
            columns,
            predicate,
            limit,
            selectivity: DEFAULT_FILTER_SELECTIVITY,
            groups,
            group_rows,
            view_types: false,
            schema,
            properties,
        })
    }

    /// Emits string and binary columns as view types (see [`crate::views`]).
    pub fn with_view_types(mut self, view_types: bool) -> Self {
        if view_types && !self.view_types {
            self.view_types = true;
            self.schema = view_schema(&self.schema);
            self.properties = Arc::new(plan_properties(self.schema.clone(), self.groups.len()));
        }
        self
    }

    /// Uses `selectivity` (e.g. sampled) instead of the default guess for
    /// the predicate's share of rows in the statistics.
    pub fn with_selectivity(mut self, selectivity: Option<f64>) -> Self {
        if let Some(s) = selectivity.filter(|s| (0.0..=1.0).contains(s)) {
            self.selectivity = s;
        }
        self
    }

    /// Rows partition `partition` returns at most (all partitions for `None`).
    fn max_rows(&self, partition: Option<usize>) -> usize {
        let capped = |live: &u64| self.limit.map_or(*live as usize, |l| (*live as usize).min(l));
        match partition {
            Some(p) => self.group_rows.get(p).map_or(0, capped),
            None => self.group_rows.iter().map(capped).sum(),
        }
    }
}

fn plan_properties(schema: SchemaRef, partitions: usize) -> PlanProperties {
    PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(partitions),
        EmissionType::Incremental,
        Boundedness::Bounded,
    )
}

/// Share of rows a pushed filter is assumed to keep without an estimate
/// (DataFusion's default filter selectivity).
const DEFAULT_FILTER_SELECTIVITY: f64 = 0.2;

/// Assumed in-memory bytes of one variable-width value (with its offset).
const VARIABLE_VALUE_BYTES: usize = 32;

/// Estimated in-memory bytes of one row of `schema`.
fn row_width(schema: &arrow_schema::Schema) -> usize {
    schema
        .fields()
        .iter()
        .map(|f| pilum_table::value_bytes(f.data_type(), VARIABLE_VALUE_BYTES))
        .sum::<usize>()
        .max(1)
}

impl DisplayAs for PilumScanExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "PilumScanExec: uri={}, version={}, columns=[{}], predicate={}, selectivity={:.4}, limit={:?}, partitions={}",
            self.dataset.uri(),
            self.dataset.version(),
            self.columns.join(", "),
            self.predicate.as_ref().map_or_else(|| "none".to_string(), display_sql),
            self.selectivity,
            self.limit,
            self.groups.len()
        )
    }
}

impl ExecutionPlan for PilumScanExec {
    fn name(&self) -> &str {
        "PilumScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    #[allow(deprecated)]
    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal("PilumScanExec has no children".into()))
        }
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let rows = self.max_rows(args.partition());
        let mut statistics = Statistics::new_unknown(&self.schema);
        let fragments = args.partition().and_then(|p| self.groups.get(p)).map(Vec::as_slice);
        statistics.column_statistics = column_statistics(&self.dataset, &self.schema, fragments);
        if self.predicate.is_some() || self.limit.is_some() {
            // Bounds stay bounds on a subset of the rows, but not exact ones.
            statistics.column_statistics = statistics
                .column_statistics
                .into_iter()
                .map(ColumnStatistics::to_inexact)
                .collect();
        }
        let (rows, exact) = match &self.predicate {
            None => (rows, true),
            Some(_) => ((rows as f64 * self.selectivity).ceil() as usize, false),
        };
        statistics.num_rows = if exact {
            Precision::Exact(rows)
        } else {
            Precision::Inexact(rows)
        };
        // Planners compare sizes in bytes first (as Parquet reports them), so
        // give an in-memory estimate of the projected columns.
        statistics.total_byte_size = Precision::Inexact(rows.saturating_mul(row_width(&self.schema)));
        Ok(Arc::new(statistics))
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let group = self
            .groups
            .get(partition)
            .cloned()
            .ok_or_else(|| DataFusionError::Internal(format!("no partition {partition}")))?;
        let mut scan = self
            .dataset
            .scan()
            .project(self.columns.clone())
            .with_fragments(group)
            .string_views(self.view_types);
        if let Some(predicate) = &self.predicate {
            scan = scan.filter(predicate.clone());
        }
        if let Some(limit) = self.limit {
            scan = scan.limit(Some(limit as u64), None);
        }
        let schema = self.schema.clone();
        let stream = futures::stream::once(async move { scan.try_into_stream().await })
            .try_flatten()
            .map_err(|e| DataFusionError::External(Box::new(e)))
            // A no-op unless the scan's types drift from the plan's schema.
            .and_then(move |batch| futures::future::ready(conform(batch, &schema)));
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            stream.boxed(),
        )))
    }
}
