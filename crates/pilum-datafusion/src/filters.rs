//! Handing DataFusion's filter expressions to the dataset scanner and
//! dataset operations, as expressions (no SQL text in between).
//!
//! A filter is pushed into a scan only when it compiles against the table's
//! unqualified columns and calls only immutable functions (a stable
//! function such as `now()` would be evaluated outside the query's context);
//! anything else stays with DataFusion. For DML every condition must
//! compile, or the statement fails: a dropped condition would change rows
//! the statement does not name. SQL text is made only for display (EXPLAIN)
//! and for update assignments.

use arrow_schema::Schema;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, Volatility};
use pilum_table::{CompiledExpr, without_qualifiers};

/// `expr` with table qualifiers removed from its column references.
fn unqualified(expr: &Expr) -> Result<Expr> {
    without_qualifiers(expr.clone()).map_err(|e| DataFusionError::External(Box::new(e)))
}

/// The SQL text of `expr` over unqualified columns.
pub(crate) fn expr_sql(expr: &Expr) -> Result<String> {
    Ok(datafusion::sql::unparser::expr_to_sql(&unqualified(expr)?)?.to_string())
}

/// Whether `expr` calls a function whose result depends on more than its arguments.
fn calls_non_immutable(expr: &Expr) -> bool {
    expr.exists(|e| {
        Ok(match e {
            Expr::ScalarFunction(f) => f.func.signature().volatility != Volatility::Immutable,
            Expr::AggregateFunction(_) | Expr::WindowFunction(_) => true,
            Expr::ScalarSubquery(_)
            | Expr::InSubquery(_)
            | Expr::Exists(_)
            | Expr::SetComparison(_)
            | Expr::Placeholder(_)
            | Expr::ScalarVariable(..) => true,
            _ => false,
        })
    })
    .unwrap_or(true)
}

/// A filter (with unqualified columns) the scanner evaluates exactly as
/// DataFusion would, or `None` when it must stay with DataFusion.
pub(crate) fn pushable_filter(expr: &Expr, schema: &Schema) -> Option<Expr> {
    if calls_non_immutable(expr) {
        return None;
    }
    let expr = unqualified(expr).ok()?;
    CompiledExpr::compile_predicate_expr(expr.clone(), schema).ok()?;
    Some(expr)
}

/// The conjunction of `filters` (`None` when empty); fails when any of them
/// does not compile against the table.
pub(crate) fn conjunction(filters: &[Expr], schema: &Schema) -> Result<Option<Expr>> {
    let mut parts = Vec::with_capacity(filters.len());
    for filter in filters {
        let expr = unqualified(filter)?;
        CompiledExpr::compile_predicate_expr(expr.clone(), schema)
            .map_err(|e| DataFusionError::NotImplemented(format!("condition {filter} cannot be evaluated: {e}")))?;
        parts.push(expr);
    }
    Ok(datafusion::logical_expr::utils::conjunction(parts))
}

/// The SQL text of a filter for display (its display form when it does not unparse).
pub(crate) fn display_sql(expr: &Expr) -> String {
    expr_sql(expr).unwrap_or_else(|_| expr.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field};
    use datafusion::prelude::{col, lit};

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ])
    }

    #[test]
    fn pushes_immutable_filters_only() {
        let schema = schema();
        let qualified = Expr::Column(datafusion::common::Column::new(Some("t"), "id")).gt(lit(5i64));
        assert_eq!(pushable_filter(&qualified, &schema), Some(col("id").gt(lit(5i64))));
        let random = col("id").lt(datafusion::functions::math::expr_fn::random());
        assert_eq!(pushable_filter(&random, &schema), None, "volatile");
        let now = col("id").lt(datafusion::functions::datetime::expr_fn::now());
        assert_eq!(pushable_filter(&now, &schema), None, "stable");
        assert_eq!(
            pushable_filter(&col("nope").gt(lit(1i64)), &schema),
            None,
            "unknown column"
        );
        assert_eq!(pushable_filter(&col("id"), &schema), None, "not boolean");
    }

    #[test]
    fn conjunction_fails_instead_of_dropping() {
        let schema = schema();
        let both = conjunction(&[col("id").gt(lit(1i64)), col("name").is_null()], &schema).unwrap();
        assert_eq!(both, Some(col("id").gt(lit(1i64)).and(col("name").is_null())));
        assert_eq!(display_sql(&both.unwrap()), "((id > 1) AND \"name\" IS NULL)");
        assert_eq!(conjunction(&[], &schema).unwrap(), None);
        assert!(conjunction(&[col("id").gt(lit(1i64)), col("nope").gt(lit(1i64))], &schema).is_err());
    }
}
