//! A filter expression split into what scalar indices may answer: a tree of
//! `AND`/`OR` over tests of one column against literals, every other part
//! being opaque (left to the scan, which re-checks the whole filter on the
//! rows the indices leave unless they answered all of it exactly).

use crate::index::{CmpOp, LeafTest};
use arrow_array::Array;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{Between, BinaryExpr, InList, Like, ScalarFunction};
use datafusion::logical_expr::{Expr, Operator};
use pilum_index::ngram::{self, GramQuery};

/// A filter as indices see it.
#[derive(Debug, Clone)]
pub(crate) enum FilterTree {
    And(Vec<FilterTree>),
    Or(Vec<FilterTree>),
    Leaf {
        column: String,
        test: LeafTest,
    },
    /// No index answers it.
    Opaque,
}

impl FilterTree {
    /// Splits a (simplified, type-coerced) filter expression.
    pub fn of(expr: &Expr) -> Self {
        match expr {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
                Operator::And => Self::and(vec![Self::of(left), Self::of(right)]),
                Operator::Or => Self::Or(vec![Self::of(left), Self::of(right)]),
                _ => binary(left, *op, right).unwrap_or(Self::Opaque),
            },
            Expr::InList(InList {
                expr,
                list,
                negated: false,
            }) => match (column_of(expr), literals(list)) {
                (Some(column), Some(values)) => leaf(column, LeafTest::InList(values)),
                _ => Self::Opaque,
            },
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) => match (column_of(expr), literal_of(low), literal_of(high)) {
                (Some(column), Some(low), Some(high)) => {
                    leaf(column, LeafTest::Range(Some((low, true)), Some((high, true))))
                }
                _ => Self::Opaque,
            },
            Expr::IsNull(inner) => column_of(inner).map_or(Self::Opaque, |c| leaf(c, LeafTest::IsNull)),
            Expr::IsNotNull(inner) => column_of(inner).map_or(Self::Opaque, |c| leaf(c, LeafTest::IsNotNull)),
            Expr::Like(like) => like_leaf(like).unwrap_or(Self::Opaque),
            Expr::ScalarFunction(call) => function(call).unwrap_or(Self::Opaque),
            _ => Self::Opaque,
        }
    }
}

impl FilterTree {
    /// A conjunction, flattened, with each column's first lower and upper
    /// comparison merged into one range (`a >= 1 AND a < 5` is one lookup,
    /// not two half-table ones).
    fn and(parts: Vec<FilterTree>) -> Self {
        let mut flat = Vec::new();
        for part in parts {
            match part {
                Self::And(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        let mut out: Vec<FilterTree> = Vec::with_capacity(flat.len());
        for part in flat {
            let Self::Leaf {
                column,
                test: LeafTest::Compare(op, value),
            } = &part
            else {
                out.push(part);
                continue;
            };
            let lower = matches!(op, CmpOp::Gt | CmpOp::GtEq);
            if !lower && !matches!(op, CmpOp::Lt | CmpOp::LtEq) {
                out.push(part);
                continue;
            }
            let bound = (value.clone(), matches!(op, CmpOp::GtEq | CmpOp::LtEq));
            let merged = out.iter_mut().find_map(|other| match other {
                Self::Leaf {
                    column: c,
                    test: LeafTest::Range(low, high),
                } if c == column && (if lower { low.is_none() } else { high.is_none() }) => {
                    Some(if lower { low } else { high })
                }
                _ => None,
            });
            match merged {
                Some(slot) => *slot = Some(bound),
                None => {
                    let (low, high) = if lower {
                        (Some(bound), None)
                    } else {
                        (None, Some(bound))
                    };
                    out.push(leaf(column.clone(), LeafTest::Range(low, high)));
                }
            }
        }
        if out.len() == 1 { out.remove(0) } else { Self::And(out) }
    }
}

fn leaf(column: String, test: LeafTest) -> FilterTree {
    FilterTree::Leaf { column, test }
}

fn column_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Column(c) => Some(c.name.clone()),
        _ => None,
    }
}

fn literal_of(expr: &Expr) -> Option<ScalarValue> {
    match expr {
        Expr::Literal(value, _) if !value.is_null() => Some(value.clone()),
        _ => None,
    }
}

fn literals(list: &[Expr]) -> Option<Vec<ScalarValue>> {
    list.iter().map(literal_of).collect()
}

fn string_literal(expr: &Expr) -> Option<String> {
    match literal_of(expr)? {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => Some(s),
        _ => None,
    }
}

fn binary(left: &Expr, op: Operator, right: &Expr) -> Option<FilterTree> {
    let compare = match op {
        Operator::Eq => Some(CmpOp::Eq),
        Operator::NotEq => Some(CmpOp::NotEq),
        Operator::Lt => Some(CmpOp::Lt),
        Operator::LtEq => Some(CmpOp::LtEq),
        Operator::Gt => Some(CmpOp::Gt),
        Operator::GtEq => Some(CmpOp::GtEq),
        _ => None,
    };
    if let Some(cmp) = compare {
        return match (column_of(left), literal_of(right), column_of(right), literal_of(left)) {
            (Some(column), Some(value), _, _) => Some(leaf(column, LeafTest::Compare(cmp, value))),
            (_, _, Some(column), Some(value)) => Some(leaf(column, LeafTest::Compare(cmp.swapped(), value))),
            _ => None,
        };
    }
    let column = column_of(left)?;
    let pattern = string_literal(right)?;
    let query = match op {
        Operator::RegexMatch => ngram::regex_query(&pattern)?,
        Operator::RegexIMatch => ngram::regex_query(&format!("(?i){pattern}"))?,
        Operator::LikeMatch => ngram::like_query(&pattern, Some('\\')),
        Operator::ILikeMatch if pattern.is_ascii() => ngram::like_query(&pattern, Some('\\')),
        _ => return None,
    };
    Some(leaf(column, LeafTest::Grams(query)))
}

fn like_leaf(like: &Like) -> Option<FilterTree> {
    if like.negated || (like.case_insensitive && !string_literal(&like.pattern)?.is_ascii()) {
        return None;
    }
    let column = column_of(&like.expr)?;
    let pattern = string_literal(&like.pattern)?;
    let escape = like.escape_char.or(Some('\\'));
    Some(leaf(column, LeafTest::Grams(ngram::like_query(&pattern, escape))))
}

/// The elements of a list literal (none may be null).
fn list_elements(value: &ScalarValue) -> Option<Vec<ScalarValue>> {
    let array = match value {
        ScalarValue::List(list) if list.len() == 1 && list.is_valid(0) => list.value(0),
        ScalarValue::LargeList(list) if list.len() == 1 && list.is_valid(0) => list.value(0),
        _ => return None,
    };
    (0..array.len())
        .map(|i| ScalarValue::try_from_array(&array, i).ok().filter(|v| !v.is_null()))
        .collect()
}

fn function(call: &ScalarFunction) -> Option<FilterTree> {
    let name = call.func.name();
    let args = &call.args;
    let column = column_of(args.first()?)?;
    let test = match (name, args.len()) {
        ("contains", 2) => LeafTest::Grams(GramQuery::literal(&string_literal(&args[1])?)),
        ("regexp_like", 2) => LeafTest::Grams(ngram::regex_query(&string_literal(&args[1])?)?),
        ("regexp_like", 3) => {
            let flags = string_literal(&args[2])?;
            if flags != "i" {
                return None;
            }
            LeafTest::Grams(ngram::regex_query(&format!("(?i){}", string_literal(&args[1])?))?)
        }
        ("array_has_any", 2) => LeafTest::HasAny(list_elements(&literal_of(&args[1])?)?),
        ("array_has_all", 2) => LeafTest::HasAll(list_elements(&literal_of(&args[1])?)?),
        ("array_has", 2) => LeafTest::HasAny(vec![literal_of(&args[1])?]),
        _ => return None,
    };
    Some(leaf(column, test))
}
