//! Random access costs at most one read request per row for fixed- and
//! variable-width columns (two for lists) once the metadata is loaded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, Int32Builder, ListBuilder};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, LargeBinaryArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field};
use common::Rng;
use object_store::{ObjectStore, memory::InMemory, path::Path};
use pilum_file::{BlobMode, FileReader, FileWriter, ReadOptions, WriterOptions};
use pilum_io::CountingStore;
use std::collections::HashMap;
use std::sync::Arc;

const ROWS: usize = 60_000;

fn table() -> RecordBatch {
    let mut rng = Rng(99);
    let id = Int64Array::from_iter_values(0..ROWS as i64);
    let score = Float64Array::from_iter_values((0..ROWS).map(|_| rng.next() as f64));
    let text = StringArray::from_iter_values(
        (0..ROWS).map(|_| (0..12).map(|_| format!("{:016x}", rng.next())).collect::<String>()),
    );
    let mut vec = FixedSizeListBuilder::new(Float32Builder::new(), 128);
    let mut list = ListBuilder::new(Int32Builder::new());
    for i in 0..ROWS {
        for d in 0..128 {
            vec.values().append_value((rng.next() % 1000) as f32 + d as f32);
        }
        vec.append(true);
        for k in 0..(i % 6) {
            list.values().append_value(k as i32);
        }
        list.append(true);
    }
    let (vec, list) = (vec.finish(), list.finish());
    let blob = LargeBinaryArray::from_iter_values((0..ROWS).map(|i| vec![(i % 251) as u8; 64 + i % 512]));
    let blob_field = Field::new("blob", DataType::LargeBinary, true)
        .with_metadata(HashMap::from([("pilum:blob".into(), "true".into())]));
    let columns: Vec<(Field, ArrayRef)> = vec![
        (Field::new("id", DataType::Int64, false), Arc::new(id)),
        (Field::new("score", DataType::Float64, false), Arc::new(score)),
        (Field::new("text", DataType::Utf8, false), Arc::new(text)),
        (Field::new("vec", vec.data_type().clone(), true), Arc::new(vec)),
        (Field::new("list", list.data_type().clone(), true), Arc::new(list)),
        (blob_field, Arc::new(blob)),
    ];
    let (fields, arrays): (Vec<_>, Vec<_>) = columns.into_iter().unzip();
    RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), arrays).unwrap()
}

async fn setup() -> (Arc<CountingStore>, FileReader, RecordBatch) {
    let store = Arc::new(CountingStore::new(Arc::new(InMemory::new())));
    let batch = table();
    let path = Path::from("io.pilum");
    let mut writer = FileWriter::try_new(store.clone(), path.clone(), batch.schema(), WriterOptions::default())
        .await
        .unwrap();
    for start in (0..ROWS).step_by(7_000) {
        writer
            .write(&batch.slice(start, 7_000.min(ROWS - start)))
            .await
            .unwrap();
    }
    let summary = writer.finish().await.unwrap();
    store.reset();
    let reader = FileReader::open_with_size(store.clone() as Arc<dyn ObjectStore>, path, summary.file_size)
        .await
        .unwrap();
    assert_eq!(store.counts().reads, 1, "opening with a known size is one request");
    store.reset();
    (store, reader, batch)
}

fn spread_rows(n: usize) -> Vec<u64> {
    // Rows far apart so no two share a chunk or a coalesced request.
    (0..n as u64).map(|i| i * (ROWS as u64 / n as u64) + 3).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_per_row_per_column() {
    let (store, reader, batch) = setup().await;
    let rows = spread_rows(100);
    for (column, per_row) in [("id", 1), ("score", 1), ("text", 1), ("vec", 1), ("list", 2)] {
        store.reset();
        let got = reader
            .take(&rows, &ReadOptions::default().with_columns([column]))
            .await
            .unwrap();
        let reads = store.counts().reads;
        assert!(
            reads <= per_row * rows.len() as u64,
            "{column}: {reads} requests for {} rows",
            rows.len()
        );
        if matches!(column, "text" | "vec") {
            // Rows are tens of KiB apart in these columns: every row needs its own request.
            assert_eq!(
                reads,
                rows.len() as u64,
                "{column}: distant rows should not share requests"
            );
        }
        let want = batch.column_by_name(column).unwrap();
        let idx = arrow_array::UInt64Array::from(rows.clone());
        assert_eq!(
            got.column(0).as_ref(),
            arrow_select::take::take(want.as_ref(), &idx, None).unwrap().as_ref()
        );
    }
    // Blob bytes: one request for the description, one for the bytes.
    store.reset();
    reader
        .take(
            &rows,
            &ReadOptions::default()
                .with_columns(["blob"])
                .with_blob_mode(BlobMode::Bytes),
        )
        .await
        .unwrap();
    assert!(store.counts().reads <= 2 * rows.len() as u64);
    // A whole multi-column row: at most one request per column (two for the list).
    store.reset();
    reader.take(&rows[..1], &ReadOptions::default()).await.unwrap();
    assert!(
        store.counts().reads <= 7,
        "one full row took {} requests",
        store.counts().reads
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nearby_rows_share_requests_and_vectors_read_exact_bytes() {
    let (store, reader, _) = setup().await;
    let rows: Vec<u64> = (1000..1100).collect();
    reader
        .take(&rows, &ReadOptions::default().with_columns(["id"]))
        .await
        .unwrap();
    assert!(
        store.counts().reads <= 2,
        "100 adjacent ids took {} requests",
        store.counts().reads
    );
    store.reset();
    let mut rng = Rng(5);
    let one = [rng.below(ROWS as u64)];
    reader
        .take(&one, &ReadOptions::default().with_columns(["vec"]))
        .await
        .unwrap();
    let counts = store.counts();
    assert_eq!(counts.reads, 1);
    assert_eq!(
        counts.bytes_read, 512,
        "a flat vector read fetches exactly its 512 bytes"
    );
}

/// A file of one narrow vector column written with `flat_vectors`.
async fn narrow_vectors(
    dim: usize,
    item: DataType,
    flat_vectors: bool,
) -> (Arc<CountingStore>, FileReader, RecordBatch) {
    let mut rng = Rng(5);
    let rows = 20_000;
    let values: ArrayRef = match item {
        DataType::UInt8 => Arc::new(arrow_array::UInt8Array::from_iter_values(
            (0..rows * dim).map(|_| rng.next() as u8),
        )),
        _ => Arc::new(arrow_array::Float32Array::from_iter_values(
            (0..rows * dim).map(|_| (rng.next() % 10_000) as f32 / 7.0),
        )),
    };
    let field = Arc::new(Field::new("item", item, false));
    let vectors = arrow_array::FixedSizeListArray::new(field, dim as i32, values, None);
    let batch = RecordBatch::try_from_iter([("v", Arc::new(vectors) as ArrayRef)]).unwrap();
    let store = Arc::new(CountingStore::new(Arc::new(InMemory::new())));
    let path = Path::from("narrow.pilum");
    let options = WriterOptions {
        flat_vectors,
        ..Default::default()
    };
    let mut writer = FileWriter::try_new(store.clone(), path.clone(), batch.schema(), options)
        .await
        .unwrap();
    writer.write(&batch).await.unwrap();
    let summary = writer.finish().await.unwrap();
    let reader = FileReader::open_with_size(store.clone() as Arc<dyn ObjectStore>, path, summary.file_size)
        .await
        .unwrap();
    store.reset();
    (store, reader, batch)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrow_vectors_read_exactly_their_bytes() {
    // 32-d f32 (128 bytes) and 128-d u8 (128 bytes): narrower than FLAT_MIN_WIDTH.
    for (dim, item) in [(32, DataType::Float32), (128, DataType::UInt8)] {
        let width = dim as u64 * if item == DataType::UInt8 { 1 } else { 4 };
        let rows = spread_rows(50).into_iter().map(|r| r / 3).collect::<Vec<_>>();
        let idx = arrow_array::UInt64Array::from(rows.clone());
        let (store, reader, batch) = narrow_vectors(dim, item.clone(), true).await;
        let got = reader.take(&rows, &ReadOptions::default()).await.unwrap();
        assert_eq!(
            got.column(0).as_ref(),
            arrow_select::take::take(batch.column(0).as_ref(), &idx, None)
                .unwrap()
                .as_ref()
        );
        let flat = store.counts();
        assert_eq!(flat.reads, rows.len() as u64, "{dim}-d {item}: one request per row");
        assert_eq!(
            flat.bytes_read,
            width * rows.len() as u64,
            "{dim}-d {item}: exactly the vectors"
        );

        // The pre-1.3 policy keeps them chunked: a row costs a whole chunk.
        let (store, reader, _) = narrow_vectors(dim, item.clone(), false).await;
        reader.take(&rows, &ReadOptions::default()).await.unwrap();
        let chunked = store.counts();
        assert!(
            chunked.bytes_read >= 8 * flat.bytes_read,
            "{dim}-d {item}: chunked reads {} bytes, flat {}",
            chunked.bytes_read,
            flat.bytes_read
        );
    }
}
