//! Truncations and single-bit flips of a good file. Every read gives the
//! data as written or a typed corruption error naming the file, exactly as
//! the flipped byte's place in the format dictates: bytes the reader never
//! checks (the header, padding, known feature bits, the minor version) read
//! back as written, and a flip in a flat page (values without a checksum,
//! format-spec/file.md 8.2) reads back as exactly that bit flipped in that
//! value.

use super::{edit::metadata_of, open, sources};
use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch};
use pilum_file::{FileError, KNOWN_FEATURES, ReadOptions};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

/// Where a byte of the file lies, as far as a flip there is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Region {
    /// The header: the reader does not read it.
    Header,
    /// Zero bytes before a page, part of no page.
    Padding,
    /// A chunk of physical column `column` (CRC-checked).
    Chunk { column: usize },
    /// A flat page: values back to back without a checksum.
    FlatPage { first_value: u64, offset: u64 },
    /// The metadata block (CRC-checked).
    Metadata,
    /// Footer: metadata offset, length and CRC.
    FooterLocation,
    /// Footer: required feature bits.
    FooterFeatures,
    /// Footer: major version.
    FooterMajor,
    /// Footer: minor version (any is accepted).
    FooterMinor,
    /// Footer: magic.
    FooterMagic,
}

/// What opening and reading a damaged file gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// The data as written.
    Written,
    /// The data as written but for the flipped bit of one flat-page value.
    FlippedValue,
    NotPilum,
    Corrupt,
    Chunk {
        column: usize,
    },
    UnsupportedVersion,
    UnsupportedFeatures,
}

/// The regions of `file`, as byte ranges in file order.
fn regions(file: &[u8]) -> Vec<(Range<usize>, Region)> {
    let (meta_off, meta) = metadata_of(file);
    let mut out = vec![(0..8, Region::Header)];
    for (column, c) in meta.columns.iter().enumerate() {
        for page in &c.pages {
            let start = page.offset as usize;
            if page.layout == 1 {
                let first_value = c
                    .pages
                    .iter()
                    .take_while(|p| p.offset != page.offset)
                    .map(|p| p.num_values)
                    .sum();
                let region = Region::FlatPage {
                    first_value,
                    offset: page.offset,
                };
                out.push((start..start + page.length as usize, region));
                continue;
            }
            let mut at = start;
            for &size in &page.chunk_sizes {
                out.push((at..at + size as usize, Region::Chunk { column }));
                at += size as usize;
            }
        }
    }
    out.sort_by_key(|(r, _)| r.start);
    let mut padded = Vec::with_capacity(out.len() * 2);
    let mut end = 0;
    for (range, region) in out {
        assert!(range.start >= end, "regions overlap at {}", range.start);
        if range.start > end {
            assert!(file[end..range.start].iter().all(|&b| b == 0), "padding is zero");
            padded.push((end..range.start, Region::Padding));
        }
        end = range.end;
        padded.push((range, region));
    }
    assert!(end <= meta_off);
    if meta_off > end {
        padded.push((end..meta_off, Region::Padding));
    }
    let footer = file.len() - 32;
    padded.extend([
        (meta_off..footer, Region::Metadata),
        (footer..footer + 20, Region::FooterLocation),
        (footer + 20..footer + 24, Region::FooterFeatures),
        (footer + 24..footer + 26, Region::FooterMajor),
        (footer + 26..footer + 28, Region::FooterMinor),
        (footer + 28..footer + 32, Region::FooterMagic),
    ]);
    padded
}

/// The outcome a flip of bit `bit` of byte `at` (in `region`) must have.
fn expected(region: Region, at: usize, bit: u32, footer: usize) -> Outcome {
    match region {
        Region::Header | Region::Padding | Region::FooterMinor => Outcome::Written,
        Region::FlatPage { .. } => Outcome::FlippedValue,
        Region::Chunk { column } => Outcome::Chunk { column },
        Region::Metadata | Region::FooterLocation => Outcome::Corrupt,
        Region::FooterMajor => Outcome::UnsupportedVersion,
        Region::FooterMagic => Outcome::NotPilum,
        Region::FooterFeatures => {
            let feature = 1u32 << (8 * (at - footer - 20) as u32 + bit);
            if feature & KNOWN_FEATURES != 0 {
                Outcome::Written
            } else {
                Outcome::UnsupportedFeatures
            }
        }
    }
}

/// The good batch with bit `bit` of byte `at` of the flat page at `offset`
/// (holding the `vec` column from row `first_value`) flipped.
fn with_flipped_value(good: &RecordBatch, first_value: u64, offset: u64, at: usize, bit: u32) -> RecordBatch {
    let within = at - offset as usize;
    let (row, byte) = (first_value as usize + within / 256, within % 256);
    let vectors = good.column_by_name("vec").unwrap().as_fixed_size_list();
    let mut values: Vec<f32> = vectors.values().as_primitive::<Float32Type>().values().to_vec();
    let value = &mut values[row * 64 + byte / 4];
    *value = f32::from_bits(value.to_bits() ^ (1 << (8 * (byte % 4) as u32 + bit)));
    let arrow_schema::DataType::FixedSizeList(field, _) = vectors.data_type() else {
        panic!("vec holds fixed-size lists");
    };
    let flipped = FixedSizeListArray::new(field.clone(), 64, Arc::new(Float32Array::from(values)), None);
    let mut columns: Vec<ArrayRef> = good.columns().to_vec();
    columns[good.schema().index_of("vec").unwrap()] = Arc::new(flipped);
    RecordBatch::try_new(good.schema(), columns).unwrap()
}

/// Opens and reads every row of `bytes` as object `name`; the data, or the
/// outcome of the typed error after checking it names the file.
async fn read(name: &str, bytes: Vec<u8>) -> Result<RecordBatch, Outcome> {
    let result = match open(name, bytes).await {
        Ok(reader) => reader.read_range(0..reader.num_rows(), &ReadOptions::default()).await,
        Err(e) => Err(e),
    };
    let err = match result {
        Ok(batch) => return Ok(batch),
        Err(err) => err,
    };
    assert!(
        err.to_string().contains(name),
        "{name}: error must name the file: {err}"
    );
    Err(match err {
        FileError::NotPilum { .. } => Outcome::NotPilum,
        FileError::Corrupt { .. } => Outcome::Corrupt,
        FileError::Chunk { column, .. } => Outcome::Chunk { column },
        FileError::UnsupportedVersion { .. } => Outcome::UnsupportedVersion,
        FileError::UnsupportedFeatures { .. } => Outcome::UnsupportedFeatures,
        other => panic!("{name}: not a typed corruption error: {other:?}"),
    })
}

/// Byte positions to flip: every header and footer byte, some bytes of every
/// other region, and bytes spread over the whole file.
fn positions(regions: &[(Range<usize>, Region)], len: usize) -> Vec<usize> {
    let mut rng = crate::common::Rng(3);
    let mut out: Vec<usize> = (0..8).chain(len - 32..len).collect();
    for (range, _) in regions {
        out.extend((0..8).map(|_| range.start + rng.below(range.len() as u64) as usize));
    }
    out.extend((0..300).map(|_| rng.below(len as u64) as usize));
    out
}

/// Outcomes counted by (region, outcome).
type Counts = BTreeMap<(&'static str, Outcome), usize>;

/// Truncates `good` (which holds `written`) at 300 points and flips single
/// bits of it, asserting each outcome and counting them into `counts`.
async fn sweep(good: &[u8], written: &RecordBatch, counts: &mut Counts) {
    assert_eq!(
        &read("good", good.to_vec()).await.unwrap(),
        written,
        "the good file reads back"
    );
    let step = (good.len() / 300).max(1);
    for cut in (0..good.len()).step_by(step) {
        let name = format!("cut{cut}");
        let got = read(&name, good[..cut].to_vec()).await.err();
        assert_eq!(got, Some(Outcome::NotPilum), "{name}");
        *counts.entry(("truncated", Outcome::NotPilum)).or_default() += 1;
    }
    let regions = regions(good);
    let footer = good.len() - 32;
    for (i, at) in positions(&regions, good.len()).into_iter().enumerate() {
        let region = regions
            .iter()
            .find(|(r, _)| r.contains(&at))
            .map(|(_, region)| *region)
            .unwrap();
        let bits = if at < 8 || at >= footer {
            0..8
        } else {
            i as u32 % 8..i as u32 % 8 + 1
        };
        for bit in bits {
            let mut bytes = good.to_vec();
            bytes[at] ^= 1 << bit;
            let name = format!("flip-{at}-{bit}");
            let got = match read(&name, bytes).await {
                Ok(batch) if &batch == written => Outcome::Written,
                Ok(batch) => {
                    let Region::FlatPage { first_value, offset } = region else {
                        panic!("{name} ({region:?}): read back different data");
                    };
                    let flipped = with_flipped_value(written, first_value, offset, at, bit);
                    assert!(batch == flipped, "{name}: data differs beyond the flipped value");
                    Outcome::FlippedValue
                }
                Err(outcome) => outcome,
            };
            assert_eq!(got, expected(region, at, bit, footer), "{name} in {region:?}");
            *counts.entry((region_kind(region), got)).or_default() += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_truncation_and_byte_flip_reads_as_written_or_is_a_typed_error() {
    let mut counts = Counts::new();
    // Vectors in flat pages, short strings, lists.
    sweep(&sources::good_file().await, &sources::good_batch(), &mut counts).await;
    // A page dictionary, a symbol table, a zstd dictionary.
    let (colours, colour_batch) = sources::dictionary_file().await;
    sweep(&colours, &colour_batch, &mut counts).await;
    for symbol_table in [true, false] {
        let text = sources::text_file(symbol_table).await;
        sweep(&text, &crate::common::text_batch(sources::TEXT_ROWS, 7), &mut counts).await;
    }
    let lines: Vec<String> = counts
        .iter()
        .map(|((region, outcome), n)| format!("{region:>9} {outcome:?}: {n}"))
        .collect();
    eprintln!("truncation and byte-flip outcomes by region:\n{}", lines.join("\n"));
    for kind in ["header", "padding", "chunk", "flat page", "metadata", "footer"] {
        assert!(counts.keys().any(|(k, _)| *k == kind), "no flip landed in the {kind}");
    }
}

fn region_kind(region: Region) -> &'static str {
    match region {
        Region::Header => "header",
        Region::Padding => "padding",
        Region::Chunk { .. } => "chunk",
        Region::FlatPage { .. } => "flat page",
        Region::Metadata => "metadata",
        _ => "footer",
    }
}
