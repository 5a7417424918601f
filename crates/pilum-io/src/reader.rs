//! Ranged, coalesced, concurrent reads of one object.

use crate::cache_probe::{Probe, read_if_cached, start_readahead};
use crate::error::{IoError, Result};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::{ObjectStore, ObjectStoreExt, path::Path};
use pilum_core::{CoalescedRange, coalesce_ranges};
use std::ops::Range;
use std::sync::Arc;

/// How reads are grouped into requests.
///
/// The default suits stores where a request is cheap (local files, memory);
/// [`ReadOptions::object_store`] suits stores where every request pays a
/// network round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Ranges closer than this many bytes are fetched by one request.
    pub coalesce_gap: u64,
    /// A coalesced request never grows past this size.
    pub max_request: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests are expensive (object storage): readers above this layer
    /// should also prefer fewer, larger reads (e.g. bigger scan tasks).
    pub remote: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self::local()
    }
}

impl ReadOptions {
    /// For local files and memory: a request costs a system call, so only
    /// ranges within 4 KiB (one page) share one.
    pub fn local() -> Self {
        Self {
            coalesce_gap: 4 * 1024,
            max_request: 16 * 1024 * 1024,
            concurrency: 32,
            remote: false,
        }
    }

    /// For object storage (S3 and alike): a request costs a round trip of
    /// tens of milliseconds, in which one connection moves about a megabyte,
    /// so ranges within 1 MiB share a request (the `object_store` crate's own
    /// default coalescing distance). Requests stop at 8 MiB so a long range
    /// is fetched by several connections at once (AWS suggests ranged GETs
    /// of 8–16 MB).
    pub fn object_store() -> Self {
        Self {
            coalesce_gap: 1024 * 1024,
            max_request: 8 * 1024 * 1024,
            concurrency: 32,
            remote: true,
        }
    }
}

/// A fetched byte range of an object and its bytes.
type Span = (Range<u64>, Bytes);

/// Reads byte ranges of one object.
#[derive(Debug, Clone)]
pub struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    options: ReadOptions,
    /// For objects on the local filesystem: a handle opened once, read with
    /// positional reads (no per-request open or thread hop).
    local: Option<Arc<std::fs::File>>,
    /// Spans fetched ahead by [`ObjectReader::prefetch`], sorted by offset;
    /// reads inside one are served from memory.
    prefetched: Option<Arc<[Span]>>,
}

/// Local reads up to this size run inline; larger ones on the blocking pool.
const INLINE_READ_BYTES: u64 = 1 << 20;

impl ObjectReader {
    /// A reader of `path` in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, path: Path) -> Self {
        Self {
            store,
            path,
            options: ReadOptions::default(),
            local: None,
            prefetched: None,
        }
    }

    /// A reader of a local file: `store` and `path` name it for errors,
    /// `file` is read directly. The handle pins the file as opened, so later
    /// replacements of the path are not seen by this reader.
    pub fn new_local(store: Arc<dyn ObjectStore>, path: Path, file: &std::path::Path) -> Result<Self> {
        let handle = std::fs::File::open(file).map_err(|e| local_error(&path, e))?;
        Ok(Self {
            store,
            path,
            options: ReadOptions::default(),
            local: Some(Arc::new(handle)),
            prefetched: None,
        })
    }

    /// Replaces the read options.
    pub fn with_options(mut self, options: ReadOptions) -> Self {
        self.options = options;
        self
    }

    /// The read options in force.
    pub fn options(&self) -> &ReadOptions {
        &self.options
    }

    /// The object's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store the object lives in.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The object's size in bytes (one HEAD request).
    pub async fn size(&self) -> Result<u64> {
        if let Some(file) = &self.local {
            return file.metadata().map(|m| m.len()).map_err(|e| local_error(&self.path, e));
        }
        let meta = self
            .store
            .head(&self.path)
            .await
            .map_err(|e| IoError::from_store(&self.path, e))?;
        Ok(meta.size)
    }

    /// Fetches `ranges` now, coalesced as one batch of requests (ranges of
    /// different columns share requests this way), and returns a reader of
    /// the same object that serves reads inside the fetched spans from memory
    /// and anything else from the store.
    pub async fn prefetch(&self, ranges: &[Range<u64>]) -> Result<ObjectReader> {
        let groups = coalesce_ranges(ranges, self.options.coalesce_gap, self.options.max_request);
        let mut spans: Vec<Span> = self
            .fetch_groups(groups)
            .await?
            .into_iter()
            .map(|(range, _, bytes)| (range, bytes))
            .collect();
        spans.sort_by_key(|(range, _)| range.start);
        Ok(Self {
            prefetched: Some(spans.into()),
            ..self.clone()
        })
    }

    /// The bytes of `range` when a prefetched span holds all of it.
    fn prefetched_bytes(&self, range: &Range<u64>) -> Option<Bytes> {
        let spans = self.prefetched.as_deref()?;
        let at = spans
            .partition_point(|(span, _)| span.start <= range.start)
            .checked_sub(1)?;
        let (span, bytes) = &spans[at];
        (range.end <= span.end)
            .then(|| bytes.slice((range.start - span.start) as usize..(range.end - span.start) as usize))
    }

    /// Reads one range with one request (none when it was prefetched).
    pub async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        if range.start >= range.end {
            return Ok(Bytes::new());
        }
        if let Some(bytes) = self.prefetched_bytes(&range) {
            return Ok(bytes);
        }
        let bytes = match &self.local {
            Some(file) => self.read_local(file.clone(), range.clone()).await?,
            None => self
                .store
                .get_range(&self.path, range.clone())
                .await
                .map_err(|e| IoError::from_store(&self.path, e))?,
        };
        if bytes.len() as u64 != range.end - range.start {
            return Err(IoError::ShortRead {
                path: self.path.to_string(),
                start: range.start,
                end: range.end,
                got: bytes.len() as u64,
            });
        }
        Ok(bytes)
    }

    async fn read_local(&self, file: Arc<std::fs::File>, range: Range<u64>) -> Result<Bytes> {
        let path = self.path.clone();
        let read = move || {
            let mut buf = crate::buffers::take((range.end - range.start) as usize);
            let got = positional_read(&file, &mut buf, range.start).map_err(|e| local_error(&path, e))?;
            buf.truncate(got);
            Ok(crate::buffers::into_bytes(buf))
        };
        if range.end - range.start <= INLINE_READ_BYTES {
            read()
        } else {
            tokio::task::spawn_blocking(read)
                .await
                .map_err(|e| local_error(&self.path, std::io::Error::other(e)))?
        }
    }

    /// Reads several ranges, returning their bytes in the order given.
    /// Nearby ranges share a request; requests run concurrently.
    pub async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let mut out = vec![Bytes::new(); ranges.len()];
        let mut missing: Vec<usize> = Vec::new();
        for (i, range) in ranges.iter().enumerate() {
            match self.prefetched_bytes(range) {
                Some(bytes) => out[i] = bytes,
                None => missing.push(i),
            }
        }
        if missing.len() == ranges.len() {
            return self.fetch_ranges(ranges).await;
        }
        let wanted: Vec<Range<u64>> = missing.iter().map(|&i| ranges[i].clone()).collect();
        for (i, bytes) in missing.into_iter().zip(self.fetch_ranges(&wanted).await?) {
            out[i] = bytes;
        }
        Ok(out)
    }

    /// Fetches every coalesced group with one request each, `concurrency`
    /// at a time; returns each group's range, members and bytes.
    async fn fetch_groups(&self, groups: Vec<CoalescedRange>) -> Result<Vec<(Range<u64>, Vec<usize>, Bytes)>> {
        stream::iter(groups)
            .map(|group| async move {
                let bytes = self.read_range(group.range.clone()).await?;
                Ok::<_, IoError>((group.range, group.members, bytes))
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .try_collect()
            .await
    }

    async fn fetch_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let mut groups = coalesce_ranges(ranges, self.options.coalesce_gap, self.options.max_request);
        let mut fetched: Vec<(Range<u64>, Vec<usize>, Bytes)> = Vec::with_capacity(groups.len());
        if let (Some(file), true) = (&self.local, groups.len() > 1) {
            groups = read_cached_groups(file, groups, &mut fetched);
        }
        fetched.extend(self.fetch_groups(groups).await?);
        let mut out = vec![Bytes::new(); ranges.len()];
        for (range, members, bytes) in fetched {
            for i in members {
                let r = &ranges[i];
                out[i] = bytes.slice((r.start - range.start) as usize..(r.end - range.start) as usize);
            }
        }
        Ok(out)
    }
}

/// Reads the small `groups` of local `file` that are in the page cache into
/// `fetched`, and returns the others. When several would wait for the disk,
/// their readahead is started together so the disk serves them in parallel
/// (see [`crate::cache_probe`]).
fn read_cached_groups(
    file: &std::fs::File,
    groups: Vec<CoalescedRange>,
    fetched: &mut Vec<(Range<u64>, Vec<usize>, Bytes)>,
) -> Vec<CoalescedRange> {
    let mut probing = true;
    let mut uncached = Vec::new();
    let mut rest = Vec::new();
    for group in groups {
        let len = group.range.end - group.range.start;
        if !probing || len > INLINE_READ_BYTES {
            rest.push(group);
            continue;
        }
        match read_if_cached(file, &group.range) {
            Probe::Cached(buf) if buf.len() as u64 == len => {
                fetched.push((group.range, group.members, crate::buffers::into_bytes(buf)))
            }
            // A short read: the plain path reports it.
            Probe::Cached(_) => rest.push(group),
            Probe::Uncached => uncached.push(group),
            Probe::Unknown => {
                probing = false;
                rest.push(group);
            }
        }
    }
    if uncached.len() > 1 {
        let ranges: Vec<Range<u64>> = uncached.iter().map(|g| g.range.clone()).collect();
        start_readahead(file, &ranges);
    }
    rest.extend(uncached);
    rest
}

/// Reads the whole local file `file` (object `path`, for errors) on the
/// calling thread: for small metadata objects, where handing the read to a
/// blocking thread and back costs more than the read. A missing file is
/// [`IoError::NotFound`].
pub fn read_local_object(path: &Path, file: &std::path::Path) -> Result<Bytes> {
    std::fs::read(file).map(Bytes::from).map_err(|e| local_error(path, e))
}

/// Reads into `buf` at `offset` until it is full or the file ends; returns bytes read.
fn positional_read(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        #[cfg(unix)]
        let n = std::os::unix::fs::FileExt::read_at(file, &mut buf[done..], offset + done as u64);
        #[cfg(windows)]
        let n = std::os::windows::fs::FileExt::seek_read(file, &mut buf[done..], offset + done as u64);
        match n {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

fn local_error(path: &Path, e: std::io::Error) -> IoError {
    if e.kind() == std::io::ErrorKind::NotFound {
        IoError::NotFound { path: path.to_string() }
    } else {
        IoError::Store {
            path: path.to_string(),
            source: object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_uri;

    #[tokio::test]
    async fn local_handle_reads_ranges_and_reports_short_reads() {
        let dir = std::env::temp_dir().join(format!("pilum-io-local-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("data.bin");
        std::fs::write(&file, (0..=255u8).cycle().take(3_000_000).collect::<Vec<u8>>()).unwrap();
        let location = parse_uri(file.to_str().unwrap()).unwrap();
        let reader = location.reader().unwrap();
        assert!(reader.local.is_some());
        assert_eq!(reader.size().await.unwrap(), 3_000_000);
        let got = reader
            .read_ranges(&[10..20, 2_000_000..2_000_003, 0..2_500_000])
            .await
            .unwrap();
        assert_eq!(got[0].as_ref(), (10..20u8).collect::<Vec<_>>().as_slice());
        assert_eq!(got[1].len(), 3);
        assert_eq!(got[2].len(), 2_500_000);
        assert!(matches!(
            reader.read_range(2_999_999..3_000_010).await,
            Err(IoError::ShortRead { got: 1, .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            parse_uri(file.to_str().unwrap()).unwrap().reader(),
            Err(IoError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn many_ranges_of_a_local_file_read_correctly_cold_or_warm() {
        let dir = std::env::temp_dir().join(format!("pilum-io-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("data.bin");
        let data: Vec<u8> = (0..4_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        std::fs::write(&file, &data).unwrap();
        let ranges: Vec<Range<u64>> = (0..500u64)
            .map(|i| i * 7_919 + 13..i * 7_919 + 13 + (i % 97) + 1)
            .collect();
        let location = parse_uri(file.to_str().unwrap()).unwrap();
        for pass in ["cold", "warm"] {
            if pass == "cold" {
                // Written back and dropped from the page cache where the
                // filesystem allows, so the no-wait reads miss.
                let handle = std::fs::File::open(&file).unwrap();
                handle.sync_all().unwrap();
                #[cfg(target_os = "linux")]
                rustix::fs::fadvise(&handle, 0, None, rustix::fs::Advice::DontNeed).unwrap();
            }
            let got = location.reader().unwrap().read_ranges(&ranges).await.unwrap();
            for (r, bytes) in ranges.iter().zip(&got) {
                assert_eq!(bytes.as_ref(), &data[r.start as usize..r.end as usize], "{pass} {r:?}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
