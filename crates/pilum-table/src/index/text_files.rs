//! Writing an inverted index segment's files under `_indices/{uuid}/`:
//! `postings.bin` (every term's list, merged from the build's runs),
//! `terms.bin` (the sorted dictionary) and `docs.bin` (row id and length
//! of each document). Layouts: `pilum_index::text::format` and
//! `format-spec/index.md`.

use super::INDICES_DIR;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::proto;
use bytes::Bytes;
use object_store::ObjectStoreExt;
use pilum_index::text::format::{DocTable, POSTINGS_MAGIC, TermEntry, encode_docs, encode_list, encode_terms, header};
use pilum_index::text::{RunReader, merge_runs};
use pilum_io::ObjectSink;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// The path of `name` of segment `uuid`, relative to the root (under the
/// branch's directory on a branch).
pub(crate) fn text_path(location: &DatasetLocation, uuid: &str, name: &str) -> String {
    format!("{}{INDICES_DIR}/{uuid}/{name}.bin", location.file_prefix())
}

/// What writing a segment's files produced.
pub(crate) struct WrittenText {
    pub files: Vec<proto::IndexFile>,
    pub num_docs: u64,
    pub total_terms: u64,
}

/// The files and the dictionary's size.
pub(crate) struct TextFiles {
    pub files: WrittenText,
    pub num_terms: u64,
}

/// Merges `runs` into the segment's postings (through a local file in
/// `dir`), and writes the three files.
pub(crate) async fn write_text_files(
    location: &DatasetLocation,
    uuid: &str,
    runs: Vec<RunReader>,
    positions: bool,
    row_ids: Vec<u64>,
    lengths: Vec<u32>,
    dir: Arc<SpillDir>,
) -> Result<TextFiles> {
    let (postings, terms) = tokio::task::spawn_blocking(move || merge_to_file(runs, positions, dir.as_ref()))
        .await
        .map_err(|e| TableError::Internal { what: e.to_string() })??;
    let num_terms = terms.len() as u64;
    let mut files = vec![upload(location, uuid, "postings", postings).await?];
    let terms = encode_terms(&terms).map_err(TableError::index)?;
    files.push(put(location, uuid, "terms", terms).await?);
    let docs = DocTable { row_ids, lengths };
    let (num_docs, total_terms) = (docs.row_ids.len() as u64, docs.total_terms());
    files.push(put(location, uuid, "docs", encode_docs(&docs)).await?);
    Ok(TextFiles {
        files: WrittenText {
            files,
            num_docs,
            total_terms,
        },
        num_terms,
    })
}

fn merge_to_file(runs: Vec<RunReader>, positions: bool, dir: &SpillDir) -> Result<(File, Vec<(String, TermEntry)>)> {
    let failed = |e: std::io::Error| local(&dir.0, e);
    let mut writer = BufWriter::with_capacity(1 << 20, dir.file()?);
    writer.write_all(&header(POSTINGS_MAGIC)).map_err(failed)?;
    let mut offset = header(POSTINGS_MAGIC).len() as u64;
    let mut terms = Vec::new();
    let mut buffer = Vec::new();
    let mut io_error = None;
    let merged = merge_runs(runs, positions, |term, list| {
        buffer.clear();
        encode_list(&list, &mut buffer);
        if let Err(e) = writer.write_all(&buffer) {
            io_error = Some(e);
            return Err(pilum_index::IndexError::Spill {
                what: "writing postings failed".into(),
            });
        }
        let length = buffer.len() as u32;
        terms.push((
            term,
            TermEntry {
                doc_count: list.doc_count(),
                offset,
                length,
            },
        ));
        offset += u64::from(length);
        Ok(())
    });
    if let Some(e) = io_error {
        return Err(failed(e));
    }
    merged.map_err(TableError::index)?;
    writer.flush().map_err(failed)?;
    let mut file = writer.into_inner().map_err(|e| failed(e.into_error()))?;
    file.seek(SeekFrom::Start(0)).map_err(failed)?;
    Ok((file, terms))
}

/// A private directory for spilled runs, removed when dropped.
pub(crate) struct SpillDir(pub(crate) PathBuf);

impl SpillDir {
    pub(crate) fn new() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("pilum-text-build-{}", crate::paths::random_id()));
        std::fs::create_dir_all(&dir).map_err(|e| local(&dir, e))?;
        Ok(Self(dir))
    }

    /// A new file, unlinked at once (it lives as long as its handle).
    pub(crate) fn file(&self) -> Result<File> {
        let path = self.0.join(crate::paths::random_id());
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| local(&path, e))?;
        std::fs::remove_file(&path).map_err(|e| local(&path, e))?;
        Ok(file)
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn local(path: &std::path::Path, source: std::io::Error) -> TableError {
    TableError::LocalIo {
        path: path.display().to_string(),
        source,
    }
}

async fn put(location: &DatasetLocation, uuid: &str, name: &str, bytes: Vec<u8>) -> Result<proto::IndexFile> {
    let relative = text_path(location, uuid, name);
    let path = location.child(&relative);
    let size = bytes.len() as u64;
    location
        .store
        .put(&path, Bytes::from(bytes).into())
        .await
        .map_err(|e| TableError::store(&path, e))?;
    Ok(proto::IndexFile {
        role: name.to_string(),
        path: relative,
        size,
    })
}

/// Uploads a local file in 8 MiB pieces (a multipart upload when larger).
async fn upload(location: &DatasetLocation, uuid: &str, name: &str, mut file: File) -> Result<proto::IndexFile> {
    let relative = text_path(location, uuid, name);
    // At most two parts in flight: memory stays bounded however large the file.
    let mut sink = ObjectSink::new(location.store.clone(), location.child(&relative)).with_uploads_in_flight(2);
    loop {
        let mut chunk = vec![0u8; 8 << 20];
        let mut filled = 0;
        while filled < chunk.len() {
            let n = file
                .read(&mut chunk[filled..])
                .map_err(|e| local(std::path::Path::new(&relative), e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        chunk.truncate(filled);
        sink.write(Bytes::from(chunk)).await?;
    }
    let size = sink.finish().await?;
    Ok(proto::IndexFile {
        role: name.to_string(),
        path: relative,
        size,
    })
}
