//! The column tree: how an Arrow schema maps onto physical columns.
//!
//! Writer and reader derive the same tree from the schema, so the tree itself
//! is never stored; the metadata only lists the physical columns it implies,
//! in depth-first order. Dictionary and view types are stored as their value
//! types (see [`storage_type`]) and cast back on read.

use crate::error::{FileError, Result};
use arrow_schema::{DataType, Field, FieldRef, Fields, IntervalUnit};
use pilum_core::is_blob_field;
use pilum_encoding::{IntegerSign, ValueKind};
use std::sync::Arc;

/// A node of the column tree. `column` indexes the physical column the node owns.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// Values stored in one physical column.
    Leaf { column: usize, storage: DataType },
    /// Blob values: a 16-byte (position, size) description column; bytes stored out of line.
    Blob { column: usize, storage: DataType },
    /// Variable-length list or map: a column of per-row lengths, then the child.
    List {
        column: usize,
        storage: DataType,
        child: Box<Node>,
    },
    /// Struct: a zero-width column carrying validity, then one node per child.
    Struct {
        column: usize,
        storage: DataType,
        children: Vec<Node>,
    },
    /// Fixed-size list of a non-flat child: a zero-width validity column, then the child.
    FixedList {
        column: usize,
        dim: usize,
        storage: DataType,
        child: Box<Node>,
    },
    /// The `Null` type: a zero-width column where every value is null.
    Null { column: usize },
}

/// Kind of the length column of lists.
pub(crate) const LENGTHS_KIND: ValueKind = ValueKind::Fixed {
    width: 8,
    items: 1,
    integer: Some(IntegerSign::Unsigned),
};
/// Kind of zero-width validity-only columns.
pub(crate) const VALIDITY_KIND: ValueKind = ValueKind::Fixed {
    width: 0,
    items: 1,
    integer: None,
};
/// Kind of blob description columns.
pub(crate) const BLOB_KIND: ValueKind = ValueKind::Fixed {
    width: 16,
    items: 1,
    integer: None,
};

impl Node {
    /// The physical column owned by this node.
    pub(crate) fn column(&self) -> usize {
        match self {
            Node::Leaf { column, .. }
            | Node::Blob { column, .. }
            | Node::List { column, .. }
            | Node::Struct { column, .. }
            | Node::FixedList { column, .. }
            | Node::Null { column } => *column,
        }
    }
}

/// Physical columns that hold list lengths (they carry chunk child starts).
pub(crate) fn list_columns(node: &Node) -> Vec<usize> {
    match node {
        Node::List { column, child, .. } => {
            let mut out = vec![*column];
            out.extend(list_columns(child));
            out
        }
        Node::Struct { children, .. } => children.iter().flat_map(list_columns).collect(),
        Node::FixedList { child, .. } => list_columns(child),
        _ => Vec::new(),
    }
}

/// Builds the tree for `fields`, returning one node per field and the kind
/// of every physical column in depth-first order.
pub(crate) fn build_tree(fields: &Fields) -> Result<(Vec<Node>, Vec<ValueKind>)> {
    let mut kinds = Vec::new();
    let nodes = fields
        .iter()
        .map(|f| build(f, &mut kinds))
        .collect::<Result<Vec<_>>>()?;
    Ok((nodes, kinds))
}

fn push(kinds: &mut Vec<ValueKind>, kind: ValueKind) -> usize {
    kinds.push(kind);
    kinds.len() - 1
}

fn build(field: &Field, kinds: &mut Vec<ValueKind>) -> Result<Node> {
    let storage = storage_type(field.data_type());
    if is_blob_field(field) {
        return Ok(Node::Blob {
            column: push(kinds, BLOB_KIND),
            storage,
        });
    }
    let unsupported = || FileError::UnsupportedType {
        field: field.name().clone(),
        data_type: field.data_type().to_string(),
    };
    let node = match &storage {
        DataType::Null => Node::Null {
            column: push(kinds, VALIDITY_KIND),
        },
        DataType::Boolean => Node::Leaf {
            column: push(kinds, ValueKind::Bits),
            storage,
        },
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary => Node::Leaf {
            column: push(kinds, ValueKind::Variable),
            storage,
        },
        DataType::List(child) | DataType::LargeList(child) | DataType::Map(child, _) => {
            let column = push(kinds, LENGTHS_KIND);
            Node::List {
                column,
                child: Box::new(build(child, kinds)?),
                storage,
            }
        }
        DataType::Struct(children) => {
            let column = push(kinds, VALIDITY_KIND);
            let children = children.iter().map(|c| build(c, kinds)).collect::<Result<Vec<_>>>()?;
            Node::Struct {
                column,
                storage,
                children,
            }
        }
        DataType::FixedSizeList(child, dim) => {
            let dim = usize::try_from(*dim).map_err(|_| unsupported())?;
            match fixed_width(child.data_type()).filter(|_| !is_blob_field(child)) {
                Some((width, _)) => {
                    let kind = ValueKind::Fixed {
                        width: width * dim as u32,
                        items: dim as u32,
                        integer: None,
                    };
                    Node::Leaf {
                        column: push(kinds, kind),
                        storage,
                    }
                }
                None => {
                    let column = push(kinds, VALIDITY_KIND);
                    Node::FixedList {
                        column,
                        dim,
                        child: Box::new(build(child, kinds)?),
                        storage,
                    }
                }
            }
        }
        dt => match fixed_width(dt) {
            Some((width, integer)) => {
                let kind = ValueKind::Fixed {
                    width,
                    items: 1,
                    integer,
                };
                Node::Leaf {
                    column: push(kinds, kind),
                    storage,
                }
            }
            None => return Err(unsupported()),
        },
    };
    Ok(node)
}

/// Byte width and integer sign of fixed-width scalar types.
pub(crate) fn fixed_width(dt: &DataType) -> Option<(u32, Option<IntegerSign>)> {
    use DataType::*;
    let signed = Some(IntegerSign::Signed);
    let unsigned = Some(IntegerSign::Unsigned);
    Some(match dt {
        Int8 => (1, signed),
        Int16 => (2, signed),
        Int32 | Date32 | Time32(_) | Decimal32(_, _) => (4, signed),
        Int64 | Date64 | Time64(_) | Timestamp(_, _) | Duration(_) | Decimal64(_, _) => (8, signed),
        UInt8 => (1, unsigned),
        UInt16 => (2, unsigned),
        UInt32 => (4, unsigned),
        UInt64 => (8, unsigned),
        Float16 => (2, None),
        Float32 => (4, None),
        Float64 => (8, None),
        Decimal128(_, _) => (16, signed),
        Decimal256(_, _) => (32, None),
        Interval(IntervalUnit::YearMonth) => (4, signed),
        Interval(IntervalUnit::DayTime) => (8, None),
        Interval(IntervalUnit::MonthDayNano) => (16, None),
        FixedSizeBinary(n) => (u32::try_from(*n).ok()?, None),
        _ => return None,
    })
}

/// The type values are stored as: dictionaries become their value type, view
/// types become large offset types, recursively through nested types.
pub(crate) fn storage_type(dt: &DataType) -> DataType {
    let field = |f: &FieldRef| -> FieldRef { Arc::new(f.as_ref().clone().with_data_type(storage_type(f.data_type()))) };
    match dt {
        DataType::Dictionary(_, value) => storage_type(value),
        DataType::Utf8View => DataType::LargeUtf8,
        DataType::BinaryView => DataType::LargeBinary,
        DataType::List(f) => DataType::List(field(f)),
        DataType::LargeList(f) => DataType::LargeList(field(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(field(f), *n),
        DataType::Map(f, sorted) => DataType::Map(field(f), *sorted),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(field).collect()),
        other => other.clone(),
    }
}
