//! Encodes a file of variable-width values page by page, the way the file
//! writer does, and reports time and size per encoding choice:
//! `cargo run --release -p pilum-encoding --example page_profile -- <values.bin> [repeats] [page-bytes]`
//! (`values.bin`: each value as a little-endian u32 length and its bytes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pilum_encoding::{ChunkValues, PlanOptions, ValidityInput, ValueKind, encode_page};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: page_profile <values.bin> [repeats] [page-bytes]");
    let repeats: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(3);
    let page_bytes: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(4 << 20);
    let raw = std::fs::read(path).unwrap();
    let (mut offsets, mut data, mut pages) = (vec![0u64], Vec::new(), Vec::new());
    let mut at = 0;
    while at + 4 <= raw.len() {
        let len = u32::from_le_bytes(raw[at..at + 4].try_into().unwrap()) as usize;
        data.extend_from_slice(&raw[at + 4..at + 4 + len]);
        offsets.push(data.len() as u64);
        at += 4 + len;
        if data.len() >= page_bytes {
            pages.push((std::mem::replace(&mut offsets, vec![0]), std::mem::take(&mut data)));
        }
    }
    if offsets.len() > 1 {
        pages.push((offsets, data));
    }
    let total: usize = pages.iter().map(|(_, d)| d.len()).sum();
    for _ in 0..repeats {
        let started = Instant::now();
        let (mut bytes, mut dictionaries, mut symbols) = (0usize, 0usize, 0usize);
        for (offsets, data) in &pages {
            let values = ChunkValues::Variable { offsets, data };
            let n = offsets.len() - 1;
            let page = encode_page(
                ValueKind::Variable,
                values,
                n,
                &ValidityInput::default(),
                PlanOptions::default(),
            )
            .unwrap();
            bytes += page.bytes.len() + page.zstd_dictionary.as_ref().map_or(0, Vec::len);
            dictionaries += usize::from(page.zstd_dictionary.is_some());
            symbols += usize::from(page.symbol_table.is_some());
        }
        let elapsed = started.elapsed();
        println!(
            "{} pages, {:.1} MiB → {:.2} MiB in {:.0} ms ({:.0} MiB/s, one core); {dictionaries} zstd dictionaries, {symbols} symbol tables",
            pages.len(),
            total as f64 / 1048576.0,
            bytes as f64 / 1048576.0,
            elapsed.as_secs_f64() * 1e3,
            total as f64 / 1048576.0 / elapsed.as_secs_f64()
        );
    }
}
