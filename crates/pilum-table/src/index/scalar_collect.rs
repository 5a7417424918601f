//! The shapes a scalar index build gathers from the scanned column: values
//! split from nulls, list elements with their rows, rows grouped by value
//! or by trigram (a worker per core), and zones with their bounds.

use super::scalar_build::Scanned;
use super::scalar_files::Zone;
use crate::error::{Result, TableError};
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, ArrayRef, UInt32Array, UInt64Array};
use arrow_row::{RowConverter, SortField};
use arrow_schema::DataType;
use pilum_index::ngram;
use roaring::RoaringTreemap;
use std::collections::HashMap;

/// The non-null values with their row ids, and the ids of null rows.
pub(super) fn split_nulls(value_type: &DataType, scanned: &Scanned) -> Result<(ArrayRef, UInt64Array, RoaringTreemap)> {
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
pub(super) fn flatten_lists(scanned: &Scanned) -> Result<(ArrayRef, UInt64Array, RoaringTreemap)> {
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
pub(super) fn group_by_value(values: &ArrayRef, ids: &UInt64Array) -> Result<(ArrayRef, Vec<RoaringTreemap>)> {
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
pub(super) fn gram_postings(scanned: Scanned) -> Result<(Vec<u64>, Vec<RoaringTreemap>, RoaringTreemap)> {
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

/// One worker's grams: a batch's (gram, row id) pairs are sorted, so each
/// gram's ids reach its bitmap as one ascending run (appended in bulk
/// when they follow its largest id, as they do in scan order).
fn grams_of(batches: &[(ArrayRef, UInt64Array)]) -> Result<(HashMap<u64, RoaringTreemap>, RoaringTreemap)> {
    let mut grams: HashMap<u64, RoaringTreemap> = HashMap::new();
    let mut nulls = RoaringTreemap::new();
    let mut held = Vec::new();
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    for (array, ids) in batches {
        pairs.clear();
        for row in 0..array.len() {
            let id = ids.value(row);
            let Some(text) = string_at(array.as_ref(), row) else {
                nulls.insert(id);
                continue;
            };
            ngram::grams(text, &mut held);
            pairs.extend(held.iter().map(|&gram| (gram, id)));
        }
        pairs.sort_unstable();
        for run in pairs.chunk_by(|a, b| a.0 == b.0) {
            let rows = grams.entry(run[0].0).or_default();
            let ascending = run.iter().map(|&(_, id)| id);
            if rows.max().is_some_and(|max| run[0].1 <= max) {
                rows.extend(ascending);
            } else if rows.append(ascending).is_err() {
                // Ids repeat only if a row does: insert one by one.
                rows.extend(run.iter().map(|&(_, id)| id));
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
pub(super) fn zones_of(scanned: &Scanned, zone_rows: u32, value_type: &DataType) -> Result<(Vec<Zone>, Vec<ArrayRef>)> {
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
