//! Page symbol tables: chosen for word-like text where they come close to
//! zstd, declined where zstd is far smaller, exact on every value (nulls
//! included), and never a panic on bad bytes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow_buffer::BooleanBuffer;
use pilum_encoding::{
    ChunkValues, DecodedValues, EncodedPage, PageDictionaries, PlanOptions, SymbolTable, ValidityInput, ValueKind,
    decode_chunk, encode_page,
};
use proptest::prelude::*;
use std::sync::Arc;

/// Encoding tag of a chunk whose values are symbol codes (after the one
/// validity-mode byte, for chunks without validity bitmaps).
const SYMBOLS_TAG: u8 = 6;

fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

/// Sentences of ~200 bytes over 5,000 pseudo-words of 2–12 letters with
/// Zipf-distributed ranks, shorter words ranked first (as the benchmark's
/// text generator does).
fn word_text(rows: usize, seed: u64) -> (Vec<u64>, Vec<u8>) {
    let mut state = seed;
    let mut words: Vec<String> = (0..5000)
        .map(|_| {
            let len = 2 + lcg(&mut state) % 11;
            (0..len)
                .map(|_| (b'a' + (lcg(&mut state) % 26) as u8) as char)
                .collect()
        })
        .collect();
    words.sort_by_key(String::len);
    let mut cdf: Vec<f64> = Vec::with_capacity(words.len());
    let mut sum = 0.0;
    for rank in 1..=words.len() {
        sum += 1.0 / rank as f64;
        cdf.push(sum);
    }
    let (mut offsets, mut data) = (vec![0u64], Vec::new());
    for _ in 0..rows {
        let start = data.len();
        while data.len() - start < 200 {
            let draw = (lcg(&mut state) as f64 / (1u64 << 31) as f64) * sum;
            let rank = cdf.partition_point(|&c| c < draw).min(words.len() - 1);
            data.extend_from_slice(words[rank].as_bytes());
            data.push(b' ');
        }
        offsets.push(data.len() as u64);
    }
    (offsets, data)
}

/// Distinct file paths sharing long prefixes: zstd's long matches beat
/// 8-byte symbols.
fn path_text(rows: usize) -> (Vec<u64>, Vec<u8>) {
    let (mut offsets, mut data) = (vec![0u64], Vec::new());
    for row in 0..rows {
        // Every path distinct (no value dictionary), neighbours alike.
        let path = format!(
            "/usr/lib/python3/dist-packages/project_{}/subpackage/module_{}.py",
            row / 40,
            row % 40
        );
        data.extend_from_slice(path.as_bytes());
        offsets.push(data.len() as u64);
    }
    (offsets, data)
}

fn encode(offsets: &[u64], data: &[u8], validity: &ValidityInput, symbol_table: bool) -> EncodedPage {
    let opts = PlanOptions {
        symbol_table,
        ..PlanOptions::default()
    };
    let values = ChunkValues::Variable { offsets, data };
    encode_page(ValueKind::Variable, values, offsets.len() - 1, validity, opts).unwrap()
}

fn chunks(page: &EncodedPage) -> Vec<(&[u8], usize)> {
    let mut at = 0usize;
    page.chunk_sizes
        .iter()
        .zip(&page.chunk_rows)
        .map(|(&size, &rows)| {
            let chunk = &page.bytes[at..at + size as usize];
            at += size as usize;
            (chunk, rows as usize)
        })
        .collect()
}

fn table_of(page: &EncodedPage) -> Option<SymbolTable> {
    page.symbol_table
        .as_deref()
        .map(|bytes| SymbolTable::from_bytes(bytes).unwrap())
}

/// Decodes every chunk, with the page's symbol table or zstd dictionary,
/// and returns each row's value (`None` for nulls).
fn decode_rows(page: &EncodedPage) -> Vec<Option<Vec<u8>>> {
    let symbols = table_of(page).map(Arc::new);
    let zstd = page.zstd_dictionary.clone().map(pilum_encoding::ZstdDictionary::new);
    let dictionaries = PageDictionaries {
        symbols: symbols.as_ref(),
        zstd: zstd.as_ref(),
        ..PageDictionaries::default()
    };
    let mut rows = Vec::new();
    for (chunk, n) in chunks(page) {
        let decoded = decode_chunk(chunk, ValueKind::Variable, n, dictionaries).unwrap();
        let DecodedValues::Variable { offsets, data } = decoded.values.decode_symbols().unwrap() else {
            panic!("text decodes to variable-width values")
        };
        for i in 0..n {
            let valid = decoded.validity.as_ref().is_none_or(|v| v.value(i));
            let value = &data.as_slice()[offsets[i] as usize..offsets[i + 1] as usize];
            rows.push(valid.then(|| value.to_vec()));
        }
    }
    rows
}

/// The rows of a page without nulls.
fn decode_valid_rows(page: &EncodedPage) -> Vec<Vec<u8>> {
    decode_rows(page)
        .into_iter()
        .map(|row| row.expect("no null rows"))
        .collect()
}

fn values_of(offsets: &[u64], data: &[u8]) -> Vec<Vec<u8>> {
    offsets
        .windows(2)
        .map(|w| data[w[0] as usize..w[1] as usize].to_vec())
        .collect()
}

#[test]
fn word_text_pages_get_a_symbol_table_close_to_zstd_and_decode_exactly() {
    let (offsets, data) = word_text(4000, 3);
    let page = encode(&offsets, &data, &ValidityInput::default(), true);
    let table = table_of(&page).expect("word text gets a symbol table");
    assert!(table.len() > 100, "{} symbols", table.len());
    assert!(page.zstd_dictionary.is_none());
    assert!(chunks(&page).iter().all(|(chunk, _)| chunk[1] == SYMBOLS_TAG));
    let rows = decode_valid_rows(&page);
    assert_eq!(rows, values_of(&offsets, &data));
    // Within the policy's 10% of zstd (table included), and well below plain.
    let zstd = encode(&offsets, &data, &ValidityInput::default(), false);
    let symbols_size = page.bytes.len() + page.symbol_table.as_ref().unwrap().len();
    assert!(
        symbols_size * 100 <= zstd.bytes.len() * 112,
        "{symbols_size} vs zstd {}",
        zstd.bytes.len()
    );
    assert!(
        symbols_size * 10 < data.len() * 8,
        "{symbols_size} of {} raw",
        data.len()
    );
}

#[test]
fn null_rows_keep_their_place_in_symbol_chunks() {
    let (offsets, data) = word_text(3000, 5);
    let valid: Vec<bool> = (0..3000).map(|i| i % 11 != 4).collect();
    let validity = ValidityInput {
        rows: Some(BooleanBuffer::from_iter(valid.iter().copied())),
        items: None,
    };
    let page = encode(&offsets, &data, &validity, true);
    assert!(page.symbol_table.is_some());
    let rows = decode_rows(&page);
    for (i, (row, value)) in rows.iter().zip(values_of(&offsets, &data)).enumerate() {
        assert_eq!(row.as_ref(), valid[i].then_some(&value), "row {i}");
    }
}

#[test]
fn pages_where_zstd_is_far_smaller_and_small_pages_keep_zstd() {
    let (offsets, data) = path_text(4000);
    let page = encode(&offsets, &data, &ValidityInput::default(), true);
    assert!(page.symbol_table.is_none(), "long shared prefixes stay with zstd");
    let (offsets, data) = word_text(100, 9);
    let page = encode(&offsets, &data, &ValidityInput::default(), true);
    assert!(page.symbol_table.is_none(), "a 20 KB page is too small for a table");
    assert_eq!(decode_valid_rows(&page), values_of(&offsets, &data));
}

/// Paths compress to ~6% in 4 KiB zstd frames, mostly entropy tables: such
/// pages (without a symbol table or zstd dictionary) cut 16 KiB chunks.
#[test]
fn densely_compressed_pages_cut_larger_chunks() {
    let (offsets, data) = path_text(4000);
    let values = ChunkValues::Variable {
        offsets: &offsets,
        data: &data,
    };
    let opts = PlanOptions {
        zstd_dictionary: false,
        ..PlanOptions::default()
    };
    let page = encode_page(ValueKind::Variable, values, 4000, &ValidityInput::default(), opts).unwrap();
    assert!(page.symbol_table.is_none() && page.zstd_dictionary.is_none());
    let mut start = 0usize;
    let rows = page.chunk_rows.len();
    for (i, &n) in page.chunk_rows.iter().enumerate() {
        let end = start + n as usize;
        let raw = offsets[end] - offsets[start];
        assert!(i + 1 == rows || raw >= 16384, "chunk {i} holds {raw} value bytes");
        assert!(raw < 16384 + 128, "chunk {i} holds {raw} value bytes");
        start = end;
    }
    assert_eq!(decode_valid_rows(&page), values_of(&offsets, &data));
}

/// Documents of four ~1 KB passages drawn from 64: a 4 KiB chunk holds
/// one document, so its own zstd frame finds few repeats, while the
/// page repeats every passage many times.
#[test]
fn documents_repeating_passages_across_chunks_keep_zstd_with_a_dictionary() {
    let (passage_offsets, passage_data) = word_text(320, 21);
    let passages: Vec<&[u8]> = passage_offsets
        .iter()
        .step_by(5)
        .zip(passage_offsets.iter().skip(5).step_by(5))
        .map(|(&start, &end)| &passage_data[start as usize..end as usize])
        .collect();
    assert_eq!(passages.len(), 64);
    let mut state = 77u64;
    let (mut offsets, mut data) = (vec![0u64], Vec::new());
    for _ in 0..600 {
        for _ in 0..4 {
            data.extend_from_slice(passages[lcg(&mut state) as usize % passages.len()]);
        }
        offsets.push(data.len() as u64);
    }
    let page = encode(&offsets, &data, &ValidityInput::default(), true);
    assert!(page.symbol_table.is_none(), "cross-chunk repeats stay with zstd");
    assert!(page.zstd_dictionary.is_some(), "and its dictionary captures them");
    assert_eq!(decode_valid_rows(&page), values_of(&offsets, &data));
}

#[test]
fn symbol_chunks_without_their_table_are_errors() {
    let (offsets, data) = word_text(2000, 1);
    let page = encode(&offsets, &data, &ValidityInput::default(), true);
    let (chunk, rows) = chunks(&page)[0];
    let err = decode_chunk(chunk, ValueKind::Variable, rows, PageDictionaries::default()).unwrap_err();
    assert!(err.to_string().contains("symbol table"), "{err}");
    let other = Arc::new(SymbolTable::from_bytes(&[1, 1, b'z']).unwrap());
    let wrong = PageDictionaries {
        symbols: Some(&other),
        ..PageDictionaries::default()
    };
    // Codes are checked when they are decoded, which readers do lazily.
    let decoded = decode_chunk(chunk, ValueKind::Variable, rows, wrong).unwrap();
    assert!(decoded.values.decode_symbols().is_err());
}

/// A word-text page with its symbol table, encoded once for the damage test.
static DAMAGE_PAGE: std::sync::LazyLock<(EncodedPage, Arc<SymbolTable>)> = std::sync::LazyLock::new(|| {
    let (offsets, data) = word_text(1000, 2);
    let page = encode(&offsets, &data, &ValidityInput::default(), true);
    let table = Arc::new(table_of(&page).unwrap());
    (page, table)
});

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any bytes as a symbol table, and any codes with a valid table, give
    /// a table or an error, never a panic.
    #[test]
    fn arbitrary_tables_and_codes_never_panic(
        table_bytes in proptest::collection::vec(any::<u8>(), 0..600),
        codes in proptest::collection::vec(any::<u8>(), 0..300),
        cut in 0usize..300,
        total in 0usize..3000,
    ) {
        let _ = SymbolTable::from_bytes(&table_bytes);
        let table = SymbolTable::from_bytes(b"\x03\x01\x02\x08athe quick ").unwrap();
        let cut = cut.min(codes.len()) as u64;
        let _ = table.decode(&[0, cut, codes.len() as u64], &codes, total);
    }

    /// A flipped byte in a symbol chunk is a checksum error, never a panic.
    #[test]
    fn damaged_symbol_chunks_are_errors(at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let (page, table) = &*DAMAGE_PAGE;
        let (chunk, rows) = chunks(page)[1];
        let mut damaged = chunk.to_vec();
        let i = at.index(damaged.len());
        damaged[i] ^= flip;
        let dictionaries = PageDictionaries { symbols: Some(table), ..PageDictionaries::default() };
        prop_assert!(decode_chunk(&damaged, ValueKind::Variable, rows, dictionaries).is_err());
    }

    /// The decoder (unchecked stores where every value has room, checked
    /// ones near the end of the output) matches a plain reference decoder on
    /// full and partial tables, with escapes and, for partial tables,
    /// unknown codes, which must be errors.
    #[test]
    fn decoding_matches_a_reference_decoder(
        lens in proptest::collection::vec(1usize..=8, 1..=255),
        symbol_bytes in proptest::collection::vec(any::<u8>(), 255 * 8),
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..30),
    ) {
        let mut table_bytes = vec![lens.len() as u8];
        table_bytes.extend(lens.iter().map(|&l| l as u8));
        let mut at = 0;
        let mut symbols = Vec::new();
        for &len in &lens {
            symbols.push(symbol_bytes[at..at + len].to_vec());
            table_bytes.extend_from_slice(&symbol_bytes[at..at + len]);
            at += len;
        }
        let table = SymbolTable::from_bytes(&table_bytes).unwrap();
        // Reference: codes past the table are unknown; 255 escapes a byte.
        let reference = |codes: &[u8]| -> Option<Vec<u8>> {
            let mut out = Vec::new();
            let mut i = 0;
            while i < codes.len() {
                if codes[i] == 255 {
                    out.push(*codes.get(i + 1)?);
                    i += 2;
                } else {
                    out.extend_from_slice(symbols.get(codes[i] as usize)?);
                    i += 1;
                }
            }
            Some(out)
        };
        let mut code_offsets = vec![0u64];
        let mut codes = Vec::new();
        let mut expected = Some(Vec::new());
        for value in &values {
            codes.extend_from_slice(value);
            code_offsets.push(codes.len() as u64);
            expected = expected.zip(reference(value)).map(|(mut all, v)| { all.extend(v); all });
        }
        match expected {
            Some(expected) => {
                let (offsets, data) = table.decode(&code_offsets, &codes, expected.len()).unwrap();
                prop_assert_eq!(data, expected);
                prop_assert_eq!(offsets.len(), values.len() + 1);
            }
            None => prop_assert!(table.decode(&code_offsets, &codes, 0).is_err()),
        }
    }
}
