//! A borrowed block of row-major vectors.

use crate::error::{IndexError, Result};

/// `len` vectors of `dim` values each, stored row after row.
#[derive(Debug, Clone, Copy)]
pub struct Vectors<'a> {
    data: &'a [f32],
    dim: usize,
}

impl<'a> Vectors<'a> {
    /// Views `data` as vectors of `dim` values; its length must be a
    /// multiple of `dim`, and `dim` positive.
    pub fn new(data: &'a [f32], dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(IndexError::params("dimension must be positive"));
        }
        if !data.len().is_multiple_of(dim) {
            return Err(IndexError::params(format!(
                "{} values do not split into vectors of {dim}",
                data.len()
            )));
        }
        Ok(Self { data, dim })
    }

    /// A view of data whose shape the caller has validated already.
    pub(crate) fn trusted(data: &'a [f32], dim: usize) -> Self {
        debug_assert!(dim > 0 && data.len().is_multiple_of(dim));
        Self { data, dim }
    }

    /// Values per vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Whether there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Vector `i` (panics when out of range, like slice indexing).
    pub fn get(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// The vectors in order.
    pub fn iter(&self) -> std::slice::ChunksExact<'a, f32> {
        self.data.chunks_exact(self.dim)
    }

    /// Vectors `range` as their own block.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Vectors<'a> {
        Vectors {
            data: &self.data[range.start * self.dim..range.end * self.dim],
            dim: self.dim,
        }
    }
}
