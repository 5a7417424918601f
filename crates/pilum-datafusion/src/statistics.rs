//! Column statistics for DataFusion's planner, from the per-file statistics
//! in the manifest (merged by `Dataset::column_summary`): null counts and
//! min/max bounds. With them DataFusion estimates filter selectivities and
//! join sizes (and so picks the small side of a hash join), and answers
//! `count(col)`, `min` and `max` from metadata when the statistics are exact.

use arrow_schema::Schema;
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, ScalarValue};
use pilum_table::{ColumnSummary, Dataset};

/// Statistics of the top-level columns of `schema` (the dataset's columns,
/// possibly with view types) over the given fragments (all when `None`).
/// Exact when no fragment has deleted rows; unknown for a column when a
/// file holding it has no statistics (written before dataset format 1.1).
pub(crate) fn column_statistics(
    dataset: &Dataset,
    schema: &Schema,
    fragments: Option<&[u64]>,
) -> Vec<ColumnStatistics> {
    schema
        .fields()
        .iter()
        .map(|field| match dataset.column_summary(field.name(), fragments) {
            Some(summary) => to_statistics(summary, field.data_type()),
            None => ColumnStatistics::new_unknown(),
        })
        .collect()
}

/// DataFusion's form of `summary`, with bounds cast to the type the
/// provider presents (a view type where the dataset stores a plain one).
fn to_statistics(summary: ColumnSummary, presented: &arrow_schema::DataType) -> ColumnStatistics {
    let mut statistics = ColumnStatistics::new_unknown();
    statistics.null_count = precision(summary.null_count as usize, summary.exact);
    let present = |v: ScalarValue| {
        if &v.data_type() == presented {
            Some(v)
        } else {
            v.cast_to(presented).ok()
        }
    };
    if let Some((min, max)) = summary.bounds
        && let (Some(min), Some(max)) = (present(min), present(max))
    {
        statistics.min_value = precision(min, summary.exact);
        statistics.max_value = precision(max, summary.exact);
    }
    statistics
}

fn precision<T: std::fmt::Debug + Clone + PartialEq + Eq + PartialOrd>(value: T, exact: bool) -> Precision<T> {
    if exact {
        Precision::Exact(value)
    } else {
        Precision::Inexact(value)
    }
}
