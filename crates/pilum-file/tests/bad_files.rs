//! Every file in `testdata/bad/` produces a specific typed error (never a
//! panic), and every file there has an expectation here (an inventory test
//! fails on a file without one).
//!
//! Regenerate the corpus: `cargo test -p pilum-file --test bad_files -- --ignored regenerate_bad_files`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, Int32Builder, ListBuilder};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, memory::InMemory, path::Path};
use pilum_file::{FileError, FileReader, FileWriter, ReadOptions, WriterOptions, proto};
use prost::Message;
use std::sync::Arc;

fn bad_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/bad")
}

/// What a bad file must produce, and when.
#[derive(Debug, Clone, Copy)]
enum Expect {
    NotPilum,
    UnsupportedVersion,
    UnsupportedFeatures,
    CorruptAtOpen,
    ChunkAtRead,
    CorruptAtRead,
}

const CASES: &[(&str, Expect)] = &[
    ("empty.pilum", Expect::NotPilum),
    ("truncated-footer.pilum", Expect::NotPilum),
    ("truncated-half.pilum", Expect::NotPilum),
    ("foreign-parquet.pilum", Expect::NotPilum),
    ("unknown-major-version.pilum", Expect::UnsupportedVersion),
    ("unknown-required-feature.pilum", Expect::UnsupportedFeatures),
    ("metadata-bit-flip.pilum", Expect::CorruptAtOpen),
    ("metadata-offset-wrong.pilum", Expect::CorruptAtOpen),
    ("metadata-garbage-valid-crc.pilum", Expect::CorruptAtOpen),
    ("schema-garbage.pilum", Expect::CorruptAtOpen),
    ("column-missing.pilum", Expect::CorruptAtOpen),
    ("page-outside-file.pilum", Expect::CorruptAtOpen),
    ("chunk-table-mismatch.pilum", Expect::CorruptAtOpen),
    ("chunk-bit-flip.pilum", Expect::ChunkAtRead),
    ("list-lengths-overflow.pilum", Expect::CorruptAtRead),
];

fn good_batch() -> RecordBatch {
    let n = 300;
    let mut vec = FixedSizeListBuilder::new(Float32Builder::new(), 64);
    let mut list = ListBuilder::new(Int32Builder::new());
    for i in 0..n {
        vec.values().append_slice(&[i as f32; 64]);
        vec.append(true);
        list.values().append_slice(&[i; 3]);
        list.append(true);
    }
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from_iter_values(0..n as i64)) as ArrayRef),
        (
            "text",
            Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("row {i}")))),
        ),
        ("vec", Arc::new(vec.finish())),
        ("list", Arc::new(list.finish())),
    ])
    .unwrap()
}

async fn good_file() -> Vec<u8> {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let batch = good_batch();
    let mut writer = FileWriter::try_new(store.clone(), Path::from("g"), batch.schema(), WriterOptions::default())
        .await
        .unwrap();
    writer.write(&batch).await.unwrap();
    writer.finish().await.unwrap();
    store
        .get(&Path::from("g"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// Splits a file into (data region, metadata, footer fields) and rebuilds it.
fn metadata_of(file: &[u8]) -> (usize, proto::FileMetadata) {
    let footer = &file[file.len() - 32..];
    let off = u64::from_le_bytes(footer[..8].try_into().unwrap()) as usize;
    let len = u64::from_le_bytes(footer[8..16].try_into().unwrap()) as usize;
    (off, proto::FileMetadata::decode(&file[off..off + len]).unwrap())
}

fn with_metadata(file: &[u8], metadata: &[u8]) -> Vec<u8> {
    let (off, _) = metadata_of(file);
    let mut out = file[..off].to_vec();
    out.extend_from_slice(metadata);
    let mut footer = file[file.len() - 32..].to_vec();
    footer[8..16].copy_from_slice(&(metadata.len() as u64).to_le_bytes());
    footer[16..20].copy_from_slice(&crc32fast::hash(metadata).to_le_bytes());
    out.extend_from_slice(&footer);
    out
}

fn edit_metadata(file: &[u8], edit: impl FnOnce(&mut proto::FileMetadata)) -> Vec<u8> {
    let (_, mut meta) = metadata_of(file);
    edit(&mut meta);
    with_metadata(file, &meta.encode_to_vec())
}

fn footer_edit(file: &[u8], at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut out = file.to_vec();
    let base = out.len() - 32 + at;
    out[base..base + bytes.len()].copy_from_slice(bytes);
    out
}

#[tokio::test]
#[ignore = "writes the bad-file corpus; run by hand"]
async fn regenerate_bad_files() {
    let good = good_file().await;
    let (meta_off, meta) = metadata_of(&good);
    let first_page = meta.columns[0].pages[0].offset as usize;
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("empty.pilum", Vec::new()),
        ("truncated-footer.pilum", good[..good.len() - 10].to_vec()),
        ("truncated-half.pilum", good[..good.len() / 2].to_vec()),
        (
            "foreign-parquet.pilum",
            b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00\x00\x00\x00\x00\x00\x00PAR1".repeat(4),
        ),
        (
            "unknown-major-version.pilum",
            footer_edit(&good, 24, &2u16.to_le_bytes()),
        ),
        (
            "unknown-required-feature.pilum",
            footer_edit(&good, 20, &(1u32 << 31).to_le_bytes()),
        ),
        (
            "metadata-offset-wrong.pilum",
            footer_edit(&good, 0, &((meta_off + 1) as u64).to_le_bytes()),
        ),
        ("metadata-garbage-valid-crc.pilum", with_metadata(&good, &[0xff; 64])),
        (
            "schema-garbage.pilum",
            edit_metadata(&good, |m| m.arrow_schema = vec![1, 2, 3, 4, 5, 6, 7, 8]),
        ),
        (
            "column-missing.pilum",
            edit_metadata(&good, |m| {
                m.columns.pop();
            }),
        ),
        (
            "page-outside-file.pilum",
            edit_metadata(&good, |m| m.columns[0].pages[0].offset = 1 << 40),
        ),
        (
            "chunk-table-mismatch.pilum",
            edit_metadata(&good, |m| m.columns[1].pages[0].chunk_sizes[0] += 1),
        ),
        (
            "list-lengths-overflow.pilum",
            edit_metadata(&good, |m| {
                let lengths = m.columns.len() - 2;
                m.columns[lengths].pages[0].chunk_child_starts[0] = u64::MAX / 2;
            }),
        ),
    ];
    let mut flipped = good.clone();
    flipped[meta_off + 5] ^= 0x10;
    files.push(("metadata-bit-flip.pilum", flipped));
    let mut chunk = good.clone();
    chunk[first_page + 3] ^= 0x01;
    files.push(("chunk-bit-flip.pilum", chunk));
    std::fs::create_dir_all(bad_dir()).unwrap();
    for (name, bytes) in files {
        std::fs::write(bad_dir().join(name), bytes).unwrap();
    }
}

async fn check(name: &str, expect: Expect) {
    let bytes = std::fs::read(bad_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    store
        .put(&Path::from(name), PutPayload::from(Bytes::from(bytes)))
        .await
        .unwrap();
    let opened = FileReader::open(store, Path::from(name)).await;
    let err = match (opened, expect) {
        (Ok(reader), Expect::ChunkAtRead | Expect::CorruptAtRead) => {
            match reader.read_range(0..reader.num_rows(), &ReadOptions::default()).await {
                Ok(_) => panic!("{name}: read succeeded"),
                Err(e) => e,
            }
        }
        (Ok(_), _) => panic!("{name}: opened without error"),
        (Err(e), _) => e,
    };
    let ok = match expect {
        Expect::NotPilum => matches!(err, FileError::NotPilum { .. }),
        Expect::UnsupportedVersion => matches!(err, FileError::UnsupportedVersion { major: 2, .. }),
        Expect::UnsupportedFeatures => matches!(err, FileError::UnsupportedFeatures { flags: 0x8000_0000, .. }),
        Expect::CorruptAtOpen | Expect::CorruptAtRead => matches!(err, FileError::Corrupt { .. }),
        Expect::ChunkAtRead => matches!(err, FileError::Chunk { column: 0, .. }),
    };
    assert!(ok, "{name}: expected {expect:?}, got {err:?}");
    assert!(
        err.to_string().contains(name) || matches!(err, FileError::Io(_)),
        "{name}: error must name the file: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_file_gives_its_typed_error() {
    for &(name, expect) in CASES {
        check(name, expect).await;
    }
}

#[test]
fn every_bad_file_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(bad_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "testdata/bad and CASES must list the same files");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_truncation_and_byte_flip_is_an_error_not_a_panic() {
    let good = good_file().await;
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let step = (good.len() / 300).max(1);
    for cut in (0..good.len()).step_by(step) {
        let path = Path::from(format!("cut{cut}"));
        store.put(&path, PutPayload::from(good[..cut].to_vec())).await.unwrap();
        assert!(
            FileReader::open(store.clone(), path).await.is_err(),
            "truncated at {cut} opened"
        );
    }
    let mut rng = common::Rng(3);
    for i in 0..300 {
        let mut bytes = good.clone();
        let at = rng.below(bytes.len() as u64) as usize;
        bytes[at] ^= 1 << (i % 8);
        let path = Path::from(format!("flip{i}"));
        store.put(&path, PutPayload::from(bytes)).await.unwrap();
        if let Ok(reader) = FileReader::open(store.clone(), path).await {
            // Flips in padding may be harmless; any other outcome must be a typed error.
            let _ = reader.read_range(0..reader.num_rows(), &ReadOptions::default()).await;
        }
    }
}
