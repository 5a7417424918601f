//! A bounds-checked little-endian reader over a byte slice.
//!
//! Every decoder reads untrusted file bytes through this cursor, so a short or
//! corrupt buffer becomes [`CoreError::UnexpectedEnd`] instead of a panic.

use crate::error::{CoreError, Result};

/// Reads little-endian values from a byte slice, failing cleanly at its end.
#[derive(Debug, Clone)]
pub struct ByteCursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> ByteCursor<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Consumes and returns the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(CoreError::UnexpectedEnd {
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Consumes the rest of the buffer.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.pos..];
        self.pos = self.data.len();
        out
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_and_fails_at_end() {
        let bytes = [1u8, 2, 0, 3, 0, 0, 0, 9];
        let mut c = ByteCursor::new(&bytes);
        assert_eq!(c.u8().unwrap(), 1);
        assert_eq!(c.u16().unwrap(), 2);
        assert_eq!(c.u32().unwrap(), 3);
        assert_eq!(c.remaining(), 1);
        let err = c.u64().unwrap_err();
        assert_eq!(
            err,
            CoreError::UnexpectedEnd {
                offset: 7,
                needed: 8,
                available: 1
            }
        );
        assert_eq!(c.rest(), &[9]);
    }
}
