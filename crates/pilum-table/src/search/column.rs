//! Searchable vector columns: a fixed-size list of numbers per row, or a
//! list of such vectors per row (a multivector column, as late-interaction
//! models produce), read as f32 values row by row.

use crate::error::{Result, TableError};
use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, ArrayRef, FixedSizeListArray, GenericListArray, OffsetSizeTrait};
use arrow_buffer::ScalarBuffer;
use arrow_schema::DataType;

/// The shape of a vector column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VectorShape {
    /// Values per vector.
    pub dim: usize,
    /// One bag of vectors per row instead of one vector.
    pub multivector: bool,
    /// The values are bytes (u8), as binary codes for hamming distance are.
    pub bytes: bool,
}

impl VectorShape {
    /// The shape of a column of type `data_type`, or why it is not a
    /// vector column.
    pub fn of(column: &str, data_type: &DataType) -> Result<Self> {
        let (inner, multivector) = match data_type {
            DataType::List(item) | DataType::LargeList(item) => (item.data_type(), true),
            other => (other, false),
        };
        let not_vectors = || {
            TableError::InvalidArgument(format!(
                "column {column:?} is {data_type}, not a vector column (a fixed-size list of \
                 f16, f32, f64, u8 or i8, or a list of such vectors)"
            ))
        };
        let DataType::FixedSizeList(item, size) = inner else {
            return Err(not_vectors());
        };
        if *size <= 0
            || !matches!(
                item.data_type(),
                DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::UInt8 | DataType::Int8
            )
        {
            return Err(not_vectors());
        }
        Ok(Self {
            dim: *size as usize,
            multivector,
            bytes: item.data_type() == &DataType::UInt8,
        })
    }
}

/// A batch's vector column as f32 values: null items read as NaN (so the
/// vector holding them never matches), and each row's values are one
/// vector, or a bag of vectors for a multivector column.
pub(crate) struct VectorRows {
    values: ScalarBuffer<f32>,
    /// Value range of each row; `None` for a null row.
    rows: Ranges,
}

impl VectorRows {
    /// Reads `array`, a column of `shape`.
    pub fn new(array: &ArrayRef, shape: VectorShape) -> Result<Self> {
        let bad = || TableError::Internal {
            what: format!("a vector batch column is {}, not the expected shape", array.data_type()),
        };
        let (vectors, bags): (&FixedSizeListArray, Option<Ranges>) = match array.data_type() {
            DataType::List(_) if shape.multivector => bag_ranges(array.as_list::<i32>()).ok_or_else(bad)?,
            DataType::LargeList(_) if shape.multivector => bag_ranges(array.as_list::<i64>()).ok_or_else(bad)?,
            DataType::FixedSizeList(..) if !shape.multivector => (array.as_fixed_size_list(), None),
            _ => return Err(bad()),
        };
        let dim = shape.dim;
        let cast = arrow_cast::cast(vectors.values(), &DataType::Float32)?;
        let cast = cast.as_primitive::<Float32Type>();
        let first = vectors.value_offset(0).max(0) as usize;
        let needed = first + vectors.len() * dim;
        if cast.len() < needed {
            return Err(bad());
        }
        // Shared with the cast (no copy, for f32 columns) unless null items
        // or null vectors must read as NaN.
        let values: ScalarBuffer<f32> = if cast.null_count() > 0 || vectors.null_count() > 0 {
            let mut owned = cast.values()[..needed].to_vec();
            for (i, v) in owned.iter_mut().enumerate() {
                if cast.is_null(i) {
                    *v = f32::NAN;
                }
            }
            for i in (0..vectors.len()).filter(|&i| vectors.is_null(i)) {
                let start = first + i * dim;
                owned[start..start + dim].fill(f32::NAN);
            }
            owned.into()
        } else {
            cast.values().clone()
        };
        let rows = match bags {
            Some(bags) => bags
                .into_iter()
                .map(|bag| bag.map(|(s, e)| (first + s * dim, first + e * dim)))
                .collect(),
            None => (0..vectors.len())
                .map(|i| vectors.is_valid(i).then(|| (first + i * dim, first + (i + 1) * dim)))
                .collect(),
        };
        Ok(Self { values, rows })
    }

    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Row `i`'s values (a vector, or a bag's vectors one after another);
    /// `None` for a null row.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        let (start, end) = self.rows.get(i).copied().flatten()?;
        self.values.get(start..end)
    }
}

/// Value ranges of rows; `None` for a null row.
type Ranges = Vec<Option<(usize, usize)>>;

/// A list column's vectors and each row's range of them.
fn bag_ranges<O: OffsetSizeTrait>(list: &GenericListArray<O>) -> Option<(&FixedSizeListArray, Option<Ranges>)> {
    let offsets = list.value_offsets();
    let bags = (0..list.len())
        .map(|i| {
            list.is_valid(i)
                .then(|| (offsets[i].as_usize(), offsets[i + 1].as_usize()))
        })
        .collect();
    Some((list.values().as_fixed_size_list_opt()?, Some(bags)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, ListBuilder};
    use std::sync::Arc;

    #[test]
    fn reads_bags_with_null_rows_and_null_vectors() {
        let mut builder = ListBuilder::new(FixedSizeListBuilder::new(Float32Builder::new(), 2));
        builder.values().values().append_slice(&[1.0, 2.0]);
        builder.values().append(true);
        builder.values().values().append_slice(&[0.0, 0.0]);
        builder.values().append(false);
        builder.append(true);
        builder.append(false);
        builder.values().values().append_slice(&[3.0, 4.0]);
        builder.values().append(true);
        builder.append(true);
        let array: ArrayRef = Arc::new(builder.finish());
        let shape = VectorShape::of("mv", array.data_type()).unwrap();
        assert_eq!(
            shape,
            VectorShape {
                dim: 2,
                multivector: true,
                bytes: false,
            }
        );
        let rows = VectorRows::new(&array, shape).unwrap();
        assert_eq!(rows.len(), 3);
        let first = rows.row(0).unwrap();
        assert_eq!(&first[..2], &[1.0, 2.0]);
        assert!(first[2].is_nan() && first[3].is_nan());
        assert!(rows.row(1).is_none());
        assert_eq!(rows.row(2).unwrap(), &[3.0, 4.0]);
    }

    #[test]
    fn rejects_columns_that_hold_no_vectors() {
        for data_type in [
            DataType::Utf8,
            DataType::new_list(DataType::Float32, true),
            DataType::new_fixed_size_list(DataType::Utf8, 4, true),
        ] {
            assert!(VectorShape::of("c", &data_type).is_err(), "{data_type}");
        }
        let u8s = DataType::new_fixed_size_list(DataType::UInt8, 16, true);
        assert_eq!(VectorShape::of("c", &u8s).unwrap().dim, 16);
    }
}
