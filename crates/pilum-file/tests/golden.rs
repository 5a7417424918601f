//! Golden files: fixtures written by this generator are read back, and the
//! current writer must still produce the same data bytes, so a change to the
//! bytes on disk cannot slip in unnoticed.
//!
//! Regenerate (only with a `Format` entry in CHANGELOG.md, and never
//! overwriting a released version's fixtures):
//! `cargo test -p pilum-file --test golden -- --ignored regenerate_golden_files`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, memory::InMemory, path::Path};
use pilum_file::{BlobMode, FileReader, FileWriter, ReadOptions, WriterOptions};
use std::sync::Arc;

/// The fixtures the current writer must reproduce byte for byte: every type
/// in small pages, and text pages (see [`TEXT_FIXTURES`]).
/// `-wN` in older names: the Nth writer policy of format 1.1 (w2: smaller
/// zstd chunks of variable-width values; w3: batches shredded in
/// quarter-page slices); the bytes differ, the format does not.
const GOLDEN: &str = "v1.3-all-types.pilum";
/// Text fixtures: a page with a zstd dictionary (written with symbol tables
/// off, as the writer did before it had them) and a page with a symbol table
/// (the default policy), each with the feature bit it requires.
const TEXT_FIXTURES: [(&str, bool, u32); 2] = [
    ("v1.3-zstd-dictionary.pilum", false, pilum_file::FEATURE_ZSTD_DICTIONARY),
    ("v1.3-symbol-table.pilum", true, pilum_file::FEATURE_SYMBOL_TABLE),
];
/// Released text fixtures of earlier minor versions, with their footer's
/// (minor version, required features); they must keep reading back.
const RELEASED_TEXT: [(&str, u16, u32); 2] = [
    ("v1.2-zstd-dictionary.pilum", 2, pilum_file::FEATURE_ZSTD_DICTIONARY),
    ("v1.2-symbol-table.pilum", 2, pilum_file::FEATURE_SYMBOL_TABLE),
];
/// Rows of the text fixture.
const TEXT_ROWS: usize = 800;
/// Every released all-types fixture with its footer's (minor version,
/// required features); all must keep reading back.
const RELEASED: [(&str, u16, u32); 6] = [
    ("v1.0-all-types.pilum", 0, 0),
    ("v1.1-all-types.pilum", 1, pilum_file::FEATURE_WIDE_FOR),
    ("v1.1-w2-all-types.pilum", 1, pilum_file::FEATURE_WIDE_FOR),
    ("v1.1-w3-all-types.pilum", 1, pilum_file::FEATURE_WIDE_FOR),
    ("v1.2-all-types.pilum", 2, pilum_file::FEATURE_WIDE_FOR),
    (
        "v1.3-all-types.pilum",
        3,
        pilum_file::FEATURE_WIDE_FOR | pilum_file::FEATURE_NARROW_FLAT,
    ),
];

fn golden_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden")
}

/// Writes `batch` in two writes (split at `split`) with `options`.
async fn write_file(batch: &arrow_array::RecordBatch, split: usize, options: WriterOptions) -> Bytes {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut writer = FileWriter::try_new(store.clone(), Path::from("g"), batch.schema(), options)
        .await
        .unwrap();
    writer.write(&batch.slice(0, split)).await.unwrap();
    writer
        .write(&batch.slice(split, batch.num_rows() - split))
        .await
        .unwrap();
    writer.finish().await.unwrap();
    store.get(&Path::from("g")).await.unwrap().bytes().await.unwrap()
}

async fn write_current() -> Bytes {
    let options = WriterOptions {
        page_bytes: 16 * 1024,
        ..Default::default()
    };
    write_file(&common::all_types_batch(150, 42), 60, options).await
}

async fn write_current_text(symbol_table: bool) -> Bytes {
    let mut options = WriterOptions::default();
    options.plan.symbol_table = symbol_table;
    write_file(&common::text_batch(TEXT_ROWS, 7), 300, options).await
}

#[tokio::test]
#[ignore = "writes fixtures; run by hand when the format changes"]
async fn regenerate_golden_files() {
    std::fs::create_dir_all(golden_dir()).unwrap();
    std::fs::write(golden_dir().join(GOLDEN), write_current().await).unwrap();
    for (name, symbol_table, _) in TEXT_FIXTURES {
        std::fs::write(golden_dir().join(name), write_current_text(symbol_table).await).unwrap();
    }
}

/// Offset where the metadata block starts: the data region ends there.
fn data_end(bytes: &[u8]) -> usize {
    let footer = &bytes[bytes.len() - 32..];
    u64::from_le_bytes(footer[..8].try_into().unwrap()) as usize
}

/// Reads fixture `name`, checks its footer's minor version and required
/// features, and opens it; returns its bytes and a reader.
async fn open_fixture(name: &str, minor: u16, features: u32) -> (Bytes, FileReader) {
    let fixture = Bytes::from(std::fs::read(golden_dir().join(name)).expect("golden file present in testdata/golden"));
    let footer = &fixture[fixture.len() - 32..];
    assert_eq!(
        u32::from_le_bytes(footer[20..24].try_into().unwrap()),
        features,
        "{name}"
    );
    assert_eq!(u16::from_le_bytes(footer[26..28].try_into().unwrap()), minor, "{name}");
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    store
        .put(&Path::from("g"), PutPayload::from(fixture.clone()))
        .await
        .unwrap();
    let reader = FileReader::open(store, Path::from("g")).await.unwrap();
    (fixture, reader)
}

/// The data region (everything before the metadata block) of `current` must
/// be byte-identical to the fixture's.
fn assert_same_data(fixture: &[u8], current: &[u8], name: &str) {
    let (g_end, c_end) = (data_end(fixture), data_end(current));
    assert_eq!(
        g_end, c_end,
        "{name}: data region length changed: bytes on disk changed"
    );
    assert!(
        fixture[..g_end] == current[..c_end],
        "{name}: data bytes changed: add a Format entry and new fixtures"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_text_files_read_back_and_bytes_are_stable() {
    let current = TEXT_FIXTURES.map(|(name, symbol_table, features)| (name, Some(symbol_table), 3, features));
    let released = RELEASED_TEXT.map(|(name, minor, features)| (name, None, minor, features));
    for (name, symbol_table, minor, features) in current.into_iter().chain(released) {
        let (fixture, reader) = open_fixture(name, minor, features).await;
        let expected = common::text_batch(TEXT_ROWS, 7);
        let got = reader
            .read_range(0..TEXT_ROWS as u64, &ReadOptions::default())
            .await
            .unwrap();
        common::assert_batches_eq(&got, &expected, name);
        let rows = [3u64, 5, 400, 799];
        let taken = reader.take(&rows, &ReadOptions::default()).await.unwrap();
        let want =
            arrow_select::take::take_record_batch(&expected, &arrow_array::UInt64Array::from(rows.to_vec())).unwrap();
        common::assert_batches_eq(&taken, &want, name);

        if let Some(symbol_table) = symbol_table {
            assert_same_data(&fixture, &write_current_text(symbol_table).await, name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_files_read_back_and_bytes_are_stable() {
    let expected = common::all_types_batch(150, 42);
    for (name, minor, features) in RELEASED {
        let (_, reader) = open_fixture(name, minor, features).await;
        let got = reader
            .read_range(0..150, &ReadOptions::default().with_blob_mode(BlobMode::Bytes))
            .await
            .unwrap();
        common::assert_batches_eq(&got, &expected, name);
        let sizes = reader.value_bytes_per_row(&ReadOptions::default()).unwrap();
        assert_eq!(
            sizes.is_some(),
            minor >= 2,
            "{name}: value sizes are recorded from format 1.2"
        );
    }
    let golden = std::fs::read(golden_dir().join(GOLDEN)).expect("golden file present in testdata/golden");
    assert_same_data(&golden, &write_current().await, GOLDEN);
}
