//! Gathers selected values out of decoded units into contiguous buffers.

use crate::error::{FileError, Result};
use crate::format::read_u64;
use crate::layout::ColumnLayout;
use crate::units::{ColumnSite, LoadedUnit, PlainValues};
use arrow_buffer::{BooleanBuffer, BooleanBufferBuilder, Buffer, MutableBuffer, NullBuffer};
use pilum_encoding::{DecodedValues, Dictionary, ValueKind};
use std::ops::Range;

/// The selected values of one physical column.
pub(crate) struct Gathered {
    pub len: usize,
    pub fixed: Buffer,
    pub bits: Option<BooleanBuffer>,
    /// Variable-width: `len + 1` offsets from 0 into `data`.
    pub offsets: Vec<u64>,
    pub data: Vec<u8>,
    pub validity: Option<NullBuffer>,
    pub item_validity: Option<NullBuffer>,
    /// List-length columns: child offset of each selected value.
    pub child_starts: Vec<u64>,
}

/// Collects the values of `ranges` (sorted, disjoint) from `units`.
pub(crate) fn gather(
    site: ColumnSite<'_>,
    column: &ColumnLayout,
    units: &[LoadedUnit],
    ranges: &[Range<u64>],
    child_starts: bool,
) -> Result<Gathered> {
    let kind = column.kind;
    let total: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    let total = total as usize;
    let (width, items) = match kind {
        ValueKind::Fixed { width, items, .. } => (width as usize, items as usize),
        _ => (0, 1),
    };
    let mut fixed = MutableBuffer::with_capacity(total * width);
    let mut bits = BooleanBufferBuilder::new(if kind == ValueKind::Bits { total } else { 0 });
    let mut offsets = Vec::with_capacity(if kind == ValueKind::Variable { total + 1 } else { 0 });
    offsets.push(0u64);
    let mut data = Vec::with_capacity(variable_bytes(units));
    let mut validity = ValidityBuilder::new(total);
    let mut item_validity = ValidityBuilder::new(0);
    let mut starts = Vec::with_capacity(if child_starts { total } else { 0 });
    // A selection served whole by one fixed-width unit shares its buffer instead of copying it.
    let mut shared: Option<Buffer> = None;
    let single_piece = units.len() == 1 && ranges.len() == 1;
    let mut plain = PlainValues::default();
    for_each_piece(units, ranges, |loaded, from, count| {
        let d = &loaded.decoded;
        validity.append(d.validity.as_ref(), from, count);
        match &d.values {
            DecodedValues::Fixed(buf) => {
                let bytes = buf
                    .as_slice()
                    .get(from * width..(from + count) * width)
                    .ok_or_else(|| {
                        site.corrupt_unit(&loaded.unit, "decoded values shorter than the chunk table says")
                    })?;
                if single_piece && count == total && is_aligned(bytes, width) {
                    shared = Some(buf.slice_with_length(from * width, count * width));
                } else {
                    fixed.extend_from_slice(bytes);
                }
                if child_starts {
                    let mut at = loaded.unit.child_start;
                    for i in 0..from + count {
                        if i >= from {
                            starts.push(at);
                        }
                        at = at.saturating_add(read_u64(buf.as_slice(), i));
                    }
                }
            }
            DecodedValues::Bits(b) => bits.append_buffer(&b.slice(from, count)),
            // A whole symbol-coded unit decodes straight into the output.
            DecodedValues::Symbols {
                table,
                code_offsets,
                codes,
                total,
            } if from == 0 && count + 1 == code_offsets.len() => table
                .decode_append(code_offsets, codes, *total, &mut data, &mut offsets)
                .map_err(|e| site.chunk_error(&loaded.unit, e))?,
            DecodedValues::Variable { .. } | DecodedValues::Symbols { .. } => {
                let (o, bytes) = plain
                    .of(site, loaded)?
                    .ok_or_else(|| FileError::internal("variable-width values decoded as another kind"))?;
                let base = *offsets.last().unwrap_or(&0);
                let bounds = o.get(from..=from + count).ok_or_else(|| {
                    site.corrupt_unit(&loaded.unit, "decoded values shorter than the chunk table says")
                })?;
                let value_bytes = bytes
                    .get(bounds[0] as usize..bounds[count] as usize)
                    .ok_or_else(|| site.corrupt_unit(&loaded.unit, "value offsets exceed the chunk's bytes"))?;
                data.extend_from_slice(value_bytes);
                offsets.extend(bounds[1..].iter().map(|&x| x - bounds[0] + base));
            }
            DecodedValues::Indices(indices) => {
                let dictionary = column
                    .pages
                    .get(loaded.unit.page)
                    .and_then(|p| p.dictionary.as_ref())
                    .ok_or_else(|| {
                        site.corrupt_unit(&loaded.unit, "dictionary chunk in a page without a dictionary")
                    })?;
                let selected = indices.get(from..from + count).ok_or_else(|| {
                    site.corrupt_unit(&loaded.unit, "decoded values shorter than the chunk table says")
                })?;
                copy_entries(dictionary, selected, &mut offsets, &mut data)
                    .map_err(|i| site.corrupt_unit(&loaded.unit, format_args!("dictionary index {i} out of range")))?;
            }
        }
        if items > 1 || d.item_validity.is_some() {
            item_validity.append(d.item_validity.as_ref(), from * items, count * items);
        }
        Ok(())
    })?;
    Ok(Gathered {
        len: total,
        fixed: shared.unwrap_or_else(|| fixed.into()),
        bits: (kind == ValueKind::Bits).then(|| bits.finish()),
        offsets,
        data,
        validity: validity.finish(),
        item_validity: item_validity.finish(),
        child_starts: starts,
    })
}

/// Whether `bytes` may back an Arrow buffer of `width`-byte values as they
/// lie: Arrow wants native values aligned to their size (at most 16 bytes).
fn is_aligned(bytes: &[u8], width: usize) -> bool {
    let align = 1usize << width.trailing_zeros().min(4);
    width > 0 && (bytes.as_ptr() as usize).is_multiple_of(align)
}

/// Validity gathered piece by piece; no buffer when every value is valid.
pub(crate) struct ValidityBuilder {
    bits: BooleanBufferBuilder,
    any_null: bool,
}

impl ValidityBuilder {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            bits: BooleanBufferBuilder::new(capacity),
            any_null: false,
        }
    }

    /// Appends bits `from..from + count` of `valid` (`None`: all valid).
    pub(crate) fn append(&mut self, valid: Option<&BooleanBuffer>, from: usize, count: usize) {
        match valid {
            Some(valid) => {
                let slice = valid.slice(from, count);
                self.any_null |= slice.count_set_bits() != count;
                self.bits.append_buffer(&slice);
            }
            None => self.bits.append_n(count, true),
        }
    }

    pub(crate) fn finish(mut self) -> Option<NullBuffer> {
        self.any_null.then(|| NullBuffer::new(self.bits.finish()))
    }
}

/// Calls `f(unit, from, count)` for each piece of `ranges` (sorted,
/// disjoint): `count` values starting at value `from` of one loaded unit.
pub(crate) fn for_each_piece(
    units: &[LoadedUnit],
    ranges: &[Range<u64>],
    mut f: impl FnMut(&LoadedUnit, usize, usize) -> Result<()>,
) -> Result<()> {
    let mut u = 0usize;
    for r in ranges {
        let mut v = r.start;
        while v < r.end {
            while u < units.len() && units[u].unit.first_value + units[u].unit.num_values <= v {
                u += 1;
            }
            let Some(loaded) = units.get(u).filter(|l| l.unit.first_value <= v) else {
                return Err(FileError::internal(format!(
                    "value {v} is not covered by any fetched chunk"
                )));
            };
            let position = (v - loaded.unit.first_value) as usize;
            let count = (r.end.min(loaded.unit.first_value + loaded.unit.num_values) - v) as usize;
            f(loaded, loaded.slot(position, count)?, count)?;
            v += count as u64;
        }
    }
    Ok(())
}

/// Bytes of the decoded variable-width values of `units`: a tight upper
/// bound of what a gather from them copies (only the fetched units are loaded).
fn variable_bytes(units: &[LoadedUnit]) -> usize {
    units
        .iter()
        .map(|l| match &l.decoded.values {
            DecodedValues::Variable { data, .. } => data.len(),
            // Symbol decoding writes whole words: room for the last one's overhang.
            DecodedValues::Symbols { total, .. } => *total + pilum_encoding::SYMBOL_DECODE_SLACK,
            _ => 0,
        })
        .sum()
}

/// Appends the dictionary entries `indices` name to `data`, with their end
/// offsets; an index past the dictionary is returned as the error.
fn copy_entries(
    dictionary: &Dictionary,
    indices: &[u32],
    offsets: &mut Vec<u64>,
    data: &mut Vec<u8>,
) -> Result<(), u32> {
    for &i in indices {
        let entry = dictionary.get(i as usize).ok_or(i)?;
        data.extend_from_slice(entry);
        offsets.push(data.len() as u64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::single_range_in_vec_init
    )]
    use super::*;
    use crate::units::Unit;
    use pilum_encoding::DecodedChunk;

    const SITE: ColumnSite<'static> = ColumnSite {
        path: "test.pilum",
        column: 0,
    };

    fn column(width: u32) -> ColumnLayout {
        ColumnLayout {
            kind: ValueKind::Fixed {
                width,
                items: 1,
                integer: None,
            },
            num_values: 1_000,
            pages: Vec::new(),
            value_bytes: 0,
        }
    }

    fn unit(first_value: u64, values: &[u32]) -> LoadedUnit {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        LoadedUnit {
            held: None,
            unit: Unit {
                page: 0,
                chunk: None,
                first_value,
                num_values: values.len() as u64,
                bytes: 0..0,
                child_start: 0,
            },
            decoded: DecodedChunk {
                validity: None,
                item_validity: None,
                values: DecodedValues::Fixed(Buffer::from_vec(bytes)),
            },
        }
    }

    fn values(g: &Gathered) -> Vec<u32> {
        g.fixed
            .as_slice()
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    #[test]
    fn one_fixed_piece_shares_the_unit_buffer() {
        let units = vec![unit(100, &(0..64).collect::<Vec<_>>())];
        let g = gather(SITE, &column(4), &units, &[110..120], false).unwrap();
        assert_eq!(values(&g), (10..20).collect::<Vec<_>>());
        let DecodedValues::Fixed(source) = &units[0].decoded.values else {
            panic!("fixed unit expected");
        };
        assert_eq!(
            g.fixed.as_ptr(),
            source.as_slice()[40..].as_ptr(),
            "a single piece is not copied"
        );
    }

    #[test]
    fn several_pieces_or_misaligned_values_are_copied() {
        let units = vec![
            unit(0, &(0..8).collect::<Vec<_>>()),
            unit(8, &(8..16).collect::<Vec<_>>()),
        ];
        let g = gather(SITE, &column(4), &units, &[6..10], false).unwrap();
        assert_eq!(values(&g), vec![6, 7, 8, 9]);
        let g = gather(SITE, &column(4), &units[..1], &[1..2, 4..6], false).unwrap();
        assert_eq!(values(&g), vec![1, 4, 5]);

        let mut odd = unit(0, &[1, 2, 3]);
        let DecodedValues::Fixed(buf) = &odd.decoded.values else {
            panic!("fixed unit expected");
        };
        // Two bytes in, 4-byte values lie misaligned: the gather must copy them.
        let shifted: Vec<u8> = [0u8, 0].iter().chain(buf.as_slice()).copied().collect();
        odd.decoded.values = DecodedValues::Fixed(Buffer::from_vec(shifted).slice(2));
        let g = gather(SITE, &column(4), &[odd], &[0..3], false).unwrap();
        assert_eq!(values(&g), vec![1, 2, 3]);
        assert!(g.fixed.as_ptr().align_offset(4) == 0);
    }

    /// Asserts `result` is a corrupt-file error naming the file and the chunk.
    fn assert_corrupt(result: Result<Gathered>, context: &str) {
        match result {
            Err(e @ FileError::Corrupt { .. }) => {
                let message = e.to_string();
                assert!(
                    message.contains("test.pilum") && message.contains("column 0, page 0, chunk 0"),
                    "{context}: {message}"
                );
            }
            Err(e) => panic!("{context}: expected a corrupt-file error, got {e:?}"),
            Ok(_) => panic!("{context}: gathered"),
        }
    }

    #[test]
    fn chunks_that_contradict_the_chunk_table_are_corrupt() {
        // The chunk table says 8 values; the chunk decoded to 4.
        let mut short = unit(0, &[1, 2, 3, 4]);
        short.unit.num_values = 8;
        short.unit.chunk = Some(0);
        assert_corrupt(gather(SITE, &column(4), &[short], &[2..7], false), "short fixed chunk");

        let variable = ColumnLayout {
            kind: ValueKind::Variable,
            ..column(0)
        };
        let mut strings = unit(0, &[]);
        strings.unit.num_values = 3;
        strings.unit.chunk = Some(0);
        strings.decoded.values = DecodedValues::Variable {
            offsets: vec![0, 1, 9],
            data: Buffer::from_vec(b"abc".to_vec()),
        };
        assert_corrupt(
            gather(SITE, &variable, std::slice::from_ref(&strings), &[0..3], false),
            "offsets shorter than the values",
        );
        assert_corrupt(
            gather(SITE, &variable, std::slice::from_ref(&strings), &[1..2], false),
            "offsets past the bytes",
        );

        // Dictionary indices in a page without a dictionary.
        let mut indices = strings;
        indices.decoded.values = DecodedValues::Indices(vec![0, 0, 0]);
        let mut paged = variable.clone();
        paged.pages.push(crate::layout::PageLayout {
            first_value: 0,
            num_values: 3,
            offset: 8,
            length: 0,
            flat: false,
            chunks: Vec::new(),
            dictionary: None,
            dictionary_views: std::sync::OnceLock::new(),
            flat_validity: None,
            zstd_dictionary: None,
            symbol_table: None,
        });
        let result = gather(SITE, &paged, std::slice::from_ref(&indices), &[0..3], false);
        assert_corrupt(result, "no page dictionary");
        // An index past the page dictionary.
        paged.pages[0].dictionary = Some(Dictionary {
            offsets: vec![0, 1],
            data: b"a".to_vec(),
        });
        indices.decoded.values = DecodedValues::Indices(vec![0, 1, 0]);
        assert_corrupt(gather(SITE, &paged, &[indices], &[0..3], false), "index out of range");
    }

    #[test]
    fn values_no_unit_covers_are_an_internal_error() {
        let units = vec![unit(0, &[1, 2])];
        let err = gather(SITE, &column(4), &units, &[0..3], false).err();
        assert!(matches!(err, Some(FileError::Internal { .. })), "{err:?}");
    }
}
