//! Property tests: every page the planner encodes decodes back to its input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow_buffer::BooleanBuffer;
use pilum_encoding::{
    ChunkValues, DecodedValues, Dictionary, IntegerSign, PageDictionaries, PlanOptions, SymbolTable, ValidityInput,
    ValueKind, ZstdDictionary, decode_chunk, encode_page,
};
use proptest::prelude::*;

fn decode_all(kind: ValueKind, page: &pilum_encoding::EncodedPage) -> Vec<pilum_encoding::DecodedChunk> {
    let zstd = page.zstd_dictionary.clone().map(ZstdDictionary::new);
    let symbols = page
        .symbol_table
        .as_deref()
        .map(|bytes| std::sync::Arc::new(SymbolTable::from_bytes(bytes).unwrap()));
    let dictionaries = PageDictionaries {
        values: page.dictionary.as_ref(),
        zstd: zstd.as_ref(),
        symbols: symbols.as_ref(),
    };
    let mut at = 0usize;
    page.chunk_rows
        .iter()
        .zip(&page.chunk_sizes)
        .map(|(&rows, &size)| {
            let bytes = &page.bytes[at..at + size as usize];
            at += size as usize;
            let chunk = decode_chunk(bytes, kind, rows as usize, dictionaries).unwrap();
            pilum_encoding::DecodedChunk {
                values: chunk.values.decode_symbols().unwrap(),
                ..chunk
            }
        })
        .collect()
}

fn validity_of(valid: &[bool]) -> Option<BooleanBuffer> {
    valid
        .iter()
        .any(|v| !v)
        .then(|| BooleanBuffer::from_iter(valid.iter().copied()))
}

fn check_validity(chunks: &[pilum_encoding::DecodedChunk], rows: &[u32], valid: &[bool]) {
    let mut at = 0;
    for (chunk, &n) in chunks.iter().zip(rows) {
        for i in 0..n as usize {
            let got = chunk.validity.as_ref().is_none_or(|v| v.value(i));
            assert_eq!(got, valid[at + i]);
        }
        at += n as usize;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn integers_round_trip(
        values in prop::collection::vec(prop_oneof![any::<i64>(), -5i64..5, Just(7i64)], 0..9000),
        width in prop::sample::select(vec![1usize, 2, 4, 8]),
        signed in any::<bool>(),
        nulls in any::<bool>(),
    ) {
        let valid: Vec<bool> = (0..values.len()).map(|i| !nulls || i % 3 != 0).collect();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()[..width].to_vec()).collect();
        let sign = if signed { IntegerSign::Signed } else { IntegerSign::Unsigned };
        let kind = ValueKind::Fixed { width: width as u32, items: 1, integer: Some(sign) };
        let validity = ValidityInput { rows: validity_of(&valid), items: None };
        let page = encode_page(kind, ChunkValues::Fixed(&bytes), values.len(), &validity, PlanOptions::default()).unwrap();
        let chunks = decode_all(kind, &page);
        check_validity(&chunks, &page.chunk_rows, &valid);
        let mut at = 0;
        for chunk in &chunks {
            let DecodedValues::Fixed(buf) = &chunk.values else { panic!("not fixed") };
            for (i, value) in buf.as_slice().chunks(width).enumerate() {
                if valid[at + i] {
                    prop_assert_eq!(value, &bytes[(at + i) * width..(at + i + 1) * width]);
                }
            }
            at += buf.len() / width;
        }
        prop_assert_eq!(at, values.len());
    }

    #[test]
    fn wide_integers_round_trip(
        values in prop::collection::vec(prop_oneof![any::<i128>(), -1_000_000i128..1_000_000, any::<i64>().prop_map(i128::from)], 0..6000),
        nulls in any::<bool>(),
        preserve in any::<bool>(),
    ) {
        let valid: Vec<bool> = (0..values.len()).map(|i| !nulls || i % 5 != 2).collect();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let kind = ValueKind::Fixed { width: 16, items: 1, integer: Some(IntegerSign::Signed) };
        let validity = ValidityInput { rows: validity_of(&valid), items: None };
        let opts = PlanOptions { preserve_null_slots: preserve, ..PlanOptions::default() };
        let page = encode_page(kind, ChunkValues::Fixed(&bytes), values.len(), &validity, opts).unwrap();
        let chunks = decode_all(kind, &page);
        check_validity(&chunks, &page.chunk_rows, &valid);
        let mut at = 0;
        for chunk in &chunks {
            let DecodedValues::Fixed(buf) = &chunk.values else { panic!("not fixed") };
            for (i, value) in buf.as_slice().chunks(16).enumerate() {
                if valid[at + i] || preserve {
                    prop_assert_eq!(value, &bytes[(at + i) * 16..(at + i + 1) * 16]);
                }
            }
            at += buf.len() / 16;
        }
        prop_assert_eq!(at, values.len());
    }

    #[test]
    fn strings_round_trip(
        values in prop::collection::vec(prop_oneof![".{0,40}", prop::sample::select(vec!["a".to_string(), "bb".into(), String::new()])], 0..3000),
        nulls in any::<bool>(),
        zstd in any::<bool>(),
    ) {
        let valid: Vec<bool> = (0..values.len()).map(|i| !nulls || i % 4 != 1).collect();
        let mut offsets = vec![0u64];
        let mut data = Vec::new();
        for v in &values {
            data.extend_from_slice(v.as_bytes());
            offsets.push(data.len() as u64);
        }
        let opts = PlanOptions { zstd_level: zstd.then_some(3), ..PlanOptions::default() };
        let validity = ValidityInput { rows: validity_of(&valid), items: None };
        let page = encode_page(ValueKind::Variable, ChunkValues::Variable { offsets: &offsets, data: &data }, values.len(), &validity, opts).unwrap();
        let chunks = decode_all(ValueKind::Variable, &page);
        check_validity(&chunks, &page.chunk_rows, &valid);
        let mut got = Vec::new();
        for chunk in &chunks {
            match &chunk.values {
                DecodedValues::Variable { offsets, data } => {
                    for w in offsets.windows(2) {
                        got.push(String::from_utf8(data[w[0] as usize..w[1] as usize].to_vec()).unwrap());
                    }
                }
                DecodedValues::Indices(indices) => {
                    let dict = page.dictionary.as_ref().expect("indices come with a page dictionary");
                    for &i in indices {
                        got.push(String::from_utf8(dict.get(i as usize).unwrap().to_vec()).unwrap());
                    }
                }
                _ => panic!("not variable"),
            }
        }
        prop_assert_eq!(got, values);
    }

    #[test]
    fn bits_and_vectors_round_trip(bits in prop::collection::vec(any::<bool>(), 0..10000), dim in 1u32..40) {
        let buffer = BooleanBuffer::from_iter(bits.iter().copied());
        let page = encode_page(ValueKind::Bits, ChunkValues::Bits(&buffer), bits.len(), &ValidityInput::default(), PlanOptions::default()).unwrap();
        let mut got = Vec::new();
        for chunk in decode_all(ValueKind::Bits, &page) {
            let DecodedValues::Bits(b) = chunk.values else { panic!("not bits") };
            got.extend(b.iter());
        }
        prop_assert_eq!(&got, &bits);

        let rows = bits.len() / 8;
        let floats: Vec<u8> = (0..rows * dim as usize).flat_map(|i| (i as f32 * 0.5).to_le_bytes()).collect();
        let items = BooleanBuffer::from_iter((0..rows * dim as usize).map(|i| bits[i % bits.len().max(1)]));
        let kind = ValueKind::Fixed { width: 4 * dim, items: dim, integer: None };
        let validity = ValidityInput { rows: None, items: Some(items.clone()) };
        let page = encode_page(kind, ChunkValues::Fixed(&floats), rows, &validity, PlanOptions::default()).unwrap();
        let mut values = Vec::new();
        let mut item_bits = Vec::new();
        for chunk in decode_all(kind, &page) {
            let DecodedValues::Fixed(b) = &chunk.values else { panic!("not fixed") };
            values.extend_from_slice(b.as_slice());
            let n = b.len() / (4 * dim as usize) * dim as usize;
            match &chunk.item_validity {
                Some(v) => item_bits.extend(v.iter()),
                None => item_bits.extend(std::iter::repeat_n(true, n)),
            }
        }
        prop_assert_eq!(values, floats);
        prop_assert_eq!(item_bits, items.iter().collect::<Vec<_>>());
    }
}

#[test]
fn corrupt_chunks_are_errors_not_panics() {
    let bytes: Vec<u8> = (0..4096u32).flat_map(|v| (v % 10).to_le_bytes()).collect();
    let kind = ValueKind::Fixed {
        width: 4,
        items: 1,
        integer: Some(IntegerSign::Unsigned),
    };
    let page = encode_page(
        kind,
        ChunkValues::Fixed(&bytes),
        4096,
        &ValidityInput::default(),
        PlanOptions::default(),
    )
    .unwrap();
    let first = &page.bytes[..page.chunk_sizes[0] as usize];
    let mut flipped = first.to_vec();
    flipped[3] ^= 0x40;
    assert!(matches!(
        decode_chunk(&flipped, kind, page.chunk_rows[0] as usize, PageDictionaries::default()),
        Err(pilum_encoding::EncodingError::Checksum { .. })
    ));
    for cut in 0..first.len() {
        assert!(
            decode_chunk(
                &first[..cut],
                kind,
                page.chunk_rows[0] as usize,
                PageDictionaries::default()
            )
            .is_err()
        );
    }
    assert!(
        decode_chunk(
            first,
            kind,
            page.chunk_rows[0] as usize + 1,
            PageDictionaries::default()
        )
        .is_err()
    );
    assert!(
        decode_chunk(
            first,
            ValueKind::Variable,
            10,
            PageDictionaries {
                values: Some(&Dictionary::default()),
                ..PageDictionaries::default()
            }
        )
        .is_err()
    );
}

/// Prices as `Decimal128(15, 2)` values within a small range: frame of
/// reference packs each 16-byte value into about 3 bytes.
#[test]
fn narrow_decimal_pages_pack_below_a_quarter_of_plain() {
    let values: Vec<i128> = (0..4000).map(|i| 90_000 + (i * 7919) % 1_000_000).collect();
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let kind = ValueKind::Fixed {
        width: 16,
        items: 1,
        integer: Some(IntegerSign::Signed),
    };
    let page = encode_page(
        kind,
        ChunkValues::Fixed(&bytes),
        values.len(),
        &ValidityInput::default(),
        PlanOptions::default(),
    )
    .unwrap();
    assert!(
        page.bytes.len() * 4 < bytes.len(),
        "{} of {}",
        page.bytes.len(),
        bytes.len()
    );
}
