//! A blob value opened as a seekable, ranged byte stream.

use crate::error::{FileError, Result};
use bytes::Bytes;
use pilum_io::ObjectReader;
use std::io::SeekFrom;

/// One blob: reads fetch only the requested bytes with ranged requests.
#[derive(Debug, Clone)]
pub struct BlobFile {
    reader: ObjectReader,
    position: u64,
    size: u64,
    cursor: u64,
}

impl BlobFile {
    pub(crate) fn new(reader: ObjectReader, position: u64, size: u64) -> Self {
        Self {
            reader,
            position,
            size,
            cursor: 0,
        }
    }

    /// Size of the blob in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Current read position within the blob.
    pub fn tell(&self) -> u64 {
        self.cursor
    }

    /// Absolute offset of the blob within its file.
    pub fn file_offset(&self) -> u64 {
        self.position
    }

    /// Moves the read position; seeking past the end is allowed (reads return nothing).
    pub fn seek(&mut self, to: SeekFrom) -> Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.cursor.checked_add_signed(d),
        };
        self.cursor =
            target.ok_or_else(|| FileError::InvalidArgument(format!("seek to {to:?} is before the start")))?;
        Ok(self.cursor)
    }

    /// Reads bytes `range` of the blob (clamped to its size) with one request.
    pub async fn read_range(&self, range: std::ops::Range<u64>) -> Result<Bytes> {
        let end = range.end.min(self.size);
        let start = range.start.min(end);
        Ok(self
            .reader
            .read_range(self.position + start..self.position + end)
            .await?)
    }

    /// Reads up to `max` bytes from the current position and advances it.
    pub async fn read(&mut self, max: u64) -> Result<Bytes> {
        let bytes = self.read_range(self.cursor..self.cursor.saturating_add(max)).await?;
        self.cursor += bytes.len() as u64;
        Ok(bytes)
    }

    /// Reads from the current position to the end.
    pub async fn read_to_end(&mut self) -> Result<Bytes> {
        self.read(self.size.saturating_sub(self.cursor)).await
    }
}
