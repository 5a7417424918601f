//! Inputs to the chunk encoder and the tags shared by encoder and decoder.

use arrow_buffer::BooleanBuffer;

/// Validity bit: the chunk carries a row validity bitmap.
pub(crate) const HAS_ROW_VALIDITY: u8 = 0x01;
/// Validity bit: the chunk carries a per-item validity bitmap.
pub(crate) const HAS_ITEM_VALIDITY: u8 = 0x02;

/// Encoding tag: values stored as they are.
pub(crate) const ENC_PLAIN: u8 = 0;
/// Encoding tag: frame of reference plus bit-packing (scalar integers).
pub(crate) const ENC_FOR: u8 = 1;
/// Encoding tag: run-length (scalar integers).
pub(crate) const ENC_RLE: u8 = 2;
/// Encoding tag: bit-packed indices into the page dictionary.
pub(crate) const ENC_DICT: u8 = 3;
/// Encoding tag: zstd frame of another encoding's body.
pub(crate) const ENC_ZSTD: u8 = 4;
/// Encoding tag: zstd frame of another encoding's body, compressed with the
/// page's zstd dictionary.
pub(crate) const ENC_ZSTD_DICT: u8 = 5;
/// Encoding tag: variable-width values as codes of the page's symbol table.
pub(crate) const ENC_SYMBOLS: u8 = 6;

/// The values of one chunk, in the writer's accumulated form.
#[derive(Debug, Clone, Copy)]
pub enum ChunkValues<'a> {
    /// `n` bits.
    Bits(&'a BooleanBuffer),
    /// `n * width` bytes, little-endian values back to back.
    Fixed(&'a [u8]),
    /// `n + 1` offsets into `data`; value `i` is `data[offsets[i]..offsets[i + 1]]`.
    Variable {
        /// Value boundaries; need not start at zero.
        offsets: &'a [u64],
        /// The bytes the offsets point into.
        data: &'a [u8],
    },
}

impl ChunkValues<'_> {
    /// Number of values (for fixed-width values of `width` > 0 bytes).
    pub fn len(&self, width: usize) -> usize {
        match self {
            ChunkValues::Bits(b) => b.len(),
            ChunkValues::Fixed(bytes) => bytes.len().checked_div(width).unwrap_or(0),
            ChunkValues::Variable { offsets, .. } => offsets.len().saturating_sub(1),
        }
    }
}

/// Validity of the values in a chunk; `None` means all valid.
#[derive(Debug, Clone, Default)]
pub struct ValidityInput {
    /// One bit per value: set when the value is valid.
    pub rows: Option<BooleanBuffer>,
    /// One bit per list item (fixed-size lists only).
    pub items: Option<BooleanBuffer>,
}

/// Writes the bits of `bits` as a packed little-endian bitmap of exactly
/// `ceil(len / 8)` bytes, with unused trailing bits zeroed.
pub(crate) fn write_bitmap(bits: &BooleanBuffer, out: &mut Vec<u8>) {
    let start = out.len();
    let buffer = bits.sliced();
    let len = bits.len().div_ceil(8);
    out.extend_from_slice(&buffer.as_slice()[..len]);
    let rem = bits.len() % 8;
    if rem != 0
        && let Some(last) = out.get_mut(start + len - 1)
    {
        *last &= (1u8 << rem) - 1;
    }
}
