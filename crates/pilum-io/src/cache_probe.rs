//! Telling cached from uncached local reads, so that reads which would wait
//! for the disk are started together instead of one after another.
//!
//! Small local reads run inline on the calling task: with the file in the
//! page cache that is the fastest path, but with a cold cache each read
//! blocks on the disk in turn. On Linux a read is first tried with
//! `RWF_NOWAIT`, which fails instead of waiting for the disk; the ranges
//! that miss are handed to the kernel's readahead together
//! (`POSIX_FADV_WILLNEED`), so the disk serves them in parallel before they
//! are read.

use std::fs::File;
use std::ops::Range;

/// What a no-wait read of a range found.
pub(crate) enum Probe {
    /// All of the range was in the page cache.
    Cached(Vec<u8>),
    /// Some of it was not; reading it would wait for the disk.
    Uncached,
    /// The platform or filesystem cannot tell.
    Unknown,
}

/// Reads `range` of `file` only if it is in the page cache.
#[cfg(target_os = "linux")]
pub(crate) fn read_if_cached(file: &File, range: &Range<u64>) -> Probe {
    use rustix::io::{Errno, ReadWriteFlags, preadv2};
    let mut buf = crate::buffers::take((range.end - range.start) as usize);
    let mut done = 0;
    while done < buf.len() {
        let mut slices = [std::io::IoSliceMut::new(&mut buf[done..])];
        match preadv2(file, &mut slices, range.start + done as u64, ReadWriteFlags::NOWAIT) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::AGAIN) => return Probe::Uncached,
            Err(Errno::INTR) => {}
            Err(_) => return Probe::Unknown,
        }
    }
    buf.truncate(done);
    Probe::Cached(buf)
}

/// Reads `range` of `file` only if it is in the page cache.
#[cfg(not(target_os = "linux"))]
pub(crate) fn read_if_cached(_file: &File, _range: &Range<u64>) -> Probe {
    Probe::Unknown
}

/// Asks the kernel to start reading `ranges` of `file` into the page cache.
#[cfg(target_os = "linux")]
pub(crate) fn start_readahead(file: &File, ranges: &[Range<u64>]) {
    use rustix::fs::{Advice, fadvise};
    for range in ranges {
        // Advice only: a failure leaves the plain read to do the work.
        let _ = fadvise(
            file,
            range.start,
            std::num::NonZeroU64::new(range.end - range.start),
            Advice::WillNeed,
        );
    }
}

/// Asks the kernel to start reading `ranges` of `file` into the page cache.
#[cfg(not(target_os = "linux"))]
pub(crate) fn start_readahead(_file: &File, _ranges: &[Range<u64>]) {}
