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
        ..TextIndexParams::new("text")
    };
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
