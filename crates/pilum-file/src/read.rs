//! Reading a row selection of one column tree node into an Arrow array.

use crate::assemble::{Gathered, gather};
use crate::error::{FileError, Result};
use crate::format::read_u64;
use crate::layout::ColumnLayout;
use crate::tree::Node;
use crate::units::{ColumnSite, load_units, plan_units};
use crate::views::{gather_views, is_utf8};
use arrow_array::{
    ArrayRef, BooleanArray, FixedSizeListArray, GenericByteArray, LargeBinaryArray, ListArray, MapArray, NullArray,
    StructArray, UInt64Array, make_array, types::ByteArrayType,
};
use arrow_buffer::{ArrowNativeType, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_data::ArrayDataBuilder;
use arrow_schema::{DataType, Field, Fields};
use futures::future::{BoxFuture, try_join_all};
use pilum_io::ObjectReader;
use std::ops::Range;
use std::sync::Arc;

/// How blob columns are returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BlobMode {
    /// `struct<position: uint64, size: uint64>` descriptions; no blob bytes are read.
    #[default]
    Descriptions,
    /// The blob bytes, as the column's binary type.
    Bytes,
}

/// The type a blob column has when read as descriptions.
pub fn blob_description_type() -> DataType {
    DataType::Struct(Fields::from(vec![
        Field::new("position", DataType::UInt64, false),
        Field::new("size", DataType::UInt64, false),
    ]))
}

/// What a node read needs from the file.
pub(crate) struct ReadContext<'a> {
    pub reader: &'a ObjectReader,
    pub columns: &'a [ColumnLayout],
    pub blob_mode: BlobMode,
    pub file_size: u64,
}

impl ReadContext<'_> {
    fn path(&self) -> String {
        self.reader.path().to_string()
    }

    /// A corrupt-file error about physical column `column`.
    fn corrupt(&self, column: usize, what: impl std::fmt::Display) -> FileError {
        ColumnSite {
            path: &self.path(),
            column,
        }
        .corrupt(what)
    }

    async fn gather(&self, column: usize, ranges: &[Range<u64>], child_starts: bool) -> Result<Gathered> {
        let layout = &self.columns[column];
        let units = plan_units(&self.path(), column, layout, ranges)?;
        // A list's lengths are read from the start of each chunk: whole chunks.
        let selection = (!child_starts).then_some(ranges);
        let loaded = load_units(self.reader, column, layout, units, selection).await?;
        let path = self.path();
        gather(
            ColumnSite { path: &path, column },
            layout,
            &loaded,
            ranges,
            child_starts,
        )
    }

    /// Reads values `ranges` of a variable-width leaf column as a view array.
    pub(crate) fn read_views<'a>(
        &'a self,
        column: usize,
        ranges: Vec<Range<u64>>,
        utf8: bool,
    ) -> BoxFuture<'a, Result<ArrayRef>> {
        Box::pin(async move {
            let layout = &self.columns[column];
            let units = plan_units(&self.path(), column, layout, &ranges)?;
            let loaded = load_units(self.reader, column, layout, units, None).await?;
            let path = self.path();
            gather_views(ColumnSite { path: &path, column }, layout, &loaded, &ranges, utf8)
        })
    }

    /// Reads values `ranges` (sorted, disjoint) of `node` into one array.
    pub(crate) fn read_node<'a>(&'a self, node: &'a Node, ranges: Vec<Range<u64>>) -> BoxFuture<'a, Result<ArrayRef>> {
        Box::pin(async move {
            match node {
                Node::Leaf { column, storage, .. } => {
                    let g = self.gather(*column, &ranges, false).await?;
                    let path = self.path();
                    build_leaf(
                        ColumnSite {
                            path: &path,
                            column: *column,
                        },
                        storage,
                        g,
                    )
                }
                Node::Blob { column, storage } => {
                    let g = self.gather(*column, &ranges, false).await?;
                    self.build_blob(storage, g).await
                }
                Node::Null { .. } => Ok(Arc::new(NullArray::new(total(&ranges))) as ArrayRef),
                Node::Struct {
                    column,
                    storage,
                    children,
                } => {
                    let DataType::Struct(fields) = storage else {
                        return Err(mismatch(storage));
                    };
                    let validity = self.gather(*column, &ranges, false);
                    let kids = try_join_all(children.iter().map(|c| self.read_node(c, ranges.clone())));
                    let (validity, kids) = futures::try_join!(validity, kids)?;
                    let fields = self.output_fields(fields, children);
                    if fields.is_empty() {
                        return Ok(Arc::new(StructArray::new_empty_fields(validity.len, validity.validity)) as ArrayRef);
                    }
                    let array =
                        StructArray::try_new(fields, kids, validity.validity).map_err(|e| self.corrupt(*column, e))?;
                    Ok(Arc::new(array) as ArrayRef)
                }
                Node::FixedList {
                    column,
                    dim,
                    storage,
                    child,
                } => {
                    let DataType::FixedSizeList(field, size) = storage else {
                        return Err(mismatch(storage));
                    };
                    let d = *dim as u64;
                    let child_ranges = ranges.iter().map(|r| r.start * d..r.end * d).collect();
                    let (validity, values) = futures::try_join!(
                        self.gather(*column, &ranges, false),
                        self.read_node(child, child_ranges)
                    )?;
                    let field = Arc::new(field.as_ref().clone().with_data_type(values.data_type().clone()));
                    let array = FixedSizeListArray::try_new(field, *size, values, validity.validity)
                        .map_err(|e| self.corrupt(*column, e))?;
                    Ok(Arc::new(array) as ArrayRef)
                }
                Node::List { column, storage, child } => {
                    let lengths = self.gather(*column, &ranges, true).await?;
                    let mut child_ranges: Vec<Range<u64>> = Vec::new();
                    let mut ends = Vec::with_capacity(lengths.len + 1);
                    let mut total_len = 0u64;
                    ends.push(0u64);
                    for (i, &start) in lengths.child_starts.iter().enumerate() {
                        let len = read_u64(lengths.fixed.as_slice(), i);
                        let end = start
                            .checked_add(len)
                            .ok_or_else(|| self.corrupt(*column, "list length overflows the child column"))?;
                        total_len += len;
                        ends.push(total_len);
                        match child_ranges.last_mut() {
                            Some(last) if last.end == start => last.end = end,
                            _ if len > 0 => child_ranges.push(start..end),
                            _ => {}
                        }
                    }
                    let values = self.read_node(child, child_ranges).await?;
                    let path = self.path();
                    build_list(
                        ColumnSite {
                            path: &path,
                            column: *column,
                        },
                        storage,
                        values,
                        ends,
                        lengths.validity,
                    )
                }
            }
        })
    }

    /// Child fields as they come out of the read (blob fields may change type).
    fn output_fields(&self, fields: &Fields, children: &[Node]) -> Fields {
        fields
            .iter()
            .zip(children)
            .map(|(f, node)| match (node, self.blob_mode) {
                (Node::Blob { .. }, BlobMode::Descriptions) => {
                    Arc::new(f.as_ref().clone().with_data_type(blob_description_type()))
                }
                _ => f.clone(),
            })
            .collect()
    }

    async fn build_blob(&self, storage: &DataType, g: Gathered) -> Result<ArrayRef> {
        let pairs: Vec<(u64, u64)> = (0..g.len)
            .map(|i| {
                (
                    read_u64(g.fixed.as_slice(), 2 * i),
                    read_u64(g.fixed.as_slice(), 2 * i + 1),
                )
            })
            .collect();
        if self.blob_mode == BlobMode::Descriptions {
            let positions = UInt64Array::from_iter_values(pairs.iter().map(|p| p.0));
            let sizes = UInt64Array::from_iter_values(pairs.iter().map(|p| p.1));
            let DataType::Struct(fields) = blob_description_type() else {
                return Err(mismatch(storage));
            };
            return Ok(Arc::new(StructArray::try_new(
                fields,
                vec![Arc::new(positions), Arc::new(sizes)],
                g.validity,
            )?));
        }
        let mut ranges = Vec::with_capacity(pairs.len());
        for &(position, size) in &pairs {
            ranges.push(blob_range(position, size, self.file_size, &self.path())?);
        }
        let bytes = self.reader.read_ranges(&ranges).await?;
        let array = LargeBinaryArray::from_iter((0..pairs.len()).map(|i| {
            let valid = g.validity.as_ref().is_none_or(|v| v.is_valid(i));
            valid.then(|| bytes[i].as_ref())
        }));
        if storage == &DataType::LargeBinary {
            Ok(Arc::new(array))
        } else {
            Ok(arrow_cast::cast(&array, storage)?)
        }
    }
}

fn total(ranges: &[Range<u64>]) -> usize {
    ranges.iter().map(|r| (r.end - r.start) as usize).sum()
}

/// The file bytes of a blob, checked to lie inside a file of `file_size` bytes.
pub(crate) fn blob_range(position: u64, size: u64, file_size: u64, path: &str) -> Result<Range<u64>> {
    match position.checked_add(size) {
        Some(end) if end <= file_size => Ok(position..end),
        _ => Err(FileError::corrupt(
            &path,
            format!("blob {position}+{size} lies outside the file"),
        )),
    }
}

/// The error of a node whose stored type does not fit its shape in the
/// column tree: the tree is derived from that type, so this is a bug.
fn mismatch(dt: &DataType) -> FileError {
    FileError::internal(format!("column tree does not match type {dt}"))
}

fn build_leaf(site: ColumnSite<'_>, storage: &DataType, g: Gathered) -> Result<ArrayRef> {
    match storage {
        DataType::Boolean => {
            let bits = g.bits.ok_or_else(|| mismatch(storage))?;
            Ok(Arc::new(BooleanArray::new(bits, g.validity)))
        }
        DataType::Utf8 => bytes_array::<arrow_array::types::Utf8Type>(site, g),
        DataType::LargeUtf8 => bytes_array::<arrow_array::types::LargeUtf8Type>(site, g),
        DataType::Binary => bytes_array::<arrow_array::types::BinaryType>(site, g),
        DataType::LargeBinary => bytes_array::<arrow_array::types::LargeBinaryType>(site, g),
        DataType::FixedSizeList(field, dim) => {
            let child = ArrayDataBuilder::new(field.data_type().clone())
                .len(g.len * (*dim).max(0) as usize)
                .add_buffer(g.fixed)
                .nulls(g.item_validity)
                .build()
                .map_err(|e| site.corrupt(e))?;
            let values = make_array(child);
            let array =
                FixedSizeListArray::try_new(field.clone(), *dim, values, g.validity).map_err(|e| site.corrupt(e))?;
            Ok(Arc::new(array))
        }
        dt => {
            let data = ArrayDataBuilder::new(dt.clone())
                .len(g.len)
                .add_buffer(g.fixed)
                .nulls(g.validity)
                .build()
                .map_err(|e| site.corrupt(e))?;
            Ok(make_array(data))
        }
    }
}

fn bytes_array<T: ByteArrayType>(site: ColumnSite<'_>, g: Gathered) -> Result<ArrayRef> {
    let offsets = g
        .offsets
        .iter()
        .map(|&o| T::Offset::from_usize(o as usize))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            FileError::InvalidArgument(format!(
                "{} bytes of values exceed the range of {}: read fewer rows at once",
                g.data.len(),
                T::DATA_TYPE
            ))
        })?;
    let is_string = matches!(T::DATA_TYPE, DataType::Utf8 | DataType::LargeUtf8);
    let (raw_offsets, data, nulls) = (g.offsets, g.data, g.validity);
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    if !is_string {
        let array = GenericByteArray::<T>::try_new(offsets, data.into(), nulls).map_err(|e| site.corrupt(e))?;
        return Ok(Arc::new(array));
    }
    let rows = raw_offsets.len().saturating_sub(1);
    if raw_offsets.last().is_some_and(|&end| end as usize > data.len())
        || nulls.as_ref().is_some_and(|n| n.len() != rows)
    {
        return Err(site.corrupt("string values do not match their offsets"));
    }
    if !is_utf8(&data, &raw_offsets) {
        return Err(site.corrupt("string values are not valid UTF-8"));
    }
    // SAFETY: `OffsetBuffer::new` checked the offsets start at 0 or more and
    // never decrease; the last is within `data` and every one falls on a
    // character boundary of `data`, which is UTF-8 (`is_utf8`), so every
    // value is UTF-8; the null buffer, if any, has one entry per value.
    Ok(Arc::new(unsafe {
        GenericByteArray::<T>::new_unchecked(offsets, data.into(), nulls)
    }))
}

fn build_list(
    site: ColumnSite<'_>,
    storage: &DataType,
    values: ArrayRef,
    ends: Vec<u64>,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef> {
    let too_long = || {
        FileError::InvalidArgument(format!(
            "{} list items exceed the offset range of {storage}: read fewer rows at once",
            ends.last().copied().unwrap_or_default()
        ))
    };
    match storage {
        DataType::List(field) | DataType::Map(field, _) => {
            let offsets: Vec<i32> = ends
                .iter()
                .map(|&e| i32::try_from(e))
                .collect::<Result<_, _>>()
                .map_err(|_| too_long())?;
            let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
            let field = Arc::new(field.as_ref().clone().with_data_type(values.data_type().clone()));
            if let DataType::Map(_, sorted) = storage {
                let entries = values
                    .as_any()
                    .downcast_ref::<StructArray>()
                    .ok_or_else(|| mismatch(storage))?
                    .clone();
                let map = MapArray::try_new(field, offsets, entries, nulls, *sorted).map_err(|e| site.corrupt(e))?;
                return Ok(Arc::new(map));
            }
            let list = ListArray::try_new(field, offsets, values, nulls).map_err(|e| site.corrupt(e))?;
            Ok(Arc::new(list))
        }
        DataType::LargeList(field) => {
            let offsets: Vec<i64> = ends
                .iter()
                .map(|&e| i64::try_from(e))
                .collect::<Result<_, _>>()
                .map_err(|_| too_long())?;
            let field = Arc::new(field.as_ref().clone().with_data_type(values.data_type().clone()));
            let list = arrow_array::LargeListArray::try_new(field, OffsetBuffer::new(offsets.into()), values, nulls)
                .map_err(|e| site.corrupt(e))?;
            Ok(Arc::new(list))
        }
        other => Err(mismatch(other)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use arrow_array::types::{BinaryType, LargeUtf8Type, Utf8Type};
    use arrow_array::{Array, BinaryArray, LargeStringArray, StringArray};
    use arrow_buffer::Buffer;

    fn gathered(offsets: Vec<u64>, data: &[u8], validity: Option<NullBuffer>) -> Gathered {
        Gathered {
            len: offsets.len() - 1,
            fixed: Buffer::from_vec(Vec::<u8>::new()),
            bits: None,
            offsets,
            data: data.to_vec(),
            validity,
            item_validity: None,
            child_starts: Vec::new(),
        }
    }

    const SITE: ColumnSite<'static> = ColumnSite {
        path: "dir/bad.pilum",
        column: 3,
    };

    /// Asserts `result` is a corrupt-file error naming the file and the column.
    fn assert_corrupt(result: Result<ArrayRef>, context: &str) {
        match result {
            Err(e @ FileError::Corrupt { .. }) => {
                let message = e.to_string();
                assert!(
                    message.contains("dir/bad.pilum") && message.contains("column 3"),
                    "{context}: {message}"
                );
            }
            other => panic!("{context}: expected a corrupt-file error, got {other:?}"),
        }
    }

    #[test]
    fn strings_are_checked_for_utf8_on_value_boundaries() {
        let text = "añb€".as_bytes();
        let array = bytes_array::<Utf8Type>(SITE, gathered(vec![0, 1, 3, 4, 7], text, None)).unwrap();
        let strings = array.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(strings.iter().flatten().collect::<Vec<_>>(), ["a", "ñ", "b", "€"]);
        let nulls = NullBuffer::from(vec![true, false]);
        let large = bytes_array::<LargeUtf8Type>(SITE, gathered(vec![0, 1, 3], &text[..3], Some(nulls))).unwrap();
        let large = large.as_any().downcast_ref::<LargeStringArray>().unwrap();
        assert_eq!((large.value(0), large.is_null(1)), ("a", true));
        // An offset inside "ñ", bytes that are not UTF-8, offsets past the
        // data and a null buffer of the wrong length are corrupt files, not arrays.
        let inside = bytes_array::<Utf8Type>(SITE, gathered(vec![0, 2, 3], &text[..3], None));
        assert_corrupt(inside, "offset inside a character");
        assert_corrupt(
            bytes_array::<Utf8Type>(SITE, gathered(vec![0, 2], &[0xff, 0xfe], None)),
            "not UTF-8",
        );
        assert_corrupt(
            bytes_array::<Utf8Type>(SITE, gathered(vec![0, 4], b"abc", None)),
            "offsets past the data",
        );
        let short = NullBuffer::from(vec![true]);
        assert_corrupt(
            bytes_array::<Utf8Type>(SITE, gathered(vec![0, 1, 2], b"ab", Some(short))),
            "short null buffer",
        );
        let short = NullBuffer::from(vec![true]);
        assert_corrupt(
            bytes_array::<BinaryType>(SITE, gathered(vec![0, 1, 2], b"ab", Some(short))),
            "short null buffer of binary values",
        );
        // Binary values need not be UTF-8.
        let binary = bytes_array::<BinaryType>(SITE, gathered(vec![0, 2], &[0xff, 0xfe], None)).unwrap();
        assert_eq!(
            binary.as_any().downcast_ref::<BinaryArray>().unwrap().value(0),
            [0xff, 0xfe]
        );
    }

    #[test]
    fn nulls_under_non_nullable_fields_are_corrupt() {
        // Item nulls in a vector whose items are declared non-nullable.
        let item = Arc::new(Field::new("item", DataType::Float32, false));
        let mut g = gathered(vec![0], &[], None);
        g.len = 1;
        g.fixed = Buffer::from_vec(vec![0u8; 8]);
        g.item_validity = Some(NullBuffer::from(vec![true, false]));
        assert_corrupt(
            build_leaf(SITE, &DataType::FixedSizeList(item.clone(), 2), g),
            "null vector item",
        );
        // Null list items declared non-nullable.
        let values: ArrayRef = Arc::new(arrow_array::Float32Array::from(vec![Some(1.0), None]));
        let list = build_list(SITE, &DataType::List(item.clone()), values.clone(), vec![0, 2], None);
        assert_corrupt(list, "null list item");
        let large = build_list(SITE, &DataType::LargeList(item), values, vec![0, 2], None);
        assert_corrupt(large, "null large-list item");
    }

    #[test]
    fn a_node_of_the_wrong_shape_is_an_internal_error() {
        let g = gathered(vec![0], &[], None);
        let err = build_leaf(SITE, &DataType::Boolean, g).unwrap_err();
        assert!(matches!(err, FileError::Internal { .. }), "{err:?}");
    }
}
