//! String and binary columns as Arrow view types.
//!
//! DataFusion 55 reads Parquet strings as `Utf8View` by default
//! (`datafusion.execution.parquet.schema_force_view_types`): its comparisons,
//! `LIKE`, grouping and hashing use the 12-byte inline prefix of each view
//! and skip the bytes behind it. A Pilum table presents its top-level
//! `Utf8`, `LargeUtf8` and `Binary` columns the same way, unless that
//! setting is off, and its scans decode them straight to views
//! ([`pilum_table::Scanner::string_views`]): no string bytes are copied, and
//! a dictionary-encoded row costs one 16-byte view.

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use datafusion::arrow::compute::cast;
use datafusion::common::Result;
use datafusion::prelude::SessionConfig;
use pilum_table::view_type;
use std::sync::Arc;

/// Whether a session presents strings as views (DataFusion's Parquet setting).
pub(crate) fn views_enabled(config: &SessionConfig) -> bool {
    config.options().execution.parquet.schema_force_view_types
}

/// `schema` with its string and binary columns as view types; names,
/// nullability and metadata are kept.
pub(crate) fn view_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| match view_type(field) {
            Some(data_type) => field.as_ref().clone().with_data_type(data_type),
            None => field.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` with each column cast to the type `schema` gives it (both ways:
/// stored types to views for scans, views to stored types for inserts).
pub(crate) fn conform(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch);
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(column.clone())
            } else {
                Ok(cast(column, field.data_type())?)
            }
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use arrow_array::{Array, BinaryArray, Int64Array, StringArray, StringViewArray};
    use arrow_schema::DataType;
    use std::collections::HashMap;

    fn stored() -> Schema {
        let blob = Field::new("blob", DataType::LargeBinary, true)
            .with_metadata(HashMap::from([("pilum:blob".to_string(), "true".to_string())]));
        Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true).with_metadata(HashMap::from([("k".into(), "v".into())])),
            Field::new("raw", DataType::Binary, false),
            blob,
        ])
    }

    #[test]
    fn views_replace_strings_and_binary_but_not_blobs() {
        let views = view_schema(&stored());
        let types: Vec<&DataType> = views.fields().iter().map(|f| f.data_type()).collect();
        assert_eq!(
            types,
            [
                &DataType::Int64,
                &DataType::Utf8View,
                &DataType::BinaryView,
                &DataType::LargeBinary
            ]
        );
        assert_eq!(views.field(1).metadata().get("k").map(String::as_str), Some("v"));
        assert!(views.field(1).is_nullable());
        assert!(!views.field(2).is_nullable());
    }

    #[test]
    fn conform_round_trips_values_and_nulls() {
        let schema = Arc::new(Schema::new(stored().fields()[..3].to_vec()));
        let names = StringArray::from(vec![Some("a string longer than twelve bytes"), None, Some("short")]);
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(names.clone()),
                Arc::new(BinaryArray::from(vec![&b"x"[..], b"", b"yz"])),
            ],
        )
        .unwrap();
        let viewed = conform(batch.clone(), &view_schema(&schema)).unwrap();
        let view = viewed.column(1).as_any().downcast_ref::<StringViewArray>().unwrap();
        assert_eq!(view.value(0), names.value(0));
        assert!(view.is_null(1));
        // The long value's bytes are shared with the stored array, not copied.
        assert_eq!(view.data_buffers()[0].as_ptr(), names.values().as_ptr());
        let back = conform(viewed, &schema).unwrap();
        assert_eq!(back, batch);
    }
}
