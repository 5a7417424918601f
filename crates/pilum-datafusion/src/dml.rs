//! DML plans: `INSERT` through a data sink, `DELETE` and `UPDATE` through a
//! one-row operator. Nothing changes until the plan runs (so `EXPLAIN` of a
//! statement is harmless), and each statement commits at most one version.

use crate::error::external;
use crate::filters::display_sql;
use crate::provider::Shared;
use crate::views::conform;
use arrow_array::{ArrayRef, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::sink::DataSink;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::{StreamExt, TryStreamExt};
use pilum_table::{BatchStream, Dataset, Predicate, TableError, WriteMode, WriteParams};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Appends (or, for `INSERT OVERWRITE`, replaces) a table's rows.
#[derive(Debug)]
pub(crate) struct PilumSink {
    table: Arc<Shared>,
    schema: SchemaRef,
    overwrite: bool,
}

impl PilumSink {
    pub(crate) fn new(table: Arc<Shared>, schema: SchemaRef, overwrite: bool) -> Self {
        Self {
            table,
            schema,
            overwrite,
        }
    }
}

impl DisplayAs for PilumSink {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let mode = if self.overwrite { "overwrite" } else { "append" };
        write!(f, "PilumSink: uri={}, mode={mode}", self.table.current().uri())
    }
}

#[async_trait]
impl DataSink for PilumSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(&self, data: SendableRecordBatchStream, _context: &Arc<TaskContext>) -> Result<u64> {
        let _writing = self.table.writes.lock().await;
        let rows = Arc::new(AtomicU64::new(0));
        let mut batches = data
            .try_filter(|batch| futures::future::ready(batch.num_rows() > 0))
            .and_then({
                // Inserted string columns arrive as views; store them as the dataset's types.
                let schema = self.schema.clone();
                move |batch| futures::future::ready(conform(batch, &schema))
            })
            .map_err(TableError::from)
            .inspect_ok({
                let rows = rows.clone();
                move |batch| {
                    rows.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
                }
            })
            .boxed()
            .peekable();
        let empty = std::pin::Pin::new(&mut batches).peek().await.is_none();
        if empty && !self.overwrite {
            // Appending nothing commits nothing.
            return Ok(0);
        }
        let stream: BatchStream = batches.boxed();
        let mut dataset = self.table.current();
        if self.overwrite {
            dataset = Dataset::write(
                dataset.location().clone(),
                self.schema.clone(),
                stream,
                WriteMode::Overwrite,
                &WriteParams::default(),
            )
            .await
            .map_err(external)?;
        } else {
            dataset
                .append(stream, &WriteParams::default())
                .await
                .map_err(external)?;
        }
        self.table.set(dataset);
        Ok(rows.load(Ordering::Relaxed))
    }
}

/// A row-level change by SQL conditions over the table's columns.
#[derive(Debug, Clone)]
pub(crate) enum DmlOp {
    /// Delete the rows matching the predicate (all rows for `None`).
    Delete { predicate: Option<Expr> },
    /// Set columns to SQL expressions where the predicate matches.
    Update {
        assignments: Vec<(String, String)>,
        predicate: Option<Expr>,
    },
}

impl DmlOp {
    /// Runs the change on `dataset`, returning the rows it touched.
    async fn apply(&self, dataset: &mut Dataset) -> pilum_table::Result<u64> {
        match self {
            Self::Delete { predicate } => match predicate {
                Some(expr) => dataset.delete(expr.clone()).await,
                None => dataset.delete("true").await,
            },
            Self::Update { assignments, predicate } if assignments.is_empty() => {
                // Every column set to itself: nothing to commit.
                let mut scan = dataset.scan();
                if let Some(expr) = predicate {
                    scan = scan.filter(expr.clone());
                }
                scan.count_rows().await
            }
            Self::Update { assignments, predicate } => {
                let values: Vec<(&str, &str)> = assignments.iter().map(|(c, v)| (c.as_str(), v.as_str())).collect();
                dataset
                    .update_matching(&values, predicate.clone().map(Predicate::from))
                    .await
            }
        }
    }
}

/// Runs a [`DmlOp`] when executed and returns one row: the `count` of rows changed.
#[derive(Debug)]
pub(crate) struct DmlExec {
    table: Arc<Shared>,
    op: DmlOp,
    properties: Arc<PlanProperties>,
}

fn count_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("count", DataType::UInt64, false)]))
}

impl DmlExec {
    pub(crate) fn new(table: Arc<Shared>, op: DmlOp) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(count_schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Self { table, op, properties }
    }
}

impl DisplayAs for DmlExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let uri = self.table.current().uri().to_string();
        match &self.op {
            DmlOp::Delete { predicate } => write!(
                f,
                "PilumDeleteExec: uri={uri}, predicate={}",
                predicate.as_ref().map_or_else(|| "true".to_string(), display_sql)
            ),
            DmlOp::Update { assignments, predicate } => {
                let set: Vec<String> = assignments.iter().map(|(c, v)| format!("{c} = {v}")).collect();
                write!(
                    f,
                    "PilumUpdateExec: uri={uri}, set=[{}], predicate={}",
                    set.join(", "),
                    predicate.as_ref().map_or_else(|| "true".to_string(), display_sql)
                )
            }
        }
    }
}

impl ExecutionPlan for DmlExec {
    fn name(&self) -> &str {
        "PilumDmlExec"
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
            Err(DataFusionError::Internal("PilumDmlExec has no children".into()))
        }
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "PilumDmlExec has no partition {partition}"
            )));
        }
        let (table, op) = (self.table.clone(), self.op.clone());
        let run = async move {
            let _writing = table.writes.lock().await;
            let mut dataset = table.current();
            let count = op.apply(&mut dataset).await.map_err(external)?;
            table.set(dataset);
            let column: ArrayRef = Arc::new(UInt64Array::from(vec![count]));
            Ok(RecordBatch::try_new(count_schema(), vec![column])?)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            count_schema(),
            futures::stream::once(run),
        )))
    }
}
