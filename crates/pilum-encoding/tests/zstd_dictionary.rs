//! Page zstd dictionaries: trained on large text pages, used by every chunk,
//! smaller than dictionary-free zstd, and never a panic on bad bytes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pilum_encoding::{
    ChunkValues, DecodedChunk, DecodedValues, EncodedPage, PageDictionaries, PlanOptions, ValidityInput, ValueKind,
    ZstdDictionary, decode_chunk, encode_page,
};
use proptest::prelude::*;

/// Deterministic documentation-like text: sentences over a small vocabulary
/// with a shared boilerplate line, as neighbouring documents have.
fn text_values(rows: usize, seed: u64) -> (Vec<u64>, Vec<u8>) {
    const WORDS: [&str; 24] = [
        "the", "dataset", "column", "version", "returns", "a", "table", "of", "rows", "vector", "index", "query",
        "scan", "filter", "write", "fragment", "schema", "manifest", "commit", "file", "page", "chunk", "reader",
        "writer",
    ];
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let (mut offsets, mut data) = (vec![0u64], Vec::new());
    for row in 0..rows {
        data.extend_from_slice(b"Licensed under the Apache License, Version 2.0. See the NOTICE file. ");
        data.extend_from_slice(format!("Section {row}: ").as_bytes());
        for _ in 0..40 + next() % 40 {
            data.extend_from_slice(WORDS[next() % WORDS.len()].as_bytes());
            data.push(b' ');
        }
        offsets.push(data.len() as u64);
    }
    (offsets, data)
}

/// Encodes a text page with zstd (symbol tables off: this vocabulary is
/// small enough that one would be chosen instead).
fn encode(offsets: &[u64], data: &[u8], zstd_dictionary: bool) -> EncodedPage {
    let opts = PlanOptions {
        zstd_dictionary,
        symbol_table: false,
        ..PlanOptions::default()
    };
    let values = ChunkValues::Variable { offsets, data };
    encode_page(
        ValueKind::Variable,
        values,
        offsets.len() - 1,
        &ValidityInput::default(),
        opts,
    )
    .unwrap()
}

fn chunks(page: &EncodedPage) -> impl Iterator<Item = (&[u8], usize)> {
    let mut at = 0usize;
    page.chunk_sizes
        .iter()
        .zip(&page.chunk_rows)
        .map(move |(&size, &rows)| {
            let bytes = &page.bytes[at..at + size as usize];
            at += size as usize;
            (bytes, rows as usize)
        })
}

fn decode_page(page: &EncodedPage, zstd: Option<&ZstdDictionary>) -> Vec<u8> {
    let mut out = Vec::new();
    for (bytes, rows) in chunks(page) {
        let decoded = decode_with(bytes, rows, zstd).unwrap();
        let DecodedValues::Variable { offsets, data } = decoded.values else {
            panic!("plain variable values expected");
        };
        out.extend_from_slice(&data[offsets[0] as usize..*offsets.last().unwrap() as usize]);
    }
    out
}

#[test]
fn large_text_pages_train_a_dictionary_that_every_chunk_uses() {
    let (offsets, data) = text_values(3000, 7);
    assert!(data.len() > 256 * 1024);
    let page = encode(&offsets, &data, true);
    let dictionary = page.zstd_dictionary.clone().expect("a dictionary pays on this page");
    assert!(!dictionary.is_empty() && dictionary.len() <= 32 * 1024);
    // Every chunk is a zstd frame over the dictionary: [mode 0][tag 5].
    assert!(chunks(&page).all(|(bytes, _)| bytes[0] == 0 && bytes[1] == 5));
    let zstd = ZstdDictionary::new(dictionary);
    assert_eq!(decode_page(&page, Some(&zstd)), data);

    let plain = encode(&offsets, &data, false);
    assert!(plain.zstd_dictionary.is_none());
    assert_eq!(decode_page(&plain, None), data);
    let with = page.bytes.len() + zstd.as_bytes().len();
    assert!(
        with * 10 < plain.bytes.len() * 9,
        "dictionary page {with} bytes (with its dictionary) vs {} without",
        plain.bytes.len()
    );
}

#[test]
fn small_or_incompressible_pages_get_no_dictionary() {
    let (offsets, data) = text_values(100, 3);
    assert!(encode(&offsets, &data, true).zstd_dictionary.is_none());

    let mut state = 99u64;
    let random: Vec<u8> = (0..512 * 1024)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            (state >> 56) as u8
        })
        .collect();
    let offsets: Vec<u64> = (0..=512u64).map(|i| i * 1024).collect();
    assert!(encode(&offsets, &random, true).zstd_dictionary.is_none());
}

/// ~200-byte sentences over 5,000 pseudo-words drawn Zipf-like (short
/// words frequent, as the benchmark's text column): nothing is shared between
/// rows but the vocabulary, a dictionary saves only a few percent, not worth
/// its compression time.
#[test]
fn pages_where_a_dictionary_saves_little_keep_plain_zstd() {
    let mut state = 42u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let mut vocabulary: Vec<String> = (0..5000)
        .map(|_| {
            (0..2 + next() % 11)
                .map(|_| (b'a' + (next() % 26) as u8) as char)
                .collect()
        })
        .collect();
    vocabulary.sort_by_key(String::len);
    let (mut offsets, mut data) = (vec![0u64], Vec::new());
    for _ in 0..16_000 {
        while data.len() < offsets.len() * 200 {
            // Rank r is drawn with probability about 1 / r.
            let rank = (vocabulary.len() as f64).powf((next() % 1_000_000) as f64 / 1_000_000.0) as usize - 1;
            data.extend_from_slice(vocabulary[rank.min(vocabulary.len() - 1)].as_bytes());
            data.push(b' ');
        }
        offsets.push(data.len() as u64);
    }
    let page = encode(&offsets, &data, true);
    assert!(page.zstd_dictionary.is_none());
    assert!(chunks(&page).all(|(bytes, _)| bytes[1] == 4), "plain zstd chunks");
    assert_eq!(decode_page(&page, None), data);
}

/// Decodes one text chunk with `zstd` as its page's zstd dictionary.
fn decode_with(chunk: &[u8], rows: usize, zstd: Option<&ZstdDictionary>) -> pilum_encoding::Result<DecodedChunk> {
    decode_chunk(
        chunk,
        ValueKind::Variable,
        rows,
        PageDictionaries {
            zstd,
            ..PageDictionaries::default()
        },
    )
}

#[test]
fn dictionary_chunks_without_the_right_dictionary_are_errors() {
    let (offsets, data) = text_values(3000, 11);
    let page = encode(&offsets, &data, true);
    let (first, rows) = chunks(&page).next().unwrap();
    assert!(decode_with(first, rows, None).is_err());

    let (other_offsets, other_data) = text_values(3000, 12345);
    let other = encode(&other_offsets, &other_data, true);
    let wrong = ZstdDictionary::new(other.zstd_dictionary.unwrap());
    assert!(
        decode_with(first, rows, Some(&wrong)).is_err(),
        "a frame names its dictionary's id"
    );

    let garbage = ZstdDictionary::new(vec![0x37, 0xA4, 0x30, 0xEC, 1, 2, 3]);
    assert!(decode_with(first, rows, Some(&garbage)).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Damaged dictionary bytes give an error or a checksum-verified decode,
    /// never a panic.
    #[test]
    fn damaged_dictionaries_never_panic(at in 0usize..32 * 1024, byte in any::<u8>(), cut in 0usize..32 * 1024) {
        static PAGE: std::sync::OnceLock<EncodedPage> = std::sync::OnceLock::new();
        let page = PAGE.get_or_init(|| {
            let (offsets, data) = text_values(3000, 5);
            encode(&offsets, &data, true)
        });
        let mut bytes = page.zstd_dictionary.clone().unwrap();
        let at = at % bytes.len();
        bytes[at] ^= byte | 1;
        bytes.truncate(bytes.len() - cut % bytes.len());
        let damaged = ZstdDictionary::new(bytes);
        for (chunk, rows) in chunks(page).take(8) {
            let _ = decode_with(chunk, rows, Some(&damaged));
        }
    }
}
