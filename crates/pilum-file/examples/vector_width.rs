//! Narrow vectors stored flat (format 1.3) against the chunked pages of
//! earlier writers, on local files: size, write, full scan, and take of
//! 1 and 100 random rows (time, requests and bytes read). Prints Markdown.
//!
//! Run: `cargo run --release -p pilum-file --example vector_width -- 200000 30`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, UInt8Array};
use arrow_schema::{DataType, Field};
use futures::TryStreamExt;
use object_store::{ObjectStore, local::LocalFileSystem, path::Path};
use pilum_file::{FileReader, FileWriter, ReadOptions, ScanOptions, WriterOptions};
use pilum_io::CountingStore;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn vectors(rows: usize, dim: usize, item: &DataType, rng: &mut StdRng) -> RecordBatch {
    let values: ArrayRef = match item {
        DataType::UInt8 => Arc::new(UInt8Array::from_iter_values(
            (0..rows * dim).map(|_| rng.next_u64() as u8),
        )),
        _ => Arc::new(Float32Array::from_iter_values(
            (0..rows * dim).map(|_| (rng.next_u64() >> 40) as f32 / 16_777_216.0 - 0.5),
        )),
    };
    let field = Arc::new(Field::new("item", item.clone(), false));
    let array = FixedSizeListArray::new(field, dim as i32, values, None);
    RecordBatch::try_from_iter([("v", Arc::new(array) as ArrayRef)]).unwrap()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let repeats: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let local: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let store = Arc::new(CountingStore::new(local));
    println!(
        "| column | pages | size MiB | write ms | scan ms | take 1 ms | take 100 ms | take 100 requests | take 100 KiB read |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (label, dim, item) in [
        ("32-d f32", 32, DataType::Float32),
        ("128-d u8", 128, DataType::UInt8),
        ("32-d u8 (256-bit code)", 32, DataType::UInt8),
    ] {
        let batch = vectors(rows, dim, &item, &mut StdRng::seed_from_u64(7));
        for flat_vectors in [true, false] {
            let path = Path::from(format!("{dim}-{item}-{flat_vectors}.pilum"));
            let options = WriterOptions {
                flat_vectors,
                ..Default::default()
            };
            let started = Instant::now();
            let mut writer = FileWriter::try_new(
                store.clone() as Arc<dyn ObjectStore>,
                path.clone(),
                batch.schema(),
                options,
            )
            .await
            .unwrap();
            for start in (0..rows).step_by(8192) {
                writer.write(&batch.slice(start, 8192.min(rows - start))).await.unwrap();
            }
            let size = writer.finish().await.unwrap().file_size;
            let write = started.elapsed();
            let reader = FileReader::open(store.clone() as Arc<dyn ObjectStore>, path)
                .await
                .unwrap();
            let mut scans = Vec::with_capacity(repeats);
            for _ in 0..repeats {
                let started = Instant::now();
                let got: Vec<RecordBatch> = reader
                    .scan(ScanOptions::default())
                    .unwrap()
                    .try_collect()
                    .await
                    .unwrap();
                assert_eq!(got.iter().map(RecordBatch::num_rows).sum::<usize>(), rows);
                scans.push(started.elapsed());
            }
            let mut rng = StdRng::seed_from_u64(11);
            let (mut one, mut hundred) = (Vec::new(), Vec::new());
            let mut counts = None;
            for _ in 0..repeats {
                let row = rng.next_u64() % rows as u64;
                let started = Instant::now();
                let got = reader.take(&[row], &ReadOptions::default()).await.unwrap();
                one.push(started.elapsed());
                assert_eq!(got.column(0).as_ref(), batch.column(0).slice(row as usize, 1).as_ref());
                let mut indices: Vec<u64> = (0..100).map(|_| rng.next_u64() % rows as u64).collect();
                indices.sort_unstable();
                store.reset();
                let started = Instant::now();
                reader.take(&indices, &ReadOptions::default()).await.unwrap();
                hundred.push(started.elapsed());
                counts = Some(store.counts());
            }
            let counts = counts.unwrap();
            println!(
                "| {label} | {} | {:.2} | {} | {} | {} | {} | {} | {:.1} |",
                if flat_vectors { "flat (1.3)" } else { "chunked (1.2)" },
                size as f64 / 1048576.0,
                ms(write),
                ms(median(scans)),
                ms(median(one)),
                ms(median(hundred)),
                counts.reads,
                counts.bytes_read as f64 / 1024.0
            );
        }
    }
}
