//! Builds an inverted index over column `text` of an existing dataset and
//! times top-10 queries from Rust, for profiling the build and the search
//! without Python: `cargo run --release -p pilum-benches --example
//! text_index_profile -- /path/to/dataset "query one" "query two" ...`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pilum::{Dataset, FullTextQuery, FullTextSearch, Progress, TextIndexParams};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let uri = args.get(1).expect("dataset path");
    let queries: Vec<String> = args[2..].to_vec();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ds = rt.block_on(Dataset::open(uri)).unwrap();
    let params = TextIndexParams {
        replace: true,
        with_position: std::env::var("WITH_POSITION").is_ok(),
        memory_limit: std::env::var("MEMORY_LIMIT_MIB")
            .ok()
            .and_then(|m| m.parse::<usize>().ok())
            .map_or(1 << 30, |m| m << 20),
        ..TextIndexParams::new("text")
    };
    if std::env::var("SCAN_ONLY").is_ok() {
        // The build's input alone: one scan of the column, batches dropped.
        use futures::TryStreamExt;
        let start = Instant::now();
        let rows = rt.block_on(async {
            let mut stream = ds
                .scan()
                .project(["text"])
                .with_row_id(true)
                .try_into_stream()
                .await
                .unwrap();
            let mut rows = 0;
            let pause = std::env::var("SCAN_PAUSE_MS").ok().and_then(|p| p.parse::<u64>().ok());
            while let Some(batch) = stream.try_next().await.unwrap() {
                rows += batch.num_rows();
                if let Some(ms) = pause {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
            }
            rows
        });
        println!("scan: {rows} rows in {:.3} s", start.elapsed().as_secs_f64());
        return;
    }
    if std::env::var("SKIP_BUILD").is_err() {
        let start = Instant::now();
        rt.block_on(ds.create_text_index(&params, &Progress::none())).unwrap();
        println!("build: {:.3} s", start.elapsed().as_secs_f64());
    }
    let n: usize = std::env::var("LOOPS").ok().and_then(|l| l.parse().ok()).unwrap_or(200);
    for query in &queries {
        let search = FullTextSearch {
            limit: Some(10),
            columns: Some(vec!["id".into()]),
            ..FullTextSearch::new(FullTextQuery::text(query.clone()))
        };
        let ids_only = |ds: &Dataset| {
            let search = &search;
            let ds = ds.clone();
            async move { ds.full_text_row_ids(&search.query, 10, None).await.unwrap() }
        };
        rt.block_on(ds.full_text_search(&search)).unwrap();
        let start = Instant::now();
        for _ in 0..n {
            rt.block_on(ds.full_text_search(&search)).unwrap();
        }
        let full = start.elapsed().as_secs_f64() * 1e6 / n as f64;
        let start = Instant::now();
        for _ in 0..n {
            rt.block_on(ids_only(&ds));
        }
        let ids = start.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!("{query:?}: {full:.1} µs with rows, {ids:.1} µs ids and scores only");
    }
}
