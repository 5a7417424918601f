//! Building a scalar index segment: one scan of the column (with row ids,
//! and row addresses for zone maps), then the kind's structure, written by
//! `scalar_files`. Values are held in memory while a segment builds (8 to
//! 16 bytes per row for fixed-width columns; the n-gram build holds its
//! bitmaps instead, and runs a worker per core).

use super::scalar_files::{self, ScalarFiles, Zone};
use super::scalar_params::{ScalarIndexParams, ScalarIndexType};
use super::{IndexSegment, validate_name};
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::progress::Progress;
use crate::proto::{self, Operation};
use crate::scanner::{ROW_ADDRESS, ROW_ID};
use crate::transaction::{Change, Transaction};
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, ArrayRef, UInt32Array, UInt64Array};
use arrow_row::{RowConverter, SortField};
use arrow_schema::DataType;
use futures::TryStreamExt;
use pilum_index::ngram;
use roaring::RoaringTreemap;
use std::collections::HashMap;
use std::sync::Arc;

/// The scanned column: values, row ids and (for zone maps) addresses.
struct Scanned {
    values: Vec<ArrayRef>,
    ids: Vec<UInt64Array>,
    addresses: Vec<UInt64Array>,
}

impl Dataset {
    /// Builds a scalar index over the live rows of this version and commits
    /// it; fragments appended meanwhile stay uncovered and are scanned.
    pub async fn create_scalar_index(&mut self, params: &ScalarIndexParams, progress: &Progress) -> Result<()> {
        let name = params.resolved_name();
        validate_name(&name)?;
        if params.index_type == ScalarIndexType::ZoneMap && params.zone_rows == 0 {
            return Err(TableError::InvalidIndexParams {
                what: "rows_per_zone must be at least 1".into(),
            });
        }
        let field_id = self.scalar_field(&params.column, params.index_type)?;
        let existing = self.replaced_segments(&name, params.replace)?;
        let fragments: Vec<u64> = self.manifest.fragments.iter().map(|f| f.id).collect();
        let segment = self
            .build_scalar_segment(params, &name, field_id, fragments, progress)
            .await?;
        let change = Change::Indices {
            added: vec![segment],
            removed: existing,
        };
        let mut txn = Transaction::new(Operation::CreateIndex, change);
        txn.index_names = vec![name];
        self.commit(txn).await
    }

    /// The field id of `column`, or why it cannot hold a `kind` index.
    pub(crate) fn scalar_field(&self, column: &str, kind: ScalarIndexType) -> Result<i32> {
        let field = self
            .schema()
            .field_with_name(column)
            .map_err(|_| TableError::ColumnNotFound {
                name: column.to_string(),
            })?;
        kind.check_type(column, field.data_type())?;
        self.manifest.schema.field_id(column)
    }

    /// Builds (without committing) a segment over the live rows of `fragments`.
    pub(crate) async fn build_scalar_segment(
        &self,
        params: &ScalarIndexParams,
        name: &str,
        field_id: i32,
        fragments: Vec<u64>,
        progress: &Progress,
    ) -> Result<IndexSegment> {
        progress.report("scanning", 0, 1);
        let kind = params.index_type;
        let scanned = self.scan_for_index(&params.column, &fragments, kind).await?;
        progress.report("scanning", 1, 1);
        progress.report("writing", 0, 1);
        let uuid = crate::paths::random_id();
        let value_type = self
            .schema()
            .field_with_name(&params.column)
            .map(|f| f.data_type().clone())
            .map_err(|_| TableError::ColumnNotFound {
                name: params.column.clone(),
            })?;
        let files = match kind {
            ScalarIndexType::BTree => {
                let (values, ids, nulls) = split_nulls(&value_type, &scanned)?;
                scalar_files::write_btree(&self.location, &uuid, values, ids, &nulls).await?
            }
            ScalarIndexType::Bitmap => {
                let (values, ids, nulls) = split_nulls(&value_type, &scanned)?;
                let (keys, rows) = group_by_value(&values, &ids)?;
                scalar_files::write_postings(&self.location, &uuid, keys, &rows, &nulls).await?
            }
            ScalarIndexType::LabelList => {
                let (elements, ids, nulls) = flatten_lists(&scanned)?;
                let (keys, rows) = group_by_value(&elements, &ids)?;
                scalar_files::write_postings(&self.location, &uuid, keys, &rows, &nulls).await?
            }
            ScalarIndexType::NGram => {
                let (keys, rows, nulls) = tokio::task::spawn_blocking(move || gram_postings(scanned))
                    .await
                    .map_err(|e| TableError::Internal { what: e.to_string() })??;
                let keys: ArrayRef = Arc::new(UInt64Array::from(keys));
                scalar_files::write_postings(&self.location, &uuid, keys, &rows, &nulls).await?
            }
            ScalarIndexType::ZoneMap => {
                let (zones, values) = zones_of(&scanned, params.zone_rows, &value_type)?;
                scalar_files::write_zones(&self.location, &uuid, &zones, values).await?
            }
        };
        progress.report("writing", 1, 1);
        let ScalarFiles {
            files,
            num_keys,
            null_rows,
        } = files;
        let details = proto::ScalarIndexDetails {
            page_rows: if kind == ScalarIndexType::BTree {
                super::scalar_params::DEFAULT_PAGE_ROWS
            } else {
                0
            },
            zone_rows: if kind == ScalarIndexType::ZoneMap {
                params.zone_rows
            } else {
                0
            },
            num_keys,
            null_rows,
        };
        Ok(IndexSegment {
            message: proto::IndexSegment {
                uuid,
                name: name.to_string(),
                kind: kind.kind() as i32,
                field_ids: vec![field_id],
                dataset_version: self.version(),
                fragment_bitmap: Vec::new(),
                index_version: super::SCALAR_INDEX_VERSION,
                created_at_micros: chrono::Utc::now().timestamp_micros(),
                num_entries: num_keys,
                files,
                details: Some(proto::index_segment::Details::Scalar(details)),
            },
            fragments: fragments.iter().map(|&f| f as u32).collect(),
        })
    }

    async fn scan_for_index(&self, column: &str, fragments: &[u64], kind: ScalarIndexType) -> Result<Scanned> {
        let addresses = kind == ScalarIndexType::ZoneMap;
        let mut stream = self
            .scan()
            .project([column])
            .with_row_id(true)
            .with_row_address(addresses)
            .with_fragments(fragments.iter().copied())
            .try_into_stream()
            .await?;
        let mut scanned = Scanned {
            values: Vec::new(),
            ids: Vec::new(),
            addresses: Vec::new(),
        };
        let missing = |name: &str| TableError::Internal {
            what: format!("scalar index scan lacks column {name}"),
        };
        while let Some(batch) = stream.try_next().await? {
            scanned
                .values
                .push(batch.column_by_name(column).ok_or_else(|| missing(column))?.clone());
            let ids = batch.column_by_name(ROW_ID).ok_or_else(|| missing(ROW_ID))?;
            scanned.ids.push(ids.as_primitive::<UInt64Type>().clone());
            if addresses {
                let addr = batch.column_by_name(ROW_ADDRESS).ok_or_else(|| missing(ROW_ADDRESS))?;
                scanned.addresses.push(addr.as_primitive::<UInt64Type>().clone());
            }
        }
        Ok(scanned)
    }
}

/// The non-null values with their row ids, and the ids of null rows.
fn split_nulls(value_type: &DataType, scanned: &Scanned) -> Result<(ArrayRef, UInt64Array, RoaringTreemap)> {
    let mut nulls = RoaringTreemap::new();
    let mut values = Vec::with_capacity(scanned.values.len());
    let mut ids = Vec::with_capacity(scanned.ids.len());
    for (array, batch_ids) in scanned.values.iter().zip(&scanned.ids) {
        if array.null_count() == 0 {
            values.push(array.clone());
            ids.push(batch_ids.clone());
            continue;
        }
        let valid = arrow_array::BooleanArray::from_iter((0..array.len()).map(|i| Some(array.is_valid(i))));
        for i in 0..array.len() {
            if array.is_null(i) {
                nulls.insert(batch_ids.value(i));
            }
        }
        values.push(arrow_select::filter::filter(array.as_ref(), &valid)?);
        ids.push(
            arrow_select::filter::filter(batch_ids, &valid)?
                .as_primitive::<UInt64Type>()
                .clone(),
        );
    }
    let values = concat(value_type, &values)?;
    let id_refs: Vec<&dyn Array> = ids.iter().map(|a| a as &dyn Array).collect();
    let ids = if id_refs.is_empty() {
        UInt64Array::from(Vec::<u64>::new())
    } else {
        arrow_select::concat::concat(&id_refs)?
            .as_primitive::<UInt64Type>()
            .clone()
    };
    Ok((values, ids, nulls))
}

fn concat(value_type: &DataType, arrays: &[ArrayRef]) -> Result<ArrayRef> {
    if arrays.is_empty() {
        return Ok(arrow_array::new_empty_array(value_type));
    }
    let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
    Ok(arrow_select::concat::concat(&refs)?)
}

/// The non-null elements of every list with the id of their row, and the
/// ids of null lists.
fn flatten_lists(scanned: &Scanned) -> Result<(ArrayRef, UInt64Array, RoaringTreemap)> {
    let mut nulls = RoaringTreemap::new();
    let mut elements = Vec::new();
    let mut owners = Vec::new();
    let mut element_type = None;
    for (array, batch_ids) in scanned.values.iter().zip(&scanned.ids) {
        let (values, offsets): (ArrayRef, Vec<usize>) = match array.data_type() {
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                (
                    list.values().clone(),
                    list.value_offsets().iter().map(|&o| o as usize).collect(),
                )
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                (
                    list.values().clone(),
                    list.value_offsets().iter().map(|&o| o as usize).collect(),
                )
            }
            other => {
                return Err(TableError::InvalidIndexParams {
                    what: format!("a LABEL_LIST index needs a list column, this is {other}"),
                });
            }
        };
        element_type.get_or_insert_with(|| values.data_type().clone());
        let mut picked = Vec::new();
        for row in 0..array.len() {
            if array.is_null(row) {
                nulls.insert(batch_ids.value(row));
                continue;
            }
            for element in offsets[row]..offsets[row + 1] {
                if values.is_valid(element) {
                    picked.push(element as u32);
                    owners.push(batch_ids.value(row));
                }
            }
        }
        elements.push(arrow_select::take::take(
            values.as_ref(),
            &UInt32Array::from(picked),
            None,
        )?);
    }
    let element_type = element_type.unwrap_or(DataType::Null);
    Ok((concat(&element_type, &elements)?, UInt64Array::from(owners), nulls))
}

/// Distinct values in ascending order (row-format order, which matches the
/// comparison kernels' total order) with the row ids holding each.
fn group_by_value(values: &ArrayRef, ids: &UInt64Array) -> Result<(ArrayRef, Vec<RoaringTreemap>)> {
    let converter = RowConverter::new(vec![SortField::new(values.data_type().clone())])?;
    let rows = converter.convert_columns(std::slice::from_ref(values))?;
    let mut slots: HashMap<&[u8], usize> = HashMap::new();
    let mut groups: Vec<(usize, RoaringTreemap)> = Vec::new();
    for i in 0..rows.num_rows() {
        let key = rows.row(i).data();
        let slot = *slots.entry(key).or_insert_with(|| {
            groups.push((i, RoaringTreemap::new()));
            groups.len() - 1
        });
        groups[slot].1.insert(ids.value(i));
    }
    groups.sort_by(|a, b| rows.row(a.0).cmp(&rows.row(b.0)));
    let firsts = UInt32Array::from_iter_values(groups.iter().map(|g| g.0 as u32));
    let keys = arrow_select::take::take(values.as_ref(), &firsts, None)?;
    Ok((keys, groups.into_iter().map(|g| g.1).collect()))
}

/// The trigrams of every row with the rows holding each (ascending gram
/// keys), and the ids of null rows; a worker per core, merged at the end.
fn gram_postings(scanned: Scanned) -> Result<(Vec<u64>, Vec<RoaringTreemap>, RoaringTreemap)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let batches: Vec<(ArrayRef, UInt64Array)> = scanned.values.into_iter().zip(scanned.ids).collect();
    let per_worker = batches.len().div_ceil(threads.max(1)).max(1);
    let parts: Vec<Result<(HashMap<u64, RoaringTreemap>, RoaringTreemap)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = batches
            .chunks(per_worker)
            .map(|chunk| scope.spawn(move || grams_of(chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(TableError::Internal {
                        what: "an n-gram index build worker panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut merged: HashMap<u64, RoaringTreemap> = HashMap::new();
    let mut nulls = RoaringTreemap::new();
    for part in parts {
        let (grams, part_nulls) = part?;
        nulls |= part_nulls;
        for (gram, rows) in grams {
            *merged.entry(gram).or_default() |= rows;
        }
    }
    let mut entries: Vec<(u64, RoaringTreemap)> = merged.into_iter().collect();
    entries.sort_unstable_by_key(|e| e.0);
    let (keys, rows) = entries.into_iter().unzip();
    Ok((keys, rows, nulls))
}

fn grams_of(batches: &[(ArrayRef, UInt64Array)]) -> Result<(HashMap<u64, RoaringTreemap>, RoaringTreemap)> {
    let mut grams: HashMap<u64, RoaringTreemap> = HashMap::new();
    let mut nulls = RoaringTreemap::new();
    let mut held = Vec::new();
    for (array, ids) in batches {
        for row in 0..array.len() {
            let id = ids.value(row);
            let Some(text) = string_at(array.as_ref(), row) else {
                nulls.insert(id);
                continue;
            };
            ngram::grams(text, &mut held);
            for &gram in &held {
                grams.entry(gram).or_default().insert(id);
            }
        }
    }
    Ok((grams, nulls))
}

/// Row `row` of a string column (`None` when null).
fn string_at(array: &dyn Array, row: usize) -> Option<&str> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Some(array.as_string_view().value(row)),
        _ => None,
    }
}

/// Zones of at most `zone_rows` physical rows (a zone also ends where a
/// scan batch does), with their min/max values in total order.
fn zones_of(scanned: &Scanned, zone_rows: u32, value_type: &DataType) -> Result<(Vec<Zone>, Vec<ArrayRef>)> {
    let mut zones = Vec::new();
    let mut bounds = Vec::new();
    for (values, addresses) in scanned.values.iter().zip(&scanned.addresses) {
        let mut start = 0usize;
        while start < values.len() {
            let first = addresses.value(start);
            let (fragment, offset) = (first >> 32, first & 0xffff_ffff);
            let zone_end = (offset / zone_rows as u64 + 1) * zone_rows as u64;
            let mut end = start + 1;
            while end < values.len() {
                let a = addresses.value(end);
                if a >> 32 != fragment || (a & 0xffff_ffff) >= zone_end {
                    break;
                }
                end += 1;
            }
            let last = addresses.value(end - 1) & 0xffff_ffff;
            let slice = values.slice(start, end - start);
            let (min, max) = min_max(&slice)?;
            zones.push(Zone {
                fragment,
                start: offset,
                rows: last - offset + 1,
                null_count: slice.null_count() as u64,
            });
            bounds.push((min, max));
            start = end;
        }
    }
    let (mins, maxes): (Vec<ArrayRef>, Vec<ArrayRef>) = bounds.into_iter().unzip();
    Ok((zones, vec![concat(value_type, &mins)?, concat(value_type, &maxes)?]))
}

/// The smallest and largest non-null value of `values` (one-row arrays,
/// null when every value is), ordered as the sort and comparison kernels
/// order them (floats in IEEE total order).
fn min_max(values: &ArrayRef) -> Result<(ArrayRef, ArrayRef)> {
    let compare = arrow_ord::ord::make_comparator(values.as_ref(), values.as_ref(), Default::default())?;
    let mut best: Option<(usize, usize)> = None;
    for i in (0..values.len()).filter(|&i| values.is_valid(i)) {
        best = Some(match best {
            None => (i, i),
            Some((lo, hi)) => (
                if compare(i, lo).is_lt() { i } else { lo },
                if compare(i, hi).is_gt() { i } else { hi },
            ),
        });
    }
    Ok(match best {
        Some((lo, hi)) => (values.slice(lo, 1), values.slice(hi, 1)),
        None => {
            let null = arrow_array::new_null_array(values.data_type(), 1);
            (null.clone(), null)
        }
    })
}
