//! One column's statistics over a set of fragments, merged from the
//! per-file statistics a manifest keeps (`format-spec/table.md` section
//! 6.3), for planners that estimate selectivities or answer `min`/`max`
//! from metadata.

use crate::dataset::Dataset;
use crate::proto;
use crate::stats::decode_bounds;
use arrow_schema::DataType;
use datafusion::common::ScalarValue;
use std::cmp::Ordering;

/// What the manifest says about one column over some fragments.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ColumnSummary {
    /// Null values (rows of fragments written before the column existed count).
    pub null_count: u64,
    /// The smallest and largest non-null values, in the column's type;
    /// `None` when a file with values has no usable bounds, or no file has values.
    pub bounds: Option<(ScalarValue, ScalarValue)>,
    /// Whether the figures are exact: no chosen fragment has deleted rows
    /// (statistics count deleted rows too, so they are bounds otherwise).
    pub exact: bool,
}

impl Dataset {
    /// Statistics of top-level column `column` over `fragments` (every
    /// fragment when `None`); `None` for an unknown column or when a file
    /// holding it has no statistics (written before dataset format 1.1).
    pub fn column_summary(&self, column: &str, fragments: Option<&[u64]>) -> Option<ColumnSummary> {
        let schema = &self.manifest().schema;
        let field_id = schema.field_id(column).ok()?;
        let data_type = schema.arrow().field_with_name(column).ok()?.data_type().clone();
        let list = &self.manifest().fragments;
        let Some(all) = list.loaded() else {
            // A paged list not loaded: every fragment from the pages'
            // summaries; a subset needs the fragments themselves.
            return match (fragments, list.pages()) {
                (None, Some(pages)) => summarize_pages(pages, field_id, &data_type),
                _ => None,
            };
        };
        let chosen: Vec<&proto::Fragment> = all
            .iter()
            .filter(|f| fragments.is_none_or(|ids| ids.contains(&f.id)))
            .collect();
        summarize_column(&chosen, field_id, &data_type)
    }
}

/// Statistics of the column with `field_id` (now of `data_type`) over
/// `fragments`; `None` when a file holding it has no statistics.
pub(crate) fn summarize_column(
    fragments: &[&proto::Fragment],
    field_id: i32,
    data_type: &DataType,
) -> Option<ColumnSummary> {
    let units = fragments.iter().map(|fragment| {
        // Later files hold the current copy of a column (table.md section 6.2).
        match fragment.files.iter().rev().find(|f| f.field_ids.contains(&field_id)) {
            // A fragment written before the column existed reads as nulls.
            None => Some((None, fragment.physical_rows)),
            Some(file) => file
                .statistics
                .iter()
                .find(|s| s.field_id == field_id)
                .map(|stats| (Some(stats), fragment.physical_rows)),
        }
    });
    merge_units(units, data_type, fragments.iter().all(|f| f.deletion.is_none()))
}

/// The column's statistics over every page, from the pages' summaries.
fn summarize_pages(pages: &[proto::FragmentPageRef], field_id: i32, data_type: &DataType) -> Option<ColumnSummary> {
    let units = pages.iter().map(|page| {
        page.statistics
            .iter()
            .find(|s| s.field_id == field_id)
            .map(|stats| (Some(stats), page.physical_rows))
    });
    merge_units(units, data_type, pages.iter().all(|p| p.deleted_rows == 0))
}

/// Merges the statistics of units (fragments or pages) given as
/// `(statistics, rows)`: `None` statistics for a unit whose rows are all
/// null, `None` for the whole unit when it has no statistics (then so has
/// the merge).
fn merge_units<'a>(
    units: impl Iterator<Item = Option<(Option<&'a proto::ColumnStatistics>, u64)>>,
    data_type: &DataType,
    exact: bool,
) -> Option<ColumnSummary> {
    let mut null_count = 0;
    let mut with_values = Vec::new();
    for unit in units {
        match unit? {
            (None, rows) => null_count += rows,
            (Some(stats), rows) => {
                null_count += stats.null_count;
                if stats.null_count < rows {
                    with_values.push(stats);
                }
            }
        }
    }
    Some(ColumnSummary {
        null_count,
        bounds: merged_bounds(&with_values, data_type),
        exact,
    })
}

/// The smallest min and largest max of `statistics`, when every one of
/// them has usable bounds.
fn merged_bounds(statistics: &[&proto::ColumnStatistics], data_type: &DataType) -> Option<(ScalarValue, ScalarValue)> {
    // Every file with values must have usable bounds, or none count.
    let bounds: Option<Vec<(ScalarValue, ScalarValue)>> =
        statistics.iter().map(|s| decode_bounds(s, data_type)).collect();
    bounds.filter(|b| !b.is_empty()).and_then(|b| {
        let (mins, maxs): (Vec<_>, Vec<_>) = b.into_iter().unzip();
        extreme(mins, Ordering::Less).zip(extreme(maxs, Ordering::Greater))
    })
}

/// The smallest (`Less`) or largest (`Greater`) of `values`; `None` when two
/// do not compare.
fn extreme(values: Vec<ScalarValue>, keep: Ordering) -> Option<ScalarValue> {
    let mut best: Option<ScalarValue> = None;
    for value in values {
        best = Some(match best {
            None => value,
            Some(current) => match value.partial_cmp(&current)? {
                order if order == keep => value,
                _ => current,
            },
        });
    }
    best
}
