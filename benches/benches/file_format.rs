//! Pilum vs Parquet (arrow-rs) on the same data, in one run: write, size,
//! full scan, projected scan, random take of 1/100/1000 rows, blob fetch.
//! Parquet flavors: arrow-rs defaults (uncompressed), Snappy, zstd level 3
//! (the defaults otherwise) and small pages with the page index; blobs
//! (random bytes, which no codec shrinks) are compared with the defaults only.
//!
//! `cargo bench -p pilum-benches --bench file_format`, then
//! `cargo run --release -p pilum-benches --bin report` for the table.
//! `PILUM_BENCH_ROWS` scales the main table (default 1,000,000 rows).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use object_store::{ObjectStore, local::LocalFileSystem, path::Path as StorePath};
use pilum::{BlobMode, FileReader, FileWriter, ReadOptions, WriterOptions};
use pilum_benches::*;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

fn rt() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn store_path(path: &Path) -> StorePath {
    StorePath::from_absolute_path(std::path::absolute(path).unwrap()).unwrap()
}

fn write_pilum(
    rt: &Runtime,
    path: &Path,
    schema: arrow_schema::SchemaRef,
    batches: &[arrow_array::RecordBatch],
) -> u64 {
    rt.block_on(async {
        let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new());
        let mut writer = FileWriter::try_new(store, store_path(path), schema, WriterOptions::default())
            .await
            .unwrap();
        for b in batches {
            writer.write(b).await.unwrap();
        }
        writer.finish().await.unwrap().file_size
    })
}

fn open_pilum(rt: &Runtime, path: &Path) -> FileReader {
    rt.block_on(FileReader::open_uri(path.to_str().unwrap())).unwrap()
}

fn random_rows(n: usize, total: usize, seed: u64) -> Vec<u64> {
    let mut x = seed | 1;
    let mut rows: Vec<u64> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % total as u64
        })
        .collect();
    rows.sort_unstable();
    rows.dedup();
    rows
}

fn benches(c: &mut Criterion) {
    let rt = rt();
    let dir = data_dir();
    let batches = table_batches();
    let rows = table_rows();
    let schema = table_schema();
    let pilum_path = dir.join("table.pilum");
    // Every Parquet flavor: uncompressed defaults, Snappy, zstd level 3, small pages.
    let flavors: Vec<(ParquetFlavor, &str, std::path::PathBuf)> = ParquetFlavor::ALL
        .iter()
        .map(|&(flavor, id)| {
            let file = format!("table-{}.parquet", id.trim_start_matches("parquet_"));
            (flavor, id, dir.join(file))
        })
        .collect();

    let mut group = c.benchmark_group("write");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("pilum", |b| {
        b.iter(|| write_pilum(&rt, &pilum_path, schema.clone(), &batches))
    });
    for (flavor, id, path) in &flavors {
        group.bench_function(*id, |b| {
            b.iter(|| write_parquet(path, schema.clone(), &batches, *flavor))
        });
    }
    group.finish();
    let mut sizes = vec![("pilum", write_pilum(&rt, &pilum_path, schema.clone(), &batches))];
    for (flavor, id, path) in &flavors {
        sizes.push((*id, write_parquet(path, schema.clone(), &batches, *flavor)));
    }
    let sizes_text: String = sizes.iter().map(|(n, s)| format!("{n} {s}\n")).collect();
    std::fs::write(dir.join("sizes.txt"), sizes_text).unwrap();
    drop(batches);

    let pilum = open_pilum(&rt, &pilum_path);
    let tables: Vec<(&str, ParquetTable)> = flavors
        .iter()
        .map(|(flavor, id, path)| (*id, ParquetTable::open(path, *flavor)))
        .collect();
    let scan_pilum = |columns: Option<Vec<&str>>| {
        pilum_benches::scan_pilum(&rt, &pilum, columns.map(|c| c.iter().map(|s| s.to_string()).collect()))
    };
    assert_eq!(scan_pilum(None), rows);
    for (id, table) in &tables {
        assert_eq!(table.scan(None), rows, "{id}");
    }

    for (name, pilum_cols, pq_cols) in [
        ("scan_full", None, None),
        (
            "scan_projected_id_category",
            Some(vec!["id", "category"]),
            Some(vec![0usize, 2]),
        ),
    ] {
        let mut group = c.benchmark_group(name);
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(10))
            .warm_up_time(Duration::from_secs(1));
        group.bench_function("pilum", |b| b.iter(|| scan_pilum(pilum_cols.clone())));
        for (id, table) in &tables {
            group.bench_function(*id, |b| b.iter(|| table.scan(pq_cols.as_deref())));
        }
        group.finish();
    }

    let mut group = c.benchmark_group("take");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_millis(500));
    for n in [1usize, 100, 1000] {
        let picks = random_rows(n, rows, 1234 + n as u64);
        group.bench_with_input(BenchmarkId::new("pilum", n), &picks, |b, picks| {
            b.iter(|| {
                rt.block_on(pilum.take(picks, &ReadOptions::default()))
                    .unwrap()
                    .num_rows()
            })
        });
        for (id, table) in &tables {
            assert_eq!(table.take(&picks), picks.len(), "{id} take {n}");
            group.bench_with_input(BenchmarkId::new(*id, n), &picks, |b, picks| {
                b.iter(|| table.take(picks))
            });
        }
    }
    group.finish();

    // Blobs: ~100 KB values; fetch 10 random ones.
    let blobs = blob_batches();
    let blob_pilum = dir.join("blobs.pilum");
    let blob_pq = dir.join("blobs-default.parquet");
    let blob_sizes = [
        ("blobs_pilum", write_pilum(&rt, &blob_pilum, blob_schema(), &blobs)),
        (
            "blobs_parquet_default",
            write_parquet(&blob_pq, blob_schema(), &blobs, ParquetFlavor::Default),
        ),
    ];
    let mut text = std::fs::read_to_string(dir.join("sizes.txt")).unwrap();
    text.extend(blob_sizes.iter().map(|(n, s)| format!("{n} {s}\n")));
    std::fs::write(dir.join("sizes.txt"), text).unwrap();
    drop(blobs);
    let blob_reader = open_pilum(&rt, &blob_pilum);
    let blob_table = ParquetTable::open(&blob_pq, ParquetFlavor::Default);
    let picks = random_rows(10, blob_rows(), 99);
    let mut group = c.benchmark_group("blob_take_10");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_millis(500));
    group.bench_function("pilum", |b| {
        let options = ReadOptions::default().with_blob_mode(BlobMode::Bytes);
        b.iter(|| rt.block_on(blob_reader.take(&picks, &options)).unwrap().num_rows())
    });
    group.bench_function("parquet_default", |b| b.iter(|| blob_table.take(&picks)));
    group.finish();
}

criterion_group!(file_format, benches);
criterion_main!(file_format);
