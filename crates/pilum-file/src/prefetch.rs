//! Planning the bytes of several columns at once, so that on stores where
//! every request pays a round trip the pages of different columns share
//! requests (each column alone would cost at least one).

use crate::error::Result;
use crate::layout::ColumnLayout;
use crate::tree::Node;
use crate::units::plan_units;
use std::ops::Range;

/// Byte ranges the top-level columns `projection` (indices into `nodes`)
/// need for rows `rows`: every column whose units follow from the row
/// numbers alone (leaves, blob descriptions, struct members). List children
/// depend on offsets read first and are left to the normal read path.
pub(crate) fn planned_bytes(
    path: &str,
    nodes: &[Node],
    columns: &[ColumnLayout],
    projection: &[usize],
    rows: &[Range<u64>],
) -> Result<Vec<Range<u64>>> {
    let mut out = Vec::new();
    for &i in projection {
        collect(path, &nodes[i], columns, rows, &mut out)?;
    }
    Ok(out)
}

fn collect(
    path: &str,
    node: &Node,
    columns: &[ColumnLayout],
    rows: &[Range<u64>],
    out: &mut Vec<Range<u64>>,
) -> Result<()> {
    let mut add = |column: usize| -> Result<()> {
        let units = plan_units(path, column, &columns[column], rows)?;
        out.extend(units.into_iter().map(|u| u.bytes));
        Ok(())
    };
    match node {
        Node::Leaf { column, .. } | Node::Blob { column, .. } => add(*column),
        Node::Struct { column, children, .. } => {
            add(*column)?;
            for child in children {
                collect(path, child, columns, rows, out)?;
            }
            Ok(())
        }
        Node::List { .. } | Node::FixedList { .. } | Node::Null { .. } => Ok(()),
    }
}
