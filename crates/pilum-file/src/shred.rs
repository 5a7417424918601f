//! Splits Arrow arrays into the physical columns of the column tree.

use crate::column_writer::ColumnWriter;
use crate::error::{FileError, Result};
use crate::tree::{Node, fixed_width};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, OffsetSizeTrait};
use arrow_buffer::NullBuffer;
use arrow_schema::DataType;
use bytes::Bytes;

/// Blob bytes of the current batch, written out of line before any page.
#[derive(Debug, Default)]
pub(crate) struct PendingBlobs {
    /// Absolute file offset of the first pending byte.
    pub base: u64,
    /// Blob values in write order.
    pub values: Vec<Bytes>,
    /// Total pending bytes.
    pub len: u64,
}

/// Appends `array` (already in storage type) under `node`.
pub(crate) fn shred(
    node: &Node,
    array: &ArrayRef,
    columns: &mut [ColumnWriter],
    blobs: &mut PendingBlobs,
) -> Result<()> {
    match node {
        Node::Leaf { column, storage, .. } => shred_leaf(&mut columns[*column], storage, array),
        Node::Blob { column, .. } => shred_blob(&mut columns[*column], array, blobs),
        Node::Null { column } => {
            let nulls = NullBuffer::new_null(array.len());
            columns[*column].push_fixed(&[], array.len(), Some(&nulls), None);
            Ok(())
        }
        Node::Struct { column, children, .. } => {
            let s = array.as_struct();
            columns[*column].push_fixed(&[], s.len(), s.nulls(), None);
            for (child, values) in children.iter().zip(s.columns()) {
                shred(child, values, columns, blobs)?;
            }
            Ok(())
        }
        Node::FixedList { column, child, .. } => {
            let fsl = array.as_fixed_size_list();
            columns[*column].push_fixed(&[], fsl.len(), fsl.nulls(), None);
            shred(child, fsl.values(), columns, blobs)
        }
        Node::List { column, child, storage } => match storage {
            DataType::List(_) => shred_list(*column, child, array.as_list::<i32>(), columns, blobs),
            DataType::LargeList(_) => shred_list(*column, child, array.as_list::<i64>(), columns, blobs),
            DataType::Map(_, _) => {
                let map = array.as_map();
                let entries: ArrayRef = std::sync::Arc::new(map.entries().clone());
                shred_offsets(
                    *column,
                    child,
                    map.value_offsets(),
                    map.nulls(),
                    &entries,
                    columns,
                    blobs,
                )
            }
            other => Err(FileError::InvalidArgument(format!("list node over {other}"))),
        },
    }
}

fn shred_list<O: OffsetSizeTrait>(
    column: usize,
    child: &Node,
    list: &arrow_array::GenericListArray<O>,
    columns: &mut [ColumnWriter],
    blobs: &mut PendingBlobs,
) -> Result<()> {
    shred_offsets(
        column,
        child,
        list.value_offsets(),
        list.nulls(),
        list.values(),
        columns,
        blobs,
    )
}

fn shred_offsets<O: OffsetSizeTrait>(
    column: usize,
    child: &Node,
    offsets: &[O],
    nulls: Option<&NullBuffer>,
    values: &ArrayRef,
    columns: &mut [ColumnWriter],
    blobs: &mut PendingBlobs,
) -> Result<()> {
    let lengths: Vec<u8> = offsets
        .windows(2)
        .flat_map(|w| ((w[1] - w[0]).as_usize() as u64).to_le_bytes())
        .collect();
    columns[column].push_fixed(&lengths, offsets.len().saturating_sub(1), nulls, None);
    let (Some(first), Some(last)) = (offsets.first(), offsets.last()) else {
        return Ok(());
    };
    let child_values = values.slice(first.as_usize(), last.as_usize() - first.as_usize());
    shred(child, &child_values, columns, blobs)
}

fn shred_leaf(column: &mut ColumnWriter, storage: &DataType, array: &ArrayRef) -> Result<()> {
    let n = array.len();
    match storage {
        DataType::Boolean => column.push_bits(array.as_boolean().values(), array.nulls()),
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            column.push_variable(a.value_offsets(), a.value_data(), a.nulls());
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            column.push_variable(a.value_offsets(), a.value_data(), a.nulls());
        }
        DataType::Binary => {
            let a = array.as_binary::<i32>();
            column.push_variable(a.value_offsets(), a.value_data(), a.nulls());
        }
        DataType::LargeBinary => {
            let a = array.as_binary::<i64>();
            column.push_variable(a.value_offsets(), a.value_data(), a.nulls());
        }
        DataType::FixedSizeList(_, dim) => {
            let fsl = array.as_fixed_size_list();
            let values = fsl.values();
            let bytes = fixed_bytes(values, n * (*dim).max(0) as usize)?;
            column.push_fixed(bytes, n, fsl.nulls(), values.nulls());
        }
        _ => {
            let bytes = fixed_bytes(array, n)?;
            column.push_fixed(bytes, n, array.nulls(), None);
        }
    }
    Ok(())
}

/// The value bytes of a fixed-width array of `n` values (Arrow's typed
/// arrays keep their value buffers sliced to the array's own offset).
fn fixed_bytes(array: &ArrayRef, n: usize) -> Result<&[u8]> {
    let width = fixed_width(array.data_type()).map(|(w, _)| w as usize);
    let raw = values_buffer(array);
    match (width, raw) {
        (Some(width), Some(raw)) => raw
            .get(..n * width)
            .ok_or_else(|| FileError::InvalidArgument("value buffer shorter than the array".into())),
        _ => Err(FileError::InvalidArgument(format!(
            "{} is not fixed-width",
            array.data_type()
        ))),
    }
}

fn values_buffer(array: &ArrayRef) -> Option<&[u8]> {
    use arrow_array::types::*;
    macro_rules! prim {
        ($($t:ty),*) => {
            $(if let Some(a) = array.as_primitive_opt::<$t>() { return Some(a.values().inner().as_slice()); })*
        };
    }
    prim!(
        Int8Type,
        Int16Type,
        Int32Type,
        Int64Type,
        UInt8Type,
        UInt16Type,
        UInt32Type,
        UInt64Type,
        Float16Type,
        Float32Type,
        Float64Type,
        Date32Type,
        Date64Type,
        Time32SecondType,
        Time32MillisecondType,
        Time64MicrosecondType,
        Time64NanosecondType,
        TimestampSecondType,
        TimestampMillisecondType,
        TimestampMicrosecondType,
        TimestampNanosecondType,
        DurationSecondType,
        DurationMillisecondType,
        DurationMicrosecondType,
        DurationNanosecondType,
        Decimal32Type,
        Decimal64Type,
        Decimal128Type,
        Decimal256Type,
        IntervalYearMonthType,
        IntervalDayTimeType,
        IntervalMonthDayNanoType
    );
    array.as_fixed_size_binary_opt().map(|a| a.value_data())
}

fn shred_blob(column: &mut ColumnWriter, array: &ArrayRef, blobs: &mut PendingBlobs) -> Result<()> {
    let descriptions = match array.data_type() {
        DataType::LargeBinary => queue_blobs(array.as_binary::<i64>(), blobs),
        DataType::Binary => queue_blobs(array.as_binary::<i32>(), blobs),
        other => return Err(FileError::InvalidArgument(format!("blob column of type {other}"))),
    };
    column.push_fixed(&descriptions, array.len(), array.nulls(), None);
    Ok(())
}

/// Queues the non-empty values of `array` to be written out of line, as
/// slices of its value buffer (not copies); returns their 16-byte
/// descriptions (position, size), zero for nulls and empty values.
fn queue_blobs<O: OffsetSizeTrait>(array: &arrow_array::GenericBinaryArray<O>, blobs: &mut PendingBlobs) -> Vec<u8> {
    let mut descriptions = Vec::with_capacity(array.len() * 16);
    let offsets = array.value_offsets();
    for i in 0..array.len() {
        let (start, end) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
        let (position, size) = if array.is_valid(i) && end > start {
            let position = blobs.base + blobs.len;
            let value = array.values().slice_with_length(start, end - start);
            blobs.values.push(Bytes::from_owner(BlobBytes(value)));
            blobs.len += (end - start) as u64;
            (position, (end - start) as u64)
        } else {
            (0, 0)
        };
        descriptions.extend_from_slice(&position.to_le_bytes());
        descriptions.extend_from_slice(&size.to_le_bytes());
    }
    descriptions
}

/// An Arrow buffer slice handed to the sink as `Bytes` without a copy.
struct BlobBytes(arrow_buffer::Buffer);

impl AsRef<[u8]> for BlobBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}
