//! Fetching and decoding the pieces of one physical column that a row
//! selection touches: whole chunks of chunked pages, exact byte ranges of
//! flat pages.

use crate::error::{FileError, Result};
use crate::layout::ColumnLayout;
use arrow_buffer::Buffer;
use pilum_encoding::{
    DecodedChunk, DecodedValues, EncodingError, ValueKind, decode_selected_chunk, decode_shared_chunk,
};
use pilum_io::ObjectReader;
use std::ops::Range;

/// One fetched piece of a column covering values `first_value..first_value + num_values`.
pub(crate) struct Unit {
    pub page: usize,
    pub chunk: Option<usize>,
    pub first_value: u64,
    pub num_values: u64,
    pub bytes: Range<u64>,
    /// For list-length columns: child offset of `first_value`.
    pub child_start: u64,
}

/// A decoded unit.
pub(crate) struct LoadedUnit {
    pub unit: Unit,
    pub decoded: DecodedChunk,
    /// When only some values were decoded: their positions in the unit
    /// (increasing), `decoded` holding them in that order.
    pub held: Option<Vec<u32>>,
}

impl LoadedUnit {
    /// Where the unit's value at `position` lies in `decoded`; of a sparse
    /// unit, `count` values from there must all be held, one after another.
    pub(crate) fn slot(&self, position: usize, count: usize) -> Result<usize> {
        let Some(held) = &self.held else {
            return Ok(position);
        };
        let slot = held.binary_search(&(position as u32)).ok();
        let consecutive = slot.and_then(|at| {
            let last = held.get(at + count.saturating_sub(1))?;
            (*last as usize == position + count.saturating_sub(1)).then_some(at)
        });
        consecutive.ok_or_else(|| {
            FileError::internal(format!(
                "values {position}..{} of a chunk were not decoded",
                position + count
            ))
        })
    }
}

/// A chunk is decoded value by value when a selection wants at most one
/// in this many of its values (below that, decoding it whole is cheaper).
const SPARSE_RATIO: usize = 4;

/// Where a column's units come from, for errors that name a chunk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColumnSite<'a> {
    pub path: &'a str,
    pub column: usize,
}

impl ColumnSite<'_> {
    /// A corrupt-file error about this column.
    pub(crate) fn corrupt(&self, what: impl std::fmt::Display) -> FileError {
        FileError::corrupt(&self.path, format!("column {}: {what}", self.column))
    }

    /// A corrupt-file error about the page or chunk `unit` of this column.
    pub(crate) fn corrupt_unit(&self, unit: &Unit, what: impl std::fmt::Display) -> FileError {
        self.corrupt_at(unit.page, unit.chunk, what)
    }

    /// A corrupt-file error about page `page` (chunk `chunk`, if any) of this column.
    pub(crate) fn corrupt_at(&self, page: usize, chunk: Option<usize>, what: impl std::fmt::Display) -> FileError {
        let column = self.column;
        let at = match chunk {
            Some(chunk) => format!("column {column}, page {page}, chunk {chunk}"),
            None => format!("column {column}, page {page}"),
        };
        FileError::corrupt(&self.path, format!("{at}: {what}"))
    }

    /// The typed error of a chunk of `unit` that failed to decode.
    pub(crate) fn chunk_error(&self, unit: &Unit, source: EncodingError) -> FileError {
        FileError::Chunk {
            path: self.path.to_string(),
            column: self.column,
            page: unit.page,
            chunk: unit.chunk.unwrap_or_default(),
            source,
        }
    }
}

/// Plain values of variable-width units, decoding symbol-coded units whole
/// and keeping the last one while a selection reads it in several pieces.
#[derive(Default)]
pub(crate) struct PlainValues {
    /// `(page, chunk)` of the decoded unit.
    unit: Option<(usize, Option<usize>)>,
    offsets: Vec<u64>,
    data: Buffer,
}

impl PlainValues {
    /// The offsets and bytes of `loaded`'s values; `None` when they are not
    /// variable-width values stored whole (fixed, bits, dictionary indices).
    pub(crate) fn of<'a>(
        &'a mut self,
        site: ColumnSite<'_>,
        loaded: &'a LoadedUnit,
    ) -> Result<Option<(&'a [u64], &'a Buffer)>> {
        match &loaded.decoded.values {
            DecodedValues::Variable { offsets, data } => Ok(Some((offsets, data))),
            values @ DecodedValues::Symbols { .. } => {
                let key = Some((loaded.unit.page, loaded.unit.chunk));
                if self.unit != key {
                    self.unit = None;
                    let decoded = values.plain_symbols().transpose();
                    (self.offsets, self.data) = decoded
                        .map_err(|e| site.chunk_error(&loaded.unit, e))?
                        .unwrap_or_default();
                    self.unit = key;
                }
                Ok(Some((&self.offsets, &self.data)))
            }
            _ => Ok(None),
        }
    }
}

/// The units covering sorted, disjoint value `ranges` of `column`, in order.
pub(crate) fn plan_units(path: &str, index: usize, column: &ColumnLayout, ranges: &[Range<u64>]) -> Result<Vec<Unit>> {
    let width = match column.kind {
        ValueKind::Fixed { width, .. } => u64::from(width),
        _ => 0,
    };
    let mut units: Vec<Unit> = Vec::new();
    for r in ranges {
        if r.end > column.num_values {
            return Err(FileError::corrupt(
                &path,
                format!(
                    "column {index}: values {}..{} requested, column holds {}",
                    r.start, r.end, column.num_values
                ),
            ));
        }
        let mut v = r.start;
        while v < r.end {
            // Sorted ranges often fall in the chunk the previous one ended in
            // (a take of scattered rows): no search, no new unit.
            if let Some(last) = units
                .last()
                .filter(|u| u.chunk.is_some() && u.first_value <= v && v < u.first_value + u.num_values)
            {
                v = r.end.min(last.first_value + last.num_values);
                continue;
            }
            let p = column.page_of(v);
            let page = &column.pages[p];
            let page_end = page.first_value + page.num_values;
            if page.flat {
                let end = r.end.min(page_end);
                let at = page.offset + (v - page.first_value) * width;
                units.push(Unit {
                    page: p,
                    chunk: None,
                    first_value: v,
                    num_values: end - v,
                    bytes: at..at + (end - v) * width,
                    child_start: 0,
                });
                v = end;
                continue;
            }
            let c = page.chunk_of(v);
            let chunk = &page.chunks[c];
            let known = units.last().is_some_and(|u| u.page == p && u.chunk == Some(c));
            if !known {
                units.push(Unit {
                    page: p,
                    chunk: Some(c),
                    first_value: chunk.first_value,
                    num_values: chunk.num_values,
                    bytes: chunk.offset..chunk.offset + chunk.size,
                    child_start: chunk.child_start,
                });
            }
            v = r.end.min(chunk.first_value + chunk.num_values);
        }
    }
    Ok(units)
}

/// Fetches (coalesced, concurrently) and decodes `units`. With `selection`
/// (the sorted, disjoint value ranges the units were planned for), chunks of
/// scalar fixed-width values from which it wants few values decode only those.
pub(crate) async fn load_units(
    reader: &ObjectReader,
    index: usize,
    column: &ColumnLayout,
    units: Vec<Unit>,
    selection: Option<&[Range<u64>]>,
) -> Result<Vec<LoadedUnit>> {
    let scalar = matches!(column.kind, ValueKind::Fixed { items: 1, .. });
    let mut wanted = WantedPositions::new(selection.filter(|_| scalar).unwrap_or_default());
    let ranges: Vec<Range<u64>> = units.iter().map(|u| u.bytes.clone()).collect();
    let fetched = reader.read_ranges(&ranges).await?;
    let path = reader.path().to_string();
    let site = ColumnSite {
        path: &path,
        column: index,
    };
    units
        .into_iter()
        .zip(fetched)
        .map(|(unit, bytes)| {
            let page = &column.pages[unit.page];
            let held = match unit.chunk {
                Some(_) => wanted.sparse(&unit),
                None => None,
            };
            let decoded = match (unit.chunk, &held) {
                (Some(_), Some(positions)) => decode_selected_chunk(
                    &Buffer::from(bytes),
                    column.kind,
                    unit.num_values as usize,
                    page.dictionaries(),
                    positions,
                )
                .map_err(|source| site.chunk_error(&unit, source))?,
                (Some(_), None) => decode_shared_chunk(
                    &Buffer::from(bytes),
                    column.kind,
                    unit.num_values as usize,
                    page.dictionaries(),
                )
                .map_err(|source| site.chunk_error(&unit, source))?,
                (None, _) => DecodedChunk {
                    validity: page
                        .flat_validity
                        .as_ref()
                        .map(|v| v.slice((unit.first_value - page.first_value) as usize, unit.num_values as usize)),
                    item_validity: None,
                    values: DecodedValues::Fixed(Buffer::from(bytes)),
                },
            };
            Ok(LoadedUnit { unit, decoded, held })
        })
        .collect()
}

/// Walks a selection's ranges alongside the units planned for it (both in
/// order) to find the units it wants few values of.
struct WantedPositions<'a> {
    ranges: &'a [Range<u64>],
    /// The first range that may still reach the current unit.
    next: usize,
}

impl<'a> WantedPositions<'a> {
    fn new(ranges: &'a [Range<u64>]) -> Self {
        Self { ranges, next: 0 }
    }

    /// The positions within `unit` the selection wants, when they are at
    /// most one in [`SPARSE_RATIO`] of its values; else `None`.
    fn sparse(&mut self, unit: &Unit) -> Option<Vec<u32>> {
        let (start, end) = (unit.first_value, unit.first_value + unit.num_values);
        while self.ranges.get(self.next).is_some_and(|r| r.end <= start) {
            self.next += 1;
        }
        let overlapping = self.ranges[self.next..].iter().take_while(|r| r.start < end);
        let mut count = 0u64;
        for r in overlapping.clone() {
            count += r.end.min(end) - r.start.max(start);
        }
        if count == 0 || count.saturating_mul(SPARSE_RATIO as u64) > unit.num_values {
            return None;
        }
        let positions = overlapping
            .flat_map(|r| r.start.max(start)..r.end.min(end))
            .map(|value| (value - start) as u32)
            .collect();
        Some(positions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(first_value: u64, num_values: u64) -> Unit {
        Unit {
            page: 0,
            chunk: Some(0),
            first_value,
            num_values,
            bytes: 0..0,
            child_start: 0,
        }
    }

    #[test]
    fn units_wanted_sparsely_list_their_positions() {
        let ranges = [3..4, 10..12, 100..101, 150..190, 210..211];
        let mut wanted = WantedPositions::new(&ranges);
        assert_eq!(wanted.sparse(&chunk(0, 100)), Some(vec![3, 10, 11]));
        // 41 of 100 values: decoded whole.
        assert_eq!(wanted.sparse(&chunk(100, 100)), None);
        assert_eq!(wanted.sparse(&chunk(200, 100)), Some(vec![10]));
        assert_eq!(wanted.sparse(&chunk(300, 100)), None, "nothing wanted");
    }

    #[test]
    fn a_sparse_unit_maps_positions_to_slots() {
        let loaded = LoadedUnit {
            unit: chunk(0, 100),
            decoded: DecodedChunk {
                validity: None,
                item_validity: None,
                values: DecodedValues::Fixed(Buffer::from_vec(vec![0u8; 24])),
            },
            held: Some(vec![3, 10, 11]),
        };
        assert_eq!(loaded.slot(10, 2).ok(), Some(1));
        assert_eq!(loaded.slot(3, 1).ok(), Some(0));
        assert!(loaded.slot(4, 1).is_err(), "not decoded");
        assert!(loaded.slot(3, 2).is_err(), "3 and 4 are not both held");
    }
}
