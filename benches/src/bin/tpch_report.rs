//! TPC-H through DataFusion on Pilum datasets and on Parquet files holding
//! the same data, in one run. Prints a Markdown table of median query times
//! and the Pilum / Parquet ratios, after checking all return the same rows.
//! Pilum is measured twice: with its default writer options (zstd where it
//! pays) and without zstd, which matches default Parquet's uncompressed pages.
//!
//! Run: `cargo run --release -p pilum-benches --bin tpch_report -- [--sf 1]
//! [--iterations 5] [--queries 1,3,6] [--dir target/bench-data/tpch] [--explain 1]
//! [--set datafusion.key=value ...] [--sql "<query>" ...]`; `--sql` runs ad-hoc
//! queries over the same tables instead of the numbered ones; `--explain 1` prints each query's physical
//! plan on Parquet and on Pilum instead; `--set` changes a DataFusion setting
//! in every context (e.g. to see what Parquet's view types or dynamic join
//! filters are worth).
//! Data is generated (by `tpchgen`) on the first run for a scale factor and
//! reused afterwards.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow_array::{Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use pilum::Dataset;
use pilum_benches::tpch::{self, TABLES};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Args {
    sf: f64,
    iterations: usize,
    queries: Vec<usize>,
    dir: PathBuf,
    explain: bool,
    settings: Vec<(String, String)>,
    /// Ad-hoc queries (`--sql`), run instead of the numbered ones.
    custom: Vec<String>,
}

impl Args {
    /// (label, SQL) of every query to run.
    fn statements(&self) -> Vec<(String, String)> {
        if !self.custom.is_empty() {
            return self
                .custom
                .iter()
                .enumerate()
                .map(|(i, sql)| (format!("S{}", i + 1), sql.clone()))
                .collect();
        }
        self.queries
            .iter()
            .map(|&q| (format!("Q{q:02}"), tpch::query(q, self.sf)))
            .collect()
    }
}

fn args() -> Args {
    let mut args = Args {
        sf: 1.0,
        iterations: 5,
        queries: (1..=22).collect(),
        dir: PathBuf::from("target/bench-data/tpch"),
        explain: false,
        settings: Vec::new(),
        custom: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--sf" => args.sf = value.parse().unwrap(),
            "--iterations" => args.iterations = value.parse().unwrap(),
            "--queries" => args.queries = value.split(',').map(|q| q.trim().parse().unwrap()).collect(),
            "--dir" => args.dir = PathBuf::from(value),
            "--explain" => args.explain = value == "1",
            "--set" => {
                let (key, setting) = value.split_once('=').unwrap_or_else(|| panic!("--set needs key=value"));
                args.settings.push((key.to_string(), setting.to_string()));
            }
            "--sql" => args.custom.push(value),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// Generates and writes both copies unless this scale factor is already there.
async fn prepare(dir: &Path, sf: f64) {
    let marker = dir.join(format!("sf-{sf}.v7.done"));
    if marker.exists() {
        return;
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    for table in TABLES {
        let started = Instant::now();
        let batches = tpch::generate(table, sf);
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        tpch::write_parquet(&tpch::parquet_path(dir, table), &batches);
        tpch::write_pilum(&tpch::pilum_raw_path(dir, table), batches.clone(), false).await;
        tpch::write_pilum(&tpch::pilum_path(dir, table), batches, true).await;
        eprintln!("{table}: {rows} rows in {:.1?}", started.elapsed());
    }
    std::fs::write(marker, b"").unwrap();
}

/// Three contexts with the same configuration: Parquet, Pilum, Pilum without zstd.
async fn contexts(dir: &Path, settings: &[(String, String)]) -> [SessionContext; 3] {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let config = settings.iter().fold(
        SessionConfig::new().with_target_partitions(cores),
        |config, (key, value)| config.set_str(key, value),
    );
    let contexts = [(); 3].map(|_| SessionContext::new_with_config(config.clone()));
    for table in TABLES {
        let path = tpch::parquet_path(dir, table);
        contexts[0]
            .register_parquet(table, path.to_string_lossy(), ParquetReadOptions::default())
            .await
            .unwrap();
        let copies = [tpch::pilum_path(dir, table), tpch::pilum_raw_path(dir, table)];
        for (ctx, path) in contexts[1..].iter().zip(copies) {
            let dataset = Dataset::open(&path.to_string_lossy()).await.unwrap();
            pilum::register_dataset(ctx, table, dataset).unwrap();
        }
    }
    contexts
}

async fn run(ctx: &SessionContext, sql: &str) -> (Duration, Vec<RecordBatch>) {
    let started = Instant::now();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    (started.elapsed(), batches)
}

/// Rows as text, floats to 6 decimals (parallel sums may differ in the last bits).
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let cells: Vec<Vec<String>> = batch
            .columns()
            .iter()
            .map(|column| {
                let formatter = ArrayFormatter::try_new(column.as_ref(), &options).unwrap();
                (0..column.len())
                    .map(|i| {
                        let text = formatter.value(i).to_string();
                        match text.parse::<f64>() {
                            Ok(v) if column.data_type().is_floating() => format!("{v:.6}"),
                            _ => text,
                        }
                    })
                    .collect()
            })
            .collect();
        for row in 0..batch.num_rows() {
            out.push(cells.iter().map(|c| c[row].as_str()).collect::<Vec<_>>().join("|"));
        }
    }
    out
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args = args();
    prepare(&args.dir, args.sf).await;
    let contexts = contexts(&args.dir, &args.settings).await;
    if args.explain {
        for (label, sql) in args.statements() {
            for (name, ctx) in [("Parquet", &contexts[0]), ("Pilum", &contexts[1])] {
                let frame = ctx.sql(&sql).await.unwrap();
                let plan = frame.create_physical_plan().await.unwrap();
                let shown = datafusion::physical_plan::displayable(plan.as_ref()).indent(true);
                println!("-- {label} on {name}\n{shown}");
            }
        }
        return;
    }
    println!("| query | Parquet (ms) | Pilum (ms) | Pilum no zstd (ms) | Pilum ÷ Parquet | no zstd ÷ Parquet | rows |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut logs = [0.0f64; 2];
    let mut totals = [0.0f64; 3];
    let statements = args.statements();
    for (label, sql) in &statements {
        // One untimed run each, which also checks the answers agree.
        let expected = rows(&run(&contexts[0], sql).await.1);
        let mut agree = true;
        for ctx in &contexts[1..] {
            agree &= rows(&run(ctx, sql).await.1) == expected;
        }
        let mut samples: [Vec<Duration>; 3] = Default::default();
        for _ in 0..args.iterations {
            for (ctx, times) in contexts.iter().zip(samples.iter_mut()) {
                times.push(run(ctx, sql).await.0);
            }
        }
        let [a, b, c] = samples.map(|s| ms(median(s)));
        logs[0] += (b / a).ln();
        logs[1] += (c / a).ln();
        for (total, t) in totals.iter_mut().zip([a, b, c]) {
            *total += t;
        }
        let flag = if agree { "" } else { " (ANSWERS DIFFER)" };
        println!(
            "| {label}{flag} | {a:.1} | {b:.1} | {c:.1} | {:.2} | {:.2} | {} |",
            b / a,
            c / a,
            expected.len()
        );
    }
    let n = statements.len() as f64;
    println!(
        "| **total** (geometric mean of ratios) | {:.1} | {:.1} | {:.1} | {:.2} ({:.2}) | {:.2} ({:.2}) | |",
        totals[0],
        totals[1],
        totals[2],
        totals[1] / totals[0],
        (logs[0] / n).exp(),
        totals[2] / totals[0],
        (logs[1] / n).exp()
    );
    let bytes = |f: fn(&Path, &str) -> PathBuf| TABLES.iter().map(|t| tpch::disk_bytes(&f(&args.dir, t))).sum::<u64>();
    let mib = |b: u64| b as f64 / 1048576.0;
    println!(
        "\nSF {}: Parquet {:.1} MiB, Pilum {:.1} MiB, Pilum without zstd {:.1} MiB on disk; medians of {} runs each, interleaved.",
        args.sf,
        mib(bytes(tpch::parquet_path)),
        mib(bytes(tpch::pilum_path)),
        mib(bytes(tpch::pilum_raw_path)),
        args.iterations
    );
    for (key, value) in &args.settings {
        println!("Setting in every context: `{key} = {value}`.");
    }
}
