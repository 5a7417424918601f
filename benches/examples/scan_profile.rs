//! Repeats a projected scan of the benchmark table, for profiling:
//! `cargo run --release -p pilum-benches --example scan_profile -- id,category 50`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pilum::FileReader;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let columns: Vec<String> = args
        .get(1)
        .map(|c| c.split(',').map(String::from).collect())
        .unwrap_or_default();
    let repeats: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(20);
    let path = pilum_benches::data_dir().join("table.pilum");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let reader = rt.block_on(FileReader::open_uri(path.to_str().unwrap())).unwrap();
    let mut times = Vec::new();
    for _ in 0..repeats {
        let started = Instant::now();
        let rows = pilum_benches::scan_pilum(&rt, &reader, (!columns.is_empty()).then(|| columns.clone()));
        assert_eq!(rows as u64, reader.num_rows());
        times.push(started.elapsed());
    }
    times.sort();
    println!("median {:?} over {repeats} scans of {columns:?}", times[repeats / 2]);
}
