//! Skipping fragment pages and fragments that cannot hold a row a filter
//! keeps, by the column statistics the manifest and its pages keep: the
//! filter's `AND`/`OR` tree of column tests is checked against each unit's
//! (min, max, null count). A unit without usable statistics for a column is
//! kept, so skipping never changes a scan's result.

use super::scalar_filter::FilterTree;
use crate::error::Result;
use crate::index::{LeafTest, is_float, range_mask, widen_for_floats};
use crate::proto;
use crate::schema::TableSchema;
use crate::stats::decode_bounds;
use arrow_array::Array;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Expr;

/// For each of `units` (pages, or single-fragment summaries), whether it
/// may hold a row passing `filter`.
pub(crate) fn may_match(filter: &Expr, units: &[proto::FragmentPageRef], schema: &TableSchema) -> Result<Vec<bool>> {
    evaluate(&FilterTree::of(filter), units, schema)
}

fn evaluate(tree: &FilterTree, units: &[proto::FragmentPageRef], schema: &TableSchema) -> Result<Vec<bool>> {
    match tree {
        FilterTree::Opaque => Ok(vec![true; units.len()]),
        FilterTree::Leaf { column, test } => leaf(column, test, units, schema),
        FilterTree::And(parts) | FilterTree::Or(parts) => {
            let is_and = matches!(tree, FilterTree::And(_));
            let mut out = vec![is_and; units.len()];
            for part in parts {
                let mask = evaluate(part, units, schema)?;
                for (acc, m) in out.iter_mut().zip(mask) {
                    *acc = if is_and { *acc && m } else { *acc || m };
                }
            }
            Ok(out)
        }
    }
}

fn leaf(column: &str, test: &LeafTest, units: &[proto::FragmentPageRef], schema: &TableSchema) -> Result<Vec<bool>> {
    let mut out = vec![true; units.len()];
    let (Ok(field_id), Ok(field)) = (schema.field_id(column), schema.arrow().field_with_name(column)) else {
        return Ok(out);
    };
    let data_type = field.data_type();
    let test = if is_float(data_type) {
        match widen_for_floats(test) {
            Some(widened) => widened,
            None => return Ok(out),
        }
    } else {
        test.clone()
    };
    let mut with_bounds = Vec::new();
    let (mut mins, mut maxes) = (Vec::new(), Vec::new());
    for (at, unit) in units.iter().enumerate() {
        let Some(stats) = unit.statistics.iter().find(|s| s.field_id == field_id) else {
            continue;
        };
        let all_null = stats.null_count >= unit.physical_rows;
        match &test {
            LeafTest::IsNull => out[at] = stats.null_count > 0,
            LeafTest::IsNotNull => out[at] = !all_null,
            // A test on values never holds for a null.
            _ if all_null => out[at] = false,
            _ => {
                if let Some((min, max)) = decode_bounds(stats, data_type) {
                    with_bounds.push(at);
                    mins.push(min);
                    maxes.push(max);
                }
            }
        }
    }
    if with_bounds.is_empty() || matches!(test, LeafTest::IsNull | LeafTest::IsNotNull) {
        return Ok(out);
    }
    let (Ok(mins), Ok(maxes)) = (ScalarValue::iter_to_array(mins), ScalarValue::iter_to_array(maxes)) else {
        return Ok(out);
    };
    if let Some(mask) = range_mask(&test, &mins, &maxes)? {
        for (i, at) in with_bounds.into_iter().enumerate() {
            out[at] = mask.is_valid(i) && mask.value(i);
        }
    }
    Ok(out)
}
