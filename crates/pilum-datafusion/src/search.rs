//! `pilum_search`: exact vector search in SQL.
//!
//! ```sql
//! SELECT id, _distance FROM pilum_search('data/images', 'emb', [0.1, -0.2, 0.3], 10);
//! SELECT * FROM pilum_search('data/images', 'emb', [0.1, -0.2, 0.3], 10, 'cosine');
//! SELECT * FROM pilum_search('data/images', 'emb', [0.1, -0.2, 0.3], 10, 'l2', 'label = ''cat''');
//! ```
//!
//! Arguments: the dataset URI, the vector column, the query vector (an
//! array literal), k, optionally the metric (`l2`, `cosine`, `dot`) and a
//! SQL filter applied before the search (so k rows come back whenever k
//! match; a `WHERE` on the result filters the k nearest instead). The
//! result is the dataset's columns, `_rowid` and `_distance`, nearest first,
//! compared exactly (no vector index yet).

use crate::error::external;
use crate::function::{block_on, literal, string_argument};
use arrow_array::Array;
use datafusion::catalog::{MemTable, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::Expr;
use pilum_table::{Dataset, Metric, VectorQuery};
use std::collections::HashMap;
use std::sync::Arc;

/// The table function `pilum_search(uri, column, query, k [, metric [, filter]])`.
#[derive(Debug, Clone, Default)]
pub struct PilumSearchFunction {
    storage_options: HashMap<String, String>,
}

impl PilumSearchFunction {
    /// A function that opens datasets with these object-store options.
    pub fn new(storage_options: HashMap<String, String>) -> Self {
        Self { storage_options }
    }
}

fn plan_error(what: impl Into<String>) -> DataFusionError {
    DataFusionError::Plan(format!("pilum_search: {}", what.into()))
}

impl TableFunctionImpl for PilumSearchFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(4..=6).contains(&exprs.len()) {
            return Err(plan_error(
                "takes a dataset URI, a vector column, a query vector, k, and optionally a metric and a filter",
            ));
        }
        let uri = string_argument("pilum_search", &exprs[0])?;
        let column = string_argument("pilum_search", &exprs[1])
            .map_err(|_| plan_error(format!("the column must be a string, got {}", exprs[1])))?;
        let query = vector(&exprs[2])?;
        let k = match literal(&exprs[3])?.cast_to(&arrow_schema::DataType::UInt64) {
            Ok(ScalarValue::UInt64(Some(k))) => k as usize,
            _ => {
                return Err(plan_error(format!(
                    "k must be a non-negative integer, got {}",
                    exprs[3]
                )));
            }
        };
        let metric = match exprs.get(4) {
            Some(expr) => {
                let name = string_argument("pilum_search", expr)
                    .map_err(|_| plan_error(format!("the metric must be a string, got {expr}")))?;
                Some(Metric::parse(&name).map_err(|e| plan_error(e.to_string()))?)
            }
            None => None,
        };
        let filter = match exprs.get(5) {
            Some(expr) => Some(
                string_argument("pilum_search", expr)
                    .map_err(|_| plan_error(format!("the filter must be a SQL string, got {expr}")))?,
            ),
            None => None,
        };
        let options = self.storage_options.clone();
        let search = VectorQuery {
            metric,
            ..VectorQuery::new(column, query, k)
        };
        let batch = block_on(async move {
            let dataset = Dataset::open_with_options(&uri, &options).await?;
            dataset.nearest(&search, filter.as_deref(), true, None).await
        })?
        .map_err(external)?;
        let schema = batch.schema();
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}

/// The query vector: an array literal (`[0.1, -2, 3e-1]`) of numbers.
pub(crate) fn vector(expr: &Expr) -> Result<Vec<f32>> {
    let items: Vec<Expr> = match expr {
        Expr::ScalarFunction(call) if call.func.name() == "make_array" => call.args.clone(),
        other => {
            let value =
                literal(other).map_err(|_| plan_error(format!("the query must be an array literal, got {other}")))?;
            return list_values(&value)
                .ok_or_else(|| plan_error(format!("the query must be an array of numbers, got {value}")));
        }
    };
    items.iter().map(number).collect()
}

/// One number of the query vector (a literal, possibly negated or cast).
fn number(expr: &Expr) -> Result<f32> {
    if let Expr::Negative(inner) = expr {
        return Ok(-number(inner)?);
    }
    let value = literal(expr)?;
    match value.cast_to(&arrow_schema::DataType::Float32) {
        Ok(ScalarValue::Float32(Some(v))) => Ok(v),
        _ => Err(plan_error(format!("query values must be numbers, got {expr}"))),
    }
}

/// The values of a list literal as f32.
fn list_values(value: &ScalarValue) -> Option<Vec<f32>> {
    let array = match value {
        ScalarValue::List(list) => list.value(0),
        ScalarValue::LargeList(list) => list.value(0),
        ScalarValue::FixedSizeList(list) => list.value(0),
        _ => return None,
    };
    let floats = datafusion::arrow::compute::cast(&array, &arrow_schema::DataType::Float32).ok()?;
    let floats = floats.as_any().downcast_ref::<arrow_array::Float32Array>()?;
    (floats.null_count() == 0).then(|| floats.values().to_vec())
}
