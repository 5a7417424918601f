//! Field metadata that marks a `LargeBinary` column as a blob column.

use arrow_schema::{DataType, Field};

/// Field metadata key that marks a column as a blob column (`"true"`).
pub const BLOB_META_KEY: &str = "pilum:blob";
/// Lance's key for the same marker, accepted so Lance code works unchanged.
pub const LANCE_BLOB_META_KEY: &str = "lance-encoding:blob";

/// True when `field` is a `LargeBinary` (or `Binary`) field marked as a blob
/// with either [`BLOB_META_KEY`] or [`LANCE_BLOB_META_KEY`] set to `true`.
pub fn is_blob_field(field: &Field) -> bool {
    let binary = matches!(field.data_type(), DataType::LargeBinary | DataType::Binary);
    binary
        && [BLOB_META_KEY, LANCE_BLOB_META_KEY].iter().any(|key| {
            field
                .metadata()
                .get(*key)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn field(dt: DataType, key: &str, value: &str) -> Field {
        Field::new("b", dt, true).with_metadata(HashMap::from([(key.to_string(), value.to_string())]))
    }

    #[test]
    fn recognises_both_keys_on_binary_only() {
        assert!(is_blob_field(&field(DataType::LargeBinary, BLOB_META_KEY, "true")));
        assert!(is_blob_field(&field(
            DataType::LargeBinary,
            LANCE_BLOB_META_KEY,
            "TRUE"
        )));
        assert!(!is_blob_field(&field(DataType::LargeBinary, BLOB_META_KEY, "false")));
        assert!(!is_blob_field(&field(DataType::Utf8, BLOB_META_KEY, "true")));
        assert!(!is_blob_field(&Field::new("b", DataType::LargeBinary, true)));
    }
}
