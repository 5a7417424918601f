//! The Pilum demo: writes a multimodal file on local disk (captions, two
//! embedding columns, image-like blobs), then reads it back the ways a
//! training or serving job does, counting the read requests each step costs.
//!
//! Then it does the same for a versioned dataset (see `dataset.rs`): write,
//! append, add an embedding column without rewriting, delete, time-travel.
//!
//! Run: `cargo run --release -p pilum --example demo [-- <output dir>]`

mod dataset;

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder};
use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, Int64Array, LargeBinaryArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use object_store::{ObjectStore, local::LocalFileSystem, path::Path};
use pilum::{BLOB_META_KEY, BlobMode, CountingStore, ReadOptions, ScanOptions, WriterOptions};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Instant;

const ROWS: usize = 20_000;
const BATCH: usize = 2_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn schema() -> Arc<Schema> {
    let vector = |dim| DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), dim);
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("caption", DataType::Utf8, true),
        Field::new("clip_embedding", vector(512), true),
        Field::new("text_embedding", vector(384), true),
        Field::new("image", DataType::LargeBinary, true)
            .with_metadata(HashMap::from([(BLOB_META_KEY.to_string(), "true".to_string())])),
    ]))
}

fn batch(start: usize, rng: &mut Rng) -> Result<RecordBatch, arrow_schema::ArrowError> {
    const WORDS: [&str; 12] = [
        "a", "dog", "cat", "on", "the", "beach", "running", "red", "car", "city", "at", "night",
    ];
    let ids = Int64Array::from_iter_values((start..start + BATCH).map(|i| i as i64));
    let captions = StringArray::from_iter_values((0..BATCH).map(|_| {
        (0..8)
            .map(|_| WORDS[(rng.next() % 12) as usize])
            .collect::<Vec<_>>()
            .join(" ")
    }));
    let mut embeddings = Vec::new();
    for dim in [512, 384] {
        let mut b = FixedSizeListBuilder::new(Float32Builder::new(), dim);
        for _ in 0..BATCH {
            for _ in 0..dim {
                b.values().append_value((rng.next() % 20_000) as f32 / 10_000.0 - 1.0);
            }
            b.append(true);
        }
        embeddings.push(Arc::new(b.finish()) as ArrayRef);
    }
    // Image-like blobs of 20-120 KB: a fake header and noisy pixels.
    let images = LargeBinaryArray::from_iter_values((0..BATCH).map(|_| {
        let size = 20_000 + (rng.next() % 100_000) as usize;
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.extend((0..size).map(|_| rng.next() as u8));
        bytes
    }));
    let [clip, text] = [embeddings[0].clone(), embeddings[1].clone()];
    RecordBatch::try_new(
        schema(),
        vec![Arc::new(ids), Arc::new(captions), clip, text, Arc::new(images)],
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "demo-data".into());
    std::fs::create_dir_all(&dir)?;
    let file = std::path::absolute(std::path::Path::new(&dir).join("multimodal.pilum"))?;
    let counting = Arc::new(CountingStore::new(Arc::new(LocalFileSystem::new())));
    let store: Arc<dyn ObjectStore> = counting.clone();
    let path = Path::from_absolute_path(&file)?;

    println!(
        "== Pilum demo: {} rows of id, caption, clip_embedding[512], text_embedding[384], image blob",
        ROWS
    );
    let started = Instant::now();
    let mut writer =
        pilum::blocking::FileWriter::try_new(store.clone(), path.clone(), schema(), WriterOptions::default())?;
    let mut rng = Rng(0x5eed);
    for start in (0..ROWS).step_by(BATCH) {
        writer.write(&batch(start, &mut rng)?)?;
    }
    let summary = writer.finish()?;
    println!(
        "wrote {} ({} rows, {:.1} MiB) in {:.2?}",
        file.display(),
        summary.num_rows,
        summary.file_size as f64 / (1 << 20) as f64,
        started.elapsed()
    );

    counting.reset();
    let reader = pilum::blocking::FileReader::open_in(store.clone(), path.clone())?;
    println!(
        "opened: {} columns, {} rows, {} requests (HEAD + footer)",
        reader.schema().fields().len(),
        reader.num_rows(),
        counting.counts().reads
    );

    let mut rng = Rng(42);
    let rows: Vec<u64> = (0..8).map(|_| rng.next() % ROWS as u64).collect();
    counting.reset();
    let started = Instant::now();
    let hits = reader.take(
        &rows,
        &ReadOptions::default().with_columns(["id", "caption", "clip_embedding"]),
    )?;
    println!(
        "take {} random rows x 3 columns: {} requests, {} KiB read, {:.2?}",
        rows.len(),
        counting.counts().reads,
        counting.counts().bytes_read / 1024,
        started.elapsed()
    );
    let ids = hits.column(0).as_primitive::<arrow_array::types::Int64Type>();
    let captions = hits.column(1).as_string::<i32>();
    for i in 0..3 {
        println!("  row {:>5}: {:?}", ids.value(i), captions.value(i));
    }

    let blob_row = rows[0];
    counting.reset();
    let mut image = reader.open_blob("image", blob_row)?.ok_or("image is null")?;
    let mut header = [0u8; 8];
    image.read_exact(&mut header)?;
    image.seek(SeekFrom::End(-1024))?;
    let mut tail = Vec::new();
    image.read_to_end(&mut tail)?;
    println!(
        "blob of row {blob_row}: {} bytes; read 8-byte header {:?} and last {} bytes with {} requests ({} KiB), not the whole blob",
        image.size(),
        &header[1..4].iter().map(|&b| b as char).collect::<String>(),
        tail.len(),
        counting.counts().reads,
        counting.counts().bytes_read / 1024
    );

    counting.reset();
    let started = Instant::now();
    let options = ScanOptions {
        read: ReadOptions::default().with_columns(["id", "caption"]),
        ..Default::default()
    };
    let mut scanned = 0;
    let mut dogs = 0;
    for batch in reader.scan(options)? {
        let batch = batch?;
        scanned += batch.num_rows();
        dogs += batch
            .column(1)
            .as_string::<i32>()
            .iter()
            .flatten()
            .filter(|c| c.contains("dog"))
            .count();
    }
    println!(
        "projected scan of id, caption: {scanned} rows, {dogs} captions mention a dog, {} KiB read of {} KiB on disk, {:.2?}",
        counting.counts().bytes_read / 1024,
        summary.file_size / 1024,
        started.elapsed()
    );
    let descriptions = reader.take(&[blob_row], &ReadOptions::default().with_columns(["image"]))?;
    println!(
        "image column scanned as descriptions (no blob bytes read): {:?}",
        descriptions.column(0).data_type()
    );
    let bytes = reader.take(
        &[blob_row],
        &ReadOptions::default()
            .with_columns(["image"])
            .with_blob_mode(BlobMode::Bytes),
    )?;
    println!(
        "...or as bytes on request: {} bytes",
        bytes.column(0).as_binary::<i64>().value(0).len()
    );
    dataset::run(std::path::Path::new(&dir))
}
