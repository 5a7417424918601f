//! SQL predicates and expressions, parsed, type-checked and evaluated by
//! DataFusion.

use crate::error::{Result, TableError};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Schema, SchemaRef};
use datafusion::common::{DFSchema, SchemaError};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use std::sync::{Arc, LazyLock};

/// One shared context: it only supplies the function registry and options.
static CONTEXT: LazyLock<SessionContext> = LazyLock::new(SessionContext::new);

/// A compiled SQL expression over some columns of a table.
#[derive(Debug, Clone)]
pub struct CompiledExpr {
    sql: String,
    /// The coerced, simplified logical form (what scalar indices inspect).
    logical: Expr,
    physical: Arc<dyn PhysicalExpr>,
    input: SchemaRef,
}

impl CompiledExpr {
    /// Parses `sql` against `schema` (unqualified column names).
    pub fn compile(sql: &str, schema: &Schema) -> Result<Self> {
        let full = DFSchema::try_from(schema.clone())?;
        let expr = CONTEXT
            .parse_sql_expr(sql, &full)
            .map_err(|e| expression_error(sql, e))?;
        Self::compile_parsed(expr, sql.to_string(), schema)
    }

    /// Type-checks a DataFusion logical expression over `schema`'s columns
    /// (as a SQL front end or a caller built it; table qualifiers are
    /// dropped), without going through SQL text.
    pub fn compile_expr(expr: Expr, schema: &Schema) -> Result<Self> {
        let expr = without_qualifiers(expr)?;
        let label = expr_label(&expr);
        Self::compile_parsed(expr, label, schema)
    }

    /// Like [`compile_expr`](Self::compile_expr), and requires a boolean result.
    pub fn compile_predicate_expr(expr: Expr, schema: &Schema) -> Result<Self> {
        Self::compile_expr(expr, schema)?.into_predicate()
    }

    fn compile_parsed(expr: Expr, sql: String, schema: &Schema) -> Result<Self> {
        let sql = sql.as_str();
        let mut names: Vec<String> = expr.column_refs().into_iter().map(|c| c.name.clone()).collect();
        names.sort_by_key(|name| schema.index_of(name).unwrap_or(usize::MAX));
        names.dedup();
        let indices = names
            .iter()
            .map(|n| {
                schema
                    .index_of(n)
                    .map_err(|_| TableError::ColumnNotFound { name: n.clone() })
            })
            .collect::<Result<Vec<_>>>()?;
        let input = Arc::new(schema.project(&indices)?);
        let input_df = DFSchema::try_from(input.as_ref().clone())?;
        // Coerce, then simplify as DataFusion's optimizer does for its own
        // filters (constant folding, casts moved off columns onto literals).
        let context = SimplifyContext::builder()
            .with_schema(Arc::new(input_df.clone()))
            .build();
        let simplifier = ExprSimplifier::new(context);
        let expr = simplifier
            .coerce(expr, &input_df)
            .and_then(|e| simplifier.simplify(e))
            .map_err(|e| expression_error(sql, e))?;
        let physical = CONTEXT
            .create_physical_expr(expr.clone(), &input_df)
            .map_err(|e| expression_error(sql, e))?;
        Ok(Self {
            sql: sql.to_string(),
            logical: expr,
            physical,
            input,
        })
    }

    /// Like [`compile`](Self::compile), and requires a boolean result.
    pub fn compile_predicate(sql: &str, schema: &Schema) -> Result<Self> {
        Self::compile(sql, schema)?.into_predicate()
    }

    /// `self`, when it is boolean.
    fn into_predicate(self) -> Result<Self> {
        let data_type = self.data_type()?;
        if data_type != DataType::Boolean && data_type != DataType::Null {
            return Err(TableError::InvalidExpression {
                expression: self.sql,
                reason: format!("a filter must be boolean, this is {data_type}"),
            });
        }
        Ok(self)
    }

    /// The SQL text (for an expression compiled from a logical expression,
    /// its SQL form, or its display form when it has none).
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The coerced and simplified logical expression.
    pub fn logical(&self) -> &Expr {
        &self.logical
    }

    /// Top-level columns the expression reads, in table order.
    pub fn columns(&self) -> Vec<String> {
        self.input.fields().iter().map(|f| f.name().clone()).collect()
    }

    /// The result type.
    pub fn data_type(&self) -> Result<DataType> {
        Ok(self.physical.data_type(&self.input)?)
    }

    /// Whether the result may hold nulls.
    pub fn nullable(&self) -> Result<bool> {
        Ok(self.physical.nullable(&self.input)?)
    }

    /// Evaluates over `batch`, which must hold the expression's columns by name.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        let columns = self
            .input
            .fields()
            .iter()
            .map(|f| {
                batch
                    .column_by_name(f.name())
                    .cloned()
                    .ok_or_else(|| TableError::ColumnNotFound { name: f.name().clone() })
            })
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        let input = RecordBatch::try_new_with_options(self.input.clone(), columns, &options)?;
        let value = self.physical.evaluate(&input)?;
        Ok(value.into_array(batch.num_rows())?)
    }

    /// Evaluates a predicate; null counts as false.
    pub fn mask(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        let array = self.evaluate(batch)?;
        let mask = match array.data_type() {
            DataType::Null => BooleanArray::from(vec![false; array.len()]),
            _ => arrow_cast::cast(&array, &DataType::Boolean)?
                .as_any()
                .downcast_ref::<BooleanArray>()
                .cloned()
                .ok_or_else(|| TableError::Execution("predicate did not evaluate to booleans".into()))?,
        };
        Ok(match mask.nulls() {
            Some(_) => arrow_select::filter::prep_null_mask_filter(&mask),
            None => mask,
        })
    }
}

/// `expr` with table qualifiers removed from its column references (a
/// dataset's columns are named without one).
pub fn without_qualifiers(expr: Expr) -> Result<Expr> {
    use datafusion::common::Column;
    use datafusion::common::tree_node::{Transformed, TreeNode};
    Ok(expr
        .transform(|e| {
            Ok(match e {
                Expr::Column(column) if column.relation.is_some() => {
                    Transformed::yes(Expr::Column(Column::new_unqualified(column.name)))
                }
                other => Transformed::no(other),
            })
        })?
        .data)
}

/// The SQL text of `expr` (its display form when it does not unparse), for
/// messages and history.
pub(crate) fn expr_label(expr: &Expr) -> String {
    datafusion::sql::unparser::expr_to_sql(expr).map_or_else(|_| expr.to_string(), |sql| sql.to_string())
}

/// A boolean SQL condition over two tables, referenced as `target.x` and `source.x`.
#[derive(Debug, Clone)]
pub struct JoinedPredicate {
    physical: Arc<dyn PhysicalExpr>,
    input: SchemaRef,
}

impl JoinedPredicate {
    /// Parses `sql` over `target` and `source` columns (qualified by those names).
    pub fn compile(sql: &str, target: &Schema, source: &Schema) -> Result<Self> {
        let left = DFSchema::try_from_qualified_schema("target", target)?;
        let right = DFSchema::try_from_qualified_schema("source", source)?;
        let joined = left.join(&right)?;
        let expr = CONTEXT
            .parse_sql_expr(sql, &joined)
            .map_err(|e| expression_error(sql, e))?;
        let physical = CONTEXT
            .create_physical_expr(expr, &joined)
            .map_err(|e| expression_error(sql, e))?;
        let input: SchemaRef = Arc::new(joined.as_arrow().clone());
        let data_type = physical.data_type(&input)?;
        if data_type != DataType::Boolean {
            return Err(TableError::InvalidExpression {
                expression: sql.to_string(),
                reason: format!("a condition must be boolean, this is {data_type}"),
            });
        }
        Ok(Self { physical, input })
    }

    /// Evaluates over row-aligned target and source batches; null is false.
    pub fn mask(&self, target: &RecordBatch, source: &RecordBatch) -> Result<BooleanArray> {
        let mut columns = target.columns().to_vec();
        columns.extend_from_slice(source.columns());
        let options = RecordBatchOptions::new().with_row_count(Some(target.num_rows()));
        let input = RecordBatch::try_new_with_options(self.input.clone(), columns, &options)?;
        let value = self.physical.evaluate(&input)?.into_array(target.num_rows())?;
        let mask = value
            .as_any()
            .downcast_ref::<BooleanArray>()
            .cloned()
            .ok_or_else(|| TableError::Execution("condition did not evaluate to booleans".into()))?;
        Ok(match mask.nulls() {
            Some(_) => arrow_select::filter::prep_null_mask_filter(&mask),
            None => mask,
        })
    }
}

/// The type a computed column is stored with: view types become their
/// classic equivalents, which every Arrow consumer reads.
pub fn storage_type(data_type: DataType) -> DataType {
    match data_type {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        other => other,
    }
}

/// Maps a DataFusion planning error to a typed error.
fn expression_error(sql: &str, error: DataFusionError) -> TableError {
    match error.find_root() {
        DataFusionError::SchemaError(inner, _) => match inner.as_ref() {
            SchemaError::FieldNotFound { field, .. } => TableError::ColumnNotFound {
                name: field.name.clone(),
            },
            other => TableError::InvalidExpression {
                expression: sql.to_string(),
                reason: other.to_string(),
            },
        },
        other => TableError::InvalidExpression {
            expression: sql.to_string(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::Field;

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("a"), None, Some("cc"), Some("d")])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn filters_and_reports_columns() {
        let batch = batch();
        let pred = CompiledExpr::compile_predicate("id > 1 AND length(name) = 1", &batch.schema()).unwrap();
        assert_eq!(pred.columns(), vec!["id", "name"]);
        assert_eq!(
            pred.mask(&batch).unwrap(),
            BooleanArray::from(vec![false, false, false, true])
        );
        let expr = CompiledExpr::compile("id * 2", &batch.schema()).unwrap();
        assert_eq!(expr.columns(), vec!["id"]);
        assert_eq!(expr.data_type().unwrap(), DataType::Int64);
    }

    #[test]
    fn rejects_bad_input_with_typed_errors() {
        let schema = Schema::new(vec![Field::new("id", DataType::Int64, false)]);
        assert!(matches!(
            CompiledExpr::compile_predicate("nope > 1", &schema),
            Err(TableError::ColumnNotFound { .. })
        ));
        assert!(matches!(
            CompiledExpr::compile_predicate("id >>> 1", &schema),
            Err(TableError::InvalidExpression { .. })
        ));
        assert!(matches!(
            CompiledExpr::compile_predicate("id + 1", &schema),
            Err(TableError::InvalidExpression { .. })
        ));
    }
}
