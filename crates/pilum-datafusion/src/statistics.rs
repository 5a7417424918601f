//! Column statistics for DataFusion's planner, merged from the per-file
//! statistics in the manifest: null counts and min/max bounds. With them
//! DataFusion estimates filter selectivities and join sizes (and so picks
//! the small side of a hash join), and answers `count(col)`, `min` and
//! `max` from metadata when the statistics are exact.

use arrow_schema::{DataType, Schema};
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, ScalarValue};
use pilum_table::{Dataset, decode_bounds, proto};
use std::cmp::Ordering;

/// Statistics of the top-level columns of `schema` (the dataset's columns,
/// possibly with view types) over the given fragments (all when `None`).
/// Exact when no fragment has deleted rows; unknown for a column when a
/// file holding it has no statistics (written before dataset format 1.1).
pub(crate) fn column_statistics(
    dataset: &Dataset,
    schema: &Schema,
    fragments: Option<&[u64]>,
) -> Vec<ColumnStatistics> {
    let table = &dataset.manifest().schema;
    let chosen: Vec<&proto::Fragment> = dataset
        .fragments()
        .iter()
        .filter(|f| fragments.is_none_or(|ids| ids.contains(&f.id)))
        .collect();
    let exact = chosen.iter().all(|f| f.deletion.is_none());
    schema
        .fields()
        .iter()
        .map(|field| {
            let Ok(field_id) = table.field_id(field.name()) else {
                return ColumnStatistics::new_unknown();
            };
            let stored = table
                .arrow()
                .field_with_name(field.name())
                .map(|f| f.data_type().clone());
            match (stored, merge(&chosen, field_id)) {
                (Ok(stored), Some(merged)) => merged.into_statistics(&stored, field.data_type(), exact),
                _ => ColumnStatistics::new_unknown(),
            }
        })
        .collect()
}

/// One column's statistics over several files.
struct Merged<'a> {
    null_count: u64,
    /// The statistics of each file that has non-null values.
    files: Vec<&'a proto::ColumnStatistics>,
}

/// Merges the statistics of `field_id` over `fragments`; `None` when a file
/// holding the column has none.
fn merge<'a>(fragments: &[&'a proto::Fragment], field_id: i32) -> Option<Merged<'a>> {
    let mut merged = Merged {
        null_count: 0,
        files: Vec::new(),
    };
    for fragment in fragments {
        // Later files hold the current copy of a column (table.md section 6.2).
        let file = fragment.files.iter().rev().find(|f| f.field_ids.contains(&field_id));
        let Some(file) = file else {
            // A fragment written before the column existed reads as nulls.
            merged.null_count += fragment.physical_rows;
            continue;
        };
        let stats = file.statistics.iter().find(|s| s.field_id == field_id)?;
        merged.null_count += stats.null_count;
        if stats.null_count < fragment.physical_rows {
            merged.files.push(stats);
        }
    }
    Some(merged)
}

impl Merged<'_> {
    fn into_statistics(self, stored: &DataType, presented: &DataType, exact: bool) -> ColumnStatistics {
        let mut statistics = ColumnStatistics::new_unknown();
        statistics.null_count = precision(self.null_count as usize, exact);
        let present = |v: ScalarValue| {
            if stored == presented {
                Some(v)
            } else {
                v.cast_to(presented).ok()
            }
        };
        // Every file with values must have usable bounds, or none count.
        let bounds: Option<Vec<(ScalarValue, ScalarValue)>> = self
            .files
            .iter()
            .map(|s| {
                let (min, max) = decode_bounds(s, stored)?;
                Some((present(min)?, present(max)?))
            })
            .collect();
        if let Some((mins, maxs)) = bounds
            .filter(|b| !b.is_empty())
            .map(|b| b.into_iter().unzip::<_, _, Vec<_>, Vec<_>>())
            && let (Some(min), Some(max)) = (extreme(mins, Ordering::Less), extreme(maxs, Ordering::Greater))
        {
            statistics.min_value = precision(min, exact);
            statistics.max_value = precision(max, exact);
        }
        statistics
    }
}

fn precision<T: std::fmt::Debug + Clone + PartialEq + Eq + PartialOrd>(value: T, exact: bool) -> Precision<T> {
    if exact {
        Precision::Exact(value)
    } else {
        Precision::Inexact(value)
    }
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
