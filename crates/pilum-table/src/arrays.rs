//! Array helpers: conforming stored columns to the table's current types.

use crate::error::Result;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, FixedSizeListArray, GenericListArray, OffsetSizeTrait, StructArray};
use arrow_schema::{DataType, FieldRef};
use std::sync::Arc;

/// Returns `array` with type `target`: nested field names and nullability
/// are relabelled (renames are metadata-only), other differences are cast
/// (a column appended before an `alter_columns` cast).
pub fn conform(array: ArrayRef, target: &DataType) -> Result<ArrayRef> {
    if array.data_type() == target {
        return Ok(array);
    }
    Ok(match (array.data_type(), target) {
        (DataType::Struct(from), DataType::Struct(to)) if from.len() == to.len() => {
            let structs = array.as_struct();
            let columns = structs
                .columns()
                .iter()
                .zip(to.iter())
                .map(|(column, field)| conform(column.clone(), field.data_type()))
                .collect::<Result<Vec<_>>>()?;
            Arc::new(StructArray::try_new(to.clone(), columns, structs.nulls().cloned())?)
        }
        (DataType::List(_), DataType::List(to)) => relabel_list::<i32>(array.as_list::<i32>(), to)?,
        (DataType::LargeList(_), DataType::LargeList(to)) => relabel_list::<i64>(array.as_list::<i64>(), to)?,
        (DataType::FixedSizeList(_, n), DataType::FixedSizeList(to, m)) if n == m => {
            let list = array.as_fixed_size_list();
            let values = conform(list.values().clone(), to.data_type())?;
            Arc::new(FixedSizeListArray::try_new(
                to.clone(),
                *n,
                values,
                list.nulls().cloned(),
            )?)
        }
        _ => arrow_cast::cast(&array, target)?,
    })
}

fn relabel_list<O: OffsetSizeTrait>(list: &GenericListArray<O>, to: &FieldRef) -> Result<ArrayRef> {
    let values = conform(list.values().clone(), to.data_type())?;
    Ok(Arc::new(GenericListArray::<O>::try_new(
        to.clone(),
        list.offsets().clone(),
        values,
        list.nulls().cloned(),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int32Array, Int64Array};
    use arrow_schema::{Field, Fields};

    #[test]
    fn relabels_nested_names_and_casts_leaves() {
        let inner = Fields::from(vec![Field::new("a", DataType::Int32, true)]);
        let array: ArrayRef = Arc::new(
            StructArray::try_new(inner, vec![Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef], None).unwrap(),
        );
        let renamed = DataType::Struct(Fields::from(vec![Field::new("b", DataType::Int32, true)]));
        assert_eq!(conform(array, &renamed).unwrap().data_type(), &renamed);
        let cast = conform(Arc::new(Int32Array::from(vec![7])), &DataType::Int64).unwrap();
        assert_eq!(cast.as_any().downcast_ref::<Int64Array>().unwrap().value(0), 7);
    }
}
