//! The files of a scalar index segment, all Pilum files whose schema names
//! their role (`format-spec/index.md`, "Scalar indices"):
//! - BTREE: `values.pilum` (`value`, `_rowid`, ascending by value), and
//!   `pages.pilum` (`min`, `max` of each page of `page_rows` entries);
//! - BITMAP, LABEL_LIST, NGRAM: `postings.pilum` (`key` ascending, `rows`:
//!   the row ids holding it as a portable 64-bit Roaring bitmap, with run
//!   containers where they are smaller);
//! - BTREE, BITMAP, LABEL_LIST, NGRAM: `nulls.pilum`, one row: `rows`,
//!   the ids of rows whose value is null;
//! - ZONEMAP: `zones.pilum` (`fragment`, `start`, `rows`, `null_count`,
//!   `min`, `max`).

use super::files::{path, schema_with_role, write_file};
use super::scalar_params::DEFAULT_PAGE_ROWS;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::proto;
use arrow_array::{ArrayRef, BinaryArray, RecordBatch, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field};
use roaring::RoaringTreemap;
use std::sync::Arc;

/// What writing a segment's files produced.
pub(crate) struct ScalarFiles {
    pub files: Vec<proto::IndexFile>,
    pub num_keys: u64,
    pub null_rows: u64,
}

/// One zone of a zone map (its bounds are written beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Zone {
    pub fragment: u64,
    pub start: u64,
    pub rows: u64,
    pub null_count: u64,
}

/// A bitmap in the portable serialization, its containers first turned
/// into runs where that is smaller (a gram every row holds is a few bytes).
pub(crate) fn bitmap_bytes(mut rows: RoaringTreemap) -> Vec<u8> {
    rows.optimize();
    let mut bytes = Vec::with_capacity(rows.serialized_size());
    // Writing into a Vec cannot fail.
    let _ = rows.serialize_into(&mut bytes);
    bytes
}

async fn write(
    location: &DatasetLocation,
    uuid: &str,
    role: &str,
    fields: Vec<Field>,
    columns: Vec<ArrayRef>,
) -> Result<proto::IndexFile> {
    let batch = RecordBatch::try_new(schema_with_role(fields, role), columns)?;
    write_file(location, path(location, uuid, role), role, batch).await
}

async fn write_nulls(location: &DatasetLocation, uuid: &str, nulls: &RoaringTreemap) -> Result<proto::IndexFile> {
    let rows: ArrayRef = Arc::new(BinaryArray::from_iter_values([bitmap_bytes(nulls.clone())]));
    write(
        location,
        uuid,
        "nulls",
        vec![Field::new("rows", DataType::Binary, false)],
        vec![rows],
    )
    .await
}

/// Writes a BTREE: `values` ascending (non-null) with their row ids.
pub(crate) async fn write_btree(
    location: &DatasetLocation,
    uuid: &str,
    values: ArrayRef,
    ids: UInt64Array,
    nulls: &RoaringTreemap,
) -> Result<ScalarFiles> {
    let order = arrow_ord::sort::sort_to_indices(values.as_ref(), None, None)?;
    let values = arrow_select::take::take(values.as_ref(), &order, None)?;
    let ids = arrow_select::take::take(&ids, &order, None)?;
    let value_type = values.data_type().clone();
    let count = values.len();
    let page = DEFAULT_PAGE_ROWS as usize;
    let firsts = UInt32Array::from_iter_values((0..count).step_by(page).map(|i| i as u32));
    let lasts = UInt32Array::from_iter_values((0..count).step_by(page).map(|i| ((i + page).min(count) - 1) as u32));
    let mins = arrow_select::take::take(values.as_ref(), &firsts, None)?;
    let maxes = arrow_select::take::take(values.as_ref(), &lasts, None)?;
    let values_file = write(
        location,
        uuid,
        "values",
        vec![
            Field::new("value", value_type.clone(), false),
            Field::new("_rowid", DataType::UInt64, false),
        ],
        vec![values, ids],
    )
    .await?;
    let pages_file = write(
        location,
        uuid,
        "pages",
        vec![
            Field::new("min", value_type.clone(), false),
            Field::new("max", value_type, false),
        ],
        vec![mins, maxes],
    )
    .await?;
    let nulls_file = write_nulls(location, uuid, nulls).await?;
    Ok(ScalarFiles {
        files: vec![values_file, pages_file, nulls_file],
        num_keys: count as u64,
        null_rows: nulls.len(),
    })
}

/// Writes `postings.pilum` (`keys` ascending, each key's rows) and `nulls.pilum`.
pub(crate) async fn write_postings(
    location: &DatasetLocation,
    uuid: &str,
    keys: ArrayRef,
    rows: Vec<RoaringTreemap>,
    nulls: &RoaringTreemap,
) -> Result<ScalarFiles> {
    if keys.len() != rows.len() {
        return Err(TableError::Internal {
            what: format!("{} keys but {} bitmaps", keys.len(), rows.len()),
        });
    }
    let bitmaps: ArrayRef = Arc::new(BinaryArray::from_iter_values(rows.into_iter().map(bitmap_bytes)));
    let key_type = keys.data_type().clone();
    let num_keys = keys.len() as u64;
    let postings = write(
        location,
        uuid,
        "postings",
        vec![
            Field::new("key", key_type, false),
            Field::new("rows", DataType::Binary, false),
        ],
        vec![keys, bitmaps],
    )
    .await?;
    let nulls_file = write_nulls(location, uuid, nulls).await?;
    Ok(ScalarFiles {
        files: vec![postings, nulls_file],
        num_keys,
        null_rows: nulls.len(),
    })
}

/// Writes `zones.pilum`; `bounds` is `[mins, maxes]`, one entry per zone.
pub(crate) async fn write_zones(
    location: &DatasetLocation,
    uuid: &str,
    zones: &[Zone],
    bounds: Vec<ArrayRef>,
) -> Result<ScalarFiles> {
    let [mins, maxes]: [ArrayRef; 2] = bounds.try_into().map_err(|_| TableError::Internal {
        what: "zone bounds must be [mins, maxes]".into(),
    })?;
    let value_type = mins.data_type().clone();
    let column = |f: fn(&Zone) -> u64| -> ArrayRef { Arc::new(UInt64Array::from_iter_values(zones.iter().map(f))) };
    let null_rows = zones.iter().map(|z| z.null_count).sum();
    let file = write(
        location,
        uuid,
        "zones",
        vec![
            Field::new("fragment", DataType::UInt64, false),
            Field::new("start", DataType::UInt64, false),
            Field::new("rows", DataType::UInt64, false),
            Field::new("null_count", DataType::UInt64, false),
            Field::new("min", value_type.clone(), true),
            Field::new("max", value_type, true),
        ],
        vec![
            column(|z| z.fragment),
            column(|z| z.start),
            column(|z| z.rows),
            column(|z| z.null_count),
            mins,
            maxes,
        ],
    )
    .await?;
    Ok(ScalarFiles {
        files: vec![file],
        num_keys: zones.len() as u64,
        null_rows,
    })
}
