//! Column statistics of data files: null counts and min/max bounds,
//! gathered while a file is written and kept in the manifest
//! (`format-spec/table.md` section 6.3), so planners can estimate
//! selectivities and join sizes without opening any file.

use crate::error::Result;
use crate::proto;
use crate::schema::TableSchema;
use arrow_array::{Array, ArrayRef, RecordBatch, make_array};
use arrow_buffer::Buffer;
use arrow_data::ArrayDataBuilder;
use arrow_schema::DataType;
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::min_max::{MaxAccumulator, MinAccumulator};
use datafusion::logical_expr::Accumulator;

/// Longest string bound kept: a column whose min or max is longer gets a
/// null count but no bounds.
pub const MAX_BOUND_BYTES: usize = 64;

/// Whether min/max bounds are kept for columns of `data_type`.
fn has_bounds(data_type: &DataType) -> bool {
    use DataType::*;
    data_type.is_integer()
        || matches!(
            data_type,
            Boolean
                | Float32
                | Float64
                | Decimal32(..)
                | Decimal64(..)
                | Decimal128(..)
                | Date32
                | Date64
                | Time32(_)
                | Time64(_)
                | Timestamp(..)
                | Duration(_)
                | Utf8
                | LargeUtf8
                | Utf8View
        )
}

/// Statistics of one column, accumulated batch by batch.
struct ColumnAccumulator {
    field_id: i32,
    data_type: DataType,
    null_count: u64,
    bounds: Option<(MinAccumulator, MaxAccumulator)>,
}

/// Gathers the statistics of a file's top-level columns as batches are written.
pub(crate) struct StatisticsCollector {
    columns: Vec<ColumnAccumulator>,
}

impl StatisticsCollector {
    /// A collector for batches of `schema`.
    pub(crate) fn new(schema: &TableSchema) -> Self {
        let columns = schema
            .arrow()
            .fields()
            .iter()
            .zip(schema.top_level_ids())
            .map(|(field, field_id)| {
                let data_type = field.data_type();
                let bounds = has_bounds(data_type)
                    .then(|| {
                        Some((
                            MinAccumulator::try_new(data_type).ok()?,
                            MaxAccumulator::try_new(data_type).ok()?,
                        ))
                    })
                    .flatten();
                ColumnAccumulator {
                    field_id,
                    data_type: data_type.clone(),
                    null_count: 0,
                    bounds,
                }
            })
            .collect();
        Self { columns }
    }

    /// Adds the rows of `batch` (columns in the schema's order).
    pub(crate) fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        for (column, array) in self.columns.iter_mut().zip(batch.columns()) {
            column.null_count += array.logical_null_count() as u64;
            if let Some((min, max)) = &mut column.bounds {
                let values = [array.clone()];
                min.update_batch(&values)?;
                max.update_batch(&values)?;
            }
        }
        Ok(())
    }

    /// The statistics of everything added.
    pub(crate) fn finish(self) -> Result<Vec<proto::ColumnStatistics>> {
        let mut out = Vec::with_capacity(self.columns.len());
        for column in self.columns {
            let bounds = match column.bounds {
                Some((mut min, mut max)) => encode_bound(&min.evaluate()?).zip(encode_bound(&max.evaluate()?)),
                None => None,
            };
            let (min, max) = bounds.clone().unwrap_or_default();
            out.push(proto::ColumnStatistics {
                field_id: column.field_id,
                null_count: column.null_count,
                has_bounds: bounds.is_some(),
                min,
                max,
                data_type: column.data_type.to_string(),
            });
        }
        Ok(out)
    }
}

/// The bytes of a bound: UTF-8 for strings, one byte (0 or 1) for booleans,
/// the little-endian value for fixed-width types. `None` for a null, a NaN
/// or a string longer than [`MAX_BOUND_BYTES`].
pub(crate) fn encode_bound(value: &ScalarValue) -> Option<Vec<u8>> {
    match value {
        v if v.is_null() => None,
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            (s.len() <= MAX_BOUND_BYTES).then(|| s.as_bytes().to_vec())
        }
        ScalarValue::Boolean(Some(b)) => Some(vec![u8::from(*b)]),
        ScalarValue::Float32(Some(f)) if f.is_nan() => None,
        ScalarValue::Float64(Some(f)) if f.is_nan() => None,
        v => {
            let data = v.to_array().ok()?.to_data();
            let width = data.data_type().primitive_width()?;
            let buffer = data.buffers().first()?;
            buffer
                .get(data.offset() * width..(data.offset() + 1) * width)
                .map(<[u8]>::to_vec)
        }
    }
}

/// The (min, max) bounds of `statistics` for a column now resolved to
/// `data_type`; `None` without bounds, when the column was written with
/// another type (a fragment appended across a cast), or when the bytes do
/// not fit the type (statistics are advisory: bad ones are ignored).
pub(crate) fn decode_bounds(
    statistics: &proto::ColumnStatistics,
    data_type: &DataType,
) -> Option<(ScalarValue, ScalarValue)> {
    if !statistics.has_bounds || statistics.data_type != data_type.to_string() {
        return None;
    }
    decode_bound(&statistics.min, data_type).zip(decode_bound(&statistics.max, data_type))
}

/// The value `bytes` encode for a column of `data_type`; `None` when they do
/// not fit the type.
fn decode_bound(bytes: &[u8], data_type: &DataType) -> Option<ScalarValue> {
    let text = || std::str::from_utf8(bytes).ok().map(str::to_string);
    Some(match data_type {
        DataType::Utf8 => ScalarValue::Utf8(Some(text()?)),
        DataType::LargeUtf8 => ScalarValue::LargeUtf8(Some(text()?)),
        DataType::Utf8View => ScalarValue::Utf8View(Some(text()?)),
        DataType::Boolean => match bytes {
            [b @ (0 | 1)] => ScalarValue::Boolean(Some(*b == 1)),
            _ => return None,
        },
        dt if has_bounds(dt) && dt.primitive_width() == Some(bytes.len()) => {
            let data = ArrayDataBuilder::new(dt.clone())
                .len(1)
                .add_buffer(Buffer::from(bytes))
                .build()
                .ok()?;
            let array: ArrayRef = make_array(data);
            ScalarValue::try_from_array(&array, 0).ok()?
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use arrow_array::{BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray};
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;

    fn collect(arrays: Vec<ArrayRef>) -> Vec<proto::ColumnStatistics> {
        let fields: Vec<Field> = arrays
            .iter()
            .enumerate()
            .map(|(i, a)| Field::new(format!("c{i}"), a.data_type().clone(), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let table = TableSchema::assign(schema.clone(), 0);
        let batch = RecordBatch::try_new(schema, arrays).unwrap();
        let mut collector = StatisticsCollector::new(&table);
        collector.update(&batch.slice(0, 2)).unwrap();
        collector.update(&batch.slice(2, batch.num_rows() - 2)).unwrap();
        collector.finish().unwrap()
    }

    #[test]
    fn bounds_round_trip_per_type() {
        let decimals = Decimal128Array::from(vec![Some(-5), None, Some(12_345), Some(7)])
            .with_precision_and_scale(12, 2)
            .unwrap();
        let stats = collect(vec![
            Arc::new(Int64Array::from(vec![Some(3), None, Some(-9), Some(40)])),
            Arc::new(StringArray::from(vec![Some("pear"), Some("apple"), None, Some("zoo")])),
            Arc::new(Date32Array::from(vec![Some(10), Some(2), Some(30), None])),
            Arc::new(decimals.clone()),
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(true), Some(true)])),
        ]);
        let decode = |s: &proto::ColumnStatistics, dt: &DataType| decode_bounds(s, dt).unwrap();
        assert_eq!(stats.iter().map(|s| s.null_count).collect::<Vec<_>>(), [1, 1, 1, 1, 1]);
        assert_eq!(stats.iter().map(|s| s.field_id).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert_eq!(
            decode(&stats[0], &DataType::Int64),
            (ScalarValue::Int64(Some(-9)), ScalarValue::Int64(Some(40)))
        );
        assert_eq!(
            decode(&stats[1], &DataType::Utf8),
            (ScalarValue::from("apple"), ScalarValue::from("zoo"))
        );
        assert_eq!(
            decode(&stats[2], &DataType::Date32),
            (ScalarValue::Date32(Some(2)), ScalarValue::Date32(Some(30)))
        );
        assert_eq!(
            decode(&stats[3], decimals.data_type()),
            (
                ScalarValue::Decimal128(Some(-5), 12, 2),
                ScalarValue::Decimal128(Some(12_345), 12, 2)
            )
        );
        let (min, max) = decode(&stats[4], &DataType::Boolean);
        assert_eq!(
            (min, max),
            (ScalarValue::Boolean(Some(true)), ScalarValue::Boolean(Some(true)))
        );
    }

    #[test]
    fn no_bounds_for_all_nulls_nans_long_strings_and_lists() {
        let long = "x".repeat(MAX_BOUND_BYTES + 1);
        let stats = collect(vec![
            Arc::new(Int64Array::from(vec![None, None, None])),
            Arc::new(Float64Array::from(vec![1.0, f64::NAN, 2.0])),
            Arc::new(StringArray::from(vec!["a", long.as_str(), "b"])),
            Arc::new(arrow_array::BinaryArray::from(vec![&b"a"[..], b"b", b"c"])),
        ]);
        assert!(stats.iter().all(|s| !s.has_bounds), "{stats:?}");
        assert_eq!(stats[0].null_count, 3);
    }

    #[test]
    fn bounds_of_another_type_are_ignored() {
        let stats = collect(vec![Arc::new(Int64Array::from(vec![1, 2, 3]))]);
        assert_eq!(stats[0].data_type, "Int64");
        assert!(decode_bounds(&stats[0], &DataType::Int64).is_some());
        // Same width, other meaning: a column cast after the file was written.
        assert_eq!(decode_bounds(&stats[0], &DataType::Float64), None);
        assert_eq!(
            decode_bounds(
                &stats[0],
                &DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None)
            ),
            None
        );
    }

    #[test]
    fn bad_bound_bytes_are_ignored() {
        assert_eq!(decode_bound(&[1, 2, 3], &DataType::Int64), None);
        assert_eq!(decode_bound(&[0xff], &DataType::Utf8), None);
        assert_eq!(decode_bound(&[2], &DataType::Boolean), None);
        assert_eq!(decode_bound(&[1], &DataType::Binary), None);
    }
}
