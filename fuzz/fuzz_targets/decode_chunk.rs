//! Feeds arbitrary bytes to the chunk decoder for every value kind.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pilum_encoding::{
    Dictionary, IntegerSign, PageDictionaries, SymbolTable, ValueKind, ZstdDictionary, decode_chunk,
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
    for kind in kinds {
        // Readers decode symbol codes lazily; decode them here too.
        let _ = decode_chunk(chunk, kind, n, page).and_then(|d| d.values.decode_symbols());
    }
});
