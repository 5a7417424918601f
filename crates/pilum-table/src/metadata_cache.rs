//! A process-wide metadata cache shared by every dataset handle: open file
//! readers (footer, schema and page layout of data and index files) and
//! decoded manifests, bounded in bytes.
//!
//! Only immutable objects are cached, under keys that cannot name other
//! bytes: data and index files have random names and are never rewritten
//! (the key also holds the recorded size); a manifest is still fetched on
//! every load, which keeps "does this version exist" exact, and only its
//! decoding is skipped when the fetched bytes are the ones cached (same
//! path, length and checksum). Stores without a stable identity (in-memory
//! stores built per handle) are not cached.

use crate::error::Result;
use crate::location::DatasetLocation;
use crate::manifest::Manifest;
use crate::proto;
use pilum_file::FileReader;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use std::sync::Arc;
use std::sync::OnceLock;

/// Default budget of the cache (override with the environment variable
/// `PILUM_METADATA_CACHE_BYTES`, read once per process).
pub const DEFAULT_METADATA_CACHE_BYTES: u64 = 256 << 20;

#[derive(Clone)]
enum Entry {
    File(FileReader),
    Manifest(Box<Manifest>, u64),
    /// A fragment page's fragments and its stored size.
    Page(Arc<Vec<proto::Fragment>>, u64),
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<String, Entry> for ByBytes {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        let value = match entry {
            Entry::File(reader) => reader.metadata_bytes() + 512,
            Entry::Manifest(_, stored) => *stored * 2,
            // Decoded fragments take several times their compressed bytes.
            Entry::Page(_, stored) => *stored * 8,
        };
        key.len() as u64 + value
    }
}

fn cache() -> &'static Cache<String, Entry, ByBytes> {
    static CACHE: OnceLock<Cache<String, Entry, ByBytes>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let bytes = std::env::var("PILUM_METADATA_CACHE_BYTES")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_METADATA_CACHE_BYTES);
        // quick_cache wants an estimate of the item count as well.
        Cache::with_weighter((bytes / 8192).max(16) as usize, bytes.max(1), ByBytes)
    })
}

/// Empties the process-wide metadata cache.
pub fn clear_metadata_cache() {
    cache().clear();
}

/// Bytes (by the cache's own weighing) held by the metadata cache.
pub fn metadata_cache_bytes() -> u64 {
    cache().weight()
}

/// The identity of `location`'s root, or `None` for stores without one.
fn root_key(location: &DatasetLocation) -> Option<String> {
    if let Some(local) = &location.local_root {
        return Some(format!("file://{}", local.display()));
    }
    if location.uri.starts_with("s3://") {
        // Two endpoints can serve buckets of one name (e.g. test servers).
        let endpoint = location
            .storage_options
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("aws_endpoint") || k.eq_ignore_ascii_case("endpoint"))
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var("AWS_ENDPOINT").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .unwrap_or_default();
        return Some(format!("{endpoint}|{}", location.base_uri()));
    }
    None
}

fn file_key(location: &DatasetLocation, relative: &str, size: u64) -> Option<String> {
    Some(format!("f|{}/{relative}|{size}", root_key(location)?))
}

/// A reader of the file at `relative` (of `size` bytes, 0 when unknown)
/// under `location`: from the cache, else opened (one request when the size
/// is known) and cached.
pub(crate) async fn open_file(location: &DatasetLocation, relative: &str, size: u64) -> Result<FileReader> {
    if let Some(reader) = file(location, relative, size) {
        return Ok(reader);
    }
    let object = location.object(relative);
    let reader = if size > 0 {
        FileReader::open_location_with_size(&object, size).await?
    } else {
        FileReader::open_location(&object).await?
    };
    insert_file(location, relative, size, &reader);
    Ok(reader)
}

/// A cached reader of the file at `relative` of `size` bytes under `location`.
fn file(location: &DatasetLocation, relative: &str, size: u64) -> Option<FileReader> {
    if size == 0 {
        return None;
    }
    match cache().get(&file_key(location, relative, size)?) {
        Some(Entry::File(reader)) => Some(reader),
        _ => None,
    }
}

/// Remembers an open reader of the file at `relative` of `size` bytes.
fn insert_file(location: &DatasetLocation, relative: &str, size: u64, reader: &FileReader) {
    if size == 0 {
        return;
    }
    if let Some(key) = file_key(location, relative, size) {
        cache().insert(key, Entry::File(reader.clone()));
    }
}

/// The key of manifest bytes: path, length and the framing's checksum.
fn manifest_key(location: &DatasetLocation, path: &str, bytes: &[u8]) -> Option<String> {
    let root = root_key(location)?;
    let crc = bytes.len().checked_sub(4).map(|at| &bytes[at..])?;
    Some(format!("m|{root}|{path}|{}|{crc:?}", bytes.len()))
}

/// Decodes manifest bytes fetched from `path`, reusing an earlier decoding
/// of the same bytes.
pub(crate) fn manifest(location: &DatasetLocation, path: &str, bytes: &[u8]) -> Result<Manifest> {
    let key = manifest_key(location, path, bytes);
    if let Some(key) = &key
        && let Some(Entry::Manifest(manifest, _)) = cache().get(key)
    {
        return Ok(*manifest);
    }
    let manifest = Manifest::from_bytes(bytes, path)?;
    if let Some(key) = key {
        // Pages a handle loads are not kept with the shared entry: they
        // are cached page by page, within the budget.
        cache().insert(key, Entry::Manifest(Box::new(manifest.unloaded()), bytes.len() as u64));
    }
    Ok(manifest)
}

fn page_key(location: &DatasetLocation, path: &str, size: u64) -> Option<String> {
    Some(format!("p|{}|{path}|{size}", root_key(location)?))
}

/// The cached fragments of the page at `path` of `size` bytes.
pub(crate) fn page(location: &DatasetLocation, path: &str, size: u64) -> Option<Arc<Vec<proto::Fragment>>> {
    match cache().get(&page_key(location, path, size)?) {
        Some(Entry::Page(fragments, _)) => Some(fragments),
        _ => None,
    }
}

/// Remembers the fragments of the page at `path` of `size` bytes (pages
/// are immutable objects with random names).
pub(crate) fn insert_page(location: &DatasetLocation, path: &str, size: u64, fragments: &Arc<Vec<proto::Fragment>>) {
    if let Some(key) = page_key(location, path, size) {
        cache().insert(key, Entry::Page(fragments.clone(), size));
    }
}
