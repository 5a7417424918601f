//! Dataset benchmarks: open latency against versions and fragments, commit
//! latency, add-column cost against table size, and filtered scans with and
//! without late materialization. Prints a Markdown report.
//!
//! Run: `cargo run --release -p pilum-benches --bin table_report`
//! (`PILUM_BENCH_ROWS` sets the table size, default 1,000,000;
//! `PILUM_BENCH_VERSIONS` the largest version count, default 10,000).
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use futures::stream;
use pilum::{Dataset, DatasetLocation, Materialization, NewColumns, WriteMode, WriteParams};
use pilum_benches::{BATCH_ROWS, data_dir, table_batch, table_rows, table_schema};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn time<F: FnMut()>(runs: usize, mut f: F) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed()
            })
            .collect(),
    )
}

fn location(path: &Path) -> DatasetLocation {
    let _ = std::fs::remove_dir_all(path);
    let uri = path.to_string_lossy().to_string();
    DatasetLocation::from_store_location(pilum::parse_uri(&uri).unwrap(), &uri)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path).map_or(0, |entries| {
        entries.flatten().map(|e| e.metadata().map_or(0, |m| m.len())).sum()
    })
}

fn small_batch(start: i64, rows: i64) -> RecordBatch {
    RecordBatch::try_from_iter([(
        "id",
        Arc::new(Int64Array::from_iter_values(start..start + rows)) as ArrayRef,
    )])
    .unwrap()
}

fn table(rows: usize, columns: Option<&[usize]>) -> Vec<RecordBatch> {
    (0..rows.div_ceil(BATCH_ROWS))
        .map(|i| {
            let batch = table_batch(i, BATCH_ROWS.min(rows - i * BATCH_ROWS));
            columns.map_or(batch.clone(), |c| batch.project(c).unwrap())
        })
        .collect()
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let root = data_dir().join("table-bench");
    std::fs::create_dir_all(&root).unwrap();
    let max_versions: u64 = std::env::var("PILUM_BENCH_VERSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    println!("## Dataset benchmarks\n");

    // --- Versions: open and commit latency.
    let loc = location(&root.join("versions"));
    let uri = loc.uri.clone();
    let one = vec![small_batch(0, 100)];
    let mut ds = rt
        .block_on(Dataset::write(
            loc.clone(),
            one[0].schema(),
            Box::pin(stream::iter(one.into_iter().map(Ok))),
            WriteMode::Create,
            &WriteParams::default(),
        ))
        .unwrap();
    println!("| versions | open latest (median of 20) | config commit (median) | append commit (median of 20) |");
    println!("|---:|---:|---:|---:|");
    let mut commit_times = Vec::new();
    for target in [1u64, 100, max_versions] {
        while ds.version() < target {
            let started = Instant::now();
            rt.block_on(ds.update_config([("bench.n".to_string(), Some(ds.version().to_string()))], []))
                .unwrap();
            commit_times.push(started.elapsed());
        }
        let open = time(20, || {
            rt.block_on(Dataset::open(&uri)).unwrap();
        });
        let recent: Vec<Duration> = commit_times.iter().rev().take(100).copied().collect();
        let config_commit = if recent.is_empty() {
            "–".to_string()
        } else {
            ms(median(recent))
        };
        let mut appends = Vec::new();
        let mut probe = rt.block_on(Dataset::open(&uri)).unwrap();
        let batch = small_batch(0, 100);
        for _ in 0..20 {
            let started = Instant::now();
            rt.block_on(probe.append(Box::pin(stream::iter([Ok(batch.clone())])), &WriteParams::default()))
                .unwrap();
            appends.push(started.elapsed());
        }
        ds = probe;
        println!(
            "| {target} | {} | {config_commit} | {} |",
            ms(open),
            ms(median(appends))
        );
    }

    // --- Many fragments.
    let loc = location(&root.join("fragments"));
    let frag_uri = loc.uri.clone();
    let rows = 10_000i64;
    let started = Instant::now();
    let frags = rt
        .block_on(Dataset::write(
            loc,
            small_batch(0, 1).schema(),
            Box::pin(stream::iter([Ok(small_batch(0, rows))])),
            WriteMode::Create,
            &WriteParams {
                max_rows_per_file: 1,
                ..WriteParams::default()
            },
        ))
        .unwrap();
    let write_time = started.elapsed();
    let open = time(20, || {
        rt.block_on(Dataset::open(&frag_uri)).unwrap();
    });
    let manifest_bytes = dir_bytes(&Path::new(&frag_uri).join("_versions"));
    println!(
        "\n10,000 fragments (one row each; written in {:.1} s): open latest {}, manifest {:.1} KiB, count_rows from metadata {}\n",
        write_time.as_secs_f64(),
        ms(open),
        manifest_bytes as f64 / 1024.0,
        ms(time(20, || {
            rt.block_on(frags.count_rows(None)).unwrap();
        }))
    );

    // --- Add a column: cost against table size and width.
    let rows = table_rows();
    println!("| table | rows | table size | add `id * 2` (median of 3) | bytes written |");
    println!("|---|---:|---:|---:|---:|");
    let mut wide_uri = String::new();
    for (name, rows, columns) in [
        ("narrow (id, score)", rows, Some(&[0usize, 1][..])),
        ("wide (+ text, 128-d vector)", rows / 4, None),
        ("wide (+ text, 128-d vector)", rows, None),
    ] {
        let path = root.join(format!("add-{}-{rows}", columns.map_or(5, |c| c.len())));
        let loc = location(&path);
        let batches = table(rows, columns);
        let schema = batches[0].schema();
        let base = rt
            .block_on(Dataset::write(
                loc.clone(),
                schema,
                Box::pin(stream::iter(batches.into_iter().map(Ok))),
                WriteMode::Create,
                &WriteParams::default(),
            ))
            .unwrap();
        let size = dir_bytes(&path.join("data"));
        // Each run adds a new column to the latest version (re-adding on the
        // same base would be a concurrent schema change, refused by design).
        let mut ds = base;
        let mut written = 0;
        let mut samples = Vec::new();
        for run in 0..3 {
            let before = dir_bytes(&path.join("data"));
            let started = Instant::now();
            let column = vec![(format!("doubled_{run}"), "id * 2".to_string())];
            rt.block_on(ds.add_columns(NewColumns::Sql(column))).unwrap();
            samples.push(started.elapsed());
            written = dir_bytes(&path.join("data")) - before;
        }
        let took = median(samples);
        println!(
            "| {name} | {rows} | {:.1} MiB | {} | {:.2} MiB |",
            size as f64 / 1048576.0,
            ms(took),
            written as f64 / 1048576.0
        );
        if columns.is_none() {
            wide_uri = loc.uri.clone();
        }
    }

    // --- Filtered scans, early vs late materialization, on the wide table.
    let wide = rt.block_on(Dataset::open(&wide_uri)).unwrap();
    let wide = rt.block_on(wide.checkout_version(1)).unwrap();
    let columns: Vec<String> = table_schema().fields().iter().map(|f| f.name().clone()).collect();
    println!("\n| filter (all 5 columns returned) | matching rows | early | late | auto | late vs early |");
    println!("|---|---:|---:|---:|---:|---:|");
    for filter in ["id % 1000 = 0", "category = 7", "score < 0.5"] {
        let mut matching = 0;
        let mut times = Vec::new();
        for style in [Materialization::Early, Materialization::Late, Materialization::Auto] {
            times.push(time(3, || {
                let batch = rt
                    .block_on(
                        wide.scan()
                            .project(columns.clone())
                            .filter(filter)
                            .materialization(style)
                            .try_into_batch(),
                    )
                    .unwrap();
                matching = batch.num_rows();
            }));
        }
        println!(
            "| `{filter}` | {matching} | {} | {} | {} | {:.2}× |",
            ms(times[0]),
            ms(times[1]),
            ms(times[2]),
            times[0].as_secs_f64() / times[1].as_secs_f64()
        );
    }
}
