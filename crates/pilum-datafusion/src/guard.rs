//! Refuses `DELETE` and `UPDATE` statements a Pilum table cannot apply exactly.
//!
//! DataFusion hands a table's DML hooks the statement's conditions as plain
//! expressions, collected from the filters over the target table. Subqueries
//! (`WHERE id IN (SELECT ...)`), `LIMIT` and joins do not survive that
//! hand-over: after optimisation they are no longer filters, so the hook
//! would see fewer conditions than the statement has and change rows the
//! statement does not name. This analyzer rule fails such statements before
//! they are planned.
//!
//! The provider itself refuses `DELETE` and `UPDATE` in a session that does
//! not run this rule ([`ensure_guarded`]), so a table registered by any path
//! (`ctx.register_table`, a table factory, a catalog) cannot be handed an
//! incomplete condition: either the rule checked the statement, or the
//! statement fails.

use crate::provider::PilumTable;
use datafusion::catalog::Session;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::DefaultTableSource;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{DmlStatement, Expr, LogicalPlan, WriteOp};
use datafusion::optimizer::AnalyzerRule;
use datafusion::prelude::SessionContext;
use std::sync::Arc;

const NAME: &str = "pilum_dml_guard";

/// The analyzer rule; [`install_dml_guard`] adds it to a context once.
#[derive(Debug, Default)]
pub struct DmlGuard;

/// Adds [`DmlGuard`] to `ctx` unless it is already there.
pub fn install_dml_guard(ctx: &SessionContext) {
    let present = ctx.state().analyzer().rules.iter().any(|rule| rule.name() == NAME);
    if !present {
        ctx.add_analyzer_rule(Arc::new(DmlGuard));
    }
}

/// Whether `state` runs [`DmlGuard`] on the plans it executes.
fn runs_guard(state: &dyn Session) -> bool {
    state
        .as_any()
        .downcast_ref::<SessionState>()
        .is_some_and(|state| state.analyzer().rules.iter().any(|rule| rule.name() == NAME))
}

/// Fails a `statement` on the table at `uri` unless the session's analyzer
/// runs [`DmlGuard`] (so the conditions DataFusion hands over are all the
/// statement has) and no handed-over condition still holds a subquery.
pub(crate) fn ensure_guarded(state: &dyn Session, statement: &str, uri: &str, filters: &[Expr]) -> Result<()> {
    if !runs_guard(state) {
        return Err(DataFusionError::NotImplemented(format!(
            "{statement} on Pilum table {uri} in a session without the Pilum DML guard: DataFusion may drop \
             conditions (subqueries, joins, LIMIT) before they reach the table, so the statement is refused; \
             register the table with pilum_datafusion::register_dataset or Session, or call \
             pilum_datafusion::install_dml_guard on the context first"
        )));
    }
    if filters.iter().any(has_subquery) {
        return Err(DataFusionError::NotImplemented(format!(
            "{statement} on Pilum table {uri} with a subquery"
        )));
    }
    Ok(())
}

impl AnalyzerRule for DmlGuard {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.apply(|node| {
            if let LogicalPlan::Dml(dml) = node {
                check(dml)?;
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        Ok(plan)
    }

    fn name(&self) -> &str {
        NAME
    }
}

fn targets_pilum(dml: &DmlStatement) -> bool {
    dml.target
        .downcast_ref::<DefaultTableSource>()
        .is_some_and(|source| source.table_provider.downcast_ref::<PilumTable>().is_some())
}

fn check(dml: &DmlStatement) -> Result<()> {
    let statement = match dml.op {
        WriteOp::Delete => "DELETE",
        WriteOp::Update => "UPDATE",
        _ => return Ok(()),
    };
    if !targets_pilum(dml) {
        return Ok(());
    }
    let refuse = |what: &str| {
        Err(DataFusionError::NotImplemented(format!(
            "{statement} on Pilum table {} with {what}",
            dml.table_name
        )))
    };
    let mut problem: Option<&'static str> = None;
    dml.input.apply(|node| {
        let exprs: Vec<&Expr> = match node {
            LogicalPlan::Filter(filter) => vec![&filter.predicate],
            LogicalPlan::Projection(projection) if dml.op == WriteOp::Update => projection.expr.iter().collect(),
            LogicalPlan::TableScan(_) | LogicalPlan::SubqueryAlias(_) => Vec::new(),
            LogicalPlan::Limit(_) => {
                problem = Some("LIMIT");
                return Ok(TreeNodeRecursion::Stop);
            }
            _ => {
                problem = Some("joins or other tables");
                return Ok(TreeNodeRecursion::Stop);
            }
        };
        if exprs.iter().any(|e| has_subquery(e)) {
            problem = Some("a subquery");
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    match problem {
        Some(what) => refuse(what),
        None => Ok(()),
    }
}

fn has_subquery(expr: &Expr) -> bool {
    expr.exists(|e| {
        Ok(matches!(
            e,
            Expr::ScalarSubquery(_) | Expr::InSubquery(_) | Expr::Exists(_) | Expr::SetComparison(_)
        ))
    })
    .unwrap_or(true)
}
