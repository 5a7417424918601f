//! The table schema: an Arrow schema plus a stable id for every field.
//!
//! Ids are assigned depth-first when a field is added and are never reused,
//! so renames and drops never confuse old data files with new columns.

use crate::error::{Result, TableError};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use std::sync::Arc;

/// An Arrow schema with the field id of every (nested) field.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    arrow: SchemaRef,
    /// Field ids in depth-first pre-order.
    field_ids: Vec<i32>,
}

/// Estimated bytes of one value of `data_type`: exact for fixed-width types
/// (vectors included), `variable_bytes` for each variable-width value.
pub fn value_bytes(data_type: &DataType, variable_bytes: usize) -> usize {
    match data_type {
        DataType::FixedSizeList(item, n) => value_bytes(item.data_type(), variable_bytes) * (*n).max(0) as usize,
        DataType::FixedSizeBinary(n) => (*n).max(0) as usize,
        DataType::Struct(fields) => fields.iter().map(|f| value_bytes(f.data_type(), variable_bytes)).sum(),
        DataType::Boolean => 1,
        other => other.primitive_width().unwrap_or(variable_bytes),
    }
}

/// The view type a top-level column is read as by a scan with string views.
pub fn view_type(field: &Field) -> Option<DataType> {
    if pilum_core::is_blob_field(field) {
        return None;
    }
    match field.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 => Some(DataType::Utf8View),
        DataType::Binary => Some(DataType::BinaryView),
        _ => None,
    }
}

/// Direct children of a field's type, in the order ids are assigned.
fn children(data_type: &DataType) -> Vec<&FieldRef> {
    match data_type {
        DataType::Struct(fields) => fields.iter().collect(),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => vec![f],
        DataType::ListView(f) | DataType::LargeListView(f) => vec![f],
        DataType::Map(f, _) => vec![f],
        _ => Vec::new(),
    }
}

/// Number of fields in the subtree rooted at a field of this type.
fn subtree_size(data_type: &DataType) -> usize {
    1 + children(data_type)
        .iter()
        .map(|f| subtree_size(f.data_type()))
        .sum::<usize>()
}

impl TableSchema {
    /// Assigns ids `first_id, first_id + 1, …` depth-first to every field.
    pub fn assign(schema: SchemaRef, first_id: i32) -> Self {
        let total: usize = schema.fields().iter().map(|f| subtree_size(f.data_type())).sum();
        let field_ids = (0..total as i32).map(|i| first_id + i).collect();
        Self {
            arrow: schema,
            field_ids,
        }
    }

    /// A schema from stored parts; fails when the id count does not match.
    pub fn from_parts(arrow: SchemaRef, field_ids: Vec<i32>) -> Result<Self> {
        let total: usize = arrow.fields().iter().map(|f| subtree_size(f.data_type())).sum();
        if total != field_ids.len() {
            return Err(TableError::corrupt(
                "manifest",
                format!("schema has {total} fields but {} field ids", field_ids.len()),
            ));
        }
        Ok(Self { arrow, field_ids })
    }

    /// The Arrow schema.
    pub fn arrow(&self) -> &SchemaRef {
        &self.arrow
    }

    /// Every field id, depth-first.
    pub fn field_ids(&self) -> &[i32] {
        &self.field_ids
    }

    /// The largest id in use (-1 for an empty schema).
    pub fn max_field_id(&self) -> i32 {
        self.field_ids.iter().copied().max().unwrap_or(-1)
    }

    /// Position in `field_ids` where each top-level field's subtree starts.
    fn top_level_starts(&self) -> Vec<usize> {
        let mut starts = Vec::with_capacity(self.arrow.fields().len());
        let mut at = 0;
        for field in self.arrow.fields() {
            starts.push(at);
            at += subtree_size(field.data_type());
        }
        starts
    }

    /// Id of each top-level field, in schema order.
    pub fn top_level_ids(&self) -> Vec<i32> {
        self.top_level_starts().into_iter().map(|s| self.field_ids[s]).collect()
    }

    /// Id of the top-level field `name`.
    pub fn field_id(&self, name: &str) -> Result<i32> {
        let index = self.index_of(name)?;
        Ok(self.top_level_ids()[index])
    }

    /// Name of the top-level field with id `id`.
    pub fn field_name(&self, id: i32) -> Option<String> {
        let position = self.top_level_ids().iter().position(|&f| f == id)?;
        Some(self.arrow.field(position).name().clone())
    }

    /// Index of the top-level field `name`.
    pub fn index_of(&self, name: &str) -> Result<usize> {
        self.arrow
            .index_of(name)
            .map_err(|_| TableError::ColumnNotFound { name: name.to_string() })
    }

    /// The subset of top-level fields named, in the order given.
    pub fn project<S: AsRef<str>>(&self, names: &[S]) -> Result<Self> {
        let indices = names
            .iter()
            .map(|n| self.index_of(n.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.select(&indices))
    }

    /// The top-level fields at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let starts = self.top_level_starts();
        let mut fields = Vec::with_capacity(indices.len());
        let mut field_ids = Vec::new();
        for &i in indices {
            let field = self.arrow.field(i);
            let start = starts[i];
            field_ids.extend_from_slice(&self.field_ids[start..start + subtree_size(field.data_type())]);
            fields.push(Arc::new(field.clone()));
        }
        let arrow = Arc::new(Schema::new_with_metadata(fields, self.arrow.metadata().clone()));
        Self { arrow, field_ids }
    }

    /// This schema without the named top-level fields.
    pub fn without<S: AsRef<str>>(&self, names: &[S]) -> Result<Self> {
        let mut drop = Vec::new();
        for name in names {
            drop.push(self.index_of(name.as_ref())?);
        }
        let keep: Vec<usize> = (0..self.arrow.fields().len()).filter(|i| !drop.contains(i)).collect();
        Ok(self.select(&keep))
    }

    /// This schema with `fields` appended, their ids starting after `max_field_id`.
    pub fn with_added(&self, fields: &[Field], max_field_id: i32) -> Result<Self> {
        for field in fields {
            if self.arrow.index_of(field.name()).is_ok() {
                return Err(TableError::SchemaMismatch {
                    reason: format!("column {:?} already exists", field.name()),
                });
            }
        }
        let added = Self::assign(Arc::new(Schema::new(fields.to_vec())), max_field_id + 1);
        let mut all: Vec<FieldRef> = self.arrow.fields().iter().cloned().collect();
        all.extend(added.arrow.fields().iter().cloned());
        let mut field_ids = self.field_ids.clone();
        field_ids.extend(added.field_ids);
        let arrow = Arc::new(Schema::new_with_metadata(all, self.arrow.metadata().clone()));
        Ok(Self { arrow, field_ids })
    }

    /// This schema with top-level string and binary columns as view types
    /// (`Utf8`, `LargeUtf8` → `Utf8View`; `Binary` → `BinaryView`; blob
    /// columns unchanged): what a scan with string views returns.
    pub fn with_view_types(&self) -> Self {
        let fields: Vec<FieldRef> = self
            .arrow
            .fields()
            .iter()
            .map(|field| match view_type(field) {
                Some(data_type) => Arc::new(field.as_ref().clone().with_data_type(data_type)),
                None => field.clone(),
            })
            .collect();
        let arrow = Arc::new(Schema::new_with_metadata(
            Fields::from(fields),
            self.arrow.metadata().clone(),
        ));
        Self {
            arrow,
            field_ids: self.field_ids.clone(),
        }
    }

    /// The top-level fields from position `from` on (e.g. the ones just added).
    pub fn fields_from(&self, from: usize) -> Self {
        self.select(&(from..self.arrow.fields().len()).collect::<Vec<_>>())
    }

    /// This schema with top-level field `index` replaced by `field` (same ids,
    /// so the replacement must have the same shape of nested fields).
    pub fn with_replaced(&self, index: usize, field: Field) -> Result<Self> {
        let old = self.arrow.field(index);
        if subtree_size(old.data_type()) != subtree_size(field.data_type()) {
            return Err(TableError::SchemaMismatch {
                reason: format!("column {:?}: the new type must keep the nested shape", old.name()),
            });
        }
        let mut fields: Vec<FieldRef> = self.arrow.fields().iter().cloned().collect();
        fields[index] = Arc::new(field);
        let arrow = Arc::new(Schema::new_with_metadata(
            Fields::from(fields),
            self.arrow.metadata().clone(),
        ));
        Ok(Self {
            arrow,
            field_ids: self.field_ids.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested() -> SchemaRef {
        let point = DataType::Struct(Fields::from(vec![
            Field::new("x", DataType::Float32, false),
            Field::new("y", DataType::Float32, false),
        ]));
        let vector = DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), 4);
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("point", point, true),
            Field::new("vec", vector, true),
        ]))
    }

    #[test]
    fn assigns_depth_first_and_projects() {
        let schema = TableSchema::assign(nested(), 0);
        assert_eq!(schema.field_ids(), &[0, 1, 2, 3, 4, 5]);
        assert_eq!(schema.top_level_ids(), vec![0, 1, 4]);
        let projected = schema.project(&["vec", "id"]).unwrap();
        assert_eq!(projected.field_ids(), &[4, 5, 0]);
        assert_eq!(projected.top_level_ids(), vec![4, 0]);
        let dropped = schema.without(&["point"]).unwrap();
        assert_eq!(dropped.top_level_ids(), vec![0, 4]);
        let added = dropped.with_added(&[Field::new("z", DataType::Utf8, true)], 5).unwrap();
        assert_eq!(added.top_level_ids(), vec![0, 4, 6]);
        assert!(matches!(
            schema.project(&["nope"]),
            Err(TableError::ColumnNotFound { .. })
        ));
        assert!(TableSchema::from_parts(nested(), vec![0, 1]).is_err());
    }
}
