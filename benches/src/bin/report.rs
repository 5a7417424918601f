//! Prints the benchmark results as a Markdown table with ratios against
//! Pilum, from criterion's estimates and the recorded file sizes.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

fn median_ns(criterion: &Path, group: &str, id: &str) -> Option<f64> {
    let file = criterion.join(group).join(id).join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn fmt_time(ns: f64) -> String {
    match ns {
        n if n >= 1e9 => format!("{:.2} s", n / 1e9),
        n if n >= 1e6 => format!("{:.2} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.1} µs", n / 1e3),
        n => format!("{n:.0} ns"),
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or(root.join("target"));
    let criterion = target.join("criterion");
    let rows: Vec<(&str, String)> = vec![
        ("write", "write".into()),
        ("scan_full", "scan_full".into()),
        ("scan_projected_id_category", "scan_projected_id_category".into()),
        ("take/1", "take".into()),
        ("take/100", "take".into()),
        ("take/1000", "take".into()),
        ("blob_take_10", "blob_take_10".into()),
    ];
    println!("| workload | Pilum | Parquet default | Parquet tuned | default ÷ Pilum | tuned ÷ Pilum |");
    println!("|---|---|---|---|---|---|");
    for (label, group) in rows {
        let param = label.split('/').nth(1);
        let id = |engine: &str| match param {
            Some(p) => format!("{engine}/{p}"),
            None => engine.to_string(),
        };
        let p = median_ns(&criterion, &group, &id("pilum"));
        let d = median_ns(&criterion, &group, &id("parquet_default"));
        let t = median_ns(&criterion, &group, &id("parquet_tuned"));
        let cell = |v: Option<f64>| v.map(fmt_time).unwrap_or_else(|| "–".into());
        let ratio = |v: Option<f64>| match (v, p) {
            (Some(v), Some(p)) => format!("{:.2}×", v / p),
            _ => "–".into(),
        };
        println!(
            "| {label} | {} | {} | {} | {} | {} |",
            cell(p),
            cell(d),
            cell(t),
            ratio(d),
            ratio(t)
        );
    }
    let data = std::env::var("PILUM_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or(target.join("bench-data"));
    if let Ok(sizes) = std::fs::read_to_string(data.join("sizes.txt")) {
        println!("\n| file | bytes | MiB |\n|---|---|---|");
        for line in sizes.lines() {
            if let Some((name, bytes)) = line.split_once(' ') {
                let b: f64 = bytes.parse().unwrap_or(0.0);
                println!("| {name} | {bytes} | {:.1} |", b / (1u64 << 20) as f64);
            }
        }
    }
}
