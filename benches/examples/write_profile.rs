//! Times `Dataset::write` of the benchmark table, for profiling:
//! `cargo run --release -p pilum-benches --example write_profile -- 3`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures::stream;
use pilum::{Dataset, DatasetLocation, WriteMode, WriteParams};
use pilum_benches::{data_dir, table_batches, table_schema};
use std::time::{Duration, Instant};

fn main() {
    let repeats: usize = std::env::args().nth(1).and_then(|r| r.parse().ok()).unwrap_or(3);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let batches = table_batches();
    let path = data_dir().join("write-profile");
    let mut times: Vec<Duration> = (0..repeats)
        .map(|_| {
            let _ = std::fs::remove_dir_all(&path);
            let uri = path.to_string_lossy().to_string();
            let location = DatasetLocation::from_store_location(pilum::parse_uri(&uri).unwrap(), &uri);
            let input = batches.clone().into_iter().map(Ok);
            let started = Instant::now();
            rt.block_on(Dataset::write(
                location,
                table_schema(),
                Box::pin(stream::iter(input)),
                WriteMode::Create,
                &WriteParams::default(),
            ))
            .unwrap();
            started.elapsed()
        })
        .collect();
    times.sort();
    println!("write median {:?} over {repeats} runs", times[repeats / 2]);
}
