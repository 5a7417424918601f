//! Every supported type round trips exactly through write, full read, take and scan.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch, UInt64Array};
use arrow_select::concat::concat_batches;
use common::{Rng, all_types_batch};
use futures::TryStreamExt;
use object_store::{ObjectStore, memory::InMemory, path::Path};
use pilum_file::{BlobMode, FileReader, FileWriter, PlanOptions, ReadOptions, ScanOptions, WriterOptions};
use std::io::SeekFrom;
use std::sync::Arc;

async fn write(store: Arc<dyn ObjectStore>, path: &str, batch: &RecordBatch, options: WriterOptions) -> FileReader {
    let mut writer = FileWriter::try_new(store.clone(), Path::from(path), batch.schema(), options)
        .await
        .unwrap();
    // Uneven, sliced batches exercise array offsets.
    let mut at = 0;
    for len in [1usize, 999, 17, 3000].iter().cycle() {
        if at >= batch.num_rows() {
            break;
        }
        let len = (*len).min(batch.num_rows() - at);
        writer.write(&batch.slice(at, len)).await.unwrap();
        at += len;
    }
    let summary = writer.finish().await.unwrap();
    assert_eq!(summary.num_rows, batch.num_rows() as u64);
    let reader = FileReader::open(store, Path::from(path)).await.unwrap();
    assert_eq!(reader.file_size(), summary.file_size);
    reader
}

fn bytes_mode() -> ReadOptions {
    ReadOptions::default().with_blob_mode(BlobMode::Bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_round_trips() {
    let batch = all_types_batch(10_000, 42);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    for (name, options) in [
        (
            "small-pages.pilum",
            WriterOptions {
                page_bytes: 32 * 1024,
                ..Default::default()
            },
        ),
        ("defaults.pilum", WriterOptions::default()),
        (
            // The pre-1.3 policy: vectors narrower than 256 bytes in chunked pages.
            "chunked-vectors.pilum",
            WriterOptions {
                flat_vectors: false,
                ..Default::default()
            },
        ),
        (
            "no-compression.pilum",
            WriterOptions {
                plan: PlanOptions {
                    zstd_level: None,
                    allow_dictionary: false,
                    ..Default::default()
                },
                ..Default::default()
            },
        ),
    ] {
        let reader = write(store.clone(), name, &batch, options).await;
        assert_eq!(reader.schema().as_ref(), batch.schema().as_ref(), "{name}: schema");
        let all = reader
            .read_range(0..batch.num_rows() as u64, &bytes_mode())
            .await
            .unwrap();
        common::assert_batches_eq(&all, &batch, &format!("{name}: full read"));

        let mut rng = Rng(7);
        let indices: Vec<u64> = (0..500).map(|_| rng.below(batch.num_rows() as u64)).collect();
        let taken = reader.take(&indices, &bytes_mode()).await.unwrap();
        let expected = arrow_select::take::take_record_batch(&batch, &UInt64Array::from(indices.clone())).unwrap();
        common::assert_batches_eq(&taken, &expected, &format!("{name}: take"));
        // Sorted, distinct rows: the parts of a parallel take come back in order.
        let mut sorted = indices.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let taken = reader.take(&sorted, &bytes_mode()).await.unwrap();
        let expected = arrow_select::take::take_record_batch(&batch, &UInt64Array::from(sorted)).unwrap();
        common::assert_batches_eq(&taken, &expected, &format!("{name}: sorted take"));
        // Sparse rows, unsorted: taken in parallel parts and put back in order.
        let sparse: Vec<u64> = (0..120u64).rev().map(|i| i * 83 + i % 5).collect();
        let taken = reader.take(&sparse, &bytes_mode()).await.unwrap();
        let expected = arrow_select::take::take_record_batch(&batch, &UInt64Array::from(sparse)).unwrap();
        common::assert_batches_eq(&taken, &expected, &format!("{name}: sparse take"));

        let options = ScanOptions {
            batch_size: 1234,
            read: bytes_mode(),
            ..Default::default()
        };
        let batches: Vec<RecordBatch> = reader.scan(options).unwrap().try_collect().await.unwrap();
        assert_eq!(batches.len(), batch.num_rows().div_ceil(1234));
        common::assert_batches_eq(
            &concat_batches(&batch.schema(), &batches).unwrap(),
            &batch,
            &format!("{name}: scan"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_ranges_and_blob_streams() {
    let batch = all_types_batch(3000, 9);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let reader = write(store, "p.pilum", &batch, WriterOptions::default()).await;

    let projected = reader
        .read_range(
            100..250,
            &ReadOptions::default().with_columns(["utf8", "i32", "nested"]),
        )
        .await
        .unwrap();
    let expected = batch
        .project(&[
            batch.schema().index_of("utf8").unwrap(),
            2,
            batch.schema().index_of("nested").unwrap(),
        ])
        .unwrap()
        .slice(100, 150);
    assert_eq!(projected, expected);

    let scan = ScanOptions {
        rows: Some(10..20),
        read: ReadOptions::default().with_columns(Vec::<String>::new()),
        ..Default::default()
    };
    let counted: Vec<RecordBatch> = reader.scan(scan).unwrap().try_collect().await.unwrap();
    assert_eq!(counted.iter().map(|b| b.num_rows()).sum::<usize>(), 10);

    // Descriptions are returned without reading blob bytes.
    let desc = reader
        .take(&[5, 0, 1], &ReadOptions::default().with_columns(["blob"]))
        .await
        .unwrap();
    let s = desc.column(0).as_struct();
    assert!(s.is_null(1), "row 0 is a null blob");
    let sizes = s.column(1).as_primitive::<arrow_array::types::UInt64Type>();
    assert_eq!(sizes.value(0), (5 * 97) as u64);
    assert_eq!(sizes.value(2), 0, "row 1 is an empty blob");

    let blobs = batch.column_by_name("blob").unwrap().as_binary::<i64>();
    let mut file = reader.open_blob("blob", 123).await.unwrap().unwrap();
    let expected = blobs.value(123);
    assert_eq!(file.size(), expected.len() as u64);
    assert_eq!(file.read(10).await.unwrap().as_ref(), &expected[..10]);
    assert_eq!(file.tell(), 10);
    file.seek(SeekFrom::End(-5)).unwrap();
    assert_eq!(
        file.read_to_end().await.unwrap().as_ref(),
        &expected[expected.len() - 5..]
    );
    assert!(file.read(10).await.unwrap().is_empty());
    file.seek(SeekFrom::Start(1000)).unwrap();
    assert_eq!(
        file.read_range(1000..1010).await.unwrap().as_ref(),
        &expected[1000..1010]
    );
    assert!(reader.open_blob("blob", 10).await.unwrap().is_none());
    assert!(matches!(
        reader.open_blob("utf8", 1).await,
        Err(pilum_file::FileError::NotABlobColumn { .. })
    ));
    assert!(matches!(
        reader.open_blob("nope", 1).await,
        Err(pilum_file::FileError::ColumnNotFound { .. })
    ));
    assert!(matches!(
        reader.take(&[3000], &ReadOptions::default()).await,
        Err(pilum_file::FileError::RowOutOfBounds { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_file_and_schema_mismatch() {
    let batch = all_types_batch(10, 1);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let writer = FileWriter::try_new(
        store.clone(),
        Path::from("e.pilum"),
        batch.schema(),
        WriterOptions::default(),
    )
    .await
    .unwrap();
    writer.finish().await.unwrap();
    let reader = FileReader::open(store.clone(), Path::from("e.pilum")).await.unwrap();
    assert_eq!(reader.num_rows(), 0);
    let batches: Vec<RecordBatch> = reader
        .scan(ScanOptions::default())
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(batches.is_empty());

    let mut writer = FileWriter::try_new(store, Path::from("m.pilum"), batch.schema(), WriterOptions::default())
        .await
        .unwrap();
    let other = batch.project(&[1, 0]).unwrap();
    assert!(matches!(
        writer.write(&other).await,
        Err(pilum_file::FileError::SchemaMismatch { .. })
    ));
}

/// One batch far larger than a page is taken in slices: the column is cut
/// into pages of about `page_bytes` (at most a quarter more), not written
/// as one page per batch, and still reads back exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_is_paged_at_page_bytes() {
    let rows = 200_000u64;
    let values = UInt64Array::from_iter_values((0..rows).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    let batch = RecordBatch::try_from_iter([("v", Arc::new(values) as Arc<dyn Array>)]).unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let page_bytes = 64 * 1024;
    let options = WriterOptions {
        page_bytes,
        plan: PlanOptions {
            zstd_level: None,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut writer = FileWriter::try_new(store.clone(), Path::from("big-batch.pilum"), batch.schema(), options)
        .await
        .unwrap();
    writer.write(&batch).await.unwrap();
    writer.finish().await.unwrap();
    let reader = FileReader::open(store, Path::from("big-batch.pilum")).await.unwrap();
    let (num_values, pages) = reader.column_stats()[0];
    assert_eq!(num_values, rows);
    let raw = rows as usize * 8;
    let fewest = raw.div_ceil(page_bytes + page_bytes / 4);
    let most = raw.div_ceil(page_bytes);
    assert!(
        (fewest..=most).contains(&pages),
        "{pages} pages, expected {fewest}..={most}"
    );
    let all = reader.read_range(0..rows, &bytes_mode()).await.unwrap();
    common::assert_batches_eq(&all, &batch, "large batch");
}

/// String and binary columns read as views hold the same values as the
/// plain read, for dictionary, plain and zstd chunks, nulls, long values,
/// several pages, ranges and takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_views_match_plain_reads() {
    use arrow_array::{BinaryArray, LargeStringArray, StringArray};
    use arrow_schema::DataType;
    let rows = 30_000usize;
    let mut rng = Rng(7);
    // Low cardinality (dictionary chunks), unique long text (plain or zstd
    // chunks), both with nulls, and a binary column.
    let flags: StringArray = (0..rows)
        .map(|i| (i % 11 != 0).then(|| ["A", "N", "R", "a flag longer than twelve"][i % 4]))
        .collect();
    let text: LargeStringArray = (0..rows)
        .map(|i| (i % 7 != 3).then(|| format!("row {i} — ünïcode {} padding to pass twelve bytes", rng.next() % 1000)))
        .collect();
    let raw: BinaryArray = (0..rows).map(|i| Some(vec![(i % 251) as u8; i % 20])).collect();
    let batch = RecordBatch::try_from_iter([
        ("flag", Arc::new(flags) as Arc<dyn Array>),
        ("text", Arc::new(text) as Arc<dyn Array>),
        ("raw", Arc::new(raw) as Arc<dyn Array>),
    ])
    .unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let options = WriterOptions {
        page_bytes: 256 * 1024,
        ..Default::default()
    };
    let reader = write(store, "views.pilum", &batch, options).await;
    assert!(
        reader.column_stats().iter().any(|(_, pages)| *pages > 1),
        "several pages"
    );
    let views = ReadOptions::default().with_string_views(true);
    let check = |plain: &RecordBatch, viewed: &RecordBatch, what: &str| {
        let types: Vec<DataType> = viewed.schema().fields().iter().map(|f| f.data_type().clone()).collect();
        assert_eq!(
            types,
            [DataType::Utf8View, DataType::Utf8View, DataType::BinaryView],
            "{what}"
        );
        for (i, field) in plain.schema().fields().iter().enumerate() {
            let back = arrow_cast::cast(viewed.column(i), field.data_type()).unwrap();
            assert_eq!(&back, plain.column(i), "{what}: column {}", field.name());
        }
    };
    for rows in [0..30_000u64, 5..6, 12_345..29_999] {
        let plain = reader.read_range(rows.clone(), &ReadOptions::default()).await.unwrap();
        let viewed = reader.read_range(rows.clone(), &views).await.unwrap();
        check(&plain, &viewed, &format!("rows {rows:?}"));
    }
    let picks: Vec<u64> = (0..200).map(|_| rng.next() % rows as u64).collect();
    let plain = reader.take(&picks, &ReadOptions::default()).await.unwrap();
    let viewed = reader.take(&picks, &views).await.unwrap();
    check(&plain, &viewed, "take");
    let projected = reader
        .read_range(0..100, &views.clone().with_columns(["raw"]))
        .await
        .unwrap();
    assert_eq!(projected.schema().field(0).data_type(), &DataType::BinaryView);
}

/// A local file of several upload parts, written one part at a time, reads back whole.
#[tokio::test]
async fn files_of_many_parts_written_one_part_at_a_time_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    // 3M scrambled u64 values: about 24 MB, three 8 MiB upload parts.
    let rows = 3_000_000u64;
    let values = UInt64Array::from_iter_values((0..rows).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    let batch = RecordBatch::try_from_iter([("v", Arc::new(values) as Arc<dyn Array>)]).unwrap();
    let options = WriterOptions {
        uploads_in_flight: Some(1),
        ..Default::default()
    };
    let mut writer = FileWriter::try_new(store.clone(), Path::from("parts.pilum"), batch.schema(), options)
        .await
        .unwrap();
    writer.write(&batch).await.unwrap();
    let summary = writer.finish().await.unwrap();
    assert!(
        summary.file_size > 16 << 20,
        "{} bytes: more than two parts",
        summary.file_size
    );
    let reader = FileReader::open(store, Path::from("parts.pilum")).await.unwrap();
    let back = reader.read_range(0..rows, &ReadOptions::default()).await.unwrap();
    assert_eq!(back, batch);
}
