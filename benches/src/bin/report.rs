//! Prints the benchmark results as a Markdown table with ratios against
//! Pilum (every Parquet flavor: uncompressed defaults, Snappy, zstd level
//! 3, small pages), from criterion's estimates and the recorded file sizes.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pilum_benches::ParquetFlavor;
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
    let flavors: Vec<&str> = ParquetFlavor::ALL.iter().map(|(_, id)| *id).collect();
    let names: Vec<String> = flavors
        .iter()
        .map(|id| id.trim_start_matches("parquet_").to_string())
        .collect();
    println!(
        "| workload | Pilum | {} | {} |",
        names
            .iter()
            .map(|n| format!("Parquet {n}"))
            .collect::<Vec<_>>()
            .join(" | "),
        names
            .iter()
            .map(|n| format!("{n} ÷ Pilum"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|---|{}", "---|".repeat(2 * flavors.len()));
    for (label, group) in rows {
        let param = label.split('/').nth(1);
        let id = |engine: &str| match param {
            Some(p) => format!("{engine}/{p}"),
            None => engine.to_string(),
        };
        let p = median_ns(&criterion, &group, &id("pilum"));
        let others: Vec<Option<f64>> = flavors.iter().map(|f| median_ns(&criterion, &group, &id(f))).collect();
        let cell = |v: Option<f64>| v.map(fmt_time).unwrap_or_else(|| "–".into());
        let ratio = |v: Option<f64>| match (v, p) {
            (Some(v), Some(p)) => format!("{:.2}×", v / p),
            _ => "–".into(),
        };
        println!(
            "| {label} | {} | {} | {} |",
            cell(p),
            others.iter().map(|v| cell(*v)).collect::<Vec<_>>().join(" | "),
            others.iter().map(|v| ratio(*v)).collect::<Vec<_>>().join(" | ")
        );
    }
    let data = std::env::var("PILUM_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or(target.join("bench-data"));
    if let Ok(sizes) = std::fs::read_to_string(data.join("sizes.txt")) {
        let parsed: Vec<(&str, f64)> = sizes
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(name, bytes)| (name, bytes.parse().unwrap_or(0.0)))
            .collect();
        let pilum = parsed.iter().find(|(n, _)| *n == "pilum").map(|(_, b)| *b);
        let blobs_pilum = parsed.iter().find(|(n, _)| *n == "blobs_pilum").map(|(_, b)| *b);
        println!("\n| file | bytes | MiB | ÷ Pilum |\n|---|---|---|---|");
        for (name, bytes) in &parsed {
            let reference = if name.starts_with("blobs_") { blobs_pilum } else { pilum };
            let ratio = reference
                .filter(|r| *r > 0.0)
                .map(|r| format!("{:.2}×", bytes / r))
                .unwrap_or_else(|| "–".into());
            println!("| {name} | {bytes:.0} | {:.1} | {ratio} |", bytes / (1u64 << 20) as f64);
        }
    }
}
