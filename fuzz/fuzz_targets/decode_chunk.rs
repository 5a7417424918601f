//! Feeds arbitrary bytes to the chunk decoder for every value kind, and to
//! the selected-values decoder for the scalar fixed-width kinds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pilum_encoding::{
    Dictionary, IntegerSign, PageDictionaries, SymbolTable, ValueKind, ZstdDictionary, decode_chunk,
    decode_selected_chunk,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, chunk)) = data.split_first() else { return };
    let n = usize::from(selector) * 17 % 5000;
    let kinds = [
        ValueKind::Bits,
        ValueKind::Variable,
        ValueKind::Fixed { width: 8, items: 1, integer: Some(IntegerSign::Signed) },
        ValueKind::Fixed { width: 2, items: 1, integer: Some(IntegerSign::Unsigned) },
        ValueKind::Fixed { width: 16, items: 4, integer: None },
        ValueKind::Fixed { width: 0, items: 1, integer: None },
    ];
    let dictionary = Dictionary { offsets: vec![0, 1, 3], data: b"abc".to_vec() };
    // A raw-content zstd dictionary: frames without a dictionary id may use it.
    let zstd = ZstdDictionary::new(b"the dataset column returns a table of rows".repeat(8));
    // A symbol table of 1-, 2- and 8-byte symbols: codes 0, 1 and 2.
    let Ok(symbols) = SymbolTable::from_bytes(b"\x03\x01\x02\x08athe quick ") else { return };
    let symbols = std::sync::Arc::new(symbols);
    let page = PageDictionaries { values: Some(&dictionary), zstd: Some(&zstd), symbols: Some(&symbols) };
    // A full table (255 symbols of 1-8 bytes): every code is known, so the
    // decoder takes its unchecked-store path wherever the output has room.
    let mut full = vec![255u8];
    full.extend((0..255u8).map(|c| c % 8 + 1));
    full.extend((0..255u8).flat_map(|c| (0..c % 8 + 1).map(move |k| c.wrapping_add(k))));
    let Ok(full) = SymbolTable::from_bytes(&full) else { return };
    let full = std::sync::Arc::new(full);
    let full_page = PageDictionaries { symbols: Some(&full), ..page };
    let buffer = arrow_buffer::Buffer::from(chunk);
    // Every third position, and the last.
    let selected: Vec<u32> = (0..n as u32).filter(|i| i % 3 == 0 || *i + 1 == n as u32).collect();
    for kind in kinds {
        let _ = decode_selected_chunk(&buffer, kind, n, page, &selected);
        // Readers decode symbol codes lazily; decode them here too.
        let _ = decode_chunk(chunk, kind, n, page).and_then(|d| d.values.decode_symbols());
        let _ = decode_chunk(chunk, kind, n, full_page).and_then(|d| d.values.decode_symbols());
    }
});
