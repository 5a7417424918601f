//! Repeats a streamed full scan of a dataset (the way Python's `to_batches`
//! reads), a take of random rows, or a rewrite of its rows into a fresh
//! dataset, for profiling:
//! `cargo run --release -p pilum-benches --example dataset_profile -- <dataset-uri> [scan|take|write] [repeats] [columns]`
//! (`columns`: comma-separated projection of the scan and take modes; take
//! reads 100 rows, `PILUM_TAKE_ROWS` overrides; `PILUM_FILTER` filters the scan)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow_array::RecordBatch;
use futures::{TryStreamExt, stream};
use pilum::{Dataset, DatasetLocation, WriteMode, WriteParams};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let uri = args
        .get(1)
        .expect("usage: dataset_profile <dataset-uri> [scan|write] [repeats]");
    let mode = args.get(2).map_or("scan", String::as_str);
    let repeats: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(20);
    let columns: Option<Vec<String>> = args.get(4).map(|c| c.split(',').map(String::from).collect());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dataset = rt.block_on(Dataset::open(uri)).unwrap();
    let scan = || -> Vec<RecordBatch> {
        rt.block_on(async {
            dataset
                .scan()
                .try_into_stream()
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap()
        })
    };
    let mut times: Vec<Duration> = match mode {
        "scan" => (0..repeats)
            .map(|_| {
                let started = Instant::now();
                let rows: usize = rt.block_on(async {
                    let mut scan = dataset.scan();
                    if let Ok(filter) = std::env::var("PILUM_FILTER") {
                        scan = scan.filter(filter);
                    }
                    if let Some(columns) = &columns {
                        scan = scan.project(columns.clone());
                    }
                    let stream = scan.try_into_stream().await.unwrap();
                    stream
                        .try_fold(0, |n, batch| async move { Ok(n + batch.num_rows()) })
                        .await
                        .unwrap()
                });
                assert!(rows > 0);
                started.elapsed()
            })
            .collect(),
        "take" => {
            let count: usize = std::env::var("PILUM_TAKE_ROWS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(100);
            let rows = rt.block_on(dataset.count_rows(None)).unwrap() as u64;
            let mut state = 0x2545_f491_4f6c_dd1du64;
            let names: Option<Vec<&str>> = columns.as_ref().map(|c| c.iter().map(String::as_str).collect());
            (0..repeats)
                .map(|_| {
                    let indices = pilum_benches::random_rows(&mut state, count, rows);
                    let started = Instant::now();
                    let batch = rt.block_on(dataset.take(&indices, names.as_deref())).unwrap();
                    assert_eq!(batch.num_rows(), count);
                    started.elapsed()
                })
                .collect()
        }
        "write" => {
            let batches = scan();
            let schema = batches[0].schema();
            let target = std::env::temp_dir().join("pilum-dataset-profile");
            let target_uri = target.to_string_lossy().to_string();
            (0..repeats)
                .map(|_| {
                    let _ = std::fs::remove_dir_all(&target);
                    let location =
                        DatasetLocation::from_store_location(pilum::parse_uri(&target_uri).unwrap(), &target_uri);
                    let input = batches.clone().into_iter().map(Ok);
                    let started = Instant::now();
                    rt.block_on(Dataset::write(
                        location,
                        schema.clone(),
                        Box::pin(stream::iter(input)),
                        WriteMode::Create,
                        &WriteParams::default(),
                    ))
                    .unwrap();
                    started.elapsed()
                })
                .collect()
        }
        other => panic!("unknown mode {other}: use scan, take or write"),
    };
    times.sort();
    println!("{mode}: median {:?} over {repeats} runs of {uri}", times[repeats / 2]);
}
