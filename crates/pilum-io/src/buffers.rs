//! A process-wide pool of buffers for large local reads.
//!
//! A scan reads megabytes per column and batch and hands many of those
//! bytes to its caller without copying (vector columns become slices of the
//! read buffer). A fresh buffer per read costs zeroing it and faulting its
//! pages in, and the system allocator returns freed megabyte blocks to the
//! kernel only to fault them in again on the next read. Buffers taken here
//! come back when the last `Bytes` (or Arrow buffer) over them is dropped,
//! and are reused without zeroing: a reused buffer already holds
//! initialised bytes, which the read overwrites.

use bytes::Bytes;
use std::sync::{Mutex, MutexGuard};

/// Reads smaller than this use ordinary buffers.
pub(crate) const MIN_POOLED_BYTES: usize = 256 << 10;
/// Most bytes the pool keeps between reads.
const POOL_BYTES: usize = 64 << 20;

struct Pool {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    buffers: Vec::new(),
    bytes: 0,
});

fn pool() -> MutexGuard<'static, Pool> {
    // The pool holds no invariant a panic elsewhere could break.
    POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A buffer of `len` initialised bytes, reused from the pool when one of at
/// least `len` and at most `2 * len` bytes of room is there.
pub(crate) fn take(len: usize) -> Vec<u8> {
    let reused = if len >= MIN_POOLED_BYTES {
        let mut pool = pool();
        let best = (pool.buffers.iter().enumerate())
            .filter(|(_, b)| (len..=2 * len).contains(&b.capacity()))
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        best.map(|i| {
            let buffer = pool.buffers.swap_remove(i);
            pool.bytes -= buffer.capacity();
            buffer
        })
    } else {
        None
    };
    match reused {
        Some(mut buffer) => {
            // Zero-fills only what the buffer never held.
            buffer.resize(len, 0);
            buffer
        }
        None => vec![0u8; len],
    }
}

/// `buffer` as `Bytes` that give it back to the pool when dropped.
pub(crate) fn into_bytes(buffer: Vec<u8>) -> Bytes {
    if buffer.capacity() < MIN_POOLED_BYTES {
        return Bytes::from(buffer);
    }
    Bytes::from_owner(Pooled(buffer))
}

/// A pooled buffer lent out as `Bytes`.
struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.0);
        let mut pool = pool();
        if pool.bytes + buffer.capacity() <= POOL_BYTES {
            pool.bytes += buffer.capacity();
            pool.buffers.push(buffer);
        }
    }
}

/// Bytes the pool holds now (for tests).
#[cfg(test)]
pub(crate) fn pooled_bytes() -> usize {
    pool().bytes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn dropped_bytes_return_their_buffer_for_the_next_read() {
        // Larger than any other test's reads, so they cannot take it meanwhile.
        let len = 24 << 20;
        let mut buffer = take(len);
        buffer.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let address = buffer.as_ptr();
        let bytes = into_bytes(buffer);
        let slice = bytes.slice(10..20);
        drop(bytes);
        assert_eq!(
            slice.as_ref(),
            &(10..20u8).collect::<Vec<_>>()[..],
            "slices keep the buffer alive"
        );
        drop(slice);
        assert!(pooled_bytes() >= len);
        // A smaller read reuses it, with its old bytes (to be overwritten).
        let again = take(len - 100);
        assert_eq!(again.as_ptr(), address);
        assert_eq!(again.len(), len - 100);
        assert_eq!(again[5], 5);
        drop(into_bytes(again));
        // A read of less than half its room, or of more, gets another buffer.
        let (half, more) = (take(len / 2 - 1), take(len + 1));
        assert_ne!(half.as_ptr(), address);
        assert_ne!(more.as_ptr(), address);
        // Small reads are never pooled.
        assert!(take(100).iter().all(|&b| b == 0));
    }
}
