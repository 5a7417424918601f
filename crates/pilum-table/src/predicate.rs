//! Row conditions as callers hand them in: SQL text, or a DataFusion
//! logical expression that reaches the scanner as it is (no round trip
//! through SQL text).

use crate::error::Result;
use crate::expr::{CompiledExpr, expr_label};
use arrow_schema::Schema;
use datafusion::logical_expr::Expr;

/// A condition on rows, over the table's unqualified column names.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Predicate {
    /// A SQL boolean expression, e.g. `"id > 5 AND name IS NOT NULL"`.
    Sql(String),
    /// A DataFusion logical expression (column references unqualified).
    Expr(Expr),
}

impl Predicate {
    /// Type-checks the condition over `schema`; it must be boolean.
    pub fn compile(&self, schema: &Schema) -> Result<CompiledExpr> {
        match self {
            Self::Sql(sql) => CompiledExpr::compile_predicate(sql, schema),
            Self::Expr(expr) => CompiledExpr::compile_predicate_expr(expr.clone(), schema),
        }
    }

    /// The condition as SQL text (an expression's SQL form, or its display
    /// form when it has none), for messages and history.
    pub fn to_sql(&self) -> String {
        match self {
            Self::Sql(sql) => sql.clone(),
            Self::Expr(expr) => expr_label(expr),
        }
    }
}

impl std::fmt::Display for Predicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_sql())
    }
}

impl From<&str> for Predicate {
    fn from(sql: &str) -> Self {
        Self::Sql(sql.to_string())
    }
}

impl From<String> for Predicate {
    fn from(sql: String) -> Self {
        Self::Sql(sql)
    }
}

impl From<&String> for Predicate {
    fn from(sql: &String) -> Self {
        Self::Sql(sql.clone())
    }
}

impl From<Expr> for Predicate {
    fn from(expr: Expr) -> Self {
        Self::Expr(expr)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::{Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field};
    use datafusion::prelude::{col, lit};
    use std::sync::Arc;

    #[test]
    fn expressions_and_sql_select_the_same_rows() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 5, 9, 12])),
                Arc::new(StringArray::from(vec![Some("a"), None, Some("c"), Some("d")])),
            ],
        )
        .unwrap();
        let typed = Predicate::from(col("id").gt(lit(4i32)).and(col("name").is_not_null()));
        let text = Predicate::from("id > 4 AND name IS NOT NULL");
        let a = typed.compile(&schema).unwrap().mask(&batch).unwrap();
        let b = text.compile(&schema).unwrap().mask(&batch).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.iter().map(Option::unwrap).collect::<Vec<_>>(),
            [false, false, true, true]
        );
        assert!(typed.to_sql().contains("id > 4"), "{}", typed.to_sql());
        // Not boolean, unknown column: typed errors, as for SQL text.
        assert!(Predicate::from(col("id")).compile(&schema).is_err());
        assert!(Predicate::from(col("nope").gt(lit(1))).compile(&schema).is_err());
    }
}
