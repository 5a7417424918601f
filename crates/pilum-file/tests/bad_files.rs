//! Every file in `testdata/bad/` produces a specific typed error naming the
//! file (never a panic, never an argument error), and every file there has an
//! expectation here (an inventory test fails on a file without one).
//!
//! Regenerate the corpus: `cargo test -p pilum-file --test bad_files -- --ignored regenerate_bad_files`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

#[path = "bad_files/edit.rs"]
mod edit;
#[path = "bad_files/sources.rs"]
mod sources;
#[path = "bad_files/sweep.rs"]
mod sweep;

use bytes::Bytes;
use edit::{edit_metadata, first_symbols, footer_edit, metadata_of, page_where, symbols_not_utf8, with_metadata};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, memory::InMemory, path::Path};
use pilum_file::{FileError, FileReader, ReadOptions};
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
    /// `FileError::Corrupt` from `open`, its message holding the text.
    CorruptAtOpen(&'static str),
    /// `FileError::Chunk` of the column from reading every row (with and
    /// without string views), its message holding the text.
    ChunkAtRead(usize, &'static str),
    /// `FileError::Corrupt` from reading every row (with and without string
    /// views), its message holding the text.
    CorruptAtRead(&'static str),
}

const CASES: &[(&str, Expect)] = &[
    ("empty.pilum", Expect::NotPilum),
    ("truncated-footer.pilum", Expect::NotPilum),
    ("truncated-half.pilum", Expect::NotPilum),
    ("foreign-parquet.pilum", Expect::NotPilum),
    ("unknown-major-version.pilum", Expect::UnsupportedVersion),
    ("unknown-required-feature.pilum", Expect::UnsupportedFeatures),
    (
        "metadata-bit-flip.pilum",
        Expect::CorruptAtOpen("metadata checksum mismatch"),
    ),
    (
        "metadata-offset-wrong.pilum",
        Expect::CorruptAtOpen("does not end at the footer"),
    ),
    (
        "metadata-garbage-valid-crc.pilum",
        Expect::CorruptAtOpen("metadata does not decode"),
    ),
    ("schema-garbage.pilum", Expect::CorruptAtOpen("schema does not parse")),
    (
        "column-missing.pilum",
        Expect::CorruptAtOpen("metadata lists 4 columns"),
    ),
    (
        "page-outside-file.pilum",
        Expect::CorruptAtOpen("outside the data region"),
    ),
    ("chunk-table-mismatch.pilum", Expect::CorruptAtOpen("does not add up")),
    (
        "flat-validity-wrong-length.pilum",
        Expect::CorruptAtOpen("flat validity"),
    ),
    ("chunk-bit-flip.pilum", Expect::ChunkAtRead(0, "checksum mismatch")),
    (
        "list-lengths-overflow.pilum",
        Expect::CorruptAtRead("requested, column holds"),
    ),
    (
        "list-child-missing.pilum",
        Expect::CorruptAtRead("requested, column holds 0"),
    ),
    (
        "non-nullable-column-with-nulls.pilum",
        Expect::CorruptAtRead("non-nullable"),
    ),
    ("struct-child-with-nulls.pilum", Expect::CorruptAtRead("non-nullable")),
    ("string-not-utf8.pilum", Expect::CorruptAtRead("not valid UTF-8")),
    ("dictionary-garbage.pilum", Expect::CorruptAtOpen("dictionary")),
    ("dictionary-not-utf8.pilum", Expect::CorruptAtRead("UTF-8")),
    (
        "dictionary-too-few-entries.pilum",
        Expect::ChunkAtRead(0, "out of 1 entries"),
    ),
    ("symbol-table-garbage.pilum", Expect::CorruptAtOpen("symbol table")),
    ("symbol-table-not-utf8.pilum", Expect::CorruptAtRead("not valid UTF-8")),
    (
        "symbol-table-too-few-symbols.pilum",
        Expect::ChunkAtRead(0, "not in the symbol table"),
    ),
    (
        "zstd-dictionary-missing.pilum",
        Expect::ChunkAtRead(0, "page without one"),
    ),
    ("zstd-dictionary-garbage.pilum", Expect::ChunkAtRead(0, "zstd")),
];

#[tokio::test]
#[ignore = "writes the bad-file corpus; run by hand"]
async fn regenerate_bad_files() {
    let good = sources::good_file().await;
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
    files.extend(structure_cases(&good).await);
    files.extend(dictionary_cases().await);
    files.extend(symbol_table_cases().await);
    files.extend(zstd_dictionary_cases().await);
    std::fs::create_dir_all(bad_dir()).unwrap();
    for (name, bytes) in files {
        std::fs::write(bad_dir().join(name), bytes).unwrap();
    }
}

/// Flat validity, list children, nulls against the schema, UTF-8.
async fn structure_cases(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    // Columns of the good file: id, text, vec (flat pages), list lengths, list items.
    let vec_column = 2;
    let all_null = vec![0u8; sources::GOOD_ROWS.div_ceil(8)];
    let struct_file = sources::struct_file().await;
    vec![
        (
            "flat-validity-wrong-length.pilum",
            edit_metadata(good, |m| m.columns[vec_column].pages[0].flat_validity = vec![0; 3]),
        ),
        (
            "list-child-missing.pilum",
            edit_metadata(good, |m| {
                let items = m.columns.last_mut().unwrap();
                items.pages.clear();
                items.num_values = 0;
            }),
        ),
        (
            "non-nullable-column-with-nulls.pilum",
            edit_metadata(good, |m| m.columns[vec_column].pages[0].flat_validity = all_null),
        ),
        (
            "struct-child-with-nulls.pilum",
            edit_metadata(&struct_file, |m| {
                page_where(m, |p| p.layout == 1).flat_validity = vec![0xf0; 100usize.div_ceil(8)];
            }),
        ),
        ("string-not-utf8.pilum", sources::binary_as_string_file().await),
    ]
}

/// Pages with a page dictionary of strings.
async fn dictionary_cases() -> Vec<(&'static str, Vec<u8>)> {
    let (file, _) = sources::dictionary_file().await;
    let with_dictionary = |p: &pilum_file::proto::Page| p.dictionary_entries > 0;
    vec![
        (
            "dictionary-garbage.pilum",
            edit_metadata(&file, |m| {
                page_where(m, with_dictionary).dictionary.pop();
            }),
        ),
        (
            "dictionary-not-utf8.pilum",
            edit_metadata(&file, |m| {
                *page_where(m, with_dictionary).dictionary.last_mut().unwrap() = 0xff;
            }),
        ),
        (
            "dictionary-too-few-entries.pilum",
            edit_metadata(&file, |m| {
                let page = page_where(m, with_dictionary);
                let one = pilum_encoding::Dictionary {
                    offsets: vec![0, 3],
                    data: b"red".to_vec(),
                };
                page.dictionary = one.to_bytes().unwrap();
                page.dictionary_entries = 1;
            }),
        ),
    ]
}

/// Pages of text with a symbol table.
async fn symbol_table_cases() -> Vec<(&'static str, Vec<u8>)> {
    let file = sources::text_file(true).await;
    let with_table = |p: &pilum_file::proto::Page| !p.symbol_table.is_empty();
    vec![
        (
            "symbol-table-garbage.pilum",
            edit_metadata(&file, |m| page_where(m, with_table).symbol_table = vec![9]),
        ),
        (
            "symbol-table-not-utf8.pilum",
            edit_metadata(&file, |m| {
                let page = page_where(m, with_table);
                page.symbol_table = symbols_not_utf8(&page.symbol_table);
            }),
        ),
        (
            "symbol-table-too-few-symbols.pilum",
            edit_metadata(&file, |m| {
                let page = page_where(m, with_table);
                page.symbol_table = first_symbols(&page.symbol_table, 1);
            }),
        ),
    ]
}

/// Pages of text compressed with a zstd dictionary.
async fn zstd_dictionary_cases() -> Vec<(&'static str, Vec<u8>)> {
    let file = sources::text_file(false).await;
    let with_dictionary = |p: &pilum_file::proto::Page| !p.zstd_dictionary.is_empty();
    // zstd's dictionary magic, then bytes that are no entropy tables.
    let mut garbage = 0xEC30_A437u32.to_le_bytes().to_vec();
    garbage.extend_from_slice(&[0x5a; 60]);
    vec![
        (
            "zstd-dictionary-missing.pilum",
            edit_metadata(&file, |m| page_where(m, with_dictionary).zstd_dictionary.clear()),
        ),
        (
            "zstd-dictionary-garbage.pilum",
            edit_metadata(&file, |m| page_where(m, with_dictionary).zstd_dictionary = garbage),
        ),
    ]
}

/// Opens `bytes` as object `name` of an in-memory store.
async fn open(name: &str, bytes: Vec<u8>) -> pilum_file::Result<FileReader> {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    store
        .put(&Path::from(name), PutPayload::from(Bytes::from(bytes)))
        .await
        .unwrap();
    FileReader::open(store, Path::from(name)).await
}

/// Whether `err` is what `expect` describes and names file `name`; a
/// description of the mismatch otherwise.
fn expected(name: &str, expect: Expect, err: &FileError) -> Result<(), String> {
    let message = err.to_string();
    let ok = match expect {
        Expect::NotPilum => matches!(err, FileError::NotPilum { .. }),
        Expect::UnsupportedVersion => matches!(err, FileError::UnsupportedVersion { major: 2, .. }),
        Expect::UnsupportedFeatures => matches!(err, FileError::UnsupportedFeatures { flags: 0x8000_0000, .. }),
        Expect::CorruptAtOpen(says) | Expect::CorruptAtRead(says) => {
            matches!(err, FileError::Corrupt { .. }) && message.contains(says)
        }
        Expect::ChunkAtRead(column, says) => {
            matches!(err, FileError::Chunk { column: c, .. } if *c == column) && message.contains(says)
        }
    };
    if !ok {
        return Err(format!("{name}: expected {expect:?}, got {err:?}"));
    }
    if !message.contains(name) {
        return Err(format!("{name}: error must name the file: {message}"));
    }
    Ok(())
}

/// Opens (and reads, with and without string views) bad file `name`.
async fn check(name: &str, expect: Expect) -> Result<(), String> {
    let bytes = std::fs::read(bad_dir().join(name)).map_err(|e| format!("{name}: {e}"))?;
    let reader = match (open(name, bytes).await, expect) {
        (Ok(reader), Expect::ChunkAtRead(..) | Expect::CorruptAtRead(_)) => reader,
        (Ok(_), _) => return Err(format!("{name}: opened without error")),
        (Err(e), _) => return expected(name, expect, &e),
    };
    for views in [false, true] {
        let options = ReadOptions::default().with_string_views(views);
        match reader.read_range(0..reader.num_rows(), &options).await {
            Ok(_) => return Err(format!("{name}: read succeeded (string views: {views})")),
            Err(e) => expected(name, expect, &e).map_err(|m| format!("{m} (string views: {views})"))?,
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_file_gives_its_typed_error() {
    let mut failures = Vec::new();
    for &(name, expect) in CASES {
        if let Err(failure) = check(name, expect).await {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} bad files:\n{}",
        failures.len(),
        failures.join("\n")
    );
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
