//! Times `Dataset::take` of random rows per column, for profiling:
//! `cargo run --release -p pilum-benches --example take_profile -- 1000 20`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures::stream;
use pilum::{Dataset, DatasetLocation, WriteMode, WriteParams};
use pilum_benches::{data_dir, table_batches, table_schema};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args.get(1).and_then(|c| c.parse().ok()).unwrap_or(1000);
    let repeats: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(20);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let path = data_dir().join("take-profile");
    let uri = path.to_string_lossy().to_string();
    if !path.exists() {
        let batches = table_batches();
        rt.block_on(Dataset::write(
            DatasetLocation::from_store_location(pilum::parse_uri(&uri).unwrap(), &uri),
            table_schema(),
            Box::pin(stream::iter(batches.into_iter().map(Ok))),
            WriteMode::Create,
            &WriteParams::default(),
        ))
        .unwrap();
    }
    let ds = rt.block_on(Dataset::open(&uri)).unwrap();
    let rows = rt.block_on(ds.count_rows(None)).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut indices = pilum_benches::random_rows(&mut state, count, rows);
    indices.sort_unstable();
    let columns: [Option<&[&str]>; 6] = [
        Some(&["id"]),
        Some(&["score"]),
        Some(&["category"]),
        Some(&["text"]),
        Some(&["vector"]),
        None,
    ];
    for cols in columns {
        let mut times: Vec<Duration> = (0..repeats)
            .map(|_| {
                let started = Instant::now();
                let batch = rt.block_on(ds.take(&indices, cols)).unwrap();
                assert_eq!(batch.num_rows(), count);
                started.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "{:?}: median {:?} for {count} rows",
            cols.unwrap_or(&["all"]),
            times[repeats / 2]
        );
    }
}
